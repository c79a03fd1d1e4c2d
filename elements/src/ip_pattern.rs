//! Click's IP classification language (not an element): the tcpdump-like patterns
//! of IPClassifier and IPFilter, parsed into an expression tree over header field
//! tests, and evaluated against packets.
//!
//! Primitives: `[src|dst|src or dst|src and dst] host ADDR`, `... net ADDR/LEN` (or
//! `ADDR mask MASK`), `... [tcp|udp] port PORT`, `ip proto P` (or just `tcp`, `udp`,
//! `icmp`, ...), `ip vers|hl|id|tos|dscp|ttl N`, `ip ect`, `ip ce`, `ip frag`,
//! `ip unfrag`, `tcp opt syn|fin|ack|rst|psh|urg`, `tcp win N`, `icmp type T`,
//! `ip[POS:LEN] V`, `transp[POS:LEN] V` (or `tcp[..]`, `udp[..]`, `icmp[..]`),
//! `true`, `false`; every value test takes `==` (default), `!=`, `<`, `>`, `<=`,
//! `>=` and a mask `& MASK`. Connectives `and`/`&&` (or nothing), `or`/`||`,
//! `not`/`!`, `? :` and parentheses. Values may drop their qualifiers when they
//! repeat the previous primitive's (`src port 80 or 81`), and primitives may be
//! just their value (`www`, `syn`, `10.0.0.0/8`, `unfrag`). A pattern that is
//! only `-`, `any` or `all` matches everything.
//!
//! Semantics (Click's): a test on bytes the packet lacks is false (so
//! `not (...)` of it is true); port, ICMP type and TCP tests hold only on first
//! fragments of their protocol, and their `!=`, `<`, ... still require that
//! protocol.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use oxclick_lang::args::{AddressNames, ArgType, Ipv4Addr, Ipv4Prefix};

use crate::wire::{IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, icmp_type_by_name};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// Where a tested field lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// From the IP header.
    Ip,
    /// From the transport header (first fragments only).
    Transp,
}

/// `(bytes at base+off, len bytes, big-endian) & mask REL value`, for packets of
/// one of `protos` (empty: any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Test {
    pub base: Base,
    pub off: usize,
    pub len: usize,
    pub mask: u32,
    pub rel: Rel,
    pub value: u32,
    pub protos: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Const(bool),
    Test(Test),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `a ? b : c`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Test {
    /// Whether `self` and `other` read the same field the same way (they may
    /// compare it differently).
    pub fn same_field(&self, other: &Test) -> bool {
        self.base == other.base
            && self.off == other.off
            && self.len == other.len
            && self.mask == other.mask
            && self.protos == other.protos
    }

    /// The tested field's masked value in IP packet `ip`, or `None` when the
    /// packet lacks it (wrong protocol, later fragment, too short).
    #[inline]
    pub fn extract(&self, ip: &[u8]) -> Option<u32> {
        if !self.protos.is_empty() && !ip.get(9).is_some_and(|p| self.protos.contains(p)) {
            return None;
        }
        let start = match self.base {
            Base::Ip => 0,
            Base::Transp => {
                let (&vhl, f) = (ip.first()?, ip.get(6..8)?);
                let hl = usize::from(vhl & 0x0f) * 4;
                if u16::from_be_bytes([f[0], f[1]]) & 0x1fff != 0 || hl < 20 {
                    return None;
                }
                hl
            }
        };
        let at = start.checked_add(self.off)?;
        let bytes = ip.get(at..at.checked_add(self.len)?)?;
        Some(bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) & self.mask)
    }

    /// Whether IP packet `ip` (from its IP header to the end of the data) passes.
    #[inline]
    pub fn eval(&self, ip: &[u8]) -> bool {
        self.extract(ip).is_some_and(|v| match self.rel {
            Rel::Eq => v == self.value,
            Rel::Ne => v != self.value,
            Rel::Lt => v < self.value,
            Rel::Gt => v > self.value,
            Rel::Le => v <= self.value,
            Rel::Ge => v >= self.value,
        })
    }
}

/// A [`Test`] laid out for the per-packet path, which classifiers' compiled
/// programs use: the protocol list as a 256-bit set, and 1-, 2- and 4-byte
/// fields read whole. [`Test::eval`] is the reference it must agree with.
#[derive(Clone, Debug)]
pub struct FieldTest {
    /// Bit p set: protocol p may have the field (all set when the test has no
    /// protocol list).
    protos: [u64; 4],
    any_proto: bool,
    transp: bool,
    off: u32,
    len: u32,
    mask: u32,
    /// Every relation as a range: the test passes when the masked field is
    /// present and `field - lo <= span` (wrapping) differs from `invert`.
    lo: u32,
    span: u32,
    invert: bool,
}

impl From<&Test> for FieldTest {
    fn from(t: &Test) -> FieldTest {
        let v = t.value;
        let (lo, span, invert) = match t.rel {
            Rel::Eq => (v, 0, false),
            Rel::Ne => (v, 0, true),
            Rel::Le => (0, v, false),
            Rel::Ge => (v, u32::MAX - v, false),
            // v < value is not v >= value; v > value is not v <= value.
            Rel::Lt => (v, u32::MAX - v, true),
            Rel::Gt => (0, v, true),
        };
        let mut protos = [0u64; 4];
        for &p in &t.protos {
            protos[usize::from(p >> 6)] |= 1 << (p & 63);
        }
        FieldTest {
            protos,
            any_proto: t.protos.is_empty(),
            transp: t.base == Base::Transp,
            // Offsets and lengths come from a configuration's `ip[OFF:LEN]`; ones
            // this large match nothing, as with the reference.
            off: u32::try_from(t.off).unwrap_or(u32::MAX / 2),
            len: u32::try_from(t.len).unwrap_or(u32::MAX / 2),
            mask: t.mask,
            lo,
            span,
            invert,
        }
    }
}

impl FieldTest {
    /// As [`Test::extract`].
    #[inline(always)]
    pub fn extract(&self, ip: &[u8]) -> Option<u32> {
        if !self.any_proto {
            let p = *ip.get(9)?;
            if (self.protos[usize::from(p >> 6)] >> (p & 63)) & 1 == 0 {
                return None;
            }
        }
        let start = if self.transp {
            let (&vhl, f) = (ip.first()?, ip.get(6..8)?);
            let hl = usize::from(vhl & 0x0f) * 4;
            if (u16::from_be_bytes([f[0], f[1]]) & 0x1fff) != 0 || hl < 20 {
                return None;
            }
            hl
        } else {
            0
        };
        let at = start + self.off as usize;
        let v = match self.len {
            1 => u32::from(*ip.get(at)?),
            2 => u32::from(u16::from_be_bytes(*ip.get(at..)?.first_chunk::<2>()?)),
            4 => u32::from_be_bytes(*ip.get(at..)?.first_chunk::<4>()?),
            n => ip.get(at..at + n as usize)?.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)),
        };
        Some(v & self.mask)
    }

    /// As [`Test::eval`].
    #[inline(always)]
    pub fn eval(&self, ip: &[u8]) -> bool {
        self.extract(ip).is_some_and(|v| (v.wrapping_sub(self.lo) <= self.span) != self.invert)
    }
}

impl Expr {
    pub fn eval(&self, ip: &[u8]) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Test(t) => t.eval(ip),
            Expr::Not(e) => !e.eval(ip),
            Expr::And(a, b) => a.eval(ip) && b.eval(ip),
            Expr::Or(a, b) => a.eval(ip) || b.eval(ip),
            Expr::Cond(c, a, b) => {
                if c.eval(ip) {
                    a.eval(ip)
                } else {
                    b.eval(ip)
                }
            }
        }
    }
}

/// Click's port names.
const PORTS: &[(&str, u16)] = &[
    ("echo", 7),
    ("discard", 9),
    ("daytime", 13),
    ("chargen", 19),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("dns", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("finger", 79),
    ("www", 80),
    ("http", 80),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("irc", 194),
    ("imap3", 220),
    ("https", 443),
    ("rip", 520),
    ("route", 520),
    ("imaps", 993),
    ("pop3s", 995),
];

const PROTOS: &[(&str, u8)] =
    &[("icmp", IP_PROTO_ICMP), ("igmp", 2), ("ipip", 4), ("tcp", IP_PROTO_TCP), ("udp", IP_PROTO_UDP)];

const TCP_FLAGS: &[(&str, u8)] = &[("fin", 1), ("syn", 2), ("rst", 4), ("psh", 8), ("ack", 16), ("urg", 32)];

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

fn parse_number(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// Split a pattern into tokens: words (addresses, numbers, names, `ip[9:1]`) and
/// the operators `( ) ! && || == != < > <= >= & ? :`.
fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let two = s.get(i..i + 2).unwrap_or("");
        if matches!(two, "&&" | "||" | "==" | "!=" | "<=" | ">=") {
            out.push(two.to_string());
            i += 2;
            continue;
        }
        if b"()!<>&?:=".contains(&c) {
            out.push((c as char).to_string());
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() {
            let c = b[i];
            if c == b'[' {
                // A bracketed offset belongs to the word: `ip[9:1]`.
                match s[i..].find(']') {
                    Some(k) => i += k + 1,
                    None => return Err(format!("missing ']' in '{}'", &s[start..])),
                }
                continue;
            }
            if c.is_ascii_alphanumeric() || b"._/-*".contains(&c) {
                i += 1;
            } else {
                break;
            }
        }
        if i == start {
            return Err(format!("unexpected '{}'", c as char));
        }
        out.push(s[start..i].to_string());
    }
    Ok(out)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    SrcOrDst,
    SrcAndDst,
}

/// What a primitive tests, remembered so a following bare value can reuse it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    Proto,
    IpField(usize, usize, u32, u32),
    TcpOpt,
    TcpWin,
    IcmpType,
    Bytes(Base, usize, usize, Vec<u8>),
}

#[derive(Clone, Debug)]
struct Context {
    dir: Option<Dir>,
    proto: Option<u8>,
    kind: Kind,
}

struct Parser<'n> {
    toks: Vec<String>,
    pos: usize,
    last: Option<Context>,
    /// AddressInfo names `host`, `net` and `src`/`dst` values may use.
    names: Option<&'n AddressNames>,
}

fn and(a: Expr, b: Expr) -> Expr {
    Expr::And(Box::new(a), Box::new(b))
}

fn or(a: Expr, b: Expr) -> Expr {
    Expr::Or(Box::new(a), Box::new(b))
}

fn is_connective(t: &str) -> bool {
    matches!(t, "and" | "&&" | "or" | "||" | ")" | "?" | ":")
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }
    fn peek_at(&self, k: usize) -> Option<&str> {
        self.toks.get(self.pos + k).map(String::as_str)
    }
    fn next(&mut self) -> Option<String> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let c = self.or_expr()?;
        if self.eat("?") {
            let a = self.expr()?;
            if !self.eat(":") {
                return Err(String::from("missing ':' in '? :'"));
            }
            let b = self.expr()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut e = self.and_expr()?;
        while self.eat("or") || self.eat("||") {
            let r = self.and_expr()?;
            e = or(e, r);
        }
        Ok(e)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut e = self.not_expr()?;
        loop {
            if self.eat("and") || self.eat("&&") {
                let r = self.not_expr()?;
                e = and(e, r);
            } else if self.peek().is_some_and(|t| !is_connective(t)) {
                // Juxtaposed primitives are and-ed.
                let r = self.not_expr()?;
                e = and(e, r);
            } else {
                return Ok(e);
            }
        }
    }

    fn not_expr(&mut self) -> Result<Expr, String> {
        if self.eat("not") || self.eat("!") {
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        if self.eat("(") {
            let e = self.expr()?;
            if !self.eat(")") {
                return Err(String::from("missing ')'"));
            }
            return Ok(e);
        }
        self.primitive()
    }

    /// An optional relation and mask: `& MASK`, then `== != < > <= >=`.
    fn relation(&mut self) -> Result<(u32, Rel), String> {
        let mut mask = u32::MAX;
        if self.eat("&") {
            let m = self.next().ok_or("missing mask after '&'")?;
            mask = parse_number(&m).ok_or_else(|| format!("bad mask '{m}'"))?;
        }
        let rel = match self.peek() {
            Some("==") | Some("=") => Rel::Eq,
            Some("!=") => Rel::Ne,
            Some("<") => Rel::Lt,
            Some(">") => Rel::Gt,
            Some("<=") => Rel::Le,
            Some(">=") => Rel::Ge,
            _ => return Ok((mask, Rel::Eq)),
        };
        self.pos += 1;
        Ok((mask, rel))
    }

    fn primitive(&mut self) -> Result<Expr, String> {
        let Some(first) = self.peek().map(str::to_string) else {
            return Err(String::from("missing pattern"));
        };
        match first.as_str() {
            "true" => {
                self.pos += 1;
                return Ok(Expr::Const(true));
            }
            "false" => {
                self.pos += 1;
                return Ok(Expr::Const(false));
            }
            "-" | "any" | "all" => {
                self.pos += 1;
                return Ok(Expr::Const(true));
            }
            _ => {}
        }
        // Direction.
        let mut dir = None;
        if first == "src" || first == "dst" {
            self.pos += 1;
            dir = Some(if first == "src" { Dir::Src } else { Dir::Dst });
            if matches!(self.peek(), Some("or") | Some("and")) && matches!(self.peek_at(1), Some("src") | Some("dst")) {
                let both = self.next() == Some(String::from("and"));
                self.pos += 1;
                dir = Some(if both { Dir::SrcAndDst } else { Dir::SrcOrDst });
            }
        }
        // Protocol qualifier.
        let mut proto = None;
        let mut ip_qual = false;
        if let Some(t) = self.peek() {
            if t == "ip" {
                ip_qual = true;
                self.pos += 1;
            } else if let Some(p) = lookup(PROTOS, t) {
                proto = Some(p);
                self.pos += 1;
            }
        }
        let word = self.peek().map(str::to_string);
        let kind = match word.as_deref() {
            Some("host") => Some(Kind::Host),
            Some("net") => Some(Kind::Net),
            Some("port") => Some(Kind::Port),
            Some("proto") => Some(Kind::Proto),
            Some("vers") => Some(Kind::IpField(0, 1, 0xf0, 4)),
            Some("hl") => Some(Kind::IpField(0, 1, 0x0f, 0)),
            Some("id") => Some(Kind::IpField(4, 2, 0xffff, 0)),
            Some("tos") => Some(Kind::IpField(1, 1, 0xff, 0)),
            Some("dscp") => Some(Kind::IpField(1, 1, 0xfc, 2)),
            Some("ttl") => Some(Kind::IpField(8, 1, 0xff, 0)),
            Some("opt") => Some(Kind::TcpOpt),
            Some("win") => Some(Kind::TcpWin),
            Some("type") => Some(Kind::IcmpType),
            _ => None,
        };
        if kind.is_some() {
            self.pos += 1;
        }
        // Keyword-only primitives.
        if kind.is_none() {
            match word.as_deref() {
                Some("frag") | Some("unfrag") if dir.is_none() => {
                    self.pos += 1;
                    let t = Expr::Test(Test {
                        base: Base::Ip,
                        off: 6,
                        len: 2,
                        mask: 0x3fff,
                        rel: Rel::Ne,
                        value: 0,
                        protos: Vec::new(),
                    });
                    return Ok(if word.as_deref() == Some("frag") { t } else { Expr::Not(Box::new(t)) });
                }
                Some("ect") | Some("ce") if dir.is_none() => {
                    self.pos += 1;
                    let ce = word.as_deref() == Some("ce");
                    return Ok(Expr::Test(Test {
                        base: Base::Ip,
                        off: 1,
                        len: 1,
                        mask: 3,
                        rel: if ce { Rel::Eq } else { Rel::Ne },
                        value: if ce { 3 } else { 0 },
                        protos: Vec::new(),
                    }));
                }
                Some(w) if w.contains('[') => {
                    self.pos += 1;
                    let (base_word, rest) = w.split_once('[').unwrap_or((w, ""));
                    let inner = rest.trim_end_matches(']');
                    let (off, len) = match inner.split_once(':') {
                        Some((o, l)) => (o.trim(), l.trim()),
                        None => (inner.trim(), "1"),
                    };
                    let off: usize = off
                        .parse()
                        .ok()
                        .filter(|&o: &usize| o < 65_536)
                        .ok_or_else(|| format!("bad offset in '{w}'"))?;
                    let len: usize = len.parse().map_err(|_| format!("bad length in '{w}'"))?;
                    if !(1..=4).contains(&len) {
                        return Err(format!("'{w}': length must be 1 to 4 bytes"));
                    }
                    let (base, protos) = match base_word {
                        "ip" => (Base::Ip, Vec::new()),
                        "transp" => (Base::Transp, Vec::new()),
                        "tcp" => (Base::Transp, alloc::vec![IP_PROTO_TCP]),
                        "udp" => (Base::Transp, alloc::vec![IP_PROTO_UDP]),
                        "icmp" => (Base::Transp, alloc::vec![IP_PROTO_ICMP]),
                        other => return Err(format!("unknown header '{other}['")),
                    };
                    let ctx = Context { dir: None, proto: None, kind: Kind::Bytes(base, off, len, protos) };
                    return self.value_test(ctx);
                }
                _ => {}
            }
        }
        let ctx = match kind {
            Some(kind) => Context { dir, proto, kind },
            None => {
                // A bare protocol: `tcp`, `ip proto`-less.
                if let Some(p) = proto
                    && (self.peek().is_none_or(is_connective) || self.peek_is_primitive_start())
                {
                    if dir.is_some() {
                        return Err(String::from("'src'/'dst' needs host, net or port"));
                    }
                    self.last = Some(Context { dir: None, proto: None, kind: Kind::Proto });
                    return Ok(proto_test(p, Rel::Eq, u32::MAX));
                }
                if ip_qual {
                    return Err(format!("unknown 'ip' primitive '{}'", word.unwrap_or_default()));
                }
                // A bare value: reuse the previous primitive's qualifiers, or guess
                // from the value itself.
                let v = word.clone().ok_or("missing value")?;
                match &self.last {
                    Some(last) if dir.is_none() && proto.is_none() => last.clone(),
                    _ => {
                        let kind = if lookup(TCP_FLAGS, &v).is_some() {
                            Kind::TcpOpt
                        } else if v.contains('/') {
                            Kind::Net
                        } else if Ipv4Addr::parse_arg(&v).is_ok() {
                            Kind::Host
                        } else if lookup(PORTS, &v).is_some() {
                            Kind::Port
                        } else {
                            return Err(format!("unknown primitive '{v}'"));
                        };
                        Context { dir, proto, kind }
                    }
                }
            }
        };
        self.value_test(ctx)
    }

    /// Whether the next token starts a new primitive (so a bare protocol ends).
    fn peek_is_primitive_start(&self) -> bool {
        matches!(
            self.peek(),
            Some("src") | Some("dst") | Some("not") | Some("!") | Some("(") | Some("true") | Some("false")
        ) || self.peek().is_some_and(|t| lookup(PROTOS, t).is_some() || t == "ip" || t.contains('['))
    }

    /// The value part of a primitive whose qualifiers are `ctx`.
    fn value_test(&mut self, ctx: Context) -> Result<Expr, String> {
        let (mask, rel) = self.relation()?;
        let v = self.next().ok_or("missing value")?;
        self.last = Some(ctx.clone());
        let dirs = |d: Option<Dir>, src: Expr, dst: Expr| match d.unwrap_or(Dir::SrcOrDst) {
            Dir::Src => src,
            Dir::Dst => dst,
            Dir::SrcOrDst => or(src, dst),
            Dir::SrcAndDst => and(src, dst),
        };
        let field = |base, off, len, m: u32, value: u32, protos: Vec<u8>| {
            Expr::Test(Test { base, off, len, mask: m & mask, rel, value: value & m & mask, protos })
        };
        Ok(match ctx.kind {
            Kind::Host | Kind::Net => {
                let names = self.names;
                let named_ip = |v: &str| names.and_then(|n| Ipv4Addr::from_name(v, n));
                let (addr, m) = if ctx.kind == Kind::Host {
                    let a = Ipv4Addr::parse_arg(&v)
                        .ok()
                        .or_else(|| named_ip(&v))
                        .ok_or_else(|| format!("bad IP address '{v}'"))?;
                    (u32::from_be_bytes(a.0), u32::MAX)
                } else if self.eat("mask") {
                    let a = Ipv4Addr::parse_arg(&v)
                        .ok()
                        .or_else(|| named_ip(&v))
                        .ok_or_else(|| format!("bad network '{v}'"))?;
                    let mt = self.next().ok_or("missing mask")?;
                    let m = Ipv4Addr::parse_arg(&mt).map_err(|_| format!("bad mask '{mt}'"))?;
                    (u32::from_be_bytes(a.0), u32::from_be_bytes(m.0))
                } else {
                    let p = Ipv4Prefix::parse_arg(&v)
                        .ok()
                        .or_else(|| names.and_then(|n| Ipv4Prefix::from_name(&v, n)))
                        .ok_or_else(|| format!("bad network '{v}'"))?;
                    (u32::from_be_bytes(p.addr.0), u32::from_be_bytes(p.mask.0))
                };
                let src = field(Base::Ip, 12, 4, m, addr, Vec::new());
                let dst = field(Base::Ip, 16, 4, m, addr, Vec::new());
                dirs(ctx.dir, src, dst)
            }
            Kind::Port => {
                let port = lookup(PORTS, &v)
                    .map(u32::from)
                    .or_else(|| parse_number(&v).filter(|&p| p <= 0xffff))
                    .ok_or_else(|| format!("bad port '{v}'"))?;
                let protos = match ctx.proto {
                    Some(p) => alloc::vec![p],
                    None => alloc::vec![IP_PROTO_TCP, IP_PROTO_UDP],
                };
                let src = field(Base::Transp, 0, 2, 0xffff, port, protos.clone());
                let dst = field(Base::Transp, 2, 2, 0xffff, port, protos);
                dirs(ctx.dir, src, dst)
            }
            Kind::Proto => {
                let p = lookup(PROTOS, &v)
                    .map(u32::from)
                    .or_else(|| parse_number(&v).filter(|&p| p <= 0xff))
                    .ok_or_else(|| format!("bad protocol '{v}'"))?;
                field(Base::Ip, 9, 1, 0xff, p, Vec::new())
            }
            Kind::IpField(off, len, m, shift) => {
                let n = parse_number(&v).ok_or_else(|| format!("bad number '{v}'"))?;
                field(Base::Ip, off, len, m, n << shift, Vec::new())
            }
            Kind::TcpOpt => {
                let f = u32::from(lookup(TCP_FLAGS, &v).ok_or_else(|| format!("bad TCP option '{v}'"))?);
                Expr::Test(Test {
                    base: Base::Transp,
                    off: 13,
                    len: 1,
                    mask: f,
                    rel: Rel::Ne,
                    value: 0,
                    protos: alloc::vec![IP_PROTO_TCP],
                })
            }
            Kind::TcpWin => {
                let n = parse_number(&v).ok_or_else(|| format!("bad window '{v}'"))?;
                field(Base::Transp, 14, 2, 0xffff, n, alloc::vec![IP_PROTO_TCP])
            }
            Kind::IcmpType => {
                let t = icmp_type_by_name(&v).ok_or_else(|| format!("bad ICMP type '{v}'"))?;
                field(Base::Transp, 0, 1, 0xff, u32::from(t), alloc::vec![IP_PROTO_ICMP])
            }
            Kind::Bytes(base, off, len, protos) => {
                let n = parse_number(&v).ok_or_else(|| format!("bad value '{v}'"))?;
                let full = if len == 4 { u32::MAX } else { (1u32 << (8 * len)) - 1 };
                field(base, off, len, full, n, protos)
            }
        })
    }
}

fn proto_test(p: u8, rel: Rel, mask: u32) -> Expr {
    Expr::Test(Test { base: Base::Ip, off: 9, len: 1, mask: 0xff & mask, rel, value: u32::from(p), protos: Vec::new() })
}

/// Parse one pattern.
pub fn parse(pattern: &str) -> Result<Expr, String> {
    parse_with_names(pattern, None)
}

/// Parse one pattern whose addresses may be AddressInfo names (`dst host
/// intern`, `src net extern`), as Click's IPClassifier allows.
pub fn parse_with_names(pattern: &str, names: Option<&AddressNames>) -> Result<Expr, String> {
    let toks = tokenize(pattern)?;
    if toks.is_empty() {
        return Err(String::from("empty pattern"));
    }
    let mut p = Parser { toks, pos: 0, last: None, names };
    let e = p.expr()?;
    if let Some(t) = p.peek() {
        return Err(format!("garbage after pattern at '{t}'"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20-byte IP header plus `transport`, from `src` to `dst`, protocol `proto`.
    fn ip(src: [u8; 4], dst: [u8; 4], proto: u8, transport: &[u8]) -> Vec<u8> {
        let mut v = alloc::vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v.extend_from_slice(transport);
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        v
    }

    fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
        let mut t = alloc::vec![0u8; 20];
        t[0..2].copy_from_slice(&sport.to_be_bytes());
        t[2..4].copy_from_slice(&dport.to_be_bytes());
        t[12] = 0x50;
        t[13] = flags;
        t
    }

    fn m(pattern: &str, pkt: &[u8]) -> bool {
        parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).eval(pkt)
    }

    #[test]
    fn hosts_nets_ports_and_implicit_operands() {
        let p = ip([10, 0, 0, 1], [10, 0, 0, 2], 6, &tcp(1234, 80, 0x02));
        assert!(m("src host 10.0.0.1", &p));
        assert!(!m("dst host 10.0.0.1", &p));
        assert!(m("host 10.0.0.2", &p));
        assert!(m("src host 1.0.0.1 or 10.0.0.1", &p));
        assert!(m("dst net 10.0.0.0/8", &p) && m("10.0.0.0/8", &p) && m("net 10.0.0.0 mask 255.0.0.0", &p));
        assert!(!m("src and dst host 10.0.0.1", &p));
        assert!(m("dst port www", &p) && m("www", &p) && m("tcp dst port 80", &p) && !m("udp port 80", &p));
        assert!(m("src port > 1023", &p) && !m("src port < 1024", &p));
        assert!(m("dst port 81 or 80", &p));
        assert!(m("tcp opt syn", &p) && m("syn", &p) && !m("tcp opt ack", &p));
        assert!(m("(dst port www or dst port ssh) and tcp opt syn", &p));
        assert!(m("tcp && !udp", &p) && m("ip proto tcp", &p) && m("ip proto 6", &p));
        assert!(m("ip ttl 64 and ip vers 4 and ip hl 5", &p));
        assert!(m("ip[9] == 6", &p) && m("transp[0:2] 1234", &p) && m("ip[19]&128==0", &p));
        assert!(m("unfrag", &p) && !m("ip frag", &p));
        assert!(m("-", &p) && m("true", &p) && !m("false", &p));
        assert!(m("tcp ? dst port 80 : false", &p));
    }

    #[test]
    fn missing_bytes_and_fragments_make_tests_false() {
        let p = ip([10, 0, 0, 1], [10, 0, 0, 2], 6, &tcp(1234, 80, 0x02));
        let short = &p[..21];
        assert!(!m("transp[1]&128==0", short) && !m("transp[1]&128!=0", short));
        assert!(m("not (transp[1]&128==0)", short));
        assert!(!m("ip[19]&128==0", &p[..19]));
        let mut frag = p.clone();
        frag[7] = 1;
        assert!(!m("dst port 80", &frag) && !m("dst port != 80", &frag) && m("ip frag", &frag));
        // `!=` on ports still needs the protocol; `not` does not.
        let u = ip([1, 1, 1, 1], [2, 2, 2, 2], 1, &[8, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!m("src tcp port != 5", &u) && m("!(src tcp port == 5)", &u));
        assert!(m("icmp type echo", &u) && !m("icmp type != 8", &u));
        assert!(!m("host 1.1.1.1", &[]));
    }

    #[test]
    fn syntax_errors_are_reported() {
        for bad in ["", "src", "port", "host 1.2.3", "ip[1:9] 0", "frob", "(tcp", "tcp )", "ip bogus 3"] {
            assert!(parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn addresses_may_be_address_info_names() {
        let mut names = AddressNames::default();
        names.add_address_info("intern 10.0.0.1 10.0.0.0/8, extern 209.6.198.213").unwrap();
        let host = parse_with_names("dst host intern", Some(&names)).unwrap();
        assert_eq!(host, parse("dst host 10.0.0.1").unwrap());
        let net = parse_with_names("src net intern", Some(&names)).unwrap();
        assert_eq!(net, parse("src net 10.0.0.0/8").unwrap());
        assert_eq!(parse_with_names("dst host nobody", Some(&names)).unwrap_err(), "bad IP address 'nobody'");
        // A name with an address only is that address's /32.
        let one = parse_with_names("dst net extern", Some(&names)).unwrap();
        assert_eq!(one, parse("dst net 209.6.198.213/32").unwrap());
    }
}
