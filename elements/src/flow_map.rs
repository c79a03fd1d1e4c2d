//! The rewriters' mapping table (not an element): flow keys to mapping entries,
//! built for a NAT holding a million flows, where nearly every lookup misses the
//! cache.
//!
//! Open addressing with linear probing over a power-of-two array of slots, each
//! slot one cache line holding the key, its entry and a tag of the key's hash. A
//! lookup that finds its key at home (the common case below the 7/8 load limit)
//! touches one line, where a general hash map touches two (control bytes, then
//! the bucket). And since the line is known from the hash alone, a batch of
//! packets can [`FlowMap::prefetch`] all their lines before the first lookup, so
//! the misses overlap instead of queueing.
//!
//! Keys come from packets, so an attacker chooses them: the hash is keyed with a
//! random seed per table (hashbrown's default hasher), which keeps probe runs
//! short for any traffic. Removal shifts later members of the run back
//! (no tombstones), so a table that churns never degrades.

use core::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

use crate::prefetch::prefetch;
use crate::rewriter::{Entry, Flow};

/// A mapping's key: the IP protocol (0 for address rewriters) and the flow as
/// packets of that direction arrive.
pub type FlowKey = (u8, Flow);

/// One slot, one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    /// The key's hash with the top bit set, so 0 marks an empty slot.
    tag: u32,
    key: FlowKey,
    entry: Entry,
}

const EMPTY: Slot = Slot {
    tag: 0,
    key: (0, Flow { saddr: 0, sport: 0, daddr: 0, dport: 0 }),
    entry: Entry {
        to: Flow { saddr: 0, sport: 0, daddr: 0, dport: 0 },
        output: 0,
        last_used: 0,
        created: 0,
        reply: false,
        shifted: false,
    },
};

/// Slots (lines) [`FlowMap::prefetch`] loads from a key's home on. Linear
/// probing at a NAT's usual load (forward and reply keys filling half the
/// slots) leaves about a quarter of keys past home: with a million flows, 76%
/// at home, 14% one slot on, 5% two, 2% three, 3% further (the test
/// `probe_runs_at_nat_load` checks this stays so). A line not loaded ahead is
/// a whole miss, so four lines it is: the NAT bench's 10M-packet trace took
/// 0.68 s loading two, 0.61 s three and 0.60 s four (and an earlier build
/// 0.92 s loading one against 0.83 s two).
const PREFETCH_SLOTS: usize = 4;

/// Fewest slots a table has.
const MIN_SLOTS: usize = 16;

pub struct FlowMap {
    slots: SlotArray,
    len: usize,
    hasher: DefaultHashBuilder,
}

impl Default for FlowMap {
    fn default() -> Self {
        FlowMap::new()
    }
}

impl FlowMap {
    pub fn new() -> FlowMap {
        FlowMap { slots: SlotArray::empty(), len: 0, hasher: DefaultHashBuilder::default() }
    }

    /// Bytes a table of `entries` entries takes at most (its slots at the
    /// largest size it grows to for them).
    pub fn bytes_for(entries: usize) -> usize {
        Self::slots_for(entries).saturating_mul(core::mem::size_of::<Slot>())
    }

    /// Slots a table needs to hold `entries` under the 7/8 load limit.
    fn slots_for(entries: usize) -> usize {
        entries.saturating_mul(8).div_ceil(7).max(MIN_SLOTS).checked_next_power_of_two().unwrap_or(usize::MAX)
    }

    /// An empty table with room for `entries` entries before it grows, or
    /// `None` if there is not that much memory. A table under 64 MB becomes
    /// resident as entries land on it; a bigger one is faulted in now, on huge
    /// pages (see `advise_huge_pages`).
    pub fn with_capacity(entries: usize) -> Option<FlowMap> {
        let slots = SlotArray::new(Self::slots_for(entries))?;
        Some(FlowMap { slots, len: 0, hasher: DefaultHashBuilder::default() })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hash of `key`, for [`FlowMap::prefetch`].
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        // The key's 13 bytes as one integer: one hasher step, not five.
        let (proto, f) = key;
        let packed = u128::from(*proto)
            | u128::from(f.saddr) << 8
            | u128::from(f.daddr) << 40
            | u128::from(f.sport) << 72
            | u128::from(f.dport) << 88;
        self.hasher.hash_one(packed)
    }

    #[inline(always)]
    fn tag(hash: u64) -> u32 {
        (hash >> 32) as u32 | 0x8000_0000
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Start loading the lines where the key with `hash` most likely lives, so
    /// a lookup soon after does not wait for memory: its home slot and the
    /// `PREFETCH_SLOTS`` - 1` after it.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        let home = hash as usize & self.mask();
        for k in 0..PREFETCH_SLOTS {
            if let Some(slot) = self.slots.get((home + k) & self.mask()) {
                prefetch(slot);
            }
        }
    }

    /// The slot holding `key` (with hash `hash`), if any.
    #[inline]
    fn find(&self, hash: u64, key: &FlowKey) -> Option<usize> {
        let mask = self.mask();
        let tag = Self::tag(hash);
        let mut i = hash as usize & mask;
        // The load limit leaves empty slots, so every run ends; the count only
        // bounds the loop for the compiler's and the reader's sake.
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(i)?;
            if slot.tag == 0 {
                return None;
            }
            if slot.tag == tag && slot.key == *key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
        None
    }

    #[inline]
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Entry> {
        self.get_mut_hashed(self.hash(key), key)
    }

    /// [`FlowMap::get_mut`] with the key's hash already known: `hash` must be
    /// `self.hash(key)` from this table (a batch hashes its keys once, to
    /// prefetch, and looks them up with the same hashes).
    #[inline]
    pub fn get_mut_hashed(&mut self, hash: u64, key: &FlowKey) -> Option<&mut Entry> {
        debug_assert_eq!(hash, self.hash(key));
        let i = self.find(hash, key)?;
        self.slots.get_mut(i).map(|s| &mut s.entry)
    }

    #[inline]
    pub fn get(&self, key: &FlowKey) -> Option<&Entry> {
        let i = self.find(self.hash(key), key)?;
        self.slots.get(i).map(|s| &s.entry)
    }

    #[inline]
    pub fn contains_key(&self, key: &FlowKey) -> bool {
        self.find(self.hash(key), key).is_some()
    }

    /// Make room for `more` new entries without growing on the way; false if
    /// the table would have to grow and there is no memory for it.
    pub fn make_room(&mut self, more: usize) -> bool {
        Self::slots_for(self.len.saturating_add(more)) <= self.slots.len() || self.grow(more)
    }

    /// Map `key` to `entry`, replacing what it had; false (and nothing changed)
    /// if the table had to grow and there was no memory for it.
    pub fn insert(&mut self, key: FlowKey, entry: Entry) -> bool {
        let hash = self.hash(&key);
        if let Some(i) = self.find(hash, &key) {
            if let Some(s) = self.slots.get_mut(i) {
                s.entry = entry;
            }
            return true;
        }
        if !self.make_room(1) {
            return false;
        }
        self.place(Slot { tag: Self::tag(hash), key, entry }, hash);
        self.len += 1;
        true
    }

    /// Put `slot` (whose key is not in the table) in the first free slot of its run.
    fn place(&mut self, slot: Slot, hash: u64) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while let Some(s) = self.slots.get_mut(i) {
            if s.tag == 0 {
                *s = slot;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Double the slots (or more, for `more` new entries; or make the first
    /// ones) and place every entry again; false, with the table as it was, if
    /// there is no memory for it.
    #[cold]
    fn grow(&mut self, more: usize) -> bool {
        let size = Self::slots_for(self.len.saturating_add(more)).max(self.slots.len().saturating_mul(2));
        let Some(bigger) = SlotArray::new(size) else { return false };
        let old = core::mem::replace(&mut self.slots, bigger);
        for s in old.iter().filter(|s| s.tag != 0) {
            let hash = self.hash(&s.key);
            self.place(*s, hash);
        }
        true
    }

    /// Take `key` out, returning its entry.
    pub fn remove(&mut self, key: &FlowKey) -> Option<Entry> {
        let hash = self.hash(key);
        let mut hole = self.find(hash, key)?;
        let removed = self.slots.get(hole)?.entry;
        self.len -= 1;
        // Backward shift: move up every later member of the run that may live in
        // the hole (its home is not strictly between the hole and itself).
        let mask = self.mask();
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let Some(&s) = self.slots.get(i) else { break };
            if s.tag == 0 {
                break;
            }
            let home = self.hash(&s.key) as usize & mask;
            let stays = if hole <= i { hole < home && home <= i } else { hole < home || home <= i };
            if !stays {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = s;
                }
                hole = i;
            }
        }
        if let Some(h) = self.slots.get_mut(hole) {
            *h = EMPTY;
        }
        Some(removed)
    }

    /// Slots the table has: the positions [`FlowMap::for_each_in`] runs over.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Each entry in the `count` slots from slot `from` on (round the end to
    /// the start; every slot at most once), with its key: what a reap sweeps
    /// and an eviction samples, a bounded slice at a time.
    pub fn for_each_in(&self, from: usize, count: usize, mut f: impl FnMut(&FlowKey, &Entry)) {
        let mask = self.mask();
        for k in 0..count.min(self.slots.len()) {
            if let Some(s) = self.slots.get(from.wrapping_add(k) & mask)
                && s.tag != 0
            {
                f(&s.key, &s.entry);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&FlowKey, &Entry)> {
        self.slots.iter().filter(|s| s.tag != 0).map(|s| (&s.key, &s.entry))
    }
}

/// A table's slots: `len` slots aligned to a cache line, in memory that reads
/// as zero (empty) from the start.
///
/// It is allocated zeroed with the allocator's plain alignment and aligned by
/// hand, because a zeroed allocation with the slots' own 64-byte alignment is
/// written with zeros first (the system allocator's over-aligned path), which
/// makes every page of a large table resident at once and rules out huge pages.
/// A plainly aligned zeroed allocation of this size comes from fresh pages the
/// allocator does not write; a large one is then given huge pages before its
/// first touch. (At a million flows every lookup lands on another page, and with
/// 4 KB pages the address translation misses as surely as the data does.)
struct SlotArray {
    /// The allocation, `raw_layout(len)`.
    raw: *mut u8,
    /// The first slot: `raw` rounded up to 64.
    first: *mut Slot,
    len: usize,
}

impl SlotArray {
    fn raw_layout(len: usize) -> Option<core::alloc::Layout> {
        let bytes = len.checked_mul(core::mem::size_of::<Slot>())?.checked_add(core::mem::align_of::<Slot>())?;
        core::alloc::Layout::from_size_align(bytes, 16).ok()
    }

    /// No slots, and no allocation.
    fn empty() -> SlotArray {
        SlotArray { raw: core::ptr::null_mut(), first: core::ptr::NonNull::dangling().as_ptr(), len: 0 }
    }

    /// `len` empty slots, or `None` if there is not that much memory.
    fn new(len: usize) -> Option<SlotArray> {
        if len == 0 {
            return Some(SlotArray::empty());
        }
        let layout = Self::raw_layout(len)?;
        // SAFETY: the layout has nonzero size (it includes the alignment slack).
        let raw = unsafe { alloc::alloc::alloc_zeroed(layout) };
        if raw.is_null() {
            return None;
        }
        let first = raw.wrapping_add(raw.align_offset(core::mem::align_of::<Slot>())).cast::<Slot>();
        advise_huge_pages(first.cast(), len * core::mem::size_of::<Slot>());
        Some(SlotArray { raw, first, len })
    }
}

impl core::ops::Deref for SlotArray {
    type Target = [Slot];
    fn deref(&self) -> &[Slot] {
        // SAFETY: `first..first + len` lies inside the allocation (the slack
        // covers the rounding up; with no slots, `first` is aligned and dangling,
        // which an empty slice allows), is aligned for `Slot`, and holds `len` valid
        // slots: zero bytes are an empty slot (EMPTY is all zeros) and writes go
        // through `&mut [Slot]`.
        unsafe { core::slice::from_raw_parts(self.first, self.len) }
    }
}

impl core::ops::DerefMut for SlotArray {
    fn deref_mut(&mut self) -> &mut [Slot] {
        // SAFETY: as for `deref`, and `&mut self` makes this the only view.
        unsafe { core::slice::from_raw_parts_mut(self.first, self.len) }
    }
}

impl Drop for SlotArray {
    fn drop(&mut self) {
        if self.raw.is_null() {
            return;
        }
        if let Some(layout) = Self::raw_layout(self.len) {
            // SAFETY: `raw` was allocated with this layout and is freed once.
            unsafe { alloc::alloc::dealloc(self.raw, layout) };
        }
    }
}

/// For tables of 64 MB and more (a configured capacity of a quarter million
/// mappings or more), ask the host kernel to back `len` bytes at `p` with huge
/// pages (Linux's transparent huge pages in `madvise` mode need asking), and
/// fault them in now: a dataplane should not stop for page faults on the packet
/// path, and in a virtual machine a first touch costs the host a fault too. A
/// smaller table is left to become resident as entries land on it. In the guest,
/// memory is mapped with large pages already.
#[cfg(feature = "std")]
fn advise_huge_pages(p: *mut u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 64 << 20 {
        return;
    }
    let start = (p as usize).next_multiple_of(HUGE);
    let end = (p as usize + len) & !(HUGE - 1);
    if end > start {
        // SAFETY: advice on whole pages inside our own allocation; it changes
        // how they are backed, never their contents.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
    // SAFETY: the bytes are ours and already zero; writing zero faults the
    // pages in without changing them.
    unsafe { core::ptr::write_bytes(p, 0, len) };
}

#[cfg(not(feature = "std"))]
fn advise_huge_pages(_p: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use hashbrown::HashMap;

    fn key(i: u32) -> FlowKey {
        (17, Flow { saddr: i, sport: (i % 7) as u16, daddr: i.rotate_left(7), dport: 1500 })
    }

    fn entry(i: u32) -> Entry {
        Entry { to: key(i).1, output: i, last_used: u64::from(i), created: 0, reply: false, shifted: false }
    }

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(core::mem::size_of::<Slot>(), 64);
    }

    /// Random inserts, replacements, removals and sweeps of many removals (as a
    /// reap makes), against hashbrown.
    #[test]
    fn agrees_with_a_hash_map_through_churn() {
        let mut ours = FlowMap::new();
        let mut reference: HashMap<FlowKey, u32> = HashMap::new();
        let mut x = 0x9e37_79b9u32;
        for round in 0..60_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Few distinct keys, so operations meet keys already there.
            let k = key(x % 5000);
            match x % 5 {
                0 | 1 => {
                    assert!(ours.insert(k, entry(round)));
                    reference.insert(k, round);
                }
                2 => assert_eq!(ours.remove(&k).map(|e| e.output), reference.remove(&k)),
                3 => assert_eq!(ours.get(&k).map(|e| e.output), reference.get(&k).copied()),
                _ => {
                    if round % 5000 == 4 {
                        let gone: Vec<FlowKey> =
                            ours.iter().filter(|(_, e)| e.output % 3 == 0).map(|(k, _)| *k).collect();
                        for k in &gone {
                            assert!(ours.remove(k).is_some());
                        }
                        reference.retain(|_, v| *v % 3 != 0);
                    }
                }
            }
            assert_eq!(ours.len(), reference.len());
        }
        assert!(ours.len() > 1000, "the table was exercised full: {}", ours.len());
        for (k, v) in &reference {
            assert_eq!(ours.get(k).map(|e| e.output), Some(*v));
        }
        assert_eq!(ours.iter().count(), reference.len());
    }

    #[test]
    fn grows_past_its_load_limit_and_keeps_everything() {
        let mut m = FlowMap::new();
        for i in 0..100_000 {
            assert!(m.insert(key(i), entry(i)));
        }
        assert_eq!(m.len(), 100_000);
        assert!(m.slots.len() >= 100_000 * 8 / 7 && m.slots.len().is_power_of_two());
        assert!((0..100_000).all(|i| m.get_mut(&key(i)).is_some_and(|e| e.output == i)));
        assert!(!m.contains_key(&key(100_001)));
        assert!(FlowMap::bytes_for(100_000) >= m.slots.len() * 64);
    }

    #[test]
    fn a_table_too_large_for_memory_is_refused_not_fatal() {
        assert!(FlowMap::with_capacity(usize::MAX / 2).is_none());
        assert!(FlowMap::with_capacity(1 << 60).is_none());
        let mut m = FlowMap::with_capacity(10).expect("a small table");
        assert!(m.insert(key(1), entry(1)) && m.get(&key(1)).is_some());
    }

    /// How far keys sit from home at a NAT's usual load: what `PREFETCH_SLOTS`
    /// is chosen for. A worse hash or probe order shows here first.
    #[test]
    fn probe_runs_at_nat_load() {
        // 125,000 keys in 2^18 slots: the bench's load (2M keys in 2^22 slots).
        let flows = 62_500u32;
        let mut m = FlowMap::with_capacity(2 * 62_500).expect("memory");
        let mut forward = Vec::new();
        for f in 0..flows {
            // As the bench's NAT trace: each flow its own source and destination,
            // its reply key towards the NAT's address.
            let [_, a, b, c] = f.to_be_bytes();
            let to = Flow {
                saddr: u32::from_be_bytes([10, a, b, c]),
                sport: 1024 + (f % 50_000) as u16,
                daddr: u32::from_be_bytes([2, a, b, c]),
                dport: 1500,
            };
            let reply = Flow { saddr: to.daddr, sport: 1500, daddr: u32::from_be_bytes([1, 0, 0, 1]), dport: to.sport };
            assert!(m.insert((17, to), entry(f)) && m.insert((17, reply), entry(f)));
            forward.push((17, to));
        }
        let mut within = [0usize; PREFETCH_SLOTS + 1];
        for k in &forward {
            let hash = m.hash(k);
            let at = m.find(hash, k).expect("inserted");
            let from_home = at.wrapping_sub(hash as usize & m.mask()) & m.mask();
            within[from_home.min(PREFETCH_SLOTS)] += 1;
        }
        assert_eq!(m.slots.len(), 1 << 18);
        let share = |n: usize| n as f64 / f64::from(flows);
        assert!(share(within[0]) > 0.70, "at home: {within:?}");
        assert!(share(within[PREFETCH_SLOTS]) < 0.05, "past the prefetched lines: {within:?}");
    }
}
