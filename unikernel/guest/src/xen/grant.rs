//! Mapping the grant table: PVH guests ask Xen to place grant frame `i` at a
//! guest frame of their choosing (`XENMEM_add_to_physmap`, space
//! `XENMAPSPACE_grant_table`). We give it pages from the heap; Xen takes the
//! RAM behind them back and puts the table there.

use core::ptr::NonNull;

use oxclick_unikernel::abi::grant_table::{GNTST_OKAY, GNTTABOP_QUERY_SIZE, GnttabQuerySize};
use oxclick_unikernel::abi::memory::{AddToPhysmap, XENMAPSPACE_GRANT_TABLE, XENMEM_ADD_TO_PHYSMAP};
use oxclick_unikernel::abi::{DOMID_SELF, PAGE_SHIFT, PAGE_SIZE, hypercall as nr};
use oxclick_unikernel::grant::{GrantTableV1, Grants};

use super::{Xen, hypercall};

/// (frames in use, most frames Xen allows this domain).
pub fn query_size() -> Result<(u32, u32), i64> {
    let mut q = GnttabQuerySize { dom: DOMID_SELF, nr_frames: 0, max_nr_frames: 0, status: 0 };
    // SAFETY: GnttabQuerySize is gnttab_query_size; count 1.
    let rc = unsafe { hypercall::call(nr::GRANT_TABLE_OP, [GNTTABOP_QUERY_SIZE as u64, &raw mut q as u64, 1, 0, 0]) };
    if rc < 0 {
        return Err(rc);
    }
    if q.status != GNTST_OKAY {
        return Err(q.status as i64);
    }
    Ok((q.nr_frames, q.max_nr_frames))
}

/// Map `wanted` grant frames (capped by Xen's limit) and return the table.
pub fn init(_xen: &Xen, wanted: u32) -> Result<Grants, i64> {
    let (_, max) = query_size()?;
    let frames = wanted.min(max).max(1);
    let base: NonNull<u8> = crate::heap::alloc_pages(frames as usize).ok_or(-12)?;
    map_frames(base, frames)?;
    // SAFETY: `frames` grant frames are mapped contiguously at base, for good.
    Ok(Grants::new(unsafe { GrantTableV1::new(base, frames) }))
}

/// After a restore the domain has a new, empty grant table: map its frames
/// where the old ones were and start with every reference free.
pub fn resumed(grants: &mut Grants) -> Result<(), i64> {
    let table = grants.table();
    map_frames(table.base(), table.nr_frames())?;
    grants.reset();
    Ok(())
}

fn map_frames(base: NonNull<u8>, frames: u32) -> Result<(), i64> {
    for i in 0..frames {
        let gpfn = (base.as_ptr() as u64 + i as u64 * PAGE_SIZE as u64) >> PAGE_SHIFT;
        let mut map = AddToPhysmap { domid: DOMID_SELF, size: 0, space: XENMAPSPACE_GRANT_TABLE, idx: i as u64, gpfn };
        // SAFETY: AddToPhysmap is xen_add_to_physmap; the page is ours and
        // never returned to the heap.
        let rc = unsafe { hypercall::call_with(nr::MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, &mut map) };
        if rc < 0 {
            return Err(rc);
        }
    }
    Ok(())
}
