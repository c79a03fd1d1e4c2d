//! Resize — adjusts packet length at both ends.
//!
//! `Resize([HEAD, TAIL])`
//!
//! One agnostic input and output. A positive HEAD exposes that many bytes in front
//! of the data (whatever the headroom held — bytes an earlier Strip removed come
//! back); a negative HEAD removes bytes from the front. TAIL does the same at the
//! end (new tail bytes are zero). Removing more than the packet holds leaves it
//! empty. Both default to 0.

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

#[derive(Default)]
pub struct Resize {
    head: i32,
    tail: i32,
}

impl Element for Resize {
    fn class_name(&self) -> &'static str {
        "Resize"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.head = a.read_p("HEAD").unwrap_or(0);
        self.tail = a.read_p("TAIL").unwrap_or(0);
        finish_args(a)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        let h = self.head.unsigned_abs() as usize;
        if self.head >= 0 {
            p.unpull(h);
        } else {
            p.pull(h);
        }
        let t = self.tail.unsigned_abs() as usize;
        if self.tail >= 0 {
            p.put(t);
        } else {
            p.take(t);
        }
        Some(p)
    }
}
