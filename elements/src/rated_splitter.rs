//! RatedSplitter, BandwidthRatedSplitter — split a flow by rate.
//!
//! `RatedSplitter(RATE [, KEYWORDS])` · `BandwidthRatedSplitter(RATE [, KEYWORDS])`
//!
//! Push input, one or two push outputs. Packets within RATE (packets per second,
//! or bytes per second such as `1Mbps` for BandwidthRatedSplitter) go to output 0;
//! the excess goes to output 1, or is dropped when there is none. The rate is kept
//! by a token bucket as in RatedUnqueue and takes the same keywords:
//! `BURST_DURATION`, `BURST_SIZE` (`BURST_BYTES`).
//!
//! Handlers: `rate` (read/write).

use alloc::format;
use alloc::string::String;

use oxclick_lang::args::Bandwidth;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet};

use crate::rate::TokenBucket;
use crate::rated_unqueue::{BANDWIDTH_THRESHOLD, configure_bucket, with_rate};

pub struct RatedSplitter {
    bandwidth: bool,
    tb: TokenBucket,
    config: String,
}

impl RatedSplitter {
    pub fn packets() -> RatedSplitter {
        RatedSplitter { bandwidth: false, tb: TokenBucket::new(0, 1), config: String::new() }
    }
    pub fn bandwidth() -> RatedSplitter {
        RatedSplitter { bandwidth: true, tb: TokenBucket::new(0, 1), config: String::new() }
    }
}

impl Element for RatedSplitter {
    fn class_name(&self) -> &'static str {
        if self.bandwidth { "BandwidthRatedSplitter" } else { "RatedSplitter" }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1-2"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let (tb, _active) = configure_bucket(config, cx, self.bandwidth)?;
        self.tb = tb;
        self.config = config.into();
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        self.tb.refill(cx.now());
        let within = if self.bandwidth {
            let ok = self.tb.contains(BANDWIDTH_THRESHOLD);
            if ok {
                self.tb.remove(p.len() as u32);
            }
            ok
        } else {
            self.tb.remove_if(1)
        };
        cx.push(if within { 0 } else { 1 }, p);
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "rate").then(|| {
            if self.bandwidth { Bandwidth::unparse(u64::from(self.tb.rate())) } else { format!("{}", self.tb.rate()) }
        })
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["rate"]
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        if name != "rate" {
            return None;
        }
        // Click's "0 RATE" reconfiguration: the new rate, the other settings kept.
        let config = with_rate(&self.config, value);
        let names = oxclick_lang::args::AddressNames::default();
        Some(match configure_bucket(&config, &ConfigCtx::with_names(&names), self.bandwidth) {
            Ok((tb, _)) => {
                self.tb = tb;
                self.config = config;
                Ok(())
            }
            Err(e) => Err(e.join("; ")),
        })
    }
}
