//! Meter, BandwidthMeter — classify packets by the recent arrival rate.
//!
//! `Meter(RATE1, RATE2, ..., RATEn)` · `BandwidthMeter(RATE1, ..., RATEn)`
//!
//! Push input, n+1 push outputs. The element keeps a moving average of its arrival
//! rate (packets per second for Meter, bytes per second for BandwidthMeter, e.g.
//! `1Mbps`). A packet that arrives while the rate is below RATE1 goes to output 0;
//! below RATE2, to output 1; and so on; at or above RATEn, to output n. Rates must
//! increase. The average is Click's: an exponentially weighted moving average over
//! millisecond epochs with weight 1/16.
//!
//! Handlers: `rate` (the current average), `meters` (the thresholds).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Bandwidth, split_args};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet};

/// Fraction bits of the scaled average.
const SCALE: u32 = 10;
/// Alpha is 1/2^STABILITY.
const STABILITY: u32 = 4;
/// Epochs per second (one per millisecond).
const EPOCHS_PER_SEC: u64 = 1000;

/// Click's `RateEWMA`: counts per epoch, averaged over epochs, scaled.
#[derive(Default)]
struct RateAverage {
    avg: u64,
    epoch: u64,
    count: u64,
}

impl RateAverage {
    fn fold(avg: u64, x: u64) -> u64 {
        let xs = (x << SCALE) + (1 << (STABILITY - 1));
        if xs < avg { avg - ((avg - xs) >> STABILITY) } else { avg + ((xs - avg) >> STABILITY) }
    }

    /// Count `delta` at time `now_ns`.
    fn update(&mut self, now_ns: u64, delta: u64) {
        let epoch = now_ns / (1_000_000_000 / EPOCHS_PER_SEC);
        if epoch != self.epoch {
            // Close the epoch that ends, then the empty ones after it.
            let gap = epoch.saturating_sub(self.epoch);
            self.avg = Self::fold(self.avg, self.count);
            for _ in 1..gap.min(256) {
                if self.avg == 0 {
                    break;
                }
                self.avg = Self::fold(self.avg, 0);
            }
            if gap >= 256 {
                self.avg = 0;
            }
            self.epoch = epoch;
            self.count = 0;
        }
        self.count = self.count.saturating_add(delta);
    }

    /// The average in units per second, scaled by 2^SCALE.
    fn scaled_per_sec(&self) -> u64 {
        self.avg.saturating_mul(EPOCHS_PER_SEC)
    }
}

pub struct Meter {
    bandwidth: bool,
    /// Thresholds in units per second.
    meters: Vec<u64>,
    rate: RateAverage,
}

impl Meter {
    pub fn packets() -> Meter {
        Meter { bandwidth: false, meters: Vec::new(), rate: RateAverage::default() }
    }
    pub fn bandwidth() -> Meter {
        Meter { bandwidth: true, meters: Vec::new(), rate: RateAverage::default() }
    }
    fn unparse(&self, v: u64) -> String {
        if self.bandwidth { Bandwidth::unparse(v) } else { format!("{v}") }
    }
}

impl Element for Meter {
    fn class_name(&self) -> &'static str {
        if self.bandwidth { "BandwidthMeter" } else { "Meter" }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/2-"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let args = split_args(config);
        if args.is_empty() {
            return Err(alloc::vec![format!("too few arguments to {}(rate, ...)", self.class_name())]);
        }
        let mut meters = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let v = if self.bandwidth { Bandwidth::parse_arg(a).map(|b| b.bytes_per_sec) } else { u64::parse_arg(a) };
            let Ok(v) = v else { return Err(alloc::vec![format!("argument {} syntax error", i + 1)]) };
            if meters.last().is_some_and(|&last| v <= last) {
                return Err(alloc::vec![format!("rate {} must be > rate {}", i + 1, i)]);
            }
            meters.push(v);
        }
        self.meters = meters;
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        if self.meters.len() + 1 != cx.noutputs() {
            return Err(format!("need {} arguments, one less than the number of output ports", cx.noutputs() - 1));
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        self.rate.update(cx.now(), if self.bandwidth { p.len() as u64 } else { 1 });
        let r = self.rate.scaled_per_sec();
        let out = self.meters.iter().position(|&m| r < m << SCALE).unwrap_or(self.meters.len());
        cx.push(out, p);
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "rate" => Some(self.unparse(self.rate.scaled_per_sec() >> SCALE)),
            "meters" => Some(self.meters.iter().map(|&m| self.unparse(m)).collect::<Vec<_>>().join(" ")),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["rate", "meters"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_follows_a_steady_rate_and_decays() {
        let mut r = RateAverage::default();
        // Ten packets per millisecond for a second: 10,000 per second.
        for ms in 0..1000u64 {
            for _ in 0..10 {
                r.update(ms * 1_000_000, 1);
            }
        }
        let per_sec = r.scaled_per_sec() >> SCALE;
        assert!((9_000..=10_600).contains(&per_sec), "{per_sec}");
        r.update(2_000_000_000, 0);
        assert_eq!(r.scaled_per_sec() >> SCALE, 0);
    }
}
