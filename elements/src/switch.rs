//! Switch, StaticSwitch, PaintSwitch, PaintTee — choose outputs.
//!
//! `Switch([OUTPUT])` sends every packet to output OUTPUT (default 0; -1 drops). Its
//! `switch` handler reads and sets the output while running.
//!
//! `StaticSwitch(OUTPUT)` is the same, fixed at configuration.
//!
//! `PaintSwitch` sends each packet to the output numbered by its paint annotation
//! (dropped if there is no such output).
//!
//! `PaintTee(COLOR)` sends every packet to output 0, and a copy of those painted
//! COLOR to output 1.

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Switch,
    StaticSwitch,
    PaintSwitch,
    PaintTee,
}

pub struct Chooser {
    kind: Kind,
    /// The chosen output (Switch), or the color (PaintTee).
    value: i64,
}

impl Chooser {
    pub fn switch() -> Self {
        Chooser { kind: Kind::Switch, value: 0 }
    }
    pub fn static_switch() -> Self {
        Chooser { kind: Kind::StaticSwitch, value: 0 }
    }
    pub fn paint_switch() -> Self {
        Chooser { kind: Kind::PaintSwitch, value: 0 }
    }
    pub fn paint_tee() -> Self {
        Chooser { kind: Kind::PaintTee, value: 0 }
    }
}

impl Element for Chooser {
    fn class_name(&self) -> &'static str {
        match self.kind {
            Kind::Switch => "Switch",
            Kind::StaticSwitch => "StaticSwitch",
            Kind::PaintSwitch => "PaintSwitch",
            Kind::PaintTee => "PaintTee",
        }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        if self.kind == Kind::PaintTee { "1/2" } else { "1/-" }
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.value = match self.kind {
            Kind::Switch => a.read_p("OUTPUT").unwrap_or(0),
            Kind::StaticSwitch => a.read_mp("OUTPUT").unwrap_or(0),
            Kind::PaintTee => a.read_mp::<u8>("COLOR").unwrap_or(0) as i64,
            Kind::PaintSwitch => 0,
        };
        finish_args(a)
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        match self.kind {
            Kind::Switch | Kind::StaticSwitch => {
                if self.value >= 0 && (self.value as usize) < cx.noutputs() {
                    cx.push(self.value as usize, p);
                }
            }
            Kind::PaintSwitch => {
                let out = p.anno.paint as usize;
                if out < cx.noutputs() {
                    cx.push(out, p);
                }
            }
            Kind::PaintTee => {
                if p.anno.paint as i64 == self.value {
                    cx.push(1, p.clone());
                }
                cx.push(0, p);
            }
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match (self.kind, name) {
            (Kind::Switch, "switch") => Some(format!("{}", self.value)),
            (Kind::PaintTee, "color") => Some(format!("{}", self.value)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Switch => &["switch"],
            Kind::PaintTee => &["color"],
            _ => &[],
        }
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        (self.kind == Kind::Switch && name == "switch")
            .then(|| value.trim().parse().map(|v| self.value = v).map_err(|_| String::from("expected integer")))
    }
}
