//! Queue (SimpleQueue) — stores packets in a FIFO.
//!
//! `Queue([CAPACITY])`
//!
//! Push input, pull output. Holds up to CAPACITY packets (default 1000); packets
//! arriving at a full queue are dropped and counted. A notifier: tasks pulling from
//! it sleep while it is empty, and sources pushing into it sleep while it is full.
//!
//! `FrontDropQueue([CAPACITY])` is the same except that a packet arriving at a full
//! queue is kept and the oldest packet is dropped instead, so sources never sleep
//! on it.
//!
//! A hot swap (`hotconfig`) hands a queue's packets to the queue of the same name in
//! the new configuration.
//!
//! Handlers: `length`, `highwater_length`, `capacity`, `drops`; `reset` (write:
//! drop every queued packet), `reset_counts` (write: zero drops and high water).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

pub struct Queue {
    class: &'static str,
    q: VecDeque<Packet>,
    capacity: usize,
    drops: u64,
    highwater: usize,
}

impl Queue {
    pub fn named(class: &'static str) -> Queue {
        Queue { class, q: VecDeque::new(), capacity: 1000, drops: 0, highwater: 0 }
    }
}

impl Queue {
    fn front_drop(&self) -> bool {
        self.class == "FrontDropQueue"
    }
}

impl Element for Queue {
    fn class_name(&self) -> &'static str {
        self.class
    }
    /// Every queued packet is held until it leaves: CAPACITY packets at most.
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Bounded { bytes: self.capacity.saturating_mul(oxclick_runtime::STORED_PACKET_BYTES) }
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn processing(&self) -> &'static str {
        "h/l"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.capacity = a.read_p("CAPACITY").unwrap_or(1000);
        finish_args(a)
    }
    fn is_notifier(&self) -> bool {
        true
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        if self.front_drop() && self.capacity > 0 {
            while self.q.len() >= self.capacity {
                self.q.pop_front();
                self.drops += 1;
            }
        }
        if self.q.len() >= self.capacity {
            self.drops += 1;
            return;
        }
        self.q.push_back(p);
        self.highwater = self.highwater.max(self.q.len());
        if self.q.len() >= self.capacity && !self.front_drop() {
            cx.set_full();
        }
        if self.q.len() == 1 {
            cx.notify_nonempty();
        }
    }
    fn push_batch(&mut self, port: usize, mut batch: Batch, cx: &mut Ctx) {
        if self.front_drop() {
            for p in batch.drain(..) {
                self.push(port, p, cx);
            }
            cx.recycle_batch(batch);
            return;
        }
        let was_empty = self.q.is_empty();
        let room = self.capacity.saturating_sub(self.q.len());
        let n = batch.len();
        self.drops += n.saturating_sub(room) as u64;
        self.q.extend(batch.drain(..n.min(room)));
        cx.recycle_batch(batch);
        self.highwater = self.highwater.max(self.q.len());
        if self.q.len() >= self.capacity && !self.front_drop() {
            cx.set_full();
        }
        if was_empty && !self.q.is_empty() {
            cx.notify_nonempty();
        }
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        let p = self.q.pop_front();
        if p.is_some() && self.q.len() + 1 == self.capacity {
            cx.notify_nonfull();
        }
        p
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "length" => Some(format!("{}", self.q.len())),
            "highwater_length" => Some(format!("{}", self.highwater)),
            "capacity" => Some(format!("{}", self.capacity)),
            "drops" => Some(format!("{}", self.drops)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["length", "highwater_length", "capacity", "drops", "reset", "reset_counts"]
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
    /// A hot swap keeps the queued packets (as many as the new capacity holds).
    fn take_state(&mut self, old: &mut dyn Element, cx: &mut Ctx) {
        let Some(o) = old.as_any_mut().and_then(|a| a.downcast_mut::<Queue>()) else { return };
        while self.q.len() < self.capacity {
            match o.q.pop_front() {
                Some(p) => self.q.push_back(p),
                None => break,
            }
        }
        self.drops += o.q.len() as u64;
        o.q.clear();
        self.highwater = self.highwater.max(self.q.len());
        if !self.q.is_empty() {
            cx.notify_nonempty();
        }
        if self.q.len() >= self.capacity && !self.front_drop() {
            cx.set_full();
        }
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        match name {
            "reset" => {
                let was_full = self.q.len() >= self.capacity;
                self.q.clear();
                if was_full {
                    cx.notify_nonfull();
                }
            }
            "reset_counts" => {
                self.drops = 0;
                self.highwater = self.q.len();
            }
            "capacity" => match value.trim().parse::<usize>() {
                Ok(c) => {
                    self.capacity = c;
                    if self.q.len() < c {
                        cx.notify_nonfull();
                    }
                }
                Err(_) => return Some(Err(String::from("expected unsigned integer"))),
            },
            _ => return None,
        }
        Some(Ok(String::new()))
    }
}
