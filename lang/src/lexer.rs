//! The Click lexer.
//!
//! Click's lexical rules are context sensitive in two places, so the lexer is a
//! pull-style tokenizer the parser drives rather than a one-shot token stream:
//!
//! * a configuration string `Class(...)` is taken verbatim up to its matching
//!   parenthesis (quotes, comments and `\<hex>` blocks respected) — the parser
//!   asks for it with [`Lexer::config_string`] right after an opening `(`;
//! * `# LINE "FILE"` directives (what `cpp` emits) change the file name and line
//!   used for diagnostics, but only at the start of a line.
//!
//! Token recognizers are nom parsers over the remaining input; the lexer keeps the
//! position, the line count and the current file name.

use alloc::string::String;
use alloc::vec::Vec;

use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::recognize;
use nom::sequence::pair;

/// The kinds of Click lexemes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A word: element name, class name, port number, keyword argument name.
    /// Words may contain `/` between word characters (`a/b`).
    Ident,
    /// `$name` (the text excludes the `$`).
    Variable,
    /// `->`
    Arrow,
    /// `=>`
    DoubleArrow,
    /// `::`
    DoubleColon,
    /// `||`
    DoubleBar,
    /// `...`
    ThreeDots,
    Elementclass,
    Require,
    Provide,
    Define,
    /// Any other single character.
    Char(u8),
    Eof,
}

/// A lexeme with its text and the position it was found at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
    /// Byte offset of the first character in the source.
    pub offset: usize,
    /// The line of the token (Click's line number, after `#` directives).
    pub line: u32,
    /// Index into [`Lexer::files`] of the file name in force at this token.
    pub file: usize,
}

impl Token {
    pub fn is_char(&self, c: u8) -> bool {
        self.kind == TokenKind::Char(c)
    }

    /// Click's description of a lexeme kind in "expected ..." errors.
    pub fn describe_kind(kind: &TokenKind) -> String {
        match kind {
            TokenKind::Ident => "identifier".into(),
            TokenKind::Variable => "variable".into(),
            TokenKind::Arrow => "'->'".into(),
            TokenKind::DoubleArrow => "'=>'".into(),
            TokenKind::DoubleColon => "'::'".into(),
            TokenKind::DoubleBar => "'||'".into(),
            TokenKind::ThreeDots => "'...'".into(),
            TokenKind::Elementclass => "'elementclass'".into(),
            TokenKind::Require => "'require'".into(),
            TokenKind::Provide => "'provide'".into(),
            TokenKind::Define => "'define'".into(),
            TokenKind::Char(c) => alloc::format!("'{}'", *c as char),
            TokenKind::Eof => "end of file".into(),
        }
    }
}

/// A diagnostic the lexer itself produces (bad `#` directives).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub file: usize,
    pub line: u32,
    pub offset: usize,
    pub message: String,
}

/// The Click lexer over one source text.
pub struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    file: usize,
    /// File names seen: index 0 is the name the source was opened under, later ones
    /// come from `# LINE "FILE"` directives.
    pub files: Vec<String>,
    pub errors: Vec<LexError>,
    lookahead: Vec<Token>,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@'
}

/// One word component: `[A-Za-z0-9_@]+`.
fn word_part(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii() && is_word_byte(c as u8))(i)
}

/// A word: components joined by single `/` characters (`a/b/c`); a `/` not followed
/// by a word character ends the word (so `a//comment` and `a/*x*/` lex as `a`).
fn word(i: &str) -> IResult<&str, &str> {
    let (mut rest, _) = word_part(i)?;
    while let Ok((r, _)) = pair(tag("/"), word_part).parse(rest) {
        rest = r;
    }
    Ok((rest, &i[..i.len() - rest.len()]))
}

/// `$name`: returns the name (possibly empty when `$` is followed by a non-word char).
fn variable(i: &str) -> IResult<&str, &str> {
    let (rest, v) = recognize(pair(tag("$"), take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'))).parse(i)?;
    if v.len() == 1 {
        return Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Alpha)));
    }
    Ok((rest, &v[1..]))
}

fn operator(i: &str) -> IResult<&str, &str> {
    alt((tag("->"), tag("=>"), tag("::"), tag("||"), tag("..."))).parse(i)
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str, filename: &str) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
            file: 0,
            files: alloc::vec![String::from(filename)],
            errors: Vec::new(),
            lookahead: Vec::new(),
        }
    }

    pub fn source(&self) -> &'s str {
        self.src
    }

    /// The current line (where the lexer stands, after any lookahead).
    pub fn line(&self) -> u32 {
        self.line
    }

    pub fn file(&self) -> usize {
        self.file
    }

    /// Byte offset just past the last consumed input.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn bytes(&self) -> &'s [u8] {
        self.src.as_bytes()
    }

    /// Consume a line terminator at `p` (LF, CR or CRLF); returns the position after it.
    fn newline_at(&self, p: usize) -> Option<usize> {
        let b = self.bytes();
        match b.get(p) {
            Some(b'\n') => Some(p + 1),
            Some(b'\r') if b.get(p + 1) == Some(&b'\n') => Some(p + 2),
            Some(b'\r') => Some(p + 1),
            _ => None,
        }
    }

    /// Skip to just past the end of the current line.
    fn skip_line(&mut self, mut p: usize) -> usize {
        let b = self.bytes();
        while p < b.len() {
            if let Some(n) = self.newline_at(p) {
                self.line = self.line.wrapping_add(1);
                return n;
            }
            p += 1;
        }
        p
    }

    /// Skip a `/* ... */` comment body starting after the opening `/*`.
    fn skip_slash_star(&mut self, mut p: usize) -> usize {
        let b = self.bytes();
        while p < b.len() {
            if let Some(n) = self.newline_at(p) {
                self.line = self.line.wrapping_add(1);
                p = n;
            } else if b[p] == b'*' && b.get(p + 1) == Some(&b'/') {
                return p + 2;
            } else {
                p += 1;
            }
        }
        p
    }

    /// Skip a `\<...>` hex block starting after `\<`.
    fn skip_backslash_angle(&mut self, mut p: usize) -> usize {
        let b = self.bytes();
        while p < b.len() {
            if let Some(n) = self.newline_at(p) {
                self.line = self.line.wrapping_add(1);
                p = n;
            } else if b[p] == b'/' && b.get(p + 1) == Some(&b'/') {
                p = self.skip_line(p + 2);
            } else if b[p] == b'/' && b.get(p + 1) == Some(&b'*') {
                p = self.skip_slash_star(p + 2);
            } else if b[p] == b'>' {
                return p + 1;
            } else {
                p += 1;
            }
        }
        p
    }

    /// Skip a quoted string starting after its opening quote `endc`.
    fn skip_quote(&mut self, mut p: usize, endc: u8) -> usize {
        let b = self.bytes();
        while p < b.len() {
            if let Some(n) = self.newline_at(p) {
                self.line = self.line.wrapping_add(1);
                p = n;
            } else if b[p] == b'\\' && endc == b'"' && p + 1 < b.len() {
                if b[p + 1] == b'<' {
                    p = self.skip_backslash_angle(p + 2);
                } else {
                    p += 2;
                }
            } else if b[p] == endc {
                return p + 1;
            } else {
                p += 1;
            }
        }
        p
    }

    fn at_line_start(&self, p: usize) -> bool {
        p == 0 || matches!(self.bytes().get(p - 1), Some(b'\n') | Some(b'\r'))
    }

    /// Process `# LINE "FILE"` (or `#line LINE "FILE"`) at `p`; returns the position of
    /// the line terminator (not past it: the caller's whitespace skipping counts it, so
    /// the next line gets number LINE).
    fn line_directive(&mut self, p: usize) -> usize {
        let b = self.bytes();
        let mut s = p + 1;
        while s < b.len() && (b[s] == b' ' || b[s] == b'\t') {
            s += 1;
        }
        if b[s.min(b.len())..].starts_with(b"line") && matches!(b.get(s + 4), Some(b' ' | b'\t')) {
            s += 5;
            while s < b.len() && (b[s] == b' ' || b[s] == b'\t') {
                s += 1;
            }
        }
        if s >= b.len() || !b[s].is_ascii_digit() {
            self.errors.push(LexError {
                file: self.file,
                line: self.line,
                offset: p,
                message: "unknown preprocessor directive".into(),
            });
            return self.skip_line(s);
        }
        let mut n: u32 = 0;
        while s < b.len() && b[s].is_ascii_digit() {
            n = n.wrapping_mul(10).wrapping_add((b[s] - b'0') as u32);
            s += 1;
        }
        // The terminator of the directive line will be counted once more.
        self.line = n.wrapping_sub(1);
        while s < b.len() && (b[s] == b' ' || b[s] == b'\t') {
            s += 1;
        }
        if s < b.len() && b[s] == b'"' {
            let start = s + 1;
            let mut e = start;
            let mut name = String::new();
            while e < b.len() && b[e] != b'"' && b[e] != b'\n' && b[e] != b'\r' {
                if b[e] == b'\\' && e + 1 < b.len() && b[e + 1] != b'\n' && b[e + 1] != b'\r' {
                    e += 1;
                }
                name.push(b[e] as char);
                e += 1;
            }
            s = e;
            let name = if name.is_empty() { self.files[0].clone() } else { name };
            self.file = match self.files.iter().position(|f| *f == name) {
                Some(i) => i,
                None => {
                    self.files.push(name);
                    self.files.len() - 1
                }
            };
        }
        while s < b.len() && b[s] != b'\n' && b[s] != b'\r' {
            s += 1;
        }
        s
    }

    /// Skip whitespace, comments and line directives.
    fn skip_space(&mut self) {
        let b = self.bytes();
        let mut p = self.pos;
        loop {
            while p < b.len() && b[p].is_ascii_whitespace() {
                if let Some(n) = self.newline_at(p) {
                    self.line = self.line.wrapping_add(1);
                    p = n;
                } else {
                    p += 1;
                }
            }
            if p + 1 < b.len() && b[p] == b'/' && b[p + 1] == b'/' {
                p = self.skip_line(p + 2);
            } else if p + 1 < b.len() && b[p] == b'/' && b[p + 1] == b'*' {
                p = self.skip_slash_star(p + 2);
            } else if p < b.len() && b[p] == b'#' && self.at_line_start(p) {
                p = self.line_directive(p);
            } else {
                break;
            }
        }
        self.pos = p;
    }

    fn lex_raw(&mut self) -> Token {
        self.skip_space();
        let start = self.pos;
        let rest = &self.src[start..];
        let mk = |kind, text: &str, lexer: &Self| Token {
            kind,
            text: text.into(),
            offset: start,
            line: lexer.line,
            file: lexer.file,
        };
        if rest.is_empty() {
            return mk(TokenKind::Eof, "", self);
        }
        if let Ok((r, w)) = word(rest) {
            self.pos = start + (rest.len() - r.len());
            let kind = match w {
                "elementclass" => TokenKind::Elementclass,
                "require" => TokenKind::Require,
                "provide" => TokenKind::Provide,
                "define" => TokenKind::Define,
                _ => TokenKind::Ident,
            };
            return mk(kind, w, self);
        }
        if let Ok((r, v)) = variable(rest) {
            self.pos = start + (rest.len() - r.len());
            return mk(TokenKind::Variable, v, self);
        }
        if let Ok((r, op)) = operator(rest) {
            self.pos = start + (rest.len() - r.len());
            let kind = match op {
                "->" => TokenKind::Arrow,
                "=>" => TokenKind::DoubleArrow,
                "::" => TokenKind::DoubleColon,
                "||" => TokenKind::DoubleBar,
                _ => TokenKind::ThreeDots,
            };
            return mk(kind, op, self);
        }
        // Any other character, whole (multi-byte UTF-8 characters stay intact).
        let ch = rest.chars().next().unwrap_or('\0');
        self.pos = start + ch.len_utf8();
        let byte = if ch.is_ascii() { ch as u8 } else { 0x80 };
        mk(TokenKind::Char(byte), &rest[..ch.len_utf8()], self)
    }

    /// The next token.
    pub fn next_token(&mut self) -> Token {
        match self.lookahead.pop() {
            Some(t) => t,
            None => self.lex_raw(),
        }
    }

    /// Push a token back; it is returned by the next [`next_token`](Self::next_token).
    pub fn unlex(&mut self, t: Token) {
        self.lookahead.push(t);
    }

    /// Look at the next token without consuming it.
    pub fn peek(&mut self) -> &Token {
        if self.lookahead.is_empty() {
            let t = self.lex_raw();
            self.lookahead.push(t);
        }
        self.lookahead.last().expect("just pushed")
    }

    /// Read a configuration string: everything up to the `)` that closes the `(` the
    /// parser just consumed, verbatim except that line directives inside it are
    /// dropped. Leaves the closing `)` unread. Must be called with no lookahead.
    pub fn config_string(&mut self) -> String {
        debug_assert!(self.lookahead.is_empty(), "config_string after lookahead");
        let b = self.bytes();
        let mut out = String::new();
        let mut chunk_start = self.pos;
        let mut p = self.pos;
        let mut depth = 1u32;
        while p < b.len() {
            match b[p] {
                b'(' => {
                    depth += 1;
                    p += 1;
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    p += 1;
                }
                b'\n' | b'\r' => {
                    p = self.newline_at(p).unwrap_or(p + 1);
                    self.line = self.line.wrapping_add(1);
                }
                b'#' if p > 0 && self.at_line_start(p) => {
                    out.push_str(&self.src[chunk_start..p]);
                    p = self.line_directive(p);
                    chunk_start = p;
                }
                b'/' if b.get(p + 1) == Some(&b'/') => p = self.skip_line(p + 2),
                b'/' if b.get(p + 1) == Some(&b'*') => p = self.skip_slash_star(p + 2),
                q @ (b'\'' | b'"') => p = self.skip_quote(p + 1, q),
                b'\\' if b.get(p + 1) == Some(&b'<') => p = self.skip_backslash_angle(p + 2),
                _ => p += 1,
            }
            // A comment or quote may run to the end of the input.
            p = p.min(b.len());
        }
        // `skip_line` consumes the newline that ends a `//` comment; keep the text whole.
        out.push_str(&self.src[chunk_start..p]);
        self.pos = p;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn kinds(src: &str) -> Vec<(TokenKind, String, u32)> {
        let mut l = Lexer::new(src, "t");
        let mut v = Vec::new();
        loop {
            let t = l.next_token();
            if t.kind == TokenKind::Eof {
                break;
            }
            v.push((t.kind, t.text, t.line));
        }
        v
    }

    #[test]
    fn words_operators_and_lines() {
        let v = kinds("a/b :: Foo -> c[1]\n=> $x ... || elementclass // hi\n/* x\n */ d");
        let texts: Vec<&str> = v.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(texts, ["a/b", "::", "Foo", "->", "c", "[", "1", "]", "=>", "x", "...", "||", "elementclass", "d"]);
        assert_eq!(v[9].0, TokenKind::Variable);
        assert_eq!(v[12].0, TokenKind::Elementclass);
        assert_eq!(v[13].2, 4);
    }

    #[test]
    fn slash_not_followed_by_word_ends_word() {
        let v = kinds("a/ b a//c\nq");
        let texts: Vec<&str> = v.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(texts, ["a", "/", "b", "a", "q"]);
    }

    #[test]
    fn line_directives_change_file_and_line() {
        let mut l = Lexer::new("x\n# 7 \"B\"\ny\n#line 3\nz", "A");
        let x = l.next_token();
        let y = l.next_token();
        let z = l.next_token();
        assert_eq!((x.line, l.files[x.file].as_str()), (1, "A"));
        assert_eq!((y.line, l.files[y.file].as_str()), (7, "B"));
        assert_eq!((z.line, l.files[z.file].as_str()), (3, "B"));
    }

    #[test]
    fn directive_only_at_line_start() {
        let mut l = Lexer::new("a # 5\nb", "f");
        let _ = l.next_token();
        assert!(l.next_token().is_char(b'#'));
    }

    #[test]
    fn bad_directive_is_reported() {
        let mut l = Lexer::new("#pragma\nx", "f");
        let t = l.next_token();
        assert_eq!(t.text, "x");
        assert_eq!(l.errors[0].message, "unknown preprocessor directive");
    }

    #[test]
    fn config_strings_are_verbatim() {
        let src = "Foo(a, \"b)\" (c) /* ) */ // )\n d) x";
        let mut l = Lexer::new(src, "f");
        assert_eq!(l.next_token().text, "Foo");
        assert!(l.next_token().is_char(b'('));
        let c = l.config_string();
        assert_eq!(c, "a, \"b)\" (c) /* ) */ // )\n d");
        assert!(l.next_token().is_char(b')'));
        assert_eq!(l.next_token().line, 2);
    }

    #[test]
    fn unterminated_things_do_not_panic() {
        for src in ["Foo(\"abc", "Foo(/* x", "Foo('", "Foo(\\<12", "/*", "# 9 \"x", "$", "\u{e9}\u{e9}"] {
            let mut l = Lexer::new(src, "f");
            for _ in 0..10 {
                let t = l.next_token();
                if t.is_char(b'(') {
                    let _ = l.config_string();
                }
            }
        }
    }
}
