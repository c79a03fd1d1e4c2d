//! RatedUnqueue, BandwidthRatedUnqueue — pull packets at a limited rate.
//!
//! `RatedUnqueue(RATE [, KEYWORDS])` · `BandwidthRatedUnqueue(RATE [, KEYWORDS])`
//!
//! Pull input, push output. The task pulls a packet whenever a token bucket allows:
//! RATE packets per second (RatedUnqueue) or RATE bytes per second, with units such
//! as `1Mbps` or `125kBps` (BandwidthRatedUnqueue). Keywords: `BURST_DURATION`
//! (how long a burst at RATE the bucket holds, default 20 ms) or `BURST_SIZE`
//! (`BURST_BYTES`: its capacity, at least one packet); `ACTIVE` (default true).
//! The bucket starts full. With no tokens the task sleeps until there are; with
//! an empty upstream queue, until it gets a packet.
//!
//! Handlers: `rate` (read/write), `active` (read/write), `calls` (statistics).

use alloc::format;
use alloc::string::String;

use oxclick_lang::args::{ArgType, Bandwidth, Interval};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, finish_args};

use crate::rate::TokenBucket;

/// Bytes a bandwidth bucket must hold before a packet may go (Click's threshold).
pub const BANDWIDTH_THRESHOLD: u32 = 131_072;

/// Read `RATE` and the burst keywords into a token bucket (Click's
/// `RatedUnqueue::configure_helper`, shared with the splitters).
pub fn configure_bucket(config: &str, cx: &ConfigCtx, bandwidth: bool) -> Result<(TokenBucket, bool), ConfigErrors> {
    let mut a = cx.args(config);
    let rate: u32 = if bandwidth {
        a.read_mp::<Bandwidth>("RATE").map(|b| b.bytes_per_sec.min(u64::from(u32::MAX)) as u32).unwrap_or(0)
    } else {
        a.read_mp("RATE").unwrap_or(0)
    };
    let duration: Option<Interval> = a.read("BURST_DURATION");
    let size: Option<u32> = a.read(if bandwidth { "BURST_BYTES" } else { "BURST_SIZE" });
    let active = a.read_or("ACTIVE", true);
    finish_args(a)?;
    if duration.is_some() && size.is_some() {
        let which = if bandwidth { "BURST_BYTES" } else { "BURST_SIZE" };
        return Err(alloc::vec![format!("cannot specify both BURST_DURATION and {which}")]);
    }
    let mut tokens = match size {
        Some(s) => s,
        None => {
            let ms = duration.map_or(20, |d| d.nanos / 1_000_000);
            (u64::from(rate) * ms / 1000).min(u64::from(u32::MAX)) as u32
        }
    };
    if bandwidth {
        tokens = tokens.saturating_add(BANDWIDTH_THRESHOLD);
    }
    Ok((TokenBucket::new(rate, tokens.max(1)), active))
}

/// `config` with its RATE (first positional or `RATE` keyword) replaced by
/// `rate`: how the `rate` write handlers reconfigure (Click's "0 RATE").
pub fn with_rate(config: &str, rate: &str) -> String {
    let is_keyword = |a: &str| {
        let word = a.split_whitespace().next().unwrap_or("");
        a.contains(char::is_whitespace)
            && !word.is_empty()
            && word.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    let mut args = oxclick_lang::args::split_args(config);
    args.retain(|a| a.split_whitespace().next() != Some("RATE"));
    if args.first().is_some_and(|a| !is_keyword(a)) {
        args.remove(0);
    }
    args.insert(0, rate.trim().into());
    args.join(", ")
}

pub struct RatedUnqueue {
    bandwidth: bool,
    tb: TokenBucket,
    capacity_config: String,
    active: bool,
    notified: bool,
    runs: u64,
    empty_runs: u64,
    pushes: u64,
    failed_pulls: u64,
}

impl RatedUnqueue {
    pub fn packets() -> RatedUnqueue {
        RatedUnqueue::new(false)
    }
    pub fn bandwidth() -> RatedUnqueue {
        RatedUnqueue::new(true)
    }
    fn new(bandwidth: bool) -> RatedUnqueue {
        RatedUnqueue {
            bandwidth,
            tb: TokenBucket::new(0, 1),
            capacity_config: String::new(),
            active: true,
            notified: false,
            runs: 0,
            empty_runs: 0,
            pushes: 0,
            failed_pulls: 0,
        }
    }
    fn threshold(&self) -> u32 {
        if self.bandwidth { BANDWIDTH_THRESHOLD } else { 1 }
    }
}

impl Element for RatedUnqueue {
    fn class_name(&self) -> &'static str {
        if self.bandwidth { "BandwidthRatedUnqueue" } else { "RatedUnqueue" }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn processing(&self) -> &'static str {
        "l/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let (tb, active) = configure_bucket(config, cx, self.bandwidth)?;
        self.tb = tb;
        self.active = active;
        self.capacity_config = config.into();
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        self.notified = cx.listen_upstream_empty(0);
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        self.runs += 1;
        if !self.active {
            cx.sleep();
            return false;
        }
        self.tb.refill(cx.now());
        let need = self.threshold();
        if !self.tb.contains(need) {
            // Sleep until the bucket holds enough (Click's timer, in whole ms).
            if let Some(ms) = self.tb.ms_until_contains(need) {
                cx.wake_at(cx.now() / 1_000_000 * 1_000_000 + ms * 1_000_000);
            }
            cx.sleep();
            self.empty_runs += 1;
            return false;
        }
        match cx.pull(0) {
            Some(p) => {
                self.tb.remove(if self.bandwidth { p.len() as u32 } else { 1 });
                self.pushes += 1;
                cx.push(0, p);
                true
            }
            None => {
                self.failed_pulls += 1;
                self.empty_runs += 1;
                if self.notified {
                    cx.sleep();
                }
                false
            }
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "rate" => {
                Some(if self.bandwidth { format!("{}Bps", self.tb.rate()) } else { format!("{}", self.tb.rate()) })
            }
            "active" => Some(format!("{}", self.active)),
            "calls" => Some(format!(
                "{} calls to run_task()\n{} empty runs\n{} pushes\n{} failed pulls\n",
                self.runs, self.empty_runs, self.pushes, self.failed_pulls
            )),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["rate", "active", "calls"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        let v = value.trim();
        let r = match name {
            "active" => bool::parse_arg(v).map(|b| self.active = b).map_err(|_| String::from("expected boolean")),
            "rate" => {
                // Keep the other settings, as Click's "0 RATE" reconfiguration does.
                let config = with_rate(&self.capacity_config, v);
                let names = oxclick_lang::args::AddressNames::default();
                match configure_bucket(&config, &ConfigCtx::with_names(&names), self.bandwidth) {
                    Ok((tb, _)) => {
                        self.tb = tb;
                        self.capacity_config = config;
                        Ok(())
                    }
                    Err(e) => Err(e.join("; ")),
                }
            }
            _ => return None,
        };
        cx.wake_self();
        Some(r.map(|()| String::new()))
    }
}
