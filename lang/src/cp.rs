//! The few configuration-string primitives the language itself needs (splitting
//! compound arguments and `require`/`define` lists, quoting substituted values).
//! Elements use the full reader in [`crate::args`].

use alloc::string::String;
use alloc::vec::Vec;

fn skip_double_quote(b: &[u8], mut s: usize) -> usize {
    s += 1;
    while s < b.len() {
        match b[s] {
            b'\\' if s + 1 < b.len() && b[s + 1] == b'<' => s = skip_backslash_angle(b, s),
            b'\\' => s += 2,
            b'"' => return s + 1,
            _ => s += 1,
        }
    }
    b.len()
}

fn skip_single_quote(b: &[u8], s: usize) -> usize {
    match b[s + 1..].iter().position(|c| *c == b'\'') {
        Some(p) => s + 1 + p + 1,
        None => b.len(),
    }
}

fn skip_backslash_angle(b: &[u8], s: usize) -> usize {
    match b[s..].iter().position(|c| *c == b'>') {
        Some(p) => s + p + 1,
        None => b.len(),
    }
}

fn is_comment_start(b: &[u8], s: usize) -> bool {
    b[s] == b'/' && matches!(b.get(s + 1), Some(b'/' | b'*'))
}

fn skip_comment(b: &[u8], s: usize) -> usize {
    if b[s + 1] == b'/' {
        let mut p = s + 2;
        while p < b.len() && b[p] != b'\n' && b[p] != b'\r' {
            p += 1;
        }
        p
    } else {
        let mut p = s + 2;
        while p + 1 < b.len() && !(b[p] == b'*' && b[p + 1] == b'/') {
            p += 1;
        }
        (p + 2).min(b.len())
    }
}

fn skip_comment_space(b: &[u8], mut s: usize) -> usize {
    while s < b.len() {
        if b[s].is_ascii_whitespace() {
            s += 1;
        } else if is_comment_start(b, s) {
            s = skip_comment(b, s);
        } else {
            break;
        }
    }
    s
}

/// One argument starting at `i`, comments removed (a comment between words becomes
/// one space), surrounding space trimmed; returns it and where it stopped (a comma
/// or the end).
fn partial_uncomment(str: &str, i: usize, stop_at_comma: bool) -> (String, usize) {
    let b = str.as_bytes();
    let mut s = skip_comment_space(b, i);
    let mut out = String::new();
    let (mut left, mut right) = (s, s);
    let mut closed = false;
    while s < b.len() {
        if b[s].is_ascii_whitespace() {
            s += 1;
        } else if is_comment_start(b, s) {
            s = skip_comment(b, s);
            closed = true;
        } else if b[s] == b',' && stop_at_comma {
            break;
        } else {
            if closed {
                out.push_str(&str[left..right]);
                out.push(' ');
                left = s;
                closed = false;
            }
            s = match b[s] {
                b'\'' => skip_single_quote(b, s),
                b'"' => skip_double_quote(b, s),
                b'\\' if b.get(s + 1) == Some(&b'<') => skip_backslash_angle(b, s),
                _ => s + 1,
            };
            right = s;
        }
    }
    out.push_str(&str[left..right]);
    (out, s)
}

/// Click's `cp_argvec`: split at unquoted commas; a final empty argument is dropped.
pub fn split_args(str: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut pos = 0;
    while pos < str.len() {
        let (arg, end) = partial_uncomment(str, pos, true);
        if !arg.is_empty() || end < str.len() {
            v.push(arg);
        }
        pos = end + 1;
    }
    v
}

/// Click's `cp_spacevec`: split at unquoted whitespace.
pub fn split_spacevec(str: &str) -> Vec<String> {
    let b = str.as_bytes();
    let mut v = Vec::new();
    let mut s = skip_comment_space(b, 0);
    while s < b.len() {
        let start = s;
        while s < b.len() && !b[s].is_ascii_whitespace() && !is_comment_start(b, s) {
            s = match b[s] {
                b'"' => skip_double_quote(b, s),
                b'\'' => skip_single_quote(b, s),
                b'\\' if b.get(s + 1) == Some(&b'<') => skip_backslash_angle(b, s),
                _ => s + 1,
            };
        }
        v.push(str[start..s].into());
        s = skip_comment_space(b, s);
    }
    v
}

/// Click's `cp_keyword`: `KEYWORD rest` to `(KEYWORD, rest)`.
pub fn split_keyword(arg: &str) -> Option<(&str, &str)> {
    let end = arg.find(|c: char| c.is_ascii_whitespace()).unwrap_or(arg.len());
    let word = &arg[..end];
    if word.is_empty() || !word.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.:?!".contains(&c)) {
        return None;
    }
    Some((word, arg[end..].trim_start()))
}

/// Remove one level of quoting (Click's `cp_unquote`, for words).
pub fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                let end = skip_single_quote(b, i);
                let inner_end = if end > i + 1 && b[end - 1] == b'\'' { end - 1 } else { end };
                out.push_str(&s[i + 1..inner_end.max(i + 1)]);
                i = end;
            }
            b'"' => {
                let end = skip_double_quote(b, i);
                let mut j = i + 1;
                let inner_end = if end > i + 1 && b[end - 1] == b'"' { end - 1 } else { end };
                while j < inner_end {
                    if b[j] == b'\\' && j + 1 < inner_end {
                        let c = b[j + 1];
                        out.push(match c {
                            b'n' => '\n',
                            b't' => '\t',
                            b'r' => '\r',
                            b'0' => '\0',
                            other => other as char,
                        });
                        j += 2;
                    } else {
                        let ch = s[j..].chars().next().unwrap_or('\0');
                        out.push(ch);
                        j += ch.len_utf8().max(1);
                    }
                }
                i = end;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('\0');
                out.push(ch);
                i += ch.len_utf8().max(1);
            }
        }
    }
    out
}

/// Quote `s` in double quotes with C escapes (Click's `cp_quote` when quoting is
/// needed).
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argvec_as_click_documents() {
        assert_eq!(split_args("a, b, c"), ["a", "b", "c"]);
        assert_eq!(split_args("  a /*?*/ b,  c, "), ["a b", "c"]);
        assert_eq!(split_args("\"x, y\" // ?"), ["\"x, y\""]);
        assert_eq!(split_args(""), Vec::<String>::new());
        assert_eq!(split_args("a,,b"), ["a", "", "b"]);
    }

    #[test]
    fn spacevec_and_keywords() {
        assert_eq!(split_spacevec("a  b, c"), ["a", "b,", "c"]);
        assert_eq!(split_spacevec("  'a /*?*/ b'c"), ["'a /*?*/ b'c"]);
        assert_eq!(split_keyword("TWO B C"), Some(("TWO", "B C")));
        assert_eq!(split_keyword("\"x\""), None);
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }
}
