//! Xen system time: nanoseconds since the domain started, computed from the
//! TSC and the scaling parameters Xen publishes per vcpu (`vcpu_time_info`).
//!
//! Xen updates the parameters under a version counter (odd while updating,
//! bumped before and after), so a reader copies them, reads the TSC, and
//! retries if the version changed or was odd. RDTSC only: RDTSCP is not
//! available on every host we run on (see xen-under-qemu.md).

use core::sync::atomic::{Ordering, fence};

use crate::abi::shared_info::VcpuTimeInfo;

/// `(delta << shift) * mul >> 32`, the fixed-point TSC-to-ns conversion.
pub fn scale_delta(delta: u64, mul: u32, shift: i8) -> u64 {
    let shifted = if shift >= 0 { delta << shift.min(63) } else { delta >> (-(shift as i16)).min(63) };
    ((shifted as u128 * mul as u128) >> 32) as u64
}

/// System time in ns at TSC value `tsc`, from one consistent snapshot.
pub fn system_time_ns(info: &VcpuTimeInfo, tsc: u64) -> u64 {
    info.system_time.wrapping_add(scale_delta(
        tsc.wrapping_sub(info.tsc_timestamp),
        info.tsc_to_system_mul,
        info.tsc_shift,
    ))
}

/// The TSC frequency implied by the parameters, in Hz (for logs).
pub fn tsc_hz(info: &VcpuTimeInfo) -> u64 {
    if info.tsc_to_system_mul == 0 {
        return 0;
    }
    let hz = (1_000_000_000u128 << 32) / info.tsc_to_system_mul as u128;
    let hz = if info.tsc_shift >= 0 { hz >> info.tsc_shift } else { hz << -(info.tsc_shift as i16) };
    hz as u64
}

/// Read a consistent snapshot and the TSC. `read_info` makes one volatile copy
/// of the shared structure; `read_tsc` reads the time stamp counter.
///
/// Gives up after `max_tries` torn reads (a stuck odd version would be a
/// hypervisor bug) and returns the last snapshot.
pub fn read_consistent(
    mut read_info: impl FnMut() -> VcpuTimeInfo,
    mut read_tsc: impl FnMut() -> u64,
    max_tries: u32,
) -> (VcpuTimeInfo, u64) {
    let mut tries = 0;
    loop {
        let before = read_info();
        fence(Ordering::Acquire);
        let tsc = read_tsc();
        fence(Ordering::Acquire);
        let after_version = read_info().version;
        tries += 1;
        if (before.version & 1 == 0 && before.version == after_version) || tries >= max_tries {
            return (before, tsc);
        }
    }
}

/// Keeps reported time from going backwards (across vcpu parameter updates).
#[derive(Default)]
pub struct Monotonic {
    last: u64,
}

impl Monotonic {
    pub fn clamp(&mut self, now: u64) -> u64 {
        self.last = self.last.max(now);
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: u32, tsc_timestamp: u64, system_time: u64, mul: u32, shift: i8) -> VcpuTimeInfo {
        VcpuTimeInfo {
            version,
            tsc_timestamp,
            system_time,
            tsc_to_system_mul: mul,
            tsc_shift: shift,
            ..Default::default()
        }
    }

    #[test]
    fn scaling_matches_the_formula() {
        // A 2 GHz TSC: 0.5 ns per tick = mul 2^31 with shift 0.
        assert_eq!(scale_delta(2_000_000_000, 1 << 31, 0), 1_000_000_000);
        // 3 GHz expressed with a right shift: mul = 2^32 * 2/3, shift -1.
        let mul = ((1u64 << 32) * 2 / 3) as u32;
        let ns = scale_delta(3_000_000_000, mul, -1);
        assert!((999_999_999..=1_000_000_000).contains(&ns), "{ns}");
        // 1 GHz TSC with shift +1 and mul 2^31.
        assert_eq!(scale_delta(1_000, 1 << 31, 1), 1_000);
        // Large deltas do not overflow the intermediate product.
        assert_eq!(
            scale_delta(u64::MAX >> 1, u32::MAX, 0),
            (((u64::MAX >> 1) as u128 * u32::MAX as u128) >> 32) as u64
        );
        let i = info(2, 1_000, 5_000_000, 1 << 31, 0);
        assert_eq!(system_time_ns(&i, 3_000), 5_001_000);
        assert_eq!(tsc_hz(&i), 2_000_000_000);
        assert_eq!(tsc_hz(&info(2, 0, 0, 1 << 31, 1)), 1_000_000_000);
        assert_eq!(tsc_hz(&info(2, 0, 0, 0, 0)), 0);
    }

    #[test]
    fn torn_reads_are_retried() {
        // (before, after) pairs: odd, then changed underneath, then stable.
        let versions = [3u32, 4, 4, 6, 6, 6];
        let mut reads = 0;
        let (snap, tsc) = read_consistent(
            || {
                let v = versions[reads.min(versions.len() - 1)];
                reads += 1;
                info(v, 0, v as u64, 1, 0)
            },
            || 42,
            10,
        );
        assert_eq!(snap.version, 6);
        assert_eq!(tsc, 42);
        // A stuck odd version gives up instead of spinning forever.
        let (snap, _) = read_consistent(|| info(1, 0, 0, 1, 0), || 0, 5);
        assert_eq!(snap.version, 1);
    }

    #[test]
    fn monotonic_never_goes_back() {
        let mut m = Monotonic::default();
        assert_eq!(m.clamp(10), 10);
        assert_eq!(m.clamp(5), 10);
        assert_eq!(m.clamp(11), 11);
    }
}
