//! Which physical memory the heap may use, from the memory map in
//! `hvm_start_info` (or Xen's e820).
//!
//! Usable means: RAM entries, above the end of the loaded image (the low
//! megabyte and the image itself are excluded), below the end of our identity
//! mapping, minus anything the loader placed there that we still read (the
//! start info, the map itself, the command line, modules), rounded inwards to
//! pages. This runs before there is a heap, so it works in fixed-size arrays.

use crate::abi::PAGE_SIZE;
use crate::abi::start_info::{HvmMemmapEntry, MEMMAP_TYPE_RAM};

/// A half-open physical address range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
}

impl Region {
    pub const fn new(start: u64, end: u64) -> Self {
        Region { start, end }
    }

    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Most regions kept; when more pieces exist the smallest are dropped.
pub const MAX_REGIONS: usize = 16;

/// A fixed-capacity list of regions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Regions {
    items: [Region; MAX_REGIONS],
    len: usize,
}

impl Regions {
    pub fn as_slice(&self) -> &[Region] {
        &self.items[..self.len]
    }

    pub fn total(&self) -> u64 {
        self.as_slice().iter().map(Region::len).sum()
    }

    /// Add a region; when full, it replaces the smallest one if it is larger.
    fn push(&mut self, r: Region) {
        if r.is_empty() {
            return;
        }
        if self.len < MAX_REGIONS {
            self.items[self.len] = r;
            self.len += 1;
            return;
        }
        let (smallest, _) = self.items.iter().enumerate().min_by_key(|(_, x)| x.len()).expect("MAX_REGIONS > 0");
        if self.items[smallest].len() < r.len() {
            self.items[smallest] = r;
        }
    }
}

const PAGE: u64 = PAGE_SIZE as u64;

/// Heap regions: RAM in `[floor, ceiling)` minus `reserved`, page aligned.
pub fn usable_ram(entries: &[HvmMemmapEntry], floor: u64, ceiling: u64, reserved: &[Region]) -> Regions {
    let mut out = Regions::default();
    for e in entries.iter().filter(|e| e.kind == MEMMAP_TYPE_RAM) {
        let start = e.addr.max(floor);
        let end = e.addr.saturating_add(e.size).min(ceiling);
        subtract_and_push(&mut out, Region::new(start, end), reserved);
    }
    out
}

/// Push the parts of `r` not covered by any of `reserved`, page aligned.
fn subtract_and_push(out: &mut Regions, r: Region, reserved: &[Region]) {
    // Walk the region from low to high, jumping over reserved ranges.
    let mut cursor = r.start;
    while cursor < r.end {
        // The reserved range covering cursor, if any: skip past it.
        if let Some(hole) = reserved.iter().find(|h| !h.is_empty() && h.start <= cursor && cursor < h.end) {
            cursor = hole.end;
            continue;
        }
        // Otherwise the free piece runs to the next reserved start.
        let piece_end = reserved
            .iter()
            .filter(|h| !h.is_empty() && h.start > cursor && h.start < r.end)
            .map(|h| h.start)
            .min()
            .unwrap_or(r.end);
        let aligned_start = cursor.checked_next_multiple_of(PAGE).unwrap_or(u64::MAX);
        let aligned_end = piece_end - piece_end % PAGE;
        if aligned_start < aligned_end {
            out.push(Region::new(aligned_start, aligned_end));
        }
        cursor = piece_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram(addr: u64, size: u64) -> HvmMemmapEntry {
        HvmMemmapEntry { addr, size, kind: MEMMAP_TYPE_RAM, reserved: 0 }
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn xen_pvh_style_map() {
        // memory=4 under xl: RAM from 0 to 4 MiB, ACPI tables reserved above.
        let map = [ram(0, 4 * MIB), HvmMemmapEntry { addr: 0xfc00_0000, size: 0x100_0000, kind: 2, reserved: 0 }];
        // Image ends at 1.2 MiB; start info and memmap sit just after it.
        let image_end = MIB + 200 * 1024;
        let boot_data = [Region::new(image_end + 4096, image_end + 4096 + 200)];
        let regions = usable_ram(&map, image_end, 4 << 30, &boot_data);
        assert_eq!(
            regions.as_slice(),
            [Region::new(image_end, image_end + 4096), Region::new(image_end + 8192, 4 * MIB)]
        );
        assert_eq!(regions.total(), 4 * MIB - image_end - 4096);
    }

    #[test]
    fn non_ram_and_out_of_range_memory_is_ignored() {
        let map = [
            HvmMemmapEntry { addr: 2 * MIB, size: MIB, kind: 3, reserved: 0 },
            ram(0, MIB),
            ram(5 << 30, MIB),
            ram(8 * MIB + 5, MIB),
        ];
        let regions = usable_ram(&map, 2 * MIB, 4 << 30, &[]);
        // Only the unaligned RAM entry survives, rounded inwards.
        assert_eq!(regions.as_slice(), [Region::new(8 * MIB + 4096, 9 * MIB)]);
    }

    #[test]
    fn overlapping_reservations_and_edges() {
        let map = [ram(0, 16 * MIB)];
        let reserved = [
            Region::new(2 * MIB, 3 * MIB),
            Region::new(2 * MIB + 10, 4 * MIB),
            Region::new(0, 0),
            Region::new(15 * MIB, 20 * MIB),
        ];
        let regions = usable_ram(&map, MIB, 4 << 30, &reserved);
        assert_eq!(regions.as_slice(), [Region::new(MIB, 2 * MIB), Region::new(4 * MIB, 15 * MIB)]);
    }

    #[test]
    fn too_many_pieces_keep_the_largest() {
        let map: Vec<HvmMemmapEntry> = (0..40).map(|i| ram(i * 64 * MIB, (i + 1) * PAGE)).collect();
        let regions = usable_ram(&map, 0, u64::MAX, &[]);
        assert_eq!(regions.as_slice().len(), MAX_REGIONS);
        assert!(regions.as_slice().iter().all(|r| r.len() > (40 - MAX_REGIONS as u64) * PAGE));
    }

    #[test]
    fn hostile_sizes_do_not_overflow() {
        let map = [ram(u64::MAX - 10, u64::MAX), ram(4096, u64::MAX)];
        let regions = usable_ram(&map, 0, 4 << 30, &[]);
        assert_eq!(regions.as_slice(), [Region::new(4096, 4 << 30)]);
    }
}
