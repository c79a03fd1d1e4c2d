//! `HYPERVISOR_hvm_op` parameters (hvm/hvm_op.h, hvm/params.h). A PVH guest
//! finds its xenstore and console rings through these.

use super::DomId;

pub const HVMOP_SET_PARAM: u32 = 0;
pub const HVMOP_GET_PARAM: u32 = 1;

pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
pub const HVM_PARAM_STORE_PFN: u32 = 1;
pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;

/// `struct xen_hvm_param`.
#[repr(C)]
pub struct HvmParam {
    pub domid: DomId,
    pub pad: u16,
    pub index: u32,
    pub value: u64,
}

const _: () = {
    assert!(core::mem::size_of::<HvmParam>() == 16);
    assert!(core::mem::offset_of!(HvmParam, index) == 4);
    assert!(core::mem::offset_of!(HvmParam, value) == 8);
};
