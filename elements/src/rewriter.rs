//! The machinery the NAT elements share (not an element): rewrite patterns, input
//! specifications, a bounded flow table with expiry, TCP sequence-number shifts
//! (TCPRewriter, for FTPPortMapper), and incremental checksum updates (RFC 1624).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashMap;
use oxclick_lang::args::{AddressNames, ArgType, Ipv4Addr, Ipv4Prefix, split_args, split_spacevec};

use crate::flow_map::{FlowKey, FlowMap};

/// A TCP/UDP flow: addresses and ports as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Flow {
    pub saddr: u32,
    pub sport: u16,
    pub daddr: u32,
    pub dport: u16,
}

impl Flow {
    pub fn reverse(&self) -> Flow {
        Flow { saddr: self.daddr, sport: self.dport, daddr: self.saddr, dport: self.sport }
    }
}

/// `SADDR SPORT DADDR DPORT`, each `-` (keep) or a value; SADDR (or SPORT, for
/// NAPT) may be a range the new flow's value is picked from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub saddr: u32,
    pub sport: u16,
    pub daddr: u32,
    pub dport: u16,
    /// Whether the pattern has ports (4 words) or only addresses (2 words).
    pub napt: bool,
    /// Values `base..=base+variation` may be used (of the source port for NAPT
    /// patterns, else of the source address).
    pub variation: u32,
    /// `#`: hand out values in order; otherwise start anywhere.
    pub sequential: bool,
    /// Without `#` or `?`: keep the flow's own value when it is in the range and free.
    pub same_first: bool,
    next: u32,
}

/// Why a pattern does not parse (Click's messages).
fn pattern_error(which: &str) -> String {
    format!("bad {which}")
}

fn strip_suffix_flags(s: &str) -> (&str, bool, bool) {
    if let Some(x) = s.strip_suffix('#') {
        (x, true, false)
    } else if let Some(x) = s.strip_suffix('?') {
        (x, false, false)
    } else {
        (s, false, true)
    }
}

fn address(s: &str, names: &AddressNames) -> Option<u32> {
    Ipv4Addr::parse_arg(s).ok().or_else(|| Ipv4Addr::from_name(s, names)).map(|a| u32::from_be_bytes(a.0))
}

impl Pattern {
    /// Parse `SADDR [SPORT] DADDR [DPORT]` (2 words: addresses only; 4: NAPT).
    /// Addresses may be AddressInfo names.
    pub fn parse(words: &[String], names: &AddressNames) -> Result<Pattern, String> {
        if !(words.len() == 2 || words.len() == 4) {
            return Err(String::from("bad pattern syntax"));
        }
        let napt = words.len() == 4;
        let mut p = Pattern {
            saddr: 0,
            sport: 0,
            daddr: 0,
            dport: 0,
            napt,
            variation: 0,
            sequential: false,
            same_first: true,
            next: 0,
        };
        // Source address: `-`, an address, `A-B`, or a prefix.
        let w = &words[0];
        if w != "-" {
            if let Some(a) = address(w, names) {
                p.saddr = a;
            } else {
                let (body, seq, same) = strip_suffix_flags(w);
                let parsed = if let Some((a, b)) = body.split_once('-') {
                    match (Ipv4Addr::parse_arg(a), Ipv4Addr::parse_arg(b)) {
                        (Ok(a), Ok(b)) if u32::from_be_bytes(b.0) >= u32::from_be_bytes(a.0) => {
                            Some((u32::from_be_bytes(a.0), u32::from_be_bytes(b.0) - u32::from_be_bytes(a.0)))
                        }
                        _ => None,
                    }
                } else {
                    Ipv4Prefix::parse_arg(body).ok().and_then(|pf| {
                        let (a, m) = (u32::from_be_bytes(pf.addr.0), u32::from_be_bytes(pf.mask.0));
                        match m {
                            0 => None,
                            u32::MAX => Some((a, 0)),
                            0xffff_fffe => Some((a & m, 1)),
                            _ => Some(((a & m) | 1, !m - 2)),
                        }
                    })
                };
                let (a, v) = parsed.ok_or_else(|| pattern_error("source address"))?;
                p.saddr = a;
                p.variation = v;
                p.sequential = seq;
                p.same_first = same;
            }
        }
        if napt {
            let w = &words[1];
            if w != "-" {
                if let Some(n) = w.parse::<u32>().ok().filter(|&n| n > 0 && n < 65536) {
                    p.sport = n as u16;
                } else {
                    let (body, seq, same) = strip_suffix_flags(w);
                    let (a, b) = body.split_once('-').ok_or_else(|| pattern_error("source port"))?;
                    let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else {
                        return Err(pattern_error("source port"));
                    };
                    if b < a || b >= 65536 {
                        return Err(pattern_error("source port"));
                    }
                    p.sport = a as u16;
                    p.variation = b - a;
                    p.sequential = seq;
                    p.same_first = same;
                }
            }
        }
        let dw = &words[if napt { 2 } else { 1 }];
        if dw != "-" {
            p.daddr = address(dw, names).ok_or_else(|| pattern_error("destination address"))?;
        }
        if napt {
            let w = &words[3];
            if w != "-" {
                p.dport = w
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0 && n < 65536)
                    .ok_or_else(|| pattern_error("destination port"))? as u16;
            }
        }
        Ok(p)
    }

    /// Click's text for the pattern (`1.0.0.1 1024-65535 - -`).
    pub fn unparse(&self) -> String {
        let addr = |a: u32| format!("{}", Ipv4Addr(a.to_be_bytes()));
        let mut s = if !self.napt && self.variation > 0 {
            format!("{}-{}", addr(self.saddr), addr(self.saddr + self.variation))
        } else if self.saddr != 0 {
            addr(self.saddr)
        } else {
            String::from("-")
        };
        if self.napt {
            if self.sport == 0 {
                s.push_str(" -");
            } else if self.variation > 0 {
                s.push_str(&format!(" {}-{}", self.sport, u32::from(self.sport) + self.variation));
            } else {
                s.push_str(&format!(" {}", self.sport));
            }
        }
        s.push(' ');
        s.push_str(&if self.daddr != 0 { addr(self.daddr) } else { String::from("-") });
        if self.napt {
            s.push_str(&if self.dport == 0 { String::from(" -") } else { format!(" {}", self.dport) });
        }
        s
    }

    /// The rewritten flow for `flow`, avoiding flows whose reply is already mapped
    /// (`taken`); `None` when the range is exhausted.
    pub fn rewrite(&mut self, flow: &Flow, taken: &dyn Fn(&Flow) -> bool) -> Option<Flow> {
        let out = self.fixed(flow);
        if self.variation == 0 {
            return Some(out);
        }
        if let Some(own) = self.own_variation(flow).map(|v| self.vary(&out, v))
            && !taken(&own)
        {
            return Some(own);
        }
        let mut v = self.next_variation();
        for _ in 0..=self.variation.min(1 << 20) {
            let cand = self.vary(&out, v);
            if !taken(&cand) {
                self.next = v + 1;
                return Some(cand);
            }
            v = if v == self.variation { 0 } else { v + 1 };
        }
        None
    }

    /// The flow [`Pattern::rewrite`] tries first for `flow`, and so its answer
    /// unless that flow's reply is mapped already: a NAT making many mappings
    /// loads the reply's table line ahead with it.
    pub fn first_candidate(&self, flow: &Flow) -> Flow {
        let out = self.fixed(flow);
        if self.variation == 0 {
            return out;
        }
        self.vary(&out, self.own_variation(flow).unwrap_or_else(|| self.next_variation()))
    }

    /// `flow` with the pattern's fixed fields in place.
    #[inline]
    fn fixed(&self, flow: &Flow) -> Flow {
        let mut out = *flow;
        if self.saddr != 0 {
            out.saddr = self.saddr;
        }
        if self.napt && self.sport != 0 {
            out.sport = self.sport;
        }
        if self.daddr != 0 {
            out.daddr = self.daddr;
        }
        if self.napt && self.dport != 0 {
            out.dport = self.dport;
        }
        out
    }

    /// `out` with the varying field (source port, or address without ports) at
    /// the start of its range plus `v`.
    #[inline]
    fn vary(&self, out: &Flow, v: u32) -> Flow {
        let mut f = *out;
        if self.napt {
            f.sport = (u32::from(self.sport) + v) as u16;
        } else {
            f.saddr = self.saddr + v;
        }
        f
    }

    /// With `SAME_FIRST`, the variation that keeps `flow`'s own port (or
    /// address), if the range has it.
    #[inline]
    fn own_variation(&self, flow: &Flow) -> Option<u32> {
        if !self.same_first {
            return None;
        }
        let (own, base) =
            if self.napt { (u32::from(flow.sport), u32::from(self.sport)) } else { (flow.saddr, self.saddr) };
        own.checked_sub(base).filter(|&v| v <= self.variation)
    }

    /// Where the search for a free variation starts: after the last one handed out.
    #[inline]
    fn next_variation(&self) -> u32 {
        if self.next > self.variation { 0 } else { self.next }
    }
}

/// What an input does with a packet that has no mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputSpec {
    Drop,
    Pass(usize),
    Keep {
        forward: usize,
        reply: usize,
    },
    Pattern {
        pattern: Pattern,
        forward: usize,
        reply: usize,
    },
    /// A RoundRobinIPMapper's patterns, taken in turn for new flows.
    Mapper {
        patterns: Vec<(Pattern, usize, usize)>,
        next: usize,
    },
}

/// The named patterns of IPRewriterPatterns configurations (`NAME SADDR SPORT
/// DADDR DPORT, ...`).
pub fn named_patterns<'a>(
    configs: impl Iterator<Item = &'a str>,
    names: &AddressNames,
) -> Result<Vec<(String, Pattern)>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for config in configs {
        for arg in split_args(config) {
            let words = split_spacevec(&arg);
            match words.split_first() {
                Some((name, rest)) => match Pattern::parse(rest, names) {
                    Ok(p) => out.push((name.clone(), p)),
                    Err(e) => errors.push(format!("pattern {name}: {e}")),
                },
                None => errors.push(String::from("empty pattern")),
            }
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

impl InputSpec {
    /// A mapper's patterns: `PATTERN FOUTPUT ROUTPUT, ...` (its configuration).
    pub fn mapper(config: &str, names: &AddressNames, named: &[(String, Pattern)]) -> Result<InputSpec, String> {
        let mut patterns = Vec::new();
        for arg in split_args(config) {
            match InputSpec::parse(&format!("pattern {arg}"), names, named)? {
                InputSpec::Pattern { pattern, forward, reply } => patterns.push((pattern, forward, reply)),
                _ => return Err(String::from("bad mapper pattern")),
            }
        }
        if patterns.is_empty() {
            return Err(String::from("mapper has no patterns"));
        }
        Ok(InputSpec::Mapper { patterns, next: 0 })
    }

    pub fn parse(text: &str, names: &AddressNames, named: &[(String, Pattern)]) -> Result<InputSpec, String> {
        let words = split_spacevec(text);
        let Some(first) = words.first() else { return Err(String::from("empty input spec")) };
        let port = |w: &String, what: &str| w.parse::<usize>().map_err(|_| format!("bad {what} port"));
        match first.as_str() {
            "drop" | "discard" if words.len() == 1 => Ok(InputSpec::Drop),
            "pass" | "passthrough" if words.len() == 2 => Ok(InputSpec::Pass(port(&words[1], "pass")?)),
            "keep" if words.len() == 3 => {
                Ok(InputSpec::Keep { forward: port(&words[1], "forward")?, reply: port(&words[2], "reply")? })
            }
            "pattern" if words.len() == 4 => match named.iter().find(|(n, _)| *n == words[1]) {
                Some((_, p)) => Ok(InputSpec::Pattern {
                    pattern: p.clone(),
                    forward: port(&words[2], "forward")?,
                    reply: port(&words[3], "reply")?,
                }),
                None => Err(format!("no such pattern '{}'", words[1])),
            },
            "pattern" if words.len() == 5 || words.len() == 7 => {
                let n = words.len();
                let pattern = Pattern::parse(&words[1..n - 2], names)?;
                Ok(InputSpec::Pattern {
                    pattern,
                    forward: port(&words[n - 2], "forward")?,
                    reply: port(&words[n - 1], "reply")?,
                })
            }
            w if words.len() == 1 && w.parse::<usize>().is_ok() => Ok(InputSpec::Pass(port(first, "pass")?)),
            _ => Err(String::from("bad input spec")),
        }
    }
}

/// One direction of a mapping.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub to: Flow,
    pub output: u32,
    pub last_used: u64,
    pub created: u64,
    pub reply: bool,
    /// Either direction of the mapping has sequence-number shifts (in
    /// [`FlowTable::shifts`]): the common case looks no further.
    pub shifted: bool,
}

impl Entry {
    /// The key of the other direction's entry, for the entry keyed `key`: the
    /// flow this one is rewritten to, reversed (it is not stored: at a million
    /// mappings every byte of an entry is cache missed once per packet).
    pub fn partner(&self, key: &(u8, Flow)) -> (u8, Flow) {
        (key.0, self.to.reverse())
    }
}

/// Sequence numbers `a` is at or after `b`, modulo 2^32 (RFC 793's SEQ_GEQ).
fn seq_geq(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) as i32 >= 0
}

/// How far back a shift still matters: a sequence number this far past a
/// step's start is never again one from before it (Click's 1 GB).
const SHIFT_HORIZON: u32 = 1 << 30;

/// Steps kept per direction; an older one folds into the base shift.
const MAX_SHIFT_STEPS: usize = 4;

/// The sequence-number shifts of one direction of a TCP mapping. An element
/// that changed a segment's length (FTPPortMapper rewriting a PORT command)
/// asks that the bytes after it be numbered `delta` further on; its peer's
/// acknowledgements are shifted back by the same amount. Each step says: from
/// sequence number `start` on (in the sender's numbering), add `delta`;
/// before the oldest, add `base`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqShift {
    base: i32,
    steps: [(u32, i32); MAX_SHIFT_STEPS],
    len: usize,
}

impl SeqShift {
    fn kept(&self) -> &[(u32, i32)] {
        &self.steps[..self.len]
    }

    /// The shift of the newest bytes.
    fn latest(&self) -> i32 {
        self.kept().last().map_or(self.base, |s| s.1)
    }

    fn drop_oldest(&mut self) {
        if self.len > 0 {
            self.base = self.steps[0].1;
            self.steps.copy_within(1..self.len, 0);
            self.len -= 1;
        }
    }

    /// From sequence number `start` on, shift `change` more. Steps come in
    /// sequence order; false for one before the newest (it is not taken).
    pub fn add(&mut self, start: u32, change: i32) -> bool {
        let latest = self.latest();
        match self.kept().last() {
            Some(&(last, _)) if !seq_geq(start, last) => return false,
            Some(&(last, _)) if last == start => {
                self.steps[self.len - 1].1 = latest.wrapping_add(change);
                return true;
            }
            _ => {}
        }
        while self.len > 0
            && (self.len == MAX_SHIFT_STEPS || seq_geq(start, self.steps[0].0.wrapping_add(SHIFT_HORIZON)))
        {
            self.drop_oldest();
        }
        self.steps[self.len] = (start, latest.wrapping_add(change));
        self.len += 1;
        true
    }

    /// `seq` of a segment the sender numbered so, as the receiver expects it.
    pub fn seq(&self, seq: u32) -> u32 {
        let d = self.kept().iter().rev().find(|s| seq_geq(seq, s.0)).map_or(self.base, |s| s.1);
        seq.wrapping_add(d as u32)
    }

    /// An acknowledgement of bytes shifted by `self`, in their sender's numbering.
    pub fn ack(&self, ack: u32) -> u32 {
        let d =
            self.kept().iter().rev().find(|s| seq_geq(ack.wrapping_sub(s.1 as u32), s.0)).map_or(self.base, |s| s.1);
        ack.wrapping_sub(d as u32)
    }

    /// The sender is at `seq`: steps it has left far behind fold into the base.
    fn advance(&mut self, seq: u32) {
        while self.len > 0 && seq_geq(seq, self.steps[self.len - 1].0.wrapping_add(SHIFT_HORIZON)) {
            self.drop_oldest();
        }
    }
}

/// Mappings in both directions, keyed by (protocol, flow as it arrives).
#[derive(Default)]
pub struct FlowTable {
    pub map: FlowMap,
    /// Sequence-number shifts, by the key of the direction whose bytes they
    /// shift. Only for mappings whose entries are `shifted`.
    pub shifts: HashMap<(u8, Flow), SeqShift>,
    /// Most mapping pairs held.
    pub capacity: usize,
    pub timeout: u64,
    pub guarantee: u64,
    pub failures: u64,
    /// Mapping pairs made, ever.
    pub made: u64,
    /// Where a full table's next eviction starts looking (a slot).
    evict_from: usize,
}

/// Slots a full table's eviction looks at for its victim in one go, and how
/// many such windows (taken in turn round the table) it tries before the new
/// mapping fails: the least recently used mapping past its guarantee in a
/// window goes. A small table is looked at whole, so it evicts exactly the
/// least recently used; a big one pays a bounded cost per new flow, never a
/// pass over a million mappings (which a flood of new flows would otherwise
/// buy for every packet).
const EVICT_WINDOW: usize = 32;
const EVICT_WINDOWS: usize = 8;

impl FlowTable {
    pub fn new(capacity: usize, timeout: u64, guarantee: u64) -> FlowTable {
        FlowTable {
            map: FlowMap::new(),
            shifts: HashMap::new(),
            capacity,
            timeout,
            guarantee,
            failures: 0,
            made: 0,
            evict_from: 0,
        }
    }

    /// Size the table for `capacity` mappings now, if it is empty; an error if
    /// there is not that much memory.
    pub fn reserve_capacity(&mut self) -> Result<(), String> {
        if self.map.is_empty() {
            let entries = self.capacity.saturating_mul(2);
            self.map = FlowMap::with_capacity(entries).ok_or_else(|| {
                format!(
                    "CAPACITY {}: no memory for its table ({} MB)",
                    self.capacity,
                    FlowMap::bytes_for(entries) >> 20
                )
            })?;
        }
        Ok(())
    }

    /// The most memory the table can take: `capacity` mappings, two entries
    /// each, and with `shifts`, sequence shifts for both directions of each.
    pub fn worst_case_bytes(&self, shifts: bool) -> usize {
        let entries = self.capacity.saturating_mul(2);
        let table = FlowMap::bytes_for(entries);
        if shifts {
            table.saturating_add(oxclick_runtime::hash_table_bytes(
                entries,
                core::mem::size_of::<((u8, Flow), SeqShift)>(),
            ))
        } else {
            table
        }
    }

    /// From sequence number `start` on, the bytes of the mapping direction
    /// keyed `key` are numbered `change` further on (and its peer's
    /// acknowledgements translated back). False if there is no such mapping
    /// or `start` is before an earlier shift's.
    pub fn shift_seq(&mut self, key: (u8, Flow), start: u32, change: i32) -> bool {
        let Some(partner) = self.map.get(&key).map(|e| e.partner(&key)) else { return false };
        if !self.shifts.entry(key).or_default().add(start, change) {
            return false;
        }
        for k in [key, partner] {
            if let Some(e) = self.map.get_mut(&k) {
                e.shifted = true;
            }
        }
        true
    }

    /// Shift TCP segment `ip` (IP header onwards) of the mapping direction
    /// keyed `key`, whose entry is `shifted`: its sequence number by its own
    /// direction's shifts, its acknowledgement and SACK edges back by its
    /// peer's. Checksum updated incrementally. Short or odd segments are left alone.
    pub fn apply_shifts(&mut self, key: &(u8, Flow), ip: &mut [u8]) {
        let Some(partner) = self.map.get(key).map(|e| e.partner(key)) else { return };
        let Some(at) = crate::wire::tcp_in_ipv4(ip) else { return };
        let Some(t) = ip.get_mut(at.tcp..at.end) else { return };
        let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
        let ack = u32::from_be_bytes([t[8], t[9], t[10], t[11]]);
        let own = self.shifts.get_mut(key).map(|s| {
            s.advance(seq);
            *s
        });
        let peer = self.shifts.get(&partner).copied();
        let mut sum = u16::from_be_bytes([t[16], t[17]]);
        let set = |t: &mut [u8], at: usize, new: u32, sum: &mut u16| {
            let old = u32::from_be_bytes([t[at], t[at + 1], t[at + 2], t[at + 3]]);
            *sum = apply_change(*sum, word_change(old, new));
            t[at..at + 4].copy_from_slice(&new.to_be_bytes());
        };
        if let Some(own) = own {
            set(t, 4, own.seq(seq), &mut sum);
        }
        if let Some(peer) = peer {
            set(t, 8, peer.ack(ack), &mut sum);
            // SACK blocks name the peer's bytes too.
            let hl = usize::from(t[12] >> 4) * 4;
            let mut at = 20;
            while at < hl {
                match t[at] {
                    0 => break,
                    1 => at += 1,
                    kind => {
                        let Some(&len) = t.get(at + 1) else { break };
                        let len = usize::from(len);
                        if len < 2 || at + len > hl {
                            break;
                        }
                        if kind == 5 && (len - 2) % 8 == 0 {
                            for edge in (at + 2..at + len).step_by(4) {
                                let v = u32::from_be_bytes([t[edge], t[edge + 1], t[edge + 2], t[edge + 3]]);
                                set(t, edge, peer.ack(v), &mut sum);
                            }
                        }
                        at += len;
                    }
                }
            }
        }
        t[16..18].copy_from_slice(&sum.to_be_bytes());
    }

    pub fn pairs(&self) -> usize {
        self.map.len() / 2
    }

    /// When the mapping pair of the entry keyed `key` was last used, in either
    /// direction (a one-way flow uses only one of its entries, and keeps both).
    fn pair_last_used(&self, key: &FlowKey, e: &Entry) -> u64 {
        self.map.get(&e.partner(key)).map_or(e.last_used, |p| p.last_used.max(e.last_used))
    }

    /// Remove the entry keyed `key` and its partner, with their shifts.
    fn remove_pair(&mut self, key: &FlowKey, e: &Entry) {
        for k in [*key, e.partner(key)] {
            self.map.remove(&k);
            if !self.shifts.is_empty() {
                self.shifts.remove(&k);
            }
        }
    }

    /// Forget the mapping pairs idle in both directions longer than the timeout,
    /// among the entries in the `count` slots from slot `from` on: a reap sweeps
    /// a big table a slice at a time. Returns the slot to go on from.
    pub fn expire_slots(&mut self, now: u64, from: usize, count: usize) -> usize {
        let timeout = self.timeout;
        let idle = |used: u64| now.saturating_sub(used) >= timeout;
        let mut candidates = Vec::new();
        self.map.for_each_in(from, count, |k, e| {
            if idle(e.last_used) {
                candidates.push(*k);
            }
        });
        for k in candidates {
            // Gone already if it was the partner of an earlier candidate.
            let Some(e) = self.map.get(&k).copied() else { continue };
            if idle(self.pair_last_used(&k, &e)) {
                self.remove_pair(&k, &e);
            }
        }
        from.wrapping_add(count)
    }

    /// Forget every mapping pair idle in both directions longer than the timeout.
    pub fn expire(&mut self, now: u64) {
        self.expire_slots(now, 0, self.map.slot_count());
    }

    /// Make room in a full table: remove the least recently used mapping pair
    /// past its guarantee in the first window of slots (see [`EVICT_WINDOW`])
    /// that has one. False if none of the windows tried has one.
    fn evict(&mut self, now: u64) -> bool {
        let slots = self.map.slot_count();
        for _ in 0..EVICT_WINDOWS.min(slots.div_ceil(EVICT_WINDOW)) {
            let from = self.evict_from;
            self.evict_from = from.wrapping_add(EVICT_WINDOW) & slots.wrapping_sub(1);
            let mut victim: Option<(FlowKey, Entry, u64)> = None;
            self.map.for_each_in(from, EVICT_WINDOW, |k, e| {
                if now.saturating_sub(e.created) >= self.guarantee {
                    let used = self.pair_last_used(k, e);
                    if victim.is_none_or(|(_, _, oldest)| used < oldest) {
                        victim = Some((*k, *e, used));
                    }
                }
            });
            if let Some((k, e, _)) = victim {
                self.remove_pair(&k, &e);
                return true;
            }
        }
        false
    }

    /// Add a mapping pair; false (counted) when the table is full and no
    /// mapping can make room (see `FlowTable::evict`).
    pub fn insert(&mut self, proto: u8, from: Flow, to: Flow, forward: usize, reply: usize, now: u64) -> bool {
        // Idle mappings go on the reap timer; a full table evicts one, and
        // never passes over the whole table for a new flow.
        if self.pairs() >= self.capacity && !self.evict(now) {
            self.failures += 1;
            return false;
        }
        let fk = (proto, from);
        let rk = (proto, to.reverse());
        let entry = |to, output: usize, reply| Entry {
            to,
            output: output as u32,
            last_used: now,
            created: now,
            reply,
            shifted: false,
        };
        // A key reused by a new mapping starts unshifted. (Most tables never
        // have a shift: then there is nothing to hash and look for.)
        if !self.shifts.is_empty() {
            self.shifts.remove(&fk);
            self.shifts.remove(&rk);
        }
        // Both entries or neither: room first (a table that cannot grow for
        // want of memory refuses the mapping as a full one does).
        if !self.map.make_room(2) {
            self.failures += 1;
            return false;
        }
        self.map.insert(fk, entry(to, forward, false));
        self.map.insert(rk, entry(from.reverse(), reply, true));
        self.made += 1;
        true
    }
}

/// Rewrite the IP packet `ip` (IP header onwards) from flow `from` to flow `to`,
/// updating the IP and (if present) TCP/UDP checksums incrementally. Ports are
/// written only when `ports` (and the transport header is there).
// Always inlined: IPRewriter's per-packet path is most of what calls it, and
// the call's own cost was a tenth of the function's.
#[inline(always)]
pub fn rewrite_packet(ip: &mut [u8], from: &Flow, to: &Flow, ports: bool) {
    if ip.len() < 20 {
        return;
    }
    // RFC 1624 once for both checksums: the change of the address words (all
    // the IP header's checksum covers) and of the port words (which the
    // transport checksum covers besides, through its pseudo-header).
    let addresses = word_change(from.saddr, to.saddr) + word_change(from.daddr, to.daddr);
    let ports_too = if ports {
        addresses + u32::from(!from.sport) + u32::from(to.sport) + u32::from(!from.dport) + u32::from(to.dport)
    } else {
        addresses
    };
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let sum = u16::from_be_bytes([ip[10], ip[11]]);
    ip[10..12].copy_from_slice(&apply_change(sum, addresses).to_be_bytes());
    ip[12..16].copy_from_slice(&to.saddr.to_be_bytes());
    ip[16..20].copy_from_slice(&to.daddr.to_be_bytes());
    let proto = ip[9];
    let first = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
    if !first || hl < 20 {
        return;
    }
    let Some(t) = ip.get_mut(hl..) else { return };
    let (at, min) = match proto {
        6 => (16, 18),
        17 => (6, 8),
        _ => return,
    };
    if t.len() >= min {
        let old = u16::from_be_bytes([t[at], t[at + 1]]);
        // A zero UDP checksum means "none" and stays so.
        if !(proto == 17 && old == 0) {
            let mut new = apply_change(old, ports_too);
            if proto == 17 && new == 0 {
                new = 0xffff;
            }
            t[at..at + 2].copy_from_slice(&new.to_be_bytes());
        }
    }
    if ports && t.len() >= 4 {
        t[0..2].copy_from_slice(&to.sport.to_be_bytes());
        t[2..4].copy_from_slice(&to.dport.to_be_bytes());
    }
}

/// The RFC 1624 change (the old 16-bit words complemented plus the new ones,
/// unfolded) of a 32-bit field going from `old` to `new`.
#[inline]
fn word_change(old: u32, new: u32) -> u32 {
    u32::from(!(old >> 16) as u16) + u32::from(!old as u16) + (new >> 16) + (new & 0xffff)
}

/// Checksum field value `sum` after words whose RFC 1624 change (the sum of the
/// old words complemented and the new ones, unfolded) is `change`.
#[inline]
fn apply_change(sum: u16, change: u32) -> u16 {
    let mut acc = u32::from(!sum) + change;
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::ip_checksum;
    use crate::wire::{set_checksums, transport_checksum};

    fn w(s: &str) -> Vec<String> {
        split_spacevec(s)
    }

    /// Flow `i` from a client and what a NAT rewrites it to.
    fn nat_flow(i: u32) -> (Flow, Flow) {
        let from = Flow { saddr: 0x0a00_0000 + i, sport: 1000, daddr: 0x0909_0909, dport: 80 };
        (from, Flow { saddr: 0x0100_0001, sport: 1024 + i as u16, ..from })
    }

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_mapping_used_in_one_direction_only_stays() {
        // TIMEOUT 10 s. Flow 0 only ever sends (its reply entry is never used):
        // its mapping stays while it does. Flow 1 sends once, then goes quiet.
        let mut t = FlowTable::new(16, 10 * SECOND, 0);
        for i in 0..2 {
            let (from, to) = nat_flow(i);
            assert!(t.insert(17, from, to, 0, 1, 0));
        }
        let (from0, to0) = nat_flow(0);
        for at in [6, 12, 18] {
            t.map.get_mut(&(17, from0)).expect("mapped").last_used = at * SECOND;
            t.expire(at * SECOND + SECOND);
        }
        assert!(t.map.contains_key(&(17, from0)) && t.map.contains_key(&(17, to0.reverse())));
        let (from1, to1) = nat_flow(1);
        assert!(!t.map.contains_key(&(17, from1)) && !t.map.contains_key(&(17, to1.reverse())));
        assert_eq!(t.pairs(), 1);
        // Idle in both directions at last: gone, both entries.
        t.expire(29 * SECOND);
        assert_eq!(t.map.len(), 0);
    }

    #[test]
    fn a_reap_in_slices_covers_the_whole_table() {
        let mut t = FlowTable::new(1000, 10 * SECOND, 0);
        for i in 0..1000 {
            let (from, to) = nat_flow(i);
            assert!(t.insert(17, from, to, 0, 1, if i % 2 == 0 { 0 } else { 20 * SECOND }));
        }
        let slots = t.map.slot_count();
        let mut from = 0;
        while from < slots {
            from = t.expire_slots(25 * SECOND, from, 64);
        }
        // The 500 made at 0 s went, the 500 made at 20 s stayed.
        assert_eq!(t.pairs(), 500);
        assert!((0..1000).all(|i| t.map.contains_key(&(17, nat_flow(i).0)) == (i % 2 == 1)));
    }

    #[test]
    fn a_full_table_looks_for_a_victim_a_bounded_way() {
        // 2,000 pairs, all but one inside their guarantee (made at 10 s, GUARANTEE
        // 5 s, now 12 s); the one made at 0 s is the only mapping that may go.
        let mut t = FlowTable::new(2000, 300 * SECOND, 5 * SECOND);
        for i in 0..2000 {
            let (from, to) = nat_flow(i);
            assert!(t.insert(17, from, to, 0, 1, if i == 1234 { 0 } else { 10 * SECOND }));
        }
        let slots = t.map.slot_count();
        let old = nat_flow(1234).0;
        // Where the old pair's two entries sit depends on the table's random
        // hash seed: start the search just past one of them, where the first
        // new flow's windows cannot reach either (they are 256 slots of 4,096).
        let old_pair = [(17, old), (17, nat_flow(1234).1.reverse())];
        let at: Vec<usize> = (0..slots)
            .filter(|&i| {
                let mut here = false;
                t.map.for_each_in(i, 1, |k, _| here = old_pair.contains(k));
                here
            })
            .collect();
        assert_eq!(at.len(), 2);
        let reach = EVICT_WINDOW * EVICT_WINDOWS;
        let clear_of = |start: usize| at.iter().all(|&s| s.wrapping_sub(start) % slots >= reach);
        t.evict_from = at.iter().map(|&s| (s + 1) % slots).find(|&start| clear_of(start)).expect("a clear start");
        let mut tries = 0;
        // Each new flow looks at 8 windows of 32 slots, the next ones round the
        // table: refused while the old mapping lies elsewhere, let in (in its
        // place) once the windows reach it.
        let mut next = 5000;
        while t.map.contains_key(&(17, old)) {
            let (from, to) = nat_flow(next);
            let made = t.insert(17, from, to, 0, 1, 12 * SECOND);
            assert_eq!(made, !t.map.contains_key(&(17, old)), "try {tries}");
            next += 1;
            tries += 1;
            assert!(tries <= slots.div_ceil(EVICT_WINDOW * EVICT_WINDOWS), "never found it");
        }
        assert!(tries > 1, "a table this big is not searched whole for one flow");
        assert_eq!(t.failures, tries as u64 - 1);
        assert_eq!(t.pairs(), 2000);
    }

    #[test]
    fn patterns_parse_and_print_as_clicks_do() {
        for ok in ["1.0.0.1 1 - -", "1.0.0.1 1-65535 - -", "1.0.0.1 - - -", "- - 2.0.0.1 80"] {
            assert_eq!(Pattern::parse(&w(ok), &AddressNames::default()).unwrap().unparse(), ok);
        }
        let names = AddressNames::default();
        assert_eq!(Pattern::parse(&w("1.0.0.1 1024-65535# - -"), &names).unwrap().unparse(), "1.0.0.1 1024-65535 - -");
        for (bad, why) in [
            ("1.0.0.1 1x - -", "bad source port"),
            ("1.0.0.0 456-19 - -", "bad source port"),
            ("1.0.0.0 456-65536 - -", "bad source port"),
            ("x 1 - -", "bad source address"),
        ] {
            assert_eq!(Pattern::parse(&w(bad), &names).unwrap_err(), why);
        }
    }

    #[test]
    fn sequential_ports_skip_taken_ones() {
        let mut p = Pattern::parse(&w("1.0.0.1 1024-1026# - -"), &AddressNames::default()).unwrap();
        let f = Flow { saddr: 1, sport: 30, daddr: 2, dport: 40 };
        let taken = |c: &Flow| c.sport == 1025;
        assert_eq!(p.rewrite(&f, &taken).unwrap().sport, 1024);
        assert_eq!(p.rewrite(&f, &taken).unwrap().sport, 1026);
        assert_eq!(p.rewrite(&f, &|_| true), None);
    }

    #[test]
    fn the_first_candidate_is_what_a_free_rewrite_gives() {
        // What a NAT prefetches for a new mapping is the mapping it makes when
        // nothing is in the way: same-first or sequential ports, or addresses.
        let names = AddressNames::default();
        for pattern in ["1.0.0.1 1024-65535 - -", "1.0.0.1 1024-1100# - -", "1.0.0.1 5000 - -", "- - 2.0.0.9 80"] {
            let mut p = Pattern::parse(&w(pattern), &names).unwrap();
            for i in 0..300u32 {
                let f = Flow { saddr: 0x0a00_0000 + i, sport: 1000 + (i * 7 % 200) as u16, daddr: 2, dport: 40 };
                let expected = p.first_candidate(&f);
                assert_eq!(p.rewrite(&f, &|_| false), Some(expected), "{pattern}, flow {i}");
            }
        }
        // An address rewriter's pattern, as IPAddrRewriter makes it.
        let mut p = Pattern::parse(&w("1.0.0.1-1.0.0.50 - - -"), &names).unwrap();
        (p.napt, p.sport, p.dport) = (false, 0, 0);
        for i in 0..100u32 {
            let f = Flow { saddr: 0x0a00_0000 + i, sport: 0, daddr: 2, dport: 0 };
            let expected = p.first_candidate(&f);
            assert_eq!(p.rewrite(&f, &|_| false), Some(expected), "addresses, flow {i}");
        }
    }

    #[test]
    fn incremental_checksums_match_recomputed_ones() {
        let mut ip =
            alloc::vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 30, 0, 40, 0, 8, 0, 0];
        set_checksums(&mut ip);
        let from = Flow { saddr: 0x0a00_0001, sport: 30, daddr: 0x0a00_0002, dport: 40 };
        let to = Flow { saddr: 0x0100_0001, sport: 1024, daddr: 0x0a00_0002, dport: 40 };
        rewrite_packet(&mut ip, &from, &to, true);
        assert_eq!(ip_checksum(&ip[..20]), 0);
        assert_eq!(transport_checksum([1, 0, 0, 1], [10, 0, 0, 2], 17, &ip[20..]), 0);
        assert_eq!(&ip[20..24], &[4, 0, 0, 40]);
    }

    #[test]
    fn incremental_checksums_stay_right_for_any_rewrite() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..3000 {
            let proto = if i % 2 == 0 { 6 } else { 17 };
            let ports = i % 3 != 0;
            let f = |r: u64| Flow {
                saddr: r as u32,
                sport: (r >> 32) as u16,
                daddr: (r >> 13) as u32,
                dport: (r >> 48) as u16,
            };
            let (from, mut to) = (f(next()), f(next()));
            if !ports {
                (to.sport, to.dport) = (from.sport, from.dport);
            }
            let tlen = if proto == 6 { 20 } else { 8 };
            let mut ip = alloc::vec![0u8; 20 + tlen + 7];
            ip[0] = 0x45;
            let total = ip.len() as u16;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[8] = 64;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&from.saddr.to_be_bytes());
            ip[16..20].copy_from_slice(&from.daddr.to_be_bytes());
            ip[20..22].copy_from_slice(&from.sport.to_be_bytes());
            ip[22..24].copy_from_slice(&from.dport.to_be_bytes());
            if proto == 6 {
                ip[32] = 5 << 4;
            }
            for b in &mut ip[20 + tlen..] {
                *b = next() as u8;
            }
            set_checksums(&mut ip);
            rewrite_packet(&mut ip, &from, &to, ports);
            assert_eq!(ip_checksum(&ip[..20]), 0, "case {i}");
            let (s, d) = (to.saddr.to_be_bytes(), to.daddr.to_be_bytes());
            assert_eq!(transport_checksum(s, d, proto, &ip[20..]), 0, "case {i}: {from:?} -> {to:?}");
        }
    }

    #[test]
    fn sequence_shifts_apply_from_their_start_and_wrap() {
        let mut s = SeqShift::default();
        assert!(s.add(1000, 2));
        assert_eq!((s.seq(999), s.seq(1000), s.seq(5000)), (999, 1002, 5002));
        // The peer acknowledges in shifted numbers; the sender sees its own.
        assert_eq!((s.ack(1001), s.ack(1002), s.ack(1010)), (1001, 1000, 1008));
        // A second shift adds to the first from its own start on; one before
        // it is refused; one at the same start adds to it.
        assert!(s.add(2000, -5));
        assert!(!s.add(1500, 1));
        assert_eq!((s.seq(1999), s.seq(2000)), (2001, 1997));
        assert!(s.add(2000, 1));
        assert_eq!(s.seq(2000), 1998);
        // Across the wrap of the sequence space.
        let mut w = SeqShift::default();
        assert!(w.add(u32::MAX - 1, 3));
        assert_eq!((w.seq(u32::MAX - 2), w.seq(u32::MAX), w.seq(5)), (u32::MAX - 2, 2, 8));
        assert_eq!(w.ack(8), 5);
    }

    #[test]
    fn old_sequence_shifts_fold_into_the_base() {
        let mut s = SeqShift::default();
        for k in 0..10u32 {
            assert!(s.add(1000 + k * 100, 1));
        }
        // Ten steps, four kept: the newest ones exact, older bytes get the
        // shift of the oldest kept step.
        assert_eq!(s.seq(1950), 1960);
        assert_eq!(s.seq(1650), 1657);
        // A sender a gigabyte on leaves no steps behind; the total stays.
        s.advance(1900 + SHIFT_HORIZON);
        assert_eq!(s.len, 0);
        assert_eq!(s.seq(7), 17);
    }
}
