//! Strip, Unstrip, Truncate — remove or restore bytes.
//!
//! `Strip(LENGTH)` removes LENGTH bytes from the front of each packet (all of it if
//! shorter). `Unstrip(LENGTH)` puts LENGTH bytes back at the front (the bytes Strip
//! removed are still in the headroom, so `Strip(14) -> ... -> Unstrip(14)` restores
//! the Ethernet header). `Truncate(LENGTH [, EXTRA_LENGTH])` cuts packets longer
//! than LENGTH; with `EXTRA_LENGTH true` (the default) the bytes cut are added to
//! the packet's extra length annotation, so Pad can restore them as zeros.
//!
//! One agnostic input and output each.

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Strip,
    Unstrip,
    Truncate,
}

pub struct Resizer {
    kind: Kind,
    length: usize,
    extra_length: bool,
}

impl Resizer {
    pub fn strip() -> Resizer {
        Resizer { kind: Kind::Strip, length: 0, extra_length: true }
    }
    pub fn unstrip() -> Resizer {
        Resizer { kind: Kind::Unstrip, length: 0, extra_length: true }
    }
    pub fn truncate() -> Resizer {
        Resizer { kind: Kind::Truncate, length: 0, extra_length: true }
    }
}

impl Element for Resizer {
    fn class_name(&self) -> &'static str {
        match self.kind {
            Kind::Strip => "Strip",
            Kind::Unstrip => "Unstrip",
            Kind::Truncate => "Truncate",
        }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.length = a.read_mp("LENGTH").unwrap_or(0);
        if self.kind == Kind::Truncate {
            self.extra_length = a.read_or("EXTRA_LENGTH", true);
        }
        finish_args(a)
    }
    fn push_batch(&mut self, _port: usize, mut batch: Batch, cx: &mut Ctx) {
        // Strip and Unstrip drop nothing: move each packet's window in place.
        match self.kind {
            Kind::Strip => batch.iter_mut().for_each(|p| p.pull(self.length)),
            Kind::Unstrip => batch.iter_mut().for_each(|p| p.unpull(self.length)),
            Kind::Truncate => return simple_action_batch(self, batch, cx),
        }
        cx.push_batch(0, batch);
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        match self.kind {
            Kind::Strip => p.pull(self.length),
            Kind::Unstrip => p.unpull(self.length),
            Kind::Truncate => {
                let excess = p.len().saturating_sub(self.length);
                p.take(excess);
                if self.extra_length {
                    p.anno.extra_length = p.anno.extra_length.saturating_add(excess as u32);
                }
            }
        }
        Some(p)
    }
}
