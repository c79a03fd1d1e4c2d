//! The guest's routers: the oxclick runtime fed by netfront and controlled
//! through xenstore in ClickOS's layout (the library's `clickos` module does
//! the protocol; this is the platform glue).
//!
//! A configuration embedded in the image (`oxclick image --embed`) becomes
//! router 0 at boot; any router can be installed, started, stopped, inspected
//! and hot-swapped through xenstore (`oxclick ctl`, or ClickOS's tools).

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

use alloc::string::String;

use oxclick_runtime::{Clock, DeviceInfo, Router, RouterOptions, SimClock};
use oxclick_unikernel::clickos::{Platform, Routers, WATCH_TOKEN};
use oxclick_unikernel::embedded;
use oxclick_unikernel::netfront::NetError;

use crate::xen::Xen;
use crate::{Domain, fatal, log};

/// The configuration area `oxclick image --embed` finds and fills in. Read
/// with volatile loads: as far as the compiler knows it is all zeros past the
/// magic.
#[used]
#[unsafe(link_section = ".oxclick_config")]
static CONFIG_AREA: [u8; embedded::CAPACITY] = embedded::empty_area();

/// The first `n` bytes of the configuration area, as the image file holds them.
fn area_bytes(n: usize) -> Vec<u8> {
    let base = CONFIG_AREA.as_ptr();
    (0..n.min(embedded::CAPACITY))
        // SAFETY: `i` is inside the static; volatile so the bytes the image tool
        // wrote are read, not the zeros the compiler put there.
        .map(|i| unsafe { core::ptr::read_volatile(base.add(i)) })
        .collect()
}

/// The embedded (name, configuration), if the image has one.
fn embedded_config() -> Option<(String, String)> {
    let area = area_bytes(embedded::used_len(&area_bytes(embedded::HEADER)));
    embedded::parse(&area).map(|(n, t)| (n.into(), t.into()))
}

/// Xen system time for the routers. They never sleep through it: the event
/// loop does the waiting.
struct XenClock(&'static Xen);

impl Clock for XenClock {
    fn now(&mut self) -> u64 {
        self.0.now_ns()
    }
    fn sleep_until(&mut self, _t: u64) {}
}

/// Without Xen (plain QEMU): run an embedded configuration to its end on
/// simulated time, without network devices, and log its `count` handlers: the
/// proof, without a hypervisor, that the element runtime runs in the guest.
pub fn run_bare() {
    let Some((name, text)) = embedded_config() else { return };
    let opts = RouterOptions {
        config_text: String::new(),
        flat_text: String::new(),
        console: Box::new(|line: &str| log!("oxclick: router 0: {line}")),
        output: Box::new(|line: &str| log!("oxclick: router 0: {line}")),
        clock: Box::new(SimClock::default()),
        devices: Vec::new(),
        fuse_lanes: true,
    };
    let mut router = match Router::from_text(&text, &name, &oxclick_elements::guest_registry(), opts) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                log!("oxclick: router 0: {e}");
            }
            return;
        }
    };
    log!("oxclick: router 0: running embedded configuration \"{name}\" (no Xen: simulated time, no devices)");
    // Until it stops itself, or for a bounded number of rounds if it never does.
    let rounds = core::cell::Cell::new(0u32);
    router.run_until(&|| {
        rounds.set(rounds.get() + 1);
        rounds.get() > 1_000_000
    });
    let names: Vec<String> = router.element_names().map(String::from).collect();
    for (i, elem) in names.iter().enumerate() {
        if let Some(count) = router.read_handler(Some(i), "count") {
            log!("oxclick: router 0: {elem}.count = {count}");
        }
    }
}

/// How long the loop sleeps at most with nothing to do (it wakes on any event).
const IDLE_SLEEP_NS: u64 = 1_000_000_000;

/// Run the routers until the toolstack shuts the domain down.
pub fn run(domain: &mut Domain) -> ! {
    let xen = domain.xen;
    let devices: Vec<DeviceInfo> = domain
        .net
        .vifs
        .iter()
        .map(|v| DeviceInfo { name: alloc::format!("vif{}", v.node.index), mac: v.node.mac })
        .collect();
    let platform = Platform {
        devices,
        clock: Box::new(move || Box::new(XenClock(xen)) as Box<dyn Clock>),
        console: Rc::new(|rid: u32, line: &str| log!("oxclick: router {rid}: {line}")),
    };
    let mut routers = Routers::new(platform, oxclick_elements::guest_registry());
    if let Err(e) = routers.attach(&mut domain.xs) {
        fatal::crash(format_args!("cannot watch data/clickos: {e}"));
    }
    if let Some((name, text)) = embedded_config() {
        match routers.install(&mut domain.xs, 0, &name, &text) {
            Ok(()) => log!("oxclick: router 0: running embedded configuration \"{name}\""),
            Err(errors) => {
                for e in errors {
                    log!("oxclick: router 0: {e}");
                }
                log!("oxclick: router 0: the embedded configuration failed; waiting for one in xenstore");
            }
        }
    }
    log!("oxclick: routers ready");
    let nvifs = domain.net.vifs.len();
    let mut bad_frames = 0u64;
    let mut resumes = domain.resumes;
    loop {
        let events = domain.service(&mut |vif, frame| {
            routers.deliver(vif, frame);
        });
        if domain.resumes != resumes {
            // Restored from a saved image: the routers ran on untouched; tell the
            // new xenstore home about them before acting on its events.
            resumes = domain.resumes;
            routers.republish(&mut domain.xs);
        }
        for event in events {
            if event.token == WATCH_TOKEN {
                routers.on_event(&mut domain.xs, &event.path);
            } else {
                log!("oxclick: unexpected watch event {} ({})", event.path, event.token);
            }
        }
        let wake = routers.run(&mut domain.xs);
        for vif in 0..nvifs {
            let sent = routers.transmit(vif, |frame| match domain.queue(vif, frame) {
                Ok(()) => true,
                // Ring full or link down: the frame waits in the router's queue.
                Err(NetError::TxFull) => false,
                Err(e) => {
                    bad_frames += 1;
                    if bad_frames.is_power_of_two() {
                        log!("oxclick: vif{vif}: dropped a frame ({e}); {bad_frames} so far");
                    }
                    true
                }
            });
            if sent > 0 {
                domain.flush(vif);
            }
        }
        let now = xen.now_ns();
        let deadline = wake.unwrap_or(u64::MAX).min(now.saturating_add(IDLE_SLEEP_NS));
        if deadline > now {
            domain.sleep(deadline);
        }
    }
}
