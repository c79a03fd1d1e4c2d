//! Counter — counts packets and bytes.
//!
//! `Counter`
//!
//! One agnostic input and output. Handlers: `count`, `byte_count` (read), `reset`
//! (write).

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Ctx, Element, Packet};

#[derive(Default)]
pub struct Counter {
    count: u64,
    bytes: u64,
}

impl Element for Counter {
    fn class_name(&self) -> &'static str {
        "Counter"
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn simple_action(&mut self, p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        self.count += 1;
        self.bytes += p.len() as u64;
        Some(p)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "byte_count" => Some(format!("{}", self.bytes)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "byte_count", "reset"]
    }
    fn write_handler(&mut self, name: &str, _value: &str) -> Option<Result<(), String>> {
        (name == "reset").then(|| {
            self.count = 0;
            self.bytes = 0;
            Ok(())
        })
    }
}
