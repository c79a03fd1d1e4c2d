//! Click's IP summary dump format, shared by FromIPSummaryDump and
//! ToIPSummaryDump (not an element).
//!
//! A dump is text: `!`-lines carry metadata (`!data FIELD...` names the columns,
//! `!proto P` the default protocol), and every other line is one packet, its fields
//! separated by spaces, `-` for a field that is unknown. This module knows the
//! fields: how to build a packet from them ([`Builder`]) and how to print them
//! from a packet ([`unparse`]), with Click's names, spellings and rules (so a
//! packet built from a line prints back as the same line).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::Ipv4Addr;
use oxclick_runtime::Packet;

use crate::wire::{IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, icmp_type_by_name, icmp_type_name};

/// One column of a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Timestamp,
    TsSec,
    TsUsec,
    IpSrc,
    IpDst,
    IpLen,
    IpProto,
    IpId,
    IpHl,
    IpTos,
    IpTtl,
    IpFrag,
    IpFragOff,
    IpSum,
    IpOpt,
    IpCaptureLen,
    Sport,
    Dport,
    TcpSeq,
    TcpAck,
    TcpFlags,
    TcpWindow,
    TcpUrp,
    TcpOff,
    TcpOpt,
    UdpLen,
    IcmpType,
    IcmpCode,
    IcmpTypeName,
    Payload,
    PayloadLen,
    Paint,
    Direction,
}

/// Field names and Click's aliases for them.
const NAMES: &[(&str, Field)] = &[
    ("timestamp", Field::Timestamp),
    ("ts", Field::Timestamp),
    ("ts_sec", Field::TsSec),
    ("sec", Field::TsSec),
    ("ts_usec", Field::TsUsec),
    ("usec", Field::TsUsec),
    ("ip_src", Field::IpSrc),
    ("src", Field::IpSrc),
    ("ip_dst", Field::IpDst),
    ("dst", Field::IpDst),
    ("ip_len", Field::IpLen),
    ("len", Field::IpLen),
    ("length", Field::IpLen),
    ("ip_proto", Field::IpProto),
    ("proto", Field::IpProto),
    ("ip_id", Field::IpId),
    ("id", Field::IpId),
    ("ip_hl", Field::IpHl),
    ("ip_tos", Field::IpTos),
    ("ip_ttl", Field::IpTtl),
    ("ip_frag", Field::IpFrag),
    ("frag", Field::IpFrag),
    ("ip_fragoff", Field::IpFragOff),
    ("fragoff", Field::IpFragOff),
    ("ip_sum", Field::IpSum),
    ("ip_opt", Field::IpOpt),
    ("ip_capture_len", Field::IpCaptureLen),
    ("sport", Field::Sport),
    ("dport", Field::Dport),
    ("tcp_seq", Field::TcpSeq),
    ("tcp_ack", Field::TcpAck),
    ("tcp_flags", Field::TcpFlags),
    ("tcp_window", Field::TcpWindow),
    ("tcp_urp", Field::TcpUrp),
    ("tcp_off", Field::TcpOff),
    ("tcp_opt", Field::TcpOpt),
    ("udp_len", Field::UdpLen),
    ("icmp_type", Field::IcmpType),
    ("icmp_code", Field::IcmpCode),
    ("icmp_type_name", Field::IcmpTypeName),
    ("payload", Field::Payload),
    ("payload_len", Field::PayloadLen),
    ("paint", Field::Paint),
    ("link", Field::Paint),
    ("direction", Field::Direction),
];

impl Field {
    pub fn parse(name: &str) -> Option<Field> {
        NAMES.iter().find(|(n, _)| *n == name).map(|&(_, f)| f)
    }

    /// The order fields are applied in when building a packet: annotations, the
    /// IP header, IP options, the transport header, its options, the payload.
    fn rank(self) -> u8 {
        use Field::*;
        match self {
            Timestamp | TsSec | TsUsec | Paint | Direction => 0,
            IpOpt | IpHl => 2,
            Sport | Dport | TcpSeq | TcpAck | TcpFlags | TcpWindow | TcpUrp | TcpOff | UdpLen | IcmpType | IcmpCode
            | IcmpTypeName => 3,
            TcpOpt => 4,
            Payload | PayloadLen => 5,
            _ => 1,
        }
    }
}

/// Split a dump line into fields: whitespace separates, double quotes group.
pub fn split_line(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            if b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        // An escape may have skipped into a multi-byte character: end on a boundary.
        let mut end = i.min(b.len());
        while !line.is_char_boundary(end) {
            end += 1;
        }
        i = end;
        out.push(&line[start..end]);
    }
    out
}

fn proto_by_name(s: &str) -> Option<u8> {
    match s {
        "T" => Some(IP_PROTO_TCP),
        "U" => Some(IP_PROTO_UDP),
        "I" => Some(IP_PROTO_ICMP),
        _ => s.parse().ok(),
    }
}

/// The IPv4 option byte strings for a dump's `ip_opt` text (`.` for none).
fn parse_ip_opt(s: &str) -> Option<Vec<u8>> {
    if s == "." {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for tok in s.split([',', ';']) {
        match tok {
            "nop" => out.push(1),
            "eol" => out.push(0),
            _ => return None,
        }
    }
    Some(out)
}

/// TCP options from Click's text: `mss1460`, `wscale7`, `sackok`, `ts1:2`,
/// `sack1-2`, `nop`, `eol`, separated by `;` (or `,`); `.` for none.
fn parse_tcp_opt(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if s == "." {
        return Some(out);
    }
    for tok in s.split([';', ',']) {
        if let Some(v) = tok.strip_prefix("mss") {
            let v: u16 = v.parse().ok()?;
            out.extend_from_slice(&[2, 4]);
            out.extend_from_slice(&v.to_be_bytes());
        } else if let Some(v) = tok.strip_prefix("wscale") {
            out.extend_from_slice(&[3, 3, v.parse().ok()?]);
        } else if tok == "sackok" {
            out.extend_from_slice(&[4, 2]);
        } else if let Some(v) = tok.strip_prefix("ts") {
            let (a, b) = v.split_once(':')?;
            out.extend_from_slice(&[8, 10]);
            out.extend_from_slice(&a.parse::<u32>().ok()?.to_be_bytes());
            out.extend_from_slice(&b.parse::<u32>().ok()?.to_be_bytes());
        } else if let Some(v) = tok.strip_prefix("sack") {
            let (a, b) = v.split_once('-')?;
            out.extend_from_slice(&[5, 10]);
            out.extend_from_slice(&a.parse::<u32>().ok()?.to_be_bytes());
            out.extend_from_slice(&b.parse::<u32>().ok()?.to_be_bytes());
        } else if tok == "nop" {
            out.push(1);
        } else if tok == "eol" {
            out.push(0);
        } else {
            return None;
        }
    }
    Some(out)
}

/// Click's text for TCP options (padding NOPs and EOLs are left out).
fn unparse_tcp_opt(opts: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        if kind == 0 {
            break;
        }
        if kind == 1 {
            i += 1;
            continue;
        }
        let Some(&len) = opts.get(i + 1) else { break };
        let len = usize::from(len);
        let Some(body) = opts.get(i + 2..i + len.max(2)) else { break };
        if len < 2 {
            break;
        }
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        parts.push(match (kind, body.len()) {
            (2, 2) => format!("mss{}", u16::from_be_bytes([body[0], body[1]])),
            (3, 1) => format!("wscale{}", body[0]),
            (4, 0) => String::from("sackok"),
            (8, 8) => format!("ts{}:{}", be32(&body[..4]), be32(&body[4..])),
            (5, n) if n % 8 == 0 && n > 0 => {
                let blocks: Vec<String> =
                    body.chunks_exact(8).map(|c| format!("{}-{}", be32(&c[..4]), be32(&c[4..]))).collect();
                format!("sack{}", blocks.join(","))
            }
            _ => format!("opt{kind}"),
        });
        i += len;
    }
    if parts.is_empty() { String::from(".") } else { parts.join(";") }
}

/// Read a C-style quoted string (`"Hi\000"`) into bytes.
fn unquote(s: &str) -> Option<Vec<u8>> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = *b.get(i)?;
        match c {
            b'0'..=b'7' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
                continue;
            }
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'x' => {
                let hex = inner.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    Some(out)
}

/// Print bytes as Click quotes them: printable ASCII as is, `\"` and `\\`
/// escaped, everything else as three octal digits.
fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03o}")),
        }
    }
    s.push('"');
    s
}

/// Builds one IP packet from a dump line (Click's `PacketOdesc`). The packet
/// under construction starts at its IP header.
pub struct Builder {
    pub buf: Vec<u8>,
    default_proto: u8,
    /// The length the packet claims (`ip_len`), 0 if not given.
    want_len: usize,
    have_ip_hl: bool,
    have_tcp_hl: bool,
    pub paint: u8,
    pub timestamp: u64,
}

impl Builder {
    pub fn new(default_proto: u8) -> Builder {
        Builder {
            buf: Vec::new(),
            default_proto,
            want_len: 0,
            have_ip_hl: false,
            have_tcp_hl: false,
            paint: 0,
            timestamp: 0,
        }
    }

    fn ip_hl(&self) -> usize {
        self.buf.first().map_or(20, |b| usize::from(b & 0x0f) * 4)
    }

    fn proto(&self) -> u8 {
        self.buf.get(9).copied().unwrap_or(0)
    }

    fn first_frag(&self) -> bool {
        self.buf.len() >= 8 && u16::from_be_bytes([self.buf[6], self.buf[7]]) & 0x1fff == 0
    }

    fn grow_to(&mut self, len: usize) {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
    }

    /// Make sure there is an IP header; false if its protocol is not `proto`
    /// (0: any).
    fn make_ip(&mut self, proto: u8) -> bool {
        if self.buf.len() < 20 {
            self.grow_to(20);
            self.buf[0] = 0x45;
            self.buf[8] = 100;
            self.buf[9] = self.default_proto;
        }
        proto == 0 || self.proto() == 0 || self.proto() == proto
    }

    /// Make sure there is a transport header for the protocol (cut to the claimed
    /// length); false for later fragments.
    fn make_transp(&mut self) -> bool {
        if !self.first_frag() {
            return false;
        }
        let off = self.ip_hl();
        if self.buf.len() >= off + 8 {
            return true;
        }
        let mut len = match self.proto() {
            IP_PROTO_TCP => 20,
            IP_PROTO_UDP | 136 => 8,
            33 => 12,
            IP_PROTO_ICMP => 8,
            _ => return true,
        };
        if self.want_len > 0 && self.want_len < off + len {
            len = self.want_len.saturating_sub(off);
        }
        if self.buf.len() < off + len {
            self.grow_to(off + len);
            if self.proto() == IP_PROTO_TCP && len >= 13 {
                self.buf[off + 12] = (5 << 4) | (self.buf[off + 12] & 0x0f);
            }
        }
        true
    }

    fn set16(&mut self, at: usize, v: u16) {
        if let Some(b) = self.buf.get_mut(at..at + 2) {
            b.copy_from_slice(&v.to_be_bytes());
        }
    }

    fn set32(&mut self, at: usize, v: u32) {
        if let Some(b) = self.buf.get_mut(at..at + 4) {
            b.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// Where the payload starts: after the transport header.
    fn payload_offset(&self) -> usize {
        let off = self.ip_hl();
        if !self.first_frag() {
            return off;
        }
        match self.proto() {
            IP_PROTO_TCP => {
                let doff = self.buf.get(off + 12).map_or(5, |b| usize::from(b >> 4));
                off + if self.buf.len() >= off + 13 && doff >= 5 { doff * 4 } else { 20 }
            }
            IP_PROTO_UDP | 136 => off + 8,
            _ => off,
        }
    }

    /// Apply field `f` with text `v`; false if the text does not parse.
    pub fn apply(&mut self, f: Field, v: &str) -> bool {
        use Field::*;
        let num = |s: &str| s.parse::<u64>().ok();
        match f {
            Timestamp => {
                let (s, frac) = v.split_once('.').unwrap_or((v, "0"));
                if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
                let digits = format!("{:0<9}", &frac[..frac.len().min(9)]);
                let (Some(s), Ok(frac)) = (num(s), digits.parse::<u64>()) else { return false };
                let Some(ts) = s.checked_mul(1_000_000_000).and_then(|t| t.checked_add(frac)) else { return false };
                self.timestamp = ts;
            }
            TsSec => match num(v).and_then(|s| s.checked_mul(1_000_000_000)) {
                Some(s) => self.timestamp = s + self.timestamp % 1_000_000_000,
                None => return false,
            },
            TsUsec => match num(v) {
                Some(us) if us < 1_000_000 => {
                    self.timestamp = self.timestamp / 1_000_000_000 * 1_000_000_000 + us * 1000
                }
                _ => return false,
            },
            Paint => match v.parse::<u8>() {
                Ok(p) => self.paint = p,
                Err(_) => return false,
            },
            Direction => match v {
                ">" | "0" => self.paint = 0,
                "<" | "1" => self.paint = 1,
                _ => return false,
            },
            IpSrc | IpDst => {
                let Ok(a) = <Ipv4Addr as oxclick_lang::args::ArgType>::parse_arg(v) else { return false };
                self.make_ip(0);
                let at = if f == IpSrc { 12 } else { 16 };
                self.buf[at..at + 4].copy_from_slice(&a.0);
            }
            IpLen => {
                let Some(l) = num(v).filter(|&l| l <= 0xffff) else { return false };
                self.make_ip(0);
                self.want_len = l as usize;
            }
            IpProto => {
                let Some(p) = proto_by_name(v) else { return false };
                self.make_ip(0);
                self.buf[9] = p;
            }
            IpId | IpSum => {
                let Some(x) = num(v).filter(|&x| x <= 0xffff) else { return false };
                self.make_ip(0);
                self.set16(if f == IpId { 4 } else { 10 }, x as u16);
            }
            IpTos | IpTtl => {
                let Some(x) = num(v).filter(|&x| x <= 0xff) else { return false };
                self.make_ip(0);
                self.buf[if f == IpTos { 1 } else { 8 }] = x as u8;
            }
            IpFrag => {
                self.make_ip(0);
                let off = match v {
                    "." => 0,
                    "F" => 0x2000,
                    "f" => 0x2001,
                    _ => return false,
                };
                self.set16(6, off);
            }
            IpFragOff => {
                let (n, mf) = match v.strip_suffix('+') {
                    Some(n) => (n, 0x2000),
                    None => (v, 0),
                };
                let Some(n) = num(n).filter(|n| n % 8 == 0 && n / 8 <= 0x1fff) else { return false };
                self.make_ip(0);
                self.set16(6, (n / 8) as u16 | mf);
            }
            IpHl => {
                let Some(hl) = num(v).filter(|&h| (20..=60).contains(&h)) else { return false };
                self.make_ip(0);
                self.have_ip_hl = true;
                let hl = (hl as usize + 3) & !3;
                let cur = self.ip_hl();
                if hl > cur {
                    self.buf.splice(cur..cur, core::iter::repeat_n(0u8, hl - cur));
                }
                self.buf[0] = 0x40 | (hl / 4) as u8;
            }
            IpOpt => {
                let Some(opts) = parse_ip_opt(v) else { return false };
                self.make_ip(0);
                self.have_ip_hl = true;
                if opts.is_empty() {
                    return true;
                }
                let hl = (20 + opts.len() + 3) & !3;
                if hl > 60 {
                    return false;
                }
                let cur = self.ip_hl();
                if hl > cur {
                    self.buf.splice(cur..cur, core::iter::repeat_n(0u8, hl - cur));
                    self.buf[0] = 0x40 | (hl / 4) as u8;
                }
                self.buf[20..20 + opts.len()].copy_from_slice(&opts);
            }
            IpCaptureLen => {}
            Sport | Dport => {
                let Some(p) = num(v).filter(|&p| p <= 0xffff) else { return false };
                if !self.make_ip(0) || !self.make_transp() {
                    return true;
                }
                let off = self.ip_hl() + if f == Sport { 0 } else { 2 };
                self.set16(off, p as u16);
            }
            TcpSeq | TcpAck | TcpFlags | TcpWindow | TcpUrp => {
                let parsed = if f == TcpFlags { parse_tcp_flags(v).map(u64::from) } else { num(v) };
                let Some(x) = parsed else { return false };
                if !self.make_ip(IP_PROTO_TCP) || !self.make_transp() {
                    return true;
                }
                let off = self.ip_hl();
                match f {
                    TcpSeq => self.set32(off + 4, x as u32),
                    TcpAck => self.set32(off + 8, x as u32),
                    TcpFlags => {
                        if let Some(b) = self.buf.get_mut(off + 13) {
                            *b = x as u8;
                        }
                        if let Some(b) = self.buf.get_mut(off + 12) {
                            *b = (*b & 0xf0) | ((x >> 8) as u8 & 0x0f);
                        }
                    }
                    TcpWindow => self.set16(off + 14, x as u16),
                    _ => self.set16(off + 18, x as u16),
                }
            }
            TcpOff => {
                let Some(off) = num(v).filter(|&o| (20..=60).contains(&o)) else { return false };
                if !self.make_ip(IP_PROTO_TCP) || !self.make_transp() {
                    return true;
                }
                self.have_tcp_hl = true;
                let off = (off as usize + 3) & !3;
                let t = self.ip_hl();
                self.grow_to(t + off);
                self.buf[t + 12] = ((off / 4) as u8) << 4 | (self.buf[t + 12] & 0x0f);
            }
            TcpOpt => {
                let Some(opts) = parse_tcp_opt(v) else { return false };
                if !self.make_ip(IP_PROTO_TCP) || !self.make_transp() {
                    return true;
                }
                self.have_tcp_hl = true;
                if opts.is_empty() {
                    return true;
                }
                let off = self.ip_hl();
                let th = (20 + opts.len() + 3) & !3;
                if th > 60 {
                    return false;
                }
                self.grow_to(off + th);
                let doff = usize::from(self.buf[off + 12] >> 4) * 4;
                if th > doff {
                    self.buf[off + 12] = ((th / 4) as u8) << 4 | (self.buf[off + 12] & 0x0f);
                }
                self.buf[off + 20..off + 20 + opts.len()].copy_from_slice(&opts);
                for b in &mut self.buf[off + 20 + opts.len()..off + th] {
                    *b = 0;
                }
            }
            UdpLen => {
                let Some(l) = num(v).filter(|&l| l <= 0xffff) else { return false };
                if !self.make_ip(IP_PROTO_UDP) || !self.make_transp() {
                    return true;
                }
                let off = self.ip_hl();
                self.set16(off + 4, l as u16);
            }
            IcmpType | IcmpTypeName | IcmpCode => {
                let parsed = if f == IcmpCode { v.parse::<u8>().ok() } else { icmp_type_by_name(v) };
                let Some(x) = parsed else { return false };
                if !self.make_ip(IP_PROTO_ICMP) || !self.make_transp() {
                    return true;
                }
                let off = self.ip_hl() + if f == IcmpCode { 1 } else { 0 };
                if let Some(b) = self.buf.get_mut(off) {
                    *b = x;
                }
            }
            Payload | PayloadLen => {
                let (data, plen) = if f == Payload {
                    let Some(d) = unquote(v).filter(|d| d.len() <= 0xffff) else { return false };
                    let n = d.len();
                    (Some(d), n)
                } else {
                    match num(v).filter(|&n| n <= 0xffff) {
                        Some(n) => (None, n as usize),
                        None => return false,
                    }
                };
                if self.make_ip(0) {
                    self.make_transp();
                }
                let off = self.account_payload_len(plen);
                if let Some(d) = data {
                    self.grow_to(off + d.len());
                    self.buf[off..off + d.len()].copy_from_slice(&d);
                }
            }
        }
        true
    }

    /// Make room for a payload of `plen` bytes (Click's `account_payload_len`):
    /// with a claimed length longer than headers plus payload, unclaimed header
    /// lengths grow to absorb the difference. Returns the payload offset.
    fn account_payload_len(&mut self, plen: usize) -> usize {
        let mut off = self.payload_offset();
        let ip_len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
        if ip_len == 0 && self.want_len == 0 {
            self.want_len = off + plen;
            return off;
        }
        let claimed = if ip_len != 0 { ip_len } else { self.want_len };
        let mut delta = claimed as isize - (off + plen) as isize;
        let hl = self.ip_hl();
        if delta > 0
            && self.first_frag()
            && self.proto() == IP_PROTO_TCP
            && !self.have_tcp_hl
            && self.buf.get(hl + 12).is_some_and(|b| b >> 4 == 5)
        {
            let th_delta = ((delta - (delta & 3)) as usize).min(40);
            self.grow_to(hl + 20);
            self.buf.splice(hl + 20..hl + 20, core::iter::repeat_n(0u8, th_delta));
            self.buf[hl + 12] = (((20 + th_delta) / 4) as u8) << 4 | (self.buf[hl + 12] & 0x0f);
            delta -= th_delta as isize;
            off += th_delta;
        }
        if delta > 0 && !self.have_ip_hl && hl == 20 {
            let ip_delta = ((delta - (delta & 3)) as usize).min(40);
            self.buf.splice(20..20, core::iter::repeat_n(0u8, ip_delta));
            self.buf[0] = 0x40 | ((20 + ip_delta) / 4) as u8;
            off += ip_delta;
        }
        off
    }

    /// Finish the packet: total and UDP lengths, checksums if asked. Returns the
    /// IP bytes and the extra length (claimed but not present).
    pub fn finish(mut self, checksum: bool) -> (Vec<u8>, u32, u8, u64) {
        if self.buf.len() >= 20 {
            // Every IP packet gets its transport header, even if no field set it.
            self.make_transp();
            let mut ip_len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
            if ip_len == 0 {
                ip_len = if self.want_len == 0 { self.buf.len() } else { self.want_len.min(0xffff) };
                self.set16(2, ip_len as u16);
            }
            let hl = self.ip_hl();
            if self.proto() == IP_PROTO_UDP
                && self.first_frag()
                && self.buf.len() >= hl + 8
                && self.buf[hl + 4] == 0
                && self.buf[hl + 5] == 0
            {
                self.set16(hl + 4, ip_len.saturating_sub(hl) as u16);
            }
            if checksum {
                self.grow_to(ip_len);
                crate::wire::set_checksums(&mut self.buf);
            }
        }
        let extra = self.want_len.saturating_sub(self.buf.len()) as u32;
        (self.buf, extra, self.paint, self.timestamp)
    }
}

/// Sort the fields of a `!data` line into the order they apply in.
pub fn apply_order(fields: &[Option<Field>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..fields.len()).collect();
    order.sort_by_key(|&i| fields[i].map_or(255, Field::rank));
    order
}

const TCP_FLAG_LETTERS: &[u8] = b"FSRPAUECN";

fn parse_tcp_flags(s: &str) -> Option<u16> {
    if s == "." {
        return Some(0);
    }
    if let Ok(n) = s.parse::<u16>() {
        return Some(n);
    }
    let mut f = 0u16;
    for c in s.bytes() {
        let bit = TCP_FLAG_LETTERS.iter().position(|&l| l == c)?;
        f |= 1 << bit;
    }
    Some(f)
}

/// The parts of a packet the fields read: where its IP header and transport
/// header are, if they are all there.
struct View<'a> {
    ip: &'a [u8],
    hl: usize,
}

impl View<'_> {
    fn proto(&self) -> u8 {
        self.ip[9]
    }
    fn first_frag(&self) -> bool {
        u16::from_be_bytes([self.ip[6], self.ip[7]]) & 0x1fff == 0
    }
    fn ip_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.ip[2], self.ip[3]]))
    }
    /// Transport bytes `a..b`, if present in a first fragment of protocol `proto`
    /// (0: any).
    fn transport(&self, proto: u8, a: usize, b: usize) -> Option<&[u8]> {
        if !self.first_frag() || (proto != 0 && self.proto() != proto) {
            return None;
        }
        self.ip.get(self.hl + a..self.hl + b)
    }
    fn payload(&self) -> (usize, usize) {
        let mut off = self.hl;
        if self.first_frag() {
            match self.proto() {
                IP_PROTO_TCP => {
                    let doff = self.ip.get(self.hl + 12).map_or(5, |b| usize::from(b >> 4));
                    off += if self.ip.len() >= self.hl + 13 && doff >= 5 { doff * 4 } else { 20 };
                }
                IP_PROTO_UDP | 136 => off += 8,
                _ => {}
            }
        }
        (off, self.ip_len().saturating_sub(off))
    }
}

/// Field `f` of `p` as a dump prints it, or `-` when the packet lacks it.
pub fn unparse(f: Field, p: &Packet) -> String {
    use Field::*;
    let a = &p.anno;
    match f {
        Timestamp => return format!("{}.{:06}", a.timestamp / 1_000_000_000, a.timestamp % 1_000_000_000 / 1000),
        TsSec => return format!("{}", a.timestamp / 1_000_000_000),
        TsUsec => return format!("{}", a.timestamp % 1_000_000_000 / 1000),
        Paint => return format!("{}", a.paint),
        Direction => {
            return String::from(match a.paint {
                0 => ">",
                1 => "<",
                _ => "-",
            });
        }
        _ => {}
    }
    let data = p.data();
    let nh = a.network_header.unwrap_or(0);
    let ip = data.get(nh..).unwrap_or(&[]);
    let dash = || String::from("-");
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return dash();
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
    if hl < 20 {
        return dash();
    }
    let v = View { ip, hl };
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    match f {
        IpSrc => format!("{}", Ipv4Addr([ip[12], ip[13], ip[14], ip[15]])),
        IpDst => format!("{}", Ipv4Addr([ip[16], ip[17], ip[18], ip[19]])),
        IpLen => format!("{}", v.ip_len()),
        IpProto => match v.proto() {
            IP_PROTO_TCP => String::from("T"),
            IP_PROTO_UDP => String::from("U"),
            IP_PROTO_ICMP => String::from("I"),
            n => format!("{n}"),
        },
        IpId => format!("{}", be16(&ip[4..6])),
        IpHl => format!("{hl}"),
        IpTos => format!("{}", ip[1]),
        IpTtl => format!("{}", ip[8]),
        IpSum => format!("{}", be16(&ip[10..12])),
        IpFrag => {
            let off = be16(&ip[6..8]);
            String::from(if off & 0x1fff != 0 {
                "f"
            } else if off & 0x2000 != 0 {
                "F"
            } else {
                "."
            })
        }
        IpFragOff => {
            let off = be16(&ip[6..8]);
            format!("{}{}", (off & 0x1fff) * 8, if off & 0x2000 != 0 { "+" } else { "" })
        }
        IpOpt => match ip.get(20..hl) {
            Some([]) => String::from("."),
            Some(opts) if opts.iter().all(|&b| b <= 1) => String::from("."),
            Some(opts) => opts.iter().map(|b| format!("{b:02x}")).collect(),
            None => dash(),
        },
        IpCaptureLen => format!("{}", ip.len()),
        Sport => v
            .transport(0, 0, 2)
            .filter(|_| matches!(v.proto(), 6 | 17 | 33 | 132 | 136))
            .map_or_else(dash, |b| format!("{}", be16(b))),
        Dport => v
            .transport(0, 2, 4)
            .filter(|_| matches!(v.proto(), 6 | 17 | 33 | 132 | 136))
            .map_or_else(dash, |b| format!("{}", be16(b))),
        TcpSeq => v.transport(IP_PROTO_TCP, 4, 8).map_or_else(dash, |b| format!("{}", be32(b))),
        TcpAck => v.transport(IP_PROTO_TCP, 8, 12).map_or_else(dash, |b| format!("{}", be32(b))),
        TcpFlags => v.transport(IP_PROTO_TCP, 12, 14).map_or_else(dash, |b| {
            let flags = (u16::from(b[0] & 0x0f) << 8) | u16::from(b[1]);
            if flags == 0 {
                return String::from(".");
            }
            (0..9).filter(|i| flags & (1 << i) != 0).map(|i| TCP_FLAG_LETTERS[i] as char).collect()
        }),
        TcpWindow => v.transport(IP_PROTO_TCP, 14, 16).map_or_else(dash, |b| format!("{}", be16(b))),
        TcpUrp => v.transport(IP_PROTO_TCP, 18, 20).map_or_else(dash, |b| format!("{}", be16(b))),
        TcpOff => v.transport(IP_PROTO_TCP, 12, 13).map_or_else(dash, |b| format!("{}", usize::from(b[0] >> 4) * 4)),
        TcpOpt => {
            let Some(b) = v.transport(IP_PROTO_TCP, 12, 13) else { return dash() };
            let doff = usize::from(b[0] >> 4) * 4;
            match v.transport(IP_PROTO_TCP, 20, doff.max(20)) {
                Some(opts) => unparse_tcp_opt(opts),
                None => dash(),
            }
        }
        UdpLen => v.transport(IP_PROTO_UDP, 4, 6).map_or_else(dash, |b| format!("{}", be16(b))),
        IcmpType => v.transport(IP_PROTO_ICMP, 0, 1).map_or_else(dash, |b| format!("{}", b[0])),
        IcmpCode => v.transport(IP_PROTO_ICMP, 1, 2).map_or_else(dash, |b| format!("{}", b[0])),
        IcmpTypeName => v
            .transport(IP_PROTO_ICMP, 0, 1)
            .map_or_else(dash, |b| icmp_type_name(b[0]).map_or_else(|| format!("{}", b[0]), String::from)),
        Payload => {
            let (off, len) = v.payload();
            let end = off.saturating_add(len).min(ip.len());
            quote(ip.get(off..end).unwrap_or(&[]))
        }
        PayloadLen => format!("{}", v.payload().1),
        Timestamp | TsSec | TsUsec | Paint | Direction => dash(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(fields: &[&str], line: &str) -> (Vec<u8>, u32) {
        let fs: Vec<Option<Field>> = fields.iter().map(|f| Field::parse(f)).collect();
        let vals = split_line(line);
        let mut b = Builder::new(IP_PROTO_TCP);
        for i in apply_order(&fs) {
            if let (Some(f), Some(v)) = (fs[i], vals.get(i))
                && *v != "-"
            {
                b.apply(f, v);
            }
        }
        let (buf, extra, _, _) = b.finish(false);
        (buf, extra)
    }

    #[test]
    fn a_destination_alone_makes_a_40_byte_tcp_packet() {
        let (buf, extra) = build(&["ip_dst"], "2.0.0.1");
        assert_eq!(buf.len(), 40);
        assert_eq!(extra, 0);
        assert_eq!(&buf[..12], &[0x45, 0, 0, 40, 0, 0, 0, 0, 100, 6, 0, 0]);
        assert_eq!(&buf[16..20], &[2, 0, 0, 1]);
        assert_eq!(buf[32], 0x50);
    }

    #[test]
    fn claimed_length_beyond_the_payload_is_extra_length() {
        let (buf, extra) = build(&["ip_src", "ip_opt", "tcp_opt", "ip_len", "payload"], "1.0.0.1 . . 50 \"HiFart\"");
        assert_eq!(buf.len(), 46);
        assert_eq!(extra, 4);
        assert_eq!(&buf[40..], b"HiFart");
        assert_eq!(&buf[2..4], &[0, 50]);
    }

    #[test]
    fn tcp_options_round_trip() {
        let (buf, _) = build(&["sport", "tcp_opt"], "1 wscale10");
        assert_eq!(buf.len(), 44);
        let p = Packet::from_data(&buf);
        assert_eq!(unparse(Field::TcpOpt, &p), "wscale10");
        assert_eq!(unparse(Field::Sport, &p), "1");
    }

    #[test]
    fn hostile_lines_never_panic() {
        let fields: Vec<Option<Field>> = NAMES.iter().map(|&(_, f)| Some(f)).collect();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet: Vec<char> = "0123456789.-\\\"é!/:+TUIFSAxf# ".chars().collect();
        for _ in 0..3000 {
            let mut line = String::new();
            for _ in 0..(x % 120) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let vals = split_line(&line);
            let mut b = Builder::new(IP_PROTO_TCP);
            for i in apply_order(&fields) {
                if let (Some(f), Some(v)) = (fields[i], vals.get(i)) {
                    b.apply(f, v);
                }
            }
            let (buf, _, _, _) = b.finish(x.is_multiple_of(2));
            let p = Packet::from_data(&buf);
            for &(_, f) in NAMES {
                let _ = unparse(f, &p);
            }
        }
    }

    #[test]
    fn quoting_round_trips() {
        let q = quote(b"Hi\0\"\\\xff");
        assert_eq!(q, "\"Hi\\000\\\"\\\\\\377\"");
        assert_eq!(unquote(&q).unwrap(), b"Hi\0\"\\\xff");
    }

    #[test]
    fn fields_of_short_packets_are_dashes() {
        let (buf, _) = build(&["sport", "dport"], "1 2");
        let p = Packet::from_data(&buf[..23]);
        assert_eq!(unparse(Field::Sport, &p), "1");
        assert_eq!(unparse(Field::Dport, &p), "-");
        let p = Packet::from_data(&buf[..10]);
        assert_eq!(unparse(Field::IpSrc, &p), "-");
    }
}
