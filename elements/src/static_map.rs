//! A map from 32-bit keys to 32-bit values that is built once and then only
//! read (not an element): the tenant demux's table of addresses, looked up for
//! every packet.
//!
//! Open addressing with linear probing over a power-of-two array of `(key,
//! value)` pairs, eight bytes a slot, with a multiplicative hash: a lookup is a
//! multiply, a shift and, nearly always, one compare, where a general hash map
//! hashes with a keyed hasher and matches control bytes first.
//!
//! The hash is not keyed, and need not be: packets only look keys up, so the
//! probe runs are those the configured keys made, and the build picks a
//! multiplier that keeps every run short. A lookup probes at most the longest
//! run's length, whatever key a packet brings.

use alloc::vec;
use alloc::vec::Vec;

/// Marks an empty slot's value (no value is this: values are rule numbers).
const EMPTY: u32 = u32::MAX;

/// Odd multipliers the build tries in turn (golden-ratio and other well-mixing
/// constants), keeping the first whose longest probe run is short.
const MULTIPLIERS: [u64; 6] = [
    0x9e37_79b9_7f4a_7c15,
    0xbf58_476d_1ce4_e5b9,
    0x94d0_49bb_1331_11eb,
    0xd6e8_feb8_6659_fd93,
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
];

/// A probe run the build is content with.
const SHORT_RUN: usize = 4;

pub struct StaticU32Map {
    slots: Vec<(u32, u32)>,
    multiplier: u64,
    /// 64 less the number of index bits.
    shift: u32,
    /// Slots the longest probe run takes: how far a lookup looks at most.
    longest: usize,
    len: usize,
}

impl StaticU32Map {
    /// The map of `pairs`; of pairs with the same key the first is kept.
    /// `None` if a value is `u32::MAX` (which marks empty slots).
    pub fn build(pairs: &[(u32, u32)]) -> Option<StaticU32Map> {
        if pairs.iter().any(|&(_, v)| v == EMPTY) {
            return None;
        }
        // At most half full: short runs, and a slot for every key.
        let size = pairs.len().saturating_mul(2).max(8).next_power_of_two();
        let mut best: Option<StaticU32Map> = None;
        for multiplier in MULTIPLIERS {
            let map = Self::place(pairs, size, multiplier);
            let better = best.as_ref().is_none_or(|b| map.longest < b.longest);
            if better {
                best = Some(map);
            }
            if best.as_ref().is_some_and(|b| b.longest <= SHORT_RUN) {
                break;
            }
        }
        best
    }

    fn place(pairs: &[(u32, u32)], size: usize, multiplier: u64) -> StaticU32Map {
        let mut map = StaticU32Map {
            slots: vec![(0, EMPTY); size],
            multiplier,
            shift: 64 - size.trailing_zeros(),
            longest: 0,
            len: 0,
        };
        let mask = size - 1;
        for &(key, value) in pairs {
            let mut i = map.home(key);
            let mut run = 1;
            while let Some(slot) = map.slots.get_mut(i) {
                if slot.1 == EMPTY {
                    *slot = (key, value);
                    map.len += 1;
                    break;
                }
                if slot.0 == key {
                    break;
                }
                i = (i + 1) & mask;
                run += 1;
            }
            map.longest = map.longest.max(run);
        }
        map
    }

    #[inline(always)]
    fn home(&self, key: u32) -> usize {
        (u64::from(key).wrapping_mul(self.multiplier) >> self.shift) as usize
    }

    #[inline]
    pub fn get(&self, key: u32) -> Option<u32> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = self.home(key);
        for _ in 0..self.longest {
            let &(k, v) = self.slots.get(i)?;
            if v == EMPTY {
                return None;
            }
            if k == key {
                return Some(v);
            }
            i = (i + 1) & mask;
        }
        None
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots the longest probe run takes.
    pub fn longest_run(&self) -> usize {
        self.longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::HashMap;

    /// xorshift64
    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn agrees_with_a_hash_map_on_keys_present_and_absent() {
        let mut x = 0x1234_5678_9abc_def1u64;
        for n in [0usize, 1, 2, 7, 100, 1000, 10_000] {
            // Tenant-like addresses (10.0.k.1), random ones, and some repeated.
            let mut pairs: Vec<(u32, u32)> = (0..n as u32)
                .map(|k| {
                    let key = if k % 3 == 0 { next(&mut x) as u32 } else { 0x0a00_0001 + (k << 8) };
                    (key, k)
                })
                .collect();
            if n > 2 {
                pairs.push((pairs[1].0, 999_999));
            }
            let map = StaticU32Map::build(&pairs).expect("no value is u32::MAX");
            let mut reference = HashMap::new();
            for &(k, v) in &pairs {
                reference.entry(k).or_insert(v);
            }
            assert_eq!(map.len(), reference.len());
            for (&k, &v) in &reference {
                assert_eq!(map.get(k), Some(v), "n {n} key {k:#x}");
            }
            for _ in 0..10_000 {
                let k = next(&mut x) as u32;
                assert_eq!(map.get(k), reference.get(&k).copied(), "n {n} key {k:#x}");
            }
            assert!(map.longest_run() <= 8, "n {n}: a run of {}", map.longest_run());
        }
    }

    #[test]
    fn refuses_the_empty_marker_as_a_value() {
        assert!(StaticU32Map::build(&[(1, u32::MAX)]).is_none());
        assert_eq!(StaticU32Map::build(&[(0, 0)]).and_then(|m| m.get(0)), Some(0));
    }
}
