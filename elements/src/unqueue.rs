//! Unqueue — pulls packets and pushes them on.
//!
//! `Unqueue([BURST, KEYWORDS])`
//!
//! Pull input, push output. Its task pulls up to BURST packets (default 1) per run.
//! Keywords: `ACTIVE` (default true), `LIMIT` (stop after this many; -1: no limit).
//!
//! Handlers: `count`, `reset` (write: count from zero again, so a LIMIT allows
//! that many more), `active` (read/write).

use alloc::format;
use alloc::string::String;

use oxclick_lang::args::ArgType;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, finish_args};

pub struct Unqueue {
    burst: u32,
    active: bool,
    limit: i64,
    count: u64,
    /// Whether queues upstream wake the task when they get packets.
    notified: bool,
}

impl Default for Unqueue {
    fn default() -> Self {
        Unqueue { burst: 1, active: true, limit: -1, count: 0, notified: false }
    }
}

impl Element for Unqueue {
    fn class_name(&self) -> &'static str {
        "Unqueue"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn processing(&self) -> &'static str {
        "l/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.burst = a.read_p("BURST").unwrap_or(1);
        self.active = a.read_or("ACTIVE", true);
        self.limit = a.read_or("LIMIT", -1);
        finish_args(a)
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        self.notified = cx.listen_upstream_empty(0);
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        if !self.active {
            cx.sleep();
            return false;
        }
        let mut worked = false;
        for _ in 0..self.burst.max(1) {
            if self.limit >= 0 && self.count >= self.limit as u64 {
                // Nothing more to do until a reset.
                cx.sleep();
                break;
            }
            match cx.pull(0) {
                Some(p) => {
                    self.count += 1;
                    cx.push(0, p);
                    worked = true;
                }
                None => {
                    // Nothing upstream: sleep until a queue there gets a packet.
                    if self.notified {
                        cx.sleep();
                    }
                    break;
                }
            }
        }
        worked
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "active" => Some(format!("{}", self.active)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "reset", "active"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        let r = match name {
            "reset" => {
                self.count = 0;
                Ok(String::new())
            }
            "active" => match bool::parse_arg(value.trim()) {
                Ok(b) => {
                    self.active = b;
                    Ok(String::new())
                }
                Err(_) => Err("expected boolean".into()),
            },
            _ => return None,
        };
        cx.wake_self();
        Some(r)
    }
}
