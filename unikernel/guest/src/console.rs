//! Log output. Every line goes to the debug port 0xe9 (under Xen it lands in
//! the hypervisor's log, `xl dmesg`, with `guest_loglvl=all`; under QEMU in
//! the isa-debugcon chardev) and, once the Xen console ring is up, to the PV
//! console too (xenconsoled's log). Both are byte sinks; nothing is buffered
//! in the guest, so a crash loses nothing already logged.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::cpu::outb;
use crate::global::Global;
use crate::xen::console::XenConsole;

const DEBUGCON_PORT: u16 = 0xe9;

static DEBUGCON: AtomicBool = AtomicBool::new(true);
static XEN_CONSOLE: Global<XenConsole> = Global::new();

/// Route output to the Xen PV console as well.
pub fn attach_xen_console(console: XenConsole) {
    XEN_CONSOLE.set(console);
}

/// Stop writing to port 0xe9 (each byte is a VM exit under Xen).
pub fn set_debugcon(enabled: bool) {
    DEBUGCON.store(enabled, Ordering::Relaxed);
}

pub fn write_bytes(bytes: &[u8]) {
    if DEBUGCON.load(Ordering::Relaxed) {
        for &b in bytes {
            outb(DEBUGCON_PORT, b);
        }
    }
    XEN_CONSOLE.with(|c| c.write(bytes));
}

/// Wait (briefly) until the console daemon has taken everything written.
pub fn flush() {
    XEN_CONSOLE.with(|c| c.flush());
}

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

pub fn print(args: fmt::Arguments<'_>) {
    let _ = Console.write_fmt(args);
}

/// Log one line.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
