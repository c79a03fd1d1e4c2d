//! The crash path: panics and CPU exceptions end here. Log the reason, then
//! stop the domain in a way the outside can see: `SCHEDOP_shutdown(crash)`
//! under Xen (the toolstack applies `on_crash`), a failing exit code under
//! QEMU. A fault while crashing skips straight to the stop.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

static CRASHING: AtomicBool = AtomicBool::new(false);

pub fn crash(reason: fmt::Arguments<'_>) -> ! {
    if !CRASHING.swap(true, Ordering::SeqCst) {
        crate::log!("oxclick: FATAL: {}", reason);
        crate::console::flush();
    }
    crate::platform::stop(crate::platform::Outcome::Crash)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crash(format_args!("{info}"))
}
