//! Many tenants in one router: In-Net's consolidation (seed 003, section 5), with
//! stateful tenants admitted safely.
//!
//! A [`Manifest`] lists tenants: their addresses and 3-tuples, their Click
//! configuration (a body with `input` and `output`, as a compound element's), a
//! trust level and a memory budget. [`consolidate`] checks each configuration
//! against the isolation rules ([`policy`]) and merges them into one flat router:
//!
//! ```text
//! platform/from -> platform/ether -> platform/check -> platform/demux   (IPClassifier: one rule per address / 3-tuple)
//! platform/demux[k] -> alice [0] -> alice/...(the tenant)... -> [1] alice [1] -> platform/to
//! platform/demux[last] -> platform/unmatched
//! ```
//!
//! where `alice` is the tenant's [`TenantGuard`](oxclick_elements::tenant_guard)
//! (its accounting handlers and its anti-spoofing rule) and `alice/...` are the
//! tenant's own elements, named as Click names a compound's parts. The result is
//! plain Click: `oxclick check`, `flatten` and `dot` read it, the host driver and
//! the guest run it, and because names are stable a regenerated merge hot-swaps
//! into a running router keeping every other tenant's state.
//!
//! Its own crate because it needs the language, the runtime (to check the merged
//! router and ask each element what state it keeps) and the element library, plus
//! a TOML reader the guest has no use for.

pub mod manifest;
pub mod policy;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use oxclick_lang::flat::{FlatConfig, FlatConnection, FlatElement, Landmark, Port};
use oxclick_runtime::{Registry, Router, RouterOptions, State};

pub use manifest::{Flow, Manifest, Platform, Tenant, registration_conflicts};
use policy::refused_class;

/// What one tenant takes in the merged router.
#[derive(Clone, Debug)]
pub struct TenantReport {
    pub name: String,
    /// Its elements, not counting its guard.
    pub elements: usize,
    /// Declared worst-case bytes: its elements and guard, their bounded state, and
    /// the router's bookkeeping for them.
    pub memory: usize,
    pub budget: usize,
    /// Whether any of its own elements keeps state that grows with traffic
    /// (flows, queued packets): such a tenant's router is suspended when idle,
    /// a stateless one may simply be stopped.
    pub stateful: bool,
}

/// A merged configuration.
#[derive(Clone, Debug)]
pub struct Merged {
    pub flat: FlatConfig,
    /// The merged configuration as Click text.
    pub text: String,
    pub tenants: Vec<TenantReport>,
}

/// The platform's elements, all under `platform/` (a name no tenant may take).
const FROM: &str = "platform/from";
const ETHER: &str = "platform/ether";
const CHECK: &str = "platform/check";
const BAD: &str = "platform/bad";
const NON_IP: &str = "platform/non_ip";
const ARP: &str = "platform/arp";
const DEMUX: &str = "platform/demux";
const UNMATCHED: &str = "platform/unmatched";
/// Traffic for tenants that never read their `input`.
const IGNORED: &str = "platform/ignored";
const PLATFORM_NAMES: &[&str] = &[FROM, ETHER, CHECK, BAD, NON_IP, ARP, DEMUX, UNMATCHED, IGNORED, TO];
const TO: &str = "platform/to";

/// Names the wrapper gives the outside ends of a tenant's input and output while
/// its configuration is read on its own.
const WRAP_IN: &str = "oxclick_tenant_input";
const WRAP_OUT: &str = "oxclick_tenant_output";

/// A tenant configuration read on its own: elements named `<tenant>/...`.
struct Body {
    elements: Vec<FlatElement>,
    /// Connections among the tenant's elements (indexes into `elements`).
    internal: Vec<(Port, Port, Landmark)>,
    /// Tenant ports fed by its `input`.
    from_input: Vec<Port>,
    /// Tenant ports that feed its `output`.
    to_output: Vec<Port>,
}

/// Read `text` (tenant `name`'s configuration from `file`) as the body of a compound
/// element called `name`: its elements come out as `name/...`.
fn read_body(name: &str, text: &str, file: &str, manifest: &str, registry: &Registry) -> Result<Body, Vec<String>> {
    let known = |n: &str| registry.contains(n);
    let opts = oxclick_lang::Options { is_primitive: Some(&known), ..oxclick_lang::Options::default() };
    let mut ports = [true, true];
    for _ in 0..3 {
        let mut wrapped = String::with_capacity(text.len() + 256);
        let _ = writeln!(wrapped, "elementclass OxclickTenant {{\n# 1 \"{file}\"");
        wrapped.push_str(text);
        let _ = writeln!(wrapped, "\n}}\n# 1 \"{manifest}\"");
        let _ = writeln!(wrapped, "{WRAP_IN} :: InfiniteSource(ACTIVE false); {WRAP_OUT} :: Discard;");
        let _ = writeln!(
            wrapped,
            "{}{name} :: OxclickTenant{};",
            if ports[0] { format!("{WRAP_IN} -> ") } else { String::new() },
            if ports[1] { format!(" -> {WRAP_OUT}") } else { String::new() }
        );
        let out = oxclick_lang::read(&wrapped, manifest, &opts);
        if oxclick_lang::diag::has_errors(&out.diagnostics) {
            // A tenant that never uses `input` (or `output`) is fine: leave it unconnected.
            let mut retry = false;
            for (side, what) in [(0, "input"), (1, "output")] {
                let msg = format!("'{name}' has no {what} 0");
                if ports[side] && out.diagnostics.iter().any(|d| d.message == msg) {
                    ports[side] = false;
                    retry = true;
                }
            }
            if retry {
                continue;
            }
            return Err(out
                .diagnostics
                .iter()
                .filter(|d| d.severity == oxclick_lang::diag::Severity::Error)
                .map(|d| d.click_text().trim_end().to_string())
                .collect());
        }
        return split_body(name, out.flat, file);
    }
    Err(vec![format!("{file}: could not read tenant '{name}'")])
}

fn split_body(name: &str, flat: FlatConfig, file: &str) -> Result<Body, Vec<String>> {
    let prefix = format!("{name}/");
    let mut errors = Vec::new();
    if !flat.requirements.is_empty() {
        errors.push(format!("{file}: tenant '{name}': require(...) is not allowed in a tenant configuration"));
    }
    let mut index = vec![usize::MAX; flat.elements.len()];
    let mut elements = Vec::new();
    let (mut wrap_in, mut wrap_out) = (usize::MAX, usize::MAX);
    for (i, e) in flat.elements.into_iter().enumerate() {
        if e.name == WRAP_IN {
            wrap_in = i;
        } else if e.name == WRAP_OUT {
            wrap_out = i;
        } else if e.name.starts_with(&prefix) {
            index[i] = elements.len();
            elements.push(e);
        } else {
            // Only unbalanced braces in the tenant's text can put an element here.
            errors.push(format!(
                "{}: tenant '{name}': element '{}' is outside the tenant's configuration (unbalanced braces?)",
                e.landmark, e.name
            ));
        }
    }
    let mut body = Body { elements, internal: Vec::new(), from_input: Vec::new(), to_output: Vec::new() };
    for c in flat.connections {
        let (f, t) = (c.from.element, c.to.element);
        if f == wrap_in && index[t] != usize::MAX {
            body.from_input.push(Port { element: index[t], port: c.to.port });
        } else if t == wrap_out && index[f] != usize::MAX {
            body.to_output.push(Port { element: index[f], port: c.from.port });
        } else if index[f] != usize::MAX && index[t] != usize::MAX {
            body.internal.push((
                Port { element: index[f], port: c.from.port },
                Port { element: index[t], port: c.to.port },
                c.landmark,
            ));
        }
    }
    if errors.is_empty() { Ok(body) } else { Err(errors) }
}

/// The same body for another tenant using the same file: rename the prefix.
fn renamed(body: &Body, from: &str, to: &str) -> Body {
    let cut = from.len();
    Body {
        elements: body
            .elements
            .iter()
            .map(|e| FlatElement { name: format!("{to}{}", &e.name[cut..]), ..e.clone() })
            .collect(),
        internal: body.internal.clone(),
        from_input: body.from_input.clone(),
        to_output: body.to_output.clone(),
    }
}

/// The demux rules for one tenant, one per address and 3-tuple (each a plain
/// conjunction of equality tests, so a run of them compiles to one hash lookup).
fn demux_rules(t: &Tenant) -> Vec<String> {
    let mut rules = Vec::new();
    for f in &t.flows {
        rules.push(match f.proto {
            6 | 17 => format!("dst host {} and {} and dst port {}", f.addr, f.proto_name(), f.port),
            p => format!("dst host {} and ip proto {p}", f.addr),
        });
    }
    for a in &t.addresses {
        rules.push(format!("dst host {a}"));
    }
    rules
}

fn guard_config(t: &Tenant) -> String {
    let mut args = vec![format!("TRUST {}", t.trust.name()), format!("PEERS {}", t.peers)];
    if !t.addresses.is_empty() {
        let addrs: Vec<String> = t.addresses.iter().map(|a| a.to_string()).collect();
        args.push(format!("ADDR {}", addrs.join(" ")));
    }
    for f in &t.flows {
        args.push(format!("FLOW {} {} {}", f.addr, f.proto, f.port));
    }
    if !t.allow.is_empty() {
        args.push(format!("ALLOW {}", t.allow.join(" ")));
    }
    args.join(", ")
}

/// Names of elements a configuration string could reach: the element of every
/// `ELEMENT.HANDLER` word (handler calls such as Counter's COUNT_CALL) and every
/// word that is a compound path (`other/elem`). Plain words are left alone: a
/// tenant named `dns` must not make `dst port dns` a reference to it.
fn referenced_names(config: &str) -> impl Iterator<Item = &str> {
    config.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')').filter_map(|w| {
        match w.rsplit_once('.') {
            Some((element, _)) if !element.is_empty() => Some(element),
            Some(_) => None,
            None => w.contains('/').then_some(w),
        }
    })
}

/// Read every tenant's configuration (with `read` — the file system, or a test's
/// map), check the isolation rules and merge. Every problem found is returned,
/// each naming the tenant (and the file, line and element where there is one).
pub fn consolidate(
    m: &Manifest,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    registry: &Registry,
) -> Result<Merged, Vec<String>> {
    let mut errors = Vec::new();
    // Tenants running the same file share one reading of it.
    let mut bodies: HashMap<PathBuf, (String, Result<Body, Vec<String>>)> = HashMap::new();
    let mut tenant_bodies: Vec<Option<Body>> = Vec::with_capacity(m.tenants.len());
    for t in &m.tenants {
        if !bodies.contains_key(&t.config_path) {
            let file = t.config_path.display().to_string();
            let body = match read(&t.config_path) {
                Ok(text) => read_body(&t.name, &text, &file, &m.file, registry),
                Err(e) => Err(vec![format!("{}: tenant '{}': cannot read {file}: {e}", m.file, t.name)]),
            };
            if let Err(e) = &body {
                errors.extend(e.iter().cloned());
            }
            bodies.insert(t.config_path.clone(), (t.name.clone(), body));
        }
        let (first, body) = &bodies[&t.config_path];
        tenant_bodies.push(body.as_ref().ok().map(|b| renamed(b, &format!("{first}/"), &format!("{}/", t.name))));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let tenant_bodies: Vec<Body> = tenant_bodies.into_iter().flatten().collect();

    // The isolation rules on classes and on names in configurations.
    let mut all_names: HashSet<&str> = PLATFORM_NAMES.iter().copied().collect();
    for (t, b) in m.tenants.iter().zip(&tenant_bodies) {
        all_names.insert(&t.name);
        all_names.extend(b.elements.iter().map(|e| e.name.as_str()));
    }
    for (t, b) in m.tenants.iter().zip(&tenant_bodies) {
        let own = format!("{}/", t.name);
        for e in &b.elements {
            if let Some(why) = refused_class(&e.class, t.trust) {
                errors.push(format!("{}: tenant '{}': element '{}' ({}): {why}", e.landmark, t.name, e.name, e.class));
            }
            for w in referenced_names(&e.config) {
                if !w.starts_with(&own) && all_names.contains(w) {
                    errors.push(format!(
                        "{}: tenant '{}': element '{}' ({}) names '{w}', which is not the tenant's: tenants share no elements or handlers",
                        e.landmark, t.name, e.name, e.class
                    ));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let flat = merge(m, &tenant_bodies);
    let reports = check(m, &flat, &tenant_bodies, registry)?;
    let mut text = format!(
        "// Generated by `oxclick consolidate {}`: {} tenant{} behind one demux.\n// Edit the manifest and the tenants' files, not this.\n\n",
        m.file,
        m.tenants.len(),
        if m.tenants.len() == 1 { "" } else { "s" }
    );
    text.push_str(&oxclick_lang::unparse::unparse(&flat));
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(Merged { flat, text, tenants: reports })
}

fn merge(m: &Manifest, bodies: &[Body]) -> FlatConfig {
    let lm = Landmark::new(&m.file, 1);
    let mut flat = FlatConfig::default();
    let add = |flat: &mut FlatConfig, name: &str, class: &str, config: String| {
        flat.elements.push(FlatElement { name: name.into(), class: class.into(), config, landmark: lm.clone() });
        flat.elements.len() - 1
    };
    let (in_class, in_config) = split_class(&m.platform.input);
    let (out_class, out_config) = split_class(&m.platform.output);
    let from = add(&mut flat, FROM, &in_class, in_config);
    let ether = match &m.platform.ether {
        Some(_) => add(&mut flat, ETHER, "Classifier", "12/0800, 12/0806 20/0001, -".into()),
        None => add(&mut flat, ETHER, "Classifier", "12/0800, -".into()),
    };
    let check = add(&mut flat, CHECK, "CheckIPHeader", "14".into());
    let bad = add(&mut flat, BAD, "Discard", String::new());
    let non_ip = add(&mut flat, NON_IP, "Discard", String::new());
    let arp = m.platform.ether.as_ref().map(|mac| {
        let mut addrs: Vec<String> = Vec::new();
        for t in &m.tenants {
            addrs.extend(t.addresses.iter().map(|a| a.to_string()));
            addrs.extend(t.flows.iter().map(|f| f.addr.to_string()));
        }
        addrs.dedup();
        add(&mut flat, ARP, "ARPResponder", format!("{} {mac}", addrs.join(" ")))
    });
    let mut rules = Vec::new();
    let mut rule_owner = Vec::new();
    for (i, t) in m.tenants.iter().enumerate() {
        for r in demux_rules(t) {
            rules.push(r);
            rule_owner.push(i);
        }
    }
    rules.push("-".into());
    let demux = add(&mut flat, DEMUX, "IPClassifier", rules.join(", "));
    let unmatched = add(&mut flat, UNMATCHED, "Discard", String::new());
    let to = add(&mut flat, TO, &out_class, out_config);

    let mut conns: Vec<(Port, Port, Landmark)> = Vec::new();
    let p = |element, port| Port { element, port };
    conns.push((p(from, 0), p(ether, 0), lm.clone()));
    conns.push((p(ether, 0), p(check, 0), lm.clone()));
    conns.push((p(check, 0), p(demux, 0), lm.clone()));
    conns.push((p(check, 1), p(bad, 0), lm.clone()));
    match arp {
        Some(arp) => {
            conns.push((p(ether, 1), p(arp, 0), lm.clone()));
            conns.push((p(arp, 0), p(to, 0), lm.clone()));
            conns.push((p(ether, 2), p(non_ip, 0), lm.clone()));
        }
        None => conns.push((p(ether, 1), p(non_ip, 0), lm.clone())),
    }
    conns.push((p(demux, rules.len() - 1), p(unmatched, 0), lm.clone()));

    let mut ignored = None;
    let mut guards = Vec::with_capacity(m.tenants.len());
    for (t, b) in m.tenants.iter().zip(bodies) {
        let tlm = Landmark::new(&m.file, t.line);
        let guard = add(&mut flat, &t.name, "TenantGuard", guard_config(t));
        flat.elements[guard].landmark = tlm.clone();
        guards.push(guard);
        let base = flat.elements.len();
        flat.elements.extend(b.elements.iter().cloned());
        for &(f, to_port, ref l) in &b.internal {
            conns.push((p(base + f.element, f.port), p(base + to_port.element, to_port.port), l.clone()));
        }
        for q in &b.from_input {
            conns.push((p(guard, 0), p(base + q.element, q.port), tlm.clone()));
        }
        if b.from_input.is_empty() {
            let sink = *ignored.get_or_insert_with(|| add(&mut flat, IGNORED, "Discard", String::new()));
            conns.push((p(guard, 0), p(sink, 0), tlm.clone()));
        }
        for q in &b.to_output {
            conns.push((p(base + q.element, q.port), p(guard, 1), tlm.clone()));
        }
        if !b.to_output.is_empty() {
            conns.push((p(guard, 1), p(to, 0), tlm.clone()));
        }
    }
    for (k, &owner) in rule_owner.iter().enumerate() {
        conns.push((p(demux, k), p(guards[owner], 0), lm.clone()));
    }
    flat.connections = conns.into_iter().map(|(from, to, landmark)| FlatConnection { from, to, landmark }).collect();
    flat
}

/// `Class(config)` -> (class, config).
fn split_class(s: &str) -> (String, String) {
    let s = s.trim();
    match s.split_once('(') {
        Some((c, rest)) => (c.trim().into(), rest.trim_end().strip_suffix(')').unwrap_or(rest).trim().into()),
        None => (s.into(), String::new()),
    }
}

/// Build the merged router (Click's checks, every element configured) and hold
/// each tenant to its memory budget. The platform's own I/O is replaced by inert
/// elements of the same shape, so checking opens no device or file.
fn check(
    m: &Manifest,
    flat: &FlatConfig,
    bodies: &[Body],
    registry: &Registry,
) -> Result<Vec<TenantReport>, Vec<String>> {
    let mut probe = flat.clone();
    for e in &mut probe.elements {
        if e.name == FROM {
            e.class = "InfiniteSource".into();
            e.config = "ACTIVE false".into();
        } else if e.name == TO {
            e.class = "Discard".into();
            e.config = String::new();
        }
    }
    let router = Router::new(&probe, registry, RouterOptions::quiet(Vec::new()))?;
    let mut errors = Vec::new();
    let mut reports = Vec::with_capacity(m.tenants.len());
    for (t, b) in m.tenants.iter().zip(bodies) {
        let mut memory = 0usize;
        let mut stateful = false;
        let mut largest: Option<(usize, &str, &str)> = None;
        let names = std::iter::once((t.name.as_str(), "TenantGuard", ""))
            .chain(b.elements.iter().map(|e| (e.name.as_str(), e.class.as_str(), e.config.as_str())));
        for (name, class, config) in names {
            let Some(i) = router.find(name) else { continue };
            let Some((state, size)) = router.element_state(i) else { continue };
            stateful |= class != "TenantGuard" && state != State::Stateless;
            let grows = match state {
                State::Stateless => 0,
                State::Bounded { bytes } => bytes,
                State::Unbounded => {
                    let lm = b.elements.iter().find(|e| e.name == name).map(|e| e.landmark.to_string());
                    errors.push(format!(
                        "{}: tenant '{}': element '{name}' ({class}) keeps state that grows with traffic without a bound: give it a capacity, or leave it out",
                        lm.unwrap_or_else(|| format!("{}:{}", m.file, t.line)),
                        t.name
                    ));
                    0
                }
            };
            let bytes = size + grows + policy::ROUTER_BYTES_PER_ELEMENT + name.len() + class.len() + config.len();
            memory = memory.saturating_add(bytes);
            if largest.is_none_or(|(b, _, _)| bytes > b) {
                largest = Some((bytes, name, class));
            }
        }
        if memory > t.memory {
            let (b, name, class) = largest.unwrap_or((0, "", ""));
            errors.push(format!(
                "{}:{}: tenant '{}': worst-case memory {} exceeds its budget {} (largest: '{name}' ({class}), {})",
                m.file,
                t.line,
                t.name,
                human(memory),
                human(t.memory),
                human(b)
            ));
        }
        reports.push(TenantReport {
            name: t.name.clone(),
            elements: b.elements.len(),
            memory,
            budget: t.memory,
            stateful,
        });
    }
    if errors.is_empty() { Ok(reports) } else { Err(errors) }
}

/// Bytes as people read them.
pub fn human(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}
