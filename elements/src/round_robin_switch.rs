//! RoundRobinSwitch — sends packets to its outputs in turn.
//!
//! `RoundRobinSwitch`
//!
//! One push input, one or more push outputs: the first packet goes to output 0, the
//! next to output 1, and so on, wrapping around.

use oxclick_runtime::{Ctx, Element, Packet};

#[derive(Default)]
pub struct RoundRobinSwitch {
    next: usize,
}

impl Element for RoundRobinSwitch {
    fn class_name(&self) -> &'static str {
        "RoundRobinSwitch"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1-"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        let n = cx.noutputs().max(1);
        let out = self.next % n;
        self.next = (out + 1) % n;
        cx.push(out, p);
    }
}
