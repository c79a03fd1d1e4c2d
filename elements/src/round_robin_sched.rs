//! RoundRobinSched — pulls from its inputs in turn.
//!
//! `RoundRobinSched`
//!
//! Any number of pull inputs, one pull output. Each pull tries the input after the
//! one that last gave a packet, then the ones after it, wrapping around, and returns
//! the first packet found: every input with packets gets an equal share.

use oxclick_runtime::{Ctx, Element, Packet};

#[derive(Default)]
pub struct RoundRobinSched {
    next: usize,
}

impl Element for RoundRobinSched {
    fn class_name(&self) -> &'static str {
        "RoundRobinSched"
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
        let n = cx.ninputs();
        let mut i = self.next.min(n.saturating_sub(1));
        for _ in 0..n {
            let p = cx.pull(i);
            i = if i + 1 >= n { 0 } else { i + 1 };
            if p.is_some() {
                self.next = i;
                return p;
            }
        }
        None
    }
}
