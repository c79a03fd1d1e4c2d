//! ARPQuerier — puts Ethernet headers on IP packets, asking ARP for addresses.
//!
//! `ARPQuerier(IP, ETH [, KEYWORDS])` · `ARPQuerier(NAME [, KEYWORDS])`
//!
//! Two push inputs, one or two push outputs. Input 0 takes IP packets; each
//! leaves on output 0 with an Ethernet header from ETH to the Ethernet address of
//! its destination address annotation. Addresses come from an ARP table: an
//! unknown one is asked for with an ARP query (sent on output 1 if it exists,
//! else on output 0; at most one per 100 ms per address, slowing to one per 2 s
//! after 10 unanswered), and its packets wait in the table until ARP replies,
//! arriving on input 1, give the answer; then they leave in arrival order. IP may
//! be a prefix (`1.0.0.1/24`): packets to its broadcast address, to
//! 255.255.255.255 and to multicast groups need no query. Known entries are asked
//! again after `POLL_TIMEOUT` (60 s) and forgotten after `TIMEOUT` (300 s).
//!
//! Keywords: `CAPACITY` (packets waiting in all, default 2048; when exceeded, the
//! oldest entries' packets are dropped until half the capacity is left, as in
//! Click), `ENTRY_CAPACITY` (entries, 0: no limit), `ENTRY_PACKET_CAPACITY`
//! (packets waiting per entry, 0: no limit), `CAPACITY_SLIM_FACTOR` (default 2),
//! `TIMEOUT`, `POLL_TIMEOUT`, `BROADCAST` (the broadcast address), `BROADCAST_POLL`
//! (send re-queries to the broadcast address too).
//!
//! A hot swap keeps the table (and the packets waiting in it).
//!
//! Handlers: `table` (IP, whether known, Ethernet address, age in seconds),
//! `queries`, `responses`, `drops`, `count` (packets waiting), `insert IP ETH` and
//! `delete IP` (write).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashMap;
use oxclick_lang::args::{ArgType, EtherAddr, Interval, Ipv4Addr, Ipv4Prefix, split_args, split_spacevec};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

struct Entry {
    ip: [u8; 4],
    eth: [u8; 6],
    known: bool,
    live_at: u64,
    polled_at: Option<u64>,
    polls_since_reply: u32,
    waiting: VecDeque<Packet>,
    /// Insertion order, for "oldest first" (smaller is older).
    age: u64,
}

impl Entry {
    fn new(ip: [u8; 4], now: u64, age: u64) -> Entry {
        Entry {
            ip,
            eth: [0; 6],
            known: false,
            live_at: now,
            polled_at: None,
            polls_since_reply: 0,
            waiting: VecDeque::new(),
            age,
        }
    }
}

const MS: u64 = 1_000_000;

pub struct ARPQuerier {
    my_ip: [u8; 4],
    my_eth: [u8; 6],
    bcast: [u8; 4],
    capacity: usize,
    entry_capacity: usize,
    entry_packet_capacity: usize,
    slim_factor: usize,
    timeout: u64,
    poll_timeout: u64,
    broadcast_poll: bool,
    table: HashMap<[u8; 4], Entry>,
    next_age: u64,
    waiting: usize,
    queries: u64,
    responses: u64,
    drops: u64,
}

impl Default for ARPQuerier {
    fn default() -> Self {
        ARPQuerier {
            my_ip: [0; 4],
            my_eth: [0; 6],
            bcast: [255; 4],
            capacity: 2048,
            entry_capacity: 0,
            entry_packet_capacity: 0,
            slim_factor: 2,
            timeout: 300_000 * MS,
            poll_timeout: 60_000 * MS,
            broadcast_poll: false,
            table: HashMap::new(),
            next_age: 0,
            waiting: 0,
            queries: 0,
            responses: 0,
            drops: 0,
        }
    }
}

impl ARPQuerier {
    fn known(&self, e: &Entry, now: u64) -> bool {
        e.known && (self.timeout == 0 || now.saturating_sub(e.live_at) < self.timeout)
    }

    /// The entries from oldest to newest.
    fn by_age(&self) -> Vec<[u8; 4]> {
        let mut v: Vec<(u64, [u8; 4])> = self.table.values().map(|e| (e.age, e.ip)).collect();
        v.sort_unstable();
        v.into_iter().map(|(_, ip)| ip).collect()
    }

    /// Drop expired entries, entries beyond ENTRY_CAPACITY, and waiting packets
    /// beyond CAPACITY (Click's `ARPTable::slim`).
    fn slim(&mut self, now: u64) {
        for ip in self.by_age() {
            let expired =
                self.table.get(&ip).is_some_and(|e| self.timeout != 0 && now.saturating_sub(e.live_at) >= self.timeout);
            if !(expired || (self.entry_capacity != 0 && self.table.len() > self.entry_capacity)) {
                break;
            }
            if let Some(e) = self.table.remove(&ip) {
                self.waiting -= e.waiting.len();
                self.drops += e.waiting.len() as u64;
            }
        }
        if self.capacity != 0 && self.waiting > self.capacity {
            let target = (self.capacity - self.capacity / self.slim_factor).max(1);
            for ip in self.by_age() {
                if self.waiting <= target {
                    break;
                }
                let Some(e) = self.table.get_mut(&ip) else { continue };
                while self.waiting > target && e.waiting.pop_front().is_some() {
                    self.waiting -= 1;
                    self.drops += 1;
                }
            }
        }
    }

    /// The entry for `ip`, made (as the newest) if there is none.
    fn ensure(&mut self, ip: [u8; 4], now: u64) -> &mut Entry {
        if !self.table.contains_key(&ip) {
            self.table.insert(ip, Entry::new(ip, now, self.next_age));
            self.next_age += 1;
            if self.entry_capacity != 0 && self.table.len() > self.entry_capacity {
                // Drops the oldest entries; the new one is the newest, so it stays.
                self.slim(now);
            }
        }
        let age = self.next_age;
        self.table.entry(ip).or_insert_with(|| Entry::new(ip, now, age))
    }

    fn send_query(&mut self, target: [u8; 4], dst_eth: Option<[u8; 6]>, ts: u64, cx: &mut Ctx) {
        let mut q = [0u8; 42];
        let dst = match dst_eth {
            Some(e) if !self.broadcast_poll => e,
            _ => [0xff; 6],
        };
        q[0..6].copy_from_slice(&dst);
        q[6..12].copy_from_slice(&self.my_eth);
        q[12..14].copy_from_slice(&[0x08, 0x06]);
        q[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        q[22..28].copy_from_slice(&self.my_eth);
        q[28..32].copy_from_slice(&self.my_ip);
        q[38..42].copy_from_slice(&target);
        let mut p = cx.new_packet(&q);
        p.anno.timestamp = ts;
        self.queries += 1;
        let out = cx.noutputs().saturating_sub(1);
        cx.push(out, p);
    }

    /// Send `p` (its Ethernet header already pushed) to `dst`.
    fn emit(&self, mut p: Packet, dst: [u8; 6], cx: &mut Ctx) {
        let d = p.data_mut();
        d[0..6].copy_from_slice(&dst);
        d[6..12].copy_from_slice(&self.my_eth);
        d[12..14].copy_from_slice(&[0x08, 0x00]);
        cx.push(0, p);
    }

    fn handle_ip(&mut self, mut p: Packet, cx: &mut Ctx) {
        if self.my_ip == [0; 4] {
            self.drops += 1;
            return;
        }
        p.push(14);
        let dst_ip = p.anno.dst_ip;
        let now = cx.now();
        if let Some(e) = self.table.get(&dst_ip)
            && self.known(e, now)
        {
            let eth = e.eth;
            if now.saturating_sub(e.live_at) >= self.poll_timeout && self.poll_timeout != 0 {
                let ts = p.anno.timestamp;
                self.send_query(dst_ip, Some(eth), ts, cx);
            }
            self.emit(p, eth, cx);
            return;
        }
        if dst_ip == [255; 4] || dst_ip == self.bcast {
            self.emit(p, [0xff; 6], cx);
            return;
        }
        if (224..=239).contains(&dst_ip[0]) {
            let mac = [0x01, 0x00, 0x5e, dst_ip[1] & 0x7f, dst_ip[2], dst_ip[3]];
            self.emit(p, mac, cx);
            return;
        }
        if dst_ip == [0; 4] {
            self.drops += 1;
            return;
        }
        // Unknown: wait in the table, and query if allowed.
        let entry_cap = self.entry_packet_capacity;
        let e = self.ensure(dst_ip, now);
        if entry_cap != 0 && e.waiting.len() >= entry_cap {
            self.drops += 1;
            return;
        }
        self.waiting += 1;
        if self.capacity != 0 && self.waiting > self.capacity {
            self.slim(now);
        }
        let ts = p.anno.timestamp;
        let Some(e) = self.table.get_mut(&dst_ip) else {
            self.waiting -= 1;
            self.drops += 1;
            return;
        };
        e.waiting.push_back(p);
        let gap = if e.polls_since_reply >= 10 { 2000 * MS } else { 100 * MS };
        if e.polled_at.is_none_or(|t| now >= t.saturating_add(gap)) {
            e.polled_at = Some(now);
            e.polls_since_reply += 1;
            self.send_query(dst_ip, None, ts, cx);
        }
    }

    fn insert(&mut self, ip: [u8; 4], eth: [u8; 6], now: u64) -> VecDeque<Packet> {
        let e = self.ensure(ip, now);
        e.eth = eth;
        e.known = eth != [0xff; 6];
        e.live_at = now;
        e.polls_since_reply = 0;
        e.polled_at = None;
        let waiting = core::mem::take(&mut e.waiting);
        let age = self.next_age;
        self.next_age += 1;
        if let Some(e) = self.table.get_mut(&ip) {
            e.age = age;
        }
        self.waiting -= waiting.len();
        waiting
    }

    fn handle_response(&mut self, p: Packet, cx: &mut Ctx) {
        let d = p.data();
        if d.len() < 42 {
            return;
        }
        self.responses += 1;
        let is_reply = d[12..14] == [8, 6] && d[14..16] == [0, 1] && d[16..18] == [8, 0] && d[20..22] == [0, 2];
        let sha = [d[22], d[23], d[24], d[25], d[26], d[27]];
        if !is_reply || sha[0] & 1 != 0 {
            return;
        }
        let spa = [d[28], d[29], d[30], d[31]];
        let now = cx.now();
        for q in self.insert(spa, sha, now) {
            self.emit(q, sha, cx);
        }
    }
}

impl Element for ARPQuerier {
    fn class_name(&self) -> &'static str {
        "ARPQuerier"
    }
    /// Bounded only when both the entries (ENTRY_CAPACITY) and the packets waiting
    /// for answers (CAPACITY) are.
    fn state(&self) -> oxclick_runtime::State {
        if self.entry_capacity == 0 || self.capacity == 0 {
            return oxclick_runtime::State::Unbounded;
        }
        let entries = oxclick_runtime::hash_table_bytes(self.entry_capacity, core::mem::size_of::<([u8; 4], Entry)>());
        let packets = self.capacity.saturating_mul(oxclick_runtime::STORED_PACKET_BYTES);
        oxclick_runtime::State::Bounded { bytes: entries.saturating_add(packets) }
    }
    fn port_count(&self) -> &'static str {
        "2/1-2"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn port_flow(&self, input: usize, output: usize) -> bool {
        input == 0 || output == 0
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut args = split_args(config);
        // `ARPQuerier(NAME)`: the name gives both addresses.
        let positional = args.iter().filter(|a| !a.trim_start().starts_with(|c: char| c.is_ascii_uppercase())).count();
        if positional == 1
            && let Some(k) = args.iter().position(|a| !a.trim_start().starts_with(|c: char| c.is_ascii_uppercase()))
        {
            let dup = args[k].clone();
            args.insert(k + 1, dup);
        }
        let mut a = cx.args(&args.join(", "));
        let ip = a.read_mp::<Ipv4Prefix>("IP");
        let eth = a.read_mp::<EtherAddr>("ETH");
        self.capacity = a.read_or("CAPACITY", 2048);
        self.entry_capacity = a.read_or("ENTRY_CAPACITY", 0);
        self.entry_packet_capacity = a.read_or("ENTRY_PACKET_CAPACITY", 0);
        self.slim_factor = a.read_or("CAPACITY_SLIM_FACTOR", 2);
        let timeout: Option<Interval> = a.read("TIMEOUT");
        let poll: Option<Interval> = a.read("POLL_TIMEOUT");
        let bcast: Option<Ipv4Addr> = a.read("BROADCAST");
        self.broadcast_poll = a.read_or("BROADCAST_POLL", false);
        let _table: Option<oxclick_lang::args::Word> = a.read("TABLE");
        finish_args(a)?;
        if self.slim_factor == 0 {
            return Err(alloc::vec![String::from("CAPACITY_SLIM_FACTOR cannot be zero")]);
        }
        if let Some(t) = timeout {
            self.timeout = t.nanos;
        }
        if let Some(t) = poll {
            self.poll_timeout = t.nanos;
        }
        let ip = ip.unwrap_or_default();
        self.my_ip = ip.addr.0;
        self.my_eth = eth.map_or([0; 6], |e| e.0);
        self.bcast = match bcast {
            Some(b) => b.0,
            None => {
                let b = (u32::from_be_bytes(ip.addr.0) | !u32::from_be_bytes(ip.mask.0)).to_be_bytes();
                if b == self.my_ip { [255; 4] } else { b }
            }
        };
        Ok(())
    }
    fn push(&mut self, port: usize, p: Packet, cx: &mut Ctx) {
        if port == 0 {
            self.handle_ip(p, cx);
        } else {
            self.handle_response(p, cx);
        }
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
    /// A hot swap keeps the ARP table, with the packets waiting in it.
    fn take_state(&mut self, old: &mut dyn Element, _cx: &mut Ctx) {
        let Some(o) = old.as_any_mut().and_then(|a| a.downcast_mut::<ARPQuerier>()) else { return };
        self.table = core::mem::take(&mut o.table);
        self.waiting = core::mem::take(&mut o.waiting);
        self.next_age = o.next_age;
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "queries" => format!("{}", self.queries),
            "responses" => format!("{}", self.responses),
            "drops" => format!("{}", self.drops),
            "count" => format!("{}", self.waiting),
            _ => return None,
        })
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["table", "queries", "responses", "drops", "count", "insert", "delete"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        let now = cx.now();
        match (name, write) {
            ("table", false) => {
                let mut s = String::new();
                for ip in self.by_age() {
                    let Some(e) = self.table.get(&ip) else { continue };
                    let age = now.saturating_sub(e.live_at);
                    s.push_str(&format!(
                        "{} {} {} {}\n",
                        Ipv4Addr(e.ip),
                        u8::from(self.known(e, now)),
                        EtherAddr(e.eth),
                        Interval::unparse(age)
                    ));
                }
                Some(Ok(s))
            }
            ("insert", true) => {
                let words = split_spacevec(value);
                let (Some(ip), Some(eth)) = (
                    words.first().and_then(|w| Ipv4Addr::parse_arg(w).ok()),
                    words.get(1).and_then(|w| EtherAddr::parse_arg(w).ok()),
                ) else {
                    return Some(Err(String::from("expected 'IP ETH'")));
                };
                for q in self.insert(ip.0, eth.0, now) {
                    self.emit(q, eth.0, cx);
                }
                Some(Ok(String::new()))
            }
            ("delete", true) => Some(match Ipv4Addr::parse_arg(value.trim()) {
                Ok(ip) => match self.table.remove(&ip.0) {
                    Some(e) => {
                        self.waiting -= e.waiting.len();
                        Ok(String::new())
                    }
                    None => Err(format!("{} not in table", ip)),
                },
                Err(_) => Err(String::from("expected IP address")),
            }),
            _ => self.read_handler(name).filter(|_| !write).map(Ok),
        }
    }
}
