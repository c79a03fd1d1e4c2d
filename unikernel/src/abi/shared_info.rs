//! The shared info page (xen.h `struct shared_info`, x86_64 layout).
//!
//! Only offsets are given here: the page is shared with the hypervisor, so the
//! guest reads and writes it field by field (atomics or volatile), never as a
//! Rust reference to the whole struct.

/// `XEN_LEGACY_MAX_VCPUS` on x86: `vcpu_info` slots in the page.
pub const LEGACY_MAX_VCPUS: usize = 32;
/// `sizeof(struct vcpu_info)` on x86.
pub const VCPU_INFO_SIZE: usize = 64;
/// Offset of `vcpu_info[n].time` within the page, for vcpu `n`.
pub const fn vcpu_time_offset(vcpu: usize) -> usize {
    vcpu * VCPU_INFO_SIZE + VCPU_INFO_TIME
}
/// Offset of `time` within `struct vcpu_info`: after upcall_pending, upcall_mask,
/// padding, evtchn_pending_sel (8) and arch_vcpu_info (cr2, pad: 16).
pub const VCPU_INFO_TIME: usize = 32;
/// Offset of `evtchn_pending[64]` (unsigned longs).
pub const EVTCHN_PENDING: usize = LEGACY_MAX_VCPUS * VCPU_INFO_SIZE;
/// Offset of `evtchn_mask[64]`.
pub const EVTCHN_MASK: usize = EVTCHN_PENDING + 64 * 8;
/// Number of 64-bit words in each of the pending and mask bitmaps.
pub const EVTCHN_WORDS: usize = 64;

/// `struct vcpu_time_info`: Xen's per-vcpu clock parameters. System time in ns is
/// `system_time + (((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32`
/// (a negative shift shifts right). An odd `version` means an update is in progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct VcpuTimeInfo {
    pub version: u32,
    pub pad0: u32,
    pub tsc_timestamp: u64,
    pub system_time: u64,
    pub tsc_to_system_mul: u32,
    pub tsc_shift: i8,
    pub flags: u8,
    pub pad1: [u8; 2],
}

/// `XEN_PVCLOCK_TSC_STABLE_BIT`: the TSC is synchronised across vcpus.
pub const PVCLOCK_TSC_STABLE: u8 = 1;

const _: () = {
    assert!(core::mem::size_of::<VcpuTimeInfo>() == 32);
    assert!(core::mem::offset_of!(VcpuTimeInfo, tsc_timestamp) == 8);
    assert!(core::mem::offset_of!(VcpuTimeInfo, system_time) == 16);
    assert!(core::mem::offset_of!(VcpuTimeInfo, tsc_to_system_mul) == 24);
    assert!(core::mem::offset_of!(VcpuTimeInfo, tsc_shift) == 28);
    assert!(EVTCHN_PENDING == 2048);
    assert!(EVTCHN_MASK == 2560);
    assert!(VCPU_INFO_TIME + core::mem::size_of::<VcpuTimeInfo>() == VCPU_INFO_SIZE);
};
