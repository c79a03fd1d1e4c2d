//! PullTee — duplicates packets on a pull path.
//!
//! `PullTee([N])`
//!
//! One pull input, N outputs (default: as many as are connected): output 0 is
//! pull, the others push. When output 0 is pulled, PullTee pulls a packet from its
//! input, pushes copies out of outputs 1 to N-1, and returns the original — so a
//! sniffer can watch a pull path without changing it.

use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

#[derive(Default)]
pub struct PullTee;

impl Element for PullTee {
    fn class_name(&self) -> &'static str {
        "PullTee"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1-"
    }
    fn processing(&self) -> &'static str {
        "l/lh"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let _n: Option<u32> = a.read_p("N");
        finish_args(a)
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        let p = cx.pull(0)?;
        for i in 1..cx.noutputs() {
            cx.push(i, p.clone());
        }
        Some(p)
    }
}
