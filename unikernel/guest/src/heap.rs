//! The global allocator, fed at boot with the RAM the memory map offers above
//! the image. The image itself stays small (no static heap), which is what
//! lets a domain run in `memory=2..4`.

use core::alloc::Layout;
use core::ptr::NonNull;

use oxclick_unikernel::abi::PAGE_SIZE;
use oxclick_unikernel::abi::start_info::HvmMemmapEntry;
use oxclick_unikernel::heap::LockedHeap;
use oxclick_unikernel::memmap::{self, Region, Regions};

use crate::boot_info::IDENTITY_MAPPED;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

unsafe extern "C" {
    static __image_start: u8;
    static _end: u8;
}

/// First and one-past-last byte of the loaded image (text, data, bss).
pub fn image_range() -> (u64, u64) {
    (&raw const __image_start as u64, &raw const _end as u64)
}

/// Give the allocator every usable RAM region; returns them for logging.
pub fn init(map: &[HvmMemmapEntry], reserved: &[Region]) -> Regions {
    let floor = image_range().1.next_multiple_of(PAGE_SIZE as u64);
    let regions = memmap::usable_ram(map, floor, IDENTITY_MAPPED, reserved);
    HEAP.with(|heap| {
        for r in regions.as_slice() {
            // SAFETY: usable_ram returns RAM above the image, below the
            // identity-mapping limit, clear of loader data, and disjoint.
            unsafe { heap.add_region(r.start as usize, r.len() as usize) };
        }
    });
    regions
}

/// (free, total) heap bytes.
pub fn stats() -> (usize, usize) {
    HEAP.with(|h| (h.free_bytes(), h.total_bytes()))
}

/// Zeroed, page-aligned pages that are never freed: shared rings, grant
/// frames, packet buffers. Their physical address is their address (identity
/// mapping), so `addr >> 12` is the guest frame number to grant.
pub fn alloc_pages(count: usize) -> Option<NonNull<u8>> {
    let layout = Layout::from_size_align(count.checked_mul(PAGE_SIZE)?, PAGE_SIZE).ok()?;
    if layout.size() == 0 {
        return None;
    }
    // SAFETY: the layout has a non-zero size.
    NonNull::new(unsafe { alloc::alloc::alloc_zeroed(layout) })
}
