//! The tenant manifest: who the tenants are, which addresses are theirs, what they
//! run, how far they are trusted and how much memory they may take.
//!
//! ```toml
//! [platform]                      # optional; these are the defaults
//! input = "FromNetfront(0)"       # where the merged router's traffic comes from
//! output = "ToNetfront(0)"        # and where it leaves
//! # ether = "52:54:00:12:34:56"   # answer ARP for every tenant address with this MAC
//!
//! [[tenant]]
//! name = "alice"
//! addresses = ["10.0.0.1"]                                   # whole addresses
//! flows = [{ addr = "10.0.9.1", proto = "udp", port = 53 }]  # <addr, proto, port> 3-tuples
//! config = "alice.click"          # relative to the manifest
//! trust = "client"                # operator, client or third-party (default)
//! memory = "64KiB"                # worst-case state budget (default 1MiB)
//! allow = ["198.51.100.0/24"]     # third-party: destinations it may send to
//! peers = 256                     # sources its guard remembers (default 256)
//! ```
//!
//! Registration follows MultiStack's namespace rule: an address registered whole
//! belongs to one tenant, and a 3-tuple to at most one; any overlap between two
//! tenants is refused, naming both.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;

use oxclick_elements::tenant_guard::Trust;
use oxclick_elements::wire::parse_ip_proto;
use serde::Deserialize;

/// The default memory budget of a tenant.
pub const DEFAULT_MEMORY: usize = 1 << 20;
/// The default number of peers a tenant's guard remembers.
pub const DEFAULT_PEERS: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    platform: RawPlatform,
    #[serde(default)]
    tenant: Vec<RawTenant>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    input: Option<String>,
    output: Option<String>,
    ether: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    name: String,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    flows: Vec<RawFlow>,
    config: String,
    trust: Option<String>,
    memory: Option<toml::Value>,
    #[serde(default)]
    allow: Vec<String>,
    peers: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    addr: String,
    proto: String,
    port: Option<u16>,
}

/// A registered 3-tuple `<addr, proto, port>` (port 0 for protocols without ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub addr: Ipv4Addr,
    pub proto: u8,
    pub port: u16,
}

impl Flow {
    /// Whether the protocol has ports (TCP, UDP).
    pub fn has_port(&self) -> bool {
        matches!(self.proto, 6 | 17)
    }

    pub fn proto_name(&self) -> String {
        match self.proto {
            6 => "tcp".into(),
            17 => "udp".into(),
            1 => "icmp".into(),
            n => n.to_string(),
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_port() {
            write!(f, "<{}, {}, {}>", self.addr, self.proto_name(), self.port)
        } else {
            write!(f, "<{}, {}>", self.addr, self.proto_name())
        }
    }
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub name: String,
    pub addresses: Vec<Ipv4Addr>,
    pub flows: Vec<Flow>,
    /// The configuration file as the manifest names it, and as it can be opened.
    pub config: String,
    pub config_path: std::path::PathBuf,
    pub trust: Trust,
    /// Worst-case bytes its elements may declare.
    pub memory: usize,
    /// Third-party destinations it may send to, as prefixes (`ADDR/LEN`).
    pub allow: Vec<String>,
    /// How many peers (sources that sent to it) its guard remembers.
    pub peers: usize,
    /// The manifest line that names it, for messages about its guard and demux.
    pub line: u32,
}

#[derive(Clone, Debug)]
pub struct Platform {
    pub input: String,
    pub output: String,
    pub ether: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform { input: "FromNetfront(0)".into(), output: "ToNetfront(0)".into(), ether: None }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// The manifest's file name, for messages.
    pub file: String,
    pub platform: Platform,
    pub tenants: Vec<Tenant>,
}

/// Names the merged router uses itself: a tenant may not take them.
pub const RESERVED_NAMES: &[&str] = &["platform"];

/// `64KiB`, `1MiB`, `2MB`, `512k`, or a number of bytes.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The line of each `name = "NAME"` in the manifest, by name (one pass: a
/// manifest of 10,000 tenants must not be scanned once per tenant).
fn lines_naming(text: &str) -> HashMap<&str, u32> {
    let mut lines = HashMap::new();
    for (i, l) in text.lines().enumerate() {
        let Some(rest) = l.trim_start().strip_prefix("name") else { continue };
        let Some(value) = rest.trim_start().strip_prefix('=') else { continue };
        let value = value.trim();
        if let Some(name) = value.strip_prefix('"').and_then(|v| v.split('"').next()) {
            lines.entry(name).or_insert(i as u32 + 1);
        }
    }
    lines
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn valid_prefix(s: &str) -> bool {
    let (addr, len) = s.split_once('/').unwrap_or((s, "32"));
    addr.parse::<Ipv4Addr>().is_ok() && len.parse::<u8>().is_ok_and(|l| l <= 32)
}

impl Manifest {
    /// Read a manifest. `file` names it in messages; config paths are relative to
    /// `dir`. Every problem found is returned, each a `FILE: message` line.
    pub fn parse(text: &str, file: &str, dir: &std::path::Path) -> Result<Manifest, Vec<String>> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            vec![match line {
                Some(l) => format!("{file}:{l}: {msg}"),
                None => format!("{file}: {msg}"),
            }]
        })?;
        let mut errors = Vec::new();
        let mut m = Manifest { file: file.into(), ..Manifest::default() };
        if let Some(i) = raw.platform.input {
            m.platform.input = i;
        }
        if let Some(o) = raw.platform.output {
            m.platform.output = o;
        }
        m.platform.ether = raw.platform.ether;
        if raw.tenant.is_empty() {
            errors.push(format!("{file}: no [[tenant]] entries"));
        }
        let mut names: HashMap<String, usize> = HashMap::new();
        let name_lines = lines_naming(text);
        for (i, t) in raw.tenant.into_iter().enumerate() {
            let who = format!("{file}: tenant '{}'", t.name);
            if !valid_name(&t.name) {
                errors.push(format!(
                    "{who}: a tenant name is a letter or '_' then letters, digits, '_' or '-' (it prefixes its element names)"
                ));
            }
            if RESERVED_NAMES.contains(&t.name.as_str()) {
                errors.push(format!("{who}: the name '{}' is the platform's own", t.name));
            }
            if let Some(prev) = names.insert(t.name.clone(), i) {
                errors.push(format!("{who}: named twice (entries {} and {})", prev + 1, i + 1));
            }
            let trust = match t.trust.as_deref() {
                None => Trust::ThirdParty,
                Some(s) => Trust::parse(s).unwrap_or_else(|| {
                    errors.push(format!("{who}: trust '{s}': expected operator, client or third-party"));
                    Trust::ThirdParty
                }),
            };
            let memory = match &t.memory {
                None => DEFAULT_MEMORY,
                Some(toml::Value::Integer(n)) if *n >= 0 => *n as usize,
                Some(toml::Value::String(s)) => parse_size(s).unwrap_or_else(|| {
                    errors.push(format!("{who}: memory '{s}': expected a size such as 65536, 64KiB or 1MiB"));
                    0
                }),
                Some(v) => {
                    errors.push(format!("{who}: memory {v}: expected a size such as 65536, 64KiB or 1MiB"));
                    0
                }
            };
            let mut addresses = Vec::new();
            for a in &t.addresses {
                match a.parse::<Ipv4Addr>() {
                    Ok(a) => addresses.push(a),
                    Err(_) => errors.push(format!("{who}: address '{a}' is not an IPv4 address")),
                }
            }
            let mut flows = Vec::new();
            for f in &t.flows {
                let addr = f.addr.parse::<Ipv4Addr>();
                let proto = parse_ip_proto(&f.proto);
                match (addr, proto) {
                    (Ok(addr), Some(proto)) => {
                        let flow = Flow { addr, proto, port: f.port.unwrap_or(0) };
                        if flow.has_port() && f.port.is_none() {
                            errors.push(format!("{who}: flow {flow}: {} flows need a port", flow.proto_name()));
                        } else if !flow.has_port() && f.port.is_some() {
                            errors.push(format!("{who}: flow {flow}: protocol {} has no ports", flow.proto_name()));
                        } else {
                            flows.push(flow);
                        }
                    }
                    (Err(_), _) => errors.push(format!("{who}: flow address '{}' is not an IPv4 address", f.addr)),
                    (_, None) => {
                        errors.push(format!("{who}: flow protocol '{}': expected tcp, udp, icmp or a number", f.proto))
                    }
                }
            }
            if addresses.is_empty() && flows.is_empty() {
                errors.push(format!("{who}: no addresses or flows: no traffic could reach it"));
            }
            for a in &t.allow {
                if !valid_prefix(a) {
                    errors.push(format!("{who}: allow '{a}' is not an IPv4 prefix (ADDR or ADDR/LEN)"));
                }
            }
            let line = name_lines.get(t.name.as_str()).copied().unwrap_or(1);
            m.tenants.push(Tenant {
                name: t.name,
                addresses,
                flows,
                config_path: dir.join(&t.config),
                config: t.config,
                trust,
                memory,
                allow: t.allow,
                peers: t.peers.unwrap_or(DEFAULT_PEERS),
                line,
            });
        }
        errors.extend(registration_conflicts(&m.tenants).into_iter().map(|e| format!("{file}: {e}")));
        if errors.is_empty() { Ok(m) } else { Err(errors) }
    }
}

/// MultiStack's namespace rule across tenants: a whole address belongs to one
/// tenant, a 3-tuple to at most one, and an address registered whole by one
/// tenant cannot carry another tenant's 3-tuples. One message per conflict, naming
/// both tenants (the consolidator and the platform daemon both hold to it).
pub fn registration_conflicts(tenants: &[Tenant]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut whole: HashMap<Ipv4Addr, &str> = HashMap::new();
    let mut tuples: HashMap<Flow, &str> = HashMap::new();
    for t in tenants {
        for a in &t.addresses {
            match whole.get(a) {
                Some(&o) if o == t.name => errors.push(format!("tenant '{o}': address {a} listed twice")),
                Some(&o) => errors.push(format!("tenants '{o}' and '{}' both register address {a}", t.name)),
                None => {
                    whole.insert(*a, &t.name);
                }
            }
        }
    }
    for t in tenants {
        for f in &t.flows {
            if let Some(&o) = tuples.get(f) {
                errors.push(format!("tenants '{o}' and '{}' both register flow {f}", t.name));
                continue;
            }
            if let Some(&o) = whole.get(&f.addr) {
                errors.push(format!(
                    "tenant '{}' registers flow {f}, but tenant '{o}' registers the whole address {}",
                    t.name, f.addr
                ));
                continue;
            }
            tuples.insert(*f, &t.name);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, Vec<String>> {
        Manifest::parse(text, "t.toml", std::path::Path::new("/m"))
    }

    #[test]
    fn a_manifest_reads_with_defaults() {
        let m = parse(
            r#"
[[tenant]]
name = "alice"
addresses = ["10.0.0.1"]
flows = [{ addr = "10.0.9.1", proto = "udp", port = 53 }]
config = "alice.click"
trust = "client"
memory = "64KiB"
"#,
        )
        .expect("parses");
        assert_eq!(m.platform.input, "FromNetfront(0)");
        let t = &m.tenants[0];
        assert_eq!(t.memory, 65536);
        assert_eq!(t.trust, Trust::Client);
        assert_eq!(t.config_path, std::path::Path::new("/m/alice.click"));
        assert_eq!(t.flows[0].to_string(), "<10.0.9.1, udp, 53>");
    }

    #[test]
    fn every_mistake_is_reported_with_the_tenant() {
        let errs = parse(
            r#"
[[tenant]]
name = "platform"
addresses = ["10.0.0.300"]
config = "a.click"
trust = "root"
memory = "lots"

[[tenant]]
name = "9lives"
flows = [{ addr = "10.0.0.1", proto = "tcp" }, { addr = "10.0.0.1", proto = "icmp", port = 7 }]
config = "b.click"
allow = ["10.0.0.0/33"]
"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        for want in [
            "tenant 'platform': the name 'platform' is the platform's own",
            "address '10.0.0.300' is not an IPv4 address",
            "trust 'root'",
            "memory 'lots'",
            "tenant '9lives': a tenant name is",
            "tcp flows need a port",
            "protocol icmp has no ports",
            "allow '10.0.0.0/33'",
            "tenant 'platform': no addresses or flows",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }

    #[test]
    fn registrations_may_not_overlap() {
        let errs = parse(
            r#"
[[tenant]]
name = "a"
addresses = ["10.0.0.1"]
flows = [{ addr = "10.0.1.1", proto = "udp", port = 53 }]
config = "a.click"
[[tenant]]
name = "b"
addresses = ["10.0.0.1"]
flows = [{ addr = "10.0.1.1", proto = "udp", port = 53 }, { addr = "10.0.1.1", proto = "udp", port = 54 }]
config = "b.click"
[[tenant]]
name = "c"
flows = [{ addr = "10.0.0.1", proto = "tcp", port = 80 }]
config = "c.click"
"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        assert!(all.contains("tenants 'a' and 'b' both register address 10.0.0.1"), "{all}");
        assert!(all.contains("tenants 'a' and 'b' both register flow <10.0.1.1, udp, 53>"), "{all}");
        assert!(all.contains("tenant 'c' registers flow <10.0.0.1, tcp, 80>, but tenant 'a'"), "{all}");
        assert!(!all.contains("port 54"), "a different port of the same address is fine: {all}");
    }

    #[test]
    fn toml_errors_name_the_line() {
        let errs = parse("[[tenant]]\nname = \"a\"\nconfig = 3\n").unwrap_err();
        assert!(errs[0].starts_with("t.toml:3:"), "{errs:?}");
        let errs = parse("[[tenant]]\nname = \"a\"\nconfig = \"a\"\nadresses = []\n").unwrap_err();
        assert!(errs[0].contains("adresses"), "{errs:?}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("2 MB"), Some(2 << 20));
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }
}
