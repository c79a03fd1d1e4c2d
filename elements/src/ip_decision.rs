//! A decision graph for a run of classification rules (not an element): the
//! rules' expressions are unfolded into one graph of field tests whose leaves say
//! which rule matched. Along each path the graph remembers what it has learned, so
//! no test is made twice and tests whose outcome follows from earlier ones (the
//! protocol is 17, so it is not 6) are skipped; the graph after a rule fails is
//! shared between every path that arrives there knowing the same facts.

use alloc::rc::Rc;
use alloc::vec::Vec;

use hashbrown::HashMap;

use crate::ip_pattern::{Expr, FieldTest, Rel, Test};

/// Most nodes a graph may have before we give up on it (rule sets that would
/// blow up are evaluated rule by rule instead).
const MAX_NODES: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// The rule that matched (an index into the run), or none: fall through.
    Leaf(Option<usize>),
    Branch {
        test: u32,
        yes: u32,
        no: u32,
    },
}

pub struct Dag {
    pub tests: Vec<Test>,
    pub nodes: Vec<Node>,
    pub root: u32,
    /// The branches again, laid out for the per-packet walk.
    steps: Vec<Step>,
    /// Where the walk starts: a step, or a leaf ([`LEAF`]).
    start: u32,
}

/// A branch laid out for the walk: its test inline and its successors, each a
/// step index or a leaf (`LEAF | rule`, or [`NO_MATCH`]): one record a node,
/// with nothing more to look up.
struct Step {
    test: FieldTest,
    yes: u32,
    no: u32,
}

/// Marks a successor that is a leaf: the rule index is in the low bits.
const LEAF: u32 = 1 << 31;
/// The leaf where no rule of the run matched.
const NO_MATCH: u32 = u32::MAX;

/// What to do when an expression's outcome is known.
enum Target<'a> {
    Match(usize),
    /// Go on with rule `i` of the run (falling off the end: no match).
    Rule(usize),
    /// Evaluate this expression, then go on to these targets.
    Then(&'a Expr, Rc<Target<'a>>, Rc<Target<'a>>),
}

/// Known test outcomes on a path, sorted by test index.
type Facts = Vec<(u32, bool)>;

struct Builder<'a> {
    exprs: &'a [&'a Expr],
    tests: Vec<Test>,
    /// Each test's field (tests reading the same field share one), by test index.
    field_of: Vec<usize>,
    /// For each rule i, whether rules i.. read field f (`uses[i][f]`).
    uses: Vec<Vec<bool>>,
    /// For each rule i, whether rules i.. make test t (`tests_used[i][t]`).
    tests_used: Vec<Vec<bool>>,
    nodes: Vec<Node>,
    leaves: HashMap<Option<usize>, u32>,
    branches: HashMap<Node, u32>,
    rules: HashMap<(usize, Facts), u32>,
    too_big: bool,
}

impl<'a> Builder<'a> {
    fn intern(&mut self, t: &Test) -> u32 {
        match self.tests.iter().position(|x| x == t) {
            Some(k) => k as u32,
            None => {
                let field = match self.tests.iter().position(|x| x.same_field(t)) {
                    Some(k) => self.field_of[k],
                    None => self.field_of.iter().max().map_or(0, |f| f + 1),
                };
                self.tests.push(t.clone());
                self.field_of.push(field);
                (self.tests.len() - 1) as u32
            }
        }
    }

    /// Intern every test of `e`, noting its index in `found`.
    fn intern_all(&mut self, e: &Expr, found: &mut Vec<usize>) {
        match e {
            Expr::Const(_) => {}
            Expr::Test(t) => {
                let k = self.intern(t);
                found.push(k as usize);
            }
            Expr::Not(x) => self.intern_all(x, found),
            Expr::And(a, b) | Expr::Or(a, b) => {
                self.intern_all(a, found);
                self.intern_all(b, found);
            }
            Expr::Cond(c, a, b) => {
                self.intern_all(c, found);
                self.intern_all(a, found);
                self.intern_all(b, found);
            }
        }
    }

    /// Which tests and fields each rule and those after it use, so that what a
    /// path knows that no later rule can use is forgotten.
    fn index_fields(&mut self) {
        let per_rule: Vec<Vec<usize>> = self
            .exprs
            .iter()
            .map(|e| {
                let mut f = Vec::new();
                self.intern_all(e, &mut f);
                f
            })
            .collect();
        let nfields = self.field_of.iter().max().map_or(0, |f| f + 1);
        let ntests = self.tests.len();
        let mut uses = alloc::vec![alloc::vec![false; nfields]; per_rule.len() + 1];
        let mut tests_used = alloc::vec![alloc::vec![false; ntests]; per_rule.len() + 1];
        for i in (0..per_rule.len()).rev() {
            uses[i] = uses[i + 1].clone();
            tests_used[i] = tests_used[i + 1].clone();
            for &t in &per_rule[i] {
                uses[i][self.field_of[t]] = true;
                tests_used[i][t] = true;
            }
        }
        self.uses = uses;
        self.tests_used = tests_used;
    }

    /// Whether knowing `fact` can still decide a test of rules i..: the same
    /// test made again, or (a field equal to one value) another equality on
    /// that field ([`Builder::decided`] uses no other kind).
    fn relevant(&self, i: usize, (t, outcome): (u32, bool)) -> bool {
        let t = t as usize;
        self.tests_used[i][t] || (outcome && self.tests[t].rel == Rel::Eq && self.uses[i][self.field_of[t]])
    }

    /// The node `n`, shared if an equal one exists.
    fn node(&mut self, n: Node) -> u32 {
        let existing = match n {
            Node::Leaf(r) => self.leaves.get(&r).copied(),
            Node::Branch { .. } => self.branches.get(&n).copied(),
        };
        if let Some(k) = existing {
            return k;
        }
        if self.nodes.len() >= MAX_NODES {
            self.too_big = true;
            return 0;
        }
        self.nodes.push(n);
        let k = (self.nodes.len() - 1) as u32;
        match n {
            Node::Leaf(r) => self.leaves.insert(r, k),
            Node::Branch { .. } => self.branches.insert(n, k),
        };
        k
    }

    /// The outcome of test `t` if the facts decide it: the same test known, or an
    /// equality on the same field known true with another value.
    fn decided(&self, t: u32, facts: &Facts) -> Option<bool> {
        if let Ok(k) = facts.binary_search_by_key(&t, |&(x, _)| x) {
            return Some(facts[k].1);
        }
        let test = &self.tests[t as usize];
        if test.rel != Rel::Eq {
            return None;
        }
        for &(x, outcome) in facts {
            let other = &self.tests[x as usize];
            if outcome && other.rel == Rel::Eq && test.same_field(other) && other.value != test.value {
                return Some(false);
            }
        }
        None
    }

    fn resolve(&mut self, target: &Target<'a>, facts: &Facts) -> u32 {
        if self.too_big {
            return 0;
        }
        match target {
            Target::Match(i) => self.node(Node::Leaf(Some(*i))),
            Target::Rule(i) => self.rule(*i, facts),
            Target::Then(e, t, f) => self.expr(e, facts, t.clone(), f.clone()),
        }
    }

    fn rule(&mut self, i: usize, facts: &Facts) -> u32 {
        if i >= self.exprs.len() {
            return self.node(Node::Leaf(None));
        }
        // Facts that can decide no test of rules i.. are forgotten: paths that
        // differ only in those meet (rules with tests of their own, such as one
        // address each, would otherwise double the paths with every rule).
        let facts: Facts = facts.iter().copied().filter(|&f| self.relevant(i, f)).collect();
        if let Some(&k) = self.rules.get(&(i, facts.clone())) {
            return k;
        }
        let e = self.exprs[i];
        let k = self.expr(e, &facts, Rc::new(Target::Match(i)), Rc::new(Target::Rule(i + 1)));
        self.rules.insert((i, facts), k);
        k
    }

    fn expr(&mut self, e: &'a Expr, facts: &Facts, yes: Rc<Target<'a>>, no: Rc<Target<'a>>) -> u32 {
        if self.too_big {
            return 0;
        }
        match e {
            Expr::Const(true) => self.resolve(&yes, facts),
            Expr::Const(false) => self.resolve(&no, facts),
            Expr::Not(x) => self.expr(x, facts, no, yes),
            Expr::And(a, b) => {
                let then = Rc::new(Target::Then(b, yes, no.clone()));
                self.expr(a, facts, then, no)
            }
            Expr::Or(a, b) => {
                let otherwise = Rc::new(Target::Then(b, yes.clone(), no));
                self.expr(a, facts, yes, otherwise)
            }
            Expr::Cond(c, a, b) => {
                let then = Rc::new(Target::Then(a, yes.clone(), no.clone()));
                let otherwise = Rc::new(Target::Then(b, yes, no));
                self.expr(c, facts, then, otherwise)
            }
            Expr::Test(t) => {
                let k = self.intern(t);
                match self.decided(k, facts) {
                    Some(true) => self.resolve(&yes, facts),
                    Some(false) => self.resolve(&no, facts),
                    None => {
                        let with = |v: bool| {
                            let mut f = facts.clone();
                            let at = f.partition_point(|&(x, _)| x < k);
                            f.insert(at, (k, v));
                            f
                        };
                        let y = self.resolve(&yes, &with(true));
                        let n = self.resolve(&no, &with(false));
                        if y == n { y } else { self.node(Node::Branch { test: k, yes: y, no: n }) }
                    }
                }
            }
        }
    }
}

impl Dag {
    /// The graph for `exprs` (a run of rules, in order), or `None` if it would be
    /// too big.
    pub fn build(exprs: &[&Expr]) -> Option<Dag> {
        let mut b = Builder {
            exprs,
            tests: Vec::new(),
            field_of: Vec::new(),
            uses: Vec::new(),
            tests_used: Vec::new(),
            nodes: Vec::new(),
            leaves: HashMap::new(),
            branches: HashMap::new(),
            rules: HashMap::new(),
            too_big: false,
        };
        b.index_fields();
        let root = b.rule(0, &Vec::new());
        if b.too_big {
            return None;
        }
        let (steps, start) = lay_out(&b.tests, &b.nodes, root)?;
        Some(Dag { tests: b.tests, nodes: b.nodes, root, steps, start })
    }

    /// The first rule of the run that `ip` matches.
    #[inline]
    pub fn eval(&self, ip: &[u8]) -> Option<usize> {
        let mut k = self.start;
        while k & LEAF == 0 {
            let step = self.steps.get(k as usize)?;
            k = if step.test.eval(ip) { step.yes } else { step.no };
        }
        (k != NO_MATCH).then_some((k & !LEAF) as usize)
    }
}

/// The walk's steps for graph `nodes` from `root`, and where it starts; `None`
/// if a rule index would not fit beside the leaf mark (it always fits: a graph
/// spans a handful of rules).
fn lay_out(tests: &[Test], nodes: &[Node], root: u32) -> Option<(Vec<Step>, u32)> {
    // Branch node i becomes step index_of[i].
    let mut index_of = alloc::vec![u32::MAX; nodes.len()];
    let mut n = 0u32;
    for (i, node) in nodes.iter().enumerate() {
        if matches!(node, Node::Branch { .. }) {
            index_of[i] = n;
            n += 1;
        }
    }
    let target = |k: u32| -> Option<u32> {
        match nodes.get(k as usize)? {
            Node::Leaf(None) => Some(NO_MATCH),
            Node::Leaf(Some(r)) => {
                u32::try_from(*r).ok().filter(|r| r & LEAF == 0 && r | LEAF != NO_MATCH).map(|r| r | LEAF)
            }
            Node::Branch { .. } => index_of.get(k as usize).copied(),
        }
    };
    let mut steps = Vec::with_capacity(n as usize);
    for node in nodes {
        if let Node::Branch { test, yes, no } = *node {
            steps.push(Step { test: FieldTest::from(tests.get(test as usize)?), yes: target(yes)?, no: target(no)? });
        }
    }
    Some((steps, target(root)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_pattern::parse;

    fn packet(proto: u8, dport: u16, flags: u8, frag: bool) -> Vec<u8> {
        let mut v = alloc::vec![0x45, 0, 0, 40, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        if frag {
            v[7] = 1;
        }
        v.extend_from_slice(&[0x12, 0x34]);
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&[0; 8]);
        v.push(0x50);
        v.push(flags);
        v.extend_from_slice(&[0; 6]);
        v
    }

    #[test]
    fn the_graph_agrees_with_rule_by_rule_evaluation() {
        let pats = [
            "tcp dst port 22",
            "udp dst port 53 or tcp dst port 53",
            "tcp opt syn and not dst port 80",
            "icmp",
            "dst port > 1000 && (tcp || udp)",
            "ip frag",
            "src host 10.0.0.9 or dst net 10.0.0.0/8 and ip ttl < 10",
            "-",
        ];
        let exprs: Vec<Expr> = pats.iter().map(|p| parse(p).unwrap()).collect();
        let refs: Vec<&Expr> = exprs.iter().collect();
        let dag = Dag::build(&refs).unwrap();
        for proto in [1u8, 6, 17, 47] {
            for dport in [22u16, 53, 80, 443, 2000] {
                for flags in [0u8, 2, 18] {
                    for frag in [false, true] {
                        let p = packet(proto, dport, flags, frag);
                        for cut in [p.len(), 21, 19, 9] {
                            let ip = &p[..cut];
                            let linear = exprs.iter().position(|e| e.eval(ip));
                            assert_eq!(
                                dag.eval(ip),
                                linear,
                                "proto {proto} dport {dport} flags {flags} frag {frag} cut {cut}"
                            );
                        }
                    }
                }
            }
        }
        // Each distinct test is stored once.
        assert!(dag.tests.len() < 20, "{}", dag.tests.len());
    }
}
