//! Thin wrappers around the x86 instructions the guest needs.

use core::arch::asm;

/// `cpuid` with a leaf and a subleaf: (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32, subleaf: u32) -> (u32, u32, u32, u32) {
    // cpuid is always available in long mode and has no side effects.
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Write a model-specific register.
///
/// # Safety
/// The MSR and value must be valid; a bad write faults or reconfigures the CPU.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: forwarded contract.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack, preserves_flags));
    }
}

/// Write a byte to an I/O port.
pub fn outb(port: u16, value: u8) {
    // SAFETY: the guest only uses ports that are harmless if absent (0xe9
    // debug console, 0xf4 QEMU exit): writes to missing devices are dropped.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags)) }
}

/// Write a 32-bit value to an I/O port.
pub fn outl(port: u16, value: u32) {
    // SAFETY: as for outb.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags)) }
}

/// Read the time stamp counter. `lfence` first so the read is not hoisted
/// above earlier loads (we read Xen's clock parameters right before). Never
/// RDTSCP: some hosts (QEMU's emulated SVM) cannot run it under Xen.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc is unprivileged unless CR4.TSD, which we never set.
    unsafe { asm!("lfence", "rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    ((hi as u64) << 32) | lo as u64
}

/// The faulting address of the last page fault.
pub fn cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects at ring 0.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// Stop this vcpu for good (interrupts stay off, so `hlt` never returns;
/// under Xen an `hlt` with interrupts off takes the vcpu down).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli; hlt only stops the CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) }
    }
}
