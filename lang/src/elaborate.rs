//! Elaboration: a parsed configuration to a flat router, with Click's semantics.
//!
//! This follows what Click's userlevel `Lexer` does, step for step, because users
//! rely on its exact results — anonymous names (`Class@N`, numbered per scope),
//! compound component names (`outer/inner`), the order of elements in the flat
//! router, and its error messages:
//!
//! * statements are processed in source order against a *body* (Click's
//!   `Compound`): the file's top level, or the compound class being defined;
//! * a compound class's body is elaborated once, when it is defined, with the
//!   classes visible at that point (lexical scoping); its `input`/`output`
//!   pseudo-elements are elements 0 and 1;
//! * groups `( ... )` and compound instances are *tunnels*: three placeholder
//!   elements (`g`, `g/input`, `g/output`) whose connections are spliced through at
//!   the end;
//! * at the end, top-level compound elements are expanded recursively (overload
//!   resolution by argument list and port counts, `$variable` substitution in a
//!   fresh environment whose parent is the compound's *lexical* parent), then
//!   tunnels are resolved and connections sorted and deduplicated.
//!
//! Two modes: *driver* mode knows the primitive element classes (as `click` does) and
//! reports undeclared names; *tool* mode (as `click-flatten`) treats any unknown name
//! used as an element as a primitive class.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::ast::*;
use crate::cp as args;
use crate::diag::{Diagnostic, Sources};
use crate::expand::{Env, expand};
use crate::flat::{FlatConfig, FlatConnection, FlatElement, Landmark, Port, Requirement};
use crate::parser::{self, Parsed};

/// Default for [`Options::max_elements`].
pub const MAX_ELEMENTS: usize = 1_000_000;
/// Deepest compound-in-compound instantiation.
const MAX_EXPANSION_DEPTH: usize = 200;

/// Where library files (`require(library FILE)`) come from.
pub trait Loader {
    /// Find `name` as Click would (relative to `dir`, then the search path) and return
    /// its path and contents.
    fn load(&self, name: &str, dir: &str) -> Result<(String, String), String>;
}

/// How to elaborate.
pub struct Options<'a> {
    /// `Some(f)`: driver mode; `f(name)` says whether `name` is a primitive class.
    /// `None`: tool mode.
    pub is_primitive: Option<&'a dyn Fn(&str) -> bool>,
    pub loader: Option<&'a dyn Loader>,
    /// `NAME=VALUE` definitions from the command line.
    pub globals: Vec<(String, String)>,
    /// Largest flat router to build; past it, expansion stops with an error (a few
    /// lines of nested compounds can otherwise ask for billions of elements).
    pub max_elements: usize,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options { is_primitive: None, loader: None, globals: Vec::new(), max_elements: MAX_ELEMENTS }
    }
}

/// The result of reading a configuration.
#[derive(Clone, Debug)]
pub struct Output {
    pub flat: FlatConfig,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
    /// `require(compact_config)` was given.
    pub compact_config: bool,
}

/// Parse and elaborate a configuration text.
pub fn read(text: &str, filename: &str, opts: &Options) -> Output {
    let mut sources = Sources::default();
    let src = sources.add(filename, text);
    let mut el = Elaborator::new(opts, sources);
    el.library_paths.push(filename.to_string());
    // Each statement is elaborated as soon as it is parsed and then let go,
    // never holding the whole syntax tree: a large configuration's is several
    // times its text (18 MB for the 2.8 MB of 10,000 consolidated tenants), and
    // it made the peak of reading.
    let parsed = el.in_file(src, |el| {
        parser::parse_each(text, filename, src, &mut |stmt, files| {
            // `# LINE "FILE"` directives add file names as the text goes.
            if el.files.len() != files.len() {
                el.files = files.to_vec();
            }
            el.statements(core::slice::from_ref(&stmt));
        })
    });
    let mut out = el.finish();
    // Click reports syntax and meaning errors as it meets them; we find them in two
    // passes, so put them back in source order.
    let semantic = core::mem::take(&mut out.diagnostics);
    out.diagnostics = crate::diag::merge_in_source_order(parsed.diagnostics, semantic, src);
    out
}

type TypeId = usize;

#[derive(Clone, Debug)]
enum TypeKind {
    /// Placeholder for groups, compound instances and `input`/`output`.
    Tunnel,
    /// A class that failed; elements of it make the router fail.
    Error,
    /// A primitive class; the string is its canonical name (synonyms share it).
    Primitive(String),
    Compound(Rc<CompoundClass>),
}

#[derive(Clone, Debug)]
struct ElementType {
    name: String,
    kind: TypeKind,
}

#[derive(Debug)]
struct CompoundClass {
    name: String,
    alternatives: Vec<Rc<Body>>,
    /// `|| ...`: the earlier class this one extends.
    extends: Option<TypeId>,
}

#[derive(Clone, Debug)]
struct Element {
    name: String,
    ty: TypeId,
    config: String,
    landmark: Landmark,
    source: Option<(usize, usize)>,
    nports: [usize; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Conn {
    /// Sorted by destination first, as Click sorts its connections.
    to: Port,
    from: Port,
}

/// A scope that owns elements: the file's top level or one compound alternative
/// (Click's `Lexer::Compound`).
#[derive(Clone, Debug, Default)]
struct Body {
    name: String,
    landmark: String,
    /// Lexical depth of this body's variable scope (top level 0).
    depth: usize,
    /// Formals first (value: `""`, a keyword or `__REST__`), then `define`s.
    scope: Vec<(String, String)>,
    nformals: usize,
    elements: Vec<Element>,
    map: BTreeMap<String, usize>,
    conns: Vec<Conn>,
    anonymous_offset: usize,
    ninputs: usize,
    noutputs: usize,
}

impl Body {
    fn landmark_of(&self, i: usize) -> String {
        self.elements.get(i).map(|e| e.landmark.to_string()).unwrap_or_else(|| "<unknown>".into())
    }

    fn connect(&mut self, from: usize, from_port: i32, to: usize, to_port: i32) {
        let fp = from_port.max(0) as usize;
        let tp = to_port.max(0) as usize;
        self.conns.push(Conn { to: Port { element: to, port: tp }, from: Port { element: from, port: fp } });
        let t = &mut self.elements[to].nports[0];
        *t = (*t).max(tp + 1);
        let f = &mut self.elements[from].nports[1];
        *f = (*f).max(fp + 1);
    }

    /// Give an anonymous element (`;Class@N`) its final name, skipping numbers a user
    /// already took.
    fn deanonymize(&mut self, i: usize) -> String {
        let anon = &self.elements[i].name;
        let mut name: String = anon[1..].into();
        if self.map.contains_key(&name) {
            let at = name.rfind('@').unwrap_or(name.len());
            let prefix: String = name[..=at.min(name.len() - 1)].into();
            let digits: String = name[at + 1..].chars().take_while(char::is_ascii_digit).collect();
            let mut n: u64 = digits.parse().unwrap_or(0);
            loop {
                n += 1;
                name = format!("{prefix}{n}");
                if !self.map.contains_key(&name) {
                    break;
                }
            }
        }
        self.map.insert(name.clone(), i);
        self.elements[i].name = name.clone();
        name
    }
}

/// One end of a tunnel (Click's `TunnelEnd`): connections reaching `port` from the
/// `output` side correspond to the ports listed in the paired end.
#[derive(Clone, Debug)]
struct TunnelEnd {
    port: Port,
    is_output: bool,
    other: Option<usize>,
    correspond: Vec<Port>,
    /// 0 not yet, 1 in progress (cycle guard), 2 done.
    expanded: u8,
}

/// A port group of a section: one element reference with its port lists (Click's
/// vector encoding: `-1` last means expandable).
#[derive(Clone, Debug)]
struct PortGroup {
    element: usize,
    ports: [Vec<i32>; 2],
}

struct ElementState {
    name: String,
    ty: Option<TypeId>,
    decl: Option<TypeId>,
    bare: bool,
    config: String,
    pos: Pos,
}

struct Elaborator<'a> {
    opts: &'a Options<'a>,
    sources: Sources,
    diags: Vec<Diagnostic>,
    types: Vec<ElementType>,
    /// Visible classes by name (saved and restored around compound bodies).
    type_map: BTreeMap<String, TypeId>,
    /// Primitive classes seen so far (driver mode) or invented (tool mode); global.
    base_types: BTreeMap<String, TypeId>,
    /// The body being filled; `stack` holds the enclosing ones.
    cur: Body,
    stack: Vec<Body>,
    tunnels: Vec<TunnelEnd>,
    tunnels_by_element: BTreeMap<usize, Vec<usize>>,
    requirements: Vec<Requirement>,
    compact_config: bool,
    library_paths: Vec<String>,
    /// Current file names (from the parse that is being elaborated) and source index.
    files: Vec<String>,
    source: usize,
    tunnel_type: TypeId,
    error_type: TypeId,
    expansion_depth: usize,
    too_big: bool,
}

impl<'a> Elaborator<'a> {
    fn new(opts: &'a Options<'a>, sources: Sources) -> Self {
        let mut el = Elaborator {
            opts,
            sources,
            diags: Vec::new(),
            types: Vec::new(),
            type_map: BTreeMap::new(),
            base_types: BTreeMap::new(),
            cur: Body::default(),
            stack: Vec::new(),
            tunnels: Vec::new(),
            tunnels_by_element: BTreeMap::new(),
            requirements: Vec::new(),
            compact_config: false,
            library_paths: Vec::new(),
            files: Vec::new(),
            source: 0,
            tunnel_type: 0,
            error_type: 1,
            expansion_depth: 0,
            too_big: false,
        };
        el.tunnel_type = el.add_type("<tunnel>", TypeKind::Tunnel);
        el.error_type = el.add_type("Error", TypeKind::Error);
        el
    }

    fn add_type(&mut self, name: &str, kind: TypeKind) -> TypeId {
        self.types.push(ElementType { name: name.into(), kind });
        self.types.len() - 1
    }

    fn landmark(&self, pos: Pos) -> String {
        parser::landmark(&self.files, pos)
    }

    fn landmark_struct(&self, pos: Pos) -> Landmark {
        Landmark::new(self.files.get(pos.file).cloned().unwrap_or_default(), pos.line)
    }

    fn error(&mut self, pos: Pos, msg: impl Into<String>) {
        let lm = self.landmark(pos);
        self.diags.push(Diagnostic::error(lm, msg).at(self.source, pos.offset));
    }

    fn error_lm(&mut self, lm: String, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(lm, msg));
    }

    // ------------------------------------------------------------ classes

    /// The class `name` names here, if any (Click's `element_type`).
    fn element_type(&mut self, name: &str) -> Option<TypeId> {
        if let Some(t) = self.type_map.get(name) {
            return Some(*t);
        }
        if let Some(t) = self.base_types.get(name) {
            return Some(*t);
        }
        match self.opts.is_primitive {
            Some(f) if f(name) => {
                let t = self.add_type(name, TypeKind::Primitive(name.into()));
                self.base_types.insert(name.into(), t);
                Some(t)
            }
            _ => None,
        }
    }

    /// The class `name`, creating it if unknown: in tool mode a new primitive class,
    /// in driver mode an error class (with "unknown element class" when `report`).
    fn force_element_type(&mut self, name: &str, pos: Pos, report: bool) -> TypeId {
        if let Some(t) = self.element_type(name) {
            return t;
        }
        if self.opts.is_primitive.is_none() {
            let t = self.add_type(name, TypeKind::Primitive(name.into()));
            self.base_types.insert(name.into(), t);
            return t;
        }
        if report {
            self.error(pos, format!("unknown element class '{name}'"));
        }
        let t = self.add_type(name, TypeKind::Error);
        self.type_map.insert(name.into(), t);
        t
    }

    fn class_name(&self, t: TypeId) -> &str {
        match &self.types[t].kind {
            TypeKind::Primitive(n) => n,
            _ => &self.types[t].name,
        }
    }

    // ------------------------------------------------------------ elements

    fn anon_name(&self, class: &str) -> String {
        let n = self.cur.elements.len() + 1 - self.cur.anonymous_offset;
        format!(";{class}@{n}")
    }

    fn get_element(
        &mut self,
        name: &str,
        ty: TypeId,
        config: String,
        landmark: Landmark,
        at: Option<(usize, usize)>,
    ) -> usize {
        if let Some(i) = self.cur.map.get(name) {
            return *i;
        }
        let all_digit_component = name.split('/').any(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
        if all_digit_component {
            let mut d =
                Diagnostic::error(landmark.to_string(), format!("element name '{name}' has all-digit component"));
            d.at = at;
            self.diags.push(d);
        }
        let i = self.cur.elements.len();
        self.cur.map.insert(name.into(), i);
        self.cur.elements.push(Element { name: name.into(), ty, config, landmark, source: at, nports: [0, 0] });
        i
    }

    // ------------------------------------------------------------ statements

    fn file(&mut self, parsed: &Parsed, source: usize) {
        self.in_file(source, |el| {
            el.files = parsed.files.clone();
            el.statements(&parsed.file.stmts);
        });
    }

    /// Run `f` on the text of source `source`, whose file names `f` sets, then
    /// give the elaborator back the file names and source it had (a library
    /// is read in the middle of another file).
    fn in_file<R>(&mut self, source: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        let saved_files = core::mem::take(&mut self.files);
        let saved_source = core::mem::replace(&mut self.source, source);
        let r = f(self);
        self.files = saved_files;
        self.source = saved_source;
        r
    }

    fn statements(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            if self.too_big {
                return;
            }
            match s {
                Stmt::Chain(c) => self.chain(c),
                Stmt::ElementClass(d) => self.elementclass(d),
                Stmt::Require { args, pos } => self.require(args, *pos),
                Stmt::Define { args, pos } => self.define(args, *pos),
            }
        }
    }

    fn define(&mut self, text: &str, pos: Pos) {
        for arg in args::split_args(text) {
            if arg.is_empty() {
                continue;
            }
            let mut words = args::split_spacevec(&arg);
            let var = if words.is_empty() { String::new() } else { words.remove(0) };
            let valid = var.len() >= 2
                && var.starts_with('$')
                && var[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                self.error(pos, "bad 'define' declaration: not a variable");
                continue;
            }
            // The value is the rest of the argument after the variable, as written.
            let value = arg.trim_start()[var.len()..].trim().to_string();
            let name = &var[1..];
            if self.cur.scope.iter().any(|v| v.0 == name) {
                self.error(pos, format!("parameter '${name}' multiply defined"));
            } else {
                self.cur.scope.push((name.into(), value));
            }
        }
    }

    fn require(&mut self, text: &str, pos: Pos) {
        for arg in args::split_args(text) {
            let mut words = args::split_spacevec(&arg);
            if words.is_empty() {
                continue;
            }
            let mut kind = words[0].clone();
            let is_word = !kind.is_empty() && !kind.contains(['"', '\'']);
            if is_word && kind != "compact_config" && kind != "package" && kind != "library" && words.len() == 1 {
                words.push(kind.clone());
                kind = "package".into();
            }
            if kind == "compact_config" && words.len() == 1 {
                self.compact_config = true;
                self.requirements.push(Requirement { kind, value: String::new() });
            } else if kind == "package" && words.len() == 2 {
                self.requirements.push(Requirement { kind, value: args::unquote(&words[1]) });
            } else if kind == "library" && words.len() == 2 {
                let value = args::unquote(&words[1]);
                self.require_library(&value, pos);
            } else {
                self.error(pos, "syntax error at requirement");
            }
        }
    }

    fn require_library(&mut self, name: &str, pos: Pos) {
        if !self.stack.is_empty() {
            self.error(pos, "'require library' must be used at file scope");
            return;
        }
        let Some(loader) = self.opts.loader else {
            self.error(pos, "'require library' may not be used in this driver");
            return;
        };
        let current = self.files.get(pos.file).cloned().unwrap_or_default();
        let dir = match current.rfind('/') {
            Some(p) if p > 0 => current[..p].to_string(),
            _ => ".".to_string(),
        };
        let (path, text) = match loader.load(name, &dir) {
            Ok(x) => x,
            Err(_) => {
                self.error(pos, format!("library '{name}' not found in CLICKPATH/conf"));
                return;
            }
        };
        if self.library_paths.contains(&path) {
            return;
        }
        self.library_paths.push(path.clone());
        let src = self.sources.add(path.clone(), text.clone());
        let parsed = parser::parse(&text, &path, src);
        self.diags.extend(parsed.diagnostics.iter().cloned());
        self.file(&parsed, src);
    }

    fn elementclass(&mut self, d: &ElementClassDecl) {
        let Some(name) = &d.name else {
            if let ClassDef::Body(b) = &d.def {
                self.compound_class("", b);
            }
            return;
        };
        match &d.def {
            ClassDef::Body(b) => {
                let t = self.compound_class(name, b);
                self.type_map.insert(name.clone(), t);
            }
            ClassDef::Synonym(other) => {
                let t = self.force_element_type(other, d.pos, true);
                let kind = self.types[t].kind.clone();
                let s = self.add_type(name, kind);
                self.type_map.insert(name.clone(), s);
            }
        }
    }

    /// Elaborate a compound class definition; returns its type (not yet visible by name).
    fn compound_class(&mut self, name: &str, b: &ClassBody) -> TypeId {
        let saved_map = self.type_map.clone();
        let extends = if b.extends {
            match self.type_map.get(name).copied().or_else(|| self.base_types.get(name).copied()) {
                Some(t) => Some(t),
                None => {
                    self.error(b.pos, format!("cannot extend unknown element class '{name}'"));
                    Some(self.error_type)
                }
            }
        } else {
            None
        };
        let mut alternatives = Vec::new();
        for alt in &b.alternatives {
            let depth = self.cur.depth + 1;
            let body = Body {
                name: name.into(),
                landmark: self.landmark(alt.pos),
                depth,
                anonymous_offset: 2,
                ..Body::default()
            };
            let parent = core::mem::replace(&mut self.cur, body);
            self.stack.push(parent);
            let lm = self.landmark_struct(alt.pos);
            self.get_element("input", self.tunnel_type, String::new(), lm.clone(), None);
            self.get_element("output", self.tunnel_type, String::new(), lm, None);
            for f in &alt.formals {
                if !self.cur.scope.iter().any(|v| v.0 == f.name) {
                    self.cur.scope.push((f.name.clone(), f.keyword.clone().unwrap_or_default()));
                }
            }
            self.cur.nformals = self.cur.scope.len();
            self.statements(&alt.body);
            self.finish_body();
            let parent = self.stack.pop().expect("pushed above");
            let done = core::mem::replace(&mut self.cur, parent);
            self.type_map = saved_map.clone();
            alternatives.push(Rc::new(done));
        }
        self.type_map = saved_map;
        let class = CompoundClass { name: name.into(), alternatives, extends };
        self.add_type(name, TypeKind::Compound(Rc::new(class)))
    }

    /// Count a compound's ports from its `input`/`output` use; name anonymous elements.
    fn finish_body(&mut self) {
        let printable = if self.cur.name.is_empty() { "<anonymous>".to_string() } else { self.cur.name.clone() };
        let lm = self.cur.landmark.clone();
        self.cur.ninputs = self.check_pseudoelement(0, false, &printable, &lm);
        self.cur.noutputs = self.check_pseudoelement(1, true, &printable, &lm);
        for i in 0..self.cur.elements.len() {
            if self.cur.elements[i].name.starts_with(';') {
                self.cur.deanonymize(i);
            }
        }
    }

    /// Click's `check_pseudoelement`: `input` may only be used as a source and
    /// `output` only as a destination, with no gaps in the port numbers.
    fn check_pseudoelement(&mut self, which: usize, is_output: bool, name: &str, lm: &str) -> usize {
        let Some(e) = self.cur.elements.get(which) else {
            return 0;
        };
        let (used_side, wrong_side) = if is_output { (0, 1) } else { (1, 0) };
        let n = e.nports[used_side];
        let wrong = e.nports[wrong_side] > 0;
        let mut used = vec![false; n];
        for c in &self.cur.conns {
            let p = if is_output { c.to } else { c.from };
            if p.element == which && p.port < n {
                used[p.port] = true;
            }
        }
        let (this, other) = if is_output { ("output", "input") } else { ("input", "output") };
        if wrong {
            self.error_lm(lm.into(), format!("'{name}' pseudoelement '{this}' may only be used as {other}"));
        }
        for (i, u) in used.iter().enumerate() {
            if !u {
                self.error_lm(lm.into(), format!("'{name}' {this} {i} missing"));
            }
        }
        n
    }

    // ------------------------------------------------------------ connections

    fn chain(&mut self, c: &Chain) {
        let mut last: Option<Vec<PortGroup>> = None;
        let single = c.sections.len() == 1;
        for (i, s) in c.sections.iter().enumerate() {
            let groups = self.section(s, single);
            if let Some(prev) = &last {
                let kind = c.connectors[i - 1].kind;
                self.connect_all(prev, &groups, kind, s.end);
            }
            last = Some(groups);
        }
    }

    fn section(&mut self, s: &Section, standalone: bool) -> Vec<PortGroup> {
        let mut states: Vec<ElementState> = Vec::new();
        let mut ports: Vec<[Vec<i32>; 2]> = Vec::new();
        let mut any_ports = false;
        let mut any_implicit = false;
        for e in &s.elements {
            let mut p = [
                e.inputs.as_ref().map(PortList::flatten).unwrap_or_default(),
                e.outputs.as_ref().map(PortList::flatten).unwrap_or_default(),
            ];
            let (name, ty, bare) = match &e.target {
                Target::Name(n) => {
                    let ty = self.element_type(n);
                    (n.clone(), ty, e.class.is_none() && e.config.is_none())
                }
                Target::Compound(b) => (String::new(), Some(self.compound_class("", b)), false),
                Target::Group { body, end } => {
                    let name = self.anon_name("");
                    let counts = self.group(&name, body, *end);
                    for k in 0..2 {
                        if p[k].is_empty() {
                            p[k] = (0..counts[k] as i32).collect();
                        }
                    }
                    (name, None, false)
                }
                Target::Implicit { output } => {
                    any_implicit = true;
                    let n = if *output { "output" } else { "input" };
                    (n.to_string(), None, false)
                }
            };
            let decl = match &e.class {
                None => None,
                Some(ClassRef::Name(c)) => Some(self.force_element_type(c, e.pos, true)),
                Some(ClassRef::Compound(b)) => Some(self.compound_class("", b)),
            };
            if e.config.is_some() && self.cur.map.contains_key(&name) {
                self.error(e.pos, "configuration string ignored on element reference");
            }
            any_ports |= !p[0].is_empty() || !p[1].is_empty();
            ports.push(p);
            states.push(ElementState {
                name,
                ty,
                decl,
                bare,
                config: e.config.clone().unwrap_or_default(),
                pos: e.pos,
            });
        }

        // `a, b, c :: Class(config)` declares all three.
        if states.len() > 1 && standalone && !any_ports && !any_implicit {
            let last = states.iter().position(|st| !st.bare).unwrap_or(states.len() - 1);
            if last == states.len() - 1
                && let Some(decl) = states[last].decl
            {
                let config = states[last].config.clone();
                for st in &mut states[..last] {
                    st.decl = Some(decl);
                    st.config = config.clone();
                }
            }
        }

        let tool_mode = self.opts.is_primitive.is_none();
        let mut groups = Vec::with_capacity(states.len());
        for (st, p) in states.into_iter().zip(ports) {
            let existing = self.cur.map.get(&st.name).copied().filter(|_| st.ty.is_none());
            let element = if let Some(idx) = existing {
                if st.decl.is_some() {
                    self.error(st.pos, format!("redeclaration of element '{}'", st.name));
                    if self.cur.elements[idx].ty != self.tunnel_type {
                        let lm = self.cur.landmark_of(idx);
                        self.error_lm(lm, format!("element '{}' previously declared here", st.name));
                    }
                }
                idx
            } else {
                let mut ty = st.ty;
                let decl_is_own_name = tool_mode && st.decl.is_some_and(|d| self.types[d].name == st.name);
                if st.decl.is_some() && (ty.is_some() || decl_is_own_name) {
                    self.error(st.pos, format!("class '{}' used as element name", st.name));
                } else if st.decl.is_none() && ty.is_none() {
                    if !tool_mode {
                        self.error(st.pos, format!("undeclared element '{}'", st.name));
                    }
                    ty = Some(self.force_element_type(&st.name, st.pos, false));
                }
                let name = if ty.is_some() { self.anon_name(&st.name) } else { st.name.clone() };
                let class = ty.or(st.decl).unwrap_or(self.error_type);
                let lm = self.landmark_struct(st.pos);
                self.get_element(&name, class, st.config, lm, Some((self.source, st.pos.offset)))
            };
            groups.push(PortGroup { element, ports: p });
        }
        groups
    }

    /// Elaborate a group's statements with `input`/`output` bound to its tunnels;
    /// returns its `[inputs, outputs]` counts.
    fn group(&mut self, name: &str, body: &[Stmt], end: Pos) -> [usize; 2] {
        let lm = self.landmark_struct(end);
        let ids = self.add_tunnels(name, lm.clone());
        let old_in = self.cur.map.insert("input".into(), ids[1]);
        let old_out = self.cur.map.insert("output".into(), ids[2]);
        self.statements(body);
        let printable = if name.starts_with(';') { "<anonymous group>".to_string() } else { name.to_string() };
        let lm = lm.to_string();
        let n_in = self.check_pseudoelement(ids[1], false, &printable, &lm);
        let n_out = self.check_pseudoelement(ids[2], true, &printable, &lm);
        for (key, old) in [("input", old_in), ("output", old_out)] {
            match old {
                Some(i) => self.cur.map.insert(key.into(), i),
                None => self.cur.map.remove(key),
            };
        }
        [n_in, n_out]
    }

    fn analyze(groups: &[PortGroup], side: usize) -> (usize, usize) {
        let mut min = 0;
        let mut expandable = 0;
        for g in groups {
            let p = &g.ports[side];
            let n = p.len();
            if n <= 1 {
                min += 1;
            } else if p[n - 1] == -1 {
                min += n - 1;
                expandable += 1;
            } else {
                min += n;
            }
        }
        (min, expandable)
    }

    /// Click's `yconnection_connect_all`: connect a list of sources to a list of
    /// destinations, pairing ports in order, with `=>` fan-out and `[]` expansion.
    fn connect_all(&mut self, outputs: &[PortGroup], inputs: &[PortGroup], kind: ConnectorKind, pos: Pos) {
        // Index 0 is the input side (destinations), 1 the output side (sources).
        let lists: [&[PortGroup]; 2] = [inputs, outputs];
        let side = |k: usize| if k == 0 { 0 } else { 1 };
        let (min0, exp0) = Self::analyze(inputs, 0);
        let (min1, exp1) = Self::analyze(outputs, 1);
        let mut minp = [min0 as i64, min1 as i64];
        let mut expandable = [exp0 as i64, exp1 as i64];
        if expandable[0] + expandable[1] > 1 {
            self.error(pos, "at most one expandable port allowed per connection");
            let k = if minp[0] < minp[1] { 1 } else { 0 };
            expandable[k] = 0;
        }
        if kind == ConnectorKind::DoubleArrow {
            for k in 0..2 {
                let first_ports = lists[k].first().map(|g| g.ports[side(k)].len()).unwrap_or(0);
                if minp[k] == 1 && minp[1 - k] > 1 && first_ports == 0 {
                    expandable[k] = 1;
                }
            }
        }
        let mut step = [false; 2];
        let mut nexpandable = [0i64; 2];
        for k in 0..2 {
            step[k] = minp[k] > 1 || expandable[k] > 0;
            nexpandable[k] = if expandable[k] > 0 { minp[1 - k] - minp[k] } else { 0 };
        }
        if step[0] && step[1] {
            if kind != ConnectorKind::DoubleArrow {
                self.error(pos, "syntax error: many-to-many connections require '=>'");
            }
            if expandable[0] == 0 && expandable[1] == 0 && minp[0] != minp[1] {
                self.error(pos, format!("connection mismatch: {} outputs connected to {} inputs", minp[1], minp[0]));
            } else if expandable[0] == 0 && minp[0] < minp[1] {
                self.error(
                    pos,
                    format!("connection mismatch: {} or more outputs connected to {} inputs", minp[1], minp[0]),
                );
            } else if expandable[1] == 0 && minp[1] < minp[0] {
                self.error(
                    pos,
                    format!("connection mismatch: {} outputs connected to {} or more inputs", minp[1], minp[0]),
                );
            }
        } else if !step[0] && !step[1] {
            step[0] = true;
        }
        minp = [minp[0].max(0), minp[1].max(0)];

        let mut it = [0usize; 2];
        let mut ppos = [0usize; 2];
        let mut port = [-1i32; 2];
        // Bound the work: each round consumes a port or an element of one side.
        let mut budget = 4 * (inputs.len() + outputs.len() + 8) + 2 * (minp[0] + minp[1]) as usize;
        while it[0] < inputs.len() && it[1] < outputs.len() && budget > 0 {
            budget -= 1;
            for k in 0..2 {
                if port[k] < 0 {
                    let p = &lists[k][it[k]].ports[side(k)];
                    port[k] = if p.is_empty() { 0 } else { p[0] };
                }
            }
            let (from, to) = (outputs[it[1]].element, inputs[it[0]].element);
            self.cur.connect(from, port[1], to, port[0]);
            for k in 0..2 {
                if !step[k] {
                    continue;
                }
                let pvec = &lists[k][it[k]].ports[side(k)];
                let np = pvec.len();
                ppos[k] += 1;
                if ppos[k] < np && pvec[ppos[k]] >= 0 {
                    port[k] = pvec[ppos[k]];
                } else if np >= 2 && pvec[np - 1] == -1 && nexpandable[k] > 0 {
                    port[k] = pvec[np - 2] + (ppos[k] as i32) - (np as i32 - 2);
                    nexpandable[k] -= 1;
                } else if np == 0 && minp[k] == 1 && nexpandable[k] > 0 {
                    port[k] = ppos[k] as i32;
                    nexpandable[k] -= 1;
                } else {
                    port[k] = -1;
                    ppos[k] = 0;
                    it[k] += 1;
                }
            }
        }
    }

    // ------------------------------------------------------------ tunnels

    /// Create (or find) the three tunnel elements of a group or compound instance
    /// `name`, and at top level pair their ends.
    fn add_tunnels(&mut self, name: &str, lm: Landmark) -> [usize; 3] {
        let names = [name.to_string(), format!("{name}/input"), format!("{name}/output")];
        let mut ids = [0usize; 3];
        let mut ok = true;
        for i in 0..3 {
            ids[i] = self.get_element(&names[i], self.tunnel_type, String::new(), lm.clone(), None);
            if self.cur.elements[ids[i]].ty != self.tunnel_type {
                let old = self.cur.landmark_of(ids[i]);
                self.error_lm(lm.to_string(), format!("redeclaration of element '{}'", names[i]));
                self.error_lm(old, format!("'{}' previously declared here", names[i]));
                ok = false;
            }
        }
        if ok && self.stack.is_empty() {
            let ports = [ids[0], ids[1], ids[2], ids[0]].map(|e| Port { element: e, port: 0 });
            let mut ends = [0usize; 4];
            for i in 0..4 {
                ends[i] = self.find_tunnel(ports[i], i % 2 == 1, true).expect("insert creates");
                if self.tunnels[ends[i]].other.is_some() {
                    let old = self.cur.landmark_of(ports[i].element);
                    let n = &names[if i == 3 { 0 } else { i }];
                    self.error_lm(lm.to_string(), format!("redeclaration of connection tunnel '{n}'"));
                    self.error_lm(old, format!("'{n}' previously declared here"));
                    ok = false;
                }
            }
            if ok {
                self.pair(ends[0], ends[1]);
                self.pair(ends[2], ends[3]);
            }
        }
        ids
    }

    fn pair(&mut self, a: usize, b: usize) {
        self.tunnels[a].other = Some(b);
        self.tunnels[b].other = Some(a);
    }

    fn new_tunnel_end(&mut self, port: Port, is_output: bool) -> usize {
        self.tunnels.push(TunnelEnd { port, is_output, other: None, correspond: Vec::new(), expanded: 0 });
        let id = self.tunnels.len() - 1;
        self.tunnels_by_element.entry(port.element).or_default().push(id);
        id
    }

    /// Click's `find_tunnel`: the end for `port`; without `insert`, an end for a
    /// nonzero port is made on demand from the port-0 end (pairing it likewise).
    fn find_tunnel(&mut self, port: Port, is_output: bool, insert: bool) -> Option<usize> {
        let ends = self.tunnels_by_element.get(&port.element).cloned().unwrap_or_default();
        let mut proto = None;
        for &id in ends.iter().rev() {
            let te = &self.tunnels[id];
            if te.is_output == is_output && te.port.port == port.port {
                return Some(id);
            } else if te.is_output == is_output && te.port.port == 0 {
                proto = Some(id);
            }
        }
        if insert {
            return Some(self.new_tunnel_end(port, is_output));
        }
        let proto = proto?;
        let other_elem = self.tunnels[self.tunnels[proto].other?].port.element;
        let te = self.new_tunnel_end(port, is_output);
        let ote = self.find_tunnel(Port { element: other_elem, port: port.port }, !is_output, true)?;
        self.pair(te, ote);
        Some(te)
    }

    fn element_name(&self, i: usize) -> String {
        self.cur.elements.get(i).map(|e| e.name.clone()).unwrap_or_else(|| "##no-such-element##".into())
    }

    /// Resolve a connection end through tunnels to real ports.
    fn expand_connection(&mut self, end: Port, is_output: bool, into: &mut Vec<Port>, depth: usize) {
        if self.cur.elements[end.element].ty != self.tunnel_type {
            into.push(end);
        } else if let Some(te) = self.find_tunnel(end, is_output, false) {
            self.expand_tunnel(te, into, depth + 1);
        } else if self.find_tunnel(end, !is_output, false).is_some() {
            let name = self.element_name(end.element);
            let lm = self.cur.landmark_of(end.element);
            let side = if is_output { "output" } else { "input" };
            self.error_lm(lm, format!("'{name}' used as {side}"));
        }
    }

    fn expand_tunnel(&mut self, te: usize, into: &mut Vec<Port>, depth: usize) {
        if self.tunnels[te].expanded == 1 || depth > MAX_EXPANSION_DEPTH * 4 {
            return;
        }
        if self.tunnels[te].expanded == 0 {
            self.tunnels[te].expanded = 1;
            let first_cut = core::mem::take(&mut self.tunnels[te].correspond);
            let is_output = self.tunnels[te].is_output;
            if first_cut.is_empty() {
                self.report_unused_tunnel(te);
            }
            let mut resolved = Vec::new();
            for p in first_cut {
                self.expand_connection(p, is_output, &mut resolved, depth);
            }
            self.tunnels[te].correspond = resolved;
            self.tunnels[te].expanded = 2;
        }
        into.extend(self.tunnels[te].correspond.iter().copied());
    }

    fn report_unused_tunnel(&mut self, te: usize) {
        let Some(other) = self.tunnels[te].other else {
            return;
        };
        let me = self.tunnels[te].port;
        let them = self.tunnels[other].port;
        let is_output = self.tunnels[te].is_output;
        let (inh, outh) = if is_output { (them, me) } else { (me, them) };
        let in_name = self.element_name(inh.element);
        let out_name = self.element_name(outh.element);
        if format!("{in_name}/input") == out_name {
            let msg = if is_output {
                format!("'{in_name}' input {} unused", inh.port)
            } else {
                format!("'{in_name}' has no input {}", inh.port)
            };
            let lm = self.cur.landmark_of(inh.element);
            self.error_lm(lm, msg);
        } else if in_name == format!("{out_name}/output") {
            let msg = if is_output {
                format!("'{out_name}' has no output {}", outh.port)
            } else {
                format!("'{out_name}' output {} unused", outh.port)
            };
            let lm = self.cur.landmark_of(outh.element);
            self.error_lm(lm, msg);
        } else {
            let side = if is_output { "output" } else { "input" };
            let lm = self.cur.landmark_of(them.element);
            self.error_lm(lm, format!("tunnel '{in_name} -> {out_name}' {side} {} unused", me.element));
        }
    }

    // ------------------------------------------------------------ expansion

    fn finish(mut self) -> Output {
        // The top-level environment: `define`s, then command-line values, which win.
        let mut env = Env::new(None);
        for (k, v) in &self.cur.scope {
            env.define(k, v, false);
        }
        for (k, v) in &self.opts.globals {
            env.define(k, v, true);
        }
        let env = Rc::new(env);
        let initial = self.cur.elements.len();
        for i in 0..initial {
            if self.too_big {
                break;
            }
            self.expand_element(i, &env);
        }

        // Which elements survive into the router.
        let mut router_id: Vec<Option<usize>> = Vec::with_capacity(self.cur.elements.len());
        let mut flat = FlatConfig::default();
        for e in &self.cur.elements {
            if e.ty == self.tunnel_type {
                router_id.push(None);
            } else {
                router_id.push(Some(flat.elements.len()));
                flat.elements.push(FlatElement {
                    name: e.name.clone(),
                    class: self.class_name(e.ty).to_string(),
                    config: e.config.clone(),
                    landmark: e.landmark.clone(),
                });
            }
        }

        // Splice connections through tunnels.
        if !self.tunnels.is_empty() {
            let conns = self.cur.conns.clone();
            for c in &conns {
                for (is_output, end, other) in [(false, c.to, c.from), (true, c.from, c.to)] {
                    if router_id[end.element].is_none()
                        && let Some(te) = self.find_tunnel(end, is_output, false)
                        && let Some(o) = self.tunnels[te].other
                    {
                        self.tunnels[o].correspond.push(other);
                    }
                }
            }
            for c in conns {
                if router_id[c.from.element].is_some() && router_id[c.to.element].is_some() {
                    continue;
                }
                let mut froms = Vec::new();
                self.expand_connection(c.from, true, &mut froms, 0);
                let mut tos = Vec::new();
                self.expand_connection(c.to, false, &mut tos, 0);
                for f in &froms {
                    for t in &tos {
                        if router_id[f.element].is_some() && router_id[t.element].is_some() {
                            self.cur.connect(f.element, f.port as i32, t.element, t.port as i32);
                        }
                    }
                }
            }
        }

        let mut conns: Vec<Conn> = self
            .cur
            .conns
            .iter()
            .filter_map(|c| {
                let from = router_id[c.from.element]?;
                let to = router_id[c.to.element]?;
                Some(Conn {
                    to: Port { element: to, port: c.to.port },
                    from: Port { element: from, port: c.from.port },
                })
            })
            .collect();
        conns.sort();
        conns.dedup();
        let landmarks: Vec<Landmark> = flat.elements.iter().map(|e| e.landmark.clone()).collect();
        flat.connections = conns
            .into_iter()
            .map(|c| FlatConnection { from: c.from, to: c.to, landmark: landmarks[c.from.element].clone() })
            .collect();
        flat.requirements = self.requirements;
        Output { flat, diagnostics: self.diags, sources: self.sources, compact_config: self.compact_config }
    }

    fn expand_element(&mut self, which: usize, env: &Rc<Env>) {
        if self.cur.elements[which].name.starts_with(';') {
            self.cur.deanonymize(which);
        }
        let ty = self.cur.elements[which].ty;
        if ty == self.tunnel_type {
            return;
        }
        let config = expand(&self.cur.elements[which].config, env);
        self.cur.elements[which].config = config.clone();
        let TypeKind::Compound(class) = self.types[ty].kind.clone() else {
            return;
        };
        if self.expansion_depth >= MAX_EXPANSION_DEPTH {
            let lm = self.cur.landmark_of(which);
            self.error_lm(lm, format!("compound element '{}' nested too deeply", self.cur.elements[which].name));
            self.cur.elements[which].ty = self.error_type;
            return;
        }
        let args = args::split_args(&config);
        let [nin, nout] = self.cur.elements[which].nports;
        let lm = self.cur.landmark_of(which);
        match self.resolve(&class, nin, nout, &args, &lm) {
            Resolved::None => self.cur.elements[which].ty = self.error_type,
            Resolved::Primitive(t) => self.cur.elements[which].ty = t,
            Resolved::Compound(body, values) => {
                let mut new_env = Env::new(env.parent_of(body.depth));
                for (i, v) in values.iter().enumerate().take(body.nformals) {
                    new_env.define(&body.scope[i].0, v, true);
                }
                for (name, value) in &body.scope[body.nformals..] {
                    let v = expand(value, &new_env);
                    new_env.define(name, &v, true);
                }
                self.expansion_depth += 1;
                self.expand_into(&body, which, &Rc::new(new_env));
                self.expansion_depth -= 1;
            }
        }
    }

    fn resolve(&mut self, class: &Rc<CompoundClass>, nin: usize, nout: usize, args: &[String], lm: &str) -> Resolved {
        let mut closest: Option<(Rc<Body>, Vec<String>)> = None;
        let mut tried = 0usize;
        let mut current = Some(class.clone());
        let mut candidates: Vec<Rc<Body>> = Vec::new();
        let mut guard = 0usize;
        while let Some(c) = current.take() {
            guard += 1;
            if guard > 1000 {
                break;
            }
            for alt in &c.alternatives {
                tried += 1;
                candidates.push(alt.clone());
                let assigned = assign_arguments(alt, args);
                if alt.ninputs == nin && alt.noutputs == nout {
                    if let Some(values) = assigned {
                        return Resolved::Compound(alt.clone(), values);
                    }
                } else if let Some(values) = assigned
                    && closest.is_none()
                {
                    closest = Some((alt.clone(), values));
                }
            }
            match c.extends {
                Some(t) => match &self.types[t].kind {
                    TypeKind::Compound(next) => current = Some(next.clone()),
                    TypeKind::Error => return Resolved::None,
                    _ => return Resolved::Primitive(t),
                },
                None => break,
            }
        }
        if tried != 1 || closest.is_none() {
            let sig = signature(&class.name, None, args.len() as i64, nin, nout);
            self.error_lm(lm.into(), format!("no match for '{sig}'"));
            self.error_lm(lm.into(), "candidates are:");
            for c in candidates {
                let types: Vec<String> = c.scope[..c.nformals].iter().map(|v| v.1.clone()).collect();
                let s = signature(&c.name, Some(&types), -1, c.ninputs, c.noutputs);
                self.error_lm(c.landmark.clone(), format!("  {s}"));
            }
        }
        match closest {
            Some((b, v)) => Resolved::Compound(b, v),
            None => Resolved::None,
        }
    }

    /// Instantiate compound alternative `body` as top-level element `which`.
    fn expand_into(&mut self, body: &Body, which: usize, env: &Rc<Env>) {
        let ename = self.cur.elements[which].name.clone();
        let lm = self.cur.elements[which].landmark.clone();
        self.cur.elements[which].ty = self.tunnel_type;
        let ids = self.add_tunnels(&ename, lm.clone());
        let mut map: Vec<Option<usize>> = vec![Some(ids[1]), Some(ids[2])];
        let mut i = 2;
        while i < body.elements.len() {
            let max = self.opts.max_elements;
            if self.cur.elements.len() >= max {
                if !self.too_big {
                    self.too_big = true;
                    self.error_lm(lm.to_string(), format!("configuration too large (more than {max} elements)"));
                }
                return;
            }
            let e = &body.elements[i];
            let cname = format!("{ename}/{}", e.name);
            if let Some(&old) = self.cur.map.get(&cname) {
                let old_lm = self.cur.landmark_of(old);
                self.error_lm(lm.to_string(), format!("redeclaration of element '{cname}'"));
                self.error_lm(old_lm, format!("'{cname}' previously declared here"));
                map.push(None);
                i += 1;
                continue;
            }
            if self.type_map.contains_key(&cname) {
                self.error_lm(lm.to_string(), format!("'{cname}' is an element class"));
            }
            if e.ty == self.tunnel_type {
                let t = self.add_tunnels(&cname, e.landmark.clone());
                map.extend(t.iter().map(|x| Some(*x)));
                i += 3;
                continue;
            }
            let config = expand(&e.config, env);
            let idx = self.get_element(&cname, e.ty, config, e.landmark.clone(), e.source);
            map.push(Some(idx));
            i += 1;
        }
        for c in &body.conns {
            if let (Some(Some(f)), Some(Some(t))) = (map.get(c.from.element), map.get(c.to.element)) {
                self.cur.connect(*f, c.from.port as i32, *t, c.to.port as i32);
            }
        }
        for m in map.into_iter().skip(2).flatten() {
            if self.too_big {
                return;
            }
            self.expand_element(m, env);
        }
    }
}

enum Resolved {
    None,
    Primitive(TypeId),
    Compound(Rc<Body>, Vec<String>),
}

/// Click's compound signature text, e.g. `Foo($a, KW)[1 input, 1 output]`.
fn signature(name: &str, formal_types: Option<&[String]>, nargs: i64, nin: usize, nout: usize) -> String {
    let mut s = if name.is_empty() { String::from("<anonymous>") } else { name.to_string() };
    if let Some(types) = formal_types
        && !types.is_empty()
    {
        s.push('(');
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(match t.as_str() {
                "" => "<arg>",
                "__REST__" => "...",
                other => other,
            });
        }
        s.push(')');
    }
    s.push('[');
    if formal_types.is_none() && nargs > 0 {
        s.push_str(&format!("{nargs} argument{}, ", if nargs == 1 { "" } else { "s" }));
    }
    s.push_str(&format!(
        "{nin} input{}, {nout} output{}]",
        if nin == 1 { "" } else { "s" },
        if nout == 1 { "" } else { "s" }
    ));
    s
}

/// Click's `cp_assign_arguments`: match an argument list against a compound's
/// formals (positional, then keywords — all mandatory — then an optional
/// `__REST__`). Returns the value for each formal.
fn assign_arguments(body: &Body, args: &[String]) -> Option<Vec<String>> {
    let params: Vec<&str> = body.scope[..body.nformals].iter().map(|v| v.1.as_str()).collect();
    if params.last().is_none_or(|p| p.is_empty()) {
        return (args.len() == params.len()).then(|| args.to_vec());
    }
    let rest = params.last() == Some(&"__REST__");
    let nvalues = if rest { params.len() - 1 } else { params.len() };
    let npositional = params.iter().take(nvalues).take_while(|p| p.is_empty()).count();
    let mut values = vec![String::new(); params.len()];
    let mut supplied = vec![false; nvalues];
    let mut used = vec![false; args.len()];
    let mut npositional_supplied = 0;
    let mut any_keywords = false;
    let mut keyword_error = false;
    for (i, arg) in args.iter().enumerate() {
        if npositional_supplied >= npositional {
            let matched = args::split_keyword(arg).and_then(|(kw, value)| {
                params[npositional..nvalues].iter().position(|p| *p == kw).map(|j| (j + npositional, value))
            });
            match matched {
                Some((j, value)) => {
                    values[j] = value.to_string();
                    supplied[j] = true;
                    used[i] = true;
                    any_keywords = true;
                    continue;
                }
                None if any_keywords => {
                    if !rest {
                        keyword_error = true;
                    }
                    continue;
                }
                None => {}
            }
        }
        if npositional_supplied < npositional {
            used[i] = true;
            values[npositional_supplied] = arg.clone();
            supplied[npositional_supplied] = true;
        }
        npositional_supplied += 1;
    }
    if keyword_error || supplied.iter().any(|s| !s) || (npositional_supplied > npositional && !rest) {
        return None;
    }
    if rest {
        let leftover: Vec<&str> = args.iter().zip(&used).filter(|(_, u)| !**u).map(|(a, _)| a.as_str()).collect();
        values[nvalues] = leftover.join(", ");
    }
    Some(values)
}
