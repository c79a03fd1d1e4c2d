//! SetUDPChecksum, SetTCPChecksum — compute transport checksums.
//!
//! `SetUDPChecksum` · `SetTCPChecksum([FIXOFF])`
//!
//! One agnostic input and output. For each UDP (or TCP) packet with an IP header
//! annotation, sets the checksum over the IPv4 pseudo-header and the segment as
//! long as the IP length says. A zero UDP checksum is sent as 0xFFFF. Packets of
//! other protocols, later fragments and truncated packets are dropped (output 1
//! if it exists).

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::wire::{IP_PROTO_TCP, IP_PROTO_UDP, transport_checksum};

pub struct SetTransportChecksum {
    tcp: bool,
}

impl SetTransportChecksum {
    pub fn udp() -> Self {
        SetTransportChecksum { tcp: false }
    }
    pub fn tcp() -> Self {
        SetTransportChecksum { tcp: true }
    }

    fn set(&self, p: &mut Packet) -> bool {
        let Some(nh) = p.anno.network_header else { return false };
        let Some(ip) = p.data_mut().get_mut(nh..) else { return false };
        if ip.len() < 20 {
            return false;
        }
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let want = if self.tcp { IP_PROTO_TCP } else { IP_PROTO_UDP };
        let first = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
        let min = if self.tcp { 20 } else { 8 };
        if ip[9] != want || !first || hl < 20 || total > ip.len() || total < hl + min {
            return false;
        }
        let (src, dst) = ([ip[12], ip[13], ip[14], ip[15]], [ip[16], ip[17], ip[18], ip[19]]);
        let at = if self.tcp { 16 } else { 6 };
        let seg = &mut ip[hl..total];
        seg[at] = 0;
        seg[at + 1] = 0;
        let mut sum = transport_checksum(src, dst, want, seg);
        if !self.tcp && sum == 0 {
            sum = 0xffff;
        }
        seg[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        true
    }
}

impl Element for SetTransportChecksum {
    fn class_name(&self) -> &'static str {
        if self.tcp { "SetTCPChecksum" } else { "SetUDPChecksum" }
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
        if self.tcp {
            let _fixoff: Option<bool> = a.read_p("FIXOFF");
        }
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        if self.set(&mut p) {
            return Some(p);
        }
        if cx.noutputs() > 1 {
            cx.push(1, p);
        }
        None
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
