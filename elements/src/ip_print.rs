//! IPPrint — prints a tcpdump-like line for each IP packet.
//!
//! `IPPrint([LABEL, KEYWORDS])`
//!
//! One agnostic input and output. For each packet with an IP header annotation it
//! prints one line on the console, then passes the packet on: `[LABEL: ]TIME:
//! SRC.SPORT > DST.DPORT: FLAGS SEQ:END(DATA,CAPTURED,IPLEN) ack ACK win WIN` for
//! TCP, `... : udp LEN` for UDP, `SRC > DST: icmp echo (ID, SEQ)` and the like for
//! ICMP, `ip-proto-N` otherwise, plus `(frag ID:LEN@OFFSET[+])` for fragments.
//! Truncated headers print as `truncated-tcp` and so on.
//!
//! Keywords: `CONTENTS` (`false`, `hex` or `ascii`: also print packet bytes),
//! `PAYLOAD` (print the payload rather than the whole packet), `MAXLENGTH` (bytes
//! of contents, default 1500; -1: all), `ID`, `TTL`, `TOS`, `LENGTH` (print those
//! IP fields), `TIMESTAMP` (default true), `PAINT`, `SWAP` (byte-swap ICMP
//! identifiers), `ACTIVE` (default true).

use alloc::format;
use alloc::string::String;

use oxclick_lang::args::{Ipv4Addr, Word};
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::wire::{ICMP_CODES, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, icmp_type_name};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Contents {
    None,
    Hex,
    Ascii,
}

pub struct IPPrint {
    label: String,
    contents: Contents,
    payload: bool,
    max_length: i64,
    id: bool,
    ttl: bool,
    tos: bool,
    length: bool,
    timestamp: bool,
    paint: bool,
    swap: bool,
    active: bool,
}

impl Default for IPPrint {
    fn default() -> Self {
        IPPrint {
            label: String::new(),
            contents: Contents::None,
            payload: false,
            max_length: 1500,
            id: false,
            ttl: false,
            tos: false,
            length: false,
            timestamp: true,
            paint: false,
            swap: false,
            active: true,
        }
    }
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr([b[0], b[1], b[2], b[3]])
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// `SRC.SPORT > DST.DPORT: ` for IP header `ip` and transport header `t` (at
/// least 4 bytes).
fn port_pair(ip: &[u8], t: &[u8]) -> String {
    format!("{}.{} > {}.{}: ", addr(&ip[12..16]), be16(&t[0..2]), addr(&ip[16..20]), be16(&t[2..4]))
}

impl IPPrint {
    /// The line for IP header `ip` (with `captured` bytes of packet in all) whose
    /// transport header holds `tl` bytes.
    fn line(&self, ip: &[u8], tl: usize, captured: usize, out: &mut String) {
        let first_frag = be16(&ip[6..8]) & 0x1fff == 0;
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let t = ip.get(hl..).unwrap_or(&[]);
        let pair = format!("{} > {}", addr(&ip[12..16]), addr(&ip[16..20]));
        match ip[9] {
            IP_PROTO_TCP | IP_PROTO_UDP if tl < 4 || !first_frag => {
                let name = if ip[9] == IP_PROTO_TCP { "tcp" } else { "udp" };
                out.push_str(&pair);
                out.push_str(&if first_frag { format!(": truncated-{name}") } else { format!(": {name}") });
            }
            IP_PROTO_TCP => {
                out.push_str(&port_pair(ip, t));
                if tl < 14 {
                    out.push_str("truncated-tcp");
                    return;
                }
                let ip_len = i64::from(be16(&ip[2..4]));
                let flags = t[13];
                let mut seqlen = ip_len - hl as i64 - i64::from(t[12] >> 4) * 4;
                if flags & 0x02 != 0 {
                    out.push('S');
                    seqlen += 1;
                }
                if flags & 0x01 != 0 {
                    out.push('F');
                    seqlen += 1;
                }
                if flags & 0x04 != 0 {
                    out.push('R');
                }
                if flags & 0x08 != 0 {
                    out.push('P');
                }
                if flags & 0x0f == 0 {
                    out.push('.');
                }
                let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
                let end = seq.wrapping_add(seqlen as u32);
                out.push_str(&format!(" {seq}:{end}({seqlen},{captured},{ip_len})"));
                if flags & 0x10 != 0 {
                    out.push_str(&format!(" ack {}", u32::from_be_bytes([t[8], t[9], t[10], t[11]])));
                }
                if tl < 16 {
                    out.push_str("truncated-tcp");
                    return;
                }
                out.push_str(&format!(" win {}", be16(&t[14..16])));
            }
            IP_PROTO_UDP => {
                out.push_str(&port_pair(ip, t));
                if tl < 8 {
                    out.push_str("truncated-udp");
                } else {
                    out.push_str(&format!("udp {}", be16(&t[4..6])));
                }
            }
            IP_PROTO_ICMP => {
                out.push_str(&pair);
                out.push_str(": ");
                if !first_frag {
                    out.push_str("icmp");
                    return;
                }
                if tl < 2 {
                    out.push_str("truncated-icmp");
                    return;
                }
                let (ty, code) = (t[0], t[1]);
                let code_name = ICMP_CODES.iter().find(|&&(ct, _, c)| ct == ty && c == code).map(|&(_, n, _)| n);
                match ty {
                    0 | 8 => {
                        out.push_str(if ty == 0 { "icmp echo-reply " } else { "icmp echo " });
                        if tl < 8 {
                            out.push_str("truncated-icmp");
                            return;
                        }
                        let (mut id, mut seq) = (be16(&t[4..6]), be16(&t[6..8]));
                        if self.swap {
                            id = id.swap_bytes();
                            seq = seq.swap_bytes();
                        }
                        out.push_str(&format!("({id}, {seq})"));
                    }
                    3 => {
                        let code = code_name.map_or_else(|| format!("code {code}"), String::from);
                        let e = t.get(8..tl).unwrap_or(&[]);
                        if e.len() < 20 {
                            out.push_str(&format!("icmp unreachable {code} truncated-icmp"));
                            return;
                        }
                        out.push_str(&format!("icmp {} unreachable {code}", addr(&e[16..20])));
                        if t[1] == 4 && tl >= 8 && be16(&t[6..8]) != 0 {
                            out.push_str(&format!(" (mtu {})", be16(&t[6..8])));
                        }
                    }
                    _ => {
                        out.push_str("icmp ");
                        match icmp_type_name(ty) {
                            Some(n) => out.push_str(n),
                            None => out.push_str(&format!("type {ty}")),
                        }
                        match code_name {
                            Some(n) => out.push_str(&format!(" {n}")),
                            None if code != 0 => out.push_str(&format!(" code {code}")),
                            None => {}
                        }
                    }
                }
            }
            proto => {
                out.push_str(&pair);
                out.push_str(&format!(": ip-proto-{proto}"));
            }
        }
    }

    fn contents(&self, data: &[u8], out: &mut String) {
        let n = if self.max_length < 0 { data.len() } else { data.len().min(self.max_length as usize) };
        for (i, &b) in data[..n].iter().enumerate() {
            match self.contents {
                Contents::Hex => {
                    if i % 24 == 0 {
                        out.push_str("\n  ");
                    } else if i % 4 == 0 {
                        out.push(' ');
                    }
                    out.push_str(&format!("{b:02x}"));
                }
                Contents::Ascii => {
                    if i % 48 == 0 {
                        out.push_str("\n  ");
                    }
                    out.push(if (0x20..0x7f).contains(&b) { b as char } else { '.' });
                }
                Contents::None => {}
            }
        }
    }
}

impl Element for IPPrint {
    fn class_name(&self) -> &'static str {
        "IPPrint"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let text = |s: &str| -> Result<String, Option<String>> { Ok(oxclick_lang::args::unquote(s)) };
        self.label = a.read_with("LABEL", true, false, "string", text).unwrap_or_default();
        let contents: Option<Word> = a.read("CONTENTS");
        self.payload = a.read_or("PAYLOAD", false);
        self.max_length = a.read_or("MAXLENGTH", 1500);
        self.id = a.read_or("ID", false);
        self.ttl = a.read_or("TTL", false);
        self.tos = a.read_or("TOS", false);
        self.length = a.read_or("LENGTH", false);
        self.timestamp = a.read_or("TIMESTAMP", true);
        self.paint = a.read_or("PAINT", false);
        self.swap = a.read_or("SWAP", false);
        self.active = a.read_or("ACTIVE", true);
        let _aggregate: Option<bool> = a.read("AGGREGATE");
        finish_args(a)?;
        self.contents = match contents.as_ref().map(|w| w.0.to_ascii_lowercase()).as_deref() {
            None | Some("false") | Some("no") => Contents::None,
            Some("hex") | Some("true") | Some("yes") => Contents::Hex,
            Some("ascii") => Contents::Ascii,
            Some(other) => return Err(alloc::vec![format!("CONTENTS: bad contents value '{other}'")]),
        };
        Ok(())
    }
    fn simple_action(&mut self, p: Packet, cx: &mut Ctx) -> Option<Packet> {
        let Some(nh) = p.anno.network_header.filter(|_| self.active) else { return Some(p) };
        let mut s = String::new();
        if !self.label.is_empty() {
            s.push_str(&self.label);
            s.push_str(": ");
        }
        if self.timestamp {
            let ts = p.anno.timestamp;
            s.push_str(&format!("{}.{:06}: ", ts / 1_000_000_000, ts % 1_000_000_000 / 1000));
        }
        if self.paint {
            s.push_str(&format!("paint {}: ", p.anno.paint));
        }
        let ip = p.data().get(nh..).unwrap_or(&[]);
        if ip.len() < 20 {
            s.push_str("truncated-ip");
        } else {
            let ip_len = usize::from(be16(&ip[2..4]));
            let hl = usize::from(ip[0] & 0x0f) * 4;
            let payload_len = ip_len.saturating_sub(hl);
            let th = p.anno.transport_header.unwrap_or(nh + hl);
            let tl = p.len().saturating_sub(th).min(payload_len).min(ip.len().saturating_sub(hl));
            if self.id {
                s.push_str(&format!("id {} ", be16(&ip[4..6])));
            }
            if self.ttl {
                s.push_str(&format!("ttl {} ", ip[8]));
            }
            if self.tos {
                s.push_str(&format!("tos {} ", ip[1]));
            }
            if self.length {
                s.push_str(&format!("length {ip_len} "));
            }
            self.line(ip, if hl >= 20 { tl } else { 0 }, p.len(), &mut s);
            let off = be16(&ip[6..8]);
            if off & 0x3fff != 0 {
                s.push_str(&format!(
                    " (frag {}:{payload_len}@{}{})",
                    be16(&ip[4..6]),
                    (off & 0x1fff) * 8,
                    if off & 0x2000 != 0 { "+" } else { "" }
                ));
            }
            if self.contents != Contents::None {
                let start = if self.payload {
                    let t = nh + hl;
                    match ip[9] {
                        IP_PROTO_TCP => t + ip.get(hl + 12).map_or(20, |b| usize::from(b >> 4) * 4),
                        IP_PROTO_UDP => t + 8,
                        _ => t,
                    }
                } else {
                    0
                };
                self.contents(p.data().get(start..).unwrap_or(&[]), &mut s);
            }
        }
        cx.console(&s);
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "active").then(|| format!("{}", self.active))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["active"]
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        (name == "active").then(|| {
            <bool as oxclick_lang::args::ArgType>::parse_arg(value.trim())
                .map(|b| self.active = b)
                .map_err(|_| String::from("expected boolean"))
        })
    }
}
