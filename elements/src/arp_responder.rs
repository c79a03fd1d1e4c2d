//! ARPResponder — answers ARP queries for the addresses it is given.
//!
//! `ARPResponder(IP/MASK [IP/MASK...] ETH, ...)`
//!
//! One agnostic input, one or two outputs. Each argument maps addresses (single
//! addresses or prefixes, space-separated) to the Ethernet address ETH; AddressInfo
//! names work (`NAME` is its address, `NAME:ipnet` its network, `NAME:eth` its
//! Ethernet address; a name with both stands for both). An ARP request (Ethernet,
//! IPv4) for an address in the table is answered on output 0 with a 42-byte reply
//! from ETH; everything else goes to output 1 if it exists, else is dropped. The
//! most specific entry wins; with two entries for the same prefix the later one
//! counts, with a warning.
//!
//! Handlers: `table` (read), `lookup IP` (read: the Ethernet address answered
//! for IP, empty if none), `add ENTRY` and `remove IP/MASK` (write), `config`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{AddressNames, ArgType, EtherAddr, Ipv4Addr, Ipv4Prefix, split_args, split_spacevec};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    dst: u32,
    mask: u32,
    eth: [u8; 6],
}

fn parse_with_names<T: ArgType>(s: &str, names: &AddressNames) -> Option<T> {
    T::parse_arg(s).ok().or_else(|| T::from_name(s, names))
}

/// A single address (as a /32) or a prefix.
fn parse_target(s: &str, names: &AddressNames) -> Option<(u32, u32)> {
    if let Some(a) = parse_with_names::<Ipv4Addr>(s, names) {
        return Some((u32::from_be_bytes(a.0), u32::MAX));
    }
    let p = parse_with_names::<Ipv4Prefix>(s, names)?;
    let mask = u32::from_be_bytes(p.mask.0);
    Some((u32::from_be_bytes(p.addr.0) & mask, mask))
}

/// Add the entries of one argument to `v` (Click's `ARPResponder::add`).
fn add_entries(v: &mut Vec<Entry>, arg: &str, names: &AddressNames) -> Result<(), String> {
    let words = split_spacevec(arg);
    let mut targets = Vec::new();
    let mut eth: Option<[u8; 6]> = None;
    for w in &words {
        if let Some(t) = parse_target(w, names) {
            targets.push(t);
        } else if let Some(e) = parse_with_names::<EtherAddr>(w, names) {
            if eth.is_some() {
                return Err(String::from("more than one ETH"));
            }
            eth = Some(e.0);
        } else {
            return Err(String::from("expected IP/MASK ETH"));
        }
    }
    // A word that is both an address and an Ethernet address (an AddressInfo name).
    if eth.is_none() {
        eth = words.iter().find_map(|w| parse_with_names::<EtherAddr>(w, names)).map(|e| e.0);
    }
    if targets.is_empty() {
        return Err(String::from("missing IP/MASK"));
    }
    let Some(eth) = eth else { return Err(String::from("missing ETH")) };
    v.extend(targets.into_iter().map(|(dst, mask)| Entry { dst, mask, eth }));
    Ok(())
}

fn unparse_prefix(dst: u32, mask: u32) -> String {
    let p = Ipv4Prefix { addr: Ipv4Addr(dst.to_be_bytes()), mask: Ipv4Addr(mask.to_be_bytes()) };
    format!("{p}")
}

/// Keep the later of two entries for the same prefix, then put more specific
/// prefixes first (Click's `normalize`); returns the duplicates dropped.
fn normalize(v: &mut Vec<Entry>) -> Vec<String> {
    let mut dups = Vec::new();
    let mut kept: Vec<Entry> = Vec::new();
    for (i, e) in v.iter().enumerate() {
        if v[i + 1..].iter().any(|l| l.dst == e.dst && l.mask == e.mask) {
            dups.push(format!("multiple entries for {}", unparse_prefix(e.dst, e.mask)));
        } else {
            kept.push(*e);
        }
    }
    kept.sort_by_key(|e| core::cmp::Reverse(e.mask.count_ones()));
    *v = kept;
    dups
}

#[derive(Default)]
pub struct ARPResponder {
    table: Vec<Entry>,
    names: AddressNames,
}

impl ARPResponder {
    pub fn lookup(&self, ip: [u8; 4]) -> Option<[u8; 6]> {
        let a = u32::from_be_bytes(ip);
        self.table.iter().find(|e| a & e.mask == e.dst).map(|e| e.eth)
    }
}

/// A 42-byte ARP reply from `src_eth`/`src_ip` to `dst_eth`/`dst_ip`.
pub fn arp_reply(dst_eth: &[u8], dst_ip: &[u8], src_eth: &[u8; 6], src_ip: &[u8]) -> [u8; 42] {
    let mut r = [0u8; 42];
    r[0..6].copy_from_slice(dst_eth);
    r[6..12].copy_from_slice(src_eth);
    r[12..14].copy_from_slice(&[0x08, 0x06]);
    r[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    r[22..28].copy_from_slice(src_eth);
    r[28..32].copy_from_slice(src_ip);
    r[32..38].copy_from_slice(dst_eth);
    r[38..42].copy_from_slice(dst_ip);
    r
}

impl Element for ARPResponder {
    fn class_name(&self) -> &'static str {
        "ARPResponder"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1-2"
    }
    fn processing(&self) -> &'static str {
        "a/ah"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut v = Vec::new();
        let mut errors = Vec::new();
        for (i, arg) in split_args(config).iter().enumerate() {
            if let Err(e) = add_entries(&mut v, arg, cx.names) {
                errors.push(format!("argument {i}: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Duplicates are warnings in Click; they go where configuration messages go.
        for w in normalize(&mut v) {
            #[cfg(feature = "std")]
            std::eprintln!("  warning: {w}");
            let _ = w;
        }
        self.table = v;
        self.names = cx.names.clone();
        Ok(())
    }
    fn simple_action(&mut self, p: Packet, cx: &mut Ctx) -> Option<Packet> {
        let d = p.data();
        let is_request =
            d.len() >= 42 && d[12..14] == [8, 6] && d[14..16] == [0, 1] && d[16..18] == [8, 0] && d[20..22] == [0, 1];
        if is_request && let Some(eth) = self.lookup([d[38], d[39], d[40], d[41]]) {
            let reply = arp_reply(&d[22..28], &d[28..32], &eth, &d[38..42]);
            let mut q = cx.new_packet(&reply);
            q.anno.timestamp = p.anno.timestamp;
            return Some(q);
        }
        if cx.noutputs() > 1 {
            cx.push(1, p);
        }
        None
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "table").then(|| {
            self.table.iter().map(|e| format!("{} {}\n", unparse_prefix(e.dst, e.mask), EtherAddr(e.eth))).collect()
        })
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["table", "lookup", "add", "remove"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, _cx: &mut Ctx) -> Option<Result<String, String>> {
        match (name, write) {
            ("table", false) => self.read_handler(name).map(Ok),
            ("lookup", false) => Some(match parse_with_names::<Ipv4Addr>(value.trim(), &self.names) {
                Some(a) => Ok(self.lookup(a.0).map(|e| format!("{}", EtherAddr(e))).unwrap_or_default()),
                None => Err(String::from("expected IP address")),
            }),
            ("add", true) => {
                let mut v = self.table.clone();
                Some(add_entries(&mut v, value, &self.names).map(|()| {
                    normalize(&mut v);
                    self.table = v;
                    String::new()
                }))
            }
            ("remove", true) => {
                let Some((dst, mask)) = parse_target(value.trim(), &self.names) else {
                    return Some(Err(String::from("expected IP/MASK")));
                };
                Some(match self.table.iter().position(|e| e.dst == dst && e.mask == mask) {
                    Some(k) => {
                        self.table.remove(k);
                        Ok(String::new())
                    }
                    None => Err(format!("{} not found", unparse_prefix(dst, mask))),
                })
            }
            _ => None,
        }
    }
}
