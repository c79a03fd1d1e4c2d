//! Grant tables, version 1: letting another domain (a device backend) access
//! one of our pages.
//!
//! The table is an array of 8-byte entries in frames Xen maps into our
//! physical address space. Granting writes `domid` and `frame`, then (after
//! a write barrier) `flags`, so the peer never sees a half-written entry.
//! Revoking must not pull a page from under a peer that is using it: Xen sets
//! `GTF_reading`/`GTF_writing` while the page is mapped or being copied, and we
//! clear the entry only with a compare-and-swap that fails if those bits
//! appear. A revoked reference goes back on a free list and is reused, so a
//! long-running guest never runs out.

use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU16, Ordering, fence};

use crate::abi::grant_table::{
    ENTRIES_PER_FRAME, GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_WRITING, GrantEntryV1, NR_RESERVED_ENTRIES,
};
use crate::abi::{DomId, GrantRef};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// Every reference is in use.
    Exhausted,
    /// The reference is reserved or beyond the table.
    OutOfRange(GrantRef),
    /// The reference is not currently handed out (double revoke).
    NotAllocated(GrantRef),
    /// The peer still has the page mapped or is copying: try again later.
    InUse(GrantRef),
}

impl core::fmt::Display for GrantError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GrantError::Exhausted => write!(f, "no free grant reference"),
            GrantError::OutOfRange(r) => write!(f, "grant reference {r} out of range"),
            GrantError::NotAllocated(r) => write!(f, "grant reference {r} not allocated"),
            GrantError::InUse(r) => write!(f, "grant reference {r} still in use by the peer"),
        }
    }
}

/// Hands out grant references. Freed references are reused last-in first-out,
/// which keeps the working set of table entries small.
pub struct GrantRefAllocator {
    free: Vec<GrantRef>,
    allocated: Vec<u64>,
    limit: GrantRef,
}

impl GrantRefAllocator {
    /// References `NR_RESERVED_ENTRIES..nr_entries`.
    pub fn new(nr_entries: u32) -> Self {
        let mut a = GrantRefAllocator { free: Vec::new(), allocated: Vec::new(), limit: NR_RESERVED_ENTRIES };
        a.grow(nr_entries);
        a
    }

    /// Extend to `nr_entries` after more grant frames were mapped.
    pub fn grow(&mut self, nr_entries: u32) {
        if nr_entries <= self.limit {
            return;
        }
        // Lowest references come out first.
        self.free.extend((self.limit..nr_entries).rev());
        self.free.rotate_right((nr_entries - self.limit) as usize);
        self.limit = nr_entries;
        self.allocated.resize((nr_entries as usize).div_ceil(64), 0);
    }

    pub fn alloc(&mut self) -> Option<GrantRef> {
        let r = self.free.pop()?;
        self.allocated[r as usize / 64] |= 1 << (r % 64);
        Some(r)
    }

    pub fn free(&mut self, r: GrantRef) -> Result<(), GrantError> {
        if r < NR_RESERVED_ENTRIES || r >= self.limit {
            return Err(GrantError::OutOfRange(r));
        }
        let word = &mut self.allocated[r as usize / 64];
        if *word & (1 << (r % 64)) == 0 {
            return Err(GrantError::NotAllocated(r));
        }
        *word &= !(1 << (r % 64));
        self.free.push(r);
        Ok(())
    }

    pub fn is_allocated(&self, r: GrantRef) -> bool {
        r < self.limit && self.allocated[r as usize / 64] & (1 << (r % 64)) != 0
    }

    /// References still available.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// One past the highest reference.
    pub fn limit(&self) -> GrantRef {
        self.limit
    }
}

/// The shared v1 table itself.
pub struct GrantTableV1 {
    base: NonNull<GrantEntryV1>,
    nr_entries: u32,
}

impl GrantTableV1 {
    /// # Safety
    /// `base` must point to `nr_frames` contiguous, mapped grant frames that
    /// stay mapped for the table's lifetime.
    pub unsafe fn new(base: NonNull<u8>, nr_frames: u32) -> Self {
        assert!((base.as_ptr() as usize).is_multiple_of(8));
        GrantTableV1 { base: base.cast(), nr_entries: nr_frames * ENTRIES_PER_FRAME }
    }

    pub fn nr_entries(&self) -> u32 {
        self.nr_entries
    }

    /// Where the frames are mapped (a restored domain maps its new table there).
    pub fn base(&self) -> NonNull<u8> {
        self.base.cast()
    }

    pub fn nr_frames(&self) -> u32 {
        self.nr_entries / ENTRIES_PER_FRAME
    }

    fn entry(&self, r: GrantRef) -> Result<*mut GrantEntryV1, GrantError> {
        if r < NR_RESERVED_ENTRIES || r >= self.nr_entries {
            return Err(GrantError::OutOfRange(r));
        }
        // SAFETY: r is within the mapped frames (constructor contract).
        Ok(unsafe { self.base.as_ptr().add(r as usize) })
    }

    /// The entry's flags, the field Xen and the peer update concurrently.
    fn flags(&self, r: GrantRef) -> Result<&AtomicU16, GrantError> {
        let entry = self.entry(r)?;
        // SAFETY: flags is the first, 2-aligned field of an in-bounds entry;
        // AtomicU16 has u16's layout; the table outlives &self.
        Ok(unsafe { &*(core::ptr::addr_of_mut!((*entry).flags) as *const AtomicU16) })
    }

    /// Let `domid` access guest frame `frame` (read-only if `readonly`).
    pub fn permit_access(&self, r: GrantRef, domid: DomId, frame: u64, readonly: bool) -> Result<(), GrantError> {
        let entry = self.entry(r)?;
        // v1 entries hold 32-bit frame numbers (16 TiB): more is a caller bug.
        let frame = u32::try_from(frame).map_err(|_| GrantError::OutOfRange(r))?;
        // SAFETY: entry is in bounds; volatile because Xen reads the table.
        unsafe {
            core::ptr::write_volatile(core::ptr::addr_of_mut!((*entry).domid), domid);
            core::ptr::write_volatile(core::ptr::addr_of_mut!((*entry).frame), frame);
        }
        // The peer must see domid and frame before the flags that make them valid.
        fence(Ordering::Release);
        let flags = GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 };
        self.flags(r)?.store(flags, Ordering::Release);
        Ok(())
    }

    /// Withdraw access, unless the peer is using the page right now.
    pub fn end_access(&self, r: GrantRef) -> Result<(), GrantError> {
        let flags = self.flags(r)?;
        let mut current = flags.load(Ordering::Acquire);
        loop {
            if current & (GTF_READING | GTF_WRITING) != 0 {
                return Err(GrantError::InUse(r));
            }
            match flags.compare_exchange(current, 0, Ordering::SeqCst, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(now) => current = now,
            }
        }
    }

    /// The peer has the page mapped or is copying it.
    pub fn is_in_use(&self, r: GrantRef) -> bool {
        self.flags(r).is_ok_and(|f| f.load(Ordering::Acquire) & (GTF_READING | GTF_WRITING) != 0)
    }
}

/// A grant table with its reference allocator: what drivers use.
pub struct Grants {
    table: GrantTableV1,
    refs: GrantRefAllocator,
}

impl Grants {
    pub fn new(table: GrantTableV1) -> Self {
        let refs = GrantRefAllocator::new(table.nr_entries());
        Grants { table, refs }
    }

    /// After the domain was restored from a saved image: the table Xen mapped
    /// for the new domain is empty and every reference we held is void. Start
    /// over with all of them free.
    pub fn reset(&mut self) {
        self.refs = GrantRefAllocator::new(self.table.nr_entries());
    }

    /// Grant `domid` access to guest frame `frame`.
    pub fn grant(&mut self, domid: DomId, frame: u64, readonly: bool) -> Result<GrantRef, GrantError> {
        let r = self.refs.alloc().ok_or(GrantError::Exhausted)?;
        if let Err(e) = self.table.permit_access(r, domid, frame, readonly) {
            let _ = self.refs.free(r);
            return Err(e);
        }
        Ok(r)
    }

    /// Withdraw a grant and recycle its reference. On `InUse` nothing changes:
    /// the caller keeps the page and retries later.
    pub fn revoke(&mut self, r: GrantRef) -> Result<(), GrantError> {
        if !self.refs.is_allocated(r) {
            return Err(GrantError::NotAllocated(r));
        }
        self.table.end_access(r)?;
        self.refs.free(r)
    }

    pub fn available(&self) -> usize {
        self.refs.available()
    }

    pub fn table(&self) -> &GrantTableV1 {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Page;

    fn entry_bytes(page: &Page, r: usize) -> (u16, u16, u32) {
        let b = &page.bytes()[r * 8..r * 8 + 8];
        (
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_le_bytes([b[2], b[3]]),
            u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        )
    }

    #[test]
    fn allocator_skips_reserved_and_reuses_freed_refs() {
        let mut a = GrantRefAllocator::new(12);
        assert_eq!(a.available(), 4);
        assert_eq!(a.alloc(), Some(8));
        assert_eq!(a.alloc(), Some(9));
        a.free(8).unwrap();
        assert_eq!(a.alloc(), Some(8), "last freed comes back first");
        assert_eq!(a.free(10), Err(GrantError::NotAllocated(10)));
        assert_eq!(a.free(3), Err(GrantError::OutOfRange(3)));
        assert_eq!(a.free(12), Err(GrantError::OutOfRange(12)));
        a.free(9).unwrap();
        assert_eq!(a.free(9), Err(GrantError::NotAllocated(9)), "double free detected");
        while a.alloc().is_some() {}
        assert_eq!(a.available(), 0);
        a.grow(14);
        assert_eq!((a.alloc(), a.alloc(), a.alloc()), (Some(12), Some(13), None));
    }

    #[test]
    fn grant_writes_a_valid_v1_entry() {
        let mut page = Page::new();
        let mut grants = Grants::new(unsafe { GrantTableV1::new(page.ptr(), 1) });
        assert_eq!(grants.available(), 512 - 8);
        let r = grants.grant(0, 0x1234, false).unwrap();
        let ro = grants.grant(5, 0xABCDE, true).unwrap();
        assert_eq!(entry_bytes(&page, r as usize), (GTF_PERMIT_ACCESS, 0, 0x1234));
        assert_eq!(entry_bytes(&page, ro as usize), (GTF_PERMIT_ACCESS | GTF_READONLY, 5, 0xABCDE));
        assert_eq!(grants.grant(0, 1 << 40, false), Err(GrantError::OutOfRange(10)));
        assert_eq!(grants.available(), 512 - 10, "failed grant returned its ref");
    }

    #[test]
    fn revoke_waits_for_the_peer_to_let_go() {
        let mut page = Page::new();
        let mut grants = Grants::new(unsafe { GrantTableV1::new(page.ptr(), 1) });
        let r = grants.grant(0, 77, false).unwrap();
        // The backend maps the page: Xen sets GTF_writing.
        let off = r as usize * 8;
        page.bytes_mut()[off] |= GTF_WRITING as u8;
        assert!(grants.table().is_in_use(r));
        assert_eq!(grants.revoke(r), Err(GrantError::InUse(r)));
        assert_eq!(entry_bytes(&page, r as usize).0 & GTF_PERMIT_ACCESS, GTF_PERMIT_ACCESS, "still granted");
        // Unmapped: revoke clears the entry and recycles the ref.
        page.bytes_mut()[off] &= !(GTF_WRITING as u8);
        grants.revoke(r).unwrap();
        assert_eq!(entry_bytes(&page, r as usize).0, 0);
        assert_eq!(grants.revoke(r), Err(GrantError::NotAllocated(r)));
        assert_eq!(grants.grant(0, 78, false), Ok(r), "reused");
    }

    #[test]
    fn grant_and_revoke_forever_never_runs_out() {
        let mut page = Page::new();
        let mut grants = Grants::new(unsafe { GrantTableV1::new(page.ptr(), 1) });
        let mut live = Vec::new();
        for i in 0..100_000u64 {
            live.push(grants.grant(1, i, i % 2 == 0).unwrap());
            if live.len() > 300 {
                grants.revoke(live.remove((i as usize * 7) % live.len())).unwrap();
            }
        }
        assert_eq!(grants.available(), 504 - live.len());
    }
}
