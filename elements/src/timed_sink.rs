//! TimedSink — pulls and drops one packet per interval.
//!
//! `TimedSink([INTERVAL])`
//!
//! One pull input. Every INTERVAL (default 0.5 s) it pulls one packet, if there is
//! one, and drops it. Useful at the end of a pull path to model a slow link.
//!
//! Handlers: `interval` (read/write).

use alloc::string::String;

use oxclick_lang::args::{ArgType, Interval};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, finish_args};

pub struct TimedSink {
    interval: u64,
    /// When the next pull is due.
    next: Option<u64>,
}

impl Default for TimedSink {
    fn default() -> Self {
        TimedSink { interval: 500_000_000, next: None }
    }
}

impl Element for TimedSink {
    fn class_name(&self) -> &'static str {
        "TimedSink"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/0"
    }
    fn processing(&self) -> &'static str {
        "l/"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        if let Some(i) = a.read_p::<Interval>("INTERVAL") {
            self.interval = i.nanos;
        }
        finish_args(a)
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        self.next = Some(cx.now().saturating_add(self.interval));
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let now = cx.now();
        let due = *self.next.get_or_insert(now);
        let mut worked = false;
        if now >= due {
            // Like Click's timer, the next one counts from when this one was due.
            drop(cx.pull(0));
            worked = true;
            self.next = Some(due.saturating_add(self.interval.max(1)).max(now.saturating_sub(self.interval)));
        }
        cx.wake_at(self.next.unwrap_or(now));
        cx.sleep();
        worked
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "interval").then(|| Interval::unparse(self.interval))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["interval"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        if name != "interval" {
            return None;
        }
        Some(match Interval::parse_arg(value.trim()) {
            Ok(i) if i.nanos > 0 => {
                self.interval = i.nanos;
                self.next = Some(cx.now().saturating_add(i.nanos));
                cx.wake_self();
                Ok(String::new())
            }
            _ => Err(String::from("bad interval")),
        })
    }
}
