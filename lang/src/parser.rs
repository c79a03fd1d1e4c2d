//! The Click parser: tokens to [`ast`](crate::ast), with Click's syntax errors.
//!
//! It is a recursive-descent parser following the structure of Click's own
//! (`lexer.cc`/`lexert.cc`): connection chains of comma-separated element lists,
//! groups and compounds parsed recursively (with a nesting limit, so hostile input
//! cannot overflow the stack), and Click's rules for the implicit `input`/`output`
//! ports of compounds and groups decided here, because they depend only on syntax.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lexer::{Lexer, Token, TokenKind};

/// Deepest nesting of compounds and groups accepted.
pub const MAX_DEPTH: usize = 64;

/// The result of parsing one source text.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub file: File,
    /// File names referenced by [`Pos::file`]; index 0 is the name the text was
    /// parsed under, others come from `# LINE "FILE"` directives.
    pub files: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// `FILE:LINE` for a position, Click's landmark.
    pub fn landmark(&self, pos: Pos) -> String {
        landmark(&self.files, pos)
    }
}

pub fn landmark(files: &[String], pos: Pos) -> String {
    let name = files.get(pos.file).map(String::as_str).unwrap_or("");
    match name.chars().last() {
        Some(c) if c == ':' || c.is_whitespace() => format!("{name}{}", pos.line),
        _ => format!("{name}:{}", pos.line),
    }
}

/// Parse a configuration. `source` is the index the caller's [`crate::diag::Sources`]
/// gives this text (used for caret snippets).
pub fn parse(text: &str, filename: &str, source: usize) -> Parsed {
    let mut stmts = Vec::new();
    let mut parsed = parse_each(text, filename, source, &mut |s, _| stmts.push(s));
    parsed.file.stmts = stmts;
    parsed
}

/// Parse a configuration, handing each top-level statement to `each` as soon
/// as it is read, with the file names known so far (what [`Parsed::files`]
/// will hold; `# LINE "FILE"` directives add to them as the text goes). The
/// result holds no statements. Why: a reader that elaborates each statement
/// and lets it go never holds the whole syntax tree, which for a large
/// configuration is several times its text (18 MB for the 2.8 MB of 10,000
/// consolidated tenants).
pub fn parse_each(text: &str, filename: &str, source: usize, each: &mut dyn FnMut(Stmt, &[String])) -> Parsed {
    let mut p = Parser {
        lex: Lexer::new(text, filename),
        diags: Vec::new(),
        source,
        compound_depth: 0,
        group_depth: 0,
        last_connection_ends_output: true,
    };
    p.statements_to(None, each);
    for e in core::mem::take(&mut p.lex.errors) {
        let lm = landmark(&p.lex.files, Pos { file: e.file, line: e.line, offset: e.offset });
        p.diags.push(Diagnostic::error(lm, e.message).at(source, e.offset));
    }
    Parsed { file: File { stmts: Vec::new() }, files: p.lex.files, diagnostics: p.diags }
}

struct Parser<'s> {
    lex: Lexer<'s>,
    diags: Vec<Diagnostic>,
    source: usize,
    compound_depth: usize,
    group_depth: usize,
    /// Whether the previous chain in this scope ended in `output` (Click uses it to
    /// decide whether to suggest `input ->`).
    last_connection_ends_output: bool,
}

fn pos_of(t: &Token) -> Pos {
    Pos { file: t.file, line: t.line, offset: t.offset }
}

impl<'s> Parser<'s> {
    fn lex(&mut self) -> Token {
        self.lex.next_token()
    }

    fn unlex(&mut self, t: Token) {
        self.lex.unlex(t)
    }

    fn here(&self) -> Pos {
        Pos { file: self.lex.file(), line: self.lex.line(), offset: self.lex.offset() }
    }

    fn error_at(&mut self, pos: Pos, msg: impl Into<String>) {
        let lm = landmark(&self.lex.files, pos);
        self.diags.push(Diagnostic::error(lm, msg).at(self.source, pos.offset));
    }

    fn warning_at(&mut self, pos: Pos, msg: impl Into<String>) {
        let lm = landmark(&self.lex.files, pos);
        self.diags.push(Diagnostic::warning(lm, msg).at(self.source, pos.offset));
    }

    fn syntax_error(&mut self, t: &Token) {
        let what = if t.kind == TokenKind::Eof { String::from("end of file") } else { t.text.clone() };
        self.error_at(pos_of(t), format!("syntax error near '{what}'"));
    }

    fn nested(&self) -> bool {
        self.compound_depth > 0 || self.group_depth > 0
    }

    /// Consume a token of `kind` or report "expected ..." (leaving the token).
    fn expect(&mut self, kind: TokenKind) -> bool {
        let t = self.lex();
        if t.kind == kind {
            return true;
        }
        self.error_at(pos_of(&t), format!("expected {}", Token::describe_kind(&kind)));
        self.unlex(t);
        false
    }

    /// Statements until EOF, or until `}`/`||` (`close == '}'`) or `)` (`close == ')'`),
    /// which are left unread.
    fn statements(&mut self, close: Option<u8>) -> Vec<Stmt> {
        let mut out = Vec::new();
        self.statements_to(close, &mut |s, _| out.push(s));
        out
    }

    /// The statements up to `close` (or the end), each handed to `sink` with
    /// the file names known so far as soon as it is read.
    fn statements_to(&mut self, close: Option<u8>, sink: &mut dyn FnMut(Stmt, &[String])) {
        loop {
            let t = self.lex();
            match &t.kind {
                TokenKind::Ident
                | TokenKind::Arrow
                | TokenKind::DoubleArrow
                | TokenKind::Char(b'[')
                | TokenKind::Char(b'{')
                | TokenKind::Char(b'(') => {
                    self.unlex(t);
                    if let Some(c) = self.chain() {
                        sink(Stmt::Chain(c), &self.lex.files);
                    }
                }
                TokenKind::Elementclass => {
                    if let Some(d) = self.elementclass(pos_of(&t)) {
                        sink(Stmt::ElementClass(d), &self.lex.files);
                    }
                }
                TokenKind::Require => {
                    if let Some(args) = self.parenthesized() {
                        // Click pre-reads a ';' after require() for parsing extensions.
                        if self.lex.peek().is_char(b';') {
                            self.lex();
                        }
                        sink(Stmt::Require { args, pos: pos_of(&t) }, &self.lex.files);
                    }
                }
                TokenKind::Define => {
                    if let Some(args) = self.parenthesized() {
                        sink(Stmt::Define { args, pos: pos_of(&t) }, &self.lex.files);
                    }
                }
                TokenKind::Char(b';') => {}
                TokenKind::Char(b'}') | TokenKind::DoubleBar if close == Some(b'}') => {
                    self.unlex(t);
                    return;
                }
                TokenKind::Char(b')') if close == Some(b')') => {
                    self.unlex(t);
                    return;
                }
                TokenKind::Eof => {
                    if let Some(c) = close {
                        self.error_at(pos_of(&t), format!("expected '{}'", c as char));
                    }
                    self.unlex(t);
                    return;
                }
                _ => self.syntax_error(&t),
            }
        }
    }

    /// `( raw text )` after `require` / `define`.
    fn parenthesized(&mut self) -> Option<String> {
        if !self.expect(TokenKind::Char(b'(')) {
            return None;
        }
        let text = self.lex.config_string();
        self.expect(TokenKind::Char(b')'));
        Some(text)
    }

    /// A port list after `[` has been seen (the `[` is consumed here).
    fn ports(&mut self) -> Option<PortList> {
        let t = self.lex();
        if !t.is_char(b'[') {
            self.unlex(t);
            return None;
        }
        let mut list = PortList::default();
        let mut dash = false;
        loop {
            let t = self.lex();
            if t.kind == TokenKind::Ident {
                let port = match parse_port_number(&t.text) {
                    Some(p) => p,
                    None => {
                        self.error_at(pos_of(&t), "syntax error: port number should be integer");
                        0
                    }
                };
                if dash {
                    let from = match list.items.pop() {
                        Some(PortItem::Single(a)) | Some(PortItem::Range(_, a)) => a,
                        None => -1,
                    };
                    list.items.push(PortItem::Range(from, port));
                    // A range ends the dash; `a-b-c` is an error as in Click.
                } else {
                    list.items.push(PortItem::Single(port));
                }
            } else if t.is_char(b']') {
                list.expandable = true;
                return Some(list);
            } else {
                self.error_at(pos_of(&t), "syntax error: expected port number");
                self.unlex(t);
                return Some(list);
            }
            let t = self.lex();
            if t.is_char(b']') {
                return Some(list);
            } else if t.is_char(b'-') && !dash {
                dash = true;
                continue;
            } else if t.is_char(b',') {
                dash = false;
            } else {
                self.error_at(pos_of(&t), "syntax error: expected ','");
                self.unlex(t);
            }
        }
    }

    /// A connection chain. Returns `None` when nothing was parsed.
    fn chain(&mut self) -> Option<Chain> {
        let mut chain = Chain { sections: Vec::new(), connectors: Vec::new() };
        loop {
            let in_allowed = !chain.sections.is_empty();
            match self.section(in_allowed) {
                Some(s) => chain.sections.push(s),
                None => {
                    // A dangling connector: drop it.
                    chain.connectors.pop();
                    break;
                }
            }
            let t = loop {
                let t = self.lex();
                if t.is_char(b',') || t.kind == TokenKind::DoubleColon {
                    self.syntax_error(&t);
                    continue;
                }
                break t;
            };
            match t.kind {
                TokenKind::Arrow | TokenKind::DoubleArrow => {
                    let kind =
                        if t.kind == TokenKind::Arrow { ConnectorKind::Arrow } else { ConnectorKind::DoubleArrow };
                    chain.connectors.push(Connector { kind, pos: pos_of(&t) });
                }
                TokenKind::Ident
                | TokenKind::Char(b'{')
                | TokenKind::Char(b'}')
                | TokenKind::Char(b'[')
                | TokenKind::Char(b')')
                | TokenKind::DoubleBar
                | TokenKind::Elementclass
                | TokenKind::Require
                | TokenKind::Provide
                | TokenKind::Define => {
                    self.unlex(t);
                    break;
                }
                TokenKind::Char(b';') | TokenKind::Eof => {
                    if t.kind == TokenKind::Eof {
                        self.unlex(t);
                    }
                    break;
                }
                _ => {
                    self.syntax_error(&t);
                    if !matches!(t.kind, TokenKind::Char(_)) {
                        self.unlex(t);
                    }
                    break;
                }
            }
        }
        if let Some(last) = chain.sections.last() {
            self.check_useless_ports(&chain);
            self.last_connection_ends_output = chain.sections.len() > 1
                && last.elements.len() == 1
                && matches!(last.elements[0].target, Target::Implicit { output: true });
        }
        if chain.sections.is_empty() {
            return None;
        }
        chain.sections.shrink_to_fit();
        chain.connectors.shrink_to_fit();
        Some(chain)
    }

    /// "input ports ignored at start of chain" / "output ports ignored at end of chain".
    fn check_useless_ports(&mut self, chain: &Chain) {
        let first = &chain.sections[0];
        if first.elements.iter().any(|e| e.inputs.as_ref().is_some_and(|p| !p.items.is_empty() || p.expandable)) {
            let pos = first.elements[0].pos;
            self.error_at(pos, "input ports ignored at start of chain");
        }
        let last = chain.sections.last().expect("nonempty");
        if last.elements.iter().any(|e| e.outputs.as_ref().is_some_and(|p| !p.items.is_empty() || p.expandable)) {
            self.error_at(last.end, "output ports ignored at end of chain");
        }
    }

    /// A comma-separated element list. `in_allowed`: this list follows a connector.
    fn section(&mut self, in_allowed: bool) -> Option<Section> {
        // Most sections name one element; a Vec's first growth would hold four
        // (an element reference is large), and a configuration of 100,000
        // sections keeps every one until it is elaborated.
        let mut elements: Vec<ElementRef> = Vec::with_capacity(1);
        let mut any_implicit = false;
        loop {
            let inputs = self.ports();
            let t = self.lex();
            let pos = pos_of(&t);
            let mut implicit = false;
            let target = match t.kind {
                TokenKind::Ident => Target::Name(t.text.clone()),
                TokenKind::Char(b'{') => match self.class_body(pos) {
                    Some(b) => Target::Compound(Box::new(b)),
                    None => return None,
                },
                TokenKind::Char(b'(') => {
                    let body = self.group();
                    let end = self.here();
                    Target::Group { body, end }
                }
                _ => {
                    let nested = self.nested();
                    let first_item = elements.is_empty();
                    let has_inputs = inputs.is_some();
                    if nested && matches!(t.kind, TokenKind::Arrow | TokenKind::DoubleArrow) {
                        implicit = !in_allowed && (has_inputs || first_item);
                        if implicit && !has_inputs && !self.last_connection_ends_output {
                            let op = t.text.clone();
                            self.warning_at(pos, format!("suggest 'input {op}' or '[0] {op}' to start connection"));
                        }
                    } else if nested && t.is_char(b',') {
                        implicit = has_inputs;
                    } else if nested && t.kind != TokenKind::DoubleColon {
                        implicit = in_allowed && (has_inputs || first_item);
                    }
                    if implicit {
                        any_implicit = true;
                        self.unlex(t);
                        let e = if in_allowed {
                            ElementRef {
                                inputs,
                                target: Target::Implicit { output: true },
                                class: None,
                                config: None,
                                outputs: None,
                                pos,
                            }
                        } else {
                            // Ports written before an implicit input are its outputs.
                            ElementRef {
                                inputs: None,
                                target: Target::Implicit { output: false },
                                class: None,
                                config: None,
                                outputs: inputs,
                                pos,
                            }
                        };
                        elements.push(e);
                        let t = self.lex();
                        if t.is_char(b',') {
                            continue;
                        }
                        self.unlex(t);
                        break;
                    }
                    if inputs.is_some() {
                        self.error_at(pos, "stranded port ignored");
                    }
                    if first_item {
                        if nested && !in_allowed {
                            self.unlex(t);
                        } else {
                            // Click consumes the offending token here (so a stray
                            // `->` cannot stall the parser).
                            self.syntax_error(&t);
                            if t.kind == TokenKind::Eof {
                                self.unlex(t);
                            }
                        }
                        return None;
                    }
                    self.unlex(t);
                    break;
                }
            };
            let mut e = ElementRef { inputs, target, class: None, config: None, outputs: None, pos };
            let mut t = self.lex();
            if t.kind == TokenKind::DoubleColon {
                let c = self.lex();
                match c.kind {
                    TokenKind::Ident => e.class = Some(ClassRef::Name(c.text)),
                    TokenKind::Char(b'{') => {
                        let b = self.class_body(pos_of(&c))?;
                        e.class = Some(ClassRef::Compound(Box::new(b)));
                    }
                    _ => {
                        self.error_at(pos_of(&c), "missing element type in declaration");
                        let own = match &e.target {
                            Target::Name(n) => n.clone(),
                            _ => String::from("Error"),
                        };
                        e.class = Some(ClassRef::Name(own));
                        self.unlex(c);
                    }
                }
                t = self.lex();
            }
            if t.is_char(b'(') {
                e.config = Some(self.lex.config_string());
                self.expect(TokenKind::Char(b')'));
                t = self.lex();
            }
            if t.is_char(b'[') {
                self.unlex(t);
                e.outputs = self.ports();
                t = self.lex();
            }
            elements.push(e);
            if !t.is_char(b',') {
                self.unlex(t);
                break;
            }
        }
        let next = self.lex.peek().clone();
        if any_implicit && in_allowed && matches!(next.kind, TokenKind::Arrow | TokenKind::DoubleArrow) {
            self.error_at(pos_of(&next), "implicit ports used in the middle of a chain");
        }
        Some(Section { elements, end: self.here() })
    }

    /// `( statements )` after the `(`; consumes the `)`.
    fn group(&mut self) -> Vec<Stmt> {
        if self.compound_depth + self.group_depth >= MAX_DEPTH {
            let here = self.here();
            self.error_at(here, "maximum element group nesting depth exceeded");
            self.skip_to_close(b'(', b')');
            return Vec::new();
        }
        self.group_depth += 1;
        let saved = core::mem::replace(&mut self.last_connection_ends_output, true);
        let body = self.statements(Some(b')'));
        self.last_connection_ends_output = saved;
        self.group_depth -= 1;
        self.expect(TokenKind::Char(b')'));
        body
    }

    /// After refusing to descend further, skip the rest of the construct.
    fn skip_to_close(&mut self, open: u8, close: u8) {
        let mut depth = 1usize;
        loop {
            let t = self.lex();
            match t.kind {
                TokenKind::Eof => {
                    self.unlex(t);
                    return;
                }
                TokenKind::Char(c) if c == open => depth += 1,
                TokenKind::Char(c) if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// A compound class body after `{`, through the closing `}`.
    fn class_body(&mut self, pos: Pos) -> Option<ClassBody> {
        if self.compound_depth + self.group_depth >= MAX_DEPTH {
            self.error_at(pos, "maximum compound element nesting depth exceeded");
            self.skip_to_close(b'{', b'}');
            return None;
        }
        let mut body = ClassBody { alternatives: Vec::new(), extends: false, pos };
        loop {
            let t = self.lex();
            if t.kind == TokenKind::ThreeDots {
                body.extends = true;
                let n = self.lex();
                if body.alternatives.is_empty() || !n.is_char(b'}') {
                    self.error_at(pos_of(&n), "'...' should occur last, after one or more compounds");
                }
                if n.is_char(b'}') && !body.alternatives.is_empty() {
                    break;
                }
                self.unlex(n);
            } else {
                self.unlex(t);
            }
            let alt_pos = self.here();
            self.compound_depth += 1;
            let saved = core::mem::replace(&mut self.last_connection_ends_output, true);
            let formals = self.formals();
            let stmts = self.statements(Some(b'}'));
            self.last_connection_ends_output = saved;
            self.compound_depth -= 1;
            body.alternatives.push(CompoundDef { formals, body: stmts, pos: alt_pos });
            let t = self.lex();
            if t.kind != TokenKind::DoubleBar {
                if t.kind == TokenKind::Eof {
                    self.unlex(t);
                }
                break;
            }
        }
        Some(body)
    }

    /// `$a, KEY $b, __REST__ $c |` at the start of a compound (possibly absent).
    fn formals(&mut self) -> Vec<Formal> {
        let mut formals: Vec<Formal> = Vec::new();
        let mut order_error = false;
        loop {
            let t1 = self.lex();
            let (keyword, name, pos) = match t1.kind {
                TokenKind::Ident => {
                    let t2 = self.lex();
                    if t2.kind == TokenKind::Variable {
                        (Some(t1.text.clone()), t2.text.clone(), pos_of(&t1))
                    } else {
                        if !formals.is_empty() {
                            self.error_at(pos_of(&t2), "expected variable");
                        }
                        self.unlex(t2);
                        self.unlex(t1);
                        break;
                    }
                }
                TokenKind::Variable => (None, t1.text.clone(), pos_of(&t1)),
                TokenKind::Char(b'|') => break,
                _ => {
                    if !formals.is_empty() {
                        self.error_at(pos_of(&t1), "expected variable");
                    }
                    self.unlex(t1);
                    break;
                }
            };
            if formals.iter().any(|f| f.name == name) {
                self.error_at(pos, format!("parameter '${name}' multiply defined"));
            } else {
                if let Some(k) = &keyword
                    && formals.iter().any(|f| f.keyword.as_ref() == Some(k))
                {
                    self.error_at(pos, format!("repeated keyword parameter '{k}' in compound element"));
                }
                if !order_error && let Some(prev) = formals.last() {
                    let prev_rest = prev.keyword.as_deref() == Some("__REST__");
                    if (keyword.is_none() && prev.keyword.is_some()) || prev_rest {
                        self.error_at(
                            pos,
                            "compound element parameters out of order\n(The correct order is '[positional], [keywords], [__REST__]'.)",
                        );
                        order_error = true;
                    }
                }
                formals.push(Formal { keyword, name });
            }
            let sep = self.lex();
            if sep.is_char(b'|') {
                break;
            } else if !sep.is_char(b',') {
                self.error_at(pos_of(&sep), "expected ',' or '|'");
                self.unlex(sep);
                break;
            }
        }
        formals
    }

    /// `elementclass NAME { ... }` / `elementclass NAME OTHER`, after the keyword.
    fn elementclass(&mut self, pos: Pos) -> Option<ElementClassDecl> {
        let t = self.lex();
        let name = if t.kind == TokenKind::Ident {
            Some(t.text.clone())
        } else {
            self.error_at(pos_of(&t), "expected element type name");
            self.unlex(t);
            None
        };
        let n = self.lex();
        let def = match n.kind {
            TokenKind::Char(b'{') => ClassDef::Body(Box::new(self.class_body(pos_of(&n))?)),
            TokenKind::Ident => ClassDef::Synonym(n.text.clone()),
            _ => {
                self.syntax_error(&n);
                if !matches!(n.kind, TokenKind::Char(_)) || n.kind == TokenKind::Eof {
                    self.unlex(n);
                }
                return None;
            }
        };
        Some(ElementClassDecl { name, def, pos })
    }
}

/// Click's port numbers: decimal, or C-style `0x`/`0` prefixes; no sign.
fn parse_port_number(s: &str) -> Option<i32> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return None;
    }
    i32::from_str_radix(digits, radix).ok().filter(|p| *p >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> Vec<String> {
        parse(src, "t", 0).diagnostics.iter().map(|d| d.click_text().trim_end().into()).collect()
    }

    /// `parse_each` hands over the statements `parse` returns, in order, each
    /// with the file names known when it was read.
    #[test]
    fn statements_one_at_a_time_with_the_files_known_so_far() {
        let text = "a :: Idle; elementclass C { input -> output }\n# 7 \"B\"\nb :: C -> a;\nrequire(x);";
        let mut seen = Vec::new();
        let each = parse_each(text, "A", 0, &mut |s, files| seen.push((s, files.to_vec())));
        let whole = parse(text, "A", 0);
        assert!(each.file.stmts.is_empty());
        assert_eq!((&each.files, &each.diagnostics), (&whole.files, &whole.diagnostics));
        let stmts: Vec<Stmt> = seen.iter().map(|(s, _)| s.clone()).collect();
        assert_eq!(stmts, whole.file.stmts);
        let files: Vec<usize> = seen.iter().map(|(_, f)| f.len()).collect();
        assert_eq!(files, [1, 1, 2, 2], "{seen:?}");
    }

    #[test]
    fn chain_with_ports_and_declarations() {
        let p = parse("a :: Foo(1, 2) [1] -> [2] b, c => d;", "t", 0);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let Stmt::Chain(c) = &p.file.stmts[0] else { panic!() };
        assert_eq!(c.sections.len(), 3);
        let a = &c.sections[0].elements[0];
        assert_eq!(a.target, Target::Name("a".into()));
        assert_eq!(a.class, Some(ClassRef::Name("Foo".into())));
        assert_eq!(a.config.as_deref(), Some("1, 2"));
        assert_eq!(a.outputs.as_ref().unwrap().flatten(), [1]);
        assert_eq!(c.sections[1].elements.len(), 2);
        assert_eq!(c.connectors[1].kind, ConnectorKind::DoubleArrow);
    }

    #[test]
    fn port_lists_ranges_and_expandable() {
        let p = parse("a [0, 2-4] => [] b; c [1,] -> d;", "t", 0);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let Stmt::Chain(c) = &p.file.stmts[0] else { panic!() };
        assert_eq!(c.sections[0].elements[0].outputs.as_ref().unwrap().flatten(), [0, 2, 3, 4]);
        assert_eq!(c.sections[1].elements[0].inputs.as_ref().unwrap().flatten(), [0, -1]);
        let Stmt::Chain(c) = &p.file.stmts[1] else { panic!() };
        assert_eq!(c.sections[0].elements[0].outputs.as_ref().unwrap().flatten(), [1, -1]);
    }

    #[test]
    fn implicit_ports_in_compounds() {
        let p = parse("elementclass F { [1] -> a -> [2]; input -> b -> output }", "t", 0);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let Stmt::ElementClass(d) = &p.file.stmts[0] else { panic!() };
        let ClassDef::Body(b) = &d.def else { panic!() };
        let Stmt::Chain(c) = &b.alternatives[0].body[0] else { panic!() };
        assert_eq!(c.sections[0].elements[0].target, Target::Implicit { output: false });
        assert_eq!(c.sections[0].elements[0].outputs.as_ref().unwrap().flatten(), [1]);
        assert_eq!(c.sections[2].elements[0].target, Target::Implicit { output: true });
        assert_eq!(c.sections[2].elements[0].inputs.as_ref().unwrap().flatten(), [2]);
    }

    #[test]
    fn formals_overloads_and_extension() {
        let p = parse("elementclass F { $a, KW $b, __REST__ $r | Idle || $x | Idle || ... }", "t", 0);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let Stmt::ElementClass(d) = &p.file.stmts[0] else { panic!() };
        let ClassDef::Body(b) = &d.def else { panic!() };
        assert_eq!(b.alternatives.len(), 2);
        assert!(b.extends);
        assert_eq!(b.alternatives[0].formals[1], Formal { keyword: Some("KW".into()), name: "b".into() });
    }

    #[test]
    fn syntax_errors_in_click_words() {
        assert_eq!(errors("a -> ;"), ["t:1: syntax error near ';'"]);
        assert_eq!(errors("a [x] -> b"), ["t:1: syntax error: port number should be integer"]);
        assert_eq!(errors("elementclass { }"), ["t:1: expected element type name"]);
        assert_eq!(errors("elementclass F { $a, $a | }"), ["t:1: parameter '$a' multiply defined"]);
        assert_eq!(
            errors("elementclass F { K $a, $b | }"),
            [
                "t:1: compound element parameters out of order\nt:1: (The correct order is '[positional], [keywords], [__REST__]'.)"
            ]
        );
        assert_eq!(errors("elementclass F { a :: Idle"), ["t:1: expected '}'"]);
        assert_eq!(errors("a :: ;"), ["t:1: missing element type in declaration"]);
        assert_eq!(errors("x :: Idle }"), ["t:1: syntax error near '}'"]);
        assert_eq!(errors("require x"), ["t:1: expected '('"]);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut s = String::new();
        for _ in 0..10_000 {
            s.push_str("elementclass F { ");
        }
        let e = errors(&s);
        assert!(e.iter().any(|m| m.contains("maximum compound element nesting depth exceeded")));
        let g = String::from("a -> ") + &"(".repeat(10_000);
        let e = errors(&g);
        assert!(e.iter().any(|m| m.contains("nesting depth exceeded")));
    }
}
