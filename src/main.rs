//! `oxclick`: the command-line front end.
//!
//! One binary, several personalities chosen by the name it runs under, so Click's own
//! scripts and tests work unchanged through symlinks:
//!
//! * `click` — the userlevel driver: read, check and run a configuration;
//! * `click-flatten` — print the flat configuration (tool mode: unknown names are
//!   element classes, as in Click's tools);
//! * `click-buildtool provides NAME...` — does this build provide these classes;
//! * `click-xform -p PATTERNS` — replace pattern compounds (Click's optimizer);
//! * `click-align` — print the configuration ready to run (no alignment needed);
//! * `oxclick` — the driver plus subcommands `check`, `flatten`, `dot`, and
//!   `image`, `boot`, `ctl` for Xen guests, `consolidate` (many tenants, one router)
//!   and `platform` (the In-Net platform daemon).

mod consolidate_tool;
mod dom0_xenstore;
mod driver;
mod hotplug_tool;
mod platform_tool;
mod xen_tool;
mod xform_tool;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use oxclick_lang::diag::{Diagnostic, Severity, Sources, has_errors};
use oxclick_lang::flat::FlatConfig;
use oxclick_lang::{Loader, Options, Output, unparse::unparse};

/// Where the configuration comes from.
#[derive(clap::Args, Clone, Debug, Default)]
struct Input {
    /// Read the router configuration from FILE (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<String>,
    /// Use EXPR as the router configuration.
    #[arg(short = 'e', long = "expression", value_name = "EXPR")]
    expr: Option<String>,
    /// A configuration FILE and/or NAME=VALUE definitions for `$NAME` in it.
    #[arg(value_name = "FILE | NAME=VALUE")]
    rest: Vec<String>,
}

/// Click's userlevel driver options.
#[derive(Parser, Debug)]
#[command(
    name = "oxclick",
    version,
    disable_help_flag = true,
    about = "Run a Click router configuration (Click-compatible driver)",
    after_help = DRIVER_AFTER_HELP
)]
struct DriverArgs {
    #[command(flatten)]
    input: Input,
    /// Call ELEMENT's read handler H after running and print the result
    /// (ELEMENT may be a class name or a glob; H alone names a router handler).
    #[arg(short = 'h', long = "handler", value_name = "ELEMENT.H")]
    handlers: Vec<String>,
    /// Write the flat configuration to FILE (`-` for standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<String>,
    /// Do not run the router: just read, check, initialize and report.
    #[arg(short = 'q', long = "quit")]
    quit: bool,
    /// Run in simulated time: timers fire in order without waiting.
    #[arg(long = "simtime")]
    simtime: bool,
    /// Run every element by itself. Normally elements of one class behind a
    /// demux's outputs (each tenant's Counter, say) run as lanes of one group,
    /// which a batch crosses at once; the results are the same either way, so
    /// this is for comparing.
    #[arg(long = "no-lane-fusion")]
    no_lane_fusion: bool,
    /// Print this help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

const DRIVER_AFTER_HELP: &str = "\
Subcommands (oxclick only):
  oxclick check FILE      parse and check a configuration; report every error
  oxclick flatten FILE    print the flat configuration (compounds expanded)
  oxclick dot FILE        print the flat router as a Graphviz graph (-o x.svg renders it)
  oxclick elements        list the element classes
  oxclick help ELEMENT    print an element class's manual page
  oxclick image FILE      make a Xen guest image (and xl config) running FILE
  oxclick boot FILE       boot FILE as a Xen guest (in dom0: xl create + install)
  oxclick ctl NAME ...    read/write handlers, swap configurations in a running guest
  oxclick hotplug-vif ... the vif hotplug script xl runs for oxclick guests (see --help)
  oxclick consolidate M   merge many tenants' configurations into one (M: a TOML manifest)
  oxclick platform ...    the platform daemon: boot tenants on their first packet (run,
                          add-tenant, remove-tenant, status, stop)

Examples:
  oxclick -e 'InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard' -h c.count
  oxclick router.click -o- -q          check router.click and print it flattened
  oxclick check conf/mazu-nat.click
  oxclick examples/ip-router.click     Click's IP router over a bundled trace
  oxclick --simtime -e 'TimedSource(0.1, LIMIT 3, STOP true) -> Print(t) -> Discard'

A running router takes a new configuration by a write to its `hotconfig` handler
(e.g. `Script(wait 5, writeq hotconfig \"...\")`): queues keep their packets.

Under the names click, click-flatten, click-buildtool, click-xform and click-align
(e.g. symlinks) oxclick behaves as those Click tools, so Click's scripts and tests run
it unchanged.";

/// `check`, `flatten`, `dot`.
#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
struct ToolArgs {
    #[command(flatten)]
    input: Input,
    /// Write the result to FILE (`-` for standard output); for `dot`, a FILE ending in
    /// .svg, .png or .pdf is rendered with Graphviz's `dot`.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<String>,
    /// Print this help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// How diagnostics look: Click's exact text under Click's names, with source snippets
/// under ours.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Click,
    Rich,
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| Path::new(a).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "oxclick".into());
    let code = match argv0.as_str() {
        "click" => driver_main(args, Style::Click),
        "click-flatten" => flatten_main(args, Style::Click, "click-flatten"),
        "click-buildtool" => buildtool_main(&args),
        "click-xform" => xform_tool::xform_main(args),
        "click-align" => xform_tool::align_main(args),
        _ => match args.get(1).and_then(|a| a.to_str()) {
            Some("check") => check_main(tail(&args, "oxclick check")),
            Some("flatten") => flatten_main(tail(&args, "oxclick flatten"), Style::Rich, "oxclick flatten"),
            Some("dot") => dot_main(tail(&args, "oxclick dot")),
            Some("elements") => elements_main(),
            Some("image") => xen_tool::image_main(tail(&args, "oxclick image")),
            Some("boot") => xen_tool::boot_main(tail(&args, "oxclick boot")),
            Some("ctl") => xen_tool::ctl_main(tail(&args, "oxclick ctl")),
            Some("hotplug-vif") => hotplug_tool::hotplug_main(tail(&args, "oxclick hotplug-vif"), true),
            Some("hotplug-vif-up") => hotplug_tool::hotplug_main(tail(&args, "oxclick hotplug-vif-up"), false),
            Some("consolidate") => consolidate_tool::consolidate_main(tail(&args, "oxclick consolidate")),
            Some("platform") => platform_tool::platform_main(tail(&args, "oxclick platform")),
            Some("help") if args.len() == 3 => help_main(&args[2].to_string_lossy()),
            _ => driver_main(args, Style::Rich),
        },
    };
    report_peak_rss();
    ExitCode::from(code as u8)
}

/// With `OXCLICK_REPORT_PEAK_RSS` set (by `cargo xtask bench`), print this
/// process's own peak resident memory: the kernel's VmHWM for its address space
/// since exec, which, unlike `wait4`'s figure, leaves out whatever the parent had
/// resident when it started us.
fn report_peak_rss() {
    if std::env::var_os("OXCLICK_REPORT_PEAK_RSS").is_none() {
        return;
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
    {
        let kb: String = line.chars().filter(char::is_ascii_digit).collect();
        eprintln!("oxclick-peak-rss-kb {kb}");
    }
}

/// Arguments after a subcommand, with the program name replaced for help texts.
fn tail(args: &[OsString], name: &str) -> Vec<OsString> {
    let mut v = vec![OsString::from(name)];
    v.extend(args.iter().skip(2).cloned());
    v
}

/// The configuration text, the file name used in messages, and `NAME=VALUE`s.
struct Config {
    text: String,
    filename: String,
    globals: Vec<(String, String)>,
}

fn is_assignment(s: &str) -> Option<(String, String)> {
    let (name, value) = s.split_once('=')?;
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| (name.to_string(), value.to_string()))
}

fn load_config(input: &Input, prog: &str) -> Result<Config, String> {
    let mut globals = Vec::new();
    let mut file = input.file.clone();
    for r in &input.rest {
        if let Some(kv) = is_assignment(r) {
            globals.push(kv);
        } else if file.is_none() && input.expr.is_none() {
            file = Some(r.clone());
        } else {
            return Err(format!("{prog}: router configuration specified twice"));
        }
    }
    if let Some(e) = &input.expr {
        if file.is_some() {
            return Err(format!("{prog}: router configuration specified twice"));
        }
        return Ok(Config { text: e.clone(), filename: "config".into(), globals });
    }
    match file.as_deref() {
        None | Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("<stdin>: {e}"))?;
            Ok(Config { text, filename: "<stdin>".into(), globals })
        }
        Some(f) => {
            let bytes = std::fs::read(f).map_err(|e| format!("{f}: {}", io_error_text(&e)))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Ok(Config { text, filename: f.into(), globals })
        }
    }
}

fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// Library files for `require(library ...)`: relative to the requiring file's
/// directory, then `$CLICKPATH/conf`.
struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, name: &str, dir: &str) -> Result<(String, String), String> {
        let mut candidates = Vec::new();
        if name.starts_with('/') {
            candidates.push(name.to_string());
        } else {
            candidates.push(format!("{dir}/{name}"));
            if let Ok(cp) = std::env::var("CLICKPATH") {
                for d in cp.split(':').filter(|d| !d.is_empty()) {
                    candidates.push(format!("{d}/conf/{name}"));
                }
            }
        }
        for c in candidates {
            if let Ok(text) = std::fs::read_to_string(&c) {
                return Ok((c, text));
            }
        }
        Err(format!("library '{name}' not found"))
    }
}

/// Which names count as element classes while reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Classes {
    /// Any unknown name used as an element is a class (Click's tools).
    Any,
    /// Only the library's classes (Click's driver): other names are undeclared.
    Library,
    /// The library's, plus any capitalized name (classes are CamelCase, element
    /// names are not): a typo'd element name is still caught, while a class the
    /// library lacks is left to the router check to report.
    LibraryOrCapitalized,
}

fn read_config(cfg: &Config, classes: Classes) -> Output {
    let library = |n: &str| driver::is_element_class(n);
    let capitalized = |n: &str| driver::is_element_class(n) || n.starts_with(|c: char| c.is_ascii_uppercase());
    let opts = Options {
        is_primitive: match classes {
            Classes::Any => None,
            Classes::Library => Some(&library),
            Classes::LibraryOrCapitalized => Some(&capitalized),
        },
        loader: Some(&FsLoader),
        globals: cfg.globals.clone(),
        ..Options::default()
    };
    oxclick_lang::read(&cfg.text, &cfg.filename, &opts)
}

fn print_diagnostics(diags: &[Diagnostic], sources: &Sources, style: Style) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let text = match style {
            Style::Click => d.click_text(),
            Style::Rich => d.render(sources),
        };
        let _ = err.write_all(text.as_bytes());
    }
}

/// Write `text` to FILE, or standard output for `-`.
pub(crate) fn write_output(path: &str, text: &str) -> Result<(), String> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|_| out.flush()).map_err(|e| format!("-: {e}"))
    } else {
        std::fs::write(path, text).map_err(|e| format!("{path}: {}", io_error_text(&e)))
    }
}

/// Parse a command's arguments; on `--help` or a mistake, clap's text is printed
/// and the exit status returned.
pub(crate) fn parse_args<T: Parser>(args: Vec<OsString>) -> Result<T, i32> {
    T::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { 1 } else { 0 }
    })
}

/// Commands that read one configuration.
trait ReadsConfig: Parser {
    fn input(&self) -> &Input;
}

impl ReadsConfig for DriverArgs {
    fn input(&self) -> &Input {
        &self.input
    }
}

impl ReadsConfig for ToolArgs {
    fn input(&self) -> &Input {
        &self.input
    }
}

/// Parse a command's arguments, read its configuration and print the diagnostics.
/// `Err` carries the exit code when there is nothing more to do.
fn front<A: ReadsConfig>(
    args: Vec<OsString>,
    prog: &str,
    classes: Classes,
    style: Style,
) -> Result<(A, Config, Output), i32> {
    let a: A = parse_args(args)?;
    let cfg = load_config(a.input(), prog).map_err(|e| {
        eprintln!("{e}");
        1
    })?;
    let out = read_config(&cfg, classes);
    print_diagnostics(&out.diagnostics, &out.sources, style);
    Ok((a, cfg, out))
}

fn driver_main(args: Vec<OsString>, style: Style) -> i32 {
    let prog = if style == Style::Click { "click" } else { "oxclick" };
    let (a, cfg, out) = match front::<DriverArgs>(args, prog, Classes::Library, style) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if has_errors(&out.diagnostics) {
        return 1;
    }
    let flat_text = unparse(&out.flat);
    // The router keeps one copy of each text for its `config` and `flatconfig`
    // handlers; the reader's copies and its sources go before the router runs (at
    // 10,000 consolidated tenants they are megabytes).
    let oxclick_lang::Output { flat, compact_config, .. } = out;
    let opts = driver::DriverOptions {
        handlers: a.handlers,
        config_text: if compact_config { flat_text.clone() } else { cfg.text },
        flat_text,
        output: a.output,
        quit: a.quit,
        simtime: a.simtime,
        no_lane_fusion: a.no_lane_fusion,
    };
    driver::run(flat, opts)
}

fn flatten_main(args: Vec<OsString>, style: Style, prog: &str) -> i32 {
    // Flattening is a tool's job: like click-flatten it does not need to know the
    // element classes (unknown names used as elements are classes).
    let (a, _, out) = match front::<ToolArgs>(args, prog, Classes::Any, style) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if has_errors(&out.diagnostics) {
        return 1;
    }
    match write_output(a.output.as_deref().unwrap_or("-"), &unparse(&out.flat)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{prog}: {e}");
            1
        }
    }
}

fn check_main(args: Vec<OsString>) -> i32 {
    // Check the router with the element library, standing in for classes it lacks.
    let (_, cfg, out) = match front::<ToolArgs>(args, "oxclick check", Classes::LibraryOrCapitalized, Style::Rich) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if has_errors(&out.diagnostics) {
        return 1;
    }
    let report = driver::check(&out.flat);
    for e in &report.errors {
        eprintln!("{e}");
    }
    for (class, landmark) in &report.unknown_classes {
        eprintln!(
            "{landmark}: warning: element class '{class}' is not in oxclick's element library; its elements were checked only for their connections"
        );
    }
    if !report.errors.is_empty() {
        return 1;
    }
    let nwarn = out.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
    let mut notes = Vec::new();
    if nwarn > 0 {
        notes.push(format!("{nwarn} warnings"));
    }
    if !report.unknown_classes.is_empty() {
        notes.push(format!("{} classes not in the library", report.unknown_classes.len()));
    }
    println!(
        "{}: ok: {} elements, {} connections{}",
        cfg.filename,
        out.flat.elements.len(),
        out.flat.connections.len(),
        if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) }
    );
    0
}

/// The flat router as a Graphviz digraph: one node per element (name and class),
/// one edge per connection labelled with its ports.
fn to_dot(flat: &FlatConfig) -> String {
    fn esc(s: &str) -> String {
        s.replace('\\', "\\\\").replace('"', "\\\"")
    }
    let mut s = String::from("digraph oxclick {\n  rankdir=LR;\n  node [shape=record, fontname=\"Helvetica\"];\n");
    for (i, e) in flat.elements.iter().enumerate() {
        s.push_str(&format!("  n{i} [label=\"{}\\n:: {}\"];\n", esc(&e.name), esc(&e.class)));
    }
    // Port numbers label the edge ends of elements with more than one port on that side.
    let mut nports = vec![[0usize; 2]; flat.elements.len()];
    for c in &flat.connections {
        nports[c.to.element][0] = nports[c.to.element][0].max(c.to.port + 1);
        nports[c.from.element][1] = nports[c.from.element][1].max(c.from.port + 1);
    }
    for c in &flat.connections {
        let mut attrs = Vec::new();
        if nports[c.from.element][1] > 1 {
            attrs.push(format!("taillabel=\"{}\"", c.from.port));
        }
        if nports[c.to.element][0] > 1 {
            attrs.push(format!("headlabel=\"{}\"", c.to.port));
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        s.push_str(&format!("  n{} -> n{}{attrs};\n", c.from.element, c.to.element));
    }
    s.push_str("}\n");
    s
}

fn dot_main(args: Vec<OsString>) -> i32 {
    let (a, _, out) = match front::<ToolArgs>(args, "oxclick dot", Classes::LibraryOrCapitalized, Style::Rich) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if has_errors(&out.diagnostics) {
        return 1;
    }
    let dot = to_dot(&out.flat);
    let target = a.output.unwrap_or_else(|| "-".into());
    let format =
        Path::new(&target).extension().and_then(|e| e.to_str()).filter(|e| matches!(*e, "svg" | "png" | "pdf"));
    let Some(format) = format else {
        return match write_output(&target, &dot) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("oxclick dot: {e}");
                1
            }
        };
    };
    let child = Command::new("dot").arg(format!("-T{format}")).arg("-o").arg(&target).stdin(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) => {
            eprintln!(
                "oxclick dot: rendering {target} needs Graphviz's 'dot' (apt-get install graphviz); \
                 without -o, or with -o FILE.dot, the graph is written as text"
            );
            return 1;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(dot.as_bytes());
    }
    match child.wait() {
        Ok(s) if s.success() => 0,
        _ => {
            eprintln!("oxclick dot: 'dot' failed to render {target}");
            1
        }
    }
}

/// `click-buildtool provides NAME...`: exit 0 exactly when every NAME is provided.
fn buildtool_main(args: &[OsString]) -> i32 {
    let words: Vec<String> = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    match words.first().map(String::as_str) {
        Some("provides") => {
            let all = words[1..].iter().all(|n| FEATURES.contains(&n.as_str()) || driver::provides_class(n));
            if all { 0 } else { 1 }
        }
        Some("--help") | None => {
            println!(
                "usage: click-buildtool provides NAME...\n  exit status 0 when every NAME is an element class or feature oxclick provides"
            );
            0
        }
        Some(other) => {
            eprintln!("click-buildtool: subcommand '{other}' is not supported by oxclick (only 'provides')");
            1
        }
    }
}

/// Click "features" (provisions that are not element classes) this build has.
const FEATURES: &[&str] = &["userlevel", "int64", "pcap"];

/// `oxclick elements`: the element classes, one per line.
fn elements_main() -> i32 {
    for name in oxclick_elements::registry().names() {
        println!("{name}");
    }
    0
}

/// `oxclick help ELEMENT`: the element's manual page (its source file's doc comment).
fn help_main(name: &str) -> i32 {
    match oxclick_elements::manual(name) {
        Some(page) => {
            for line in page.lines() {
                let text = line.strip_prefix("//!").unwrap_or(line);
                println!("{}", text.strip_prefix(' ').unwrap_or(text));
            }
            0
        }
        None => {
            eprintln!("oxclick help: no element class '{name}' (see 'oxclick elements')");
            1
        }
    }
}
