//! Hypercall numbers (xen.h `__HYPERVISOR_*`).
//!
//! On x86_64 a hypercall takes its number in `rax` and up to five arguments in
//! `rdi`, `rsi`, `rdx`, `r10`, `r8`; the hypercall page Xen fills holds one
//! 32-byte stub per number.

pub const MEMORY_OP: u32 = 12;
pub const XEN_VERSION: u32 = 17;
pub const CONSOLE_IO: u32 = 18;
pub const GRANT_TABLE_OP: u32 = 20;
pub const VCPU_OP: u32 = 24;
pub const SCHED_OP: u32 = 29;
pub const EVENT_CHANNEL_OP: u32 = 32;
pub const HVM_OP: u32 = 34;

/// Size of one stub in the hypercall page.
pub const STUB_SIZE: usize = 32;

/// `CONSOLEIO_write` (xen.h): write a buffer to Xen's own console. Xen only
/// honours it for unprivileged guests in debug builds, so it is a fallback.
pub const CONSOLEIO_WRITE: u32 = 0;
