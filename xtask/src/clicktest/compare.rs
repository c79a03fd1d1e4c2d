//! Comparing a script's output with `%expect` data, as Click's clicktest does.

use fancy_regex::Regex;

use super::format::{Expectation, Ignore, Mode};

/// Where an output first disagreed with the closest expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// 1-based line of the output (after dropping blank and ignored lines it is the
    /// line number in the raw output).
    pub line: usize,
    pub actual: Option<String>,
    pub expected: Option<String>,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\x0c' | '\r' | '\t' | '\x0b')
}

/// Strip `{{?comment}}` blocks and the whitespace around them.
fn strip_comments(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(p) = rest.find("{{?") {
        out.push_str(rest[..p].trim_end_matches(is_space));
        match rest[p..].find("}}") {
            Some(e) => rest = rest[p + e + 2..].trim_start_matches(is_space),
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Turn an `%expect` line into an anchored regex: text outside `{{ }}` is literal.
fn braces_to_regex(line: &str, case_insensitive: bool) -> String {
    let line = strip_comments(line);
    let mut re = String::from("\\A(?:");
    let mut rest = line.as_str();
    while let Some(p) = rest.find("{{") {
        re.push_str(&fancy_regex::escape(&rest[..p]));
        match rest[p + 2..].find("}}") {
            Some(e) => {
                let inner = &rest[p + 2..p + 2 + e];
                if case_insensitive {
                    re.push_str(&format!("(?i:{inner})"));
                } else {
                    re.push_str(&format!("(?:{inner})"));
                }
                rest = &rest[p + 2 + e + 2..];
            }
            None => {
                re.push_str(&fancy_regex::escape(&rest[p..]));
                rest = "";
            }
        }
    }
    re.push_str(&fancy_regex::escape(rest));
    re.push_str(")\\z");
    re
}

/// Remove whitespace outside `{{ }}` blocks (for `-w`).
fn trim_whitespace_outside_braces(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(p) = rest.find("{{") {
        out.extend(rest[..p].chars().filter(|c| !is_space(*c)));
        match rest[p..].find("}}") {
            Some(e) => {
                out.push_str(&rest[p..p + e + 2]);
                rest = &rest[p + e + 2..];
            }
            None => {
                out.push_str(&rest[p..]);
                rest = "";
            }
        }
    }
    out.extend(rest.chars().filter(|c| !is_space(*c)));
    out
}

/// One compiled line matcher.
enum LineMatch {
    Literal(String),
    Pattern(Regex),
}

impl LineMatch {
    fn new(line: &str, mode: Mode, case_insensitive: bool) -> Result<LineMatch, String> {
        match mode {
            Mode::Verbatim => Ok(LineMatch::Literal(line.to_string())),
            Mode::Expect if !line.contains("{{") => Ok(LineMatch::Literal(line.to_string())),
            Mode::Expect => Regex::new(&braces_to_regex(line, case_insensitive))
                .map(LineMatch::Pattern)
                .map_err(|e| format!("bad {{{{regex}}}} in '{line}': {e}")),
            Mode::Regex => {
                let body = strip_comments(line);
                let flag = if case_insensitive { "(?i)" } else { "" };
                Regex::new(&format!("\\A{flag}(?:{body})\\z"))
                    .map(LineMatch::Pattern)
                    .map_err(|e| format!("bad regex '{line}': {e}"))
            }
        }
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            LineMatch::Literal(l) => l == s,
            LineMatch::Pattern(r) => r.is_match(s).unwrap_or(false),
        }
    }
}

/// Compiled ignore patterns for one output file.
pub struct Ignores {
    lines: Vec<LineMatch>,
}

impl Ignores {
    pub fn new(patterns: &[&Ignore]) -> Result<Ignores, String> {
        let mut lines = Vec::new();
        for p in patterns {
            for l in p.text.lines().filter(|l| !l.trim().is_empty()) {
                lines.push(LineMatch::new(l, p.mode, false)?);
            }
        }
        Ok(Ignores { lines })
    }

    fn ignored(&self, line: &str) -> bool {
        let trimmed = line.trim_end_matches(is_space);
        self.lines.iter().any(|m| m.matches(trimmed))
    }
}

/// Normalize vertical whitespace: trailing spaces on lines, trailing blank lines.
fn normalize(text: &str) -> String {
    let mut lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches(is_space)).collect();
    while lines.len() > 1 && lines.last() == Some(&"") && lines[lines.len() - 2].is_empty() {
        lines.pop();
    }
    lines.join("\n")
}

/// Compare `actual` with one expectation; `Ok(None)` when it matches.
pub fn compare_one(actual: &str, exp: &Expectation, ignores: &Ignores) -> Result<Option<Mismatch>, String> {
    if actual == exp.text {
        return Ok(None);
    }
    if exp.mode == Mode::Verbatim {
        let first_diff = actual.lines().zip(exp.text.lines()).position(|(a, e)| a != e);
        let line = first_diff.unwrap_or_else(|| actual.lines().count().min(exp.text.lines().count()));
        return Ok(Some(Mismatch {
            line: line + 1,
            actual: actual.lines().nth(line).map(str::to_string),
            expected: exp.text.lines().nth(line).map(str::to_string),
        }));
    }
    let text = normalize(actual);
    let expected = normalize(&exp.text);
    if text.trim_start_matches('\n') == expected {
        return Ok(None);
    }
    // Output lines with their 1-based numbers, blank and ignored ones dropped.
    let out: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !ignores.ignored(l))
        .map(|(i, l)| (i + 1, l))
        .collect();
    let exp_lines: Vec<&str> = expected.split('\n').filter(|l| !l.is_empty()).collect();
    for i in 0..out.len().max(exp_lines.len()) {
        let (lineno, a) = match out.get(i) {
            Some((n, l)) => (*n, Some(*l)),
            None => (out.last().map(|x| x.0 + 1).unwrap_or(1), None),
        };
        let e = exp_lines.get(i).copied();
        let ok = match (a, e) {
            (Some(a), Some(e)) => {
                let (a, e) = if exp.whitespace {
                    (a.chars().filter(|c| !is_space(*c)).collect::<String>(), trim_whitespace_outside_braces(e))
                } else {
                    (a.to_string(), e.to_string())
                };
                LineMatch::new(&e, exp.mode, exp.case_insensitive)?.matches(&a)
            }
            _ => false,
        };
        if !ok {
            return Ok(Some(Mismatch { line: lineno, actual: a.map(str::to_string), expected: e.map(strip_comments) }));
        }
    }
    Ok(None)
}

/// Compare `actual` with every alternate; `Ok(None)` when any matches, else the
/// mismatch that got furthest.
pub fn compare(actual: &str, alternates: &[Expectation], ignores: &Ignores) -> Result<Option<Mismatch>, String> {
    let mut best: Option<Mismatch> = None;
    for exp in alternates {
        match compare_one(actual, exp, ignores)? {
            None => return Ok(None),
            Some(m) => {
                if best.as_ref().is_none_or(|b| m.line > b.line) {
                    best = Some(m);
                }
            }
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(mode: Mode, text: &str) -> Expectation {
        Expectation { mode, text: text.into(), whitespace: false, case_insensitive: false }
    }

    fn none() -> Ignores {
        Ignores::new(&[]).unwrap()
    }

    #[test]
    fn blank_lines_and_trailing_space_do_not_matter() {
        let e = exp(Mode::Expect, "a\n\nb\n");
        assert_eq!(compare_one("a  \nb\n\n\n", &e, &none()).unwrap(), None);
        let m = compare_one("a\nc\n", &e, &none()).unwrap().unwrap();
        assert_eq!((m.line, m.actual.as_deref(), m.expected.as_deref()), (2, Some("c"), Some("b")));
        // Leading whitespace does matter.
        assert!(compare_one(" a\nb\n", &e, &none()).unwrap().is_some());
    }

    #[test]
    fn regex_blocks_and_comments() {
        let e = exp(Mode::Expect, "Paint@{{\\d+}} :: Paint(1);  {{? the number varies}}\n");
        assert_eq!(compare_one("Paint@12 :: Paint(1);\n", &e, &none()).unwrap(), None);
        assert!(compare_one("Paint@x :: Paint(1);\n", &e, &none()).unwrap().is_some());
        let e = exp(Mode::Expect, "{{\\./|}}B:1: x\n");
        assert_eq!(compare_one("./B:1: x\n", &e, &none()).unwrap(), None);
        assert_eq!(compare_one("B:1: x\n", &e, &none()).unwrap(), None);
        // Outside braces, regex characters are literal.
        let e = exp(Mode::Expect, "a.b\n");
        assert!(compare_one("axb\n", &e, &none()).unwrap().is_some());
    }

    #[test]
    fn expectx_and_expectv() {
        assert_eq!(compare_one("abc\n", &exp(Mode::Regex, "a.c\n"), &none()).unwrap(), None);
        assert!(compare_one("abc \n", &exp(Mode::Verbatim, "abc\n"), &none()).unwrap().is_some());
    }

    #[test]
    fn ignores_drop_output_lines() {
        let ig = Ignore { mode: Mode::Regex, text: "#.*\n".into() };
        let ignores = Ignores::new(&[&ig]).unwrap();
        assert_eq!(compare_one("# noise\na\n", &exp(Mode::Expect, "a\n"), &ignores).unwrap(), None);
        let ig = Ignore { mode: Mode::Expect, text: "Router could not be initialized!\n".into() };
        let ignores = Ignores::new(&[&ig]).unwrap();
        assert_eq!(
            compare_one("x\nRouter could not be initialized!\n", &exp(Mode::Expect, "x\n"), &ignores).unwrap(),
            None
        );
    }

    #[test]
    fn whitespace_flag_and_alternates() {
        let mut e = exp(Mode::Expect, "a b  c\n");
        e.whitespace = true;
        assert_eq!(compare_one("a   b c\n", &e, &none()).unwrap(), None);
        let alts = [exp(Mode::Expect, "x\n"), exp(Mode::Expect, "y\n")];
        assert_eq!(compare("y\n", &alts, &none()).unwrap(), None);
        assert!(compare("z\n", &alts, &none()).unwrap().is_some());
        // Missing output lines are a mismatch.
        assert!(compare_one("", &exp(Mode::Expect, "a\n"), &none()).unwrap().is_some());
    }
}
