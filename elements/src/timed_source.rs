//! TimedSource — pushes a packet every interval.
//!
//! `TimedSource([INTERVAL, DATA, KEYWORDS])`
//!
//! One push output. Every INTERVAL (default 0.5 s) it pushes a packet holding DATA
//! (default a 64-byte filler) with its timestamp set. Keywords: `LIMIT` (stop after
//! this many; -1: no limit), `ACTIVE` (default true), `STOP` (ask the driver to stop
//! once LIMIT packets have gone out).
//!
//! Handlers: `count`, `data`, `limit`, `interval`, `active` (read/write), `reset`
//! (write: count from zero and start again).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Data, Interval};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

const DEFAULT_DATA: &[u8] = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is.";

pub struct TimedSource {
    interval: u64,
    data: Vec<u8>,
    template: Option<Packet>,
    limit: i64,
    active: bool,
    stop: bool,
    count: u64,
    next: Option<u64>,
    stop_asked: bool,
}

impl Default for TimedSource {
    fn default() -> Self {
        TimedSource {
            interval: 500_000_000,
            data: DEFAULT_DATA.into(),
            template: None,
            limit: -1,
            active: true,
            stop: false,
            count: 0,
            next: None,
            stop_asked: false,
        }
    }
}

impl Element for TimedSource {
    fn class_name(&self) -> &'static str {
        "TimedSource"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "0/1"
    }
    fn processing(&self) -> &'static str {
        "/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        if let Some(i) = a.read_p::<Interval>("INTERVAL") {
            self.interval = i.nanos;
        }
        if let Some(d) = a.read_p::<Data>("DATA") {
            self.data = d.0;
        }
        self.limit = a.read_or("LIMIT", -1);
        self.active = a.read_or("ACTIVE", true);
        self.stop = a.read_or("STOP", false);
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
        if !self.active {
            cx.sleep();
            return false;
        }
        if now < due {
            cx.wake_at(due);
            cx.sleep();
            return false;
        }
        if self.limit >= 0 && self.count >= self.limit as u64 {
            if self.stop && !self.stop_asked {
                self.stop_asked = true;
                cx.request_stop();
            }
            cx.sleep();
            return false;
        }
        let mut p = match &self.template {
            Some(t) => t.clone(),
            None => self.template.insert(cx.new_packet(&self.data)).clone(),
        };
        p.anno.timestamp = now;
        self.count += 1;
        cx.push(0, p);
        self.next = Some(due.saturating_add(self.interval.max(1)).max(now));
        cx.wake_at(self.next.unwrap_or(now));
        cx.sleep();
        true
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "count" => format!("{}", self.count),
            "data" => String::from_utf8_lossy(&self.data).into_owned(),
            "limit" => format!("{}", self.limit),
            "interval" => Interval::unparse(self.interval),
            "active" => format!("{}", self.active),
            _ => return None,
        })
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "data", "limit", "interval", "active", "reset"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        let v = value.trim();
        let r = match name {
            "data" => {
                self.data = value.as_bytes().into();
                self.template = None;
                Ok(())
            }
            "limit" => i64::parse_arg(v).map(|l| self.limit = l).map_err(|_| String::from("bad limit")),
            "interval" => match Interval::parse_arg(v) {
                Ok(i) if i.nanos > 0 => {
                    self.interval = i.nanos;
                    Ok(())
                }
                _ => Err(String::from("bad interval")),
            },
            "active" => bool::parse_arg(v).map(|b| self.active = b).map_err(|_| String::from("bad active")),
            "reset" => {
                self.count = 0;
                self.stop_asked = false;
                self.next = Some(cx.now());
                Ok(())
            }
            _ => return None,
        };
        if r.is_ok() && name != "data" && name != "limit" {
            // Click schedules its timer now when it was idle.
            if self.next.is_none_or(|n| n > cx.now().saturating_add(self.interval)) {
                self.next = Some(cx.now());
            }
            cx.wake_self();
        }
        Some(r.map(|()| String::new()))
    }
}
