//! TenantGuard — one consolidated tenant's door: counts what goes in and out and
//! stops what the tenant may not send.
//!
//! `TenantGuard(TRUST trust, ADDR addrs, FLOW flow, ..., ALLOW prefixes, PEERS n, PEER_TIMEOUT t)`
//!
//! `oxclick consolidate` puts one in front of every tenant of a merged router (it is
//! named after the tenant, so `alice.spoof_drops` is tenant `alice`'s). Two push
//! inputs and outputs (one each for a tenant that sends nothing). Input 0 -> output 0: Ethernet frames for the tenant, from
//! the demux; their IPv4 source addresses become the tenant's *peers*. Input 1 ->
//! output 1: frames the tenant emits, checked by In-Net's rules for its `TRUST`:
//!
//! - `operator`: everything passes (the operator's own processing is trusted).
//! - `client`: anti-spoofing. A frame leaves only if it is IPv4 and its source is
//!   one of the tenant's `ADDR`s, or a `FLOW` address with the flow's protocol and
//!   source port (MultiStack's transmit rule for 3-tuples), or a peer (the source
//!   of traffic the tenant received, so a firewall may pass packets on unchanged).
//! - `third-party` (the default): as `client`, and default-off: the destination
//!   must be the tenant's own, inside an `ALLOW` prefix (explicit authorization),
//!   or a peer (implicit authorization: replies to whoever sent to it).
//!
//! `ADDR` is a space-separated list of IPv4 addresses and may repeat; `FLOW` is
//! `ADDR PROTO PORT` (PROTO `tcp`, `udp` or a number) and may repeat; `ALLOW` is a
//! space-separated list of prefixes (`192.0.2.0/24`). `PEERS` (default 1024) bounds
//! the peer table; when it is full, the least recently seen half is forgotten.
//! Peers are forgotten `PEER_TIMEOUT` (default 300 s) after their last packet.
//!
//! Handlers: `in_packets`, `in_bytes`, `out_packets`, `out_bytes` (what passed
//! each way), `drops` (every frame stopped), `spoof_drops` (source not allowed),
//! `denied_drops` (destination not allowed), `peers` (read); `reset` (write). A hot
//! swap keeps the counts and the peers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashMap;
use oxclick_lang::args::{Ipv4Addr, Ipv4Prefix};
use oxclick_runtime::{
    Batch, ConfigCtx, ConfigErrors, Ctx, Element, LaneCtx, LaneElement, LaneMaker, Packet, State, finish_args,
};

use crate::wire::{FrameIpv4, frame_ipv4, parse_ip_proto};

/// How far a tenant is trusted (In-Net, section 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    Operator,
    Client,
    ThirdParty,
}

impl Trust {
    pub fn parse(s: &str) -> Option<Trust> {
        match s {
            "operator" => Some(Trust::Operator),
            "client" => Some(Trust::Client),
            "third-party" | "third_party" => Some(Trust::ThirdParty),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Trust::Operator => "operator",
            Trust::Client => "client",
            Trust::ThirdParty => "third-party",
        }
    }
}

/// A registered 3-tuple: the tenant sends from `addr` with `proto` and source `port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flow {
    addr: [u8; 4],
    proto: u8,
    port: u16,
}

/// Addresses a guard holds in itself; more go to `more_addrs`.
const INLINE_ADDRS: usize = 2;

/// The first cache line holds all that a packet touches when its tenant has at
/// most two addresses and hears from one peer at a time: at 10,000 tenants every
/// guard is out of the cache when its packet comes, so one line is one miss. The
/// tenant's *peers* (the sources of traffic it received) are the last one, kept
/// here, and the others in `peer_table`.
#[repr(C, align(64))]
pub struct TenantGuard {
    trust: Trust,
    /// How many of `addrs` are used.
    naddrs: u8,
    has_last_peer: bool,
    last_peer: [u8; 4],
    addrs: [[u8; 4]; INLINE_ADDRS],
    last_peer_seen: u64,
    peer_timeout: u64,
    in_packets: u64,
    in_bytes: u64,
    out_packets: u64,
    out_bytes: u64,
    // Past the first line.
    /// Addresses beyond the inline ones.
    more_addrs: Vec<[u8; 4]>,
    flows: Vec<Flow>,
    allow: Vec<Ipv4Prefix>,
    /// Most peers kept, `last_peer` included.
    peer_capacity: usize,
    /// The other peers (never `last_peer`) and when each last sent.
    peer_table: HashMap<[u8; 4], u64>,
    spoof_drops: u64,
    denied_drops: u64,
    other_drops: u64,
}

const _: () = assert!(core::mem::offset_of!(TenantGuard, more_addrs) <= 64, "the hot fields fit one cache line");

impl Default for TenantGuard {
    fn default() -> Self {
        TenantGuard {
            trust: Trust::ThirdParty,
            naddrs: 0,
            has_last_peer: false,
            last_peer: [0; 4],
            addrs: [[0; 4]; INLINE_ADDRS],
            last_peer_seen: 0,
            peer_timeout: 300_000_000_000,
            in_packets: 0,
            in_bytes: 0,
            out_packets: 0,
            out_bytes: 0,
            more_addrs: Vec::new(),
            flows: Vec::new(),
            allow: Vec::new(),
            peer_capacity: 1024,
            peer_table: HashMap::new(),
            spoof_drops: 0,
            denied_drops: 0,
            other_drops: 0,
        }
    }
}

/// Why a frame from the tenant may not leave.
enum Verdict {
    Pass,
    NotIp,
    Spoofed,
    Denied,
}

impl TenantGuard {
    fn add_addr(&mut self, a: [u8; 4]) {
        match self.addrs.get_mut(usize::from(self.naddrs)) {
            Some(slot) => {
                *slot = a;
                self.naddrs += 1;
            }
            None => self.more_addrs.push(a),
        }
    }

    /// Is `a` one of the tenant's `ADDR`s?
    fn addr(&self, a: [u8; 4]) -> bool {
        let inline = &self.addrs[..usize::from(self.naddrs).min(INLINE_ADDRS)];
        inline.contains(&a) || (usize::from(self.naddrs) == INLINE_ADDRS && self.more_addrs.contains(&a))
    }

    fn own(&self, a: [u8; 4]) -> bool {
        self.addr(a) || self.flows.iter().any(|f| f.addr == a)
    }

    /// Did `a` send to the tenant within the peer timeout?
    fn peer(&self, a: [u8; 4], now: u64) -> bool {
        let seen = if self.has_last_peer && self.last_peer == a {
            Some(self.last_peer_seen)
        } else {
            self.peer_table.get(&a).copied()
        };
        seen.is_some_and(|t| now.saturating_sub(t) <= self.peer_timeout)
    }

    fn peer_count(&self) -> usize {
        self.peer_table.len() + usize::from(self.has_last_peer)
    }

    /// Remember `a` as a peer seen at `now`.
    fn note_peer(&mut self, a: [u8; 4], now: u64) {
        if self.has_last_peer && self.last_peer == a {
            self.last_peer_seen = now;
        } else if self.peer_capacity > 0 {
            if self.has_last_peer {
                self.peer_table.remove(&a);
                self.keep_peer(self.last_peer, self.last_peer_seen);
            }
            (self.has_last_peer, self.last_peer, self.last_peer_seen) = (true, a, now);
        }
    }

    /// Put peer `a`, seen at `t`, in the table, making room when it is full (it
    /// holds `peer_capacity - 1` beside the last peer): expired peers go first,
    /// then the least recently seen half, so a flood of new sources costs O(1)
    /// per packet, amortized, and never grows the table.
    fn keep_peer(&mut self, a: [u8; 4], t: u64) {
        let room = self.peer_capacity.saturating_sub(1);
        if room == 0 {
            return;
        }
        if self.peer_table.len() >= room && !self.peer_table.contains_key(&a) {
            let timeout = self.peer_timeout;
            self.peer_table.retain(|_, seen| t.saturating_sub(*seen) <= timeout);
        }
        if self.peer_table.len() >= room && !self.peer_table.contains_key(&a) {
            let mut seen: Vec<u64> = self.peer_table.values().copied().collect();
            let mid = seen.len() / 2;
            let (_, &mut cutoff, _) = seen.select_nth_unstable(mid);
            self.peer_table.retain(|_, seen| *seen > cutoff);
        }
        self.peer_table.insert(a, t);
    }

    /// Every peer with when it last sent, most recent first.
    fn peers_by_recency(&self) -> Vec<([u8; 4], u64)> {
        let last = self.has_last_peer.then_some((self.last_peer, self.last_peer_seen));
        let mut all: Vec<([u8; 4], u64)> = self.peer_table.iter().map(|(a, t)| (*a, *t)).chain(last).collect();
        all.sort_unstable_by_key(|&(_, t)| core::cmp::Reverse(t));
        all
    }

    fn source_allowed(&self, h: &FrameIpv4, now: u64) -> bool {
        if self.addr(h.src) || self.peer(h.src, now) {
            return true;
        }
        // A registered flow's address may be used only with that flow's protocol
        // and source port; later fragments carry no port.
        self.flows.iter().any(|f| f.addr == h.src && f.proto == h.proto && h.src_port.is_none_or(|p| p == f.port))
    }

    fn destination_allowed(&self, h: &FrameIpv4, now: u64) -> bool {
        self.own(h.dst) || self.allow.iter().any(|p| in_prefix(p, h.dst)) || self.peer(h.dst, now)
    }

    fn verdict(&self, frame: &[u8], now: u64) -> Verdict {
        if self.trust == Trust::Operator {
            return Verdict::Pass;
        }
        let Some(h) = frame_ipv4(frame) else { return Verdict::NotIp };
        if !self.source_allowed(&h, now) {
            Verdict::Spoofed
        } else if self.trust == Trust::ThirdParty && !self.destination_allowed(&h, now) {
            Verdict::Denied
        } else {
            Verdict::Pass
        }
    }

    /// A frame for the tenant: counted, and its source remembered as a peer.
    fn take_inbound(&mut self, p: &Packet, now: u64) {
        self.in_packets += 1;
        self.in_bytes += p.len() as u64;
        if self.trust != Trust::Operator
            && let Some(h) = frame_ipv4(p.data())
        {
            self.note_peer(h.src, now);
        }
    }

    /// A frame from the tenant: whether it may leave, counted either way.
    fn pass_outbound(&mut self, p: &Packet, now: u64) -> bool {
        match self.verdict(p.data(), now) {
            Verdict::Pass => {
                self.out_packets += 1;
                self.out_bytes += p.len() as u64;
                return true;
            }
            Verdict::NotIp => self.other_drops += 1,
            Verdict::Spoofed => self.spoof_drops += 1,
            Verdict::Denied => self.denied_drops += 1,
        }
        false
    }

    fn push_inbound(&mut self, batch: Batch, cx: &mut Ctx) {
        let now = cx.now();
        for p in &batch {
            self.take_inbound(p, now);
        }
        cx.push_batch(0, batch);
    }

    fn push_outbound(&mut self, mut batch: Batch, cx: &mut Ctx) {
        let now = cx.now();
        // In place: the batch goes on with the frames that may leave.
        batch.retain(|p| self.pass_outbound(p, now));
        cx.push_batch(1, batch);
    }
}

/// Every tenant's guard as a lane of one group: a batch for many tenants goes in
/// (and, from tenants whose elements are lanes too, comes back out) in one call
/// each way.
impl LaneElement for TenantGuard {
    type Summary = ();
    fn push_lanes(lanes: &mut [TenantGuard], _: &(), port: usize, mut batch: Batch, cx: &mut LaneCtx) {
        let now = cx.now();
        if port == 0 {
            for p in &batch {
                if let Some(g) = lanes.get_mut(p.lane()) {
                    g.take_inbound(p, now);
                }
            }
            cx.push_batch(0, batch);
        } else {
            batch.retain(|p| lanes.get_mut(p.lane()).is_some_and(|g| g.pass_outbound(p, now)));
            cx.push_batch(1, batch);
        }
    }
}

fn in_prefix(p: &Ipv4Prefix, a: [u8; 4]) -> bool {
    let mask = u32::from_be_bytes(p.mask.0);
    u32::from_be_bytes(a) & mask == u32::from_be_bytes(p.addr.0) & mask
}

fn parse_flow(s: &str) -> Result<Flow, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let [addr, proto, port] = words.as_slice() else {
        return Err(format!("FLOW '{s}': expected 'ADDR PROTO PORT'"));
    };
    let addr = addr.parse::<core::net::Ipv4Addr>().map_err(|_| format!("FLOW '{s}': bad address"))?;
    let proto = parse_ip_proto(proto).ok_or_else(|| format!("FLOW '{s}': bad protocol"))?;
    let port = port.parse::<u16>().map_err(|_| format!("FLOW '{s}': bad port"))?;
    Ok(Flow { addr: addr.octets(), proto, port })
}

impl Element for TenantGuard {
    fn class_name(&self) -> &'static str {
        "TenantGuard"
    }
    /// The peer table is bounded by `PEERS`.
    fn state(&self) -> State {
        State::Bounded {
            bytes: oxclick_runtime::hash_table_bytes(self.peer_capacity, core::mem::size_of::<([u8; 4], u64)>()),
        }
    }
    /// A tenant that sends nothing has a guard with one input and one output.
    fn port_count(&self) -> &'static str {
        "1-2/1-2"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn port_flow(&self, input: usize, output: usize) -> bool {
        input == output
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let trust: Option<String> = a.read("TRUST");
        let addrs: Vec<String> = a.read_all("ADDR");
        let flows: Vec<String> = a.read_all("FLOW");
        let allow: Vec<String> = a.read_all("ALLOW");
        let peers: Option<usize> = a.read("PEERS");
        let timeout: Option<oxclick_lang::args::Interval> = a.read("PEER_TIMEOUT");
        finish_args(a)?;
        let mut errors = Vec::new();
        *self = TenantGuard::default();
        if let Some(t) = trust {
            match Trust::parse(&t) {
                Some(t) => self.trust = t,
                None => errors.push(format!("TRUST '{t}': expected operator, client or third-party")),
            }
        }
        for w in addrs.iter().flat_map(|s| s.split_whitespace()) {
            match <Ipv4Addr as oxclick_lang::args::ArgType>::parse_arg(w) {
                Ok(Ipv4Addr(a)) => self.add_addr(a),
                Err(_) => errors.push(format!("ADDR '{w}': expected an IPv4 address")),
            }
        }
        for f in &flows {
            match parse_flow(f) {
                Ok(f) => self.flows.push(f),
                Err(e) => errors.push(e),
            }
        }
        for w in allow.iter().flat_map(|s| s.split_whitespace()) {
            match <Ipv4Prefix as oxclick_lang::args::ArgType>::parse_arg(w) {
                Ok(p) => self.allow.push(p),
                Err(_) => errors.push(format!("ALLOW '{w}': expected an IPv4 prefix")),
            }
        }
        if let Some(n) = peers {
            self.peer_capacity = n;
        }
        if let Some(t) = timeout {
            self.peer_timeout = t.nanos;
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
    /// One packet, as a demux sends when tenants interleave: the batch path's
    /// work without a batch.
    fn push(&mut self, port: usize, p: Packet, cx: &mut Ctx) {
        if let Some((out, p)) = self.push_tail(port, p, cx) {
            cx.push(out, p);
        }
    }
    /// The work of `push`, with the packet handed back to go on once the guard
    /// is back in its slot: the tenant's answer to a packet the guard let in
    /// then reaches the guard by a plain call, not through the router's
    /// re-entry queue.
    fn push_tail(&mut self, port: usize, p: Packet, cx: &mut Ctx) -> Option<(usize, Packet)> {
        let now = cx.now();
        if port == 0 {
            self.take_inbound(&p, now);
            return Some((0, p));
        }
        self.pass_outbound(&p, now).then_some((1, p))
    }
    fn tail_pushes(&self) -> bool {
        true
    }
    fn push_batch(&mut self, port: usize, batch: Batch, cx: &mut Ctx) {
        if port == 0 { self.push_inbound(batch, cx) } else { self.push_outbound(batch, cx) }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        let v = match name {
            "in_packets" => self.in_packets,
            "in_bytes" => self.in_bytes,
            "out_packets" => self.out_packets,
            "out_bytes" => self.out_bytes,
            "drops" => self.spoof_drops + self.denied_drops + self.other_drops,
            "spoof_drops" => self.spoof_drops,
            "denied_drops" => self.denied_drops,
            "peers" => self.peer_count() as u64,
            "trust" => return Some(String::from(self.trust.name())),
            _ => return None,
        };
        Some(format!("{v}"))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &[
            "in_packets",
            "in_bytes",
            "out_packets",
            "out_bytes",
            "drops",
            "spoof_drops",
            "denied_drops",
            "peers",
            "trust",
            "reset",
        ]
    }
    fn write_handler(&mut self, name: &str, _value: &str) -> Option<Result<(), String>> {
        (name == "reset").then(|| {
            self.in_packets = 0;
            self.in_bytes = 0;
            self.out_packets = 0;
            self.out_bytes = 0;
            self.spoof_drops = 0;
            self.denied_drops = 0;
            self.other_drops = 0;
            Ok(())
        })
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
    /// The guards of a consolidated router's tenants run as lanes of one group.
    fn lane_maker(&self) -> Option<LaneMaker> {
        Some(LaneMaker::of::<TenantGuard>())
    }
    /// A hot swap keeps the counts and the peers (as many as the new table holds).
    fn take_state(&mut self, old: &mut dyn Element, _cx: &mut Ctx) {
        let Some(o) = old.as_any_mut().and_then(|a| a.downcast_mut::<TenantGuard>()) else { return };
        self.in_packets = o.in_packets;
        self.in_bytes = o.in_bytes;
        self.out_packets = o.out_packets;
        self.out_bytes = o.out_bytes;
        self.spoof_drops = o.spoof_drops;
        self.denied_drops = o.denied_drops;
        self.other_drops = o.other_drops;
        // Oldest first, so the most recent ends up `last` and a smaller table keeps
        // the most recent.
        for (a, t) in o.peers_by_recency().into_iter().rev() {
            self.note_peer(a, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16) -> Vec<u8> {
        let mut f = alloc::vec![0u8; 14 + 20 + 8];
        f[12] = 0x08;
        f[14] = 0x45;
        f[14 + 9] = proto;
        f[14 + 12..14 + 16].copy_from_slice(&src);
        f[14 + 16..14 + 20].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f
    }

    fn guard(config: &str) -> TenantGuard {
        let names = oxclick_lang::args::AddressNames::default();
        let mut g = TenantGuard::default();
        g.configure(config, &ConfigCtx::with_names(&names)).expect("configures");
        g
    }

    fn passes(g: &TenantGuard, f: &[u8]) -> bool {
        matches!(g.verdict(f, 0), Verdict::Pass)
    }

    #[test]
    fn a_client_sends_from_its_own_address_or_a_peer_only() {
        let mut g = guard("TRUST client, ADDR 10.0.0.1 10.0.0.2, FLOW 10.0.1.1 udp 53");
        assert!(passes(&g, &frame([10, 0, 0, 2], [8, 8, 8, 8], 6, 1)));
        assert!(!passes(&g, &frame([10, 0, 0, 3], [8, 8, 8, 8], 6, 1)));
        assert!(passes(&g, &frame([10, 0, 1, 1], [8, 8, 8, 8], 17, 53)));
        assert!(!passes(&g, &frame([10, 0, 1, 1], [8, 8, 8, 8], 17, 54)), "wrong source port");
        assert!(!passes(&g, &frame([10, 0, 1, 1], [8, 8, 8, 8], 6, 53)), "wrong protocol");
        g.note_peer([192, 0, 2, 7], 0);
        assert!(passes(&g, &frame([192, 0, 2, 7], [8, 8, 8, 8], 6, 1)), "a firewall passes packets on unchanged");
        let mut arp = frame([10, 0, 0, 1], [8, 8, 8, 8], 6, 1);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!passes(&g, &arp));
        assert!(!passes(&g, &arp[..20]));
    }

    #[test]
    fn a_third_party_sends_only_where_it_is_authorized() {
        let mut g = guard("ADDR 10.0.0.1, ALLOW 198.51.100.0/24");
        assert!(passes(&g, &frame([10, 0, 0, 1], [198, 51, 100, 9], 17, 1)), "explicitly allowed");
        assert!(!passes(&g, &frame([10, 0, 0, 1], [8, 8, 8, 8], 17, 1)), "default off");
        g.note_peer([8, 8, 8, 8], 0);
        assert!(passes(&g, &frame([10, 0, 0, 1], [8, 8, 8, 8], 17, 1)), "a reply to a peer");
        assert!(!passes(&g, &frame([10, 0, 0, 1], [8, 8, 8, 8], 17, 1)[..30]), "truncated");
    }

    #[test]
    fn peers_expire_and_a_full_table_forgets_the_oldest_half() {
        let mut g = guard("ADDR 10.0.0.1, PEERS 8, PEER_TIMEOUT 1");
        g.note_peer([1, 1, 1, 1], 0);
        assert!(g.peer([1, 1, 1, 1], 1_000_000_000));
        assert!(!g.peer([1, 1, 1, 1], 1_000_000_001));
        for i in 0..100u8 {
            g.note_peer([2, 0, 0, i], u64::from(i));
            assert!(g.peer_count() <= 8);
        }
        assert!(g.peer([2, 0, 0, 99], 99), "the newest peer stays");
    }

    #[test]
    fn every_address_counts_beyond_those_held_inline() {
        let g = guard("TRUST client, ADDR 10.0.0.1 10.0.0.2, ADDR 10.0.0.3 10.0.0.4");
        for last in 1..=4 {
            assert!(passes(&g, &frame([10, 0, 0, last], [8, 8, 8, 8], 17, 1)), "10.0.0.{last}");
        }
        assert!(!passes(&g, &frame([10, 0, 0, 5], [8, 8, 8, 8], 17, 1)));
    }

    #[test]
    fn the_last_peer_and_the_table_together_hold_at_most_peers() {
        let mut g = guard("TRUST client, ADDR 10.0.0.1, PEERS 3");
        for (t, a) in [[1, 1, 1, 1], [2, 2, 2, 2], [1, 1, 1, 1], [3, 3, 3, 3]].into_iter().enumerate() {
            g.note_peer(a, t as u64);
        }
        assert_eq!(g.peer_count(), 3, "1.1.1.1 is counted once");
        g.note_peer([4, 4, 4, 4], 4);
        assert!(g.peer_count() <= 3);
        assert!(g.peer([4, 4, 4, 4], 4) && g.peer([3, 3, 3, 3], 4), "the newest stay");
    }

    #[test]
    fn an_operator_may_send_anything() {
        let g = guard("TRUST operator");
        assert!(passes(&g, &frame([6, 6, 6, 6], [7, 7, 7, 7], 1, 0)));
        assert!(passes(&g, &[1, 2, 3]));
    }
}
