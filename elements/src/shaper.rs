//! Shaper, BandwidthShaper — let pulls through at most at a given rate.
//!
//! `Shaper(RATE)` · `BandwidthShaper(RATE)`
//!
//! Pull input, one or two pull outputs. A pull on output 0 succeeds only while the
//! packets let through so far are behind RATE (packets per second for Shaper,
//! bytes per second, e.g. `10Mbps`, for BandwidthShaper); the rest of the time it
//! returns nothing without pulling upstream. Packets are spread evenly over each
//! second rather than sent in bursts. With a second output, a Shaper hands the
//! packets output 0 would have held back to pulls on output 1 instead, so
//! output 1 carries the unshaped excess.
//!
//! Handlers: `rate` (read/write; writing keeps the rest of the state), `reset`
//! (write: forget the history, as if just started).

use alloc::format;
use alloc::string::String;

use oxclick_lang::args::{ArgType, Bandwidth};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

use crate::rate::GapRate;

pub struct Shaper {
    bandwidth: bool,
    rate: GapRate,
}

impl Shaper {
    pub fn packets() -> Shaper {
        Shaper { bandwidth: false, rate: GapRate::new(0) }
    }
    pub fn bandwidth() -> Shaper {
        Shaper { bandwidth: true, rate: GapRate::new(0) }
    }

    fn parse_rate(&self, text: &str) -> Result<u32, String> {
        let text = text.trim();
        let r = if self.bandwidth { Bandwidth::parse_arg(text).map(|b| b.bytes_per_sec) } else { u64::parse_arg(text) };
        match r {
            Ok(r) if r <= u64::from(u32::MAX) => Ok(r as u32),
            Ok(_) => Err(String::from("RATE: out of range")),
            Err(_) => Err(format!("RATE: expected {}", if self.bandwidth { "bandwidth" } else { "unsigned integer" })),
        }
    }
}

impl Element for Shaper {
    fn class_name(&self) -> &'static str {
        if self.bandwidth { "BandwidthShaper" } else { "Shaper" }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        if self.bandwidth { "1/1" } else { "1/1-2" }
    }
    fn processing(&self) -> &'static str {
        "l/l"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let rate = if self.bandwidth {
            a.read_mp::<Bandwidth>("RATE").map(|b| b.bytes_per_sec.min(u64::from(u32::MAX)) as u32)
        } else {
            a.read_mp::<u32>("RATE")
        };
        finish_args(a)?;
        self.rate = GapRate::new(rate.unwrap_or(0));
        Ok(())
    }
    fn pull(&mut self, port: usize, cx: &mut Ctx) -> Option<Packet> {
        let behind = self.rate.need_update(cx.now());
        if port == 0 && behind {
            let p = cx.pull(0)?;
            if self.bandwidth {
                self.rate.update_with(p.len() as u32);
            } else {
                self.rate.update();
            }
            Some(p)
        } else if port == 1 && !behind {
            cx.pull(0)
        } else {
            None
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "rate" => Some(if self.bandwidth {
                Bandwidth::unparse(u64::from(self.rate.rate()))
            } else {
                format!("{}", self.rate.rate())
            }),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["rate", "reset"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        match name {
            "reset" => {
                self.rate.reset();
                Some(Ok(String::new()))
            }
            "rate" => Some(self.parse_rate(value).map(|r| {
                self.rate.set_rate(r, cx.now());
                String::new()
            })),
            _ => None,
        }
    }
}
