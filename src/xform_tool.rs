//! `click-xform` and `click-align`: Click's configuration rewriting tools.
//!
//! `click-xform -p PATTERNS [CONFIG]` replaces every copy of a pattern compound
//! `X` in the configuration with `X_Replacement` (see `oxclick_lang::xform`), for
//! each such pair in the PATTERNS files, and prints the result. `click-align`
//! prints the configuration ready to run: Click inserts `Align` elements for
//! machines that need aligned headers; oxclick's elements read headers byte by
//! byte and need none, so it prints the flat configuration unchanged.

use std::ffi::OsString;

use clap::Parser;
use oxclick_lang::diag::has_errors;
use oxclick_lang::flat::FlatConfig;
use oxclick_lang::unparse::unparse;
use oxclick_lang::xform::{INPUT_MARKER, OUTPUT_MARKER, Pattern, apply};
use oxclick_lang::{Options, read};

use crate::{Classes, Input, Style, front, parse_args, print_diagnostics, write_output};

/// `click-xform`: replace pattern compounds in a configuration.
#[derive(Parser, Debug)]
#[command(name = "click-xform", disable_help_flag = true)]
struct XformArgs {
    #[command(flatten)]
    input: Input,
    /// Read patterns from FILE: pairs of compound classes `X` and `X_Replacement`.
    #[arg(short = 'p', long = "patterns", value_name = "FILE")]
    patterns: Vec<String>,
    /// Write the result to FILE (`-`: standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<String>,
    /// Print the number of replacements on standard error.
    #[arg(short = 'r', long = "reverse", hide = true)]
    reverse: bool,
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl crate::ReadsConfig for XformArgs {
    fn input(&self) -> &Input {
        &self.input
    }
}

/// The class names `elementclass NAME` declares in `text`.
fn class_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(k) = rest.find("elementclass") {
        rest = &rest[k + "elementclass".len()..];
        let name: String =
            rest.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '@').collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

/// The number of inputs and outputs of compound `name` in `text`, from the
/// highest `input [k]` and `[k] output` in its body.
fn port_counts(text: &str, name: &str) -> (usize, usize) {
    let Some(start) = text.find(&format!("elementclass {name}")) else { return (0, 0) };
    let Some(open) = text[start..].find('{').map(|k| start + k) else { return (0, 0) };
    let mut depth = 0;
    let mut end = text.len();
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    let body = &text[open + 1..end];
    let words: Vec<&str> = body.split(|c: char| c.is_whitespace() || c == ';').filter(|w| !w.is_empty()).collect();
    let joined = words.join(" ");
    let (mut nin, mut nout) = (0usize, 0usize);
    for (i, _) in joined.match_indices("input") {
        nin = nin.max(1);
        let after = joined[i + 5..].trim_start();
        if let Some(rest) = after.strip_prefix('[')
            && let Some(n) = rest.split(']').next().and_then(|n| n.trim().parse::<usize>().ok())
        {
            nin = nin.max(n + 1);
        }
    }
    for (i, _) in joined.match_indices("output") {
        nout = nout.max(1);
        let before = joined[..i].trim_end();
        if before.ends_with(']')
            && let Some(open) = before.rfind('[')
            && let Ok(n) = before[open + 1..before.len() - 1].trim().parse::<usize>()
        {
            nout = nout.max(n + 1);
        }
    }
    (nin, nout)
}

/// Flatten compound `name` from the pattern text with its ports tied to markers.
fn flatten_pattern(text: &str, file: &str, name: &str) -> Result<FlatConfig, String> {
    let (nin, nout) = port_counts(text, name);
    let mut src = String::from(text);
    src.push_str(&format!("\n{INPUT_MARKER} :: XformMarker; {OUTPUT_MARKER} :: XformMarker; __xform_p :: {name};\n"));
    for k in 0..nin {
        src.push_str(&format!("{INPUT_MARKER} [{k}] -> [{k}] __xform_p;\n"));
    }
    for k in 0..nout {
        src.push_str(&format!("__xform_p [{k}] -> [{k}] {OUTPUT_MARKER};\n"));
    }
    let out = read(&src, file, &Options::default());
    if has_errors(&out.diagnostics) {
        let msgs: Vec<String> = out.diagnostics.iter().map(|d| d.click_text()).collect();
        return Err(format!("{file}: pattern {name}:\n{}", msgs.concat()));
    }
    let mut flat = out.flat;
    // Inner names lose the wrapper's prefix.
    for e in &mut flat.elements {
        if let Some(inner) = e.name.strip_prefix("__xform_p/") {
            e.name = inner.to_string();
        }
    }
    Ok(flat)
}

fn load_patterns(files: &[String]) -> Result<Vec<Pattern>, String> {
    let mut pats = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        let names = class_names(&text);
        for n in &names {
            let repl = format!("{n}_Replacement");
            if n.ends_with("_Replacement") || !names.contains(&repl) {
                continue;
            }
            pats.push(Pattern {
                name: repl.clone(),
                find: flatten_pattern(&text, f, n)?,
                replace: flatten_pattern(&text, f, &repl)?,
            });
        }
    }
    Ok(pats)
}

pub fn xform_main(args: Vec<OsString>) -> i32 {
    let a: XformArgs = match parse_args(args.clone()) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let pats = match load_patterns(&a.patterns) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("click-xform: {e}");
            return 1;
        }
    };
    let (_, _, out) = match front::<XformArgs>(args, "click-xform", Classes::Any, Style::Click) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if has_errors(&out.diagnostics) {
        return 1;
    }
    let mut flat = out.flat;
    let n = apply(&mut flat, &pats);
    if a.reverse {
        eprintln!("click-xform: {n} replacements");
    }
    match write_output(a.output.as_deref().unwrap_or("-"), &unparse(&flat)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("click-xform: {e}");
            1
        }
    }
}

pub fn align_main(args: Vec<OsString>) -> i32 {
    let (a, _, out) = match front::<crate::ToolArgs>(args, "click-align", Classes::Any, Style::Click) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if has_errors(&out.diagnostics) {
        return 1;
    }
    let _ = print_diagnostics;
    match write_output(a.output.as_deref().unwrap_or("-"), &unparse(&out.flat)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("click-align: {e}");
            1
        }
    }
}
