//! How the guest ends: the same call under Xen and under plain QEMU.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::cpu;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Finished normally.
    Poweroff,
    Reboot,
    /// Something went wrong: the outside should notice.
    Crash,
}

static ON_XEN: AtomicBool = AtomicBool::new(false);

/// Called once the hypercall page works.
pub fn set_xen() {
    ON_XEN.store(true, Ordering::SeqCst);
}

pub fn on_xen() -> bool {
    ON_XEN.load(Ordering::SeqCst)
}

/// QEMU's isa-debug-exit device (`-device isa-debug-exit,iobase=0xf4,iosize=4`):
/// writing v makes QEMU exit with status (v << 1) | 1.
const QEMU_EXIT_PORT: u16 = 0xf4;
/// QEMU exit status 33.
pub const QEMU_EXIT_SUCCESS: u32 = 0x10;
/// QEMU exit status 35.
pub const QEMU_EXIT_FAILURE: u32 = 0x11;

/// Stop the domain. Under Xen: SCHEDOP_shutdown with the matching reason.
/// Without Xen: exit QEMU through isa-debug-exit, or halt if it is absent.
pub fn stop(outcome: Outcome) -> ! {
    if on_xen() {
        crate::xen::shutdown(outcome);
    } else {
        cpu::outl(QEMU_EXIT_PORT, if outcome == Outcome::Crash { QEMU_EXIT_FAILURE } else { QEMU_EXIT_SUCCESS });
    }
    cpu::halt_forever()
}
