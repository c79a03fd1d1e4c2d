//! FromNetfront and ToNetfront against the runtime's device queues, driven the
//! way the Xen guest drives them: frames in with `device_receive`, the router
//! run with `run_while_busy`, frames out with `device_transmit`.

mod common;

use oxclick_runtime::{DEVICE_QUEUE_CAPACITY, DeviceInfo, Router};

fn build(src: &str, ndev: usize) -> Result<Router, Vec<String>> {
    let devices =
        (0..ndev).map(|i| DeviceInfo { name: format!("vif{i}"), mac: [0, 0x16, 0x3e, 0, 0, i as u8] }).collect();
    common::router(src, devices, true)
}

fn frame(i: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[0, 0x16, 0x3e, 0, 0, 0]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, i]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = i;
    f
}

fn handler(r: &Router, elem: &str, h: &str) -> String {
    r.read_handler(Some(r.find(elem).expect("element")), h).expect("handler")
}

#[test]
fn an_idle_router_says_so_every_time_it_is_run() {
    // The guest calls run_while_busy in a loop and sleeps when it answers None.
    // An idle router must answer None on every call, not only the first: a
    // "come back at once" here made every idle guest with a vif spin at 100%
    // of a CPU.
    let mut r = build("FromNetfront(0) -> c :: Counter -> Discard", 1).unwrap();
    for call in 0..5 {
        assert_eq!(r.run_while_busy(), None, "call {call}");
    }
    // And after work, idle again.
    assert!(r.device_receive(0, &frame(1)));
    assert_eq!(r.run_while_busy(), None);
    assert_eq!(r.run_while_busy(), None);
    assert_eq!(handler(&r, "c", "count"), "1");
}

#[test]
fn mirror_counts_and_sends_every_frame_back_in_order() {
    let mut r = build("FromNetfront(0) -> c :: Counter -> EtherMirror -> ToNetfront(0)", 1).unwrap();
    for i in 0..100 {
        assert!(r.device_receive(0, &frame(i)));
    }
    assert_eq!(r.run_while_busy(), None);
    assert_eq!(handler(&r, "c", "count"), "100");
    let mut out = Vec::new();
    assert_eq!(
        r.device_transmit(0, |f| {
            out.push(f.to_vec());
            true
        }),
        100
    );
    for (i, f) in out.iter().enumerate() {
        // EtherMirror swapped the addresses.
        assert_eq!(f[..6], [2, 0, 0, 0, 0, i as u8]);
        assert_eq!(f[6..12], [0, 0x16, 0x3e, 0, 0, 0]);
        assert_eq!(f[14], i as u8);
    }
}

#[test]
fn a_full_ring_keeps_the_rest_for_later() {
    let mut r = build("FromNetfront(vif1) -> Queue -> ToNetfront(eth0)", 2).unwrap();
    for i in 0..10 {
        r.device_receive(1, &frame(i));
    }
    r.run_while_busy();
    let mut first = Vec::new();
    assert_eq!(
        r.device_transmit(0, |f| {
            first.push(f[14]);
            first.len() < 4
        }),
        3
    );
    let mut rest = Vec::new();
    r.device_transmit(0, |f| {
        rest.push(f[14]);
        true
    });
    assert_eq!(first, [0, 1, 2, 3]);
    assert_eq!(rest, [3, 4, 5, 6, 7, 8, 9]);
}

#[test]
fn receive_queue_is_bounded_and_counts_drops() {
    let mut r = build("f :: FromNetfront(0) -> Discard", 1).unwrap();
    for _ in 0..DEVICE_QUEUE_CAPACITY + 5 {
        r.device_receive(0, &frame(0));
    }
    assert_eq!(r.devices()[0].rx_drops, 5);
    r.run_while_busy();
    assert_eq!(handler(&r, "f", "count"), DEVICE_QUEUE_CAPACITY.to_string());
    assert_eq!(handler(&r, "f", "drops"), "5");
    assert_eq!(handler(&r, "f", "device"), "vif0 00:16:3e:00:00:00");
}

#[test]
fn missing_devices_are_named() {
    let e = build("FromNetfront(0) -> Discard", 0).err().unwrap();
    assert!(e.iter().any(|l| l.contains("no network device 0: this driver has none")), "{e:?}");
    let e = build("Idle -> ToNetfront(2)", 2).err().unwrap();
    assert!(e.iter().any(|l| l.contains("no network device 2: this domain has 2 (0 to 1)")), "{e:?}");
    let e = build("FromNetfront(eth) -> Discard", 1).err().unwrap();
    assert!(e.iter().any(|l| l.contains("DEVID: expected a device number (0, vif0, eth0), not 'eth'")), "{e:?}");
}

#[test]
fn hot_swap_keeps_frames_waiting_in_the_device_queues() {
    let mut r = build("FromNetfront(0, ACTIVE false) -> Discard", 1).unwrap();
    for i in 0..3 {
        r.device_receive(0, &frame(i));
    }
    r.run_while_busy();
    r.hot_swap("FromNetfront(0) -> c :: Counter -> ToNetfront(0)").unwrap();
    r.run_while_busy();
    assert_eq!(handler(&r, "c", "count"), "3");
    assert_eq!(r.devices()[0].tx_len(), 3);
}
