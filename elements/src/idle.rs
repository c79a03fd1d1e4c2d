//! Idle — discards packets, never emits any.
//!
//! `Idle`
//!
//! Has zero or more agnostic inputs and outputs. Packets pushed to it are dropped;
//! pulls from it return nothing. Useful to plug unused ports.

use oxclick_runtime::{Ctx, Element, Packet};

#[derive(Default)]
pub struct Idle;

impl Element for Idle {
    fn class_name(&self) -> &'static str {
        "Idle"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "-/-"
    }
    /// Nothing flows through Idle (Click's flow code `x/y`).
    fn port_flow(&self, _input: usize, _output: usize) -> bool {
        false
    }
    fn push(&mut self, _port: usize, _p: Packet, _cx: &mut Ctx) {}
    fn pull(&mut self, _port: usize, _cx: &mut Ctx) -> Option<Packet> {
        None
    }
}
