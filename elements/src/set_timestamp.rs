//! SetTimestamp — sets the timestamp annotation.
//!
//! `SetTimestamp([TIMESTAMP])`
//!
//! One agnostic input and output. Sets each packet's timestamp annotation to
//! TIMESTAMP (seconds since the epoch, e.g. `1000.5`) or, without it, to the
//! router clock's current time.

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

#[derive(Default)]
pub struct SetTimestamp {
    fixed: Option<u64>,
}

impl Element for SetTimestamp {
    fn class_name(&self) -> &'static str {
        "SetTimestamp"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.fixed = a.read_p::<oxclick_lang::args::Interval>("TIMESTAMP").map(|i| i.nanos);
        let _first: Option<bool> = a.read("FIRST");
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        p.anno.timestamp = self.fixed.unwrap_or_else(|| cx.now());
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
