//! `HYPERVISOR_memory_op` (memory.h).

use super::DomId;

pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;

pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;

/// `struct xen_add_to_physmap`: make page `idx` of `space` appear at guest
/// frame `gpfn`. Whatever RAM page was at `gpfn` is given back to Xen.
#[repr(C)]
pub struct AddToPhysmap {
    pub domid: DomId,
    /// Only for XENMAPSPACE_gmfn_range.
    pub size: u16,
    pub space: u32,
    pub idx: u64,
    pub gpfn: u64,
}

const _: () = {
    assert!(core::mem::size_of::<AddToPhysmap>() == 24);
    assert!(core::mem::offset_of!(AddToPhysmap, space) == 4);
    assert!(core::mem::offset_of!(AddToPhysmap, idx) == 8);
    assert!(core::mem::offset_of!(AddToPhysmap, gpfn) == 16);
};
