//! The PVH start of day structure (arch-x86/hvm/start_info.h). The domain
//! starts with `ebx` holding its physical address.

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const START_MAGIC: u32 = 0x336e_c578;

/// `struct hvm_start_info`. Fields from `memmap_paddr` on exist from version 1.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct HvmStartInfo {
    pub magic: u32,
    pub version: u32,
    pub flags: u32,
    pub nr_modules: u32,
    pub modlist_paddr: u64,
    pub cmdline_paddr: u64,
    pub rsdp_paddr: u64,
    pub memmap_paddr: u64,
    pub memmap_entries: u32,
    pub reserved: u32,
}

/// Size of the version 0 structure (no memory map fields).
pub const START_INFO_V0_SIZE: usize = 40;

/// `struct hvm_modlist_entry`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct HvmModlistEntry {
    pub paddr: u64,
    pub size: u64,
    pub cmdline_paddr: u64,
    pub reserved: u64,
}

/// `struct hvm_memmap_table_entry` (ACPI address range types).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct HvmMemmapEntry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
    pub reserved: u32,
}

/// `XEN_HVM_MEMMAP_TYPE_RAM`.
pub const MEMMAP_TYPE_RAM: u32 = 1;

const _: () = {
    assert!(core::mem::size_of::<HvmStartInfo>() == 56);
    assert!(core::mem::offset_of!(HvmStartInfo, modlist_paddr) == 16);
    assert!(core::mem::offset_of!(HvmStartInfo, cmdline_paddr) == 24);
    assert!(core::mem::offset_of!(HvmStartInfo, memmap_paddr) == START_INFO_V0_SIZE);
    assert!(core::mem::offset_of!(HvmStartInfo, memmap_entries) == 48);
    assert!(core::mem::size_of::<HvmModlistEntry>() == 32);
    assert!(core::mem::size_of::<HvmMemmapEntry>() == 24);
    assert!(core::mem::offset_of!(HvmMemmapEntry, kind) == 16);
};
