//! Script, DriverManager — script a router configuration.
//!
//! `Script([TYPE TYPE,] INSTRUCTIONS...)` · `DriverManager(INSTRUCTIONS...)`
//!
//! Each argument is an instruction; they run in order. Text undergoes substitution
//! first: `$x` / `${x}` is script variable x, `$(HANDLER [ARGS])` is the value of a
//! read handler (`ELEM.NAME`, or one of the script's own handlers such as `add`),
//! expanded inside out. The `q` forms (`setq`, `readq`, `writeq`, `printq`,
//! `returnq`, ...) also remove a layer of quotes.
//!
//! * `set VAR TEXT`, `init VAR TEXT` (once, at initialization), `export VAR [TEXT]`
//!   (like init, and VAR becomes a read handler);
//! * `print [>FILE | >>FILE] TEXT|HANDLER` — a handler's value or unquoted text on
//!   standard output (or a file); `printn` without the newline;
//! * `read HANDLER [ARGS]` — print `HANDLER:` and its value on standard error;
//! * `write HANDLER [ARGS]` — call a write handler; `$?` is its status;
//! * `pause [N]`, `wait_step [N]`, `wait_stop [N]` — wait for N steps (the `step`
//!   handler; for driver scripts, stop requests); `wait TIME`, `wait_time TIME`;
//! * `label L`, `goto L [COND]` (L may also be `begin`/`loop`, `end`, `exit`,
//!   `stop`, `error`), `loop`, `end`, `exit`, `stop` (ask the driver to stop),
//!   `return [VALUE]`, `error [MSG]`. A script that jumps 1000 times without
//!   blocking is stopped.
//!
//! TYPE: `ACTIVE` (default without ports: runs at start), `PASSIVE` (runs through
//! the `run` handler; `$args`, `$1`.., `$#` are its arguments), `PACKET` (default
//! with ports: runs per packet, `$input` is the input port, `return N` sends the
//! packet to output N, `end` to output 0, `exit` drops it), `DRIVER` (decides when
//! the driver stops: each stop request is a step, and the script's end stops the
//! driver). DriverManager is a Script whose TYPE is DRIVER; without instructions it
//! stops the driver at the first stop request.
//!
//! Handlers: `step`, `goto` (write), `run` (read with arguments, write), each
//! exported variable, and, read with parameters: `add sub min max mul div idiv mod
//! rem neg abs eq ne lt gt le ge not and or nand nor if in first length unquote
//! sprintf random now htons htonl ntohs ntohl`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Interval, split_args, split_spacevec, unquote};
use oxclick_lang::expand::expand_with;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet};

const MAX_JUMPS: u32 = 1000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Type {
    Active,
    Passive,
    Packet,
    Proxy,
    Driver,
}

/// Where a `goto` goes: an instruction, or one of the ending instructions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    At(usize),
    End,
    Exit,
    Stop,
    Error,
}

#[derive(Clone, Debug)]
enum Insn {
    /// Added first unless the script starts by waiting; consumes the first step.
    Initial {
        pending: bool,
    },
    WaitStep {
        count: u32,
        done: u32,
    },
    WaitTime(String),
    Print {
        text: String,
        unquote: bool,
        newline: bool,
    },
    Read {
        text: String,
        unquote: bool,
    },
    Write {
        text: String,
        unquote: bool,
    },
    /// `set`, `setq`, `return`, `returnq` (the variable `_`), and the
    /// initialization-time `init`/`export` (no-ops when reached).
    Set {
        var: usize,
        text: String,
        unquote: bool,
        ret: bool,
        init_only: bool,
    },
    Goto {
        label: String,
        target: Target,
        cond: String,
    },
    Label(String),
    End,
    Exit,
    Stop,
    Error {
        msg: String,
        unquote: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StepType {
    Normal,
    Router,
    Timer,
    Jump,
}

pub struct Script {
    class: &'static str,
    ty: Option<Type>,
    insns: Vec<Insn>,
    /// Variables: (name, value); `_` holds return values.
    vars: Vec<(String, String)>,
    exports: Vec<usize>,
    pos: usize,
    step_count: i64,
    write_status: i32,
    run_args: String,
    run_handler: String,
    run_write: bool,
    /// When a `wait TIME` ends.
    timer: Option<u64>,
    /// Whether the first step (Initial, or a first `wait TIME`) is still due.
    start_pending: bool,
    /// Stop requests already turned into steps (driver scripts).
    stops_seen: u32,
    /// Re-entrancy guard: steps requested while the script runs.
    running: bool,
    extra_steps: i64,
    random: u64,
}

impl Script {
    pub fn plain() -> Script {
        Script::new("Script", None)
    }

    pub fn driver_manager() -> Script {
        Script::new("DriverManager", Some(Type::Driver))
    }

    fn new(class: &'static str, ty: Option<Type>) -> Script {
        Script {
            class,
            ty,
            insns: Vec::new(),
            vars: Vec::new(),
            exports: Vec::new(),
            pos: 0,
            step_count: 0,
            write_status: 0,
            run_args: String::new(),
            run_handler: String::new(),
            run_write: false,
            timer: None,
            start_pending: false,
            stops_seen: 0,
            running: false,
            extra_steps: 0,
            random: 0x2545_f491_4f6c_dd1d,
        }
    }

    fn ty(&self) -> Type {
        self.ty.unwrap_or(Type::Active)
    }

    fn var_index(&mut self, name: &str) -> usize {
        match self.vars.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.vars.push((name.to_string(), String::new()));
                self.vars.len() - 1
            }
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn add(&mut self, insn: Insn) {
        if self.insns.is_empty() && !matches!(insn, Insn::Initial { .. } | Insn::WaitStep { .. } | Insn::WaitTime(_)) {
            self.insns.push(Insn::Initial { pending: false });
        }
        self.insns.push(insn);
    }

    fn find_label(&self, label: &str) -> Option<Target> {
        if let Some(i) = self.insns.iter().position(|x| matches!(x, Insn::Label(l) if l == label)) {
            return Some(Target::At(i));
        }
        match label {
            "end" => Some(Target::End),
            "exit" => Some(Target::Exit),
            "stop" => Some(Target::Stop),
            "error" | "errorq" => Some(Target::Error),
            "begin" | "loop" => Some(Target::At(0)),
            _ => None,
        }
    }

    /// Substitute variables and handler values in `text`.
    fn expand(&mut self, text: &str, cx: &mut Ctx) -> String {
        if !text.contains('$') {
            return text.to_string();
        }
        expand_with(text, &mut |name, form| self.lookup(name, form, cx))
    }

    fn lookup(&mut self, name: &str, form: u8, cx: &mut Ctx) -> Option<String> {
        if form == b'(' {
            return Some(match self.call_read(name, cx) {
                Ok(v) => v,
                Err(e) => {
                    cx.console(&format!("{}: {e}", cx.name()));
                    String::new()
                }
            });
        }
        if let Some(v) = self.var(name) {
            return Some(v.to_string());
        }
        match name {
            "?" => Some(self.write_status.to_string()),
            "args" => Some(self.run_args.clone()),
            "0" => Some(self.run_handler.clone()),
            "#" => Some(split_spacevec(&self.run_args).len().to_string()),
            "write" => Some(self.run_write.to_string()),
            "$" => Some(process_id().to_string()),
            n if n.starts_with(|c: char| ('1'..='9').contains(&c)) => {
                let k: usize = n.parse().ok()?;
                Some(split_spacevec(&self.run_args).get(k - 1).cloned().unwrap_or_default())
            }
            _ => None,
        }
    }

    /// A read handler by spec: one of ours (no element, or our own name) or
    /// another element's.
    fn call_read(&mut self, spec: &str, cx: &mut Ctx) -> Result<String, String> {
        let spec = spec.trim();
        let (target, params) = match spec.find(|c: char| c.is_ascii_whitespace()) {
            Some(k) => (&spec[..k], spec[k..].trim_start()),
            None => (spec, ""),
        };
        let own = match target.rsplit_once('.') {
            None => Some(target),
            Some((e, h)) if e == cx.name() => Some(h),
            Some(_) => None,
        };
        match own {
            Some(h) => match self.own_handler(h, false, params, cx) {
                Some(r) => r,
                None => Err(format!("no read handler '{target}'")),
            },
            None => cx.read_handler(spec),
        }
    }

    fn call_write(&mut self, spec: &str, value: &str, cx: &mut Ctx) -> Result<(), String> {
        let own = match spec.rsplit_once('.') {
            None if spec != "stop" => Some(spec),
            Some((e, h)) if e == cx.name() => Some(h),
            _ => None,
        };
        // A name without an element is this script's handler if it has one, else
        // the router's (`stop`, `hotconfig`).
        match own {
            Some(h) => match self.own_handler(h, true, value, cx) {
                Some(r) => r.map(|_| ()),
                None if !spec.contains('.') => cx.write_handler(spec, value),
                None => Err(format!("no write handler '{spec}'")),
            },
            None => cx.write_handler(spec, value),
        }
    }

    /// Run the script from the current position: Click's `Script::step`.
    fn step(&mut self, nsteps: i64, step_type: StepType, mut njumps: u32, cx: &mut Ctx) -> u32 {
        let nsteps = nsteps + self.step_count;
        while nsteps - self.step_count >= 0 && self.pos < self.insns.len() && njumps < MAX_JUMPS {
            let ipos = self.pos;
            self.pos += 1;
            let insn = self.insns[ipos].clone();
            match insn {
                Insn::Stop => {
                    self.step_count += 1;
                    self.pos -= 1;
                    self.stop_driver(step_type, cx);
                    return njumps + 1;
                }
                Insn::WaitStep { count, mut done } => {
                    while self.step_count < nsteps && done < count {
                        done += 1;
                        self.step_count += 1;
                    }
                    if let Insn::WaitStep { done: d, .. } = &mut self.insns[ipos] {
                        *d = done;
                    }
                    if self.step_count == nsteps && done < count {
                        self.pos -= 1;
                        break;
                    }
                }
                Insn::WaitTime(text) => {
                    if self.step_count == nsteps {
                        let t = self.expand(&text, cx);
                        match Interval::parse_arg(t.trim()) {
                            Ok(i) => {
                                let at = cx.now().saturating_add(i.nanos);
                                self.timer = Some(at);
                                cx.wake_at(at);
                                self.pos -= 1;
                            }
                            Err(_) => cx.console(&format!("{}: syntax error at 'wait'", cx.name())),
                        }
                        break;
                    }
                    self.step_count += 1;
                    self.timer = None;
                }
                Insn::Initial { pending } => {
                    if pending {
                        self.step_count += 1;
                        self.insns[ipos] = Insn::Initial { pending: false };
                    }
                }
                Insn::Print { text, unquote: uq, newline } => self.print(&text, uq, newline, cx),
                Insn::Read { text, unquote: uq } => {
                    let spec = self.expand(&text, cx);
                    let spec = if uq { unquote_params(&spec) } else { spec };
                    match self.call_read(&spec, cx) {
                        Ok(v) => {
                            let name = spec.split_whitespace().next().unwrap_or("");
                            let name =
                                if name.contains('.') { name.to_string() } else { format!("{}.{name}", cx.name()) };
                            cx.console(&format!("{name}:\n{}", v.strip_suffix('\n').unwrap_or(&v)));
                        }
                        Err(e) => cx.console(&format!("While calling '{spec}': {e}")),
                    }
                }
                Insn::Write { text, unquote: uq } => {
                    let text = self.expand(&text, cx);
                    let text = text.trim();
                    let (spec, value) = match text.find(|c: char| c.is_ascii_whitespace()) {
                        Some(k) => (&text[..k], text[k..].trim_start()),
                        None => (text, ""),
                    };
                    let value = if uq { unquote(value) } else { value.to_string() };
                    self.write_status = match self.call_write(spec, &value, cx) {
                        Ok(()) => 0,
                        Err(e) => {
                            cx.console(&format!("While calling '{text}': {e}"));
                            -22
                        }
                    };
                }
                Insn::Set { var, text, unquote: uq, ret, init_only } => {
                    if init_only {
                        continue;
                    }
                    let mut v = self.expand(&text, cx);
                    if uq {
                        v = unquote(&v);
                    }
                    self.vars[var].1 = v;
                    if ret && self.pos == ipos + 1 {
                        self.pos -= 1;
                        break;
                    }
                }
                Insn::Goto { target, cond, .. } => {
                    let c = self.expand(&cond, cx);
                    let c = c.trim();
                    let go = if c.is_empty() {
                        true
                    } else {
                        match bool::parse_arg(c) {
                            Ok(b) => b,
                            Err(_) => {
                                cx.console(&format!("{}: bad condition '{c}'", cx.name()));
                                false
                            }
                        }
                    };
                    if go {
                        match target {
                            Target::At(t) => {
                                for k in t..ipos {
                                    if let Insn::WaitStep { done, .. } = &mut self.insns[k] {
                                        *done = 0;
                                    }
                                }
                                self.pos = t;
                            }
                            _ => {
                                // Ends the script like the instruction it names.
                                self.pos -= 1;
                                if target == Target::Stop {
                                    self.stop_driver(step_type, cx);
                                }
                                return njumps + 1;
                            }
                        }
                    }
                }
                Insn::Error { msg, unquote: uq } => {
                    let m = self.expand(&msg, cx);
                    let m = if uq { unquote(&m) } else { m };
                    if !m.is_empty() {
                        cx.console(&format!("{}: {m}", cx.name()));
                    }
                    self.pos -= 1;
                    return njumps + 1;
                }
                Insn::End | Insn::Exit => {
                    self.pos -= 1;
                    return njumps + 1;
                }
                Insn::Label(_) => {}
            }
            if self.pos != ipos + 1 {
                njumps += 1;
            }
        }
        if njumps >= MAX_JUMPS {
            cx.console(&format!("{}: too many jumps, giving up", cx.name()));
            self.pos = self.insns.len();
            self.timer = None;
        }
        njumps + 1
    }

    /// `stop`: a driver script stops the driver; another script makes a stop request.
    fn stop_driver(&mut self, step_type: StepType, cx: &mut Ctx) {
        if self.ty() == Type::Driver {
            cx.stop_now();
        } else if step_type != StepType::Router {
            cx.request_stop();
        }
    }

    /// What the last step ended on: (status: -1 error, 1 stop, 0 otherwise; return value).
    fn complete_step(&self) -> (i32, String) {
        let last = self.insns.get(self.pos);
        let target = match last {
            Some(Insn::Goto { target, .. }) if !matches!(target, Target::At(_)) => Some(*target),
            _ => None,
        };
        let mut retval = String::new();
        match last {
            Some(Insn::Set { ret: true, .. }) => retval = self.var("_").unwrap_or("").to_string(),
            Some(Insn::End) if self.ty() == Type::Packet => retval = "0".into(),
            _ if target == Some(Target::End) && self.ty() == Type::Packet => retval = "0".into(),
            _ => {}
        }
        let status = match (last, target) {
            (Some(Insn::Error { .. }), _) | (_, Some(Target::Error)) => -1,
            (Some(Insn::Stop), _) | (_, Some(Target::Stop)) => 1,
            _ => 0,
        };
        (status, retval)
    }

    /// Steps from a handler (`step`, `run`, `goto`), collecting steps requested
    /// while the script runs, as Click does.
    fn run_steps(&mut self, mut nsteps: i64, mut step_type: StepType, cx: &mut Ctx) {
        if self.running {
            self.extra_steps += nsteps;
            return;
        }
        self.running = true;
        let mut njumps = 0;
        loop {
            njumps = self.step(nsteps, step_type, njumps, cx);
            if self.extra_steps <= 0 || njumps >= MAX_JUMPS {
                break;
            }
            nsteps = core::mem::take(&mut self.extra_steps);
            step_type = StepType::Normal;
        }
        self.extra_steps = 0;
        self.running = false;
    }

    fn print(&mut self, text: &str, uq: bool, newline: bool, cx: &mut Ctx) {
        let mut text = text.trim_start().to_string();
        #[cfg(feature = "std")]
        let mut file: Option<(String, bool)> = None;
        if let Some(rest) = text.strip_prefix('>') {
            let (append, rest) = match rest.strip_prefix('>') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let rest = rest.trim_start();
            let end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
            let name = rest[..end].to_string();
            let after = rest[end..].trim_start().to_string();
            #[cfg(feature = "std")]
            if name != "-" {
                file = Some((name, append));
            }
            #[cfg(not(feature = "std"))]
            {
                let _ = (name, append);
                cx.console(&format!("{}: file redirection not supported here", cx.name()));
            }
            text = after;
        }
        let starts_handler = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '@' || c == '_');
        let result = if starts_handler {
            let spec = self.expand(&text, cx);
            let spec = if uq { unquote_params(&spec) } else { spec };
            match self.call_read(&spec, cx) {
                Ok(v) => v,
                Err(e) => {
                    cx.console(&format!("While calling '{spec}': {e}"));
                    return;
                }
            }
        } else {
            unquote(&self.expand(&text, cx))
        };
        let body = result.strip_suffix('\n').unwrap_or(&result);
        #[cfg(feature = "std")]
        if let Some((name, append)) = file {
            use std::io::Write;
            let f = std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(&name);
            match f {
                Ok(mut f) => {
                    let nl = if newline { "\n" } else { "" };
                    if let Err(e) = write!(f, "{body}{nl}") {
                        cx.console(&format!("{name}: {e}"));
                    }
                }
                Err(e) => cx.console(&format!("{name}: {e}")),
            }
            return;
        }
        let _ = newline;
        cx.output(body);
    }

    fn next_random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    /// The script's own handlers: `step`, `goto`, `run`, exports, and the
    /// arithmetic and logic helpers (reads with parameters).
    fn own_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        match (name, write) {
            ("step", true) => {
                let v = value.trim();
                let (n, ty) = match v {
                    "" => (1, StepType::Normal),
                    "router" => (1, StepType::Router),
                    _ => match v.parse::<i64>() {
                        Ok(n) => (n, StepType::Normal),
                        Err(_) => return Some(Err("syntax error".into())),
                    },
                };
                self.run_steps(n, ty, cx);
                return Some(Ok(String::new()));
            }
            ("goto", true) => {
                let Some(Target::At(t)) = self.find_label(value.trim()) else {
                    return Some(Err("jump to nonexistent label".into()));
                };
                for insn in &mut self.insns[t..] {
                    if let Insn::WaitStep { done, .. } = insn {
                        *done = 0;
                    }
                }
                self.pos = t;
                self.run_steps(0, StepType::Jump, cx);
                return Some(Ok(String::new()));
            }
            ("run", _) => {
                self.pos = 0;
                self.run_args = value.to_string();
                self.run_handler = name.to_string();
                self.run_write = write;
                self.run_steps(0, StepType::Jump, cx);
                let (status, ret) = self.complete_step();
                self.run_args.clear();
                return Some(if status < 0 { Err("script error".into()) } else { Ok(ret) });
            }
            _ => {}
        }
        if write {
            if self.ty() == Type::Proxy {
                return Some(self.proxy(name, true, value, cx));
            }
            return None;
        }
        if let Some(&i) = self.exports.iter().find(|&&i| self.vars[i].0 == name) {
            return Some(Ok(self.vars[i].1.clone()));
        }
        if let Some(r) = builtin(name, value, || self.next_random(), cx) {
            return Some(r);
        }
        if self.ty() == Type::Proxy {
            return Some(self.proxy(name, false, value, cx));
        }
        None
    }

    fn proxy(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Result<String, String> {
        self.pos = 0;
        self.run_args = value.to_string();
        self.run_handler = name.to_string();
        self.run_write = write;
        self.run_steps(0, StepType::Jump, cx);
        let (status, ret) = self.complete_step();
        self.run_args.clear();
        if status < 0 { Err("script error".into()) } else { Ok(ret) }
    }

    /// Run a packet script; the output port it chose (`None`: drop).
    fn packet_port(&mut self, port: usize, cx: &mut Ctx) -> Option<usize> {
        let i = self.var_index("input");
        self.vars[i].1 = port.to_string();
        self.pos = 0;
        self.run_steps(0, StepType::Jump, cx);
        let (_, ret) = self.complete_step();
        ret.trim().parse::<usize>().ok()
    }
}

/// Unquote the parameters of a `HANDLER PARAMS` text (the `q` forms).
fn unquote_params(spec: &str) -> String {
    let spec = spec.trim();
    match spec.find(|c: char| c.is_ascii_whitespace()) {
        Some(k) => format!("{} {}", &spec[..k], unquote(spec[k..].trim_start())),
        None => spec.to_string(),
    }
}

#[cfg(feature = "std")]
fn process_id() -> u32 {
    std::process::id()
}

#[cfg(not(feature = "std"))]
fn process_id() -> u32 {
    0
}

enum Num {
    Int(i64),
    Real(f64),
}

fn parse_num(w: &str) -> Option<Num> {
    if let Ok(i) = i64::parse_arg(w) {
        return Some(Num::Int(i));
    }
    f64::parse_arg(w).ok().map(Num::Real)
}

fn real(n: &Num) -> f64 {
    match n {
        Num::Int(i) => *i as f64,
        Num::Real(r) => *r,
    }
}

/// Click prints reals with `%.12g`-like precision: no trailing zeros.
fn unparse_real(x: f64) -> String {
    // (No `f64::fract` without std: compare with the value truncated.)
    if (-1e15..1e15).contains(&x) && x == (x as i64) as f64 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn truth(b: bool) -> String {
    String::from(if b { "true" } else { "false" })
}

/// Script's read-with-parameters helpers, shared by every Script.
fn builtin(name: &str, args: &str, mut random: impl FnMut() -> u64, cx: &mut Ctx) -> Option<Result<String, String>> {
    let words = split_spacevec(args);
    let two_numbers = || String::from("expected two numbers");
    Some(match name {
        "add" | "sub" | "min" | "max" | "mul" | "div" | "idiv" => {
            let mut nums = Vec::new();
            for w in &words {
                match parse_num(w) {
                    Some(n) => nums.push(n),
                    None => return Some(Err("expected list of numbers".into())),
                }
            }
            let all_int = nums.iter().all(|n| matches!(n, Num::Int(_))) && !matches!(name, "div" | "idiv");
            if all_int {
                let ints: Vec<i64> = nums.iter().map(|n| if let Num::Int(i) = n { *i } else { 0 }).collect();
                let mut acc = if matches!(name, "add" | "sub") { 0i64 } else { 1 };
                for (k, x) in ints.iter().enumerate() {
                    acc = if k == 0 {
                        *x
                    } else {
                        match name {
                            "add" => acc.wrapping_add(*x),
                            "sub" => acc.wrapping_sub(*x),
                            "min" => acc.min(*x),
                            "max" => acc.max(*x),
                            _ => acc.wrapping_mul(*x),
                        }
                    };
                }
                Ok(acc.to_string())
            } else {
                let mut acc = if matches!(name, "add" | "sub") { 0f64 } else { 1.0 };
                for (k, n) in nums.iter().enumerate() {
                    let x = real(n);
                    acc = if k == 0 {
                        x
                    } else {
                        match name {
                            "add" => acc + x,
                            "sub" => acc - x,
                            "min" => acc.min(x),
                            "max" => acc.max(x),
                            "mul" => acc * x,
                            _ => acc / x,
                        }
                    };
                }
                if name == "idiv" { Ok(format!("{}", acc as i64)) } else { Ok(unparse_real(acc)) }
            }
        }
        "mod" | "rem" => {
            let [a, b] = words.as_slice() else { return Some(Err(two_numbers())) };
            match (i64::parse_arg(a), i64::parse_arg(b)) {
                (Ok(_), Ok(0)) => Err("division by zero".into()),
                (Ok(a), Ok(b)) => Ok(a.wrapping_rem(b).to_string()),
                _ if name == "rem" => match (f64::parse_arg(a), f64::parse_arg(b)) {
                    (Ok(a), Ok(b)) => Ok(unparse_real(a % b)),
                    _ => Err(two_numbers()),
                },
                _ => Err(two_numbers()),
            }
        }
        "neg" | "abs" => match parse_num(args.trim()) {
            Some(Num::Int(i)) => Ok((if name == "neg" { i.wrapping_neg() } else { i.wrapping_abs() }).to_string()),
            Some(Num::Real(r)) => Ok(unparse_real(if name == "neg" { -r } else { r.abs() })),
            None => Err("expected one number".into()),
        },
        "lt" | "eq" | "gt" | "ge" | "ne" | "le" => {
            let [a, b] = words.as_slice() else { return Some(Err(two_numbers())) };
            let ord = match (parse_num(a), parse_num(b)) {
                (Some(Num::Int(x)), Some(Num::Int(y))) => x.cmp(&y),
                (Some(x), Some(y)) => real(&x).partial_cmp(&real(&y)).unwrap_or(core::cmp::Ordering::Equal),
                _ => unquote(a).cmp(&unquote(b)),
            };
            use core::cmp::Ordering::*;
            Ok(truth(match name {
                "lt" => ord == Less,
                "eq" => ord == Equal,
                "gt" => ord == Greater,
                "ge" => ord != Less,
                "ne" => ord != Equal,
                _ => ord != Greater,
            }))
        }
        "first" => Ok(words.first().cloned().unwrap_or_default()),
        "not" => match bool::parse_arg(args.trim()) {
            Ok(b) => Ok(truth(!b)),
            Err(_) => Err("syntax error".into()),
        },
        "and" | "or" | "nand" | "nor" => {
            let conj = matches!(name, "and" | "nand");
            let mut value = conj;
            for w in &words {
                if value != conj {
                    break;
                }
                match bool::parse_arg(w) {
                    Ok(b) => value = if conj { value && b } else { value || b },
                    Err(_) => return Some(Err("syntax error".into())),
                }
            }
            Ok(truth(if matches!(name, "nand" | "nor") { !value } else { value }))
        }
        "if" => match words.first().map(|w| bool::parse_arg(w)) {
            Some(Ok(true)) => Ok(words.get(1).cloned().unwrap_or_default()),
            Some(Ok(false)) => Ok(words.get(2).cloned().unwrap_or_default()),
            _ => Err("syntax error".into()),
        },
        "in" => {
            let Some(first) = words.first() else { return Some(Ok(truth(false))) };
            let w = unquote(first);
            Ok(truth(words[1..].iter().any(|x| unquote(x) == w)))
        }
        "length" => Ok(args.len().to_string()),
        "unquote" => Ok(unquote(args)),
        "now" => {
            let t = cx.now();
            Ok(format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000))
        }
        "random" => {
            let r = random();
            match words.as_slice() {
                [] => Ok(((r >> 33) as u32 & 0x7fff_ffff).to_string()),
                [n] => match n.parse::<u64>() {
                    Ok(n) if n > 0 => Ok((r % n).to_string()),
                    _ => Err("bad N".into()),
                },
                [a, b] => match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(a), Ok(b)) if b >= a => Ok((a + r % (b - a + 1)).to_string()),
                    _ => Err("bad N".into()),
                },
                _ => Err("syntax error".into()),
            }
        }
        "htons" | "ntohs" => match u32::parse_arg(args.trim()) {
            Ok(x) => Ok(u16::swap_bytes(x as u16).to_string()),
            Err(_) => Err("syntax error".into()),
        },
        "htonl" | "ntohl" => match u32::parse_arg(args.trim()) {
            Ok(x) => Ok(x.swap_bytes().to_string()),
            Err(_) => Err("syntax error".into()),
        },
        "sprintf" => sprintf(&words),
        _ => return None,
    })
}

/// Click's `sprintf` handler: `%d %i %u %x %X %o %s %%` with flags, width and
/// precision.
fn sprintf(words: &[String]) -> Result<String, String> {
    let Some(format) = words.first().map(|f| unquote(f)) else { return Err("syntax error".into()) };
    let mut args = words[1..].iter();
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "0#- +".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width * 10 + d as usize;
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            precision = Some(p);
        }
        while matches!(chars.peek(), Some('h' | 'l' | 'L' | 'q')) {
            chars.next();
        }
        let conv = chars.next().ok_or("syntax error")?;
        let body = match conv {
            '%' => "%".to_string(),
            'd' | 'i' => {
                let v = i64::parse_arg(args.next().ok_or("syntax error")?).map_err(|_| "syntax error")?;
                let mut s = v.unsigned_abs().to_string();
                if let Some(p) = precision {
                    while s.len() < p {
                        s.insert(0, '0');
                    }
                }
                let sign = if v < 0 {
                    "-"
                } else if flags.contains('+') {
                    "+"
                } else if flags.contains(' ') {
                    " "
                } else {
                    ""
                };
                format!("{sign}{s}")
            }
            'u' | 'x' | 'X' | 'o' => {
                let v = u64::parse_arg(args.next().ok_or("syntax error")?).map_err(|_| "syntax error")?;
                let mut s = match conv {
                    'x' => format!("{v:x}"),
                    'X' => format!("{v:X}"),
                    'o' => format!("{v:o}"),
                    _ => v.to_string(),
                };
                if let Some(p) = precision {
                    while s.len() < p {
                        s.insert(0, '0');
                    }
                }
                if flags.contains('#') && v != 0 {
                    match conv {
                        'x' => s.insert_str(0, "0x"),
                        'X' => s.insert_str(0, "0X"),
                        'o' => s.insert(0, '0'),
                        _ => {}
                    }
                }
                s
            }
            's' => {
                let mut s = unquote(args.next().ok_or("syntax error")?);
                if let Some(p) = precision {
                    s = s.chars().take(p).collect();
                }
                s
            }
            _ => return Err("syntax error".into()),
        };
        let pad = width.saturating_sub(body.chars().count());
        if flags.contains('-') {
            out.push_str(&body);
            out.extend(core::iter::repeat_n(' ', pad));
        } else if flags.contains('0') && conv != 's' && precision.is_none() {
            let (sign, digits) = match body.strip_prefix(['-', '+', ' ']) {
                Some(d) => (&body[..1], d),
                None => ("", body.as_str()),
            };
            out.push_str(sign);
            out.extend(core::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(core::iter::repeat_n(' ', pad));
            out.push_str(&body);
        }
    }
    if args.next().is_some() {
        return Err("syntax error".into());
    }
    Ok(out)
}

impl Element for Script {
    fn class_name(&self) -> &'static str {
        self.class
    }
    fn port_count(&self) -> &'static str {
        "-/-"
    }
    fn processing(&self) -> &'static str {
        "ah/ah"
    }
    fn configure(&mut self, config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let mut instructions = Vec::new();
        for arg in split_args(config) {
            match arg.strip_prefix("TYPE").filter(|r| r.starts_with(|c: char| c.is_ascii_whitespace())) {
                Some(t) => {
                    let t = t.trim();
                    self.ty = Some(match t {
                        "ACTIVE" => Type::Active,
                        "PASSIVE" => Type::Passive,
                        "PACKET" | "PUSH" => Type::Packet,
                        "PROXY" => Type::Proxy,
                        "DRIVER" => Type::Driver,
                        _ => {
                            errors.push(String::from("bad TYPE"));
                            continue;
                        }
                    });
                }
                None => instructions.push(arg),
            }
        }
        for arg in instructions {
            let arg = arg.trim();
            let (word, rest) = match arg.find(|c: char| c.is_ascii_whitespace()) {
                Some(k) => (&arg[..k], arg[k..].trim_start()),
                None => (arg, ""),
            };
            if word.is_empty() {
                continue;
            }
            let syntax = |errors: &mut Vec<String>| errors.push(format!("syntax error at '{word}'"));
            let text = rest.to_string();
            match word {
                "wait" | "pause" | "wait_step" | "wait_stop" if word != "wait" || rest.is_empty() => {
                    if rest.is_empty() {
                        self.add(Insn::WaitStep { count: 1, done: 0 });
                    } else {
                        match u32::parse_arg(rest) {
                            Ok(n) => self.add(Insn::WaitStep { count: n, done: 0 }),
                            Err(_) => syntax(&mut errors),
                        }
                    }
                }
                "wait" | "wait_time" | "wait_for" => self.add(Insn::WaitTime(text)),
                "print" | "printq" | "printn" | "printnq" => {
                    self.add(Insn::Print { text, unquote: word.ends_with('q'), newline: !word.starts_with("printn") })
                }
                "save" | "append" => {
                    let mut parts = text.splitn(2, char::is_whitespace);
                    let what = parts.next().unwrap_or("").to_string();
                    let file = parts.next().map(str::trim).filter(|f| !f.is_empty()).unwrap_or("-");
                    let redirect = if word == "save" { ">" } else { ">>" };
                    self.add(Insn::Print { text: format!("{redirect}{file} {what}"), unquote: false, newline: true });
                }
                "read" | "readq" => self.add(Insn::Read { text, unquote: word == "readq" }),
                "write" | "writeq" => self.add(Insn::Write { text, unquote: word == "writeq" }),
                "set" | "setq" | "init" | "initq" | "export" | "exportq" | "return" | "returnq" => {
                    let ret = word.starts_with("return");
                    let (var, value) = if ret {
                        ("_".to_string(), text)
                    } else {
                        match rest.find(|c: char| c.is_ascii_whitespace()) {
                            Some(k) => (rest[..k].to_string(), rest[k..].trim_start().to_string()),
                            None => (rest.to_string(), String::new()),
                        }
                    };
                    if var.is_empty() || (word.starts_with("set") && value.is_empty()) {
                        syntax(&mut errors);
                        continue;
                    }
                    let v = self.var_index(&var);
                    if word.starts_with("export") && !self.exports.contains(&v) {
                        self.exports.push(v);
                    }
                    let init_only = word.starts_with("init") || word.starts_with("export");
                    self.add(Insn::Set { var: v, text: value, unquote: word.ends_with('q'), ret, init_only });
                }
                "goto" => {
                    let (label, cond) = match rest.find(|c: char| c.is_ascii_whitespace()) {
                        Some(k) => (rest[..k].to_string(), rest[k..].trim_start().to_string()),
                        None => (rest.to_string(), String::new()),
                    };
                    if label.is_empty() {
                        syntax(&mut errors);
                        continue;
                    }
                    self.add(Insn::Goto { label, target: Target::End, cond });
                }
                "loop" if rest.is_empty() => {
                    self.add(Insn::Goto { label: "loop".into(), target: Target::At(0), cond: String::new() })
                }
                "label" if !rest.is_empty() && !rest.contains(char::is_whitespace) => self.add(Insn::Label(text)),
                "end" if rest.is_empty() => self.add(Insn::End),
                "exit" if rest.is_empty() => self.add(Insn::Exit),
                "stop" if rest.is_empty() => self.add(Insn::Stop),
                "error" | "errorq" => self.add(Insn::Error { msg: text, unquote: word == "errorq" }),
                _ => syntax(&mut errors),
            }
        }
        // Resolve the gotos now that every label is known.
        for k in 0..self.insns.len() {
            if let Insn::Goto { label, .. } = &self.insns[k] {
                let label = label.clone();
                match self.find_label(&label) {
                    Some(t) => {
                        if let Insn::Goto { target, .. } = &mut self.insns[k] {
                            *target = t;
                        }
                    }
                    None => errors.push(format!("no such label '{label}'")),
                }
            }
        }
        if self.insns.is_empty() && self.ty == Some(Type::Driver) {
            self.add(Insn::WaitStep { count: 1, done: 0 });
        }
        let last = if self.ty == Some(Type::Driver) { Insn::Stop } else { Insn::End };
        self.add(last);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        let ports = cx.ninputs() + cx.noutputs() > 0;
        if self.ty.is_none() {
            self.ty = Some(if ports { Type::Packet } else { Type::Active });
        }
        if self.ty() == Type::Packet && cx.ninputs() == 0 {
            return Err("PACKET script must have inputs".into());
        }
        if self.ty() != Type::Packet && ports {
            return Err("ports allowed only on PACKET scripts".into());
        }
        // init and export values, once.
        for k in 0..self.insns.len() {
            if let Insn::Set { var, text, unquote: uq, init_only: true, .. } = self.insns[k].clone() {
                let mut v = self.expand(&text, cx);
                if uq {
                    v = unquote(&v);
                }
                self.vars[var].1 = v;
            }
        }
        self.pos = 0;
        self.step_count = 0;
        if matches!(self.ty(), Type::Active | Type::Driver) {
            match &mut self.insns[0] {
                Insn::WaitTime(text) => {
                    let text = text.clone();
                    let t = self.expand(&text, cx);
                    let nanos =
                        Interval::parse_arg(t.trim()).map_err(|_| String::from("syntax error at 'wait'"))?.nanos;
                    self.timer = Some(cx.now().saturating_add(nanos));
                }
                Insn::Initial { pending } => {
                    *pending = true;
                    self.start_pending = true;
                }
                _ => {}
            }
        }
        Ok(())
    }
    fn manages_driver(&self) -> bool {
        self.ty == Some(Type::Driver)
    }
    fn has_task(&self) -> bool {
        matches!(self.ty(), Type::Active | Type::Driver)
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let mut worked = false;
        if self.start_pending {
            self.start_pending = false;
            let ty = if self.ty() == Type::Driver { StepType::Router } else { StepType::Timer };
            self.run_steps(1, ty, cx);
            worked = true;
        }
        if let Some(at) = self.timer {
            if cx.now() >= at {
                self.timer = None;
                self.run_steps(1, StepType::Timer, cx);
                worked = true;
            } else {
                cx.wake_at(at);
            }
        }
        if self.ty() == Type::Driver {
            while self.stops_seen < cx.stop_requests() {
                self.stops_seen += 1;
                self.run_steps(1, StepType::Router, cx);
                worked = true;
            }
        }
        if let Some(at) = self.timer {
            cx.wake_at(at);
        }
        // Sleep until a timer, a stop request or a handler wakes the task.
        cx.sleep();
        worked
    }
    fn push(&mut self, port: usize, p: Packet, cx: &mut Ctx) {
        if let Some(out) = self.packet_port(port, cx)
            && out < cx.noutputs()
        {
            cx.push(out, p);
        }
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        let p = cx.pull(0)?;
        match self.packet_port(0, cx) {
            Some(0) => Some(p),
            Some(out) if out < cx.noutputs() && cx.output_is_push(out) => {
                cx.push(out, p);
                None
            }
            _ => None,
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        self.exports.iter().find(|&&i| self.vars[i].0 == name).map(|&i| self.vars[i].1.clone())
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["step", "goto", "run"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        let r = self.own_handler(name, write, value, cx);
        // A step may have armed a timer: make sure the task sees it.
        if self.timer.is_some() {
            cx.wake_self();
        }
        r
    }
}
