//! Tee — duplicates packets.
//!
//! `Tee([N])`
//!
//! One push input, N push outputs (default: as many as are connected). Each packet
//! goes out of every output, in port order: copies to all but the last output, the
//! original to the last, as Click does.

use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

#[derive(Default)]
pub struct Tee;

impl Element for Tee {
    fn class_name(&self) -> &'static str {
        "Tee"
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
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let _n: Option<u32> = a.read_p("N");
        finish_args(a)
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        let n = cx.noutputs();
        for i in 0..n.saturating_sub(1) {
            cx.push(i, p.clone());
        }
        if n > 0 {
            cx.push(n - 1, p);
        }
    }
}
