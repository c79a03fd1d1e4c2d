//! The syntax tree of a Click configuration, and its printer.
//!
//! The tree keeps what the user wrote: names as written (no anonymous names yet),
//! configuration strings verbatim, port lists as lists. Meaning — which names are
//! classes, anonymous naming, compound expansion, connection fan-out — is given to it
//! by [`crate::elaborate`]. Printing a tree with `Display` gives Click source that
//! parses back to the same tree (line numbers aside).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// A source line with the index of its file name (see [`crate::parser::Parsed::files`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: usize,
    pub line: u32,
    /// Byte offset in the source text the tree was parsed from.
    pub offset: usize,
}

/// A statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// A connection chain; a lone declaration like `a :: Foo` is a chain of one section.
    Chain(Chain),
    ElementClass(ElementClassDecl),
    /// `require(...)`: the raw argument text.
    Require {
        args: String,
        pos: Pos,
    },
    /// `define(...)`: the raw argument text.
    Define {
        args: String,
        pos: Pos,
    },
}

/// `x -> y => z`: sections separated by connectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub sections: Vec<Section>,
    /// `connectors[i]` joins `sections[i]` and `sections[i + 1]`.
    pub connectors: Vec<Connector>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorKind {
    Arrow,
    DoubleArrow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connector {
    pub kind: ConnectorKind,
    pub pos: Pos,
}

/// A comma-separated list of element references between connectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub elements: Vec<ElementRef>,
    /// Where the section ends (Click reports connection errors here).
    pub end: Pos,
}

/// `[in] name :: Class(config) [out]`, or a group, compound or implicit port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementRef {
    pub inputs: Option<PortList>,
    pub target: Target,
    /// The class after `::`.
    pub class: Option<ClassRef>,
    pub config: Option<String>,
    pub outputs: Option<PortList>,
    pub pos: Pos,
}

/// What an element reference names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A word: an element name or, if it names a class, an anonymous element of it.
    Name(String),
    /// `{ ... }` used directly: an anonymous element of an anonymous compound class.
    Compound(Box<ClassBody>),
    /// `( ... )`: an element group; `end` is the position of `)`.
    Group { body: Vec<Stmt>, end: Pos },
    /// The implicit `input` (`true` = it is the compound's output side: `output`) that
    /// Click infers inside compounds and groups for `-> x` and `x ->`.
    Implicit { output: bool },
}

/// The class in a declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassRef {
    Name(String),
    Compound(Box<ClassBody>),
}

/// A port list `[0, 2-4]`; `expandable` is the `[]` form (or a trailing comma).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortList {
    pub items: Vec<PortItem>,
    pub expandable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortItem {
    Single(i32),
    /// `a-b`, inclusive.
    Range(i32, i32),
}

impl PortList {
    /// Click's internal form: the listed ports in order, then `-1` if expandable
    /// (`[]` alone is port 0 expandable).
    pub fn flatten(&self) -> Vec<i32> {
        let mut v = Vec::new();
        for item in &self.items {
            match *item {
                PortItem::Single(p) => {
                    v.push(p);
                }
                PortItem::Range(a, b) => {
                    // `[0-2]` is 0, 1, 2; a reversed range `[2-0]` is just 2, as in Click.
                    v.push(a);
                    let mut p = a;
                    while p < b {
                        p += 1;
                        v.push(p);
                    }
                }
            }
        }
        if self.expandable {
            if v.is_empty() {
                v.push(0);
            }
            v.push(-1);
        }
        v
    }
}

/// `elementclass Name { ... }` or `elementclass Name Other`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementClassDecl {
    /// `None` after a syntax error in the name.
    pub name: Option<String>,
    pub def: ClassDef,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassDef {
    Synonym(String),
    Body(Box<ClassBody>),
}

/// `{ alt1 || alt2 || ... }`: a compound class with overloads, optionally ending in
/// `|| ...` to extend an earlier class of the same name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassBody {
    pub alternatives: Vec<CompoundDef>,
    pub extends: bool,
    pub pos: Pos,
}

/// One alternative: `$a, KEY $b, __REST__ $c | statements`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompoundDef {
    pub formals: Vec<Formal>,
    pub body: Vec<Stmt>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Formal {
    /// `KEYWORD` for keyword formals, `__REST__` for the rest formal.
    pub keyword: Option<String>,
    /// The variable name without `$`.
    pub name: String,
}

// ---------------------------------------------------------------- printing

impl fmt::Display for PortList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match item {
                PortItem::Single(p) => write!(f, "{p}")?,
                PortItem::Range(a, b) => write!(f, "{a}-{b}")?,
            }
        }
        if self.expandable && !self.items.is_empty() {
            f.write_char(',')?;
        }
        f.write_char(']')
    }
}

struct Indent(usize);

impl fmt::Display for Indent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..self.0 {
            f.write_str("  ")?;
        }
        Ok(())
    }
}

fn write_stmts(f: &mut fmt::Formatter<'_>, stmts: &[Stmt], depth: usize) -> fmt::Result {
    for s in stmts {
        write!(f, "{}", Indent(depth))?;
        write_stmt(f, s, depth)?;
        f.write_str(";\n")?;
    }
    Ok(())
}

fn write_stmt(f: &mut fmt::Formatter<'_>, s: &Stmt, depth: usize) -> fmt::Result {
    match s {
        Stmt::Chain(c) => write_chain(f, c, depth),
        Stmt::Require { args, .. } => write!(f, "require({args})"),
        Stmt::Define { args, .. } => write!(f, "define({args})"),
        Stmt::ElementClass(d) => {
            f.write_str("elementclass ")?;
            if let Some(n) = &d.name {
                f.write_str(n)?;
            }
            match &d.def {
                ClassDef::Synonym(other) => write!(f, " {other}"),
                ClassDef::Body(b) => {
                    f.write_char(' ')?;
                    write_class_body(f, b, depth)
                }
            }
        }
    }
}

fn write_class_body(f: &mut fmt::Formatter<'_>, b: &ClassBody, depth: usize) -> fmt::Result {
    f.write_str("{\n")?;
    for (i, alt) in b.alternatives.iter().enumerate() {
        if i > 0 {
            writeln!(f, "{}||", Indent(depth))?;
        }
        if !alt.formals.is_empty() {
            write!(f, "{}", Indent(depth + 1))?;
            for (j, formal) in alt.formals.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                if let Some(k) = &formal.keyword {
                    write!(f, "{k} ")?;
                }
                write!(f, "${}", formal.name)?;
            }
            f.write_str(" |\n")?;
        }
        write_stmts(f, &alt.body, depth + 1)?;
    }
    if b.extends {
        writeln!(f, "{}|| ...", Indent(depth))?;
    }
    write!(f, "{}}}", Indent(depth))
}

fn write_chain(f: &mut fmt::Formatter<'_>, c: &Chain, depth: usize) -> fmt::Result {
    for (i, section) in c.sections.iter().enumerate() {
        if i > 0 {
            match c.connectors[i - 1].kind {
                ConnectorKind::Arrow => f.write_str(" ->")?,
                ConnectorKind::DoubleArrow => f.write_str(" =>")?,
            }
        }
        for (j, e) in section.elements.iter().enumerate() {
            if j > 0 {
                f.write_char(',')?;
            }
            if i > 0 || j > 0 {
                f.write_char(' ')?;
            }
            write_element(f, e, depth)?;
        }
    }
    Ok(())
}

fn write_element(f: &mut fmt::Formatter<'_>, e: &ElementRef, depth: usize) -> fmt::Result {
    if let Target::Implicit { output } = e.target {
        // An implicit input's ports were written before the `->`, an implicit
        // output's after it; the tree stores them on the side they mean.
        let ports = if output { &e.inputs } else { &e.outputs };
        if let Some(p) = ports {
            write!(f, "{p}")?;
        }
        return Ok(());
    }
    if let Some(p) = &e.inputs {
        write!(f, "{p} ")?;
    }
    match &e.target {
        Target::Name(n) => f.write_str(n)?,
        Target::Compound(b) => write_class_body(f, b, depth)?,
        Target::Group { body, .. } => {
            f.write_str("(\n")?;
            write_stmts(f, body, depth + 1)?;
            write!(f, "{})", Indent(depth))?;
        }
        Target::Implicit { .. } => {}
    }
    if let Some(c) = &e.class {
        f.write_str(" :: ")?;
        match c {
            ClassRef::Name(n) => f.write_str(n)?,
            ClassRef::Compound(b) => write_class_body(f, b, depth)?,
        }
    }
    if let Some(c) = &e.config {
        write!(f, "({c})")?;
    }
    if let Some(p) = &e.outputs {
        write!(f, " {p}")?;
    }
    Ok(())
}

/// A whole parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct File {
    pub stmts: Vec<Stmt>,
}

impl fmt::Display for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_stmts(f, &self.stmts, 0)
    }
}

// ---------------------------------------------------------------- comparison

impl File {
    /// The same tree with every source position zeroed, for comparing trees parsed
    /// from different texts.
    pub fn without_positions(&self) -> File {
        let mut f = self.clone();
        f.stmts.iter_mut().for_each(zero_stmt);
        f
    }
}

fn zero_stmt(s: &mut Stmt) {
    match s {
        Stmt::Chain(c) => {
            for sec in &mut c.sections {
                sec.end = Pos::default();
                sec.elements.iter_mut().for_each(zero_element);
            }
            c.connectors.iter_mut().for_each(|k| k.pos = Pos::default());
        }
        Stmt::ElementClass(d) => {
            d.pos = Pos::default();
            if let ClassDef::Body(b) = &mut d.def {
                zero_body(b);
            }
        }
        Stmt::Require { pos, .. } | Stmt::Define { pos, .. } => *pos = Pos::default(),
    }
}

fn zero_body(b: &mut ClassBody) {
    b.pos = Pos::default();
    for alt in &mut b.alternatives {
        alt.pos = Pos::default();
        alt.body.iter_mut().for_each(zero_stmt);
    }
}

fn zero_element(e: &mut ElementRef) {
    e.pos = Pos::default();
    match &mut e.target {
        Target::Compound(b) => zero_body(b),
        Target::Group { body, end } => {
            *end = Pos::default();
            body.iter_mut().for_each(zero_stmt);
        }
        Target::Name(_) | Target::Implicit { .. } => {}
    }
    if let Some(ClassRef::Compound(b)) = &mut e.class {
        zero_body(b);
    }
}
