//! DriverManager — decides when the driver stops.
//!
//! `DriverManager(INSTRUCTIONS...)`
//!
//! Without a DriverManager the driver stops at the first stop request (from a
//! source's `STOP true`, say). With one, it runs its instructions in order and stops
//! after the last:
//!
//! * `wait_stop [N]` — wait for N (default 1) more stop requests;
//! * `wait_time T`, `wait T` — wait T seconds (`1.5`, `10ms`, ...);
//! * `print HANDLER` — print a read handler's value (`ELEM.HANDLER`) or a quoted
//!   string on standard output;
//! * `write HANDLER VALUE...`, `writeq HANDLER "VALUE"` — call a write handler;
//! * `stop` — stop now.
//!
//! Default: `wait_stop`.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Interval, split_args, split_spacevec, unquote};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Instruction {
    WaitStop(u32),
    WaitTime(u64),
    Print(String),
    Write(String, String),
    Stop,
}

pub struct DriverManager {
    program: Vec<Instruction>,
    pc: usize,
    /// Stop requests seen when the current `wait_stop` began, or the wait deadline.
    mark: Option<u64>,
}

impl Default for DriverManager {
    fn default() -> Self {
        DriverManager { program: vec![Instruction::WaitStop(1)], pc: 0, mark: None }
    }
}

impl Element for DriverManager {
    fn class_name(&self) -> &'static str {
        "DriverManager"
    }
    fn configure(&mut self, config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut program = Vec::new();
        let mut errors = Vec::new();
        for arg in split_args(config) {
            let words = split_spacevec(&arg);
            let (cmd, rest) = match words.split_first() {
                Some((c, r)) => (c.as_str(), r),
                None => continue,
            };
            match (cmd, rest) {
                ("stop", []) => program.push(Instruction::Stop),
                ("wait_stop", []) => program.push(Instruction::WaitStop(1)),
                ("wait_stop", [n]) => match n.parse() {
                    Ok(n) => program.push(Instruction::WaitStop(n)),
                    Err(_) => errors.push(alloc::format!("bad count in '{arg}'")),
                },
                ("print", [what]) => program.push(Instruction::Print(what.clone())),
                ("write" | "writeq", [h, value @ ..]) => {
                    let v = value.join(" ");
                    let v = if cmd == "writeq" { unquote(&v) } else { v };
                    program.push(Instruction::Write(h.clone(), v));
                }
                ("wait_time" | "wait", [t]) => match Interval::parse_arg(t) {
                    Ok(i) => program.push(Instruction::WaitTime(i.nanos)),
                    Err(_) => errors.push(alloc::format!("bad time in '{arg}'")),
                },
                _ => errors.push(alloc::format!("unknown instruction '{arg}'")),
            }
        }
        if !program.is_empty() {
            self.program = program;
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
    fn manages_driver(&self) -> bool {
        true
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        loop {
            let Some(ins) = self.program.get(self.pc).cloned() else {
                cx.stop_now();
                return true;
            };
            match ins {
                Instruction::Print(what) => {
                    let text = if what.starts_with('"') { Ok(unquote(&what)) } else { cx.read_handler(&what) };
                    match text {
                        Ok(t) => cx.output(t.strip_suffix('\n').unwrap_or(&t)),
                        Err(e) => cx.console(&e),
                    }
                }
                Instruction::Write(h, v) => {
                    if let Err(e) = cx.write_handler(&h, &v) {
                        cx.console(&e);
                    }
                }
                Instruction::Stop => {
                    cx.stop_now();
                    return true;
                }
                Instruction::WaitStop(n) => {
                    let seen = cx.stop_requests() as u64;
                    let start = *self.mark.get_or_insert(seen);
                    if seen < start + n as u64 {
                        return false;
                    }
                }
                Instruction::WaitTime(t) => {
                    let now = cx.now();
                    let deadline = *self.mark.get_or_insert(now + t);
                    if now < deadline {
                        cx.wake_at(deadline);
                        return false;
                    }
                }
            }
            self.mark = None;
            self.pc += 1;
        }
    }
    fn read_handler(&self, _name: &str) -> Option<String> {
        None
    }
}
