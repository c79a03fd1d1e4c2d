//! DropBroadcasts — drops packets that arrived as link-level broadcasts.
//!
//! `DropBroadcasts`
//!
//! One agnostic input and output. Drops packets whose packet type annotation says
//! they arrived as link-level broadcast or multicast (FromDevice sets it), so a
//! router does not forward them. Handlers: `drops`.

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Batch, Ctx, Element, Packet, PacketType, simple_action_batch};

#[derive(Default)]
pub struct DropBroadcasts {
    drops: u64,
}

impl Element for DropBroadcasts {
    fn class_name(&self) -> &'static str {
        "DropBroadcasts"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn simple_action(&mut self, p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        if matches!(p.anno.packet_type, PacketType::Broadcast | PacketType::Multicast) {
            self.drops += 1;
            return None;
        }
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "drops").then(|| format!("{}", self.drops))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["drops"]
    }
}
