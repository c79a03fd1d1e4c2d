//! InfiniteSource and RatedSource — generate packets.
//!
//! `InfiniteSource([DATA, LIMIT, BURST, ACTIVE, KEYWORDS])`
//!
//! One agnostic output. Pushes BURST packets (default 1) each time its task runs,
//! or hands one out per pull. Each packet holds DATA (Click's data syntax; default a
//! 64-byte filler), zero-padded or cut to LENGTH when given. Stops after LIMIT
//! packets (default -1, no limit); with `STOP true` it then asks the driver to stop.
//!
//! `RatedSource([DATA, RATE, LIMIT, ACTIVE, KEYWORDS])`
//!
//! The same, but at RATE packets per second (default 10), paced by the router clock.
//!
//! Handlers: `count` (packets sent), `active`, `limit` (read/write), `reset`
//! (write: count from zero, so LIMIT more packets go out).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Args, Data};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

const DEFAULT_DATA: &[u8] = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is.";

struct Common {
    data: Vec<u8>,
    /// The packet every output shares data with (clones are copy-on-write).
    template: Option<Packet>,
    limit: i64,
    active: bool,
    stop: bool,
    count: u64,
    pushes: bool,
    stopped_asked: bool,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            data: DEFAULT_DATA.into(),
            template: None,
            limit: -1,
            active: true,
            stop: false,
            count: 0,
            pushes: false,
            stopped_asked: false,
        }
    }
}

impl Common {
    /// The arguments both sources end with: `ACTIVE` (positional), `LENGTH`, `STOP`.
    fn read_rest(&mut self, a: &mut Args, data: Option<Data>) {
        self.active = a.read_p("ACTIVE").unwrap_or(true);
        let length: Option<usize> = a.read("LENGTH");
        self.stop = a.read_or("STOP", false);
        if let Some(d) = data {
            self.data = d.0;
        }
        if let Some(l) = length {
            self.data.resize(l, 0);
        }
    }

    fn exhausted(&self) -> bool {
        self.limit >= 0 && self.count >= self.limit as u64
    }

    /// One packet, or `None` when done (asking the driver to stop once if STOP).
    fn next(&mut self, cx: &mut Ctx) -> Option<Packet> {
        if !self.active {
            return None;
        }
        if self.exhausted() {
            if self.stop && !self.stopped_asked {
                self.stopped_asked = true;
                cx.request_stop();
            }
            return None;
        }
        self.count += 1;
        let mut p = match &self.template {
            Some(t) => t.clone(),
            None => self.template.insert(cx.new_packet(&self.data)).clone(),
        };
        p.anno.timestamp = cx.now();
        Some(p)
    }

    /// The write handlers both sources have; each wakes the task, which sleeps
    /// while inactive or done.
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.handler(name).map(Ok);
        }
        let v = value.trim();
        let r = match name {
            "active" => bool::parse_arg(v).map(|b| self.active = b).map_err(|_| String::from("expected boolean")),
            "limit" => i64::parse_arg(v).map(|l| self.limit = l).map_err(|_| String::from("expected integer")),
            "reset" => {
                self.count = 0;
                self.stopped_asked = false;
                Ok(())
            }
            _ => return None,
        };
        cx.wake_self();
        Some(r.map(|()| String::new()))
    }

    fn handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "active" => Some(format!("{}", self.active)),
            "limit" => Some(format!("{}", self.limit)),
            _ => None,
        }
    }
}

#[derive(Default)]
pub struct InfiniteSource {
    c: Common,
    burst: u32,
}

impl Element for InfiniteSource {
    fn class_name(&self) -> &'static str {
        "InfiniteSource"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "0/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let data: Option<Data> = a.read_p("DATA");
        self.c.limit = a.read_p("LIMIT").unwrap_or(-1);
        self.burst = a.read_p("BURST").unwrap_or(1);
        self.c.read_rest(&mut a, data);
        finish_args(a)
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        self.c.pushes = cx.output_is_push(0);
        if self.c.pushes {
            // Sleep while every queue downstream is full, as Click's sources do.
            cx.listen_downstream_full(0);
        }
        Ok(())
    }
    fn has_task(&self) -> bool {
        self.c.pushes
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        if cx.downstream_full() {
            cx.sleep();
            return false;
        }
        if self.burst <= 1 {
            return match self.c.next(cx) {
                Some(p) => {
                    cx.push(0, p);
                    true
                }
                None => {
                    // Inactive or done: sleep until a handler wakes the task.
                    cx.sleep();
                    false
                }
            };
        }
        let mut batch = cx.new_batch();
        for _ in 0..self.burst {
            match self.c.next(cx) {
                Some(p) => batch.push(p),
                None => break,
            }
        }
        let worked = !batch.is_empty();
        if !worked {
            cx.sleep();
        }
        cx.push_batch(0, batch);
        worked
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        self.c.next(cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        self.c.handler(name)
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "active", "limit", "reset"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        self.c.call_handler(name, write, value, cx)
    }
}

pub struct RatedSource {
    c: Common,
    rate: u64,
    start: Option<u64>,
}

impl Default for RatedSource {
    fn default() -> Self {
        RatedSource { c: Common::default(), rate: 10, start: None }
    }
}

impl RatedSource {
    /// The next packet if it is due (the n-th, from 0, is due `n / RATE` seconds
    /// after the first); otherwise ask to be woken when it is.
    fn next_on_time(&mut self, cx: &mut Ctx) -> Option<Packet> {
        let now = cx.now();
        let start = *self.start.get_or_insert(now);
        let due = start + self.c.count.saturating_mul(1_000_000_000) / self.rate;
        if now < due {
            cx.wake_at(due);
            return None;
        }
        self.c.next(cx)
    }
}

impl Element for RatedSource {
    fn class_name(&self) -> &'static str {
        "RatedSource"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "0/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let data: Option<Data> = a.read_p("DATA");
        self.rate = a.read_p("RATE").unwrap_or(10);
        self.c.limit = a.read_p("LIMIT").unwrap_or(-1);
        self.c.read_rest(&mut a, data);
        if self.rate == 0 {
            return Err(alloc::vec!["RATE: out of range".into()]);
        }
        finish_args(a)
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        self.c.pushes = cx.output_is_push(0);
        if self.c.pushes {
            // Sleep while every queue downstream is full, as Click's sources do.
            cx.listen_downstream_full(0);
        }
        Ok(())
    }
    fn has_task(&self) -> bool {
        self.c.pushes
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        if cx.downstream_full() {
            cx.sleep();
            return false;
        }
        match self.next_on_time(cx) {
            Some(p) => {
                cx.push(0, p);
                true
            }
            None => {
                // Not yet due (a timer is set), inactive or done.
                cx.sleep();
                false
            }
        }
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        self.next_on_time(cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        self.c.handler(name)
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        self.c.call_handler(name, write, value, cx)
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "active", "limit", "reset"]
    }
}
