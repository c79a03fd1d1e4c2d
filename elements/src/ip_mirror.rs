//! IPMirror — swaps IP source and destination (and ports).
//!
//! `IPMirror([DST_ANNO])`
//!
//! One agnostic input and output. For each packet with an IP header annotation,
//! exchanges the source and destination addresses and, for the first fragment of a
//! TCP or UDP packet, the ports; checksums stay valid (the sums do not change).
//! With `DST_ANNO true` (default) the destination annotation becomes the new
//! destination.

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::wire::{IP_PROTO_TCP, IP_PROTO_UDP};

pub struct IPMirror {
    dst_anno: bool,
}

impl Default for IPMirror {
    fn default() -> Self {
        IPMirror { dst_anno: true }
    }
}

impl Element for IPMirror {
    fn class_name(&self) -> &'static str {
        "IPMirror"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.dst_anno = a.read_p("DST_ANNO").unwrap_or(true);
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        let Some(nh) = p.anno.network_header else { return Some(p) };
        let d = p.data_mut();
        let Some(ip) = d.get_mut(nh..) else { return Some(p) };
        if ip.len() < 20 {
            return Some(p);
        }
        let (a, b) = ip[12..20].split_at_mut(4);
        a.swap_with_slice(b);
        let dst = [ip[16], ip[17], ip[18], ip[19]];
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let first = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
        if first && matches!(ip[9], IP_PROTO_TCP | IP_PROTO_UDP) && ip.len() >= hl + 4 && hl >= 20 {
            let (s, d2) = ip[hl..hl + 4].split_at_mut(2);
            s.swap_with_slice(d2);
        }
        if self.dst_anno {
            p.anno.dst_ip = dst;
        }
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
