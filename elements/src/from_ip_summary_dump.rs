//! FromIPSummaryDump — reads packets from a Click IP summary dump.
//!
//! `FromIPSummaryDump(FILENAME [, KEYWORDS])`
//!
//! One agnostic output. Reads a text dump (the format ToIPSummaryDump writes) and
//! turns each line into an IPv4 packet: the `!data` line names the fields
//! (`ip_src ip_dst ip_len ip_proto sport dport tcp_flags tcp_opt payload paint
//! timestamp icmp_type ...`), `!proto P` sets the protocol of packets that do not
//! say (default TCP), `-` leaves a field unset. Fields not given are zero, the TTL
//! is 100, and headers are completed as Click does: a line `2.0.0.1` under
//! `!data ip_dst` is a 40-byte TCP packet. A claimed `ip_len` longer than what the
//! line holds becomes the extra length annotation.
//!
//! Keywords: `STOP` (ask the driver to stop at the end of the file), `ACTIVE`
//! (default true), `ZERO` (default true: bytes the dump does not give are zero;
//! false: pseudo-random), `CHECKSUM` (default false: set IP and transport
//! checksums), `PROTO` (the default protocol: `T`, `U`, `I` or a number).
//! Packets get their IP and transport header annotations and the destination
//! address annotation.
//!
//! Handlers: `count`, `active` (read/write).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use std::io::{BufRead, BufReader, Read};

use oxclick_lang::args::ArgType;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

use crate::ip_summary::{Builder, Field, apply_order, split_line};
use crate::wire::{IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, parse_ip_proto};

pub struct FromIPSummaryDump {
    filename: String,
    stop: bool,
    active: bool,
    zero: bool,
    checksum: bool,
    default_proto: u8,
    reader: Option<BufReader<Box<dyn Read>>>,
    fields: Vec<Option<Field>>,
    order: Vec<usize>,
    line_no: u64,
    count: u64,
    done: bool,
    complained: bool,
    random: u64,
    pushes: bool,
}

impl Default for FromIPSummaryDump {
    fn default() -> Self {
        FromIPSummaryDump {
            filename: String::new(),
            stop: false,
            active: true,
            zero: true,
            checksum: false,
            default_proto: IP_PROTO_TCP,
            reader: None,
            fields: Vec::new(),
            order: Vec::new(),
            line_no: 0,
            count: 0,
            done: false,
            complained: false,
            random: 0x9e37_79b9_7f4a_7c15,
            pushes: false,
        }
    }
}

/// A protocol as IP summary dumps write it: also `T`, `U`, `I`.
fn parse_proto(s: &str) -> Option<u8> {
    match s {
        "T" => Some(IP_PROTO_TCP),
        "U" => Some(IP_PROTO_UDP),
        "I" => Some(IP_PROTO_ICMP),
        _ => parse_ip_proto(s),
    }
}

impl FromIPSummaryDump {
    /// The next packet of the file, or `None` at its end.
    fn next_packet(&mut self, cx: &mut Ctx) -> Option<Packet> {
        let mut line = String::new();
        loop {
            line.clear();
            let reader = self.reader.as_mut()?;
            match reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    cx.console(&format!("{}: {}: {e}", cx.name(), self.filename));
                    return None;
                }
            }
            self.line_no += 1;
            let text = line.trim_end_matches(['\n', '\r']);
            if let Some(rest) = text.strip_prefix('!') {
                let mut words = rest.split_whitespace();
                match words.next() {
                    Some("data") | Some("contents") => {
                        self.fields = words.map(Field::parse).collect();
                        self.order = apply_order(&self.fields);
                    }
                    Some("proto") => {
                        if let Some(p) = words.next().and_then(parse_proto) {
                            self.default_proto = p;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            if text.starts_with('#') || text.trim().is_empty() {
                continue;
            }
            if let Some(p) = self.build(text, cx) {
                return Some(p);
            }
        }
    }

    fn build(&mut self, text: &str, cx: &mut Ctx) -> Option<Packet> {
        let values = split_line(text);
        let mut b = Builder::new(self.default_proto);
        let mut applied = 0;
        for &i in &self.order {
            let (Some(Some(f)), Some(v)) = (self.fields.get(i), values.get(i)) else { continue };
            if *v != "-" && b.apply(*f, v) {
                applied += 1;
            }
        }
        if applied == 0 {
            if !self.complained {
                self.complained = true;
                let what = if self.fields.is_empty() { "no '!data' provided" } else { "packet parse error" };
                cx.console(&format!("{}:{}: {what}", self.filename, self.line_no));
            }
            return None;
        }
        let (mut bytes, extra, paint, ts) = b.finish(self.checksum);
        if !self.zero {
            // Bytes the dump did not give are garbage in Click; keep the headers.
            let hl = bytes.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
            for byte in bytes.iter_mut().skip(hl + 20).filter(|b| **b == 0) {
                self.random ^= self.random << 13;
                self.random ^= self.random >> 7;
                self.random ^= self.random << 17;
                *byte = self.random as u8;
            }
        }
        let mut p = cx.new_packet(&bytes);
        p.anno.paint = paint;
        p.anno.timestamp = ts;
        p.anno.extra_length = extra;
        if bytes.len() >= 20 {
            p.anno.network_header = Some(0);
            let hl = usize::from(bytes[0] & 0x0f) * 4;
            p.anno.transport_header = Some(hl.min(bytes.len()));
            p.anno.dst_ip = [bytes[16], bytes[17], bytes[18], bytes[19]];
        }
        self.count += 1;
        Some(p)
    }

    fn next_or_stop(&mut self, cx: &mut Ctx) -> Option<Packet> {
        if !self.active || self.done {
            return None;
        }
        let p = self.next_packet(cx);
        if p.is_none() {
            self.done = true;
            if self.stop {
                cx.request_stop();
            }
        }
        p
    }
}

impl Element for FromIPSummaryDump {
    fn class_name(&self) -> &'static str {
        "FromIPSummaryDump"
    }
    fn port_count(&self) -> &'static str {
        "0/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.filename = a.read_mp("FILENAME").unwrap_or_default();
        self.stop = a.read_or("STOP", false);
        self.active = a.read_or("ACTIVE", true);
        self.zero = a.read_or("ZERO", true);
        self.checksum = a.read_or("CHECKSUM", false);
        let proto: Option<String> = a.read_with("PROTO", false, false, "protocol", |s| Ok(s.into()));
        let _multipacket: Option<bool> = a.read("MULTIPACKET");
        finish_args(a)?;
        if let Some(p) = proto {
            self.default_proto = parse_proto(&p).ok_or_else(|| alloc::vec![format!("PROTO: bad protocol '{p}'")])?;
        }
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        let input: Box<dyn Read> = if self.filename == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(&self.filename).map_err(|e| format!("{}: {e}", self.filename))?)
        };
        self.reader = Some(BufReader::new(input));
        self.pushes = cx.output_is_push(0);
        Ok(())
    }
    fn has_task(&self) -> bool {
        self.pushes
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        match self.next_or_stop(cx) {
            Some(p) => {
                cx.push(0, p);
                true
            }
            None => {
                cx.sleep();
                false
            }
        }
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        self.next_or_stop(cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "active" => Some(format!("{}", self.active)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "active"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        (name == "active").then(|| {
            let r =
                bool::parse_arg(value.trim()).map(|b| self.active = b).map_err(|_| String::from("expected boolean"));
            cx.wake_self();
            r.map(|()| String::new())
        })
    }
}
