//! Grant tables, version 1 (grant_table.h).

use super::{DomId, GrantRef};

pub const GNTTABOP_SETUP_TABLE: u32 = 2;
pub const GNTTABOP_QUERY_SIZE: u32 = 6;
pub const GNTTABOP_SET_VERSION: u32 = 8;

/// `struct grant_entry_v1`: 8 bytes. The guest writes `domid` and `frame`
/// first and `flags` last; Xen and the peer set `GTF_reading`/`GTF_writing`
/// in `flags` while they use the page.
#[repr(C)]
pub struct GrantEntryV1 {
    pub flags: u16,
    pub domid: DomId,
    pub frame: u32,
}

/// Entries per 4 KiB grant frame.
pub const ENTRIES_PER_FRAME: u32 = (super::PAGE_SIZE / core::mem::size_of::<GrantEntryV1>()) as u32;

/// The toolstack pre-populates entries 0 (console) and 1 (xenstore); entries
/// below 8 are reserved and never handed out.
pub const NR_RESERVED_ENTRIES: GrantRef = 8;

pub const GTF_PERMIT_ACCESS: u16 = 1;
pub const GTF_READONLY: u16 = 1 << 2;
pub const GTF_READING: u16 = 1 << 3;
pub const GTF_WRITING: u16 = 1 << 4;

/// `struct gnttab_query_size`.
#[repr(C)]
pub struct GnttabQuerySize {
    pub dom: DomId,
    pub nr_frames: u32,
    pub max_nr_frames: u32,
    pub status: i16,
}

/// `struct gnttab_set_version`.
#[repr(C)]
pub struct GnttabSetVersion {
    pub version: u32,
}

/// `GNTST_okay`.
pub const GNTST_OKAY: i16 = 0;

const _: () = {
    assert!(core::mem::size_of::<GrantEntryV1>() == 8);
    assert!(core::mem::offset_of!(GrantEntryV1, domid) == 2);
    assert!(core::mem::offset_of!(GrantEntryV1, frame) == 4);
    assert!(ENTRIES_PER_FRAME == 512);
    assert!(core::mem::size_of::<GnttabQuerySize>() == 16);
    assert!(core::mem::offset_of!(GnttabQuerySize, nr_frames) == 4);
    assert!(core::mem::offset_of!(GnttabQuerySize, status) == 12);
};
