//! Paint — sets the paint annotation.
//!
//! `Paint(COLOR)`
//!
//! One agnostic input and output; sets each packet's paint annotation to COLOR
//! (0-255). Handlers: `color` (read/write).

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

#[derive(Default)]
pub struct Paint {
    color: u8,
}

impl Element for Paint {
    fn class_name(&self) -> &'static str {
        "Paint"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.color = a.read_mp("COLOR").unwrap_or(0);
        finish_args(a)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        p.anno.paint = self.color;
        Some(p)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "color").then(|| format!("{}", self.color))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["color"]
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        (name == "color").then(|| {
            value.trim().parse().map(|c| self.color = c).map_err(|_| String::from("expected unsigned integer"))
        })
    }
}
