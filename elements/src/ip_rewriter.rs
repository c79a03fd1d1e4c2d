//! IPRewriter, TCPRewriter, UDPRewriter, IPAddrRewriter — network address (and
//! port) translation.
//!
//! `IPRewriter(INPUTSPEC_0, ..., INPUTSPEC_N-1 [, KEYWORDS])`
//!
//! N push inputs, any number of push outputs. Each input has a spec saying what to
//! do with a TCP or UDP packet that belongs to no known flow:
//!
//! - `pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT`: make a mapping. The flow
//!   is rewritten to the pattern (`-` keeps a field; SADDR may be a range `A-B` or
//!   a prefix, SPORT a range `L-H` to pick a free port from, with `#` for
//!   sequential picks and `?` for no preference for the flow's own port), sent to
//!   FOUTPUT; packets of the reply flow are rewritten back and sent to ROUTPUT.
//!   Addresses may be AddressInfo names.
//! - `pattern NAME FOUTPUT ROUTPUT`: the same with a pattern named in an
//!   IPRewriterPatterns element.
//! - `keep FOUTPUT ROUTPUT`: the same with no rewriting (only the bookkeeping).
//! - `drop` or `discard`: drop it. `pass N` (or `N`): send it on unchanged.
//! - `MAPPER`, the name of a RoundRobinIPMapper: its patterns, one per new flow
//!   in turn (each rewriter keeps its own turn).
//!
//! Packets of known flows, arriving on any input, are rewritten by their mapping
//! and sent to its output. Checksums are updated incrementally (RFC 1624); a zero
//! UDP checksum stays zero. Keywords: `CAPACITY` (mapping pairs, default 65536;
//! when full, the least recently used mapping older than `GUARANTEE` (default
//! 5 s) makes room, looked for in windows of 32 slots taken in turn round the
//! table, at most eight of them (the whole table when it is small), so a flood
//! of new flows costs a bounded amount each; failing that, the new flow's
//! packet is dropped and counted in `mapping_failures`: the table never grows
//! past CAPACITY), `TIMEOUT` (time a mapping goes unused in both directions
//! before it goes, default 300 s; every slot is swept once every
//! `REAP_INTERVAL`, default 15 s, a slice at a time). Packets
//! without an IP header annotation, of other protocols, or later fragments of
//! unknown flows are dropped. TCPRewriter takes only TCP; UDPRewriter takes UDP
//! and TCP, like IPRewriter.
//!
//! TCPRewriter also shifts sequence numbers when asked: an element that changed
//! a segment's length (FTPPortMapper, rewriting a PORT command) tells it from
//! which sequence number on the connection's bytes are numbered differently,
//! and from then on it adds the shift to that direction's sequence numbers and
//! takes it off the other direction's acknowledgements and SACK blocks, with
//! checksums updated incrementally. Shifts are kept per mapping (the newest
//! four per direction; once a sender is 1 GB past one, it folds into the total).
//!
//! `IPAddrRewriter(INPUTSPEC_0, ...)` rewrites addresses only: patterns have the
//! form `pattern SADDR DADDR FOUTPUT ROUTPUT` (a 4-word `SADDR SPORT DADDR DPORT`
//! form is accepted, its ports ignored), flows are keyed by source address, and
//! replies are recognized by destination address. Any IP protocol.
//!
//! `IPAddrPairRewriter(INPUTSPEC_0, ...)` is the same but keys flows by source and
//! destination address together, so each address pair gets its own mapping.
//!
//! Handlers: `table` / `mappings` (the mappings, one per line), `nmappings`,
//! `mapping_failures`, `patterns` (each input's pattern, as Click prints them),
//! `capacity`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{Interval, Ipv4Addr, split_args};
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, MAX_BATCH, Packet, finish_args, route_batch};

use crate::flow_map::FlowKey;
use crate::rewriter::{Flow, FlowTable, InputSpec, named_patterns, rewrite_packet};
use crate::wire::{IP_PROTO_TCP, IP_PROTO_UDP};

/// The classes this file implements (what an IPRewriter-like element is), in
/// `Kind`'s order.
pub const CLASSES: [&str; 5] = ["IPRewriter", "TCPRewriter", "UDPRewriter", "IPAddrRewriter", "IPAddrPairRewriter"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ip,
    Tcp,
    Udp,
    Addr,
    AddrPair,
}

/// The table key of the reply mapping for rewritten flow `to`: the reverse
/// flow, or for an address rewriter the address alone, as a destination.
#[inline]
fn reply_key(kind: Kind, proto: u8, to: &Flow) -> FlowKey {
    let k = if kind == Kind::Addr { Flow { daddr: to.saddr, ..Flow::default() } } else { to.reverse() };
    (proto, k)
}

/// Slots one run of the reap timer sweeps. A big table is swept a slice at a
/// time over the reap interval, so packets never wait behind a whole sweep: at
/// a million flows (4M slots, 256 MB) one took about 0.2 s, longer than a
/// short REAP_INTERVAL, so the router did nothing but sweep.
const REAP_SLOTS: usize = 16_384;

/// Mappings beyond which a batch prefetches its lookups: a smaller table stays
/// in the cache, and the prefetches would be wasted work.
const PREFETCH_ABOVE: usize = 16_384;

pub struct IPRewriter {
    kind: Kind,
    specs: Vec<InputSpec>,
    table: FlowTable,
    drops: u64,
    /// How often idle mappings are swept out.
    reap_interval: u64,
    /// Whether a good share of the last batch (of a table big enough to
    /// prefetch for) made mappings.
    making: bool,
    /// Whether the reap timer is set: the task's first run, as the router
    /// starts, only sets it.
    reaping: bool,
    /// The slot the next reap run sweeps from.
    reap_from: usize,
}

impl IPRewriter {
    pub fn ip() -> Self {
        IPRewriter::new(Kind::Ip)
    }
    pub fn tcp() -> Self {
        IPRewriter::new(Kind::Tcp)
    }
    pub fn udp() -> Self {
        IPRewriter::new(Kind::Udp)
    }
    pub fn addr() -> Self {
        IPRewriter::new(Kind::Addr)
    }
    pub fn addr_pair() -> Self {
        IPRewriter::new(Kind::AddrPair)
    }
    fn addresses_only(&self) -> bool {
        matches!(self.kind, Kind::Addr | Kind::AddrPair)
    }
    fn new(kind: Kind) -> Self {
        IPRewriter {
            kind,
            specs: Vec::new(),
            table: FlowTable::new(65_536, 300_000_000_000, 5_000_000_000),
            drops: 0,
            reap_interval: 15_000_000_000,
            making: false,
            reaping: false,
            reap_from: 0,
        }
    }

    fn takes(&self, proto: u8) -> bool {
        match self.kind {
            Kind::Ip | Kind::Udp => proto == IP_PROTO_TCP || proto == IP_PROTO_UDP,
            Kind::Tcp => proto == IP_PROTO_TCP,
            Kind::Addr | Kind::AddrPair => true,
        }
    }

    /// The packet's flow and protocol (ports zero for address-only rewriting or
    /// later fragments), if it is one this element handles.
    fn flow_of(&self, ip: &[u8]) -> Option<(u8, Flow, bool)> {
        if ip.len() < 20 || !self.takes(ip[9]) {
            return None;
        }
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let saddr = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]);
        let daddr = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]);
        if self.addresses_only() {
            return Some((0, Flow { saddr, sport: 0, daddr, dport: 0 }, false));
        }
        let first = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
        let ports = ip.get(hl..hl + 4).filter(|_| first && hl >= 20)?;
        let sport = u16::from_be_bytes([ports[0], ports[1]]);
        let dport = u16::from_be_bytes([ports[2], ports[3]]);
        Some((ip[9], Flow { saddr, sport, daddr, dport }, true))
    }

    /// The keys a mapping of `flow` may be under, in the order to look: address
    /// rewriters by source address, then by destination; the others by the flow
    /// alone (repeated in the second slot, which their lookups skip).
    #[inline]
    fn lookup_keys(&self, proto: u8, flow: Flow) -> [(u8, Flow); 2] {
        if self.kind == Kind::Addr {
            [(0, Flow { saddr: flow.saddr, ..Flow::default() }), (0, Flow { daddr: flow.daddr, ..Flow::default() })]
        } else {
            [(proto, flow), (proto, flow)]
        }
    }

    /// Packet `p`'s protocol and flow, for a prefetch.
    #[inline]
    fn flow_of_packet(&self, p: &Packet) -> Option<(u8, Flow)> {
        let ip = p.data().get(p.anno.network_header?..)?;
        let (proto, flow, _) = self.flow_of(ip)?;
        Some((proto, flow))
    }

    /// The key of the reply mapping a new mapping of `flow` arriving on `port`
    /// most likely gets (its pattern's first candidate), for a prefetch: making
    /// a mapping looks that key up, a miss of its own otherwise.
    #[inline]
    fn likely_reply_key(&self, port: usize, proto: u8, flow: &Flow) -> Option<FlowKey> {
        let InputSpec::Pattern { pattern, .. } = self.specs.get(port)? else { return None };
        Some(reply_key(self.kind, proto, &pattern.first_candidate(flow)))
    }

    /// Where packet `p`, arriving on `port`, goes (rewritten in place), if
    /// anywhere. `hint` is the hash of its first lookup key, if known.
    fn process(&mut self, port: usize, p: &mut Packet, now: u64, hint: Option<u64>) -> Option<usize> {
        let nh = p.anno.network_header?;
        let (proto, flow, ports) = {
            let ip = p.data().get(nh..)?;
            self.flow_of(ip)?
        };
        // The known flow inline, a new one out of line.
        let route = match self.known(proto, flow, now, hint) {
            Some(r) => r,
            None => self.unknown(port, proto, flow, now)?,
        };
        match route {
            Route::Pass(out) => Some(out),
            Route::Rewrite { target, out, key, shifted } => {
                if let Some(ip) = p.data_mut().get_mut(nh..) {
                    rewrite_packet(ip, &flow, &target, ports);
                    if shifted {
                        self.table.apply_shifts(&key, ip);
                    }
                }
                p.anno.dst_ip = target.daddr.to_be_bytes();
                Some(out)
            }
        }
    }

    /// What becomes of a packet of `flow` arriving on input `port`: its known
    /// mapping, a new one made by the input's spec, a pass, or (None) a drop.
    fn route(&mut self, port: usize, proto: u8, flow: Flow, now: u64) -> Option<Route> {
        match self.known(proto, flow, now, None) {
            Some(r) => Some(r),
            None => self.unknown(port, proto, flow, now),
        }
    }

    /// The mapping of a known flow (the per-packet case, kept apart from making
    /// new ones so that it stays small enough to inline).
    #[inline(always)]
    fn known(&mut self, proto: u8, flow: Flow, now: u64, hint: Option<u64>) -> Option<Route> {
        let [first, second] = self.lookup_keys(proto, flow);
        let found = match hint {
            Some(hash) => self.table.map.get_mut_hashed(hash, &first),
            None => self.table.map.get_mut(&first),
        };
        // Only address rewriters have a second key to try (the others' second
        // key is the first again).
        let (key, e) = match found {
            Some(e) => (first, e),
            None if self.kind == Kind::Addr => (second, self.table.map.get_mut(&second)?),
            None => return None,
        };
        e.last_used = now;
        let target = if self.kind == Kind::Addr {
            if e.reply { Flow { daddr: e.to.daddr, ..flow } } else { Flow { saddr: e.to.saddr, ..flow } }
        } else {
            e.to
        };
        Some(Route::Rewrite { target, out: e.output as usize, key, shifted: e.shifted })
    }

    /// What becomes of a packet of a flow with no mapping: a new mapping made by
    /// input `port`'s spec, a pass, or (None) a drop.
    #[inline(never)]
    fn unknown(&mut self, port: usize, proto: u8, flow: Flow, now: u64) -> Option<Route> {
        let spec = self.specs.get_mut(port)?;
        let (to, forward, reply) = match spec {
            InputSpec::Drop => return None,
            InputSpec::Pass(o) => return Some(Route::Pass(*o)),
            InputSpec::Keep { forward, reply } => (flow, *forward, *reply),
            InputSpec::Pattern { .. } | InputSpec::Mapper { .. } => {
                let table = &self.table;
                let kind = self.kind;
                let taken = |cand: &Flow| table.map.contains_key(&reply_key(kind, proto, cand));
                let (pattern, forward, reply) = match spec {
                    InputSpec::Pattern { pattern, forward, reply } => (pattern, *forward, *reply),
                    InputSpec::Mapper { patterns, next } => {
                        let k = *next % patterns.len();
                        *next = next.wrapping_add(1);
                        let (p, f, r) = &mut patterns[k];
                        (p, *f, *r)
                    }
                    _ => return None,
                };
                match pattern.rewrite(&flow, &taken) {
                    Some(t) => (t, forward, reply),
                    None => {
                        self.table.failures += 1;
                        return None;
                    }
                }
            }
        };
        let (from_key, to_key) = if self.kind == Kind::Addr {
            (Flow { saddr: flow.saddr, ..Flow::default() }, Flow { saddr: to.saddr, ..Flow::default() })
        } else {
            (flow, to)
        };
        let key_proto = if self.kind == Kind::Addr { 0 } else { proto };
        if !self.table.insert(key_proto, from_key, to_key, forward, reply, now) {
            return None;
        }
        let target = if self.kind == Kind::Addr { Flow { saddr: to.saddr, ..flow } } else { to };
        Some(Route::Rewrite { target, out: forward, key: (key_proto, from_key), shifted: false })
    }

    /// The mapping of TCP or UDP `flow` as if a packet of it had arrived on
    /// `input`: the known one, or one the input's spec makes now. Its rewritten
    /// flow, or None when the spec passes or drops such packets or the table is
    /// full. (FTPPortMapper makes the data connection's mapping so.)
    pub fn mapping_for(&mut self, input: usize, proto: u8, flow: Flow, now: u64) -> Option<Flow> {
        if !self.takes(proto) || self.addresses_only() {
            return None;
        }
        match self.route(input, proto, flow, now)? {
            Route::Rewrite { target, .. } => Some(target),
            Route::Pass(_) => None,
        }
    }

    /// Whether a mapping for packets of TCP/UDP `flow` (as they arrive) exists.
    pub fn has_mapping(&self, proto: u8, flow: &Flow) -> bool {
        !self.addresses_only() && self.table.map.contains_key(&(proto, *flow))
    }

    /// TCPRewriter: from sequence number `start` on, number the bytes of TCP
    /// `flow` (as its packets arrive) `change` further on, and translate the
    /// peer's acknowledgements back. False without such a mapping, when this
    /// is not a TCPRewriter, or for a `start` before an earlier shift's.
    pub fn shift_seq(&mut self, flow: &Flow, start: u32, change: i32) -> bool {
        self.kind == Kind::Tcp && self.table.shift_seq((IP_PROTO_TCP, *flow), start, change)
    }

    /// How many inputs (input specs) it has.
    pub fn input_specs(&self) -> usize {
        self.specs.len()
    }
}

/// What [`IPRewriter::route`] decided.
enum Route {
    /// Send on unchanged, to this output.
    Pass(usize),
    /// Rewrite to `target` and send to `out`; `key` is the mapping entry it
    /// used, `shifted` whether that mapping has sequence-number shifts.
    Rewrite { target: Flow, out: usize, key: (u8, Flow), shifted: bool },
}

impl Element for IPRewriter {
    fn class_name(&self) -> &'static str {
        CLASSES[self.kind as usize]
    }
    /// The flow table holds at most CAPACITY mappings (two entries each).
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Bounded { bytes: self.table.worst_case_bytes(self.kind == Kind::Tcp) }
    }
    fn port_count(&self) -> &'static str {
        "1-/1-"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut specs = Vec::new();
        let mut keywords = Vec::new();
        let mut errors = Vec::new();
        // Named patterns come from the router's IPRewriterPatterns elements (their
        // own configure reports errors in them).
        let named = named_patterns(cx.configs_of("IPRewriterPatterns"), cx.names).unwrap_or_default();
        for arg in split_args(config) {
            let first = arg.split_whitespace().next().unwrap_or("");
            if first.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !first.is_empty() {
                keywords.push(arg);
                continue;
            }
            let words: Vec<&str> = arg.split_whitespace().collect();
            let mapper = match words.as_slice() {
                [name] => cx.element(name).filter(|(c, _)| *c == "RoundRobinIPMapper").map(|(_, cfg)| cfg),
                _ => None,
            };
            let parsed = if let Some(cfg) = mapper {
                InputSpec::mapper(cfg, cx.names, &named)
            } else if self.addresses_only() {
                // Address patterns: `pattern SADDR DADDR F R` or the 4-address form.
                let words: Vec<&str> = arg.split_whitespace().collect();
                if words.first() == Some(&"pattern") && words.len() == 5 {
                    let spaced = format!("pattern {} - {} - {} {}", words[1], words[2], words[3], words[4]);
                    InputSpec::parse(&spaced, cx.names, &named)
                } else {
                    InputSpec::parse(&arg, cx.names, &named)
                }
            } else {
                InputSpec::parse(&arg, cx.names, &named)
            };
            match parsed {
                Ok(mut s) => {
                    if self.addresses_only()
                        && let InputSpec::Pattern { pattern, .. } = &mut s
                    {
                        pattern.napt = false;
                        pattern.sport = 0;
                        pattern.dport = 0;
                    }
                    specs.push(s);
                }
                Err(e) => errors.push(format!("input spec {}: {e}", specs.len() + errors.len())),
            }
        }
        let mut a = cx.args(&keywords.join(", "));
        let capacity: usize = a.read_or("CAPACITY", 65_536);
        let timeout: Option<Interval> = a.read("TIMEOUT");
        let guarantee: Option<Interval> = a.read("GUARANTEE");
        let reap: Option<Interval> = a.read("REAP_INTERVAL");
        if let Err(e) = finish_args(a) {
            errors.extend(e);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.specs = specs;
        self.reap_interval = reap.map_or(15_000_000_000, |r| r.nanos.max(1_000_000));
        self.table = FlowTable::new(
            capacity.max(1),
            timeout.map_or(300_000_000_000, |t| t.nanos.max(1)),
            guarantee.map_or(5_000_000_000, |t| t.nanos),
        );
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        // On a host, the table takes its full size now, so it never pauses to
        // grow (a big one is faulted in now too, on huge pages: the packet path
        // should not stop for page faults). A guest's memory is small and all of
        // it real: its table grows.
        #[cfg(feature = "std")]
        self.table.reserve_capacity()?;
        if self.specs.len() != cx.ninputs() {
            return Err(format!("need {} input specs, one per input, have {}", cx.ninputs(), self.specs.len()));
        }
        let n = cx.noutputs();
        for (i, s) in self.specs.iter().enumerate() {
            let outs: &[usize] = match s {
                InputSpec::Drop => &[],
                InputSpec::Pass(o) => core::slice::from_ref(o),
                InputSpec::Keep { forward, reply } | InputSpec::Pattern { forward, reply, .. } => &[*forward, *reply],
                InputSpec::Mapper { patterns, .. } => {
                    if let Some(o) = patterns.iter().flat_map(|(_, f, r)| [*f, *r]).find(|&o| o >= n) {
                        return Err(format!("input spec {i}: output {o} out of range (there are {n})"));
                    }
                    &[]
                }
            };
            if let Some(o) = outs.iter().find(|&&o| o >= n) {
                return Err(format!("input spec {i}: output {o} out of range (there are {n})"));
            }
        }
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    /// A timer task: sweep out mappings idle past TIMEOUT, each slot once every
    /// REAP_INTERVAL, `REAP_SLOTS` slots a run.
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let now = cx.now();
        // The first run comes as the router starts: it only sets the timer
        // (mappings a hot swap brought along are swept by the runs after).
        if self.reaping {
            self.reap_from = self.table.expire_slots(now, self.reap_from, REAP_SLOTS);
        }
        self.reaping = true;
        let runs = self.table.map.slot_count().div_ceil(REAP_SLOTS).max(1) as u64;
        cx.wake_at(now.saturating_add((self.reap_interval / runs).max(1)));
        cx.sleep();
        false
    }
    fn push(&mut self, port: usize, mut p: Packet, cx: &mut Ctx) {
        match self.process(port, &mut p, cx.now(), None) {
            Some(o) => cx.push(o, p),
            None => self.drops += 1,
        }
    }
    fn routes_batches(&self) -> bool {
        true
    }
    fn push_batch(&mut self, port: usize, batch: Batch, cx: &mut Ctx) {
        let now = cx.now();
        let mut drops = 0;
        if self.table.map.len() <= PREFETCH_ABOVE {
            route_batch(batch, cx, |p| {
                let out = self.process(port, p, now, None);
                drops += u64::from(out.is_none());
                out
            });
            self.drops += drops;
            return;
        }
        // With many flows every lookup misses the cache: hash the batch's keys
        // and start loading every packet's mapping before routing the first,
        // then look each up with the hash it was loaded by. Loading them a few
        // packets ahead instead left the first few of each batch waiting the
        // whole miss: at a million flows the whole batch up front took 0.81 s
        // where 8 ahead took 0.90 s. (route_batch routes the packets once each,
        // in order, so the k-th call is packet k.)
        // While a good share of the last batch made mappings, this one likely
        // does too: each new mapping's reply key is looked up, so its lines are
        // loaded ahead as well. (Not for a new flow now and then among known
        // ones: that would double every packet's loads for one packet's sake.)
        let making = self.making;
        let mut hashes = [None; MAX_BATCH];
        for (h, p) in hashes.iter_mut().zip(&batch) {
            let Some((proto, flow)) = self.flow_of_packet(p) else { continue };
            let hash = self.table.map.hash(&self.lookup_keys(proto, flow)[0]);
            self.table.map.prefetch(hash);
            *h = Some(hash);
            if making && let Some(reply) = self.likely_reply_key(port, proto, &flow) {
                self.table.map.prefetch(self.table.map.hash(&reply));
            }
        }
        let (before, n) = (self.table.made, batch.len() as u64);
        let mut k = 0;
        route_batch(batch, cx, |p| {
            let hint = hashes.get(k).copied().flatten();
            k += 1;
            let out = self.process(port, p, now, hint);
            drops += u64::from(out.is_none());
            out
        });
        self.drops += drops;
        self.making = (self.table.made - before) * 4 >= n.max(1);
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        let addr = |a: u32| Ipv4Addr(a.to_be_bytes());
        Some(match name {
            "table" | "mappings" => {
                let mut lines: Vec<String> = self
                    .table
                    .map
                    .iter()
                    .filter(|(_, e)| !e.reply)
                    .map(|((proto, f), e)| {
                        format!(
                            "({}, {}, {}, {}, {}) => ({}, {}, {}, {}) [{}]",
                            proto,
                            addr(f.saddr),
                            f.sport,
                            addr(f.daddr),
                            f.dport,
                            addr(e.to.saddr),
                            e.to.sport,
                            addr(e.to.daddr),
                            e.to.dport,
                            e.output
                        )
                    })
                    .collect();
                lines.sort();
                lines.iter().map(|l| format!("{l}\n")).collect()
            }
            "nmappings" => format!("{}", self.table.pairs()),
            "mapping_failures" => format!("{}", self.table.failures),
            "capacity" => format!("{}", self.table.capacity),
            "patterns" => self
                .specs
                .iter()
                .flat_map(|s| match s {
                    InputSpec::Pattern { pattern, .. } => alloc::vec![format!("{}\n", pattern.unparse())],
                    InputSpec::Mapper { patterns, .. } => {
                        patterns.iter().map(|(p, _, _)| format!("{}\n", p.unparse())).collect()
                    }
                    _ => Vec::new(),
                })
                .collect(),
            _ => return None,
        })
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["table", "mappings", "nmappings", "mapping_failures", "patterns", "capacity"]
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
    /// A hot swap keeps the mappings.
    fn take_state(&mut self, old: &mut dyn Element, _cx: &mut Ctx) {
        if let Some(o) = old.as_any_mut().and_then(|a| a.downcast_mut::<IPRewriter>())
            && o.kind == self.kind
        {
            self.table.map = core::mem::take(&mut o.table.map);
            self.table.shifts = core::mem::take(&mut o.table.shifts);
        }
    }
}
