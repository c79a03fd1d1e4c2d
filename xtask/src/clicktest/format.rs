//! The `.clicktest` file format (Click's `test/clicktest`): sections introduced by
//! lines starting with `%`.

use std::collections::BTreeMap;

/// How an expected file is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `%expectv`: byte for byte.
    Verbatim,
    /// `%expect`: line by line, `{{regex}}` inside lines, blank lines and trailing
    /// whitespace ignored, `%ignore` patterns applied.
    Expect,
    /// `%expectx`: every line is a regex.
    Regex,
}

/// One expected content for a file (`-a` gives several alternates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub mode: Mode,
    pub text: String,
    /// `-w`: ignore differences in the amount of whitespace inside lines.
    pub whitespace: bool,
    /// `-i`: regexes are case-insensitive.
    pub case_insensitive: bool,
}

/// `%ignore*` patterns for one file (or `all`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignore {
    pub mode: Mode,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Test {
    pub info: String,
    pub require: Option<String>,
    pub require_quiet: bool,
    pub script: String,
    /// Input files by name, in order (`stdin` is the script's standard input).
    pub files: Vec<(String, Vec<u8>)>,
    /// Expected outputs by file name (`stdout`, `stderr`, or a file the script writes).
    pub expects: BTreeMap<String, Vec<Expectation>>,
    /// Ignore patterns by file name; `all` applies to every expected file.
    pub ignores: BTreeMap<String, Vec<Ignore>>,
}

struct Header {
    name: String,
    flags: Vec<char>,
    length: Option<usize>,
    args: Vec<String>,
}

fn parse_header(line: &str) -> Header {
    let mut words = line[1..].split_whitespace();
    let name = words.next().unwrap_or("").to_string();
    let mut flags = Vec::new();
    let mut length = None;
    let mut args = Vec::new();
    for w in words {
        if let Some(f) = w.strip_prefix('-').filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphabetic())) {
            flags.extend(f.chars());
        } else if let Some(n) = w.strip_prefix('+').and_then(|n| n.parse().ok()) {
            length = Some(n);
        } else {
            args.push(w.to_string());
        }
    }
    Header { name, flags, length, args }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for b in text.bytes() {
        if b.is_ascii_whitespace() || b == b'=' {
            continue;
        }
        let v = ALPHABET.iter().position(|c| *c == b).ok_or_else(|| format!("bad base64 character '{}'", b as char))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// Parse a clicktest file into its tests (`%eot` separates tests; `%eof` ends input).
pub fn parse(text: &str) -> Result<Vec<Test>, String> {
    let mut tests = Vec::new();
    let mut test = Test::default();
    let mut rest = text;
    let mut lineno = 0usize;
    let mut any = false;
    while !rest.is_empty() {
        let (line, after) = match rest.find('\n') {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, ""),
        };
        lineno += 1;
        if !line.starts_with('%') {
            // Text before the first section is ignored, as in clicktest.
            rest = after;
            continue;
        }
        let h = parse_header(line);
        // The body: LENGTH bytes, or everything up to the next section line.
        let (body, next) = match h.length {
            Some(n) => {
                let n = n.min(after.len());
                let mut cut = n;
                while !after.is_char_boundary(cut) {
                    cut += 1;
                }
                (&after[..cut], &after[cut..])
            }
            None => {
                let mut end = 0;
                let mut lines_in = 0;
                while end < after.len() && !after[end..].starts_with('%') {
                    end = match after[end..].find('\n') {
                        Some(p) => end + p + 1,
                        None => after.len(),
                    };
                    lines_in += 1;
                }
                let _ = lines_in;
                (&after[..end], &after[end..])
            }
        };
        lineno += body.matches('\n').count();
        rest = next;
        let mut body = body.to_string();
        if h.flags.contains(&'d') {
            body = body.lines().map(|l| l.chars().skip(1).collect::<String>() + "\n").collect();
        }
        let data = |body: &str| -> Result<Vec<u8>, String> {
            if h.flags.contains(&'e') { decode_base64(body) } else { Ok(body.as_bytes().to_vec()) }
        };
        any = true;
        match h.name.as_str() {
            "info" | "desc" => test.info.push_str(&body),
            "cut" => {}
            "script" => test.script.push_str(&body),
            "require" => {
                test.require.get_or_insert_with(String::new).push_str(&body);
                test.require_quiet |= h.flags.contains(&'q');
            }
            "file" | "stdin" => {
                let names = if h.name == "stdin" { vec!["stdin".to_string()] } else { h.args.clone() };
                let bytes = data(&body)?;
                for n in names {
                    test.files.push((n, bytes.clone()));
                }
            }
            "expect" | "expectv" | "expectx" | "stdout" | "stderr" => {
                let mode = match h.name.as_str() {
                    "expectv" => Mode::Verbatim,
                    "expectx" => Mode::Regex,
                    _ => Mode::Expect,
                };
                let names = match h.name.as_str() {
                    "stdout" | "stderr" => vec![h.name.clone()],
                    _ => h.args.clone(),
                };
                let text = String::from_utf8_lossy(&data(&body)?).into_owned();
                for n in names {
                    let e = Expectation {
                        mode,
                        text: text.clone(),
                        whitespace: h.flags.contains(&'w'),
                        case_insensitive: h.flags.contains(&'i'),
                    };
                    let list = test.expects.entry(n).or_default();
                    if h.flags.contains(&'a') {
                        list.push(e);
                    } else {
                        *list = vec![e];
                    }
                }
            }
            "ignore" | "ignorev" | "ignorex" => {
                let mode = match h.name.as_str() {
                    "ignorev" => Mode::Verbatim,
                    "ignorex" => Mode::Regex,
                    _ => Mode::Expect,
                };
                let names = if h.args.is_empty() { vec!["all".to_string()] } else { h.args.clone() };
                for n in names {
                    test.ignores.entry(n).or_default().push(Ignore { mode, text: body.clone() });
                }
            }
            "eot" => {
                tests.push(std::mem::take(&mut test));
                any = false;
            }
            "eof" => break,
            "include" => return Err(format!("line {lineno}: %include is not supported")),
            other => return Err(format!("line {lineno}: unknown section '%{other}'")),
        }
    }
    if any {
        tests.push(test);
    }
    if tests.iter().any(|t| t.script.is_empty()) {
        return Err("a test has no %script section".into());
    }
    Ok(tests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_files_and_expectations() {
        let t = parse(
            "%info\nabout\n%script\nclick x\n%file A B\nline\n%file -d C\n %x\n%expect -w stdout X\nout {{\\d+}}\n\
             %stderr\nerr\n%expect -a stdout\nalt\n%ignorex\n#.*\n%file +3 D\nabcdef\n%eof\n%script\nnever\n",
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert_eq!(t.script, "click x\n");
        assert_eq!(t.files[0], ("A".into(), b"line\n".to_vec()));
        assert_eq!(t.files[1].0, "B");
        assert_eq!(t.files[2], ("C".into(), b"%x\n".to_vec()));
        assert_eq!(t.files[3], ("D".into(), b"abc".to_vec()));
        assert_eq!(t.expects["stdout"].len(), 2);
        assert!(t.expects["stdout"][0].whitespace);
        assert_eq!(t.expects["X"][0].text, "out {{\\d+}}\n");
        assert_eq!(t.expects["stderr"][0].text, "err\n");
        assert_eq!(t.ignores["all"][0].mode, Mode::Regex);
    }

    #[test]
    fn eot_and_base64() {
        let t = parse("%script\na\n%eot\n%script\nb\n%file -e F\naGk=\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].files[0].1, b"hi".to_vec());
        assert!(parse("%expect X\n").is_err());
        assert!(parse("%script\nx\n%bogus\n").is_err());
    }
}
