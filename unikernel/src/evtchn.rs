//! Event channels, 2-level ABI: one pending bit and one mask bit per port,
//! in bitmaps on the shared info page.
//!
//! oxclick never takes event upcalls (an interrupt would land on the running
//! stack, inside the red zone the compiler uses). Every port stays masked and
//! the guest blocks in `SCHEDOP_poll` on the ports it cares about; Xen wakes a
//! poller whenever one of them becomes pending, masked or not. After waking,
//! the guest takes (tests and clears) each port's pending bit and does the
//! work. Clearing before working means an event arriving during the work
//! sets the bit again and is not lost.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::abi::EvtchnPort;
use crate::abi::event_channel::NR_EVENT_CHANNELS_2L;
use crate::abi::shared_info::{EVTCHN_MASK, EVTCHN_PENDING, EVTCHN_WORDS};

/// The pending and mask bitmaps of a shared info page.
pub struct EventBitmaps {
    pending: NonNull<AtomicU64>,
    mask: NonNull<AtomicU64>,
}

impl EventBitmaps {
    /// # Safety
    /// `shared_info` must point to the mapped shared info page (or, in tests,
    /// a page standing in for it), valid for the bitmaps' lifetime.
    pub unsafe fn new(shared_info: NonNull<u8>) -> Self {
        assert!((shared_info.as_ptr() as usize).is_multiple_of(8));
        // SAFETY: both offsets lie inside the page.
        unsafe {
            EventBitmaps { pending: shared_info.add(EVTCHN_PENDING).cast(), mask: shared_info.add(EVTCHN_MASK).cast() }
        }
    }

    fn word(base: NonNull<AtomicU64>, port: EvtchnPort) -> Option<(&'static AtomicU64, u64)> {
        if port >= NR_EVENT_CHANNELS_2L {
            return None;
        }
        // SAFETY: port / 64 < EVTCHN_WORDS, inside the bitmap.
        let word = unsafe { &*base.as_ptr().add(port as usize / 64) };
        Some((word, 1u64 << (port % 64)))
    }

    /// Test and clear a port's pending bit. Out-of-range ports are never pending.
    pub fn take_pending(&self, port: EvtchnPort) -> bool {
        Self::word(self.pending, port).is_some_and(|(w, bit)| w.fetch_and(!bit, Ordering::AcqRel) & bit != 0)
    }

    pub fn is_pending(&self, port: EvtchnPort) -> bool {
        Self::word(self.pending, port).is_some_and(|(w, bit)| w.load(Ordering::Acquire) & bit != 0)
    }

    /// Mask every port, so Xen never tries to deliver an upcall.
    pub fn mask_all(&self) {
        for i in 0..EVTCHN_WORDS {
            // SAFETY: i < EVTCHN_WORDS.
            unsafe { &*self.mask.as_ptr().add(i) }.store(u64::MAX, Ordering::Release);
        }
    }

    pub fn is_masked(&self, port: EvtchnPort) -> bool {
        Self::word(self.mask, port).is_some_and(|(w, bit)| w.load(Ordering::Acquire) & bit != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Page;

    #[test]
    fn pending_bits_sit_where_xen_sets_them() {
        let mut page = Page::new();
        let bitmaps = unsafe { EventBitmaps::new(page.ptr()) };
        // Xen sets port 67: word 1 of evtchn_pending, bit 3.
        page.bytes_mut()[EVTCHN_PENDING + 8] = 1 << 3;
        assert!(bitmaps.is_pending(67));
        assert!(!bitmaps.is_pending(66));
        assert!(bitmaps.take_pending(67));
        assert!(!bitmaps.take_pending(67), "taking clears");
        assert_eq!(page.bytes()[EVTCHN_PENDING + 8], 0);
        assert!(!bitmaps.take_pending(4096), "out of range");
        assert!(!bitmaps.take_pending(u32::MAX));
    }

    #[test]
    fn mask_all_covers_every_port() {
        let mut page = Page::new();
        let bitmaps = unsafe { EventBitmaps::new(page.ptr()) };
        bitmaps.mask_all();
        assert!(page.bytes()[EVTCHN_MASK..EVTCHN_MASK + 512].iter().all(|&b| b == 0xFF));
        assert!(page.bytes()[EVTCHN_PENDING..EVTCHN_MASK].iter().all(|&b| b == 0));
        assert!(bitmaps.is_masked(0) && bitmaps.is_masked(4095));
    }
}
