//! The guest's memory allocator: a first-fit free list, address ordered, that
//! merges neighbouring free blocks, over whatever RAM regions the memory map
//! offers (see [`crate::memmap`]).
//!
//! Free blocks carry their header (size, next) in place, so the allocator
//! needs no memory of its own. Every block address and size is a multiple of
//! [`UNIT`] (16 bytes), which is both the minimum alignment handed out and
//! big enough to hold a header: splitting a block never leaves a fragment too
//! small to track. Allocation cost is linear in the number of free blocks;
//! the guest allocates mostly at start-up, so simplicity wins.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, null_mut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Granule of every block: minimum size and alignment.
pub const UNIT: usize = 16;

#[repr(C)]
struct FreeBlock {
    size: usize,
    next: *mut FreeBlock,
}

const _: () = assert!(core::mem::size_of::<FreeBlock>() <= UNIT);

/// The free list. Not thread safe by itself: see [`LockedHeap`].
pub struct FreeListHeap {
    head: *mut FreeBlock,
    free: usize,
    total: usize,
}

// SAFETY: the heap owns the memory its blocks describe; moving it between
// threads moves that ownership.
unsafe impl Send for FreeListHeap {}

fn block_size(layout: Layout) -> usize {
    layout.size().max(UNIT).next_multiple_of(UNIT)
}

impl Default for FreeListHeap {
    fn default() -> Self {
        Self::empty()
    }
}

impl FreeListHeap {
    pub const fn empty() -> Self {
        FreeListHeap { head: null_mut(), free: 0, total: 0 }
    }

    /// Give the heap the memory `[start, start + len)`, trimmed inwards to `UNIT`.
    ///
    /// # Safety
    /// The memory must be unused, writable, and not overlap any region
    /// already added; the heap owns it from now on.
    pub unsafe fn add_region(&mut self, start: usize, len: usize) {
        let Some(end) = start.checked_add(len) else { return };
        let Some(first) = start.checked_next_multiple_of(UNIT) else { return };
        let last = end - end % UNIT;
        if last <= first {
            return;
        }
        // SAFETY: forwarded contract; the region is UNIT aligned and sized.
        unsafe { self.insert(first, last - first) };
        self.total += last - first;
    }

    /// Bytes currently free and bytes managed in total.
    pub fn free_bytes(&self) -> usize {
        self.free
    }

    pub fn total_bytes(&self) -> usize {
        self.total
    }

    /// Size of the largest free block: the largest allocation that can succeed.
    pub fn largest_free_block(&self) -> usize {
        let mut largest = 0;
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: list nodes are valid free blocks.
            unsafe {
                largest = largest.max((*cur).size);
                cur = (*cur).next;
            }
        }
        largest
    }

    /// First fit. Returns null when no free block can hold the request.
    pub fn allocate(&mut self, layout: Layout) -> *mut u8 {
        let size = block_size(layout);
        let align = layout.align().max(UNIT);
        let mut link: *mut *mut FreeBlock = &mut self.head;
        // SAFETY: every node reachable from head is a free block we own; link
        // always points at the pointer that leads to the current node.
        unsafe {
            while !(*link).is_null() {
                let block = *link;
                let start = block as usize;
                let end = start + (*block).size;
                let fits = start.checked_next_multiple_of(align).and_then(|a| Some((a, a.checked_add(size)?)));
                if let Some((alloc_start, alloc_end)) = fits
                    && alloc_end <= end
                {
                    // Replace the block by what is left on either side.
                    let mut rest = (*block).next;
                    if alloc_end < end {
                        let tail = alloc_end as *mut FreeBlock;
                        tail.write(FreeBlock { size: end - alloc_end, next: rest });
                        rest = tail;
                    }
                    if alloc_start > start {
                        block.write(FreeBlock { size: alloc_start - start, next: rest });
                        rest = block;
                    }
                    *link = rest;
                    self.free -= size;
                    return alloc_start as *mut u8;
                }
                link = &mut (*block).next;
            }
        }
        null_mut()
    }

    /// Return a block.
    ///
    /// # Safety
    /// `ptr` must come from [`Self::allocate`] on this heap with the same
    /// layout, and not have been freed since.
    pub unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) {
        let size = block_size(layout);
        // SAFETY: forwarded contract.
        unsafe { self.insert(ptr as usize, size) };
    }

    /// Insert `[addr, addr + size)` into the address-ordered list, merging
    /// with the neighbours it touches.
    unsafe fn insert(&mut self, addr: usize, size: usize) {
        // SAFETY: list nodes are valid free blocks; [addr, addr+size) is ours
        // (caller contract) and UNIT aligned, so a header fits at addr.
        unsafe {
            let mut prev: *mut FreeBlock = null_mut();
            let mut next = self.head;
            while !next.is_null() && (next as usize) < addr {
                prev = next;
                next = (*next).next;
            }
            // Overlap means a double free or a corrupted list: continuing
            // would hand the same memory out twice.
            assert!(prev.is_null() || prev as usize + (*prev).size <= addr, "heap: block freed twice or overlapping");
            assert!(next.is_null() || addr + size <= next as usize, "heap: block freed twice or overlapping");
            let mut merged_size = size;
            let mut after = next;
            if !next.is_null() && addr + size == next as usize {
                merged_size += (*next).size;
                after = (*next).next;
            }
            if !prev.is_null() && prev as usize + (*prev).size == addr {
                (*prev).size += merged_size;
                (*prev).next = after;
            } else {
                let block = addr as *mut FreeBlock;
                block.write(FreeBlock { size: merged_size, next: after });
                if prev.is_null() {
                    self.head = block;
                } else {
                    (*prev).next = block;
                }
            }
            self.free += size;
        }
    }
}

/// A [`FreeListHeap`] usable as `#[global_allocator]`. The guest runs one vcpu
/// and takes no interrupts, so the lock is never contended; it exists to make
/// the type `Sync` honestly and to catch re-entrance (an allocation from an
/// exception handler during an allocation), which spins forever instead of
/// corrupting the list.
pub struct LockedHeap {
    locked: AtomicBool,
    heap: UnsafeCell<FreeListHeap>,
}

// SAFETY: all access to `heap` goes through `with`, which holds the lock.
unsafe impl Sync for LockedHeap {}

impl Default for LockedHeap {
    fn default() -> Self {
        Self::empty()
    }
}

impl LockedHeap {
    pub const fn empty() -> Self {
        LockedHeap { locked: AtomicBool::new(false), heap: UnsafeCell::new(FreeListHeap::empty()) }
    }

    /// Run `f` with exclusive access to the heap.
    pub fn with<R>(&self, f: impl FnOnce(&mut FreeListHeap) -> R) -> R {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        // SAFETY: the lock is held.
        let result = f(unsafe { &mut *self.heap.get() });
        self.locked.store(false, Ordering::Release);
        result
    }
}

// SAFETY: allocate/deallocate uphold GlobalAlloc's contract: blocks are
// aligned as requested, at least as large, and disjoint while live.
unsafe impl GlobalAlloc for LockedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with(|heap| heap.allocate(layout))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        self.with(|heap| unsafe { heap.deallocate(ptr, layout) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.with(|heap| heap.allocate(layout));
        if !p.is_null() {
            // SAFETY: p points to at least layout.size() bytes we just allocated.
            unsafe { ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A heap over a host buffer aligned to 4096.
    struct Arena {
        _buf: Vec<u8>,
        start: usize,
        len: usize,
    }

    fn arena(len: usize) -> (Arena, FreeListHeap) {
        let buf = vec![0u8; len + 4096];
        let start = (buf.as_ptr() as usize).next_multiple_of(4096);
        let mut heap = FreeListHeap::empty();
        unsafe { heap.add_region(start, len) };
        (Arena { _buf: buf, start, len }, heap)
    }

    #[test]
    fn allocations_are_aligned_disjoint_and_come_back() {
        let (a, mut heap) = arena(64 * 1024);
        assert_eq!(heap.total_bytes(), 64 * 1024);
        let l1 = Layout::from_size_align(100, 8).unwrap();
        let l2 = Layout::from_size_align(4096, 4096).unwrap();
        let p1 = heap.allocate(l1);
        let p2 = heap.allocate(l2);
        assert!(!p1.is_null() && !p2.is_null());
        assert_eq!(p1 as usize % UNIT, 0);
        assert_eq!(p2 as usize % 4096, 0);
        assert!(p1 as usize + 100 <= p2 as usize || p2 as usize + 4096 <= p1 as usize);
        assert!(p1 as usize >= a.start && p2 as usize + 4096 <= a.start + a.len);
        unsafe {
            heap.deallocate(p1, l1);
            heap.deallocate(p2, l2);
        }
        assert_eq!(heap.free_bytes(), 64 * 1024);
        assert_eq!(heap.largest_free_block(), 64 * 1024, "everything merged back");
    }

    #[test]
    fn exhaustion_returns_null() {
        let (_a, mut heap) = arena(4096);
        let page = Layout::from_size_align(4096, 16).unwrap();
        let p = heap.allocate(page);
        assert!(!p.is_null());
        assert!(heap.allocate(Layout::from_size_align(1, 1).unwrap()).is_null());
        assert!(heap.allocate(Layout::from_size_align(isize::MAX as usize & !15, 16).unwrap()).is_null());
        unsafe { heap.deallocate(p, page) };
        assert!(heap.allocate(Layout::from_size_align(1 << 50, 1 << 40).unwrap()).is_null());
    }

    #[test]
    fn regions_are_trimmed_to_units() {
        let buf = vec![0u8; 1024];
        let base = (buf.as_ptr() as usize).next_multiple_of(16);
        let mut heap = FreeListHeap::empty();
        unsafe { heap.add_region(base + 3, 100) };
        // [base+3, base+103) trims to [base+16, base+96).
        assert_eq!(heap.total_bytes(), 80);
        unsafe { heap.add_region(base + 500, 10) };
        assert_eq!(heap.total_bytes(), 80, "a region smaller than a unit adds nothing");
        unsafe { heap.add_region(usize::MAX - 10, 100) };
        assert_eq!(heap.total_bytes(), 80, "overflowing region ignored");
    }

    #[test]
    #[should_panic(expected = "freed twice")]
    fn double_free_is_caught() {
        let (_a, mut heap) = arena(4096);
        let l = Layout::from_size_align(32, 16).unwrap();
        let p = heap.allocate(l);
        let _q = heap.allocate(l);
        unsafe {
            heap.deallocate(p, l);
            heap.deallocate(p, l);
        }
    }

    #[test]
    fn global_alloc_interface_zeroes_and_works_from_threads() {
        let (a, heap) = arena(1 << 20);
        let locked = LockedHeap::empty();
        locked.with(|h| *h = heap);
        std::thread::scope(|s| {
            for t in 0..4 {
                let locked = &locked;
                s.spawn(move || {
                    for i in 0..2000usize {
                        let l = Layout::from_size_align(1 + (i * 7 + t) % 300, 1 << (i % 6)).unwrap();
                        let p = unsafe { locked.alloc_zeroed(l) };
                        assert!(!p.is_null());
                        assert!(unsafe { std::slice::from_raw_parts(p, l.size()) }.iter().all(|&b| b == 0));
                        unsafe { p.write_bytes(0xAA, l.size()) };
                        unsafe { locked.dealloc(p, l) };
                    }
                });
            }
        });
        assert_eq!(locked.with(|h| h.free_bytes()), a.len);
        assert_eq!(locked.with(|h| h.largest_free_block()), a.len);
    }

    proptest! {
        /// Random alloc/free sequences: every live block is aligned, inside the
        /// arena and disjoint from the others; accounting is exact; freeing
        /// everything merges the heap back into one block.
        #[test]
        fn random_sequences_keep_the_heap_consistent(ops in prop::collection::vec((0usize..600, 0u32..8, any::<bool>(), any::<prop::sample::Index>()), 1..300)) {
            let (a, mut heap) = arena(128 * 1024);
            let mut live: Vec<(usize, Layout)> = Vec::new();
            for (size, align_log, free_one, index) in ops {
                if free_one && !live.is_empty() {
                    let (p, l) = live.swap_remove(index.index(live.len()));
                    unsafe { heap.deallocate(p as *mut u8, l) };
                } else {
                    let l = Layout::from_size_align(size.max(1), 1 << align_log).unwrap();
                    let p = heap.allocate(l) as usize;
                    if p != 0 {
                        prop_assert_eq!(p % l.align(), 0);
                        prop_assert!(p >= a.start && p + l.size() <= a.start + a.len);
                        for &(q, m) in &live {
                            prop_assert!(p + l.size() <= q || q + m.size() <= p, "overlap");
                        }
                        // Scribble over the block: must not corrupt the free list.
                        unsafe { (p as *mut u8).write_bytes(0x5A, l.size()) };
                        live.push((p, l));
                    }
                }
                let used: usize = live.iter().map(|&(_, l)| block_size(l)).sum();
                prop_assert_eq!(heap.free_bytes() + used, a.len);
            }
            for (p, l) in live.drain(..) {
                unsafe { heap.deallocate(p as *mut u8, l) };
            }
            prop_assert_eq!(heap.largest_free_block(), a.len);
        }
    }
}
