//! DelayUnqueue — holds each packet for a fixed delay.
//!
//! `DelayUnqueue(DELAY)`
//!
//! Pull input, push output. It pulls a packet, sets its timestamp annotation (to
//! now, if unset) plus DELAY, and pushes it once the router clock reaches that
//! time. Packets leave in order, each at least DELAY after it was pulled (or after
//! its timestamp). With nothing upstream it sleeps until a queue gets a packet.
//!
//! Handlers: `delay` (read/write).

use alloc::string::String;

use oxclick_lang::args::{ArgType, Interval};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

#[derive(Default)]
pub struct DelayUnqueue {
    delay: u64,
    held: Option<Packet>,
    notified: bool,
}

impl Element for DelayUnqueue {
    fn class_name(&self) -> &'static str {
        "DelayUnqueue"
    }
    /// Holds at most one packet while it waits out the delay.
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Bounded { bytes: oxclick_runtime::STORED_PACKET_BYTES }
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn processing(&self) -> &'static str {
        "l/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.delay = a.read_mp::<Interval>("DELAY").map_or(0, |i| i.nanos);
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
        let now = cx.now();
        let mut worked = false;
        loop {
            if self.held.is_none() {
                let Some(mut p) = cx.pull(0) else { break };
                if p.anno.timestamp == 0 {
                    p.anno.timestamp = now;
                }
                p.anno.timestamp = p.anno.timestamp.saturating_add(self.delay);
                self.held = Some(p);
            }
            let due = self.held.as_ref().map_or(0, |p| p.anno.timestamp);
            if due > now {
                cx.wake_at(due);
                cx.sleep();
                return worked;
            }
            if let Some(p) = self.held.take() {
                cx.push(0, p);
                worked = true;
            }
        }
        if self.notified {
            cx.sleep();
        }
        worked
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "delay").then(|| Interval::unparse(self.delay))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["delay"]
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        (name == "delay").then(|| {
            Interval::parse_arg(value.trim()).map(|i| self.delay = i.nanos).map_err(|_| String::from("bad delay"))
        })
    }
}
