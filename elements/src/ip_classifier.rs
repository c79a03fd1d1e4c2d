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
//! Patterns are evaluated in order as expression trees (a compiled form for large
//! rule sets is to come). Handlers: `program` (the parsed patterns), `pattern0`...

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::split_args;
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet};

use crate::ip_pattern::{Base, Expr, Rel, parse};

/// Where a matching rule sends the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Output(usize),
    Drop,
}

pub struct IPClassifier {
    filter: bool,
    rules: Vec<(Expr, Action)>,
    texts: Vec<String>,
}

impl IPClassifier {
    pub fn classifier() -> Self {
        IPClassifier { filter: false, rules: Vec::new(), texts: Vec::new() }
    }
    pub fn filter() -> Self {
        IPClassifier { filter: true, rules: Vec::new(), texts: Vec::new() }
    }

    fn action(&self, p: &Packet) -> Action {
        let ip = p.anno.network_header.and_then(|nh| p.data().get(nh..)).unwrap_or(&[]);
        self.rules.iter().find(|(e, _)| e.eval(ip)).map_or(Action::Drop, |&(_, a)| a)
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
    fn port_count(&self) -> &'static str {
        "1/-"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        self.texts = split_args(config);
        for (i, text) in self.texts.iter().enumerate() {
            let (action, pattern) = if self.filter {
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
            match parse(pattern) {
                Ok(e) => rules.push((e, action)),
                Err(e) => errors.push(format!("pattern {i}: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.rules = rules;
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        let n = cx.noutputs();
        for (_, a) in &self.rules {
            if let Action::Output(o) = a
                && *o >= n
            {
                return Err(format!("a rule sends packets to output {o}, but there are only {n}"));
            }
        }
        if !self.filter && self.rules.len() != n {
            return Err(format!("{} patterns but {n} outputs; each pattern needs one output", self.rules.len()));
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        if let Action::Output(o) = self.action(&p) {
            cx.push(o, p);
        }
    }
    fn push_batch(&mut self, port: usize, mut batch: Batch, cx: &mut Ctx) {
        for p in batch.drain(..) {
            self.push(port, p, cx);
        }
        cx.recycle_batch(batch);
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        if name == "program" {
            let mut s = String::new();
            for (i, (e, a)) in self.rules.iter().enumerate() {
                s.push_str(&format!("{i}: "));
                render(e, &mut s);
                match a {
                    Action::Output(o) => s.push_str(&format!(" -> output {o}\n")),
                    Action::Drop => s.push_str(" -> drop\n"),
                }
            }
            return Some(s);
        }
        let i: usize = name.strip_prefix("pattern")?.parse().ok()?;
        self.texts.get(i).cloned()
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["program"]
    }
}
