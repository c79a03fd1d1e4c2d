//! TimedUnqueue — pulls a burst of packets every interval.
//!
//! `TimedUnqueue(INTERVAL [, BURST])`
//!
//! Pull input, push output. Every INTERVAL (seconds, millisecond precision) it
//! pulls up to BURST packets (default 1) and pushes them on. When the queues
//! upstream are empty it sleeps until one of them gets a packet.

use alloc::string::String;

use oxclick_lang::args::Interval;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, finish_args};

pub struct TimedUnqueue {
    interval: u64,
    burst: u32,
    next: Option<u64>,
    notified: bool,
}

impl Default for TimedUnqueue {
    fn default() -> Self {
        TimedUnqueue { interval: 0, burst: 1, next: None, notified: false }
    }
}

impl Element for TimedUnqueue {
    fn class_name(&self) -> &'static str {
        "TimedUnqueue"
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
        let interval = a.read_mp::<Interval>("INTERVAL");
        let burst: Option<i64> = a.read_p("BURST");
        finish_args(a)?;
        // Millisecond precision, as Click's SecondsArg(3).
        self.interval = interval.map_or(0, |i| i.nanos / 1_000_000 * 1_000_000);
        match burst {
            Some(b) if b <= 0 || b > i64::from(u32::MAX) => Err(alloc::vec![String::from("bad BURST")]),
            Some(b) => {
                self.burst = b as u32;
                Ok(())
            }
            None => Ok(()),
        }
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        self.notified = cx.listen_upstream_empty(0);
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let now = cx.now();
        if let Some(due) = self.next
            && now < due
        {
            // An upstream queue woke us early; the timer still stands.
            cx.wake_at(due);
            cx.sleep();
            return false;
        }
        let mut sent = 0;
        while sent < self.burst {
            match cx.pull(0) {
                Some(p) => {
                    cx.push(0, p);
                    sent += 1;
                }
                None => break,
            }
        }
        if sent == 0 && self.notified {
            // Nothing upstream: wait for a packet, then go at once.
            self.next = None;
            cx.sleep();
            return false;
        }
        let next = match self.next {
            Some(due) => due.saturating_add(self.interval).max(now),
            None => now.saturating_add(self.interval),
        };
        self.next = Some(next);
        cx.wake_at(next);
        cx.sleep();
        true
    }
}
