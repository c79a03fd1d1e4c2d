//! IPEncap, UDPIPEncap — put IP (and UDP) headers on packets.
//!
//! `IPEncap(PROTO, SRC, DST [, KEYWORDS])`
//!
//! One agnostic input and output. Prepends a 20-byte IPv4 header: protocol PROTO
//! (a number or `tcp`, `udp`, `icmp`), source SRC, destination DST, a fresh ID per
//! packet, the total length and the checksum. Keywords `TOS`, `TTL` (default 250),
//! `DF` (set Don't Fragment). The packet gets its IP header and destination
//! annotations.
//!
//! `UDPIPEncap(SRC, SPORT, DST, DPORT [, CHECKSUM])`
//!
//! Prepends IPv4 and UDP headers (28 bytes): from SRC:SPORT to DST:DPORT, TTL 250,
//! with the UDP checksum unless `CHECKSUM false`.

use alloc::format;
use alloc::string::String;

use oxclick_lang::args::{Ipv4Addr, Word};
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::ip::ip_checksum;
use crate::wire::{IP_PROTO_UDP, parse_ip_proto, transport_checksum};

pub struct IPEncap {
    udp: bool,
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    tos: u8,
    ttl: u8,
    df: bool,
    checksum: bool,
    id: u16,
}

impl IPEncap {
    pub fn ip() -> Self {
        IPEncap {
            udp: false,
            proto: 0,
            src: [0; 4],
            dst: [0; 4],
            sport: 0,
            dport: 0,
            tos: 0,
            ttl: 250,
            df: false,
            checksum: true,
            id: 0,
        }
    }
    pub fn udp_ip() -> Self {
        IPEncap { udp: true, proto: IP_PROTO_UDP, ..IPEncap::ip() }
    }
}

impl Element for IPEncap {
    fn class_name(&self) -> &'static str {
        if self.udp { "UDPIPEncap" } else { "IPEncap" }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        if self.udp {
            self.src = a.read_mp::<Ipv4Addr>("SRC").map_or([0; 4], |x| x.0);
            self.sport = a.read_mp("SPORT").unwrap_or(0);
            self.dst = a.read_mp::<Ipv4Addr>("DST").map_or([0; 4], |x| x.0);
            self.dport = a.read_mp("DPORT").unwrap_or(0);
            self.checksum = a.read_p("CHECKSUM").unwrap_or(true);
            finish_args(a)
        } else {
            let proto: Option<Word> = a.read_mp("PROTO");
            self.src = a.read_mp::<Ipv4Addr>("SRC").map_or([0; 4], |x| x.0);
            self.dst = a.read_mp::<Ipv4Addr>("DST").map_or([0; 4], |x| x.0);
            self.tos = a.read_or("TOS", 0);
            self.ttl = a.read_or("TTL", 250);
            self.df = a.read_or("DF", false);
            finish_args(a)?;
            let p = proto.map(|w| w.0).unwrap_or_default();
            self.proto =
                parse_ip_proto(&p).ok_or_else(|| alloc::vec![format!("PROTO: expected protocol, got '{p}'")])?;
            Ok(())
        }
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        let hl = if self.udp { 28 } else { 20 };
        let total = p.len() + hl;
        if total > 0xffff {
            return None;
        }
        p.push(hl);
        self.id = self.id.wrapping_add(1);
        let (tos, ttl, proto, src, dst, id) = (self.tos, self.ttl, self.proto, self.src, self.dst, self.id);
        let df = if self.df { 0x40 } else { 0 };
        let d = p.data_mut();
        d[..20].copy_from_slice(&[0x45, tos, 0, 0, 0, 0, df, 0, ttl, proto, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        d[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        d[4..6].copy_from_slice(&id.to_be_bytes());
        d[12..16].copy_from_slice(&src);
        d[16..20].copy_from_slice(&dst);
        let sum = ip_checksum(&d[..20]);
        d[10..12].copy_from_slice(&sum.to_be_bytes());
        if self.udp {
            d[20..22].copy_from_slice(&self.sport.to_be_bytes());
            d[22..24].copy_from_slice(&self.dport.to_be_bytes());
            d[24..26].copy_from_slice(&((total - 20) as u16).to_be_bytes());
            d[26] = 0;
            d[27] = 0;
            if self.checksum {
                let mut sum = transport_checksum(src, dst, IP_PROTO_UDP, &d[20..]);
                if sum == 0 {
                    sum = 0xffff;
                }
                d[26..28].copy_from_slice(&sum.to_be_bytes());
            }
        }
        p.anno.network_header = Some(0);
        p.anno.transport_header = Some(20);
        p.anno.dst_ip = dst;
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "src" => Some(format!("{}", Ipv4Addr(self.src))),
            "dst" => Some(format!("{}", Ipv4Addr(self.dst))),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["src", "dst"]
    }
}
