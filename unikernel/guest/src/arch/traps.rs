//! CPU exceptions: report and crash, never resume.
//!
//! The guest takes no interrupts, but a bug can still fault (page fault,
//! invalid opcode, a `ud2` from an unreachable path). Without an IDT that
//! would triple-fault and, under Xen, reboot the domain in a loop with no
//! word of why. So every exception vector gets a gate that switches to a
//! dedicated stack (IST1, via the TSS: the faulting stack may be the problem,
//! and its red zone must not be overwritten), records the vector, and calls
//! [`oxclick_exception`], which logs the machine state and crashes the domain.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

global_asm!(
    r#"
    /* One stub per vector. The CPU pushes an error code for some vectors
       only; the others push a zero so the frame always looks the same:
       vector, error, rip, cs, rflags, rsp, ss. */
    .macro EXC_STUB n, has_error
    .balign 16
exc_stub_\n:
    .if \has_error == 0
    push $0
    .endif
    push $\n
    jmp exc_common
    .endm

    .pushsection .text.exceptions, "ax", @progbits
    EXC_STUB 0,0
    EXC_STUB 1,0
    EXC_STUB 2,0
    EXC_STUB 3,0
    EXC_STUB 4,0
    EXC_STUB 5,0
    EXC_STUB 6,0
    EXC_STUB 7,0
    EXC_STUB 8,1
    EXC_STUB 9,0
    EXC_STUB 10,1
    EXC_STUB 11,1
    EXC_STUB 12,1
    EXC_STUB 13,1
    EXC_STUB 14,1
    EXC_STUB 15,0
    EXC_STUB 16,0
    EXC_STUB 17,1
    EXC_STUB 18,0
    EXC_STUB 19,0
    EXC_STUB 20,0
    EXC_STUB 21,1
    EXC_STUB 22,0
    EXC_STUB 23,0
    EXC_STUB 24,0
    EXC_STUB 25,0
    EXC_STUB 26,0
    EXC_STUB 27,0
    EXC_STUB 28,0
    EXC_STUB 29,1
    EXC_STUB 30,1
    EXC_STUB 31,0

exc_common:
    mov %rsp, %rdi                  /* &ExceptionFrame */
    and $-16, %rsp                  /* ABI alignment at the call */
    call oxclick_exception
1:  ud2
    jmp 1b
    .popsection

    .pushsection .rodata.exception_stubs, "a", @progbits
    .balign 8
    .globl exception_stubs
exception_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exc_stub_\n
    .endr
    .popsection
"#,
    options(att_syntax)
);

unsafe extern "C" {
    static exception_stubs: [u64; 32];
    static mut boot_gdt: [u64; 5];
    static boot_stack_guard: u8;
}

/// What the stub and the CPU left on the exception stack.
#[repr(C)]
pub struct ExceptionFrame {
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// 64-bit TSS: only IST1 is used.
#[repr(C, packed(4))]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

const _: () = assert!(core::mem::size_of::<Tss>() == 104);

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

const EXCEPTION_STACK_SIZE: usize = 16384;

#[repr(C, align(16))]
struct ExceptionStack([u8; EXCEPTION_STACK_SIZE]);

/// Written once, by `init`, before any exception can be taken.
struct TrapState {
    tss: Tss,
    idt: [Gate; 32],
}

struct Cell<T>(UnsafeCell<T>);
// SAFETY: one vcpu; only `init` writes, the CPU reads.
unsafe impl<T> Sync for Cell<T> {}

static STATE: Cell<TrapState> = Cell(UnsafeCell::new(TrapState {
    tss: Tss { reserved0: 0, rsp: [0; 3], reserved1: 0, ist: [0; 7], reserved2: 0, reserved3: 0, iomap_base: 104 },
    idt: [Gate { offset_low: 0, selector: 0, ist: 0, type_attr: 0, offset_mid: 0, offset_high: 0, reserved: 0 }; 32],
}));

/// All zero, so it lands in .bss and costs nothing in the image.
static STACK: Cell<ExceptionStack> = Cell(UnsafeCell::new(ExceptionStack([0; EXCEPTION_STACK_SIZE])));

const CODE_SELECTOR: u16 = 0x08;
const TSS_SELECTOR: u16 = 0x18;
/// Present, DPL 0, 64-bit interrupt gate (interrupts stay disabled in the handler).
const INTERRUPT_GATE: u8 = 0x8E;

/// Install the TSS and the IDT. Call first thing after boot.
pub fn init() {
    // SAFETY: runs once at boot on the only vcpu, before anything else uses
    // STATE or the GDT's TSS slot.
    unsafe {
        let state = &mut *STATE.0.get();
        let stack_top = STACK.0.get() as u64 + EXCEPTION_STACK_SIZE as u64;
        state.tss.ist[0] = stack_top;
        let stubs = &exception_stubs;
        for (gate, &stub) in state.idt.iter_mut().zip(stubs.iter()) {
            *gate = Gate {
                offset_low: stub as u16,
                selector: CODE_SELECTOR,
                ist: 1,
                type_attr: INTERRUPT_GATE,
                offset_mid: (stub >> 16) as u16,
                offset_high: (stub >> 32) as u32,
                reserved: 0,
            };
        }

        // The 16-byte TSS descriptor in GDT slots 3 and 4: available 64-bit TSS (type 9).
        let base = (&raw const state.tss) as u64;
        let limit = (core::mem::size_of::<Tss>() - 1) as u64;
        let low = (limit & 0xFFFF)
            | ((base & 0xFF_FFFF) << 16)
            | (0x89 << 40)
            | (((limit >> 16) & 0xF) << 48)
            | (((base >> 24) & 0xFF) << 56);
        let gdt = &raw mut boot_gdt;
        (*gdt)[3] = low;
        (*gdt)[4] = base >> 32;

        #[repr(C, packed)]
        struct Pointer {
            limit: u16,
            base: u64,
        }
        let gdt_ptr = Pointer { limit: (5 * 8 - 1) as u16, base: gdt as u64 };
        let idt_ptr = Pointer { limit: (32 * 16 - 1) as u16, base: (&raw const state.idt) as u64 };
        asm!(
            "lgdt [{gdt}]",
            "ltr {tss:x}",
            "lidt [{idt}]",
            gdt = in(reg) &raw const gdt_ptr,
            idt = in(reg) &raw const idt_ptr,
            tss = in(reg) TSS_SELECTOR,
            options(nostack, preserves_flags),
        );
    }
}

fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "NMI",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack fault",
        13 => "general protection",
        14 => "page fault",
        16 => "x87 floating point",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating point",
        _ => "reserved",
    }
}

/// Called by the stubs on the exception stack. Reports and crashes.
#[unsafe(no_mangle)]
extern "C" fn oxclick_exception(frame: &ExceptionFrame) -> ! {
    let cr2 = if frame.vector == 14 { super::cpu::cr2() } else { 0 };
    let guard = &raw const boot_stack_guard as u64;
    let name = if frame.vector == 14 && (guard..guard + 4096).contains(&cr2) {
        "stack overflow: page fault on the stack guard page"
    } else {
        exception_name(frame.vector)
    };
    crate::fatal::crash(format_args!(
        "CPU exception {} ({}) error={:#x} rip={:#x} rsp={:#x} rflags={:#x} cr2={:#x}",
        name, frame.vector, frame.error, frame.rip, frame.rsp, frame.rflags, cr2
    ))
}
