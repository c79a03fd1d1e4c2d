//! Printing a flat router as Click prints it (`click -o`, `click-flatten`, the
//! `flatconfig` handler): requirements, declarations in element order, then
//! connections as chains.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::cp;
use crate::flat::FlatConfig;

/// The whole flat configuration.
pub fn unparse(flat: &FlatConfig) -> String {
    let mut out = String::new();
    unparse_requirements(flat, &mut out);
    unparse_declarations(flat, &mut out);
    unparse_connections(flat, &mut out);
    out
}

fn unparse_requirements(flat: &FlatConfig, out: &mut String) {
    if flat.requirements.is_empty() {
        return;
    }
    out.push_str("require(");
    for (i, r) in flat.requirements.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&r.kind);
        if !r.value.is_empty() {
            out.push(' ');
            let plain = r.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b));
            if plain {
                out.push_str(&r.value);
            } else {
                out.push_str(&cp::quote(&r.value));
            }
        }
    }
    out.push_str(");\n\n");
}

fn unparse_declarations(flat: &FlatConfig, out: &mut String) {
    for e in &flat.elements {
        let _ = write!(out, "{} :: {}", e.name, e.class);
        if !e.config.is_empty() {
            let _ = write!(out, "({})", e.config);
        }
        out.push_str(";\n");
    }
    if !flat.elements.is_empty() {
        out.push('\n');
    }
}

/// Click's chain-forming algorithm: a connection into port 0 of an element continues
/// with a connection out of that element (preferring one into a port 0), so
/// `a -> b -> c` prints back as one chain.
fn unparse_connections(flat: &FlatConfig, out: &mut String) {
    let conns = &flat.connections;
    let n = conns.len();
    // Connections out of each (element, port), to find successors without a scan.
    let mut by_from: Vec<(usize, usize, usize)> =
        conns.iter().enumerate().map(|(i, c)| (c.from.element, c.from.port, i)).collect();
    by_from.sort_unstable();
    let mut next: Vec<Option<usize>> = vec![None; n];
    let mut start = vec![true; n];
    for (ci, c) in conns.iter().enumerate() {
        if c.to.port != 0 {
            continue;
        }
        let key = (c.to.element, 0usize);
        let lo = by_from.partition_point(|x| (x.0, x.1) < key);
        let mut result = None;
        for &(e, p, d) in &by_from[lo..] {
            if (e, p) != key {
                break;
            }
            if d == ci {
                continue;
            }
            result = Some(d);
            if conns[d].to.port == 0 {
                break;
            }
        }
        if let Some(d) = result {
            next[ci] = Some(d);
            start[d] = false;
        }
    }
    let name = |i: usize| flat.elements.get(i).map(|e| e.name.as_str()).unwrap_or("?");
    let mut used = vec![false; n];
    loop {
        for ci in 0..n {
            if used[ci] || !start[ci] {
                continue;
            }
            let c = &conns[ci];
            out.push_str(name(c.from.element));
            if c.from.port != 0 {
                let _ = write!(out, " [{}]", c.from.port);
            }
            let mut d = Some(ci);
            while let Some(di) = d {
                if used[di] {
                    break;
                }
                out.push_str(if di == ci { " -> " } else { "\n    -> " });
                let t = &conns[di].to;
                if t.port != 0 {
                    let _ = write!(out, "[{}] ", t.port);
                }
                out.push_str(name(t.element));
                used[di] = true;
                d = next[di];
            }
            out.push_str(";\n");
        }
        // Cycles have no start: begin them anywhere.
        match (0..n).find(|&ci| !used[ci]) {
            Some(ci) => start[ci] = true,
            None => break,
        }
    }
}
