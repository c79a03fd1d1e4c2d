//! Discard — drops all packets.
//!
//! `Discard([ACTIVE])`
//!
//! One agnostic input. Pushed packets are dropped; when its input is pull, a task
//! pulls and drops packets while `ACTIVE` (default true).
//!
//! Handlers: `count` (packets dropped; a hot swap keeps it).

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{
    Batch, ConfigCtx, ConfigErrors, Ctx, Element, LaneCtx, LaneElement, LaneMaker, Packet, finish_args,
};

pub struct Discard {
    active: bool,
    count: u64,
    pulls: bool,
    notified: bool,
}

impl Default for Discard {
    fn default() -> Self {
        Discard { active: true, count: 0, pulls: false, notified: false }
    }
}

impl Element for Discard {
    fn class_name(&self) -> &'static str {
        "Discard"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/0"
    }
    fn processing(&self) -> &'static str {
        "a/"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.active = a.read_or("ACTIVE", true);
        finish_args(a)
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        self.pulls = cx.input_is_pull(0);
        if self.pulls {
            self.notified = cx.listen_upstream_empty(0);
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, _p: Packet, _cx: &mut Ctx) {
        self.count += 1;
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        self.count += batch.len() as u64;
        cx.recycle_batch(batch);
    }
    fn has_task(&self) -> bool {
        self.pulls
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        if !self.active {
            return false;
        }
        let mut worked = false;
        while let Some(_p) = cx.pull(0) {
            self.count += 1;
            worked = true;
        }
        if self.notified {
            cx.sleep();
        }
        worked
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "count").then(|| format!("{}", self.count))
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
    /// A hot swap keeps the count.
    fn take_state(&mut self, old: &mut dyn Element, _cx: &mut Ctx) {
        if let Some(o) = old.as_any_mut().and_then(|a| a.downcast_mut::<Discard>()) {
            self.count = o.count;
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count"]
    }
    /// Discards behind a demux run as lanes of one group (the router checks
    /// that the input is push).
    fn lane_maker(&self) -> Option<LaneMaker> {
        Some(LaneMaker::of::<Discard>())
    }
}

impl LaneElement for Discard {
    type Summary = ();
    fn push_lanes(lanes: &mut [Discard], _: &(), _port: usize, batch: Batch, cx: &mut LaneCtx) {
        for p in &batch {
            if let Some(d) = lanes.get_mut(p.lane()) {
                d.count += 1;
            }
        }
        cx.recycle_batch(batch);
    }
}
