//! PVH entry: from 32-bit protected mode to 64-bit Rust.
//!
//! Xen (or QEMU's PVH loader) starts the domain at the address in the
//! `XEN_ELFNOTE_PHYS32_ENTRY` note with paging off, flat 32-bit segments,
//! interrupts off and `ebx` holding the physical address of `hvm_start_info`.
//! From there:
//!
//! 1. clear .bss (loaders zero it, but nothing says they must);
//! 2. build page tables that identity-map the low 4 GiB with 2 MiB pages:
//!    RAM, the image, and the Xen special pages (xenstore, console) that sit
//!    just below 4 GiB, all at their physical addresses. No NX. One hole: an
//!    unmapped guard page below the boot stack (its 2 MiB region is mapped
//!    with 4 KiB pages), so a stack overflow faults;
//! 3. enable PAE, long mode, paging, and SSE (the compiler's target uses SSE
//!    registers freely, so they must work before any Rust runs);
//! 4. load a GDT with a 64-bit code segment and jump to 64-bit code;
//! 5. switch to the boot stack and call `oxclick_main(start_info_paddr)`.
//!
//! Nothing here takes interrupts, ever: IF stays clear for the guest's whole
//! life, so the System V red zone below the stack pointer is never clobbered.

core::arch::global_asm!(
    r#"
    /* XEN_ELFNOTE_PHYS32_ENTRY (18): where the domain starts, in 32-bit mode. */
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz: "Xen\0" */
    .long 4                 /* descsz */
    .long 18                /* type */
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4
    .popsection

    .pushsection .text.boot, "ax", @progbits
    .code32
    .globl pvh_start32
pvh_start32:
    cld
    cli
    mov %ebx, %esi                  /* keep hvm_start_info's address */

    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    /* PML4[0] -> PDPT */
    mov $boot_pdpt, %eax
    or $0x3, %eax                   /* present, writable */
    mov %eax, boot_pml4

    /* PDPT[0..4] -> four page directories, 1 GiB each */
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $boot_pd, %eax
    or $0x3, %eax
    mov %eax, boot_pdpt(,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jb 1b

    /* PD entries 0..2048: entry i maps physical i * 2 MiB. The addresses
       stay below 4 GiB, so the high halves remain zero from the bss clear. */
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                  /* present, writable, 2 MiB page */
    mov %eax, boot_pd(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jb 2b

    /* The 2 MiB region holding the stack's guard page gets 4 KiB pages,
       all mapped except the guard, so running off the stack faults
       instead of silently overwriting whatever lies below it. */
    mov $boot_stack_guard, %edx
    shr $21, %edx                   /* page directory index of that region */
    xor %ecx, %ecx
3:  mov %edx, %eax
    shl $21, %eax                   /* region base */
    mov %ecx, %ebx
    shl $12, %ebx
    add %ebx, %eax                  /* + i * 4 KiB */
    or $0x3, %eax                   /* present, writable */
    mov %eax, boot_pt(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jb 3b
    mov $boot_stack_guard, %eax
    shr $12, %eax
    and $511, %eax
    movl $0, boot_pt(,%eax,8)       /* the guard: not present */
    mov $boot_pt, %eax
    or $0x3, %eax
    mov %eax, boot_pd(,%edx,8)

    mov $boot_pml4, %eax
    mov %eax, %cr3

    mov %cr4, %eax
    or $((1 << 5) | (1 << 9) | (1 << 10)), %eax     /* PAE, OSFXSR, OSXMMEXCPT */
    mov %eax, %cr4

    mov $0xC0000080, %ecx           /* EFER */
    rdmsr
    or $(1 << 8), %eax              /* LME */
    wrmsr

    mov %cr0, %eax
    and $~((1 << 2) | (1 << 3)), %eax                /* clear EM, TS */
    or $((1 << 31) | (1 << 1) | (1 << 0)), %eax      /* PG, MP, PE */
    mov %eax, %cr0

    lgdt boot_gdt_ptr32
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs

    lea boot_stack_top(%rip), %rsp  /* 16-byte aligned: the call below makes it 16n+8 */
    xor %ebp, %ebp
    fninit
    mov %esi, %edi                  /* oxclick_main(start_info_paddr) */
    call oxclick_main
3:  ud2
    jmp 3b
    .popsection

    /* The GDT: null, 64-bit code (0x08), data (0x10), and a 16-byte TSS
       descriptor (0x18) that traps::init fills in. Writable, hence .data. */
    .pushsection .data.boot_gdt, "aw", @progbits
    .balign 16
    .globl boot_gdt
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0
    .quad 0
boot_gdt_end:
    /* lgdt operand for 32-bit mode: limit, 32-bit base. */
boot_gdt_ptr32:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .popsection

    .pushsection .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
boot_pt:
    .skip 4096
    .globl boot_stack_guard
boot_stack_guard:
    .skip 4096
    .globl boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .globl boot_stack_top
boot_stack_top:
    .popsection
"#,
    options(att_syntax)
);
