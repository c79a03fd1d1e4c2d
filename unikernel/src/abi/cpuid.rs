//! Xen's CPUID leaves (arch-x86/cpuid.h). Xen's leaves start at 0x40000000,
//! or at a multiple of 0x100 above it when it also offers Viridian leaves, so
//! a guest scans for the signature.

pub const LEAF_BASE_FIRST: u32 = 0x4000_0000;
pub const LEAF_BASE_LAST: u32 = 0x4001_0000;
pub const LEAF_BASE_STEP: u32 = 0x100;

/// "XenVMMXenVMM" in ebx, ecx, edx of the base leaf.
pub const SIGNATURE_EBX: u32 = 0x566e_6558;
pub const SIGNATURE_ECX: u32 = 0x6558_4d4d;
pub const SIGNATURE_EDX: u32 = 0x4d4d_566e;

/// Leaf base+1: eax = version (major << 16 | minor).
pub const LEAF_VERSION: u32 = 1;
/// Leaf base+2: eax = number of hypercall pages, ebx = MSR to write their address to.
pub const LEAF_HYPERCALL: u32 = 2;
/// Leaf base+4: HVM features; eax flags say whether ebx (vcpu id) and ecx (domid) are valid.
pub const LEAF_HVM: u32 = 4;
pub const HVM_VCPU_ID_PRESENT: u32 = 1 << 3;
pub const HVM_DOMID_PRESENT: u32 = 1 << 4;

/// Whether a base leaf's ebx, ecx, edx carry Xen's signature.
pub fn is_xen_signature(ebx: u32, ecx: u32, edx: u32) -> bool {
    ebx == SIGNATURE_EBX && ecx == SIGNATURE_ECX && edx == SIGNATURE_EDX
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_spells_xenvmm() {
        let mut bytes = [0u8; 12];
        bytes[0..4].copy_from_slice(&super::SIGNATURE_EBX.to_le_bytes());
        bytes[4..8].copy_from_slice(&super::SIGNATURE_ECX.to_le_bytes());
        bytes[8..12].copy_from_slice(&super::SIGNATURE_EDX.to_le_bytes());
        assert_eq!(&bytes, b"XenVMMXenVMM");
        assert!(super::is_xen_signature(super::SIGNATURE_EBX, super::SIGNATURE_ECX, super::SIGNATURE_EDX));
        assert!(!super::is_xen_signature(0, 0, 0));
    }
}
