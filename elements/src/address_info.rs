//! AddressInfo — names addresses for the rest of the configuration.
//!
//! `AddressInfo(NAME ADDRESS [ADDRESS...], ...)`
//!
//! No ports. Each argument names one or more addresses: an IPv4 address, an IPv4
//! prefix (`10.0.0.1/8` names both the address and the network) and an Ethernet
//! address. Other elements' address arguments may then say `NAME`, `NAME:ip`,
//! `NAME:ipnet` (or `NAME:net`) and `NAME:eth`. The router gathers every
//! AddressInfo before configuring other elements, so order does not matter.

use oxclick_lang::args::AddressNames;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Element};

#[derive(Default)]
pub struct AddressInfo;

impl Element for AddressInfo {
    fn class_name(&self) -> &'static str {
        "AddressInfo"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn configure(&mut self, config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        AddressNames::default().add_address_info(config)
    }
}
