//! SetIPAddress — sets the destination IP address annotation.
//!
//! `SetIPAddress(ADDR)`
//!
//! One agnostic input and output; each packet's destination IP annotation becomes
//! ADDR (what StoreIPAddress and routing elements read).

use oxclick_lang::args::Ipv4Addr;
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

#[derive(Default)]
pub struct SetIPAddress {
    addr: [u8; 4],
}

impl Element for SetIPAddress {
    fn class_name(&self) -> &'static str {
        "SetIPAddress"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.addr = a.read_mp::<Ipv4Addr>("ADDR").map(|x| x.0).unwrap_or_default();
        finish_args(a)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        p.anno.dst_ip = self.addr;
        Some(p)
    }
}
