//! The C memory functions `core` and `compiler_builtins` call (`memcpy`,
//! `memmove`, `memset`, `memcmp`, `bcmp`). Freestanding, nobody else
//! provides them. They are written with string instructions or volatile
//! accesses so the compiler cannot recognise the loops and turn them back
//! into calls to themselves. The direction flag is clear by ABI (boot sets
//! it with `cld`); `memmove` sets it only around a backward copy.

use core::arch::asm;

/// # Safety
/// C `memcpy`: `n` bytes, valid, non-overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: caller contract.
    unsafe {
        asm!("rep movsb", inout("rcx") n => _, inout("rdi") dest => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
    dest
}

/// # Safety
/// C `memmove`: `n` bytes, valid, may overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // dest before src, or no overlap: a forward copy never reads a byte
        // it already overwrote.
        // SAFETY: caller contract.
        unsafe { memcpy(dest, src, n) };
    } else {
        // dest overlaps the end of src: copy backwards, last byte first.
        // SAFETY: caller contract; n > 0 here since the distance is < n.
        unsafe {
            asm!("std", "rep movsb", "cld",
                 inout("rcx") n => _, inout("rdi") dest.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
                 options(nostack));
        }
    }
    dest
}

/// # Safety
/// C `memset`: `n` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: caller contract.
    unsafe {
        asm!("rep stosb", inout("rcx") n => _, inout("rdi") dest => _, in("al") c as u8,
             options(nostack, preserves_flags));
    }
    dest
}

/// # Safety
/// C `memcmp`: `n` readable bytes on both sides.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: caller contract. Volatile keeps this a plain loop.
        let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

/// # Safety
/// C `bcmp`: as `memcmp`, only zero/non-zero matters.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: caller contract.
    unsafe { memcmp(a, b, n) }
}

// The prebuilt `core`/`alloc` for our target are compiled for unwinding, so
// some of their functions keep cleanup paths that name the unwinder. The
// guest builds with panic=abort and never starts an unwind, so these are
// unreachable; they exist only to satisfy the linker, and crash if reached.

/// # Safety
/// Never called: nothing in the guest unwinds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _Unwind_Resume() -> ! {
    crate::fatal::crash(format_args!("_Unwind_Resume called: unwinding is not supported"))
}

#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
