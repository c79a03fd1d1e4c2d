//! A hint to the processor to bring a line into the cache before it is read.
//! Used where a batch's packets look up scattered memory (a flow table, the
//! demux's table of tenant addresses) and where a source streams through a
//! trace: the loads for the whole batch are started before the first is needed.

/// Ask for the cache line holding `p` to be loaded. Only a hint: it never
/// faults, whatever `p` points at, and changes nothing a program can observe.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no effect a program can see.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
