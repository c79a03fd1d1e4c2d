//! Netfront against a simulated Xen and netback: pages with fake frame
//! numbers, a real v1 grant table the "backend" resolves like Xen does
//! (checking permission, domain and read-only), and back ends of the real
//! rings. Xenstore is the in-memory daemon.

use std::vec::Vec;

use proptest::prelude::*;

use super::handshake::{LinkEvent, Vif, VifNode, discover};
use super::*;
use crate::abi::grant_table::{GTF_PERMIT_ACCESS, GTF_READONLY};
use crate::grant::{GrantTableV1, Grants};
use crate::ring::BackRing;
use crate::testing::{Page, PageBytes};
use crate::xenstore::fake::{FakeXenstored, Loopback};
use crate::xenstore::{Client, NO_TX};

const DOMID: u16 = 5;
const BACKEND: DomId = 0;
const BACKEND_DIR: &str = "/local/domain/0/backend/vif/5/0";
const GFN_BASE: u64 = 0x4000;
const GRANT_FRAMES: usize = 4;

/// Pages, grants and event channels of a pretend hypervisor.
struct FakePlatform {
    pages: Vec<Page>,
    _table: Box<[PageBytes; GRANT_FRAMES]>,
    table_ptr: NonNull<u8>,
    grants: Grants,
    next_port: EvtchnPort,
    notified: Vec<EvtchnPort>,
}

impl FakePlatform {
    fn new() -> Self {
        let mut table = Box::new([const { PageBytes([0; 4096]) }; GRANT_FRAMES]);
        let table_ptr = NonNull::new(table.as_mut_ptr().cast::<u8>()).unwrap();
        let grants = Grants::new(unsafe { GrantTableV1::new(table_ptr, GRANT_FRAMES as u32) });
        FakePlatform { pages: Vec::new(), _table: table, table_ptr, grants, next_port: 10, notified: Vec::new() }
    }

    /// Resolve a grant reference the way Xen does for a mapping or copy by `domid`.
    fn map(&mut self, domid: DomId, gref: GrantRef, write: bool) -> Option<*mut u8> {
        if gref as usize >= GRANT_FRAMES * 512 {
            return None;
        }
        let entry = unsafe { self.table_ptr.as_ptr().add(gref as usize * 8) };
        let (flags, gdomid, frame) = unsafe {
            (
                u16::from_le_bytes([*entry, *entry.add(1)]),
                u16::from_le_bytes([*entry.add(2), *entry.add(3)]),
                u32::from_le_bytes([*entry.add(4), *entry.add(5), *entry.add(6), *entry.add(7)]),
            )
        };
        if flags & 3 != GTF_PERMIT_ACCESS || gdomid != domid || (write && flags & GTF_READONLY != 0) {
            return None;
        }
        let index = (frame as u64).checked_sub(GFN_BASE)? as usize;
        self.pages.get_mut(index).map(|p| p.ptr().as_ptr())
    }
}

impl Platform for FakePlatform {
    fn alloc_page(&mut self) -> Option<DmaPage> {
        let mut page = Page::new();
        let ptr = page.ptr();
        self.pages.push(page);
        Some(DmaPage { ptr, gfn: GFN_BASE + self.pages.len() as u64 - 1 })
    }

    fn grant_access(&mut self, domid: DomId, gfn: u64, readonly: bool) -> Result<GrantRef, GrantError> {
        self.grants.grant(domid, gfn, readonly)
    }

    fn end_access(&mut self, gref: GrantRef) -> Result<(), GrantError> {
        self.grants.revoke(gref)
    }

    fn alloc_unbound_evtchn(&mut self, _remote: DomId) -> Result<EvtchnPort, i64> {
        self.next_port += 1;
        Ok(self.next_port)
    }

    fn notify(&mut self, port: EvtchnPort) {
        self.notified.push(port);
    }
}

/// The backend end of one vif, attached through the grant table.
struct FakeNetback {
    tx: BackRing<NetifTxRequest, NetifTxResponse>,
    rx: BackRing<NetifRxRequest, NetifRxResponse>,
}

impl FakeNetback {
    fn attach(platform: &mut FakePlatform, tx_ref: GrantRef, rx_ref: GrantRef) -> Self {
        let tx = platform.map(BACKEND, tx_ref, true).expect("tx ring granted writable to the backend");
        let rx = platform.map(BACKEND, rx_ref, true).expect("rx ring granted writable to the backend");
        unsafe {
            FakeNetback {
                tx: BackRing::attach(NonNull::new(tx).unwrap(), PAGE_SIZE),
                rx: BackRing::attach(NonNull::new(rx).unwrap(), PAGE_SIZE),
            }
        }
    }

    /// Consume every tx request: copy the frame out through its grant, answer OKAY.
    fn take_tx(&mut self, platform: &mut FakePlatform) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(req) = self.tx.pop_request().unwrap() {
            assert!(req.offset as usize + req.size as usize <= PAGE_SIZE, "request crosses its page");
            assert_eq!(req.flags, 0);
            assert!(platform.map(BACKEND, req.gref, true).is_none(), "tx buffers must be read-only");
            let page = platform.map(BACKEND, req.gref, false).expect("tx buffer granted");
            let frame = unsafe { std::slice::from_raw_parts(page.add(req.offset as usize), req.size as usize) };
            frames.push(frame.to_vec());
            self.tx.push_response(NetifTxResponse { id: req.id, status: NETIF_RSP_OKAY }).unwrap();
        }
        self.tx.publish_responses();
        frames
    }

    /// Copy one packet into the next posted rx buffer. False if none is posted.
    fn deliver(&mut self, platform: &mut FakePlatform, packet: &[u8]) -> bool {
        let Some(req) = self.rx.pop_request().unwrap() else { return false };
        let page = platform.map(BACKEND, req.gref, true).expect("rx buffer granted writable");
        unsafe { std::ptr::copy_nonoverlapping(packet.as_ptr(), page, packet.len()) };
        let rsp = NetifRxResponse { id: req.id, offset: 0, flags: NETRXF_DATA_VALIDATED, status: packet.len() as i16 };
        self.rx.push_response(rsp).unwrap();
        self.rx.publish_responses();
        true
    }
}

/// A domain with one vif as xl creates it, the backend still initialising.
fn toolstack() -> Client<Loopback> {
    let mut daemon = FakeXenstored::new(DOMID);
    for (k, v) in [
        ("device/vif/0/backend", BACKEND_DIR),
        ("device/vif/0/backend-id", "0"),
        ("device/vif/0/mac", "00:16:3e:00:00:05"),
        ("device/vif/0/state", "1"),
    ] {
        daemon.external_write(k, v.as_bytes());
    }
    daemon.external_write(&format!("{BACKEND_DIR}/state"), b"1");
    Client::new(Loopback::new(daemon))
}

fn backend_sets(xs: &mut Client<Loopback>, key: &str, value: &str) {
    xs.transport().daemon().external_write(&format!("{BACKEND_DIR}/{key}"), value.as_bytes());
}

fn frontend_key(xs: &mut Client<Loopback>, key: &str) -> String {
    String::from_utf8(xs.read(NO_TX, &format!("device/vif/0/{key}")).unwrap()).unwrap()
}

/// Bring vif 0 up; returns everything a test needs.
fn connected(config: VifConfig) -> (Client<Loopback>, FakePlatform, Vif, FakeNetback) {
    let mut xs = toolstack();
    let mut platform = FakePlatform::new();
    let mut vif = Vif::new(&mut xs, &mut platform, 0, config).unwrap();
    backend_sets(&mut xs, "feature-rx-copy", "1");
    backend_sets(&mut xs, "state", "2");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), None);
    let tx_ref: GrantRef = frontend_key(&mut xs, "tx-ring-ref").parse().unwrap();
    let rx_ref: GrantRef = frontend_key(&mut xs, "rx-ring-ref").parse().unwrap();
    let backend = FakeNetback::attach(&mut platform, tx_ref, rx_ref);
    backend_sets(&mut xs, "state", "4");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), Some(LinkEvent::Up));
    (xs, platform, vif, backend)
}

fn frame(seed: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + seed * 7) as u8).collect()
}

#[test]
fn discover_lists_vifs_in_numeric_order() {
    let mut xs = toolstack();
    assert_eq!(discover(&mut xs).unwrap(), [0]);
    for i in ["10", "2"] {
        xs.transport().daemon().external_write(&format!("device/vif/{i}/state"), b"1");
    }
    assert_eq!(discover(&mut xs).unwrap(), [0, 2, 10]);
    let mut empty = Client::new(Loopback::new(FakeXenstored::new(9)));
    assert!(discover(&mut empty).unwrap().is_empty());
}

#[test]
fn vif_node_is_read_and_checked() {
    let mut xs = toolstack();
    let node = VifNode::read(&mut xs, 0).unwrap();
    assert_eq!(node.backend, BACKEND_DIR);
    assert_eq!(node.backend_id, 0);
    assert_eq!(node.mac, [0x00, 0x16, 0x3e, 0, 0, 5]);
    xs.transport().daemon().external_write("device/vif/0/mac", b"nonsense");
    assert!(VifNode::read(&mut xs, 0).is_err());
    xs.transport().daemon().external_write("device/vif/0/backend", b"relative/path");
    assert!(VifNode::read(&mut xs, 0).is_err());
    assert!(
        VifNode::read(&mut xs, 7).unwrap_err()
            == handshake::VifError::Xenstore(crate::xenstore::Error::Xenstore(crate::xenstore::wire::XsErrno::Enoent))
    );
}

#[test]
fn handshake_publishes_rings_features_and_state_then_connects() {
    let mut xs = toolstack();
    let mut platform = FakePlatform::new();
    let mut vif = Vif::new(&mut xs, &mut platform, 0, VifConfig::default()).unwrap();
    // Backend still initialising: nothing happens.
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), None);
    assert_eq!(frontend_key(&mut xs, "state"), "1");
    // Backend ready for us.
    backend_sets(&mut xs, "feature-rx-copy", "1");
    backend_sets(&mut xs, "state", "2");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), None);
    assert_eq!(frontend_key(&mut xs, "state"), "4");
    for (key, value) in
        [("request-rx-copy", "1"), ("feature-rx-notify", "1"), ("feature-sg", "0"), ("feature-no-csum-offload", "1")]
    {
        assert_eq!(frontend_key(&mut xs, key), value, "{key}");
    }
    assert_eq!(frontend_key(&mut xs, "event-channel"), vif.net.port().to_string());
    let (tx_ref, rx_ref) = vif.net.ring_refs();
    assert_eq!(frontend_key(&mut xs, "tx-ring-ref"), tx_ref.to_string());
    assert_eq!(frontend_key(&mut xs, "rx-ring-ref"), rx_ref.to_string());
    // The references really grant the ring pages to the backend domain, and
    // every rx buffer is already posted.
    let backend = FakeNetback::attach(&mut platform, tx_ref, rx_ref);
    assert_eq!(backend.rx.unconsumed_requests().unwrap(), 64);
    assert!(!vif.is_up());
    // Backend connects.
    backend_sets(&mut xs, "state", "4");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), Some(LinkEvent::Up));
    assert!(vif.is_up());
    assert_eq!(platform.notified.last(), Some(&vif.net.port()), "backend kicked");
    // A repeated watch event changes nothing.
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), None);
    // Backend goes away.
    backend_sets(&mut xs, "state", "5");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), Some(LinkEvent::Down));
    assert_eq!(frontend_key(&mut xs, "state"), "5");
    backend_sets(&mut xs, "state", "6");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), None);
    assert_eq!(frontend_key(&mut xs, "state"), "6");
}

#[test]
fn backend_without_rx_copy_is_refused() {
    let mut xs = toolstack();
    let mut platform = FakePlatform::new();
    let mut vif = Vif::new(&mut xs, &mut platform, 0, VifConfig::default()).unwrap();
    backend_sets(&mut xs, "state", "2");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform), Err(handshake::VifError::NoRxCopy));
}

#[test]
fn backend_closing_early_fails_the_vif() {
    let mut xs = toolstack();
    let mut platform = FakePlatform::new();
    let mut vif = Vif::new(&mut xs, &mut platform, 0, VifConfig::default()).unwrap();
    backend_sets(&mut xs, "state", "6");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform), Err(handshake::VifError::BackendGone));
}

#[test]
fn packets_flow_both_ways_and_buffers_and_grants_are_reused() {
    let (_xs, mut platform, mut vif, mut backend) = connected(VifConfig::default());
    let grants_after_setup = platform.grants.available();
    let mut sent = 0;
    for round in 0..300 {
        // Transmit a burst of frames of assorted sizes.
        let burst: Vec<Vec<u8>> = (0..5).map(|i| frame(round * 5 + i, 14 + (round * 97 + i * 13) % 2035)).collect();
        for f in &burst {
            vif.net.transmit(f).unwrap();
        }
        vif.net.flush(&mut platform);
        assert_eq!(backend.take_tx(&mut platform), burst);
        sent += burst.len();
        // Receive a burst.
        let incoming: Vec<Vec<u8>> = (0..7).map(|i| frame(round * 7 + i, 60 + (round * 31 + i) % 1454)).collect();
        for p in &incoming {
            assert!(backend.deliver(&mut platform, p));
        }
        let mut got = Vec::new();
        assert_eq!(vif.net.receive(&mut platform, |p| got.push(p.to_vec())).unwrap(), incoming.len());
        assert_eq!(got, incoming);
    }
    vif.net.collect_tx().unwrap();
    assert_eq!(vif.net.tx_available(), 64, "every tx buffer came back");
    assert_eq!(backend.rx.unconsumed_requests().unwrap(), 64, "every rx buffer re-posted");
    assert_eq!(platform.grants.available(), grants_after_setup, "no grant used per packet");
    let stats = vif.net.stats();
    assert_eq!((stats.tx_packets, stats.rx_packets), (sent as u64, 300 * 7));
    assert_eq!((stats.rx_errors, stats.tx_errors, stats.bogus_responses), (0, 0, 0));
}

#[test]
fn rx_notifies_the_backend_when_it_asks() {
    let (_xs, mut platform, mut vif, mut backend) = connected(VifConfig::default());
    // The backend consumed all posted buffers and re-armed req_event.
    let p = frame(1, 100);
    assert!(backend.deliver(&mut platform, &p));
    while backend.rx.pop_request().unwrap().is_some() {}
    assert!(!backend.rx.final_check_for_requests().unwrap());
    let before = platform.notified.len();
    vif.net.receive(&mut platform, |_| {}).unwrap();
    assert_eq!(platform.notified.len(), before + 1, "re-posted buffer notified");
}

#[test]
fn tx_refuses_bad_lengths_and_reports_a_full_ring() {
    let (_xs, mut platform, mut vif, mut backend) = connected(VifConfig { rx_buffers: 8, tx_buffers: 4 });
    assert_eq!(vif.net.transmit(&[0; 13]), Err(NetError::BadFrameLength(13)));
    assert_eq!(vif.net.transmit(&[0; TX_BUFFER_SIZE + 1]), Err(NetError::BadFrameLength(2049)));
    for i in 0..4 {
        vif.net.transmit(&frame(i, 64)).unwrap();
    }
    assert_eq!(vif.net.transmit(&frame(9, 64)), Err(NetError::TxFull));
    vif.net.flush(&mut platform);
    assert_eq!(backend.take_tx(&mut platform).len(), 4);
    vif.net.transmit(&frame(9, 64)).unwrap();
}

#[test]
fn config_must_fit_the_rings() {
    let mut platform = FakePlatform::new();
    assert!(matches!(
        Netfront::new(&mut platform, 0, VifConfig { rx_buffers: 257, tx_buffers: 1 }),
        Err(NetError::BadConfig)
    ));
    assert!(matches!(
        Netfront::new(&mut platform, 0, VifConfig { rx_buffers: 0, tx_buffers: 1 }),
        Err(NetError::BadConfig)
    ));
}

#[test]
fn bogus_rx_responses_are_counted_and_dropped() {
    let (_xs, mut platform, mut vif, mut backend) = connected(VifConfig { rx_buffers: 16, tx_buffers: 4 });
    let mut reqs = Vec::new();
    while let Some(r) = backend.rx.pop_request().unwrap() {
        reqs.push(r);
    }
    let rsp = |id, offset, flags, status| NetifRxResponse { id, offset, flags, status };
    let hostile = [
        rsp(200, 0, 0, 60),                         // no such buffer
        rsp(reqs[0].id, 0, 0, 60),                  // fine
        rsp(reqs[0].id, 0, 0, 61),                  // the same buffer again: valid, it was re-posted
        rsp(reqs[1].id, 4000, 0, 200),              // runs off the page
        rsp(reqs[2].id, 0, 0, -1),                  // error status
        rsp(reqs[3].id, 0, 0, 0),                   // empty
        rsp(reqs[4].id, 0, NETRXF_MORE_DATA, 100),  // multi-slot packet...
        rsp(reqs[5].id, 0, 0, 100),                 // ...its tail
        rsp(reqs[6].id, 0, NETRXF_EXTRA_INFO, 100), // extra info we never asked for
        rsp(reqs[7].id, 0, 0, i16::MAX),            // longer than a page
    ];
    for r in hostile {
        backend.rx.push_response(r).unwrap();
    }
    backend.rx.publish_responses();
    let mut got = Vec::new();
    assert_eq!(vif.net.receive(&mut platform, |p| got.push(p.len())).unwrap(), 2);
    assert_eq!(got, [60, 61]);
    let stats = vif.net.stats();
    assert_eq!(stats.bogus_responses, 1);
    assert_eq!(stats.rx_errors, 4);
    assert_eq!(stats.rx_dropped, 3);
    // Every buffer was re-posted once per response naming it (reqs[0] twice);
    // the other eight are still with the backend.
    let mut reposted = Vec::new();
    while let Some(r) = backend.rx.pop_request().unwrap() {
        reposted.push(r.id);
    }
    reposted.sort();
    let mut answered: Vec<u16> = reqs[..8].iter().map(|r| r.id).chain([reqs[0].id]).collect();
    answered.sort();
    assert_eq!(reposted, answered);
}

#[test]
fn bogus_tx_responses_are_counted_and_dropped() {
    let (_xs, mut platform, mut vif, mut backend) = connected(VifConfig { rx_buffers: 8, tx_buffers: 4 });
    vif.net.transmit(&frame(0, 100)).unwrap();
    vif.net.transmit(&frame(1, 100)).unwrap();
    vif.net.flush(&mut platform);
    let a = backend.tx.pop_request().unwrap().unwrap();
    let b = backend.tx.pop_request().unwrap().unwrap();
    backend.tx.push_response(NetifTxResponse { id: 99, status: 0 }).unwrap();
    backend.tx.push_response(NetifTxResponse { id: a.id, status: NETIF_RSP_ERROR }).unwrap();
    backend.tx.publish_responses();
    assert_eq!(vif.net.collect_tx().unwrap(), 1);
    assert_eq!(vif.net.stats().bogus_responses, 1);
    assert_eq!(vif.net.stats().tx_errors, 1);
    assert_eq!(vif.net.tx_available(), 3, "b is still with the backend");
    let _ = b;
}

#[test]
fn impossible_ring_indices_disable_the_device() {
    let (_xs, mut platform, mut vif, backend) = connected(VifConfig { rx_buffers: 8, tx_buffers: 4 });
    backend.rx.forge_rsp_prod(1000);
    assert!(matches!(vif.net.receive(&mut platform, |_| {}), Err(NetError::Broken(_))));
    assert!(vif.net.broken().is_some());
    assert!(!vif.is_up());
    assert!(matches!(vif.net.transmit(&frame(0, 64)), Err(NetError::Broken(_))));
    assert!(matches!(vif.net.receive(&mut platform, |_| {}), Err(NetError::Broken(_))));
}

proptest! {
    /// Arbitrary rx responses never make the driver panic, never deliver a
    /// slice outside a page, and never lose track of a buffer: every buffer is
    /// either with the backend or was re-posted.
    #[test]
    fn arbitrary_rx_responses_are_survivable(responses in prop::collection::vec((0u16..20, any::<u16>(), any::<u16>(), any::<i16>()), 1..40)) {
        let (_xs, mut platform, mut vif, mut backend) = connected(VifConfig { rx_buffers: 16, tx_buffers: 2 });
        let mut consumed = 0;
        for (id, offset, flags, status) in responses {
            if backend.rx.pop_request().unwrap().is_none() {
                break;
            }
            consumed += 1;
            backend.rx.push_response(NetifRxResponse { id, offset, flags, status }).unwrap();
        }
        backend.rx.publish_responses();
        let mut lens = Vec::new();
        vif.net.receive(&mut platform, |p| lens.push(p.len())).unwrap();
        prop_assert!(lens.iter().all(|&l| l > 0 && l <= PAGE_SIZE));
        let outstanding = backend.rx.unconsumed_requests().unwrap() as usize;
        prop_assert!(outstanding <= 16);
        prop_assert!(consumed <= 16);
    }
}

#[test]
fn a_restored_vif_reconnects_with_new_grants_and_carries_on() {
    let (mut xs, mut platform, mut vif, mut backend) = connected(VifConfig::default());
    for i in 0..3 {
        vif.net.transmit(&frame(i, 100)).unwrap();
    }
    vif.net.flush(&mut platform);
    assert_eq!(backend.take_tx(&mut platform).len(), 3);
    // Frames in flight when the domain was saved: a tx the backend never took,
    // an rx it filled that we never read. They are lost, as on a wire.
    vif.net.transmit(&frame(9, 100)).unwrap();
    vif.net.flush(&mut platform);
    assert!(backend.deliver(&mut platform, &frame(8, 80)));
    let old_port = vif.net.port();

    // xl restore: a new domain with an empty grant table and a new netback.
    unsafe { std::ptr::write_bytes(platform.table_ptr.as_ptr(), 0, GRANT_FRAMES * 4096) };
    platform.grants.reset();
    backend_sets(&mut xs, "state", "1");
    xs.transport().daemon().external_write("device/vif/0/state", b"1");
    xs.forget_watches(vif.token());
    xs.reconnected().unwrap();
    vif.reconnect(&mut xs, &mut platform).unwrap();
    assert!(!vif.is_up());
    assert_ne!(vif.net.port(), old_port, "a new event channel");
    backend_sets(&mut xs, "state", "2");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), None);
    let tx_ref: GrantRef = frontend_key(&mut xs, "tx-ring-ref").parse().unwrap();
    let rx_ref: GrantRef = frontend_key(&mut xs, "rx-ring-ref").parse().unwrap();
    let mut backend = FakeNetback::attach(&mut platform, tx_ref, rx_ref);
    assert_eq!(backend.rx.unconsumed_requests().unwrap(), 64, "every rx buffer posted again, granted anew");
    backend_sets(&mut xs, "state", "4");
    assert_eq!(vif.on_backend_change(&mut xs, &mut platform).unwrap(), Some(LinkEvent::Up));

    let out: Vec<Vec<u8>> = (0..70).map(|i| frame(i, 60 + i)).collect();
    for f in &out {
        vif.net.transmit(f).unwrap_or_else(|e| panic!("every tx buffer is free again: {e}"));
        vif.net.flush(&mut platform);
        assert_eq!(backend.take_tx(&mut platform), std::slice::from_ref(f));
    }
    let incoming = frame(3, 90);
    assert!(backend.deliver(&mut platform, &incoming));
    let mut got = Vec::new();
    vif.net.receive(&mut platform, |p| got.push(p.to_vec())).unwrap();
    assert_eq!(got, [incoming]);
    assert_eq!(vif.net.stats().tx_packets, 3 + 1 + 70, "the counters carry on");
}
