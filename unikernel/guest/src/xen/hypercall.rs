//! Hypercalls through the hypercall page.
//!
//! Xen fills a page of ours with one 32-byte stub per hypercall
//! (`mov $nr, %eax; vmcall` or `vmmcall`, whichever this CPU needs; `ret`)
//! once we write the page's address to the MSR that CPUID leaf base+2 names.
//! `oxclick_hypercall` is an ordinary C-ABI function that moves its
//! arguments into Xen's registers (rdi, rsi, rdx, r10, r8) and tail-jumps
//! into the stub, so every call site is a normal function call: the compiler
//! knows what is clobbered and never keeps anything in the red zone across it.

use core::arch::global_asm;

use oxclick_unikernel::abi::cpuid::LEAF_HYPERCALL;

use crate::arch::cpu;

global_asm!(
    r#"
    .pushsection .bss.hypercall_page, "aw", @nobits
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .skip 4096
    .popsection

    .pushsection .text.oxclick_hypercall, "ax", @progbits
    .globl oxclick_hypercall
oxclick_hypercall:
    shl $5, %rdi                    /* stub = hypercall_page + nr * 32 */
    lea hypercall_page(%rip), %rax
    add %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
    jmp *%rax                       /* the stub returns to our caller */
    .popsection
"#,
    options(att_syntax)
);

unsafe extern "C" {
    fn oxclick_hypercall(nr: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64;
    static hypercall_page: u8;
}

/// Ask Xen to fill the hypercall page. `base` is Xen's CPUID leaf base.
pub fn init(base: u32) {
    let (_pages, msr, _, _) = cpu::cpuid(base + LEAF_HYPERCALL, 0);
    // SAFETY: the MSR is the one Xen advertises for exactly this purpose; the
    // page is ours, page aligned, in .bss (zeroed) and identity mapped.
    unsafe { cpu::wrmsr(msr, &raw const hypercall_page as u64) };
}

/// Make a hypercall. Returns Xen's result: negative errno on failure.
///
/// # Safety
/// The arguments must be valid for the hypercall: pointers must point to
/// correctly laid out, live structures.
pub unsafe fn call(nr: u32, args: [u64; 5]) -> i64 {
    // SAFETY: forwarded contract; init() ran (the caller only reaches Xen
    // code after detection and init).
    unsafe { oxclick_hypercall(nr as u64, args[0], args[1], args[2], args[3], args[4]) }
}

/// A hypercall taking a command and a pointer to one argument structure.
///
/// # Safety
/// `T` must be the structure Xen expects for `nr`/`cmd`.
pub unsafe fn call_with<T>(nr: u32, cmd: u32, arg: &mut T) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { call(nr, [cmd as u64, arg as *mut T as u64, 0, 0, 0]) }
}
