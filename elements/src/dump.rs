//! FromDump and ToDump — read and write pcap files (host only).
//!
//! `FromDump(FILENAME, KEYWORDS)`
//!
//! One push output. Pushes the packets of the pcap file FILENAME, up to `BURST`
//! (default 32) each time its task runs, with their capture time as the timestamp
//! annotation. Keywords: `STOP` (ask the driver to stop at the end of the file,
//! default false), `ACTIVE` (default true). Handlers: `count`.
//!
//! `ToDump(FILENAME, KEYWORDS)`
//!
//! One push input. Writes each packet to the pcap file FILENAME (Ethernet link
//! type, microsecond timestamps — what tcpdump and tshark read), then drops it.
//! Keywords: `SNAPLEN` (bytes kept per packet, default 2000). Handlers: `count`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use std::fs::File;
use std::io::{BufReader, BufWriter};

use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};

pub struct FromDump {
    filename: String,
    stop: bool,
    active: bool,
    burst: u32,
    reader: Option<PcapReader<BufReader<File>>>,
    count: u64,
    done: bool,
}

impl Default for FromDump {
    fn default() -> Self {
        FromDump { filename: String::new(), stop: false, active: true, burst: 32, reader: None, count: 0, done: false }
    }
}

impl Element for FromDump {
    fn class_name(&self) -> &'static str {
        "FromDump"
    }
    fn port_count(&self) -> &'static str {
        "0/1"
    }
    fn processing(&self) -> &'static str {
        "h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.filename = a.read_mp("FILENAME").unwrap_or_default();
        self.stop = a.read_or("STOP", false);
        self.active = a.read_or("ACTIVE", true);
        self.burst = a.read_or("BURST", 32);
        finish_args(a)
    }
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        let f = File::open(&self.filename).map_err(|e| format!("{}: {e}", self.filename))?;
        let r = PcapReader::new(BufReader::new(f)).map_err(|e| format!("{}: not a pcap file ({e})", self.filename))?;
        self.reader = Some(r);
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        if !self.active || self.done {
            return false;
        }
        let mut batch: Vec<Packet> = Vec::new();
        if let Some(r) = self.reader.as_mut() {
            for _ in 0..self.burst.max(1) {
                match r.next_packet() {
                    Some(Ok(pkt)) => {
                        let mut p = Packet::from_data(&pkt.data);
                        p.anno.timestamp = pkt.timestamp.as_nanos() as u64;
                        batch.push(p);
                    }
                    // A truncated or corrupt record ends the trace, as in Click.
                    Some(Err(_)) | None => {
                        self.done = true;
                        break;
                    }
                }
            }
        }
        let worked = !batch.is_empty();
        self.count += batch.len() as u64;
        for p in batch {
            cx.push(0, p);
        }
        if self.done && self.stop {
            cx.request_stop();
        }
        worked
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "count").then(|| format!("{}", self.count))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count"]
    }
}

pub struct ToDump {
    filename: String,
    snaplen: u32,
    writer: Option<PcapWriter<BufWriter<File>>>,
    count: u64,
}

impl Default for ToDump {
    fn default() -> Self {
        ToDump { filename: String::new(), snaplen: 2000, writer: None, count: 0 }
    }
}

impl Element for ToDump {
    fn class_name(&self) -> &'static str {
        "ToDump"
    }
    fn port_count(&self) -> &'static str {
        "1/0"
    }
    fn processing(&self) -> &'static str {
        "h/"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.filename = a.read_mp("FILENAME").unwrap_or_default();
        self.snaplen = a.read_or("SNAPLEN", 2000);
        let _encap: Option<oxclick_lang::args::Word> = a.read("ENCAP");
        finish_args(a)
    }
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        let f = File::create(&self.filename).map_err(|e| format!("{}: {e}", self.filename))?;
        let header = PcapHeader { snaplen: self.snaplen, datalink: DataLink::ETHERNET, ..PcapHeader::default() };
        let w = PcapWriter::with_header(BufWriter::new(f), header).map_err(|e| format!("{}: {e}", self.filename))?;
        self.writer = Some(w);
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        let Some(w) = self.writer.as_mut() else { return };
        let ts = if p.anno.timestamp != 0 { p.anno.timestamp } else { cx.now() };
        let keep = p.len().min(self.snaplen as usize);
        let rec = PcapPacket::new(Duration::from_nanos(ts), p.len() as u32, &p.data()[..keep]);
        if w.write_packet(&rec).is_ok() {
            self.count += 1;
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "count").then(|| format!("{}", self.count))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count"]
    }
}
