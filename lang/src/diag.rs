//! Diagnostics in Click's form: `FILE:LINE: message`, optionally followed by the
//! source line with a caret under the spot.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Where a diagnostic points: a landmark (file name + line) and, when known, the
/// byte offset in one of the [`Sources`] for a caret snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The landmark `FILE:LINE`, or just `FILE` / empty when there is none.
    pub landmark: String,
    pub message: String,
    /// `(source index, byte offset)` for the snippet.
    pub at: Option<(usize, usize)>,
}

impl Diagnostic {
    pub fn error(landmark: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, landmark: landmark.into(), message: message.into(), at: None }
    }

    pub fn warning(landmark: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, landmark: landmark.into(), message: message.into(), at: None }
    }

    pub fn at(mut self, source: usize, offset: usize) -> Self {
        self.at = Some((source, offset));
        self
    }

    /// Click's text: `LANDMARK: message` (and `LANDMARK: warning: message`); every line
    /// of a multi-line message carries the landmark, as Click's error handler does.
    pub fn click_text(&self) -> String {
        let mut out = String::new();
        let prefix = if self.landmark.is_empty() { String::new() } else { alloc::format!("{}: ", self.landmark) };
        for (i, line) in self.message.split('\n').enumerate() {
            out.push_str(&prefix);
            if i == 0 && self.severity == Severity::Warning {
                out.push_str("warning: ");
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// [`click_text`](Self::click_text) plus the offending source line and a caret.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = self.click_text();
        if let Some((src, off)) = self.at
            && let Some(text) = sources.text(src)
        {
            let off = off.min(text.len());
            let start = text[..off].rfind(['\n', '\r']).map(|p| p + 1).unwrap_or(0);
            let end = text[off..].find(['\n', '\r']).map(|p| p + off).unwrap_or(text.len());
            let line = &text[start..end];
            let col = text[start..off].chars().count();
            let _ = writeln!(out, "    {line}");
            let _ = writeln!(out, "    {:col$}^", "");
        }
        out
    }
}

/// The texts diagnostics can point into: the main configuration and any libraries.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    texts: Vec<(String, String)>,
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> usize {
        self.texts.push((name.into(), text.into()));
        self.texts.len() - 1
    }

    pub fn text(&self, i: usize) -> Option<&str> {
        self.texts.get(i).map(|t| t.1.as_str())
    }

    pub fn name(&self, i: usize) -> Option<&str> {
        self.texts.get(i).map(|t| t.0.as_str())
    }
}

/// Merge two diagnostic lists, each in source order, into one: a diagnostic of `b`
/// that has a position in source `src` goes after every diagnostic of `a` at or before
/// that position; diagnostics without one stay with the one before them (a "previously
/// declared here" follows its redeclaration).
pub fn merge_in_source_order(a: Vec<Diagnostic>, b: Vec<Diagnostic>, src: usize) -> Vec<Diagnostic> {
    let offset = |d: &Diagnostic| d.at.filter(|(s, _)| *s == src).map(|(_, o)| o);
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    for d in b {
        if let Some(o) = offset(&d) {
            while let Some(x) = a.peek() {
                if offset(x).is_some_and(|xo| xo <= o) {
                    out.push(a.next().expect("peeked"));
                } else {
                    break;
                }
            }
        }
        out.push(d);
    }
    out.extend(a);
    out
}

/// Does any diagnostic in the list count as an error?
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_form_and_snippet() {
        let mut s = Sources::default();
        let id = s.add("x.click", "a :: Idle;\nb -> c;\n");
        let d = Diagnostic::error("x.click:2", "undeclared element 'c'").at(id, 16);
        assert_eq!(d.click_text(), "x.click:2: undeclared element 'c'\n");
        assert_eq!(d.render(&s), "x.click:2: undeclared element 'c'\n    b -> c;\n         ^\n");
        let w = Diagnostic::warning("f:1", "two\nlines");
        assert_eq!(w.click_text(), "f:1: warning: two\nf:1: lines\n");
    }
}
