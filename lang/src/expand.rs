//! Variable environments and `$variable` expansion in configuration strings
//! (Click's `VariableEnvironment` and `cp_expand`).
//!
//! Forms: `$name`, `${name}`, `${name-default}`, `${name[N]}` (the Nth space-separated
//! word of the value), `$(name)`. Nothing is substituted inside single quotes; inside
//! double quotes the value is quoted so the string stays well formed. An unknown
//! variable is left as written.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cp as args;

/// One level of variable definitions. Levels form a chain toward the file scope;
/// `depth` is the lexical nesting depth of the compound the level belongs to.
#[derive(Debug, Default)]
pub struct Env {
    pub depth: usize,
    pub parent: Option<Rc<Env>>,
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn new(parent: Option<Rc<Env>>) -> Env {
        let depth = parent.as_ref().map(|p| p.depth + 1).unwrap_or(0);
        Env { depth, parent, vars: Vec::new() }
    }

    /// Define `name`; an existing definition is replaced only when `replace`.
    /// Returns whether `name` was new.
    pub fn define(&mut self, name: &str, value: &str, replace: bool) -> bool {
        if let Some(v) = self.vars.iter_mut().find(|v| v.0 == name) {
            if replace {
                v.1 = value.into();
            }
            return false;
        }
        self.vars.push((name.into(), value.into()));
        true
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        let mut env = Some(self);
        while let Some(e) = env {
            if let Some(v) = e.vars.iter().find(|v| v.0 == name) {
                return Some(&v.1);
            }
            env = e.parent.as_deref();
        }
        None
    }

    /// The innermost level of this chain with a depth below `depth` (Click's
    /// `parent_of`): where a compound defined at `depth` finds its free variables.
    pub fn parent_of(self: &Rc<Self>, depth: usize) -> Option<Rc<Env>> {
        let mut env = Some(self.clone());
        while let Some(e) = env {
            if e.depth < depth {
                return Some(e);
            }
            env = e.parent.clone();
        }
        None
    }
}

const MAX_EXPANSION_DEPTH: usize = 10;

/// Expand `$variables` in `config` using `env`.
pub fn expand(config: &str, env: &Env) -> String {
    expand_at(config, &mut |name, form, depth| lookup_form(name, form, env, depth), 0)
}

/// Expand `$name`, `${name}` and `$(text)` in `text` with Click's rules (nothing in
/// single quotes; values quoted inside double quotes; the inside of `$(...)` is
/// expanded first), asking `resolve(name, form)` for each, where `form` is `b'a'`
/// for `$name` (and `$?`, `$#`, `$$`), `b'{'` for braces and `b'('` for
/// parentheses. Unresolved references stay as written. Script uses this at run time.
pub fn expand_with(text: &str, resolve: &mut dyn FnMut(&str, u8) -> Option<String>) -> String {
    expand_at(text, &mut |name, form, _| resolve(name, form), 0)
}

type Resolve<'a> = dyn FnMut(&str, u8, usize) -> Option<String> + 'a;

fn skip_comment(b: &[u8], mut s: usize) -> usize {
    if b.get(s + 1) == Some(&b'/') {
        while s < b.len() && b[s] != b'\n' && b[s] != b'\r' {
            s += 1;
        }
        s
    } else {
        s += 2;
        while s + 1 < b.len() && !(b[s] == b'*' && b[s + 1] == b'/') {
            s += 1;
        }
        (s + 2).min(b.len())
    }
}

fn expand_at(config: &str, resolve: &mut Resolve, depth: usize) -> String {
    if !config.contains('$') {
        return config.into();
    }
    let b = config.as_bytes();
    let mut out = String::new();
    let mut copied = 0usize;
    let mut quote = 0u8;
    let mut s = 0usize;
    while s < b.len() {
        match b[s] {
            b'\\' => {
                if quote == b'"' && s + 1 < b.len() {
                    s += 1;
                }
                s += 1;
            }
            q @ (b'\'' | b'"') => {
                if quote == 0 {
                    quote = q;
                } else if quote == q {
                    quote = 0;
                }
                s += 1;
            }
            b'/' if quote == 0 && matches!(b.get(s + 1), Some(b'/' | b'*')) => {
                s = skip_comment(b, s);
            }
            b'$' if s + 1 < b.len() && quote != b'\'' && depth <= MAX_EXPANSION_DEPTH => {
                let dollar = s;
                let (form, name, end, nested) = match b[s + 1] {
                    b'{' => {
                        let start = s + 2;
                        let Some(close) = config[start..].find('}').map(|p| p + start) else {
                            break;
                        };
                        let nested = config[start..close].contains('$');
                        (b'{', &config[start..close], close + 1, nested)
                    }
                    b'(' => {
                        let start = s + 2;
                        let mut level = 1;
                        let mut nq = 0u8;
                        let mut nested = false;
                        let mut p = start;
                        while p < b.len() && level > 0 {
                            match b[p] {
                                b'(' if nq == 0 => level += 1,
                                b')' if nq == 0 => level -= 1,
                                q @ (b'"' | b'\'') => {
                                    if nq == 0 {
                                        nq = q
                                    } else if nq == q {
                                        nq = 0
                                    }
                                }
                                b'\\' if nq != b'\'' => p += 1,
                                b'$' if nq != b'\'' => nested = true,
                                _ => {}
                            }
                            p += 1;
                        }
                        if level > 0 || p == start {
                            break;
                        }
                        (b'(', &config[start..p - 1], p, nested)
                    }
                    c if c.is_ascii_alphanumeric() || c == b'_' => {
                        let start = s + 1;
                        let mut p = start;
                        while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_') {
                            p += 1;
                        }
                        (b'a', &config[start..p], p, false)
                    }
                    b'?' | b'#' | b'$' => (b'a', &config[s + 1..s + 2], s + 2, false),
                    _ => {
                        s += 1;
                        continue;
                    }
                };
                out.push_str(&config[copied..dollar]);
                let name: String = if nested { expand_at(name, resolve, depth + 1) } else { name.into() };
                copied = end;
                match resolve(&name, form, depth) {
                    None => {
                        if nested {
                            out.push_str(&config[dollar..dollar + 2]);
                            out.push_str(&name);
                            out.push(b[end - 1] as char);
                        } else {
                            copied = dollar;
                        }
                    }
                    Some(text) => {
                        if quote == b'"' {
                            let q = args::quote(&text);
                            let inner = q.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or(&q);
                            out.push_str(inner);
                        } else {
                            out.push_str(&text);
                        }
                    }
                }
                s = end;
            }
            _ => s += 1,
        }
    }
    if copied == 0 && out.is_empty() {
        return config.into();
    }
    out.push_str(&config[copied.min(config.len())..]);
    out
}

/// Resolve `name` written in `form` (`a` plain, `{` braces, `(` parentheses).
fn lookup_form(var: &str, form: u8, env: &Env, depth: usize) -> Option<String> {
    let mut name = var;
    let mut index: Option<usize> = None;
    let mut default: Option<&str> = None;
    if form == b'{' {
        let t = var.trim_start();
        let name_len = t.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
        name = &t[..name_len];
        let mut rest = t[name_len..].trim_start();
        if let Some(r) = rest.strip_prefix('[') {
            let r = r.trim_start();
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && r[digits..].starts_with(']') {
                index = r[..digits].parse().ok();
                rest = r[digits + 1..].trim_start();
            }
        }
        if let Some(d) = rest.strip_prefix('-') {
            default = Some(d);
        }
    }
    match env.lookup(name) {
        Some(value) => {
            let value = expand_at(value, &mut |n, f, d| lookup_form(n, f, env, d), depth + 1);
            Some(match index {
                Some(i) => args::split_spacevec(&value).into_iter().nth(i).unwrap_or_default(),
                None => value,
            })
        }
        None => default.map(|d| expand_at(d, &mut |n, f, dd| lookup_form(n, f, env, dd), depth + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        let mut e = Env::new(None);
        e.define("a", "A B C", false);
        e.define("n", "2", false);
        e.define("q", "x\"y", false);
        e
    }

    #[test]
    fn forms() {
        let e = env();
        assert_eq!(expand("$a", &e), "A B C");
        assert_eq!(expand("${a}x", &e), "A B Cx");
        assert_eq!(expand("${a[0]}", &e), "A");
        assert_eq!(expand("${a[2]}", &e), "C");
        assert_eq!(expand("${a[3]}", &e), "");
        assert_eq!(expand("${a[$n]}", &e), "C");
        assert_eq!(expand("${zz-dflt}", &e), "dflt");
        assert_eq!(expand("$zz stays", &e), "$zz stays");
        assert_eq!(expand("'$a'", &e), "'$a'");
        assert_eq!(expand("\"$q\"", &e), "\"x\\\"y\"");
        assert_eq!(expand("$a // $a", &e), "A B C // $a");
        assert_eq!(expand("${unterminated", &e), "${unterminated");
    }

    #[test]
    fn lexical_parent() {
        let top = Rc::new(env());
        let mut inner = Env::new(Some(top.clone()));
        inner.define("a", "inner", false);
        let inner = Rc::new(inner);
        assert_eq!(expand("$a $n", &inner), "inner 2");
        let p = inner.parent_of(1).unwrap();
        assert_eq!(p.depth, 0);
    }
}
