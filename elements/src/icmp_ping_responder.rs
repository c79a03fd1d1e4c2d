//! ICMPPingResponder — answers ICMP echo requests.
//!
//! `ICMPPingResponder`
//!
//! One agnostic input, one or two outputs. An ICMP echo request (with an IP header
//! annotation, first fragment, whole ICMP header) is turned into its echo reply:
//! addresses swapped, TTL 255, type echo-reply, checksums updated; it leaves on
//! output 0 with its destination annotation set. Other packets go to output 1 if
//! it exists, else are dropped.

use oxclick_runtime::{Batch, Ctx, Element, Packet, simple_action_batch};

use crate::ip::ip_checksum;
use crate::wire::IP_PROTO_ICMP;

pub struct ICMPPingResponder;

/// Turn the echo request at `ip` into its reply; false if it is not one.
fn reply(ip: &mut [u8]) -> bool {
    if ip.len() < 20 || ip[9] != IP_PROTO_ICMP || u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return false;
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    if hl < 20 || total < hl + 8 || ip[hl] != 8 {
        return false;
    }
    let (a, b) = ip[12..20].split_at_mut(4);
    a.swap_with_slice(b);
    ip[8] = 255;
    ip[10] = 0;
    ip[11] = 0;
    let sum = ip_checksum(&ip[..hl]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let icmp = &mut ip[hl..total];
    icmp[0] = 0;
    icmp[2] = 0;
    icmp[3] = 0;
    let sum = ip_checksum(icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    true
}

impl Element for ICMPPingResponder {
    fn class_name(&self) -> &'static str {
        "ICMPPingResponder"
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
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        let nh = p.anno.network_header;
        let ok = nh.is_some_and(|nh| p.data_mut().get_mut(nh..).is_some_and(reply));
        if ok {
            if let Some(nh) = nh {
                let d = p.data();
                p.anno.dst_ip = [d[nh + 16], d[nh + 17], d[nh + 18], d[nh + 19]];
            }
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
