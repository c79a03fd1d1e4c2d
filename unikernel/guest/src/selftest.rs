//! Start-up self-tests: what the guest checks about itself before it is
//! trusted with packets. `runtime_basics` needs no hypervisor (it runs under
//! plain QEMU); `xen` exercises every hypervisor interface the guest uses and
//! is run by the `selftest` command-line flag (for the Xen end-to-end tests).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use oxclick_unikernel::abi::PAGE_SHIFT;
use oxclick_unikernel::xenstore::NO_TX;

use crate::Domain;

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_string()) }
}

/// Allocator, collections, formatting, floating point (SSE), and our own
/// memcpy/memmove/memset/memcmp.
pub fn runtime_basics() -> Result<(), String> {
    let (free_before, total) = crate::heap::stats();
    check(total > 0, "heap is empty")?;
    {
        let v: Vec<u64> = (0..10_000).collect();
        check(v.iter().sum::<u64>() == 49_995_000, "Vec sum")?;
        let mut m = BTreeMap::new();
        for i in 0..1000u32 {
            m.insert(i.wrapping_mul(2_654_435_761), i);
        }
        check(m.len() == 1000, "BTreeMap")?;
        let page = crate::heap::alloc_pages(2).ok_or("page allocation")?;
        check((page.as_ptr() as usize).is_multiple_of(4096), "page alignment")?;
        // SAFETY: two pages just allocated.
        let bytes = unsafe { core::slice::from_raw_parts(page.as_ptr(), 8192) };
        check(bytes.iter().all(|&b| b == 0), "zeroed pages")?;
        // SAFETY: same allocation, same layout.
        unsafe { alloc::alloc::dealloc(page.as_ptr(), core::alloc::Layout::from_size_align(8192, 4096).unwrap()) };
    }
    check(crate::heap::stats().0 == free_before, "heap accounting after frees")?;

    // Floating point runs on SSE: it only works if boot enabled it.
    let x = core::hint::black_box(0.1f64) + core::hint::black_box(0.2f64);
    check(format!("{:.3}", x * 3.0) == "0.900", "floating point")?;

    // The mem* functions, through the core APIs that lower to them.
    let mut buf: Vec<u8> = (0..=255).collect();
    buf.copy_within(0..200, 10); // overlapping, dest after src: memmove backwards
    check(buf[10] == 0 && buf[209] == 199 && buf[9] == 9, "memmove backwards")?;
    buf.copy_within(20..220, 5); // dest before src: forwards
    check(buf[5] == 10 && buf[194] == 199 && buf[204] == 219, "memmove forwards")?;
    let mut big = alloc::vec![0u8; 10_000];
    big.fill(0xA5); // memset
    check(big.iter().all(|&b| b == 0xA5), "memset")?;
    let copy = big.clone(); // memcpy
    check(copy == big, "memcpy/memcmp equal")?;
    let mut other = copy.clone();
    other[9_999] = 0;
    check(other != big && other < big, "memcmp ordering")?;
    Ok(())
}

/// Every Xen interface the guest relies on.
pub fn xen(d: &mut Domain) -> Result<(), String> {
    runtime_basics()?;
    let xen = d.xen;

    // Clock: advances, and a poll with no ports sleeps until its deadline.
    let t0 = xen.now_ns();
    xen.sleep_ns(20_000_000);
    let slept = xen.now_ns() - t0;
    check(slept >= 20_000_000, "sleep returned early")?;
    crate::log!("oxclick: selftest: clock ok (20 ms sleep took {} us)", slept / 1000);

    // Xenstore: read, write, directory, transactions, watches.
    fn fail(what: &'static str) -> impl Fn(oxclick_unikernel::xenstore::Error) -> String {
        move |e| crate::xs_context(what, e)
    }
    let domid = d.xs.read_u32(NO_TX, "domid").map_err(fail("read domid"))?;
    check(domid == d.domid as u32, "xenstore domid differs from CPUID's")?;
    d.xs.watch("data/oxclick-selftest", "selftest").map_err(fail("watch"))?;
    d.xs.write(NO_TX, "data/oxclick-selftest/value", b"42").map_err(fail("write"))?;
    check(d.xs.read(NO_TX, "data/oxclick-selftest/value").map_err(fail("read back"))? == b"42", "read back")?;
    let names = d.xs.directory(NO_TX, "data/oxclick-selftest").map_err(fail("directory"))?;
    check(names.iter().any(|n| n == "value"), "directory lists the node")?;
    d.xs.transaction(|xs, tx| {
        let v = xs.read_u32(tx, "data/oxclick-selftest/value")?;
        xs.write(tx, "data/oxclick-selftest/value", format!("{}", v + 1).as_bytes())
    })
    .map_err(fail("transaction"))?;
    check(d.xs.read_u32(NO_TX, "data/oxclick-selftest/value").map_err(fail("read"))? == 43, "transaction committed")?;
    let mut events = 0;
    while let Some(e) = d.xs.next_watch_event(false).map_err(fail("watch event"))? {
        events += (e.token == "selftest") as u32;
    }
    check(events >= 2, "watch fired on registration and on writes")?;
    d.xs.unwatch("data/oxclick-selftest", "selftest").map_err(fail("unwatch"))?;
    d.xs.rm(NO_TX, "data/oxclick-selftest").map_err(fail("rm"))?;
    crate::log!("oxclick: selftest: xenstore ok ({events} watch events)");

    // Event channels: a loopback pair; sending on one end wakes a poll on the other.
    let a = xen.evtchn_alloc_unbound(d.domid).map_err(|rc| format!("alloc_unbound: {rc}"))?;
    let b = xen.evtchn_bind_interdomain(d.domid, a).map_err(|rc| format!("bind_interdomain: {rc}"))?;
    xen.take_pending(a);
    xen.evtchn_send(b);
    let deadline = xen.now_ns() + 1_000_000_000;
    xen.poll(&[a], deadline);
    check(xen.take_pending(a), "loopback event not delivered")?;
    check(xen.now_ns() < deadline, "poll waited for the deadline despite the event")?;
    xen.evtchn_close(b);
    xen.evtchn_close(a);
    crate::log!("oxclick: selftest: event channels ok (ports {a}, {b})");

    // Grants: grant a page many times over, revoke, nothing leaks.
    let available = d.grants.available();
    let page = crate::heap::alloc_pages(1).ok_or("page allocation")?;
    let frame = page.as_ptr() as u64 >> PAGE_SHIFT;
    let mut refs = Vec::new();
    for round in 0..10 {
        for _ in 0..100 {
            refs.push(d.grants.grant(0, frame, round % 2 == 0).map_err(|e| format!("grant: {e}"))?);
        }
        for r in refs.drain(..) {
            d.grants.revoke(r).map_err(|e| format!("revoke: {e}"))?;
        }
    }
    check(d.grants.available() == available, "grant references leaked")?;
    crate::log!("oxclick: selftest: grants ok");
    Ok(())
}
