//! PrioSched — pulls from the first of its inputs that has a packet.
//!
//! `PrioSched`
//!
//! Any number of pull inputs, one pull output. Each pull tries input 0, then input
//! 1, and so on, and returns the first packet found: strict priority, lower input
//! numbers first.

use oxclick_runtime::{Ctx, Element, Packet};

pub struct PrioSched;

impl Element for PrioSched {
    fn class_name(&self) -> &'static str {
        "PrioSched"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "-/1"
    }
    fn processing(&self) -> &'static str {
        "l/l"
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        (0..cx.ninputs()).find_map(|i| cx.pull(i))
    }
}
