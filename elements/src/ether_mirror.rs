//! EtherMirror — swaps Ethernet source and destination.
//!
//! `EtherMirror`
//!
//! One agnostic input and output. Exchanges the source and destination addresses
//! of each packet's Ethernet header, so a packet can be sent back where it came
//! from. Packets shorter than an Ethernet header are dropped.

use oxclick_runtime::{Batch, Ctx, Element, Packet, simple_action_batch};

pub struct EtherMirror;

impl Element for EtherMirror {
    fn class_name(&self) -> &'static str {
        "EtherMirror"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        if p.len() < 14 {
            return None;
        }
        let h = p.data_mut();
        let (dst, rest) = h.split_at_mut(6);
        dst.swap_with_slice(&mut rest[..6]);
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
}
