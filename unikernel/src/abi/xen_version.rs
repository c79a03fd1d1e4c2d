//! `HYPERVISOR_xen_version` sub-ops (version.h).

/// Returns (major << 16 | minor).
pub const XENVER_VERSION: u32 = 0;
/// Fills a 16-byte buffer with the extra version string, e.g. ".7".
pub const XENVER_EXTRAVERSION: u32 = 1;
pub const EXTRAVERSION_LEN: usize = 16;
