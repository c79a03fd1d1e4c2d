//! Pad — restores packets to their full length with zero bytes.
//!
//! `Pad([LENGTH, KEYWORDS])`
//!
//! One agnostic input and output. With LENGTH, packets shorter than LENGTH bytes
//! are lengthened to LENGTH. Without it, each packet is lengthened by its extra
//! length annotation (the bytes a trace or Truncate cut off). Either way the new
//! bytes are zero (`ZERO false`: left as they are in the buffer) and the extra
//! length annotation is cleared.

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

pub struct Pad {
    length: usize,
    zero: bool,
}

impl Default for Pad {
    fn default() -> Self {
        Pad { length: 0, zero: true }
    }
}

/// Largest length Pad grows a packet to.
const MAX_PAD_TO: usize = 65_535 + 64;

impl Element for Pad {
    fn class_name(&self) -> &'static str {
        "Pad"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.length = a.read_p("LENGTH").unwrap_or(0);
        self.zero = a.read_or("ZERO", true);
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        let add = if self.length > 0 { self.length.saturating_sub(p.len()) } else { p.anno.extra_length as usize };
        let add = add.min(MAX_PAD_TO.saturating_sub(p.len()));
        if add > 0 {
            let old = p.len();
            p.put(add);
            if self.zero {
                let d = p.data_mut();
                for b in &mut d[old..] {
                    *b = 0;
                }
            }
        }
        p.anno.extra_length = 0;
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
