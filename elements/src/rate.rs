//! Rate arithmetic shared by the rate-limiting elements (not an element): Click's
//! token bucket (`TokenBucket`, ticks of one millisecond, tokens in fixed point so
//! the rounding matches Click's) and its `GapRate` (events spread evenly over each
//! second). Keeping Click's arithmetic is what makes packet counts under
//! `--simtime` come out the same as Click's.

/// A full counter, in fixed point.
const MAX_TOKENS: u32 = u32::MAX;
/// Ticks per second (Click's userlevel jiffies).
const FREQUENCY: u64 = 1000;

/// Click's `TokenBucket`: `rate` tokens per second, up to `capacity`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: u32,
    capacity: u32,
    scale: u32,
    tokens_per_tick: u32,
    ticks_until_full: u64,
    tokens: u32,
    /// Tick of the last refill; `None` before the first (a new bucket is full).
    time_point: Option<u64>,
}

impl TokenBucket {
    pub fn new(rate: u32, capacity: u32) -> TokenBucket {
        let mut tb = TokenBucket {
            rate: 0,
            capacity: 0,
            scale: 1,
            tokens_per_tick: 0,
            ticks_until_full: u64::MAX,
            tokens: MAX_TOKENS,
            time_point: None,
        };
        tb.assign(rate, capacity);
        tb
    }

    /// Change rate and capacity, keeping the fill level (Click's `assign`).
    pub fn assign(&mut self, mut rate: u32, mut capacity: u32) {
        if capacity == 0 {
            rate = 0;
            capacity = MAX_TOKENS;
        }
        if rate != 0 {
            let min_capacity = ((u64::from(rate) - 1) / FREQUENCY + 1) as u32;
            capacity = capacity.max(min_capacity);
        }
        self.rate = rate;
        self.capacity = capacity;
        self.scale = MAX_TOKENS / capacity;
        let per_tick = u64::from(rate) * u64::from(self.scale) / FREQUENCY;
        if rate != 0 {
            self.tokens_per_tick = per_tick.clamp(1, u64::from(u32::MAX)) as u32;
            self.ticks_until_full = u64::from(MAX_TOKENS - 1) / u64::from(self.tokens_per_tick) + 1;
        } else {
            self.tokens_per_tick = 0;
            self.ticks_until_full = u64::MAX;
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Fill the bucket for the time up to `now_ns`.
    pub fn refill(&mut self, now_ns: u64) {
        let now = now_ns / (1_000_000_000 / FREQUENCY);
        match self.time_point {
            None => self.tokens = MAX_TOKENS,
            Some(t) => {
                let diff = now.saturating_sub(t);
                if diff >= self.ticks_until_full {
                    self.tokens = MAX_TOKENS;
                } else if diff > 0 {
                    let add = diff.saturating_mul(u64::from(self.tokens_per_tick));
                    self.tokens = (u64::from(self.tokens) + add).min(u64::from(MAX_TOKENS)) as u32;
                }
            }
        }
        self.time_point = Some(now);
    }

    /// `t` tokens in fixed point, or `None` when more than the bucket holds.
    fn fixed(&self, t: u32) -> Option<u32> {
        let f = u64::from(t) * u64::from(self.scale);
        (f <= u64::from(MAX_TOKENS)).then_some(f as u32)
    }

    pub fn contains(&self, t: u32) -> bool {
        self.fixed(t).is_some_and(|f| f <= self.tokens)
    }

    pub fn remove(&mut self, t: u32) {
        let f = self.fixed(t).unwrap_or(MAX_TOKENS);
        self.tokens = self.tokens.saturating_sub(f);
    }

    pub fn remove_if(&mut self, t: u32) -> bool {
        let ok = self.contains(t);
        if ok {
            self.remove(t);
        }
        ok
    }

    /// Ticks (milliseconds) until the bucket holds `t` tokens; `None`: never.
    pub fn ms_until_contains(&self, t: u32) -> Option<u64> {
        let f = self.fixed(t)?;
        if f <= self.tokens {
            Some(0)
        } else if self.tokens_per_tick == 0 {
            None
        } else {
            Some(u64::from(f - self.tokens - 1) / u64::from(self.tokens_per_tick) + 1)
        }
    }
}

/// Click's `GapRate`: lets `rate` events per second through, evenly spaced.
#[derive(Clone, Debug)]
pub struct GapRate {
    rate: u32,
    ugap: u64,
    sec_count: i64,
    /// The current second; `None` after a reset.
    sec: Option<u64>,
}

const UGAP_SHIFT: u32 = 12;
const GAP_MAX_RATE: u64 = 1_000_000 << UGAP_SHIFT;

impl GapRate {
    pub fn new(rate: u32) -> GapRate {
        let mut g = GapRate { rate: 0, ugap: GAP_MAX_RATE + 1, sec_count: 0, sec: None };
        g.init_rate(rate);
        g
    }

    fn init_rate(&mut self, r: u32) {
        self.rate = r;
        self.ugap = if r == 0 { GAP_MAX_RATE + 1 } else { GAP_MAX_RATE / u64::from(r) };
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn set_rate(&mut self, r: u32, now_ns: u64) {
        let r = u64::from(r).min(GAP_MAX_RATE) as u32;
        if r != self.rate {
            self.init_rate(r);
            if self.sec.is_some() && r != 0 {
                let usec = (now_ns % 1_000_000_000) / 1000;
                self.sec_count = ((usec << UGAP_SHIFT) / self.ugap) as i64;
            }
        }
    }

    pub fn reset(&mut self) {
        self.sec = None;
    }

    /// Whether the events so far are behind the rate at `now_ns`.
    pub fn need_update(&mut self, now_ns: u64) -> bool {
        let sec = now_ns / 1_000_000_000;
        let usec = (now_ns % 1_000_000_000) / 1000;
        let need = (usec << UGAP_SHIFT) / self.ugap;
        match self.sec {
            None => {
                self.sec = Some(sec);
                let rem = (usec << UGAP_SHIFT) - need * self.ugap;
                self.sec_count = need as i64 + i64::from(rem > self.ugap / 2);
            }
            Some(s) if sec > s => {
                self.sec = Some(sec);
                if self.sec_count > 0 {
                    self.sec_count -= i64::from(self.rate);
                }
            }
            _ => {}
        }
        need as i64 >= self.sec_count
    }

    pub fn update(&mut self) {
        self.sec_count += 1;
    }

    /// Count `n` events at once (a bandwidth shaper counts bytes).
    pub fn update_with(&mut self, n: u32) {
        self.sec_count += i64::from(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_paces_as_clicks_does() {
        // RATE 100, capacity 1: Click's fixed point makes the period 11 ms, not 10.
        let mut tb = TokenBucket::new(100, 1);
        tb.refill(0);
        assert!(tb.remove_if(1));
        assert_eq!(tb.ms_until_contains(1), Some(11));
        tb.refill(10_000_000);
        assert!(!tb.contains(1));
        assert_eq!(tb.ms_until_contains(1), Some(1));
        tb.refill(11_000_000);
        assert!(tb.contains(1));
    }

    #[test]
    fn gap_rate_spreads_events() {
        let mut g = GapRate::new(1000);
        let mut sent = 0;
        for ms in 0..100u64 {
            if g.need_update(ms * 1_000_000) {
                g.update();
                sent += 1;
            }
        }
        assert!((99..=101).contains(&sent), "{sent}");
    }
}
