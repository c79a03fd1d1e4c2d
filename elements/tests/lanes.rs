//! Lane fusion (`oxclick_runtime::lanes`) changes nothing a user sees: random
//! routers with a demux in front of per-output chains (own Counters and
//! Discards, shared elements, elements that cannot fuse, queues, cycles back
//! into the demux) run the same random frames fused and unfused, and must send
//! the same frames in the same order and leave every handler reading the same.

use std::collections::BTreeMap;

use oxclick_lang::{Options, read, unparse::unparse};
use oxclick_runtime::{DeviceInfo, Router, RouterOptions, SimClock};
use proptest::prelude::*;

fn build(src: &str, fuse_lanes: bool) -> Router {
    let reg = oxclick_elements::registry();
    let known = |n: &str| reg.contains(n);
    let out = read(src, "t", &Options { is_primitive: Some(&known), ..Options::default() });
    assert!(out.diagnostics.is_empty(), "{:?}\n{src}", out.diagnostics);
    let opts = RouterOptions {
        config_text: src.into(),
        flat_text: unparse(&out.flat),
        console: Box::new(|_: &str| {}),
        output: Box::new(|_: &str| {}),
        clock: Box::new(SimClock::default()),
        devices: vec![DeviceInfo { name: "vif0".into(), mac: [0, 0x16, 0x3e, 0, 0, 1] }],
        fuse_lanes,
    };
    match Router::new(&out.flat, &reg, opts) {
        Ok(r) => r,
        Err(e) => panic!("{e:?}\n{src}"),
    }
}

/// What each output of the demux leads to.
#[derive(Clone, Copy, Debug)]
enum Tail {
    CounterDiscard,
    CounterOut,
    TwoCountersOut,
    Discard,
    /// A Counter that calls a handler: it cannot be a lane.
    CountCall,
    CounterPaintOut,
    /// The shared Counter every such output leads to.
    Shared,
    /// Back into the demux, one byte shorter.
    Cycle,
    CounterQueueOut,
}

fn tail() -> impl Strategy<Value = Tail> {
    prop::sample::select(vec![
        Tail::CounterDiscard,
        Tail::CounterDiscard,
        Tail::CounterDiscard,
        Tail::CounterOut,
        Tail::CounterOut,
        Tail::TwoCountersOut,
        Tail::Discard,
        Tail::CountCall,
        Tail::CounterPaintOut,
        Tail::Shared,
        Tail::Cycle,
        Tail::CounterQueueOut,
    ])
}

fn config(tails: &[Tail]) -> String {
    let n = tails.len();
    let mut s = String::from("rx :: FromNetfront(0); tx :: ToNetfront(0); Idle -> tx;\n");
    let patterns: Vec<String> = (0..n).map(|o| format!("14/{o:02x}")).chain(["-".to_string()]).collect();
    s += &format!("d :: Classifier({});\nrx -> d;\nd[{n}] -> unmatched :: Discard;\n", patterns.join(", "));
    if tails.iter().any(|t| matches!(t, Tail::Shared)) {
        s += "s :: Counter -> tx;\n";
    }
    for (o, t) in tails.iter().enumerate() {
        s += &match t {
            Tail::CounterDiscard => format!("d[{o}] -> c{o} :: Counter -> x{o} :: Discard;\n"),
            Tail::CounterOut => format!("d[{o}] -> c{o} :: Counter -> tx;\n"),
            Tail::TwoCountersOut => format!("d[{o}] -> c{o} :: Counter -> b{o} :: Counter -> tx;\n"),
            Tail::Discard => format!("d[{o}] -> x{o} :: Discard;\n"),
            Tail::CountCall => format!("d[{o}] -> c{o} :: Counter(COUNT_CALL 2 c{o}.reset) -> tx;\n"),
            Tail::CounterPaintOut => format!("d[{o}] -> c{o} :: Counter -> Paint({o}) -> tx;\n"),
            Tail::Shared => format!("d[{o}] -> s;\n"),
            Tail::Cycle => format!("d[{o}] -> c{o} :: Counter -> Strip(1) -> d;\n"),
            Tail::CounterQueueOut => format!("d[{o}] -> c{o} :: Counter -> Queue(4) -> Unqueue -> tx;\n"),
        };
    }
    s
}

/// Every frame sent, in order, and every element's `count`, after feeding
/// `rounds` of frames (a run and a transmit after each round).
fn run(src: &str, rounds: &[Vec<Vec<u8>>], fuse_lanes: bool) -> (Vec<Vec<u8>>, BTreeMap<String, String>) {
    let mut r = build(src, fuse_lanes);
    let mut sent = Vec::new();
    for frames in rounds {
        for f in frames {
            r.device_receive(0, f);
        }
        r.run_while_busy();
        r.run_while_busy();
        r.device_transmit(0, |f| {
            sent.push(f.to_vec());
            true
        });
    }
    let names: Vec<String> = r.element_names().map(String::from).collect();
    let mut counts = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        if let Some(c) = r.read_handler(Some(i), "count") {
            counts.insert(name.clone(), c);
        }
    }
    (sent, counts)
}

fn frames(selectors: u8) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let frame = (prop::collection::vec(0..selectors, 1..50), 0u16..1000).prop_map(|(sel, id)| {
        let mut f = vec![0u8; 14];
        f[..6].copy_from_slice(&[0, 0x16, 0x3e, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f.extend(sel);
        f.extend(id.to_be_bytes());
        f
    });
    prop::collection::vec(frame, 0..70)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fused_and_unfused_routers_do_the_same(
        tails in prop::collection::vec(tail(), 2..9),
        rounds in prop::collection::vec(frames(10), 1..4),
    ) {
        let src = config(&tails);
        let fused = run(&src, &rounds, true);
        let unfused = run(&src, &rounds, false);
        prop_assert_eq!(&fused.0, &unfused.0, "frames sent differ\n{}", src);
        prop_assert_eq!(&fused.1, &unfused.1, "counts differ\n{}", src);
    }
}

/// The demux of a consolidated router's shape does fuse: the tenants' Counters
/// are one group and their Discards the next, lane for lane, and a batch for
/// all tenants is counted per tenant.
#[test]
fn tenant_counters_and_discards_become_lane_groups() {
    let tails = vec![Tail::CounterDiscard; 6];
    let src = config(&tails);
    let r = build(&src, true);
    let groups: Vec<Vec<String>> =
        r.lane_groups().iter().map(|g| g.iter().map(|&e| r.element_name(e).to_string()).collect()).collect();
    let names = |p: &str| (0..6).map(|o| format!("{p}{o}")).collect::<Vec<_>>();
    assert_eq!(groups, [names("c"), names("x")]);
    assert!(build(&src, false).lane_groups().is_empty());

    let frames: Vec<Vec<u8>> = (0..60u8)
        .map(|k| {
            let mut f = vec![0u8; 14];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f.extend([k % 7, k]);
            f
        })
        .collect();
    let (_, counts) = run(&src, &[frames], true);
    for o in 0..6 {
        // 60 frames round-robin over 7 selectors: 0-3 get 9, 4-6 get 8.
        let want = if o < 4 { "9" } else { "8" };
        assert_eq!(counts[&format!("c{o}")], want, "c{o}");
        assert_eq!(counts[&format!("x{o}")], want, "x{o}");
    }
    assert_eq!(counts["unmatched"], "8");
}

/// A lane is still its element: handlers read and write it, `config` writes
/// reconfigure it, and a hot swap hands its state to its successor (which is a
/// lane again).
#[test]
fn lanes_keep_their_handlers_and_their_state_across_a_hot_swap() {
    let src = config(&[Tail::CounterDiscard; 4]);
    let mut r = build(&src, true);
    assert_eq!(r.lane_groups().len(), 2);
    let frame = |sel: u8| {
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f.extend([sel, 0, 0, 0]);
        f
    };
    for k in 0..10u8 {
        r.device_receive(0, &frame(k % 4));
    }
    r.run_while_busy();
    let count = |r: &Router, e: &str| r.read_handler(Some(r.find(e).unwrap()), "count").unwrap();
    assert_eq!(count(&r, "c0"), "3");
    assert_eq!(count(&r, "c3"), "2");
    assert_eq!(r.read_handler(Some(r.find("c1").unwrap()), "byte_count").unwrap(), "54");
    // A write handler on a lane.
    r.write_handler(Some(r.find("c0").unwrap()), "reset", "").unwrap().unwrap();
    assert_eq!(count(&r, "c0"), "0");
    assert_eq!(count(&r, "c1"), "3");
    // Reconfigured to call a handler, a lane still does what its element would.
    r.write_handler(Some(r.find("c2").unwrap()), "config", "COUNT_CALL 3 c1.reset").unwrap().unwrap();
    for k in 0..4u8 {
        r.device_receive(0, &frame(k));
    }
    r.run_while_busy();
    assert_eq!(count(&r, "c2"), "3");
    assert_eq!(count(&r, "c1"), "0", "c2's COUNT_CALL reset c1");
    assert_eq!(count(&r, "c0"), "1");
    assert_eq!(count(&r, "x3"), "3");
    // Hot swap to the same tenants and one more: counts carry over, lanes again.
    r.hot_swap(&config(&[Tail::CounterDiscard; 5])).unwrap();
    assert_eq!(r.lane_groups().len(), 2);
    assert_eq!(r.lane_groups()[0].len(), 5);
    assert_eq!(count(&r, "c2"), "3");
    assert_eq!(count(&r, "x3"), "3");
    assert_eq!(count(&r, "c4"), "0");
    r.device_receive(0, &frame(4));
    r.device_receive(0, &frame(3));
    r.run_while_busy();
    assert_eq!(count(&r, "c4"), "1");
    assert_eq!(count(&r, "x3"), "4");
}
