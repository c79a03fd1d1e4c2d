//! IPOutputCombo — the output half of an IP router in one element.
//!
//! `IPOutputCombo(COLOR, IPADDR, MTU)`
//!
//! One push input, five push outputs. Does the work of `DropBroadcasts ->
//! PaintTee(COLOR) -> IPGWOptions(IPADDR) -> FixIPSrc(IPADDR) -> DecIPTTL` plus
//! an MTU check in one step. Link-level broadcasts are dropped; a copy of each
//! packet painted COLOR goes to output 1 (for a redirect); packets with bad options
//! go to output 2; packets whose TTL expires go to output 3; packets longer than
//! MTU go to output 4 (for IPFragmenter); the rest leave on output 0.

use alloc::vec::Vec;

use oxclick_lang::args::Ipv4Addr;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, PacketType, finish_args};

use crate::fix_ip_src::fix_ip_src;
use crate::ip::decrement_ttl;
use crate::ip_gw_options::process_gw_options;

#[derive(Default)]
pub struct IPOutputCombo {
    color: u8,
    addr: [u8; 4],
    mtu: usize,
    others: Vec<[u8; 4]>,
}

impl Element for IPOutputCombo {
    fn class_name(&self) -> &'static str {
        "IPOutputCombo"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/5"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.color = a.read_mp("COLOR").unwrap_or(0);
        self.addr = a.read_mp::<Ipv4Addr>("IPADDR").map_or([0; 4], |x| x.0);
        self.mtu = a.read_mp("MTU").unwrap_or(0);
        finish_args(a)
    }
    fn push(&mut self, _port: usize, mut p: Packet, cx: &mut Ctx) {
        if matches!(p.anno.packet_type, PacketType::Broadcast | PacketType::Multicast) {
            return;
        }
        if p.anno.paint == self.color {
            cx.push(1, p.clone());
        }
        if let Err(at) = process_gw_options(&mut p, self.addr, &self.others, cx.now()) {
            p.anno.icmp_param_ptr = at;
            cx.push(2, p);
            return;
        }
        if p.anno.fix_ip_src {
            fix_ip_src(&mut p, self.addr);
        }
        if !decrement_ttl(&mut p) {
            cx.push(3, p);
            return;
        }
        let ip_len = p.len().saturating_sub(p.anno.network_header.unwrap_or(0));
        cx.push(if ip_len > self.mtu { 4 } else { 0 }, p);
    }
}
