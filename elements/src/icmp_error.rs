//! ICMPError — answers a packet with an ICMP error message.
//!
//! `ICMPError(SRC, TYPE [, CODE, KEYWORDS])`
//!
//! One agnostic input and output. Turns each packet (with an IP header annotation)
//! into an ICMP error to its sender, from address SRC: TYPE and CODE are numbers or
//! Click's names (`unreachable needfrag`, `timeexceeded`, `parameterproblem`,
//! `redirect host`, ...). The message quotes the packet's IP header and the start
//! of its data, up to `MTU` bytes in all (default 576); a redirect names the
//! packet's destination annotation as the gateway; a parameter problem points at
//! the byte IPGWOptions marked; "needfrag" carries `PMTU` (default 0). As RFC 1812
//! says, no error answers an ICMP error, a broadcast or multicast, a link-level
//! broadcast, a bad source (0.x, 127.x, class D/E, or `BADADDRS`), or a non-first
//! fragment; those packets are dropped. The result has TTL 200, its destination
//! annotation set, and (unless `SET_FIX_ANNO false`) the fix-source annotation so
//! FixIPSrc on the way out puts in the interface's address.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Ipv4Addr, split_spacevec};
use oxclick_runtime::{
    Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, PacketType, finish_args, simple_action_batch,
};

use crate::ip::ip_checksum;
use crate::wire::{IP_PROTO_ICMP, icmp_code_by_name, icmp_type_by_name};

pub struct ICMPError {
    src: [u8; 4],
    ty: u8,
    code: u8,
    mtu: usize,
    pmtu: u16,
    fix_anno: bool,
    bad_addrs: Vec<[u8; 4]>,
    id: u16,
}

impl Default for ICMPError {
    fn default() -> Self {
        ICMPError { src: [0; 4], ty: 0, code: 0, mtu: 576, pmtu: 0, fix_anno: true, bad_addrs: Vec::new(), id: 1 }
    }
}

fn is_error_type(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

impl ICMPError {
    fn valid_source(&self, a: [u8; 4]) -> bool {
        let net = a[0];
        !(a == [255; 4]
            || (224..=239).contains(&net)
            || net == 0
            || net == 127
            || net & 0xf0 == 0xf0
            || self.bad_addrs.contains(&a))
    }

    fn unicast(&self, a: [u8; 4]) -> bool {
        a != [255; 4] && !(224..=239).contains(&a[0]) && a != [0; 4] && !self.bad_addrs.contains(&a)
    }

    /// The error message for `p`, or `None` when none may be sent.
    fn make(&mut self, p: &Packet) -> Option<Vec<u8>> {
        let nh = p.anno.network_header?;
        let ip = p.data().get(nh..)?;
        if ip.len() < 20 {
            return None;
        }
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let src = [ip[12], ip[13], ip[14], ip[15]];
        let dst = [ip[16], ip[17], ip[18], ip[19]];
        if ip[9] == IP_PROTO_ICMP && ip.get(hl).is_none_or(|&t| is_error_type(t)) {
            return None;
        }
        if !self.unicast(dst)
            || matches!(p.anno.packet_type, PacketType::Broadcast | PacketType::Multicast)
            || !self.valid_source(src)
            || u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0
        {
            return None;
        }
        // A redirect for a source-routed packet is not sent (RFC 1812 5.2.7.2).
        if self.ty == 5 && source_routed(ip.get(20..hl.min(ip.len())).unwrap_or(&[])) {
            return None;
        }
        let quote = ip.len().min(self.mtu.saturating_sub(28));
        let mut m = alloc::vec![0u8; 28 + quote];
        m[0] = 0x45;
        m[2..4].copy_from_slice(&((28 + quote) as u16).to_be_bytes());
        m[4..6].copy_from_slice(&self.id.to_be_bytes());
        self.id = self.id.wrapping_add(1);
        m[8] = 200;
        m[9] = IP_PROTO_ICMP;
        m[12..16].copy_from_slice(&self.src);
        m[16..20].copy_from_slice(&src);
        m[20] = self.ty;
        m[21] = self.code;
        match (self.ty, self.code) {
            (12, 0) => m[24] = p.anno.icmp_param_ptr,
            (5, _) => m[24..28].copy_from_slice(&p.anno.dst_ip),
            (3, 4) => m[26..28].copy_from_slice(&self.pmtu.to_be_bytes()),
            _ => {}
        }
        m[28..].copy_from_slice(&ip[..quote]);
        let sum = ip_checksum(&m[20..]);
        m[22..24].copy_from_slice(&sum.to_be_bytes());
        let sum = ip_checksum(&m[..20]);
        m[10..12].copy_from_slice(&sum.to_be_bytes());
        Some(m)
    }
}

/// Whether options `opts` hold a loose or strict source route.
fn source_routed(opts: &[u8]) -> bool {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return false,
            1 => i += 1,
            ty => {
                let len = opts.get(i + 1).map_or(0, |&l| usize::from(l));
                if len < 2 {
                    return false;
                }
                if ty == 131 || ty == 137 {
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

impl Element for ICMPError {
    fn class_name(&self) -> &'static str {
        "ICMPError"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.src = a.read_mp::<Ipv4Addr>("SRC").map_or([0; 4], |x| x.0);
        let word = |s: &str| -> Result<String, Option<String>> { Ok(s.into()) };
        let ty = a.read_with("TYPE", true, true, "ICMP type", word);
        let code = a.read_with("CODE", true, false, "ICMP code", word);
        let words = |s: &str| -> Result<Vec<String>, Option<String>> { Ok(split_spacevec(s)) };
        let bad = a.read_with("BADADDRS", false, false, "IP address list", words);
        self.mtu = a.read_or("MTU", 576);
        self.pmtu = a.read_or("PMTU", 0);
        self.fix_anno = a.read_or("SET_FIX_ANNO", true);
        finish_args(a)?;
        let ty = ty.unwrap_or_default();
        self.ty = icmp_type_by_name(&ty).ok_or_else(|| alloc::vec![format!("TYPE: unknown ICMP type '{ty}'")])?;
        self.code = match code {
            Some(c) => {
                icmp_code_by_name(self.ty, &c).ok_or_else(|| alloc::vec![format!("CODE: unknown ICMP code '{c}'")])?
            }
            None => 0,
        };
        if !is_error_type(self.ty) {
            return Err(alloc::vec![format!("ICMP type {} is not an error type", self.ty)]);
        }
        self.bad_addrs.clear();
        for w in bad.unwrap_or_default() {
            let x =
                Ipv4Addr::parse_arg(&w).map_err(|_| alloc::vec![String::from("BADADDRS: expected IP address list")])?;
            self.bad_addrs.push(x.0);
        }
        if self.mtu < 56 {
            return Err(alloc::vec![String::from("MTU must be at least 56")]);
        }
        Ok(())
    }
    fn simple_action(&mut self, p: Packet, cx: &mut Ctx) -> Option<Packet> {
        let m = self.make(&p)?;
        let mut q = cx.new_packet(&m);
        q.anno.network_header = Some(0);
        q.anno.transport_header = Some(20);
        q.anno.dst_ip = [m[16], m[17], m[18], m[19]];
        q.anno.fix_ip_src = self.fix_anno;
        q.anno.timestamp = cx.now();
        Some(q)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
