//! Pattern replacement on flat routers: what `click-xform` does.
//!
//! A pattern is a pair of compound classes, `X` and `X_Replacement`, flattened
//! with their ports tied to two marker elements ([`INPUT_MARKER`] feeding the
//! compound's inputs, [`OUTPUT_MARKER`] taking its outputs). Wherever a router holds
//! a copy of `X` — elements of the same classes, configurations equal once the
//! pattern's `$variables` are bound, connected exactly as in the pattern, and
//! connected to the rest of the router only through the pattern's ports — the copy
//! is replaced by `X_Replacement` with the same variables, wired to the same
//! neighbours. Patterns are applied in order, again and again, until none matches.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::args::split_args;
use crate::flat::{FlatConfig, FlatConnection, FlatElement, Port};

/// The element standing for a pattern's inputs: its output `k` is input `k`.
pub const INPUT_MARKER: &str = "__xform_input";
/// The element standing for a pattern's outputs: its input `k` is output `k`.
pub const OUTPUT_MARKER: &str = "__xform_output";

/// One pattern and its replacement, both flattened with the marker elements.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub name: String,
    pub find: FlatConfig,
    pub replace: FlatConfig,
}

/// Most replacements one run makes (a pattern whose replacement matches itself
/// would otherwise go on forever).
const MAX_REPLACEMENTS: usize = 10_000;

type Bindings = BTreeMap<String, String>;

/// Whether configuration `pat` (with `$variables`) matches `actual`, extending
/// `b`. Arguments are compared one by one; an argument that is a lone variable
/// matches any argument.
fn match_config(pat: &str, actual: &str, b: &mut Bindings) -> bool {
    let pa = split_args(pat);
    let aa = split_args(actual);
    if pa.len() != aa.len() {
        return false;
    }
    for (p, a) in pa.iter().zip(&aa) {
        let p = p.trim();
        let a = a.trim();
        if let Some(var) = p.strip_prefix('$').filter(|v| v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')) {
            match b.get(var) {
                Some(v) if v != a => return false,
                Some(_) => {}
                None => {
                    b.insert(var.into(), a.into());
                }
            }
        } else if substitute(p, b) != a {
            return false;
        }
    }
    true
}

/// `text` with bound `$variables` replaced by their values.
fn substitute(text: &str, b: &Bindings) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(k) = rest.find('$') {
        out.push_str(&rest[..k]);
        let after = &rest[k + 1..];
        let len = after.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
        match b.get(&after[..len]) {
            Some(v) if len > 0 => out.push_str(v),
            _ => out.push_str(&rest[k..k + 1 + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// A pattern's structure, in indexes of its flat config.
struct Shape {
    input: Option<usize>,
    output: Option<usize>,
    /// The pattern's real elements.
    elements: Vec<usize>,
}

impl Shape {
    fn of(c: &FlatConfig) -> Shape {
        let input = c.find(INPUT_MARKER);
        let output = c.find(OUTPUT_MARKER);
        let elements = (0..c.elements.len()).filter(|&i| Some(i) != input && Some(i) != output).collect();
        Shape { input, output, elements }
    }
}

/// A match: pattern element index → router element index, and the bindings.
struct Match {
    map: BTreeMap<usize, usize>,
    bindings: Bindings,
}

fn find_match(router: &FlatConfig, pat: &FlatConfig, shape: &Shape) -> Option<Match> {
    let mut map = BTreeMap::new();
    let mut used = alloc::vec![false; router.elements.len()];
    let mut b = Bindings::new();
    if shape.elements.is_empty() {
        return None;
    }
    if search(router, pat, shape, 0, &mut map, &mut used, &mut b) {
        return Some(Match { map, bindings: b });
    }
    None
}

fn search(
    router: &FlatConfig,
    pat: &FlatConfig,
    shape: &Shape,
    k: usize,
    map: &mut BTreeMap<usize, usize>,
    used: &mut [bool],
    b: &mut Bindings,
) -> bool {
    if k == shape.elements.len() {
        return connections_agree(router, pat, shape, map);
    }
    let pe = shape.elements[k];
    let want = &pat.elements[pe];
    for (ri, re) in router.elements.iter().enumerate() {
        if used[ri] || re.class != want.class {
            continue;
        }
        let mut nb = b.clone();
        if !match_config(&want.config, &re.config, &mut nb) {
            continue;
        }
        map.insert(pe, ri);
        // Prune: every pattern connection between elements mapped so far exists.
        let ok = pat.connections.iter().all(|c| match (map.get(&c.from.element), map.get(&c.to.element)) {
            (Some(&f), Some(&t)) => router.connections.iter().any(|rc| {
                rc.from == Port { element: f, port: c.from.port } && rc.to == Port { element: t, port: c.to.port }
            }),
            _ => true,
        });
        if ok {
            used[ri] = true;
            let saved = core::mem::replace(b, nb);
            if search(router, pat, shape, k + 1, map, used, b) {
                return true;
            }
            *b = saved;
            used[ri] = false;
        }
        map.remove(&pe);
    }
    false
}

/// Every router connection touching the matched elements is one the pattern has
/// (inside, or through one of its ports), and each pattern port is fed from the
/// same outside places wherever it leads.
fn connections_agree(router: &FlatConfig, pat: &FlatConfig, shape: &Shape, map: &BTreeMap<usize, usize>) -> bool {
    let back: BTreeMap<usize, usize> = map.iter().map(|(&p, &r)| (r, p)).collect();
    let pport = |e: usize, port: usize| Port { element: e, port };
    let has = |from: Port, to: Port| pat.connections.iter().any(|c| c.from == from && c.to == to);
    for rc in &router.connections {
        let f = back.get(&rc.from.element);
        let t = back.get(&rc.to.element);
        let ok = match (f, t) {
            (Some(&f), Some(&t)) => has(pport(f, rc.from.port), pport(t, rc.to.port)),
            (None, Some(&t)) => shape
                .input
                .is_some_and(|i| pat.connections.iter().any(|c| c.from.element == i && c.to == pport(t, rc.to.port))),
            (Some(&f), None) => shape
                .output
                .is_some_and(|o| pat.connections.iter().any(|c| c.to.element == o && c.from == pport(f, rc.from.port))),
            (None, None) => true,
        };
        if !ok {
            return false;
        }
    }
    // Each input port: all its targets see the same outside sources.
    if let Some(i) = shape.input {
        let mut ports: Vec<usize> =
            pat.connections.iter().filter(|c| c.from.element == i).map(|c| c.from.port).collect();
        ports.sort_unstable();
        ports.dedup();
        for k in ports {
            let mut seen: Option<Vec<Port>> = None;
            for c in pat
                .connections
                .iter()
                .filter(|c| c.from == pport(i, k) && c.to.element != shape.output.unwrap_or(usize::MAX))
            {
                let target = Port { element: map[&c.to.element], port: c.to.port };
                let mut srcs: Vec<Port> = router
                    .connections
                    .iter()
                    .filter(|rc| rc.to == target && !back.contains_key(&rc.from.element))
                    .map(|rc| rc.from)
                    .collect();
                srcs.sort_unstable();
                match &seen {
                    Some(s) if *s != srcs => return false,
                    _ => seen = Some(srcs),
                }
            }
        }
    }
    true
}

/// Apply `patterns` to `router` until none matches; returns the number of
/// replacements made.
pub fn apply(router: &mut FlatConfig, patterns: &[Pattern]) -> usize {
    let mut count = 0;
    let mut serial = 0usize;
    'again: while count < MAX_REPLACEMENTS {
        for p in patterns {
            let shape = Shape::of(&p.find);
            if let Some(m) = find_match(router, &p.find, &shape) {
                replace(router, p, &shape, &m, &mut serial);
                count += 1;
                continue 'again;
            }
        }
        break;
    }
    count
}

fn replace(router: &mut FlatConfig, p: &Pattern, shape: &Shape, m: &Match, serial: &mut usize) {
    let matched: Vec<usize> = m.map.values().copied().collect();
    let is_matched = |e: usize| matched.contains(&e);
    // Where each pattern port connects outside.
    let mut ins: BTreeMap<usize, Vec<Port>> = BTreeMap::new();
    let mut outs: BTreeMap<usize, Vec<Port>> = BTreeMap::new();
    for c in &p.find.connections {
        if Some(c.from.element) == shape.input && c.to.element != shape.output.unwrap_or(usize::MAX) {
            let target = Port { element: m.map[&c.to.element], port: c.to.port };
            let v = ins.entry(c.from.port).or_default();
            for rc in router.connections.iter().filter(|rc| rc.to == target && !is_matched(rc.from.element)) {
                if !v.contains(&rc.from) {
                    v.push(rc.from);
                }
            }
        }
        if Some(c.to.element) == shape.output && c.from.element != shape.input.unwrap_or(usize::MAX) {
            let source = Port { element: m.map[&c.from.element], port: c.from.port };
            let v = outs.entry(c.to.port).or_default();
            for rc in router.connections.iter().filter(|rc| rc.from == source && !is_matched(rc.to.element)) {
                if !v.contains(&rc.to) {
                    v.push(rc.to);
                }
            }
        }
    }
    let landmark = router.elements[matched[0]].landmark.clone();

    // New elements, named after the replacement class and a serial number.
    let rshape = Shape::of(&p.replace);
    let mut new_index: BTreeMap<usize, usize> = BTreeMap::new();
    let mut kept: Vec<FlatElement> = Vec::new();
    let mut old_to_new: Vec<Option<usize>> = alloc::vec![None; router.elements.len()];
    for (i, e) in router.elements.iter().enumerate() {
        if !is_matched(i) {
            old_to_new[i] = Some(kept.len());
            kept.push(e.clone());
        }
    }
    let prefix = loop {
        *serial += 1;
        let candidate = format!("{}@{}", p.name, serial);
        if !kept.iter().any(|e| e.name.starts_with(&candidate)) {
            break candidate;
        }
    };
    for &ri in &rshape.elements {
        let re = &p.replace.elements[ri];
        new_index.insert(ri, kept.len());
        kept.push(FlatElement {
            name: format!("{prefix}/{}", re.name),
            class: re.class.clone(),
            config: substitute(&re.config, &m.bindings),
            landmark: landmark.clone(),
        });
    }

    let mut conns: Vec<FlatConnection> = Vec::new();
    let add = |from: Port, to: Port, conns: &mut Vec<FlatConnection>| {
        if !conns.iter().any(|c| c.from == from && c.to == to) {
            conns.push(FlatConnection { from, to, landmark: landmark.clone() });
        }
    };
    for c in &router.connections {
        if let (Some(f), Some(t)) = (old_to_new[c.from.element], old_to_new[c.to.element]) {
            let from = Port { element: f, port: c.from.port };
            let to = Port { element: t, port: c.to.port };
            if !conns.iter().any(|x| x.from == from && x.to == to) {
                conns.push(FlatConnection { from, to, landmark: c.landmark.clone() });
            }
        }
    }
    let empty = Vec::new();
    for c in &p.replace.connections {
        let from_in = Some(c.from.element) == rshape.input;
        let to_out = Some(c.to.element) == rshape.output;
        let froms: Vec<Port> = if from_in {
            ins.get(&c.from.port)
                .unwrap_or(&empty)
                .iter()
                .filter_map(|s| old_to_new[s.element].map(|e| Port { element: e, port: s.port }))
                .collect()
        } else {
            alloc::vec![Port { element: new_index[&c.from.element], port: c.from.port }]
        };
        let tos: Vec<Port> = if to_out {
            outs.get(&c.to.port)
                .unwrap_or(&empty)
                .iter()
                .filter_map(|d| old_to_new[d.element].map(|e| Port { element: e, port: d.port }))
                .collect()
        } else {
            alloc::vec![Port { element: new_index[&c.to.element], port: c.to.port }]
        };
        for &f in &froms {
            for &t in &tos {
                add(f, t, &mut conns);
            }
        }
    }
    router.elements = kept;
    router.connections = conns;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flat::Landmark;

    fn cfg(elements: &[(&str, &str, &str)], conns: &[(usize, usize, usize, usize)]) -> FlatConfig {
        FlatConfig {
            elements: elements
                .iter()
                .map(|&(n, c, k)| FlatElement {
                    name: n.into(),
                    class: c.into(),
                    config: k.into(),
                    landmark: Landmark::default(),
                })
                .collect(),
            connections: conns
                .iter()
                .map(|&(a, pa, b, pb)| FlatConnection {
                    from: Port { element: a, port: pa },
                    to: Port { element: b, port: pb },
                    landmark: Landmark::default(),
                })
                .collect(),
            requirements: Vec::new(),
        }
    }

    #[test]
    fn a_chain_becomes_its_replacement_with_variables_bound() {
        // Pattern: input -> Strip(14) -> CheckIPHeader($x) -> output.
        let find = cfg(
            &[(INPUT_MARKER, "M", ""), (OUTPUT_MARKER, "M", ""), ("s", "Strip", "14"), ("c", "CheckIPHeader", "$x")],
            &[(0, 0, 2, 0), (2, 0, 3, 0), (3, 0, 1, 0)],
        );
        let replace = cfg(
            &[(INPUT_MARKER, "M", ""), (OUTPUT_MARKER, "M", ""), ("combo", "IPInputCombo", "0, $x")],
            &[(0, 0, 2, 0), (2, 0, 1, 0)],
        );
        let pats = [Pattern { name: "P".into(), find, replace }];
        let mut r = cfg(
            &[
                ("src", "Idle", ""),
                ("s", "Strip", "14"),
                ("c", "CheckIPHeader", "BADSRC 1.2.3.4"),
                ("d", "Discard", ""),
            ],
            &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0)],
        );
        assert_eq!(apply(&mut r, &pats), 1);
        let names: Vec<&str> = r.elements.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["src", "d", "P@1/combo"]);
        assert_eq!(r.elements[2].config, "0, BADSRC 1.2.3.4");
        assert_eq!(r.connections.len(), 2);
        assert!(r.connections.iter().any(|c| c.from.element == 0 && c.to.element == 2));
        assert!(r.connections.iter().any(|c| c.from.element == 2 && c.to.element == 1));
    }

    #[test]
    fn extra_connections_inside_a_copy_prevent_the_match() {
        let find = cfg(
            &[(INPUT_MARKER, "M", ""), (OUTPUT_MARKER, "M", ""), ("s", "Strip", "14"), ("c", "Counter", "")],
            &[(0, 0, 2, 0), (2, 0, 3, 0), (3, 0, 1, 0)],
        );
        let replace = cfg(&[(INPUT_MARKER, "M", ""), (OUTPUT_MARKER, "M", "")], &[(0, 0, 1, 0)]);
        let pats = [Pattern { name: "P".into(), find, replace }];
        // A second source feeds the Counter directly: not a copy of the pattern.
        let mut r = cfg(
            &[("a", "Idle", ""), ("b", "Idle", ""), ("s", "Strip", "14"), ("c", "Counter", ""), ("d", "Discard", "")],
            &[(0, 0, 2, 0), (1, 0, 3, 0), (2, 0, 3, 0), (3, 0, 4, 0)],
        );
        assert_eq!(apply(&mut r, &pats), 0);
        assert_eq!(r.elements.len(), 5);
    }
}
