//! FixIPSrc — sets the source address of packets ICMPError made.
//!
//! `FixIPSrc(IPADDR)`
//!
//! One agnostic input and output. A packet whose fix-source annotation is set (by
//! ICMPError) gets IPADDR as its IP source address, its checksum updated and the
//! annotation cleared: an ICMP error leaves with the address of the interface it
//! leaves by. Other packets pass unchanged.

use oxclick_lang::args::Ipv4Addr;
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::ip::ip_checksum;

#[derive(Default)]
pub struct FixIPSrc {
    addr: [u8; 4],
}

/// Set the source address of the IP packet `p` (if it has a whole IP header).
pub fn fix_ip_src(p: &mut Packet, addr: [u8; 4]) {
    p.anno.fix_ip_src = false;
    let Some(nh) = p.anno.network_header else { return };
    let d = p.data_mut();
    let Some(ip) = d.get_mut(nh..) else { return };
    if ip.len() < 20 {
        return;
    }
    let hl = (usize::from(ip[0] & 0x0f) * 4).clamp(20, ip.len());
    ip[12..16].copy_from_slice(&addr);
    ip[10] = 0;
    ip[11] = 0;
    let sum = ip_checksum(&ip[..hl]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
}

impl Element for FixIPSrc {
    fn class_name(&self) -> &'static str {
        "FixIPSrc"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.addr = a.read_mp::<Ipv4Addr>("IPADDR").map_or([0; 4], |x| x.0);
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        if p.anno.fix_ip_src {
            fix_ip_src(&mut p, self.addr);
        }
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
