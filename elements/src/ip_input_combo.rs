//! IPInputCombo — the input half of an IP router in one element.
//!
//! `IPInputCombo(COLOR [, BADSRC, KEYWORDS])`
//!
//! One push input, one or two push outputs. Does the work of
//! `Paint(COLOR) -> Strip(14) -> CheckIPHeader(BADSRC) -> GetIPAddress(16)` in one
//! step: paints the packet, strips its Ethernet header, checks its IP header as
//! CheckIPHeader does (the same keywords: `INTERFACES`, `CHECKSUM`, `BADSRC`) and
//! sets its destination address annotation. Packets that fail go to output 1 if
//! it exists, else are dropped. Handlers: `drops`.

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, simple_action_batch};

use crate::ip::CheckIPHeader;

pub struct IPInputCombo {
    color: u8,
    check: CheckIPHeader,
}

impl Default for IPInputCombo {
    fn default() -> Self {
        IPInputCombo { color: 0, check: CheckIPHeader::check() }
    }
}

impl Element for IPInputCombo {
    fn class_name(&self) -> &'static str {
        "IPInputCombo"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1-2"
    }
    fn processing(&self) -> &'static str {
        "a/ah"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        // COLOR first, the rest is CheckIPHeader's (with BADSRC in place of OFFSET).
        let mut args = oxclick_lang::args::split_args(config);
        if args.is_empty() {
            return Err(alloc::vec![String::from("missing mandatory COLOR argument")]);
        }
        let color = args.remove(0);
        self.color =
            color.trim().parse().map_err(|_| alloc::vec![format!("COLOR: expected integer, got '{color}'")])?;
        if let Some(first) = args.first_mut()
            && !first.trim_start().starts_with(|c: char| c.is_ascii_uppercase())
        {
            *first = format!("BADSRC {first}");
        }
        self.check.configure(&args.join(", "), cx)
    }
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        p.anno.paint = self.color;
        p.pull(14);
        self.check.simple_action(p, cx)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        self.check.read_handler(name)
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["drops"]
    }
}
