//! Align, AlignmentInfo — alignment for machines that need it (none here).
//!
//! `Align(MODULUS, OFFSET)` · `AlignmentInfo(ELEMENT [MODULUS OFFSET ...], ...)`
//!
//! Click's `click-align` inserts these so that IP headers start on word boundaries
//! on processors that fault on unaligned loads. oxclick's elements read header
//! fields byte by byte, so no element needs aligned data: Align passes packets
//! through unchanged (one agnostic input and output) and AlignmentInfo only
//! records its configuration. They exist so that configurations written by
//! Click's own `click-align` run unchanged.

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

pub struct Align;

impl Element for Align {
    fn class_name(&self) -> &'static str {
        "Align"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let modulus: Option<u32> = a.read_mp("MODULUS");
        let _offset: Option<u32> = a.read_mp("OFFSET");
        finish_args(a)?;
        match modulus {
            Some(m) if m == 0 || !m.is_power_of_two() => {
                Err(alloc::vec![alloc::string::String::from("MODULUS must be a power of two")])
            }
            _ => Ok(()),
        }
    }
    fn simple_action(&mut self, p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        cx.push_batch(0, batch);
    }
}

pub struct AlignmentInfo;

impl Element for AlignmentInfo {
    fn class_name(&self) -> &'static str {
        "AlignmentInfo"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn configure(&mut self, _config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        Ok(())
    }
}
