//! The Xen platform layer: everything that talks to the hypervisor.
//!
//! Bring-up order (see [`init`]): find Xen's CPUID leaves, install the
//! hypercall page, map the shared info page, mask every event channel. The
//! resulting [`Xen`] lives for the rest of the guest's life; drivers borrow it.

pub mod console;
pub mod events;
pub mod grant;
pub mod hypercall;
pub mod store;
pub mod time;

use core::cell::Cell;
use core::ptr::NonNull;

use oxclick_unikernel::abi::cpuid as xcpuid;
use oxclick_unikernel::abi::hvm::{HVMOP_GET_PARAM, HvmParam};
use oxclick_unikernel::abi::memory::{AddToPhysmap, XENMAPSPACE_SHARED_INFO, XENMEM_ADD_TO_PHYSMAP};
use oxclick_unikernel::abi::sched::{SCHEDOP_SHUTDOWN, SchedShutdown, ShutdownReason};
use oxclick_unikernel::abi::{DOMID_SELF, DomId, PAGE_SHIFT, PAGE_SIZE, hypercall as nr, xen_version};
use oxclick_unikernel::evtchn::EventBitmaps;

use crate::arch::cpu;
use crate::platform::Outcome;

/// What CPUID says about the hypervisor.
#[derive(Clone, Copy, Debug)]
pub struct XenCpuid {
    pub base: u32,
    pub version: (u16, u16),
    /// Xen 4.6+ reports the domain id in leaf base+4.
    pub domid: Option<DomId>,
}

/// Look for Xen's signature in the hypervisor CPUID range.
pub fn detect() -> Option<XenCpuid> {
    let mut base = xcpuid::LEAF_BASE_FIRST;
    while base < xcpuid::LEAF_BASE_LAST {
        let (max_leaf, ebx, ecx, edx) = cpu::cpuid(base, 0);
        if xcpuid::is_xen_signature(ebx, ecx, edx) && max_leaf >= base + xcpuid::LEAF_HYPERCALL {
            let (version, _, _, _) = cpu::cpuid(base + xcpuid::LEAF_VERSION, 0);
            let mut domid = None;
            if max_leaf >= base + xcpuid::LEAF_HVM {
                let (flags, _, ecx, _) = cpu::cpuid(base + xcpuid::LEAF_HVM, 0);
                if flags & xcpuid::HVM_DOMID_PRESENT != 0 {
                    domid = Some(ecx as DomId);
                }
            }
            return Some(XenCpuid { base, version: ((version >> 16) as u16, version as u16), domid });
        }
        base += xcpuid::LEAF_BASE_STEP;
    }
    None
}

/// The hypervisor connection: shared info page, event bitmaps, clock.
pub struct Xen {
    pub cpuid: XenCpuid,
    shared_info: NonNull<u8>,
    events: EventBitmaps,
    /// Last time handed out, so time never runs backwards.
    last_ns: Cell<u64>,
}

/// A page of ours that Xen replaces with the shared info page.
#[repr(C, align(4096))]
struct SharedInfoPage([u8; PAGE_SIZE]);
struct SharedInfoSlot(core::cell::UnsafeCell<SharedInfoPage>);
// SAFETY: only Xen and the single vcpu touch it, through atomics/volatile.
unsafe impl Sync for SharedInfoSlot {}
static SHARED_INFO: SharedInfoSlot = SharedInfoSlot(core::cell::UnsafeCell::new(SharedInfoPage([0; PAGE_SIZE])));

/// Bring up the hypervisor interface. Fails only if Xen refuses to map the
/// shared info page, in which case nothing Xen-related can work.
pub fn init(cpuid: XenCpuid) -> Result<&'static Xen, i64> {
    hypercall::init(cpuid.base);
    crate::platform::set_xen();

    let page = map_shared_info()?;
    let shared_info = NonNull::new(page as *mut u8).expect("static is non-null");
    // SAFETY: the shared info page is now mapped at `page` for good.
    let events = unsafe { EventBitmaps::new(shared_info) };
    // No upcalls, ever: we poll (see oxclick_unikernel::evtchn).
    events.mask_all();
    let xen =
        alloc::boxed::Box::leak(alloc::boxed::Box::new(Xen { cpuid, shared_info, events, last_ns: Cell::new(0) }));
    Ok(xen)
}

/// Ask Xen to put the shared info page at our static page; returns its address.
fn map_shared_info() -> Result<u64, i64> {
    let page = SHARED_INFO.0.get() as u64;
    let mut map =
        AddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_SHARED_INFO, idx: 0, gpfn: page >> PAGE_SHIFT };
    // SAFETY: AddToPhysmap is xen_add_to_physmap; the page is ours.
    let rc = unsafe { hypercall::call_with(nr::MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, &mut map) };
    if rc < 0 { Err(rc) } else { Ok(page) }
}

impl Xen {
    /// After a restore the domain has a new shared info page: map it where the
    /// old one was (the event bitmaps and clock read it there) and mask every
    /// event again.
    pub fn resumed(&self) -> Result<(), i64> {
        map_shared_info()?;
        self.events.mask_all();
        Ok(())
    }

    /// Read an HVM parameter of our own domain.
    pub fn hvm_param(&self, index: u32) -> Result<u64, i64> {
        let mut p = HvmParam { domid: DOMID_SELF, pad: 0, index, value: 0 };
        // SAFETY: HvmParam is xen_hvm_param.
        let rc = unsafe { hypercall::call_with(nr::HVM_OP, HVMOP_GET_PARAM, &mut p) };
        if rc < 0 { Err(rc) } else { Ok(p.value) }
    }

    /// "major.minor.extra", e.g. 4.17.7 (extra as Xen reports it).
    pub fn extra_version(&self) -> [u8; xen_version::EXTRAVERSION_LEN] {
        let mut buf = [0u8; xen_version::EXTRAVERSION_LEN];
        // SAFETY: XENVER_extraversion fills a 16-byte buffer.
        unsafe {
            hypercall::call(
                nr::XEN_VERSION,
                [xen_version::XENVER_EXTRAVERSION as u64, buf.as_mut_ptr() as u64, 0, 0, 0],
            )
        };
        buf
    }

    pub fn events(&self) -> &EventBitmaps {
        &self.events
    }

    pub(crate) fn shared_info(&self) -> NonNull<u8> {
        self.shared_info
    }
}

/// Suspend the domain for `xl save` (SCHEDOP_shutdown, reason suspend). Returns
/// 0 when it runs again as a restored domain (everything Xen gave us is new: the
/// caller must map and connect it all again), or 1 when the suspend was
/// cancelled and this same domain goes on (`xl save -c`, or a failed save).
pub fn suspend() -> i64 {
    let mut arg = SchedShutdown { reason: ShutdownReason::Suspend as u32 };
    // SAFETY: SchedShutdown is sched_shutdown.
    unsafe { hypercall::call_with(nr::SCHED_OP, SCHEDOP_SHUTDOWN, &mut arg) }
}

/// Tell Xen the domain is done. Returns only if Xen refuses.
pub fn shutdown(outcome: Outcome) {
    let reason = match outcome {
        Outcome::Poweroff => ShutdownReason::Poweroff,
        Outcome::Reboot => ShutdownReason::Reboot,
        Outcome::Crash => ShutdownReason::Crash,
    };
    let mut arg = SchedShutdown { reason: reason as u32 };
    // SAFETY: SchedShutdown is sched_shutdown.
    unsafe { hypercall::call_with(nr::SCHED_OP, SCHEDOP_SHUTDOWN, &mut arg) };
}

/// An e820 entry as XENMEM_memory_map returns it (packed, 20 bytes).
#[derive(Clone, Copy, Default)]
#[repr(C, packed)]
struct E820Entry {
    addr: u64,
    size: u64,
    kind: u32,
}

/// `struct xen_memory_map`.
#[repr(C)]
struct MemoryMap {
    nr_entries: u32,
    buffer: u64,
}

const XENMEM_MEMORY_MAP: u32 = 9;

/// The domain's memory map from Xen, for loaders that pass none in start
/// info. Needs only the hypercall page. Returns the number of entries filled.
pub fn memory_map(out: &mut [oxclick_unikernel::abi::start_info::HvmMemmapEntry]) -> usize {
    let mut raw = [E820Entry::default(); 32];
    let mut arg = MemoryMap { nr_entries: raw.len() as u32, buffer: raw.as_mut_ptr() as u64 };
    // SAFETY: MemoryMap is xen_memory_map; the buffer holds nr_entries entries.
    let rc = unsafe { hypercall::call_with(nr::MEMORY_OP, XENMEM_MEMORY_MAP, &mut arg) };
    if rc < 0 {
        return 0;
    }
    let n = (arg.nr_entries as usize).min(raw.len()).min(out.len());
    for (dst, src) in out.iter_mut().zip(raw.iter()).take(n) {
        let (addr, size, kind) = (src.addr, src.size, src.kind);
        *dst = oxclick_unikernel::abi::start_info::HvmMemmapEntry { addr, size, kind, reserved: 0 };
    }
    n
}
