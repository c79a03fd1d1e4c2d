//! GetIPAddress — copies an address from the packet to its annotation.
//!
//! `GetIPAddress(OFFSET [, ANNO])`
//!
//! One agnostic input and output. Copies the 4 bytes at OFFSET (from the start of
//! the packet data; with `IP true`, from the IP header) into the destination
//! address annotation. `GetIPAddress(16)` after CheckIPHeader takes the IP
//! destination. Packets too short are dropped.

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

#[derive(Default)]
pub struct GetIPAddress {
    offset: usize,
    from_ip: bool,
}

impl Element for GetIPAddress {
    fn class_name(&self) -> &'static str {
        "GetIPAddress"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.offset = a.read_mp("OFFSET").unwrap_or(0);
        let _anno: Option<oxclick_lang::args::Word> = a.read_p("ANNO");
        self.from_ip = a.read_or("IP", false);
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        let base = if self.from_ip { p.anno.network_header? } else { 0 };
        let at = base.checked_add(self.offset)?;
        let b = p.data().get(at..at.checked_add(4)?)?;
        p.anno.dst_ip = [b[0], b[1], b[2], b[3]];
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
