//! oxclick's Xen PVH guest.
//!
//! Boot (`arch::boot`) drops us into [`oxclick_main`] in 64-bit mode with the
//! physical address of `hvm_start_info`. From there: exceptions, memory map,
//! heap; then either
//! - no Xen (plain QEMU, for bring-up): check the runtime basics, log, exit
//!   QEMU through isa-debug-exit; or
//! - Xen: hypercall page, shared info, PV console, xenstore, grant table,
//!   shutdown watch, then the event loop until the toolstack asks us to stop.
//!
//! Output: every log line goes to port 0xe9 (Xen's `xl dmesg` / QEMU's
//! debugcon) and, under Xen, to the PV console. Lines that tests look for:
//! `oxclick: ready`, `oxclick: selftest PASS`/`FAIL ...`,
//! `oxclick: shutdown (reason)`, `oxclick: FATAL: ...`.
//!
//! Command line (xl `cmdline=`/`extra=`, QEMU `-append`): `selftest` runs
//! the Xen self-test and powers off; `quiet-debugcon` stops port 0xe9 output
//! once the PV console works; `test-fault` and `test-panic` crash on purpose.
//!
//! Exit status: under Xen, SCHEDOP_shutdown poweroff (normal) or crash;
//! under QEMU with isa-debug-exit, status 33 (normal) or 35 (crash).

#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod boot_info;
mod console;
mod fatal;
mod global;
mod heap;
mod libc;
mod platform;
mod selftest;
mod xen;

use alloc::string::String;

use boot_info::BootInfo;
use oxclick_unikernel::abi::DomId;
use oxclick_unikernel::xenstore::{Error as XsError, NO_TX};
use platform::Outcome;
use xen::Xen;
use xen::store::Xenstore;

#[unsafe(no_mangle)]
extern "C" fn oxclick_main(start_info_paddr: u64) -> ! {
    arch::traps::init();
    log!("oxclick: PVH guest starting");

    // SAFETY: first and only read, before anything could overwrite loader memory.
    let boot = match unsafe { BootInfo::read(start_info_paddr) } {
        Ok(boot) => boot,
        Err(e) => fatal::crash(format_args!("hvm_start_info at {start_info_paddr:#x}: {e}")),
    };
    let xen_cpuid = xen::detect();

    let mut fallback_map = [Default::default(); 32];
    let map = if !boot.memmap().is_empty() {
        boot.memmap()
    } else if xen_cpuid.is_some() {
        // Old loaders give no memory map in start info; Xen can tell us.
        xen::hypercall::init(xen_cpuid.unwrap().base);
        let n = xen::memory_map(&mut fallback_map);
        &fallback_map[..n]
    } else {
        fatal::crash(format_args!("no memory map (start info version {})", boot.start_info.version))
    };
    let regions = heap::init(map, boot.reserved());
    let (image_start, image_end) = heap::image_range();
    log!(
        "oxclick: image {:#x}-{:#x} ({} KiB), heap {} KiB in {} regions, cmdline \"{}\"",
        image_start,
        image_end,
        (image_end - image_start) / 1024,
        regions.total() / 1024,
        regions.as_slice().len(),
        boot.cmdline()
    );

    test_hooks(&boot);
    match xen_cpuid {
        None => bare_main(&boot),
        Some(cpuid) => xen_main(cpuid, &boot),
    }
}

/// Deliberate failures, so tests can check that crashes are visible:
/// `test-fault` touches unmapped memory, `test-panic` panics.
fn test_hooks(boot: &BootInfo) {
    if boot.has_flag("test-fault") {
        log!("oxclick: test-fault: reading unmapped memory");
        // SAFETY: deliberately not: this faults, and the fault handler crashes the domain.
        let v = unsafe { core::ptr::read_volatile(0x0000_0010_0000_0000u64 as *const u64) };
        log!("oxclick: test-fault: read {v} without a fault?");
    }
    if boot.has_flag("test-panic") {
        panic!("test-panic requested on the command line");
    }
}

/// No hypervisor: we run under plain QEMU. Check what can be checked
/// without Xen and exit QEMU with the result.
fn bare_main(_boot: &BootInfo) -> ! {
    log!("oxclick: no Xen hypervisor (CPUID 0x40000000 has no XenVMMXenVMM signature)");
    match selftest::runtime_basics() {
        Ok(()) => {
            log!("oxclick: runtime checks PASS");
            log!("oxclick: exiting (no Xen)");
            platform::stop(Outcome::Poweroff)
        }
        Err(e) => fatal::crash(format_args!("runtime checks FAIL: {e}")),
    }
}

/// What the guest learned while bringing Xen up.
pub struct Domain {
    pub xen: &'static Xen,
    pub xs: Xenstore,
    pub domid: DomId,
    pub grants: oxclick_unikernel::grant::Grants,
}

/// Token of the `control/shutdown` watch.
const SHUTDOWN_TOKEN: &str = "oxclick-shutdown";
/// How many grant frames to map at boot (512 grants each).
const GRANT_FRAMES: u32 = 4;

fn xen_main(cpuid: xen::XenCpuid, boot: &BootInfo) -> ! {
    let xen = match xen::init(cpuid) {
        Ok(xen) => xen,
        Err(rc) => fatal::crash(format_args!("cannot map the shared info page: error {rc}")),
    };
    let extra = xen.extra_version();
    let extra = core::str::from_utf8(&extra).unwrap_or("").trim_end_matches('\0');
    log!(
        "oxclick: Xen {}.{}{} (CPUID leaves at {:#x}), TSC {} MHz, system time {} ms",
        cpuid.version.0,
        cpuid.version.1,
        extra,
        cpuid.base,
        xen.tsc_hz() / 1_000_000,
        xen.now_ns() / 1_000_000
    );

    match xen::console::XenConsole::connect(xen) {
        Some(pv) => {
            console::attach_xen_console(pv);
            log!("oxclick: PV console attached");
            if boot.has_flag("quiet-debugcon") {
                console::set_debugcon(false);
            }
        }
        None => log!("oxclick: no PV console; logging to port 0xe9 only"),
    }

    let mut xs = match xen::store::connect(xen) {
        Ok(xs) => xs,
        Err(e) => fatal::crash(format_args!("xenstore: {e}")),
    };
    let domid = match cpuid.domid {
        Some(id) => id,
        None => match xs.read_u32(NO_TX, "domid") {
            Ok(id) => id as DomId,
            Err(e) => fatal::crash(format_args!("cannot learn our domid: {e}")),
        },
    };
    let name = xs.read_string(NO_TX, "name").unwrap_or_else(|_| String::from("?"));
    log!("oxclick: domain {domid} ({name}), xenstore connected");

    let grants = match xen::grant::init(xen, GRANT_FRAMES) {
        Ok(g) => g,
        Err(rc) => fatal::crash(format_args!("cannot map the grant table: error {rc}")),
    };
    log!("oxclick: grant table mapped, {} references free", grants.available());

    if let Err(e) = xs.watch("control/shutdown", SHUTDOWN_TOKEN) {
        fatal::crash(format_args!("cannot watch control/shutdown: {e}"));
    }
    // Tell the toolstack we handle PV shutdown requests.
    for feature in ["control/feature-poweroff", "control/feature-reboot"] {
        let _ = xs.write(NO_TX, feature, b"1");
    }

    let mut domain = Domain { xen, xs, domid, grants };
    if boot.has_flag("selftest") {
        let outcome = match selftest::xen(&mut domain) {
            Ok(()) => {
                log!("oxclick: selftest PASS");
                Outcome::Poweroff
            }
            Err(e) => {
                log!("oxclick: selftest FAIL: {e}");
                Outcome::Crash
            }
        };
        finish(outcome);
    }

    log!("oxclick: ready");
    event_loop(&mut domain)
}

/// Wait for events until the toolstack asks us to stop.
fn event_loop(domain: &mut Domain) -> ! {
    let xs_port = domain.xs.transport().port();
    loop {
        // Watch events may already sit in the client's queue (read while
        // waiting for a reply), so look there before and after sleeping.
        loop {
            match domain.xs.next_watch_event(false) {
                Ok(Some(event)) if event.token == SHUTDOWN_TOKEN => check_shutdown(domain),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => fatal::crash(format_args!("xenstore: {e}")),
            }
        }
        let deadline = domain.xen.now_ns() + 10_000_000_000;
        domain.xen.poll(&[xs_port], deadline);
        domain.xen.take_pending(xs_port);
    }
}

/// The toolstack writes `control/shutdown` (`xl shutdown`, `xl reboot`).
/// Acknowledge by clearing the node, then act.
fn check_shutdown(domain: &mut Domain) {
    let request = match domain.xs.read_string(NO_TX, "control/shutdown") {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return,
        Err(e) => return log!("oxclick: cannot read control/shutdown: {e}"),
    };
    let outcome = match request.trim() {
        "" => return,
        "poweroff" | "halt" => Outcome::Poweroff,
        "reboot" => Outcome::Reboot,
        other => {
            log!("oxclick: ignoring unsupported shutdown request \"{other}\"");
            let _ = domain.xs.write(NO_TX, "control/shutdown", b"");
            return;
        }
    };
    let _ = domain.xs.write(NO_TX, "control/shutdown", b"");
    log!("oxclick: shutdown ({})", request.trim());
    finish(outcome)
}

fn finish(outcome: Outcome) -> ! {
    console::flush();
    platform::stop(outcome)
}

/// Report an xenstore failure with context.
pub fn xs_context(what: &str, e: XsError) -> String {
    alloc::format!("{what}: {e}")
}
