//! FromDump and ToDump — read and write pcap files (host only).
//!
//! `FromDump(FILENAME, KEYWORDS)`
//!
//! One push output. Pushes the packets of the pcap file FILENAME, up to `BURST`
//! (default 32) each time its task runs, with their capture time as the timestamp
//! annotation. Keywords: `STOP` (ask the driver to stop at the end of the file,
//! default false), `ACTIVE` (default true), `MMAP` (map the file into memory
//! rather than read it, which saves copying every byte once; default true, and
//! pipes and devices are always read). Handlers: `count`.
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
use oxclick_runtime::{Annotations, ConfigCtx, ConfigErrors, Ctx, Element, MAX_BATCH, Packet, finish_args};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapParser, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

/// A pcap file, parsed in place: a packet costs one copy (into its pooled buffer)
/// and no allocation.
struct Trace {
    bytes: TraceBytes,
    /// The file's byte order and timestamp unit (from its header).
    big_endian: bool,
    nanos: bool,
    /// Unparsed bytes are `bytes[start..end]`.
    start: usize,
    end: usize,
    /// Of a mapped file, the bytes before this are parsed and given back.
    released: usize,
}

/// Where a trace's bytes are.
enum TraceBytes {
    /// The whole file, mapped (`MMAP true`, a regular file): records are read
    /// where the page cache holds them, with no copy into a buffer first.
    Mapped(memmap2::Mmap),
    /// Read in large chunks (`MMAP false`, or a pipe or device, which cannot be
    /// mapped).
    Read { file: File, buf: Vec<u8>, eof: bool },
}

impl TraceBytes {
    #[inline(always)]
    fn as_slice(&self) -> &[u8] {
        match self {
            TraceBytes::Mapped(m) => m,
            TraceBytes::Read { buf, .. } => buf,
        }
    }
}

/// How far ahead of the record being parsed the trace's bytes are prefetched:
/// about a batch of small records. Behind a demux, where each packet runs
/// through another tenant's elements, the processor's own stream prefetch lost
/// the trace and FromDump took twice its time stalled on it (1 KB and 4-8 KB
/// ahead did less well).
const PREFETCH_AHEAD: usize = 2048;

/// Bytes read from the file at a time.
const CHUNK: usize = 1 << 20;
/// The largest record accepted; a bigger one means a corrupt file.
const MAX_RECORD: usize = 16 << 20;

impl Trace {
    fn open(filename: &str, mmap: bool) -> Result<Trace, String> {
        let mut file = File::open(filename).map_err(|e| format!("{filename}: {e}"))?;
        let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
        let (bytes, end) = match mmap && regular {
            // SAFETY: the map is only read, as bytes. A file truncated by another
            // process while it is mapped makes reads past its new end fault
            // (SIGBUS), as it does for Click's FromDump with MMAP.
            true => match unsafe { memmap2::Mmap::map(&file) } {
                Ok(m) => {
                    let _ = m.advise(memmap2::Advice::Sequential);
                    let len = m.len();
                    (TraceBytes::Mapped(m), len)
                }
                Err(e) => return Err(format!("{filename}: {e}")),
            },
            false => {
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
                (TraceBytes::Read { file, buf, eof: false }, end)
            }
        };
        let head = &bytes.as_slice()[..end];
        let (rest, parser) = PcapParser::new(head).map_err(|e| format!("{filename}: not a pcap file ({e})"))?;
        let start = end - rest.len();
        let header = parser.header();
        let big_endian = header.endianness == Endianness::Big;
        let nanos = header.ts_resolution == TsResolution::NanoSecond;
        Ok(Trace { bytes, big_endian, nanos, start, end, released: 0 })
    }

    /// Unmap the parsed part of a mapped file every few megabytes, so the process's
    /// resident memory stays that of a buffer, not of the whole trace (the page
    /// cache keeps the pages).
    #[inline]
    fn release_parsed(&mut self) {
        const STEP: usize = 4 << 20;
        if let TraceBytes::Mapped(m) = &self.bytes
            && self.start - self.released >= STEP
        {
            let len = (self.start - self.released) & !(STEP - 1);
            // SAFETY: the map is read-only and shared, so dropping pages loses
            // nothing (a later read would fault them in from the file again), and
            // no packet points into it: records are copied out.
            let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, self.released, len) };
            self.released += len;
        }
    }

    /// Make room and read more; false at the end of the file or on an error.
    #[cold]
    fn refill(&mut self) -> bool {
        let TraceBytes::Read { file, buf, eof } = &mut self.bytes else { return false };
        if *eof {
            return false;
        }
        buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == buf.len() {
            if buf.len() >= MAX_RECORD {
                return false;
            }
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[self.end..]) {
            Ok(0) | Err(_) => {
                *eof = true;
                false
            }
            Ok(n) => {
                self.end += n;
                true
            }
        }
    }

    /// Hand up to `max` records to `each` as (timestamp in ns, bytes beyond those
    /// captured, captured bytes); false once the trace has ended. A truncated or
    /// corrupt record ends it too, as in Click.
    ///
    /// Records are parsed here rather than by `pcap_file` (which reads the file
    /// header): a record header is four integers, and this is FromDump's
    /// per-packet path. Each pass parses from a local view of the bytes, so the
    /// cursor is stored once per pass, not once per record.
    #[inline]
    fn records(&mut self, max: usize, mut each: impl FnMut(u64, u32, &[u8])) -> bool {
        let mut done = 0;
        loop {
            let mut rest = self.bytes.as_slice().get(self.start..self.end).unwrap_or_default();
            let before = rest.len();
            while done < max {
                let Some((rec, body)) = rest.split_first_chunk::<16>() else { break };
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
                    self.start = self.end;
                    return false;
                }
                let Some(data) = body.get(..caplen) else { break };
                crate::prefetch::prefetch(data.as_ptr().wrapping_add(PREFETCH_AHEAD));
                // No overflow: 2^32 seconds in nanoseconds plus 2^32 microseconds
                // in nanoseconds fit in 64 bits.
                let frac_ns = if self.nanos { u64::from(frac) } else { u64::from(frac) * 1000 };
                each(u64::from(sec) * 1_000_000_000 + frac_ns, len.saturating_sub(caplen as u32), data);
                rest = body.get(caplen..).unwrap_or_default();
                done += 1;
            }
            self.start += before - rest.len();
            if done == max {
                return true;
            }
            if !self.refill() {
                return false;
            }
        }
    }
}

pub struct FromDump {
    filename: String,
    stop: bool,
    active: bool,
    burst: u32,
    mmap: bool,
    trace: Option<Trace>,
    count: u64,
    done: bool,
}

impl Default for FromDump {
    fn default() -> Self {
        FromDump {
            filename: String::new(),
            stop: false,
            active: true,
            burst: MAX_BATCH as u32,
            mmap: true,
            trace: None,
            count: 0,
            done: false,
        }
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
        self.burst = a.read_or("BURST", MAX_BATCH as u32);
        self.mmap = a.read_or("MMAP", true);
        finish_args(a)
    }
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        self.trace = Some(Trace::open(&self.filename, self.mmap)?);
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
        let more = trace.records(burst, |timestamp, extra_length, data| {
            batch.push(maker.packet(data, Annotations { timestamp, extra_length, ..Annotations::default() }));
        });
        self.done = !more;
        drop(maker);
        trace.release_parsed();
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
