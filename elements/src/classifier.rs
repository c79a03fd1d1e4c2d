//! Classifier — sends packets to outputs by the bytes they hold.
//!
//! `Classifier(PATTERN1, ..., PATTERNn)`
//!
//! One push input, n push outputs. A packet goes to the output of the first
//! pattern it matches; packets matching none are dropped. A pattern is a list of
//! space-separated clauses that must all hold, each `OFFSET/VALUE` or
//! `OFFSET/VALUE%MASK`: the bytes at decimal OFFSET equal hexadecimal VALUE (under
//! MASK). `?` in VALUE matches any nibble; `!` before a clause negates it; `-`
//! alone matches every packet. Bytes beyond the end of a packet never match. For
//! example, `Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -)` splits ARP
//! queries, ARP replies, IP and the rest.
//!
//! Handlers: `pattern0`, `pattern1`, ... (each pattern as configured).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::split_args;
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, route_batch};

/// One `OFFSET/VALUE%MASK` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    pub offset: usize,
    pub value: Vec<u8>,
    pub mask: Vec<u8>,
    pub negated: bool,
}

impl Clause {
    pub fn matches(&self, data: &[u8]) -> bool {
        let hit = match self.offset.checked_add(self.value.len()).and_then(|end| data.get(self.offset..end)) {
            Some(bytes) => bytes.iter().zip(&self.value).zip(&self.mask).all(|((b, v), m)| b & m == *v),
            None => false,
        };
        hit != self.negated
    }
}

fn hex_nibble(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Parse one clause; errors in Click's words.
pub fn parse_clause(text: &str) -> Result<Clause, String> {
    let (negated, rest) = match text.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (off, pat) = rest.split_once('/').ok_or_else(|| format!("expected 'OFFSET/VALUE' in '{text}'"))?;
    let offset: usize = off.parse().map_err(|_| format!("bad offset in '{text}'"))?;
    let (val, mask) = match pat.split_once('%') {
        Some((v, m)) => (v, Some(m)),
        None => (pat, None),
    };
    if val.is_empty() || val.len() % 2 != 0 || mask.is_some_and(|m| m.len() != val.len()) {
        return Err(format!("value and mask in '{text}' must be whole bytes of the same length"));
    }
    let mut value = Vec::new();
    let mut maskv = Vec::new();
    let vb = val.as_bytes();
    for i in (0..vb.len()).step_by(2) {
        let mut v = 0u8;
        let mut m = 0u8;
        for (k, &c) in vb[i..i + 2].iter().enumerate() {
            let shift = if k == 0 { 4 } else { 0 };
            if c == b'?' {
                continue;
            }
            let d = hex_nibble(c).ok_or_else(|| format!("bad hex value in '{text}'"))?;
            v |= d << shift;
            m |= 0xf << shift;
        }
        if let Some(mt) = mask {
            let hi = hex_nibble(mt.as_bytes()[i]).ok_or_else(|| format!("bad mask in '{text}'"))?;
            let lo = hex_nibble(mt.as_bytes()[i + 1]).ok_or_else(|| format!("bad mask in '{text}'"))?;
            m &= (hi << 4) | lo;
        }
        value.push(v & m);
        maskv.push(m);
    }
    Ok(Clause { offset, value, mask: maskv, negated })
}

#[derive(Default)]
pub struct Classifier {
    patterns: Vec<Vec<Clause>>,
    texts: Vec<String>,
}

impl Classifier {
    fn output(&self, data: &[u8]) -> Option<usize> {
        self.patterns.iter().position(|clauses| clauses.iter().all(|c| c.matches(data)))
    }
}

impl Element for Classifier {
    fn class_name(&self) -> &'static str {
        "Classifier"
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
    fn configure(&mut self, config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        self.patterns.clear();
        self.texts = split_args(config);
        for (i, text) in self.texts.iter().enumerate() {
            let mut clauses = Vec::new();
            for word in text.split_whitespace() {
                if word == "-" {
                    continue;
                }
                match parse_clause(word) {
                    Ok(c) => clauses.push(c),
                    Err(e) => errors.push(format!("pattern {i}: {e}")),
                }
            }
            self.patterns.push(clauses);
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        if self.patterns.len() != cx.noutputs() {
            return Err(format!(
                "{} patterns but {} outputs; each pattern needs one output",
                self.patterns.len(),
                cx.noutputs()
            ));
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        if let Some(out) = self.output(p.data()) {
            cx.push(out, p);
        }
    }
    fn routes_batches(&self) -> bool {
        true
    }
    /// Consecutive packets bound for the same output travel on as one batch, so
    /// the elements after a classifier keep batching.
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        route_batch(batch, cx, |p| self.output(p.data()));
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        let i: usize = name.strip_prefix("pattern")?.parse().ok()?;
        self.texts.get(i).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_match_bytes_masks_and_wildcards() {
        let c = parse_clause("12/0806").unwrap();
        assert!(c.matches(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 6]));
        assert!(!c.matches(&[0; 13]));
        let c = parse_clause("0/4?%f0").unwrap();
        assert!(c.matches(&[0x45]) && c.matches(&[0x4f]) && !c.matches(&[0x55]));
        let c = parse_clause("!0/45").unwrap();
        assert!(c.matches(&[0x46]) && !c.matches(&[0x45]) && c.matches(&[]));
        assert!(parse_clause("12/080").is_err());
        assert!(parse_clause("x/08").is_err());
    }
}
