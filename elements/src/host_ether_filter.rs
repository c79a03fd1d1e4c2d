//! HostEtherFilter — keeps the Ethernet frames a host should receive.
//!
//! `HostEtherFilter(ETH [, DROP_OWN, DROP_OTHER, KEYWORDS])`
//!
//! One agnostic input, one or two outputs. Frames addressed to ETH, to the
//! broadcast address or to a multicast group go to output 0, with their packet
//! type annotation set (host, broadcast, multicast). Frames for other hosts go to
//! output 1 if it exists, else are dropped (`DROP_OTHER false` keeps them on
//! output 0, marked "other host"). `DROP_OWN true` also drops frames sent from ETH
//! (echoes of our own). `OFFSET` (default 0) is where the Ethernet header starts.

use oxclick_lang::args::EtherAddr;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, PacketType, finish_args};

#[derive(Default)]
pub struct HostEtherFilter {
    eth: [u8; 6],
    drop_own: bool,
    drop_other: bool,
    offset: usize,
}

impl Element for HostEtherFilter {
    fn class_name(&self) -> &'static str {
        "HostEtherFilter"
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
        let mut a = cx.args(config);
        self.eth = a.read_mp::<EtherAddr>("ETH").map_or([0; 6], |e| e.0);
        self.drop_own = a.read_p("DROP_OWN").unwrap_or(false);
        self.drop_other = a.read_p("DROP_OTHER").unwrap_or(true);
        self.offset = a.read_or("OFFSET", 0);
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        let h = self.offset.checked_add(12).and_then(|end| p.data().get(self.offset..end))?;
        let (dst, src) = (&h[..6], &h[6..12]);
        if self.drop_own && src == self.eth {
            return None;
        }
        let ty = if dst == self.eth {
            PacketType::Host
        } else if dst == [0xff; 6] {
            PacketType::Broadcast
        } else if dst[0] & 1 != 0 {
            PacketType::Multicast
        } else {
            PacketType::OtherHost
        };
        p.anno.packet_type = ty;
        if ty == PacketType::OtherHost && self.drop_other {
            if cx.noutputs() > 1 {
                cx.push(1, p);
            }
            return None;
        }
        Some(p)
    }
}
