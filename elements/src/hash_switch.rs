//! HashSwitch — sends packets to an output chosen by a hash of some bytes.
//!
//! `HashSwitch(OFFSET, LENGTH)`
//!
//! One push input, any number of push outputs. The output is a hash of the LENGTH
//! bytes at OFFSET (Click's: their sum, folded; so packets with equal bytes there
//! always take the same output). Packets too short to hold those bytes go to
//! output 0.

use alloc::string::String;

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, route_batch};

#[derive(Default)]
pub struct HashSwitch {
    offset: usize,
    length: usize,
}

impl HashSwitch {
    fn output(&self, p: &Packet, n: usize) -> usize {
        let Some(bytes) = self.offset.checked_add(self.length).and_then(|end| p.data().get(self.offset..end)) else {
            return 0;
        };
        let d: usize = bytes.iter().map(|&b| usize::from(b)).sum();
        match n {
            2 | 4 | 8 => (d ^ (d >> 4)) & (n - 1),
            0 => 0,
            _ => d % n,
        }
    }
}

impl Element for HashSwitch {
    fn class_name(&self) -> &'static str {
        "HashSwitch"
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
        let offset = a.read_mp("OFFSET");
        let length = a.read_mp("LENGTH");
        finish_args(a)?;
        self.offset = offset.unwrap_or(0);
        self.length = length.unwrap_or(0);
        if self.length == 0 {
            return Err(alloc::vec![String::from("length must be > 0")]);
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        let out = self.output(&p, cx.noutputs());
        cx.push(out, p);
    }
    fn routes_batches(&self) -> bool {
        true
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        let n = cx.noutputs();
        route_batch(batch, cx, |p| Some(self.output(p, n)));
    }
}
