//! CheckICMPHeader, CheckUDPHeader, CheckTCPHeader — check transport headers.
//!
//! `CheckICMPHeader([KEYWORDS])` · `CheckUDPHeader([KEYWORDS])` ·
//! `CheckTCPHeader([KEYWORDS])`
//!
//! One push input, one or two push outputs. Each expects packets with an IP
//! header annotation (after CheckIPHeader or MarkIPHeader) and checks the
//! transport header after it: that the protocol is right, the header is all there
//! and its lengths agree with the IP length, and the checksum is correct (for UDP,
//! a zero checksum means none). ICMP error messages must carry at least 28 bytes of
//! the offending datagram; timestamp and information messages must have their
//! exact sizes. Good packets go on to output 0; bad ones go to output 1 if it
//! exists, else are dropped. The first failure is reported on the console
//! (`VERBOSE true`: every failure), as `ELEMENT: ICMP header check failed: REASON`.
//!
//! Handlers: `drops`.

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::ip::ip_checksum;
use crate::wire::{IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, transport_checksum};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Icmp,
    Udp,
    Tcp,
}

pub struct CheckTransportHeader {
    proto: Proto,
    verbose: bool,
    drops: u64,
}

impl CheckTransportHeader {
    pub fn icmp() -> Self {
        CheckTransportHeader { proto: Proto::Icmp, verbose: false, drops: 0 }
    }
    pub fn udp() -> Self {
        CheckTransportHeader { proto: Proto::Udp, verbose: false, drops: 0 }
    }
    pub fn tcp() -> Self {
        CheckTransportHeader { proto: Proto::Tcp, verbose: false, drops: 0 }
    }

    /// Why `p` fails the check, if it does.
    fn problem(&self, p: &Packet) -> Option<&'static str> {
        let not_it = match self.proto {
            Proto::Icmp => "not ICMP",
            Proto::Udp => "not UDP",
            Proto::Tcp => "not TCP",
        };
        let Some(nh) = p.anno.network_header else { return Some(not_it) };
        let ip = p.data().get(nh..).unwrap_or(&[]);
        if ip.len() < 20 {
            return Some(not_it);
        }
        let want = match self.proto {
            Proto::Icmp => IP_PROTO_ICMP,
            Proto::Udp => IP_PROTO_UDP,
            Proto::Tcp => IP_PROTO_TCP,
        };
        let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0;
        if ip[9] != want || (frag && self.proto != Proto::Icmp) {
            return Some(not_it);
        }
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let th = p.anno.transport_header.map_or(hl, |t| t.saturating_sub(nh));
        let ip_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let Some(seg) = ip.get(th..) else { return Some("bad packet length") };
        let (src, dst) = ([ip[12], ip[13], ip[14], ip[15]], [ip[16], ip[17], ip[18], ip[19]]);
        match self.proto {
            Proto::Icmp => {
                if seg.len() < 8 {
                    return Some("bad packet length");
                }
                let ok_len = match seg[0] {
                    3 | 4 | 5 | 11 | 12 => seg.len() >= 8 + 28,
                    13 | 14 => seg.len() == 20,
                    15 | 16 => seg.len() == 8,
                    _ => true,
                };
                if !ok_len {
                    return Some("bad packet length");
                }
                if ip_checksum(seg) != 0 {
                    return Some("bad ICMP checksum");
                }
            }
            Proto::Udp => {
                if seg.len() < 8 {
                    return Some("bad packet length");
                }
                let ulen = usize::from(u16::from_be_bytes([seg[4], seg[5]]));
                let room = ip_len.saturating_sub(th).min(seg.len());
                if ulen < 8 || ulen > room {
                    return Some("bad packet length");
                }
                if (seg[6] != 0 || seg[7] != 0) && transport_checksum(src, dst, IP_PROTO_UDP, &seg[..ulen]) != 0 {
                    return Some("bad UDP checksum");
                }
            }
            Proto::Tcp => {
                let room = ip_len.saturating_sub(th).min(seg.len());
                if room < 20 {
                    return Some("bad packet length");
                }
                let doff = usize::from(seg[12] >> 4) * 4;
                if doff < 20 || doff > room {
                    return Some("bad TCP header length");
                }
                if transport_checksum(src, dst, IP_PROTO_TCP, &seg[..room]) != 0 {
                    return Some("bad TCP checksum");
                }
            }
        }
        None
    }
}

impl Element for CheckTransportHeader {
    fn class_name(&self) -> &'static str {
        match self.proto {
            Proto::Icmp => "CheckICMPHeader",
            Proto::Udp => "CheckUDPHeader",
            Proto::Tcp => "CheckTCPHeader",
        }
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
        self.verbose = a.read_or("VERBOSE", false);
        let _details: Option<bool> = a.read("DETAILS");
        finish_args(a)
    }
    fn simple_action(&mut self, p: Packet, cx: &mut Ctx) -> Option<Packet> {
        let Some(reason) = self.problem(&p) else { return Some(p) };
        if self.drops == 0 || self.verbose {
            let what = match self.proto {
                Proto::Icmp => "ICMP",
                Proto::Udp => "UDP",
                Proto::Tcp => "TCP",
            };
            let line = format!("{}: {what} header check failed: {reason}", cx.name());
            cx.console(&line);
        }
        self.drops += 1;
        if cx.noutputs() == 2 {
            cx.push(1, p);
        }
        None
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "drops").then(|| format!("{}", self.drops))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["drops"]
    }
}
