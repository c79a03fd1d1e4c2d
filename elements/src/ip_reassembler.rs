//! IPReassembler — puts IP fragments back together.
//!
//! `IPReassembler([KEYWORDS])`
//!
//! One push input, one or two push outputs. Expects packets with an IP header
//! annotation. Unfragmented packets pass straight through. Fragments are held,
//! keyed by source, destination, protocol and ID, until every byte of the datagram
//! has arrived; then the datagram leaves on output 0 with the first fragment's
//! header (and options), its total length and checksum fixed. Overlapping
//! fragments keep the bytes that arrived first. Datagrams not complete within
//! `TIMEOUT` (default 30 s) are dropped, as are the oldest when the held bytes pass
//! `MAX_MEMSIZE` (default 256 KB). Malformed fragments (bad offsets or lengths) go
//! to output 1 if it exists, else are dropped. Handlers: `drops`, `held`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashMap;
use oxclick_lang::args::Interval;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

use crate::ip::ip_checksum;

/// Largest IPv4 datagram.
const MAX_DATAGRAM: usize = 65_535;

struct Partial {
    /// The first fragment's header, once it has arrived.
    header: Option<Vec<u8>>,
    data: Vec<u8>,
    /// Byte ranges of `data` filled so far, sorted and merged.
    have: Vec<(usize, usize)>,
    /// The data length, once the last fragment has arrived.
    total: Option<usize>,
    first_seen: u64,
    anno: oxclick_runtime::Annotations,
}

impl Partial {
    fn add_range(&mut self, a: usize, b: usize) {
        self.have.push((a, b));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
    }

    fn complete(&self) -> bool {
        self.header.is_some() && self.total.is_some_and(|t| self.have.first() == Some(&(0, t)))
    }
}

pub struct IPReassembler {
    timeout: u64,
    max_mem: usize,
    held: HashMap<([u8; 4], [u8; 4], u8, u16), Partial>,
    mem: usize,
    drops: u64,
}

impl Default for IPReassembler {
    fn default() -> Self {
        IPReassembler { timeout: 30_000_000_000, max_mem: 256 * 1024, held: HashMap::new(), mem: 0, drops: 0 }
    }
}

impl IPReassembler {
    fn expire(&mut self, now: u64) {
        let timeout = self.timeout;
        let before = self.held.len();
        let mut freed = 0;
        self.held.retain(|_, p| {
            let keep = now.saturating_sub(p.first_seen) < timeout;
            if !keep {
                freed += p.data.len();
            }
            keep
        });
        self.drops += (before - self.held.len()) as u64;
        self.mem -= freed;
        while self.mem > self.max_mem {
            let Some(oldest) = self.held.iter().min_by_key(|(_, p)| p.first_seen).map(|(k, _)| *k) else { break };
            if let Some(p) = self.held.remove(&oldest) {
                self.mem -= p.data.len();
                self.drops += 1;
            }
        }
    }

    /// Take fragment `p`; the whole datagram if it is now complete. `Err` for a
    /// malformed fragment.
    fn take(&mut self, p: &Packet, now: u64) -> Result<Option<Vec<u8>>, ()> {
        let nh = p.anno.network_header.ok_or(())?;
        let ip = p.data().get(nh..).ok_or(())?;
        if ip.len() < 20 {
            return Err(());
        }
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if hl < 20 || len < hl || len > ip.len() {
            return Err(());
        }
        let off_field = u16::from_be_bytes([ip[6], ip[7]]);
        let offset = usize::from(off_field & 0x1fff) * 8;
        let more = off_field & 0x2000 != 0;
        let body = &ip[hl..len];
        if (more && body.len() % 8 != 0) || offset + body.len() > MAX_DATAGRAM - hl || (more && body.is_empty()) {
            return Err(());
        }
        let key = (
            [ip[12], ip[13], ip[14], ip[15]],
            [ip[16], ip[17], ip[18], ip[19]],
            ip[9],
            u16::from_be_bytes([ip[4], ip[5]]),
        );
        let e = self.held.entry(key).or_insert_with(|| Partial {
            header: None,
            data: Vec::new(),
            have: Vec::new(),
            total: None,
            first_seen: now,
            anno: p.anno,
        });
        let end = offset + body.len();
        if !more {
            if e.total.is_some_and(|t| t != end) || e.have.last().is_some_and(|&(_, b)| b > end) {
                return Err(());
            }
            e.total = Some(end);
        } else if e.total.is_some_and(|t| end > t) {
            return Err(());
        }
        if offset == 0 {
            e.header.get_or_insert_with(|| ip[..hl].to_vec());
            e.anno = p.anno;
        }
        if e.data.len() < end {
            self.mem += end - e.data.len();
            e.data.resize(end, 0);
        }
        // Bytes already held win over later overlapping ones.
        let mut pos = offset;
        while pos < end {
            let covered = e.have.iter().find(|&&(a, b)| a <= pos && pos < b).map(|&(_, b)| b);
            match covered {
                Some(b) => pos = b.min(end),
                None => {
                    let next = e.have.iter().map(|&(a, _)| a).filter(|&a| a > pos).min().unwrap_or(end).min(end);
                    e.data[pos..next].copy_from_slice(&body[pos - offset..next - offset]);
                    pos = next;
                }
            }
        }
        e.add_range(offset, end);
        if !e.complete() {
            return Ok(None);
        }
        let Some(done) = self.held.remove(&key) else { return Ok(None) };
        self.mem -= done.data.len();
        let mut out = done.header.unwrap_or_default();
        let hl = out.len();
        out.extend_from_slice(&done.data);
        let total = out.len() as u16;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        out[6] &= 0x40;
        out[7] = 0;
        out[10] = 0;
        out[11] = 0;
        let sum = ip_checksum(&out[..hl]);
        out[10..12].copy_from_slice(&sum.to_be_bytes());
        Ok(Some(out))
    }
}

impl Element for IPReassembler {
    fn class_name(&self) -> &'static str {
        "IPReassembler"
    }
    /// Fragments are held until MAX_MEMSIZE bytes of them wait; the bookkeeping per
    /// datagram is counted at twice that to be safe.
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Bounded { bytes: self.max_mem.saturating_mul(2) }
    }
    fn port_count(&self) -> &'static str {
        "1/1-2"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.max_mem = a.read_or("MAX_MEMSIZE", 256 * 1024);
        if let Some(t) = a.read::<Interval>("TIMEOUT") {
            self.timeout = t.nanos;
        }
        finish_args(a)
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        let frag = p
            .anno
            .network_header
            .and_then(|nh| p.data().get(nh + 6..nh + 8))
            .is_some_and(|b| u16::from_be_bytes([b[0], b[1]]) & 0x3fff != 0);
        if !frag {
            cx.push(0, p);
            return;
        }
        let now = cx.now();
        self.expire(now);
        match self.take(&p, now) {
            Ok(Some(bytes)) => {
                let mut q = cx.new_packet(&bytes);
                let anno = p.anno;
                q.anno = anno;
                q.anno.network_header = Some(0);
                q.anno.transport_header = Some(usize::from(bytes[0] & 0x0f) * 4);
                cx.push(0, q);
            }
            Ok(None) => {}
            Err(()) => {
                self.drops += 1;
                if cx.noutputs() > 1 {
                    cx.push(1, p);
                }
            }
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "drops" => Some(format!("{}", self.drops)),
            "held" => Some(format!("{}", self.mem)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["drops", "held"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_fragmenter::fragment;

    #[test]
    fn fragments_in_any_order_make_the_datagram() {
        let mut ip = alloc::vec![0u8; 20 + 700];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&720u16.to_be_bytes());
        ip[4..6].copy_from_slice(&7u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        for (i, b) in ip[20..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let s = ip_checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&s.to_be_bytes());
        let mut frags = fragment(&ip, 200).unwrap();
        frags.reverse();
        let mut r = IPReassembler::default();
        let mut out = None;
        for f in &frags {
            let mut p = Packet::from_data(f);
            p.anno.network_header = Some(0);
            if let Some(d) = r.take(&p, 0).unwrap() {
                out = Some(d);
            }
        }
        assert_eq!(out.unwrap(), ip);
        assert_eq!(r.mem, 0);
    }
}
