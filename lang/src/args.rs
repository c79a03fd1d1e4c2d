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
    let hex_block = |i: usize, out: &mut Vec<u8>| -> Option<usize> {
        let end = b[i..].iter().position(|c| *c == b'>')? + i;
        let digits: Vec<u8> = b[i + 2..end]
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .map(|c| (c as char).to_digit(16).map(|d| d as u8))
            .collect::<Option<Vec<u8>>>()?;
        if !digits.len().is_multiple_of(2) {
            return None;
        }
        out.extend(digits.chunks(2).map(|p| p[0] * 16 + p[1]));
        Some(end + 1)
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
        let addr = Ipv4Addr(parse_dotted(a).ok_or(None)?);
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
}

/// Is `word` a keyword in Click's sense (upper case, digits, `_`, starting with a
/// letter or `_`)?
fn is_keyword(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

struct Slot {
    /// `Some(KEYWORD)` for keyword arguments.
    keyword: Option<String>,
    /// The value (for keyword arguments, the text after the keyword).
    value: String,
    /// The whole argument as written.
    raw: String,
    used: bool,
}

/// The declarative argument reader.
pub struct Args {
    slots: Vec<Slot>,
    next_positional: usize,
    errors: Vec<ArgError>,
}

impl Args {
    /// Split a configuration string and prepare to read it.
    pub fn new(config: &str) -> Args {
        Args::from_args(split_args(config))
    }

    pub fn from_args(args: Vec<String>) -> Args {
        let slots = args
            .into_iter()
            .map(|raw| {
                let kw =
                    split_keyword(&raw).filter(|(k, _)| is_keyword(k)).map(|(k, v)| (k.to_string(), v.to_string()));
                match kw {
                    Some((k, v)) => Slot { keyword: Some(k), value: v, raw, used: false },
                    None => Slot { keyword: None, value: raw.clone(), raw, used: false },
                }
            })
            .collect();
        Args { slots, next_positional: 0, errors: Vec::new() }
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

    /// The value of keyword `kw` (the last occurrence wins), marking all used.
    fn take_keyword(&mut self, kw: &str) -> Option<String> {
        let mut found = None;
        for s in self.slots.iter_mut().filter(|s| s.keyword.as_deref() == Some(kw)) {
            s.used = true;
            found = Some(s.value.clone());
        }
        found
    }

    /// The next positional argument: arguments before the first keyword argument
    /// (a keyword argument naming `kw` itself also counts).
    fn take_positional(&mut self, kw: &str) -> Option<String> {
        let s = self.slots.get_mut(self.next_positional)?;
        if s.used {
            return None;
        }
        match &s.keyword {
            None => {
                s.used = true;
                self.next_positional += 1;
                Some(s.value.clone())
            }
            Some(k) if k == kw => {
                s.used = true;
                self.next_positional += 1;
                Some(s.value.clone())
            }
            Some(_) => None,
        }
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
        let value =
            if positional { self.take_positional(kw).or_else(|| self.take_keyword(kw)) } else { self.take_keyword(kw) };
        match value {
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
        self.read_with(kw, true, true, T::DESCRIPTION, T::parse_arg)
    }

    /// Optional positional argument.
    pub fn read_p<T: ArgType>(&mut self, kw: &str) -> Option<T> {
        self.read_with(kw, true, false, T::DESCRIPTION, T::parse_arg)
    }

    /// Mandatory keyword argument.
    pub fn read_m<T: ArgType>(&mut self, kw: &str) -> Option<T> {
        self.read_with(kw, false, true, T::DESCRIPTION, T::parse_arg)
    }

    /// Optional keyword argument.
    pub fn read<T: ArgType>(&mut self, kw: &str) -> Option<T> {
        self.read_with(kw, false, false, T::DESCRIPTION, T::parse_arg)
    }

    /// Optional keyword argument with a default.
    pub fn read_or<T: ArgType>(&mut self, kw: &str, default: T) -> T {
        self.read(kw).unwrap_or(default)
    }

    /// Every occurrence of a keyword, in order.
    pub fn read_all<T: ArgType>(&mut self, kw: &str) -> Vec<T> {
        let values: Vec<String> = self
            .slots
            .iter_mut()
            .filter(|s| s.keyword.as_deref() == Some(kw))
            .map(|s| {
                s.used = true;
                s.value.clone()
            })
            .collect();
        values.into_iter().filter_map(|v| self.convert(kw, &v, T::parse_arg, T::DESCRIPTION)).collect()
    }

    /// All remaining unused arguments as written (for elements with N patterns).
    pub fn take_rest(&mut self) -> Vec<String> {
        self.slots
            .iter_mut()
            .filter(|s| !s.used)
            .map(|s| {
                s.used = true;
                s.raw.clone()
            })
            .collect()
    }

    /// Report what was not read; `Err` lists every error collected.
    pub fn complete(mut self) -> Result<(), Vec<ArgError>> {
        let mut too_many = false;
        for s in &self.slots {
            if s.used {
                continue;
            }
            match &s.keyword {
                Some(k) => self.errors.push(ArgError { keyword: Some(k.clone()), message: "unknown argument".into() }),
                None => too_many = true,
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
        assert!(bool::parse_arg("maybe").is_err());
        assert_eq!(i32::parse_arg("-12").unwrap(), -12);
        assert_eq!(f64::parse_arg("0.25").unwrap(), 0.25);
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
