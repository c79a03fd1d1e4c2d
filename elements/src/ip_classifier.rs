//! IPClassifier, IPFilter — classify and filter IP packets by tcpdump-like patterns.
//!
//! `IPClassifier(PATTERN_1, ..., PATTERN_N)`
//!
//! One push input, N push outputs. Each packet goes to the output of the first
//! pattern it matches, and is dropped if none does. Packets need their IP header
//! annotation (CheckIPHeader, MarkIPHeader); without one, every header test is
//! false.
//!
//! Patterns are tcpdump-like, as in Click. Primitives: `[src|dst|src or dst|src
//! and dst] host ADDR`; `... net ADDR/LEN` or `net ADDR mask MASK`; `... [tcp|udp]
//! port PORT` (numbers or names such as `www`, `ssh`, `domain`); `ip proto P` or
//! just `tcp`, `udp`, `icmp`; `ip vers|hl|id|tos|dscp|ttl N`; `ip ect`, `ip ce`,
//! `ip frag`, `ip unfrag`; `tcp opt syn|fin|ack|rst|psh|urg`; `tcp win N`; `icmp
//! type T` (numbers or names such as `echo`); `ip[POS:LEN] V` and `transp[POS:LEN]
//! V` (also `tcp[...]`, `udp[...]`, `icmp[...]`); `true`, `false`. Value tests take
//! a relation (`==` by default, `!=`, `<`, `>`, `<=`, `>=`) and a mask (`& MASK`).
//! Combine them with `and`/`&&` (or by juxtaposition), `or`/`||`, `not`/`!`, `C ?
//! A : B` and parentheses. A value alone repeats the previous primitive's
//! qualifiers (`src port 80 or 81`), and a primitive may be just its value
//! (`www`, `syn`, `10.0.0.0/8`, `unfrag`). A pattern of `-`, `any` or `all`
//! matches every packet. Tests on bytes a packet lacks — a truncated header, the
//! transport header of a later fragment — are false (so `not` of one is true),
//! never out of bounds; `src tcp port != 5` still requires TCP.
//!
//! `IPFilter(ACTION_1 PATTERN_1, ..., ACTION_N PATTERN_N)`
//!
//! The same patterns, each with an ACTION: an output number, `allow` (output 0), or
//! `deny`/`drop` (drop the packet). Packets matching no pattern are dropped. For
//! example `IPFilter(allow udp dst port 1500, deny all)`.
//!
//! Rules are compiled for large rule sets: a run of consecutive rules that each
//! test the same fields for equality — the tenant demux `dst host A`, `dst host
//! B`, ..., or `<dst addr, proto, dst port>` triples — becomes one hash lookup, so
//! the 10,000th tenant costs what the first does; other runs of rules become one
//! decision graph (of up to 8 rules; longer runs, several) in which no test is
//! made twice on a path, tests decided by earlier ones are skipped, and equal
//! subgraphs are shared. Handlers: `program` (the compiled form),
//! `pattern0`, `pattern1`, ...

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashMap;
use oxclick_lang::args::split_args;
use oxclick_runtime::{
    Batch, ConfigCtx, ConfigErrors, Ctx, Element, LaneCtx, LaneElement, LaneMaker, Packet, route_batch,
};

use crate::ip_decision::{Dag, Node};
use crate::ip_pattern::{Base, Expr, FieldTest, Rel, Test, parse_with_names};
use crate::static_map::StaticU32Map;

/// Most fields an exact-match rule may compare and still be hashed.
const MAX_KEY_FIELDS: usize = 4;
/// Shortest run of exact-match rules worth a hash table.
const MIN_HASH_RUN: usize = 4;
/// Most rules in one decision graph. What a path knows (this field equals that
/// value) multiplies the subgraphs with every rule it spans: 10,000 unlike rules
/// in one graph took gigabytes, in graphs of 64 over a minute, of 16 0.2 s, of
/// 8 under 40 ms (`cargo xtask bench rules`). Longer runs become consecutive
/// graphs, each falling through to the next.
const MAX_GRAPH_RULES: usize = 8;

/// The equality tests of `e` if it is nothing but a conjunction of them.
fn exact_tests(e: &Expr, out: &mut Vec<Test>) -> bool {
    match e {
        Expr::Test(t) if t.rel == Rel::Eq => {
            out.push(t.clone());
            true
        }
        Expr::And(a, b) => exact_tests(a, out) && exact_tests(b, out),
        _ => false,
    }
}

/// One step of the compiled program.
enum Segment {
    /// Evaluate rule `i`'s expression tree.
    Rule(usize),
    /// Rules `first..=last` all test `fields` for equality: look the packet's
    /// values up, giving the first of those rules with that key.
    Hash {
        fields: Vec<Test>,
        fast: Vec<FieldTest>,
        table: KeyTable,
        first: usize,
        last: usize,
        /// Where the key is when it is one whole 4-byte field of the IP header
        /// for any protocol (the demux's `dst host`): read straight from there.
        addr_at: Option<usize>,
    },
    /// Rules `first..first + n` as one decision graph (its leaves count from
    /// `first`).
    Graph { dag: Dag, first: usize, n: usize },
}

/// Exact-match keys -> the first rule with that key. One-field keys (the demux's
/// `dst host`) are kept as themselves, a third of the bytes of a general key's
/// entry: at 10,000 tenants this table is most of what the demux has to keep in
/// the cache.
enum KeyTable {
    /// One 32-bit field (the demux's destination addresses): a table built for
    /// lookups alone.
    One(StaticU32Map),
    Many(HashMap<[u32; MAX_KEY_FIELDS], u32>),
}

impl KeyTable {
    fn get(&self, key: &[u32; MAX_KEY_FIELDS]) -> Option<usize> {
        match self {
            KeyTable::One(t) => t.get(key[0]),
            KeyTable::Many(t) => t.get(key).copied(),
        }
        .map(|i| i as usize)
    }

    fn len(&self) -> usize {
        match self {
            KeyTable::One(t) => t.len(),
            KeyTable::Many(t) => t.len(),
        }
    }
}

fn compile(rules: &[(Expr, Action)]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut run: Vec<(usize, Vec<Test>)> = Vec::new();
    let flush = |run: &mut Vec<(usize, Vec<Test>)>, out: &mut Vec<Segment>| {
        if run.len() >= MIN_HASH_RUN {
            let fields = run[0].1.clone();
            // Rule numbers fit: a configuration of 2^32 rules would not. (Nor
            // would one reach u32::MAX, the only value the one-field table
            // refuses; the general table takes the run then.)
            let one = (fields.len() == 1)
                .then(|| StaticU32Map::build(&run.iter().map(|(i, t)| (t[0].value, *i as u32)).collect::<Vec<_>>()))
                .flatten();
            let table = match one {
                Some(t) => KeyTable::One(t),
                None => {
                    let mut t = HashMap::with_capacity(run.len());
                    for (i, tests) in run.iter() {
                        let mut key = [0u32; MAX_KEY_FIELDS];
                        for (k, test) in tests.iter().enumerate() {
                            key[k] = test.value;
                        }
                        t.entry(key).or_insert(*i as u32);
                    }
                    KeyTable::Many(t)
                }
            };
            let (first, last) = (run[0].0, run[run.len() - 1].0);
            let fast = fields.iter().map(FieldTest::from).collect();
            let addr_at = match fields.as_slice() {
                [t] if t.base == Base::Ip && t.protos.is_empty() && t.len == 4 && t.mask == u32::MAX => Some(t.off),
                _ => None,
            };
            out.push(Segment::Hash { fields, fast, table, first, last, addr_at });
        } else {
            out.extend(run.iter().map(|(i, _)| Segment::Rule(*i)));
        }
        run.clear();
    };
    for (i, (e, _)) in rules.iter().enumerate() {
        let mut tests = Vec::new();
        let hashable = exact_tests(e, &mut tests) && !tests.is_empty() && tests.len() <= MAX_KEY_FIELDS;
        if !hashable {
            flush(&mut run, &mut out);
            out.push(Segment::Rule(i));
            continue;
        }
        let fits = run
            .first()
            .is_some_and(|(_, f)| f.len() == tests.len() && f.iter().zip(&tests).all(|(a, b)| a.same_field(b)));
        if !fits {
            flush(&mut run, &mut out);
        }
        run.push((i, tests));
    }
    flush(&mut run, &mut out);
    // Runs of rules evaluated one by one become one decision graph.
    let mut merged = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    let close = |pending: &mut Vec<usize>, merged: &mut Vec<Segment>| {
        // Pending rules are consecutive, so a chunk is `first..first + n`. A
        // lone rule becomes a graph too: a graph's walk is cheaper than an
        // expression tree's evaluation, and a constant rule (`-`, `true`) is a
        // graph with no tests at all.
        for chunk in pending.chunks(MAX_GRAPH_RULES) {
            let exprs: Vec<&Expr> = chunk.iter().map(|&i| &rules[i].0).collect();
            if let Some(dag) = Dag::build(&exprs) {
                merged.push(Segment::Graph { dag, first: chunk[0], n: chunk.len() });
                continue;
            }
            merged.extend(chunk.iter().map(|&i| Segment::Rule(i)));
        }
        pending.clear();
    };
    for seg in out {
        match seg {
            Segment::Rule(i) => pending.push(i),
            other => {
                close(&mut pending, &mut merged);
                merged.push(other);
            }
        }
    }
    close(&mut pending, &mut merged);
    merged
}

/// Where a matching rule sends the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Output(usize),
    Drop,
}

/// A configuration's rules and the program compiled from them. Elements with
/// equal configurations share one (10,000 tenants running the same firewall
/// hold one program, which stays in the cache).
#[derive(Default)]
struct Program {
    rules: Vec<(Expr, Action)>,
    segments: Vec<Segment>,
    /// The configuration, for the `patternN` handlers.
    config: String,
}

impl Program {
    fn build(filter: bool, config: &str, cx: &ConfigCtx) -> Result<Program, ConfigErrors> {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (i, text) in split_args(config).iter().enumerate() {
            let (action, pattern) = if filter {
                let t = text.trim();
                let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
                let action = match word {
                    "allow" => Some(Action::Output(0)),
                    "deny" | "drop" => Some(Action::Drop),
                    n => n.parse().ok().map(Action::Output),
                };
                match action {
                    Some(a) => (a, rest.trim()),
                    None => {
                        errors.push(format!(
                            "argument {}: unknown action '{word}' (expected allow, deny, drop or an output)",
                            i + 1
                        ));
                        continue;
                    }
                }
            } else {
                (Action::Output(i), text.trim())
            };
            match parse_with_names(pattern, Some(cx.names)) {
                Ok(e) => rules.push((e, action)),
                Err(e) => errors.push(format!("pattern {i}: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Program { segments: compile(&rules), rules, config: String::from(config) })
    }
}

#[derive(Clone)]
pub struct IPClassifier {
    filter: bool,
    program: Rc<Program>,
}

/// What a lane group leaves behind when it takes an element in (an empty
/// classifier).
impl Default for IPClassifier {
    fn default() -> Self {
        IPClassifier::classifier()
    }
}

/// Behind a demux (each tenant's firewall), the classifiers of one program run
/// as lanes of one group: a batch for many tenants is classified in one call.
impl LaneElement for IPClassifier {
    /// The classifier every lane is, when they all are one (as they are when
    /// the group forms: a `config` write may change one): then a packet is
    /// classified without reading its lane's element.
    type Summary = Option<IPClassifier>;
    fn fuses_with(&self, other: &Self) -> bool {
        self.filter == other.filter && Rc::ptr_eq(&self.program, &other.program)
    }
    fn summarize(lanes: &[IPClassifier]) -> Option<IPClassifier> {
        let first = lanes.first()?;
        lanes.iter().all(|c| c.fuses_with(first)).then(|| first.clone())
    }
    fn push_lanes(
        lanes: &mut [IPClassifier],
        all: &Option<IPClassifier>,
        _port: usize,
        batch: Batch,
        cx: &mut LaneCtx,
    ) {
        match all {
            Some(c) => cx.route_batch(batch, |p| c.output(p)),
            None => cx.route_batch(batch, |p| lanes.get(p.lane()).and_then(|c| c.output(p))),
        }
    }
}

impl IPClassifier {
    pub fn classifier() -> Self {
        IPClassifier { filter: false, program: Rc::default() }
    }
    pub fn filter() -> Self {
        IPClassifier { filter: true, program: Rc::default() }
    }

    /// The rule IP packet `ip` matches first, by evaluating each rule's
    /// expression in order: the plain reading of the rules that the compiled
    /// program must agree with (the differential tests check that it does).
    pub fn interpreted_rule(&self, ip: &[u8]) -> Option<usize> {
        self.program.rules.iter().position(|(e, _)| e.eval(ip))
    }

    /// The rule IP packet `ip` matches first, by the compiled program.
    #[inline]
    pub fn matching_rule(&self, ip: &[u8]) -> Option<usize> {
        let program = &*self.program;
        for seg in &program.segments {
            match seg {
                Segment::Rule(i) => {
                    if program.rules[*i].0.eval(ip) {
                        return Some(*i);
                    }
                }
                Segment::Graph { dag, first, .. } => {
                    if let Some(k) = dag.eval(ip) {
                        return Some(first + k);
                    }
                }
                Segment::Hash { table: KeyTable::One(t), addr_at: Some(at), .. } => {
                    // The demux's case: one address, at a fixed place.
                    let key = ip.get(*at..).and_then(|b| b.first_chunk::<4>()).map(|b| u32::from_be_bytes(*b));
                    if let Some(i) = key.and_then(|k| t.get(k)) {
                        return Some(i as usize);
                    }
                }
                Segment::Hash { fast, table, .. } => {
                    let mut key = [0u32; MAX_KEY_FIELDS];
                    let mut complete = true;
                    for (k, t) in fast.iter().enumerate() {
                        match t.extract(ip) {
                            Some(v) => key[k] = v,
                            None => {
                                complete = false;
                                break;
                            }
                        }
                    }
                    if complete && let Some(i) = table.get(&key) {
                        return Some(i);
                    }
                }
            }
        }
        None
    }

    fn action(&self, p: &Packet) -> Action {
        let ip = p.anno.network_header.and_then(|nh| p.data().get(nh..)).unwrap_or(&[]);
        self.matching_rule(ip).and_then(|i| self.program.rules.get(i)).map_or(Action::Drop, |r| r.1)
    }

    /// The output `p` goes out of; None: dropped.
    #[inline]
    fn output(&self, p: &Packet) -> Option<usize> {
        match self.action(p) {
            Action::Output(o) => Some(o),
            Action::Drop => None,
        }
    }
}

fn render(e: &Expr, out: &mut String) {
    match e {
        Expr::Const(b) => out.push_str(if *b { "true" } else { "false" }),
        Expr::Not(x) => {
            out.push_str("!(");
            render(x, out);
            out.push(')');
        }
        Expr::And(a, b) | Expr::Or(a, b) => {
            out.push('(');
            render(a, out);
            out.push_str(if matches!(e, Expr::And(..)) { " && " } else { " || " });
            render(b, out);
            out.push(')');
        }
        Expr::Cond(c, a, b) => {
            out.push('(');
            render(c, out);
            out.push_str(" ? ");
            render(a, out);
            out.push_str(" : ");
            render(b, out);
            out.push(')');
        }
        Expr::Test(t) => {
            let base = match t.base {
                Base::Ip => "ip",
                Base::Transp => "transp",
            };
            let rel = match t.rel {
                Rel::Eq => "==",
                Rel::Ne => "!=",
                Rel::Lt => "<",
                Rel::Gt => ">",
                Rel::Le => "<=",
                Rel::Ge => ">=",
            };
            if !t.protos.is_empty() {
                let ps: Vec<String> = t.protos.iter().map(|p| format!("{p}")).collect();
                out.push_str(&format!("proto in {{{}}} && ", ps.join(",")));
            }
            out.push_str(&format!("{base}[{}:{}]&0x{:x} {rel} 0x{:x}", t.off, t.len, t.mask, t.value));
        }
    }
}

impl Element for IPClassifier {
    fn class_name(&self) -> &'static str {
        if self.filter { "IPFilter" } else { "IPClassifier" }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/-"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let key = format!("{}\n{config}", self.class_name());
        self.program = cx.shared(&key, || Program::build(self.filter, config, cx))?;
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        let n = cx.noutputs();
        for (_, a) in &self.program.rules {
            if let Action::Output(o) = a
                && *o >= n
            {
                return Err(format!("a rule sends packets to output {o}, but there are only {n}"));
            }
        }
        let rules = self.program.rules.len();
        if !self.filter && rules != n {
            return Err(format!("{rules} patterns but {n} outputs; each pattern needs one output"));
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        if let Some(o) = self.output(&p) {
            cx.push(o, p);
        }
    }
    fn routes_batches(&self) -> bool {
        true
    }
    fn lane_maker(&self) -> Option<LaneMaker> {
        Some(LaneMaker::of::<IPClassifier>())
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
    /// Consecutive packets bound for the same output travel on as one batch, so
    /// the elements after a classifier keep batching.
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        route_batch(batch, cx, |p| self.output(p));
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        if name == "program" {
            let mut s = String::new();
            let action = |a: &Action| match a {
                Action::Output(o) => format!("output {o}"),
                Action::Drop => String::from("drop"),
            };
            let program = &*self.program;
            for seg in &program.segments {
                match seg {
                    Segment::Rule(i) => {
                        s.push_str(&format!("rule {i}: "));
                        render(&program.rules[*i].0, &mut s);
                        s.push_str(&format!(" -> {}\n", action(&program.rules[*i].1)));
                    }
                    Segment::Graph { dag, first, n } => {
                        s.push_str(&format!(
                            "rules {first}-{}: decision graph, {} tests, {} nodes, starting at node {}\n",
                            first + n - 1,
                            dag.tests.len(),
                            dag.nodes.len(),
                            dag.root
                        ));
                        for (k, node) in dag.nodes.iter().enumerate() {
                            match node {
                                Node::Leaf(Some(r)) => s.push_str(&format!("  {k}: rule {}\n", first + r)),
                                Node::Leaf(None) => s.push_str(&format!("  {k}: no rule\n")),
                                Node::Branch { test, yes, no } => {
                                    let mut t = String::new();
                                    render(&Expr::Test(dag.tests[*test as usize].clone()), &mut t);
                                    s.push_str(&format!("  {k}: {t} ? {yes} : {no}\n"));
                                }
                            }
                        }
                    }
                    Segment::Hash { fields, table, first, last, .. } => {
                        s.push_str(&format!("rules {first}-{last}: hash lookup on"));
                        for t in fields {
                            s.push(' ');
                            let mut probe = t.clone();
                            probe.value = 0;
                            let mut f = String::new();
                            render(&Expr::Test(probe), &mut f);
                            s.push_str(f.trim_end_matches(" == 0x0"));
                        }
                        s.push_str(&format!(" ({} keys) -> the rule's action\n", table.len()));
                    }
                }
            }
            return Some(s);
        }
        let i: usize = name.strip_prefix("pattern")?.parse().ok()?;
        split_args(&self.program.config).into_iter().nth(i)
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["program"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier(config: &str) -> IPClassifier {
        let mut c = IPClassifier::classifier();
        let names = oxclick_lang::args::AddressNames::default();
        c.configure(config, &ConfigCtx::with_names(&names)).unwrap();
        c
    }

    fn udp_to(dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut ip = alloc::vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 9, 9, 9];
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(&[0x30, 0x39]);
        ip.extend_from_slice(&dport.to_be_bytes());
        ip.extend_from_slice(&[0, 8, 0, 0]);
        ip
    }

    #[test]
    fn a_tenant_demux_is_one_hash_lookup_and_agrees_with_the_trees() {
        let mut patterns: Vec<String> = (0..1000).map(|t| format!("dst host 10.{}.{}.1", t / 256, t % 256)).collect();
        patterns.push(String::from("udp dst port 53"));
        patterns.push(String::from("-"));
        let c = classifier(&patterns.join(", "));
        assert_eq!(c.program.segments.len(), 2, "{}", c.read_handler("program").unwrap());
        assert!(matches!(c.program.segments[0], Segment::Hash { first: 0, last: 999, .. }));
        assert!(matches!(c.program.segments[1], Segment::Graph { first: 1000, n: 2, .. }));
        for (dst, port) in
            [([10, 0, 0, 1], 9), ([10, 3, 231, 1], 9), ([10, 3, 232, 1], 53), ([10, 200, 0, 1], 9), ([10, 0, 5, 2], 53)]
        {
            let ip = udp_to(dst, port);
            let by_tree = c.program.rules.iter().position(|(e, _)| e.eval(&ip));
            assert_eq!(c.matching_rule(&ip), by_tree, "{dst:?}:{port}");
        }
        assert_eq!(c.matching_rule(&udp_to([10, 3, 231, 1], 9)), Some(999));
        // Truncated before the address: no tenant rule matches, the catch-all does.
        assert_eq!(c.matching_rule(&udp_to([10, 0, 0, 1], 9)[..18]), Some(1001));
    }

    #[test]
    fn duplicate_keys_keep_the_first_rule() {
        let c = classifier("dst host 1.0.0.1, dst host 1.0.0.2, dst host 1.0.0.1, dst host 1.0.0.3, dst host 1.0.0.4");
        assert_eq!(c.matching_rule(&udp_to([1, 0, 0, 1], 9)), Some(0));
        assert_eq!(c.matching_rule(&udp_to([1, 0, 0, 4], 9)), Some(4));
        assert_eq!(c.matching_rule(&udp_to([1, 0, 0, 5], 9)), None);
    }

    #[test]
    fn triples_hash_too() {
        let pats: Vec<String> =
            (0..8).map(|i| format!("dst host 10.0.0.{i} and ip proto udp and dst port {}", 1000 + i)).collect();
        let c = classifier(&pats.join(", "));
        assert_eq!(c.program.segments.len(), 1);
        assert_eq!(c.matching_rule(&udp_to([10, 0, 0, 5], 1005)), Some(5));
        assert_eq!(c.matching_rule(&udp_to([10, 0, 0, 5], 1004)), None);
    }
}
