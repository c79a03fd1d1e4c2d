//! Click's configuration-argument reader (`Args`), for elements' `configure`.
//!
//! A configuration string is split at unquoted commas into arguments. An argument
//! starting with an upper-case word followed by a space (`LIMIT 10`) is a *keyword*
//! argument; the others, from the start up to the first keyword argument, are
//! *positional*. An element declares what it reads, in order, and then calls
//! [`Args::complete`], which reports anything left over. Every error is collected,
//! not just the first, with the keyword it concerns:
//!
//! ```
//! use oxclick_lang::args::{Args, Interval};
//! let mut a = Args::new("1000, BURST 8, INTERVAL 5ms");
//! let limit: Option<u64> = a.read_mp("LIMIT");
//! let burst: u32 = a.read_or("BURST", 1);
//! let interval: Option<Interval> = a.read("INTERVAL");
//! assert!(a.complete().is_ok());
//! assert_eq!((limit, burst, interval.map(|i| i.nanos)), (Some(1000), 8, Some(5_000_000)));
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

pub use crate::cp::{quote, split_args, split_keyword, split_spacevec, unquote};

/// One configuration error: `KEYWORD: message`, or just `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError {
    pub keyword: Option<String>,
    pub message: String,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.keyword {
            Some(k) => write!(f, "{k}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A value type an argument can be read as.
pub trait ArgType: Sized {
    /// What a bad value was expected to be (`expected DESCRIPTION`).
    const DESCRIPTION: &'static str;
    /// Parse one argument; `Err` carries a message when "expected ..." is not right.
    fn parse_arg(s: &str) -> Result<Self, Option<String>>;

    /// Resolve a name defined with AddressInfo (`intern`, `intern:eth`, ...), for the
    /// types that have names.
    fn from_name(_s: &str, _names: &AddressNames) -> Option<Self> {
        None
    }
}

/// What one AddressInfo name stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NamedAddress {
    pub ip: Option<Ipv4Addr>,
    pub prefix: Option<Ipv4Prefix>,
    pub eth: Option<EtherAddr>,
}

/// Names for addresses, as AddressInfo elements define them: `NAME ADDR...` where
/// each ADDR is an IPv4 address, an IPv4 prefix (`10.0.0.1/8` gives the address and
/// the network) or an Ethernet address. Arguments then say `NAME`, `NAME:ip`,
/// `NAME:ipnet` (or `:net`) and `NAME:eth`.
#[derive(Clone, Debug, Default)]
pub struct AddressNames {
    entries: Vec<(String, NamedAddress)>,
}

impl AddressNames {
    /// Add the definitions of one AddressInfo configuration; errors name the argument.
    pub fn add_address_info(&mut self, config: &str) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        for arg in split_args(config) {
            let words = split_spacevec(&arg);
            let Some((name, addrs)) = words.split_first() else { continue };
            let mut entry = NamedAddress::default();
            for a in addrs {
                if let Ok(e) = EtherAddr::parse_arg(a) {
                    entry.eth = Some(e);
                } else if a.contains('/') {
                    match Ipv4Prefix::parse_arg(a) {
                        Ok(p) => {
                            let net = u32::from_be_bytes(p.addr.0) & u32::from_be_bytes(p.mask.0);
                            if entry.ip.is_none() && net != u32::from_be_bytes(p.addr.0) {
                                entry.ip = Some(p.addr);
                            }
                            entry.prefix = Some(Ipv4Prefix { addr: Ipv4Addr(net.to_be_bytes()), mask: p.mask });
                        }
                        Err(_) => errors.push(format!("{name}: bad address '{a}'")),
                    }
                } else {
                    match Ipv4Addr::parse_arg(a) {
                        Ok(ip) => entry.ip = Some(ip),
                        Err(_) => errors.push(format!("{name}: bad address '{a}'")),
                    }
                }
            }
            self.entries.push((name.clone(), entry));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The entry for `name` (the last definition wins).
    pub fn lookup(&self, name: &str) -> Option<&NamedAddress> {
        self.entries.iter().rev().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// `NAME:suffix` split, and the entry for NAME.
    fn entry<'a>(&self, s: &'a str) -> Option<(&NamedAddress, Option<&'a str>)> {
        match s.rsplit_once(':') {
            Some((n, suffix)) if self.lookup(n).is_some() => Some((self.lookup(n)?, Some(suffix))),
            _ => Some((self.lookup(s)?, None)),
        }
    }
}

fn parse_unsigned(s: &str) -> Option<u128> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()) {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u128::from_str_radix(digits, radix).ok()
}

macro_rules! unsigned_arg {
    ($($t:ty),*) => {$(
        impl ArgType for $t {
            const DESCRIPTION: &'static str = "unsigned integer";
            fn parse_arg(s: &str) -> Result<Self, Option<String>> {
                let v = parse_unsigned(s).ok_or(None)?;
                <$t>::try_from(v).map_err(|_| Some(format!("out of range, bound {}", <$t>::MAX)))
            }
        }
    )*};
}
unsigned_arg!(u8, u16, u32, u64, usize);

macro_rules! signed_arg {
    ($($t:ty),*) => {$(
        impl ArgType for $t {
            const DESCRIPTION: &'static str = "integer";
            fn parse_arg(s: &str) -> Result<Self, Option<String>> {
                let (neg, body) = match s.strip_prefix('-') {
                    Some(b) => (true, b),
                    None => (false, s.strip_prefix('+').unwrap_or(s)),
                };
                let v = parse_unsigned(body).ok_or(None)? as i128;
                let v = if neg { -v } else { v };
                <$t>::try_from(v).map_err(|_| {
                    let bound = if neg { <$t>::MIN as i128 } else { <$t>::MAX as i128 };
                    Some(format!("out of range, bound {bound}"))
                })
            }
        }
    )*};
}
signed_arg!(i32, i64);

impl ArgType for bool {
    const DESCRIPTION: &'static str = "boolean";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        match s {
            "true" | "yes" | "1" | "t" | "y" | "on" => Ok(true),
            "false" | "no" | "0" | "f" | "n" | "off" => Ok(false),
            _ => Err(None),
        }
    }
}

impl ArgType for f64 {
    const DESCRIPTION: &'static str = "real number";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
        if !ok {
            return Err(None);
        }
        s.parse().map_err(|_| None)
    }
}

/// A string argument: quotes removed and C escapes decoded (Click's `StringArg`).
impl ArgType for String {
    const DESCRIPTION: &'static str = "string";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        Ok(unquote(s))
    }
}

/// A single word, taken as written (Click's `WordArg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word(pub String);

impl ArgType for Word {
    const DESCRIPTION: &'static str = "word";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            return Err(None);
        }
        Ok(Word(s.into()))
    }
}

/// An element name; the router resolves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementRef(pub String);

impl ArgType for ElementRef {
    const DESCRIPTION: &'static str = "element name";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        Word::parse_arg(s).map(|w| ElementRef(w.0))
    }
}

/// Bytes from a data string: quotes removed, escapes and `\<hex>` decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data(pub Vec<u8>);

impl ArgType for Data {
    const DESCRIPTION: &'static str = "data";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        decode_data(s).map(Data).ok_or(None)
    }
}

/// Click's data syntax: `"text\n"` with C escapes, `'literal'`, `\<48 65>` hex blocks,
/// and bare words; pieces concatenate.
pub fn decode_data(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // `\<48 65 6c>`: hex digits, whitespace and comments up to `>`.
    let hex_block = |i: usize, out: &mut Vec<u8>| -> Option<usize> {
        let mut digits: Vec<u8> = Vec::new();
        let mut k = i + 2;
        loop {
            match *b.get(k)? {
                b'>' => break,
                b'/' if b.get(k + 1) == Some(&b'/') => {
                    while k < b.len() && b[k] != b'\n' {
                        k += 1;
                    }
                }
                b'/' if b.get(k + 1) == Some(&b'*') => {
                    k += 2;
                    while k + 1 < b.len() && !(b[k] == b'*' && b[k + 1] == b'/') {
                        k += 1;
                    }
                    k += 2;
                }
                c if c.is_ascii_whitespace() => k += 1,
                c => {
                    digits.push((c as char).to_digit(16)? as u8);
                    k += 1;
                }
            }
        }
        if !digits.len().is_multiple_of(2) {
            return None;
        }
        out.extend(digits.chunks(2).map(|p| p[0] * 16 + p[1]));
        Some(k + 1)
    };
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        match b[i + 1] {
                            b'<' => {
                                i = hex_block(i, &mut out)?;
                                continue;
                            }
                            b'n' => out.push(b'\n'),
                            b't' => out.push(b'\t'),
                            b'r' => out.push(b'\r'),
                            b'a' => out.push(7),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'v' => out.push(11),
                            b'x' => {
                                let hex: String =
                                    s[i + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).take(2).collect();
                                out.push(u8::from_str_radix(&hex, 16).ok()?);
                                i += 2 + hex.len();
                                continue;
                            }
                            b'0'..=b'7' => {
                                let oct: String =
                                    s[i + 1..].chars().take_while(|c| ('0'..='7').contains(c)).take(3).collect();
                                out.push(u8::try_from(u32::from_str_radix(&oct, 8).ok()?).ok()?);
                                i += 1 + oct.len();
                                continue;
                            }
                            c => out.push(c),
                        }
                        i += 2;
                    } else {
                        out.push(b[i]);
                        i += 1;
                    }
                }
                if i >= b.len() {
                    return None;
                }
                i += 1;
            }
            b'\'' => {
                let end = b[i + 1..].iter().position(|c| *c == b'\'')? + i + 1;
                out.extend_from_slice(&b[i + 1..end]);
                i = end + 1;
            }
            b'\\' if b.get(i + 1) == Some(&b'<') => i = hex_block(i, &mut out)?,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// A time interval (Click's `SecondsArg`/`TimestampArg`): `1.5`, `5ms`, `2us`,
/// `10ns`, `3s`, `1min`, `2h`, `1d`; a bare number is seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub nanos: u64,
}

/// Split `12.5ms` into (12.5, "ms").
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return None;
    }
    Some((num.parse().ok()?, unit.trim_start()))
}

impl ArgType for Interval {
    const DESCRIPTION: &'static str = "time in seconds";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        let (n, unit) = number_and_unit(s).ok_or(None)?;
        let scale = match unit {
            "" | "s" | "sec" | "secs" => 1e9,
            "ms" | "msec" => 1e6,
            "us" | "usec" => 1e3,
            "ns" | "nsec" => 1.0,
            "m" | "min" | "mins" => 60e9,
            "h" | "hr" | "hrs" => 3600e9,
            "d" | "day" | "days" => 86400e9,
            _ => return Err(None),
        };
        let nanos = n * scale;
        if nanos > u64::MAX as f64 {
            return Err(Some("out of range".into()));
        }
        Ok(Interval { nanos: nanos as u64 })
    }
}

/// A bandwidth in bytes per second (Click's `BandwidthArg`): `10Mbps` (bits),
/// `1MBps` (bytes), `kbps`, `Gbps`; a bare number is bytes per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bandwidth {
    pub bytes_per_sec: u64,
}

impl ArgType for Bandwidth {
    const DESCRIPTION: &'static str = "bandwidth";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        let (n, unit) = number_and_unit(s).ok_or(None)?;
        let (prefix, per) = if let Some(p) = unit.strip_suffix("bps") {
            (p, 1.0 / 8.0)
        } else if let Some(p) = unit.strip_suffix("Bps") {
            (p, 1.0)
        } else if unit.is_empty() {
            ("", 1.0)
        } else {
            return Err(None);
        };
        let mult = match prefix {
            "" => 1.0,
            "k" | "K" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            _ => return Err(None),
        };
        let v = n * mult * per;
        if v > u64::MAX as f64 {
            return Err(Some("out of range".into()));
        }
        Ok(Bandwidth { bytes_per_sec: v as u64 })
    }
}

impl Bandwidth {
    /// Click's way of printing a bandwidth (`BandwidthArg::unparse`): bits per
    /// second with the largest prefix that keeps it at least one.
    pub fn unparse(bytes_per_sec: u64) -> String {
        let bits = bytes_per_sec.saturating_mul(8);
        let (div, unit) = if bits >= 1_000_000_000 {
            (1_000_000_000, "Gbps")
        } else if bits >= 1_000_000 {
            (1_000_000, "Mbps")
        } else if bits >= 1_000 {
            (1_000, "kbps")
        } else {
            (1, "bps")
        };
        let whole = bits / div;
        let frac = bits % div;
        if frac == 0 {
            return format!("{whole}{unit}");
        }
        let digits = match div {
            1_000_000_000 => 9,
            1_000_000 => 6,
            _ => 3,
        };
        let f = format!("{frac:0digits$}");
        format!("{whole}.{}{unit}", f.trim_end_matches('0'))
    }
}

impl Interval {
    /// Seconds with as many decimals as needed, like Click's `unparse_interval`.
    pub fn unparse(nanos: u64) -> String {
        let (s, ns) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
        if ns == 0 {
            return format!("{s}s");
        }
        let f = format!("{ns:09}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    }
}

/// An IPv4 address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Addr(pub [u8; 4]);

impl fmt::Display for Ipv4Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

fn parse_dotted(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out[n] = part.parse().ok()?;
        n += 1;
    }
    (n == 4).then_some(out)
}

impl ArgType for Ipv4Addr {
    const DESCRIPTION: &'static str = "IP address";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        parse_dotted(s).map(Ipv4Addr).ok_or(None)
    }
    fn from_name(s: &str, names: &AddressNames) -> Option<Self> {
        match names.entry(s)? {
            (e, None | Some("ip")) => e.ip,
            _ => None,
        }
    }
}

/// An IPv4 prefix `ADDR/LEN` or `ADDR/MASK` (a bare address is a /32).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ipv4Prefix {
    pub addr: Ipv4Addr,
    pub mask: Ipv4Addr,
}

impl Ipv4Prefix {
    /// The prefix length, if the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u32> {
        let m = u32::from_be_bytes(self.mask.0);
        (m.leading_ones() + m.trailing_zeros() == 32).then(|| m.leading_ones())
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(l) => write!(f, "{}/{l}", self.addr),
            None => write!(f, "{}/{}", self.addr, self.mask),
        }
    }
}

impl ArgType for Ipv4Prefix {
    const DESCRIPTION: &'static str = "IP address prefix";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        let (a, m) = match s.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (s, None),
        };
        // With a mask, Click lets the address drop trailing zero bytes (`18.26.4/24`).
        let addr = match (parse_dotted(a), m) {
            (Some(x), _) => Ipv4Addr(x),
            (None, Some(_)) => {
                let mut padded = String::from(a);
                for _ in 0..3usize.saturating_sub(a.matches('.').count()) {
                    padded.push_str(".0");
                }
                Ipv4Addr(parse_dotted(&padded).ok_or(None)?)
            }
            (None, None) => return Err(None),
        };
        let mask = match m {
            None => [255; 4],
            Some(m) if m.contains('.') => parse_dotted(m).ok_or(None)?,
            Some(m) => {
                let len: u32 = m.parse().map_err(|_| None)?;
                if len > 32 {
                    return Err(None);
                }
                (if len == 0 { 0 } else { u32::MAX << (32 - len) }).to_be_bytes()
            }
        };
        Ok(Ipv4Prefix { addr, mask: Ipv4Addr(mask) })
    }
    fn from_name(s: &str, names: &AddressNames) -> Option<Self> {
        match names.entry(s)? {
            (e, Some("ipnet" | "net")) => e.prefix,
            (e, None) => e.prefix.or(e.ip.map(|addr| Ipv4Prefix { addr, mask: Ipv4Addr([255; 4]) })),
            (e, Some("ip")) => e.ip.map(|addr| Ipv4Prefix { addr, mask: Ipv4Addr([255; 4]) }),
            _ => None,
        }
    }
}

/// An Ethernet address `00:11:22:33:44:55` (or with `-`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EtherAddr(pub [u8; 6]);

impl fmt::Display for EtherAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        write!(f, "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}", e[0], e[1], e[2], e[3], e[4], e[5])
    }
}

impl ArgType for EtherAddr {
    const DESCRIPTION: &'static str = "Ethernet address";
    fn parse_arg(s: &str) -> Result<Self, Option<String>> {
        let mut out = [0u8; 6];
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(None);
        }
        for (o, p) in out.iter_mut().zip(parts) {
            if p.is_empty() || p.len() > 2 {
                return Err(None);
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| None)?;
        }
        Ok(EtherAddr(out))
    }
    fn from_name(s: &str, names: &AddressNames) -> Option<Self> {
        match names.entry(s)? {
            (e, None | Some("eth")) => e.eth,
            _ => None,
        }
    }
}

/// The length of the keyword an argument starts with, Click's rule: a word (a
/// letter or `_`, then letters, digits, `_ : . ? !`) followed by whitespace and a
/// value. `TCP` alone or `"hi" there` have none.
fn keyword_length(arg: &str) -> Option<usize> {
    let b = arg.as_bytes();
    let mut s = 0;
    if b.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
        s = 1;
        while s < b.len() && (b[s].is_ascii_alphanumeric() || b"_:.?!".contains(&b[s])) {
            s += 1;
        }
    }
    let mut t = s;
    while t < b.len() && b[t].is_ascii_whitespace() {
        t += 1;
    }
    (s > 0 && t > s && t < b.len()).then_some(s)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Not read yet; `Some(n)` when it starts with an n-byte keyword.
    Unread(Option<usize>),
    UsedPositional,
    UsedKeyword,
}

struct Slot {
    state: SlotState,
    /// The whole argument as written.
    raw: String,
}

/// The declarative argument reader.
pub struct Args<'n> {
    slots: Vec<Slot>,
    errors: Vec<ArgError>,
    names: Option<&'n AddressNames>,
}

impl<'n> Args<'n> {
    /// Split a configuration string and prepare to read it.
    pub fn new(config: &str) -> Args<'n> {
        Args::from_args(split_args(config))
    }

    /// Like [`new`](Self::new), resolving AddressInfo names in address arguments.
    pub fn with_names(config: &str, names: &'n AddressNames) -> Args<'n> {
        let mut a = Args::new(config);
        a.names = Some(names);
        a
    }

    pub fn from_args(args: Vec<String>) -> Args<'n> {
        let slots = args.into_iter().map(|raw| Slot { state: SlotState::Unread(keyword_length(&raw)), raw }).collect();
        Args { slots, errors: Vec::new(), names: None }
    }

    /// Parse as `T`, falling back to an AddressInfo name.
    fn typed<T: ArgType>(&mut self, kw: &str, positional: bool, mandatory: bool) -> Option<T> {
        let names = self.names;
        self.read_with(kw, positional, mandatory, T::DESCRIPTION, |s| {
            T::parse_arg(s).or_else(|e| names.and_then(|n| T::from_name(s, n)).ok_or(e))
        })
    }

    fn error(&mut self, keyword: &str, message: impl Into<String>) {
        self.errors.push(ArgError { keyword: Some(keyword.into()), message: message.into() });
    }

    fn convert<T>(
        &mut self,
        keyword: &str,
        value: &str,
        parse: impl Fn(&str) -> Result<T, Option<String>>,
        what: &str,
    ) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(msg) => {
                let m = msg.unwrap_or_else(|| format!("expected {what}"));
                self.error(keyword, m);
                None
            }
        }
    }

    /// Click's argument lookup. Every unread `KW value` argument is consumed (the last
    /// one wins). With `positional`, the first unread argument is taken positionally
    /// when it has no keyword form, or when the argument is mandatory and no keyword
    /// form was found; positional arguments end at the first keyword argument read.
    fn find(&mut self, kw: &str, positional: bool, mandatory: bool) -> Option<String> {
        let mut position: Option<Option<usize>> = None;
        let mut got: Option<(usize, String)> = None;
        for i in 0..self.slots.len() {
            let state = self.slots[i].state;
            if position.is_none() && state != SlotState::UsedPositional {
                position = Some(matches!(state, SlotState::Unread(_)).then_some(i));
            }
            if let SlotState::Unread(Some(n)) = state
                && n == kw.len()
                && self.slots[i].raw.starts_with(kw)
            {
                self.slots[i].state = SlotState::UsedKeyword;
                got = Some((i, self.slots[i].raw[n..].trim_start().to_string()));
            }
        }
        if positional && let Some(Some(p)) = position {
            let plain = self.slots[p].state == SlotState::Unread(None);
            let has_kw = matches!(self.slots[p].state, SlotState::Unread(Some(_)));
            if plain || (has_kw && got.is_none() && mandatory) {
                self.slots[p].state = SlotState::UsedPositional;
                if got.as_ref().is_none_or(|(g, _)| *g < p) {
                    got = Some((p, self.slots[p].raw.clone()));
                }
            }
        }
        got.map(|(_, v)| v)
    }

    /// Read with a custom parser; `positional` and `mandatory` as Click's `_mp` etc.
    pub fn read_with<T>(
        &mut self,
        kw: &str,
        positional: bool,
        mandatory: bool,
        what: &str,
        parse: impl Fn(&str) -> Result<T, Option<String>>,
    ) -> Option<T> {
        match self.find(kw, positional, mandatory) {
            Some(v) => self.convert(kw, &v, parse, what),
            None => {
                if mandatory {
                    self.error(kw, "required argument missing");
                }
                None
            }
        }
    }

    /// Mandatory positional argument (also accepted as `KW value`).
    pub fn read_mp<T: ArgType>(&mut self, kw: &str) -> Option<T> {
        self.typed(kw, true, true)
    }

    /// Optional positional argument.
    pub fn read_p<T: ArgType>(&mut self, kw: &str) -> Option<T> {
        self.typed(kw, true, false)
    }

    /// Mandatory keyword argument.
    pub fn read_m<T: ArgType>(&mut self, kw: &str) -> Option<T> {
        self.typed(kw, false, true)
    }

    /// Optional keyword argument.
    pub fn read<T: ArgType>(&mut self, kw: &str) -> Option<T> {
        self.typed(kw, false, false)
    }

    /// Optional keyword argument with a default.
    pub fn read_or<T: ArgType>(&mut self, kw: &str, default: T) -> T {
        self.read(kw).unwrap_or(default)
    }

    /// Every occurrence of a keyword, in order.
    pub fn read_all<T: ArgType>(&mut self, kw: &str) -> Vec<T> {
        let mut values = Vec::new();
        for s in self.slots.iter_mut() {
            if let SlotState::Unread(Some(n)) = s.state
                && n == kw.len()
                && s.raw.starts_with(kw)
            {
                s.state = SlotState::UsedKeyword;
                values.push(s.raw[n..].trim_start().to_string());
            }
        }
        values.into_iter().filter_map(|v| self.convert(kw, &v, T::parse_arg, T::DESCRIPTION)).collect()
    }

    /// All remaining unread arguments as written (for elements with N patterns).
    pub fn take_rest(&mut self) -> Vec<String> {
        self.slots
            .iter_mut()
            .filter(|s| matches!(s.state, SlotState::Unread(_)))
            .map(|s| {
                s.state = SlotState::UsedPositional;
                s.raw.clone()
            })
            .collect()
    }

    /// Report what was not read; `Err` lists every error collected.
    pub fn complete(mut self) -> Result<(), Vec<ArgError>> {
        let mut too_many = false;
        for s in &self.slots {
            match s.state {
                SlotState::Unread(Some(n)) => {
                    self.errors.push(ArgError { keyword: Some(s.raw[..n].into()), message: "unknown argument".into() })
                }
                SlotState::Unread(None) => too_many = true,
                _ => {}
            }
        }
        if too_many {
            self.errors.push(ArgError { keyword: None, message: "too many arguments".into() });
        }
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn errs(r: Result<(), Vec<ArgError>>) -> Vec<String> {
        r.err().unwrap_or_default().iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn positional_then_keywords() {
        let mut a = Args::new("5, \"hi\\n\", ACTIVE false, LIMIT 0x10");
        assert_eq!(a.read_mp::<u32>("COUNT"), Some(5));
        assert_eq!(a.read_p::<String>("LABEL"), Some("hi\n".into()));
        assert_eq!(a.read::<u64>("LIMIT"), Some(16));
        assert!(!a.read_or("ACTIVE", true));
        assert!(a.complete().is_ok());
    }

    #[test]
    fn mandatory_positional_as_keyword() {
        let mut a = Args::new("BURST 3, COUNT 7");
        assert_eq!(a.read_mp::<u32>("COUNT"), Some(7));
        assert_eq!(a.read::<u32>("BURST"), Some(3));
        assert!(a.complete().is_ok());
    }

    #[test]
    fn every_error_is_reported() {
        let mut a = Args::new("x, y, z, BAD 1, LIMIT -3");
        let _ = a.read_mp::<u32>("COUNT");
        let _ = a.read::<u32>("LIMIT");
        let _ = a.read_m::<bool>("STOP");
        assert_eq!(
            errs(a.complete()),
            vec![
                "COUNT: expected unsigned integer",
                "LIMIT: expected unsigned integer",
                "STOP: required argument missing",
                "BAD: unknown argument",
                "too many arguments"
            ]
        );
        let mut a = Args::new("300");
        let _ = a.read_mp::<u8>("V");
        assert_eq!(errs(a.complete()), vec!["V: out of range, bound 255"]);
    }

    #[test]
    fn typed_values() {
        assert_eq!(Interval::parse_arg("5ms").unwrap().nanos, 5_000_000);
        assert_eq!(Interval::parse_arg("1.5").unwrap().nanos, 1_500_000_000);
        assert_eq!(Interval::parse_arg("2us").unwrap().nanos, 2_000);
        assert!(Interval::parse_arg("5 furlongs").is_err());
        assert_eq!(Bandwidth::parse_arg("10Mbps").unwrap().bytes_per_sec, 1_250_000);
        assert_eq!(Bandwidth::parse_arg("1MBps").unwrap().bytes_per_sec, 1_000_000);
        assert_eq!(Bandwidth::parse_arg("800").unwrap().bytes_per_sec, 800);
        assert_eq!(Ipv4Addr::parse_arg("10.0.0.1").unwrap().0, [10, 0, 0, 1]);
        assert!(Ipv4Addr::parse_arg("10.0.0.256").is_err());
        let p = Ipv4Prefix::parse_arg("18.26.4.0/24").unwrap();
        assert_eq!((p.addr.0, p.prefix_len()), ([18, 26, 4, 0], Some(24)));
        assert_eq!(Ipv4Prefix::parse_arg("1.0.0.0/255.0.0.0").unwrap().to_string(), "1.0.0.0/8");
        assert_eq!(EtherAddr::parse_arg("00:0a:95:9d:68:16").unwrap().0, [0, 10, 0x95, 0x9d, 0x68, 0x16]);
        assert_eq!(Data::parse_arg("\"I\\n\"\\<0800 45>'x'").unwrap().0, b"I\n\x08\x00\x45x".to_vec());
        assert_eq!(Data::parse_arg("\\<\n  // header\n 00 11 /* x */ 22>").unwrap().0, vec![0, 0x11, 0x22]);
        assert!(bool::parse_arg("maybe").is_err());
        assert_eq!(i32::parse_arg("-12").unwrap(), -12);
        assert_eq!(f64::parse_arg("0.25").unwrap(), 0.25);
    }

    #[test]
    fn keyword_forms_follow_clicks_rule() {
        // A lone word is positional; so is a value that only looks like a keyword
        // when a mandatory positional is missing.
        let mut a = Args::new("TCP");
        assert_eq!(a.read_p::<String>("LABEL"), Some("TCP".into()));
        assert!(a.complete().is_ok());
        let mut a = Args::new("wait_stop 2");
        assert_eq!(a.read_mp::<String>("COMMAND"), Some("wait_stop 2".into()));
        assert!(a.complete().is_ok());
        let mut a = Args::new("hi there");
        assert_eq!(a.read_p::<String>("LABEL"), None);
        assert_eq!(errs(a.complete()), vec!["hi: unknown argument"]);
    }

    #[test]
    fn address_info_names() {
        let mut names = AddressNames::default();
        names.add_address_info("intern 10.0.0.1 10.0.0.0/8 00:50:ba:85:84:a9, gw 10.0.0.254/8").unwrap();
        let mut a = Args::with_names("intern, intern:eth, intern:ipnet, gw, gw:net", &names);
        assert_eq!(a.read_mp::<Ipv4Addr>("A").unwrap().0, [10, 0, 0, 1]);
        assert_eq!(a.read_mp::<EtherAddr>("B").unwrap().0, [0, 0x50, 0xba, 0x85, 0x84, 0xa9]);
        assert_eq!(a.read_mp::<Ipv4Prefix>("C").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(a.read_mp::<Ipv4Addr>("D").unwrap().0, [10, 0, 0, 254]);
        assert_eq!(a.read_mp::<Ipv4Prefix>("E").unwrap().to_string(), "10.0.0.0/8");
        assert!(a.complete().is_ok());
        let mut a = Args::with_names("nobody:eth", &names);
        let _ = a.read_mp::<EtherAddr>("X");
        assert_eq!(errs(a.complete()), vec!["X: expected Ethernet address"]);
        assert!(names.add_address_info("bad 1.2.3").is_err());
    }

    #[test]
    fn rest_and_repeated_keywords() {
        let mut a = Args::new("12/0800, -, KEY 1, KEY 2");
        assert_eq!(a.read_all::<u32>("KEY"), vec![1, 2]);
        assert_eq!(a.take_rest(), vec!["12/0800", "-"]);
        assert!(a.complete().is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn reader_never_panics(s in "\\PC{0,80}") {
            let mut a = Args::new(&s);
            let _ = a.read_mp::<u64>("A");
            let _ = a.read_p::<Data>("B");
            let _ = a.read::<Interval>("C");
            let _ = a.read::<Bandwidth>("D");
            let _ = a.read::<Ipv4Prefix>("E");
            let _ = a.read::<EtherAddr>("F");
            let _ = a.read::<f64>("G");
            let _ = a.complete();
        }

        #[test]
        fn quote_unquote_round_trip(s in "[ -~\\n\\t]{0,40}") {
            prop_assert_eq!(unquote(&quote(&s)), s.to_string());
        }
    }
}
