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
use std::io::{BufWriter, Read};

use alloc::vec;
use oxclick_runtime::{Annotations, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapParser, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

/// A pcap file read in large chunks and parsed in place, so a packet costs one copy
/// (into its pooled buffer) and no allocation.
struct Trace {
    file: File,
    /// The file's byte order and timestamp unit (from its header).
    big_endian: bool,
    nanos: bool,
    buf: Vec<u8>,
    /// Unparsed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
}

/// Bytes read from the file at a time.
const CHUNK: usize = 1 << 20;
/// The largest record accepted; a bigger one means a corrupt file.
const MAX_RECORD: usize = 16 << 20;

impl Trace {
    fn open(filename: &str) -> Result<Trace, String> {
        let mut file = File::open(filename).map_err(|e| format!("{filename}: {e}"))?;
        let mut buf = vec![0u8; CHUNK];
        let mut end = 0;
        // The 24-byte file header may take several reads on odd files.
        while end < 24 {
            match file.read(&mut buf[end..]) {
                Ok(0) => break,
                Ok(n) => end += n,
                Err(e) => return Err(format!("{filename}: {e}")),
            }
        }
        let (rest, parser) = PcapParser::new(&buf[..end]).map_err(|e| format!("{filename}: not a pcap file ({e})"))?;
        let start = end - rest.len();
        let header = parser.header();
        let big_endian = header.endianness == Endianness::Big;
        let nanos = header.ts_resolution == TsResolution::NanoSecond;
        Ok(Trace { file, big_endian, nanos, buf, start, end, eof: false })
    }

    /// Make room and read more; false at the end of the file or on an error.
    fn refill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_RECORD {
                return false;
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        match self.file.read(&mut self.buf[self.end..]) {
            Ok(0) | Err(_) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.end += n;
                true
            }
        }
    }

    /// The next record: (timestamp in ns, bytes beyond those captured, captured
    /// bytes). `None` at the end of the trace; a truncated or corrupt record ends
    /// it too, as in Click.
    ///
    /// Records are parsed here rather than by `pcap_file` (which reads the file
    /// header): a record header is four integers, and this is FromDump's per-packet
    /// path.
    #[inline]
    fn next_record(&mut self) -> Option<(u64, u32, &[u8])> {
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(rec) = avail.first_chunk::<16>() {
                let mut words = [0u32; 4];
                for (w, b) in words.iter_mut().zip(rec.chunks_exact(4)) {
                    *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                if self.big_endian {
                    words = words.map(u32::swap_bytes);
                }
                let [sec, frac, caplen, len] = words;
                let caplen = caplen as usize;
                if caplen > MAX_RECORD {
                    return None;
                }
                if avail.len() >= 16 + caplen {
                    let data_start = self.start + 16;
                    self.start = data_start + caplen;
                    let frac_ns = if self.nanos { u64::from(frac) } else { u64::from(frac).saturating_mul(1000) };
                    let ts = u64::from(sec).saturating_mul(1_000_000_000).saturating_add(frac_ns);
                    let extra = len.saturating_sub(caplen as u32);
                    return Some((ts, extra, &self.buf[data_start..data_start + caplen]));
                }
            }
            if !self.refill() {
                return None;
            }
        }
    }
}

pub struct FromDump {
    filename: String,
    stop: bool,
    active: bool,
    burst: u32,
    trace: Option<Trace>,
    count: u64,
    done: bool,
}

impl Default for FromDump {
    fn default() -> Self {
        FromDump { filename: String::new(), stop: false, active: true, burst: 32, trace: None, count: 0, done: false }
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
        self.trace = Some(Trace::open(&self.filename)?);
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        if !self.active || self.done {
            return false;
        }
        let Some(trace) = self.trace.as_mut() else { return false };
        let mut batch = cx.new_batch();
        let burst = self.burst.max(1) as usize;
        let mut maker = cx.pool().maker();
        while batch.len() < burst {
            let Some((timestamp, extra_length, data)) = trace.next_record() else {
                self.done = true;
                break;
            };
            batch.push(maker.packet(data, Annotations { timestamp, extra_length, ..Annotations::default() }));
        }
        drop(maker);
        let worked = !batch.is_empty();
        self.count += batch.len() as u64;
        cx.push_batch(0, batch);
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
