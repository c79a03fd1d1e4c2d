//! The Xen guest ABI, transcribed from Xen's public headers (`/usr/include/xen`
//! from Debian's libxen-dev, Xen 4.17). One module per header.
//!
//! Only what oxclick uses is here. Every `#[repr(C)]` layout carries
//! compile-time size and offset checks against the C layout, because a silent
//! mismatch with the hypervisor is the worst kind of bug.

pub mod console;
pub mod cpuid;
pub mod event_channel;
pub mod grant_table;
pub mod hvm;
pub mod hypercall;
pub mod memory;
pub mod netif;
pub mod sched;
pub mod shared_info;
pub mod start_info;
pub mod xen_version;

/// Size of a guest page, the unit of granting and mapping.
pub const PAGE_SIZE: usize = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// A domain id (`domid_t`).
pub type DomId = u16;
/// `DOMID_SELF` (xen.h): "the calling domain" in hypercall arguments.
pub const DOMID_SELF: DomId = 0x7FF0;

/// An event channel port (`evtchn_port_t`).
pub type EvtchnPort = u32;
/// A grant reference (`grant_ref_t`).
pub type GrantRef = u32;

/// Xen's negative errno values (xen/errno.h) that callers branch on.
pub mod errno {
    pub const EPERM: i64 = 1;
    pub const ENOENT: i64 = 2;
    pub const EAGAIN: i64 = 11;
    pub const ENOMEM: i64 = 12;
    pub const EACCES: i64 = 13;
    pub const EFAULT: i64 = 14;
    pub const EBUSY: i64 = 16;
    pub const EEXIST: i64 = 17;
    pub const EINVAL: i64 = 22;
    pub const ENOSPC: i64 = 28;
    pub const ENOSYS: i64 = 38;
}
