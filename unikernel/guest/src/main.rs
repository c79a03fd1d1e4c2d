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
//! the Xen self-test and powers off; `netcheck[=OURS/PEER]` ARPs for the
//! peer on every vif and reports; `quiet-debugcon` stops port 0xe9 output
//! once the PV console works; `test-fault`, `test-panic` and
//! `test-stack-overflow` crash on purpose.
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
mod net;
mod netcheck;
mod platform;
mod routers;
mod selftest;
mod xen;

use alloc::string::String;

use boot_info::BootInfo;
use oxclick_unikernel::abi::event_channel::EVTCHNSTAT_UNBOUND;
use oxclick_unikernel::abi::{DOMID_SELF, DomId, EvtchnPort};
use oxclick_unikernel::xenstore::{Error as XsError, NO_TX, WatchEvent};
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

    match xen_cpuid {
        None => bare_main(&boot),
        Some(cpuid) => xen_main(cpuid, &boot),
    }
}

/// Deliberate failures, so tests can check that crashes are visible:
/// `test-fault` touches unmapped memory, `test-panic` panics,
/// `test-stack-overflow` runs off the boot stack.
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
    if boot.has_flag("test-stack-overflow") {
        log!("oxclick: test-stack-overflow: recursing");
        log!("oxclick: test-stack-overflow: returned {}?", recurse(0));
    }
}

/// Unbounded recursion with a real frame (for `test-stack-overflow`).
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 32]);
    if core::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[depth as usize % 32])
}

/// No hypervisor: we run under plain QEMU. Check what can be checked
/// without Xen and exit QEMU with the result.
fn bare_main(boot: &BootInfo) -> ! {
    test_hooks(boot);
    log!("oxclick: no Xen hypervisor (CPUID 0x40000000 has no XenVMMXenVMM signature)");
    match selftest::runtime_basics() {
        Ok(()) => {
            log!("oxclick: runtime checks PASS");
            routers::run_bare();
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
    pub net: net::Net,
    /// How many times the domain was restored from a saved image.
    pub resumes: u64,
    /// A port bound to nothing, kept to tell a cancelled suspend from a
    /// restore: see [`Domain::still_the_same_domain`].
    pub suspend_marker: Option<EvtchnPort>,
}

impl Domain {
    /// After `SCHEDOP_shutdown(suspend)` returned: true when this is still the
    /// domain that suspended (the save failed or was cancelled), false when it
    /// is a new one restored from the image. Xen says so in the hypercall's
    /// return value only for guests with an HVM callback IRQ (libxc's
    /// `modify_returncode`), and we poll with none; so we look for the port we
    /// allocated at boot: a restored domain has no such port, or one the
    /// toolstack made for dom0, never one waiting for us.
    fn still_the_same_domain(&self) -> bool {
        let Some(port) = self.suspend_marker else { return false };
        matches!(self.xen.evtchn_status(port), Ok((EVTCHNSTAT_UNBOUND, remote)) if remote == self.domid)
    }

    /// One turn of the event loop: [`Self::service`], then [`Self::sleep`].
    pub fn run_once(&mut self, deadline: u64, on_packet: &mut dyn FnMut(usize, &[u8])) {
        for event in self.service(on_packet) {
            log!("oxclick: unexpected watch event {} ({})", event.path, event.token);
        }
        self.sleep(deadline);
    }

    /// Handle watch events (shutdown requests, backend state changes) and
    /// hand received packets to `on_packet(vif position, frame)`. Returns the
    /// watch events that are someone else's (the routers').
    pub fn service(&mut self, on_packet: &mut dyn FnMut(usize, &[u8])) -> alloc::vec::Vec<WatchEvent> {
        let mut others = alloc::vec::Vec::new();
        // Watch events may already sit in the client's queue (read while
        // waiting for a reply), so look there before sleeping.
        loop {
            match self.xs.next_watch_event(false) {
                Ok(Some(event)) if event.token == SHUTDOWN_TOKEN => check_shutdown(self),
                Ok(Some(event)) => {
                    let mut platform = net::GuestPlatform { xen: self.xen, grants: &mut self.grants };
                    if !self.net.on_watch(&event.token, &mut self.xs, &mut platform) {
                        others.push(event);
                    }
                }
                Ok(None) => break,
                Err(e) => fatal::crash(format_args!("xenstore: {e}")),
            }
        }
        let mut platform = net::GuestPlatform { xen: self.xen, grants: &mut self.grants };
        self.net.receive(&mut platform, |vif, frame| on_packet(vif, frame));
        others
    }

    /// Sleep until an event channel of ours fires or Xen system time
    /// reaches `deadline`.
    pub fn sleep(&mut self, deadline: u64) {
        // Events read while some call waited for its reply (a router's
        // handler answer, a vif's handshake) sit in the client's queue, and
        // their notification is long consumed: sleeping now would leave them
        // until the deadline (a vif's "connected" waited a whole second so).
        if self.xs.has_queued_events() {
            return;
        }
        let mut ports: alloc::vec::Vec<u32> = self.net.ports().collect();
        let xs_port = self.xs.transport().port();
        ports.push(xs_port);
        self.xen.poll(&ports, deadline);
        self.xen.take_pending(xs_port);
    }

    /// Put a frame on vif position `vif`'s ring (sent at the next [`Self::flush`]).
    pub fn queue(&mut self, vif: usize, frame: &[u8]) -> Result<(), oxclick_unikernel::netfront::NetError> {
        self.net.queue(vif, frame)
    }

    /// Tell vif position `vif`'s backend about the frames queued.
    pub fn flush(&mut self, vif: usize) {
        let mut platform = net::GuestPlatform { xen: self.xen, grants: &mut self.grants };
        self.net.flush(vif, &mut platform);
    }

    /// Send a frame on vif position `vif`.
    pub fn send(&mut self, vif: usize, frame: &[u8]) -> Result<(), oxclick_unikernel::netfront::NetError> {
        let mut platform = net::GuestPlatform { xen: self.xen, grants: &mut self.grants };
        self.net.send(vif, frame, &mut platform)
    }
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
    // After the console, so the crash report reaches xenconsoled's log too.
    test_hooks(boot);

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
    advertise_control(&mut xs);

    let mut grants = grants;
    let net = net::Net::start(&mut xs, &mut net::GuestPlatform { xen, grants: &mut grants });
    let mut domain = Domain { xen, xs, domid, grants, net, resumes: 0, suspend_marker: suspend_marker(xen) };

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

    let mut responder = None;
    if boot.has_flag("netcheck") || boot.option("netcheck").is_some() {
        match netcheck::run(&mut domain, boot.option("netcheck")) {
            Ok(()) => log!("oxclick: netcheck PASS"),
            Err(e) => {
                log!("oxclick: netcheck FAIL: {e}");
                finish(Outcome::Crash);
            }
        }
        responder = netcheck::Responder::from_spec(boot.option("netcheck"));
    }

    log!("oxclick: ready");
    match responder {
        // After a network check: answer ARP and ping, as the check promised.
        Some(_) => event_loop(&mut domain, responder),
        None => routers::run(&mut domain),
    }
}

/// Wait for events until the toolstack asks us to stop. Received packets
/// are dropped until the element runtime consumes them, except that after a
/// network check the guest answers ARP and ping for its address.
fn event_loop(domain: &mut Domain, mut responder: Option<netcheck::Responder>) -> ! {
    let mut replies: alloc::vec::Vec<(usize, alloc::vec::Vec<u8>)> = alloc::vec::Vec::new();
    let mut last_report = (0, 0);
    // The set of vifs is fixed once the guest is up.
    let macs: alloc::vec::Vec<[u8; 6]> = domain.net.vifs.iter().map(|v| v.node.mac).collect();
    loop {
        let deadline = domain.xen.now_ns() + 10_000_000_000;
        let others = domain.service(&mut |vif, frame| {
            if let Some(reply) = responder.as_mut().and_then(|r| r.answer(macs[vif], frame)) {
                replies.push((vif, reply));
            }
        });
        for event in others {
            log!("oxclick: unexpected watch event {} ({})", event.path, event.token);
        }
        // Send before sleeping: a reply must not wait for the next event.
        for (vif, reply) in replies.drain(..) {
            if let Err(e) = domain.send(vif, &reply) {
                log!("oxclick: vif{vif}: reply dropped: {e}");
            }
        }
        if let Some(r) = &responder {
            let now = (r.arp_replies, r.echo_replies);
            // First of each kind, then every 1000 pings: a ping flood must
            // not turn into a log flood.
            let first = (now.0 > 0 && last_report.0 == 0) || (now.1 > 0 && last_report.1 == 0);
            if first || now.1 >= last_report.1 + 1000 {
                log!("oxclick: answered {} ARP requests, {} pings", now.0, now.1);
                last_report = now;
            }
        }
        domain.sleep(deadline);
    }
}

/// A port that waits for this domain itself, for
/// [`Domain::still_the_same_domain`]: at boot, and anew after each restore.
fn suspend_marker(xen: &Xen) -> Option<EvtchnPort> {
    match xen.evtchn_alloc_unbound(DOMID_SELF) {
        Ok(port) => Some(port),
        Err(rc) => {
            log!("oxclick: no suspend marker port (error {rc}): a cancelled xl save will look like a restore");
            None
        }
    }
}

/// Tell the toolstack which `control/shutdown` requests we handle.
fn advertise_control(xs: &mut Xenstore) {
    for feature in ["control/feature-poweroff", "control/feature-reboot", "control/feature-suspend"] {
        let _ = xs.write(NO_TX, feature, b"1");
    }
}

/// `xl save` (and `xl migrate`) asked us to suspend: do, and when the domain
/// runs again as a restored one, map and connect everything Xen gave the new
/// domain (shared info, grant table, event channels, xenstore, console, vifs).
/// Memory is the old domain's, so the routers and their state go on as they were.
fn suspend_and_resume(domain: &mut Domain) {
    log!("oxclick: suspending");
    console::flush();
    let rc = xen::suspend();
    if rc != 0 || domain.still_the_same_domain() {
        // The save failed or was cancelled (or this was a checkpoint): same
        // domain, same everything. Connecting again would fail (our watches
        // exist) and crash the guest the toolstack has just resumed.
        return log!("oxclick: suspend cancelled ({rc}); going on as domain {}", domain.domid);
    }
    if let Err(rc) = domain.xen.resumed() {
        fatal::crash(format_args!("restored, but cannot map the shared info page: error {rc}"));
    }
    if let Some(pv) = xen::console::XenConsole::connect(domain.xen) {
        console::attach_xen_console(pv);
    }
    if let Err(rc) = xen::grant::resumed(&mut domain.grants) {
        fatal::crash(format_args!("restored, but cannot map the grant table: error {rc}"));
    }
    if let Err(e) = domain.xs.transport().resumed() {
        fatal::crash(format_args!("restored, but xenstore: {e}"));
    }
    // The vifs' backends have new paths (they name the new domain): they watch
    // those themselves below.
    for vif in &domain.net.vifs {
        domain.xs.forget_watches(vif.token());
    }
    if let Err(e) = domain.xs.reconnected() {
        fatal::crash(format_args!("restored, but cannot watch xenstore again: {e}"));
    }
    domain.domid = match xen::detect().and_then(|c| c.domid) {
        Some(id) => id,
        None => domain.xs.read_u32(NO_TX, "domid").map_or(domain.domid, |id| id as DomId),
    };
    // The new domain's marker, for its own next suspend.
    domain.suspend_marker = suspend_marker(domain.xen);
    advertise_control(&mut domain.xs);
    for vif in &mut domain.net.vifs {
        let mut platform = net::GuestPlatform { xen: domain.xen, grants: &mut domain.grants };
        if let Err(e) = vif.reconnect(&mut domain.xs, &mut platform) {
            log!("oxclick: vif{}: cannot reconnect after the restore: {e}", vif.node.index);
        }
    }
    domain.resumes += 1;
    log!("oxclick: resumed as domain {} (restore {})", domain.domid, domain.resumes);
}

/// The toolstack writes `control/shutdown` (`xl shutdown`, `xl reboot`, `xl save`).
/// Acknowledge by clearing the node, then act.
fn check_shutdown(domain: &mut Domain) {
    let request = match domain.xs.read_string(NO_TX, "control/shutdown") {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return,
        Err(e) => return log!("oxclick: cannot read control/shutdown: {e}"),
    };
    let outcome = match request.trim() {
        "" => return,
        "suspend" => {
            let _ = domain.xs.write(NO_TX, "control/shutdown", b"");
            return suspend_and_resume(domain);
        }
        "poweroff" | "halt" => Outcome::Poweroff,
        "reboot" => Outcome::Reboot,
        other => {
            log!("oxclick: ignoring unsupported shutdown request \"{other}\"");
            let _ = domain.xs.write(NO_TX, "control/shutdown", b"");
            return;
        }
    };
    let _ = domain.xs.write(NO_TX, "control/shutdown", b"");
    // What the vifs did, for whoever reads the console log afterwards.
    for vif in &domain.net.vifs {
        let st = vif.net.stats();
        log!(
            "oxclick: vif{}: rx {} packets ({} dropped, {} errors), tx {} packets ({} errors), {} bogus responses",
            vif.node.index,
            st.rx_packets,
            st.rx_dropped,
            st.rx_errors,
            st.tx_packets,
            st.tx_errors,
            st.bogus_responses
        );
    }
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
