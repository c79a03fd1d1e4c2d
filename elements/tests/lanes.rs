//! Lane fusion (`oxclick_runtime::lanes`) changes nothing a user sees: random
//! routers with a demux in front of per-output chains (own Counters and
//! Discards, shared elements, elements that cannot fuse, queues, cycles back
//! into the demux) run the same random frames fused and unfused, and must send
//! the same frames in the same order and leave every handler reading the same.

mod common;

use std::collections::BTreeMap;

use oxclick_runtime::{DeviceInfo, Router};
use proptest::prelude::*;

fn build(src: &str, fuse_lanes: bool) -> Router {
    let vif0 = DeviceInfo { name: "vif0".into(), mac: [0, 0x16, 0x3e, 0, 0, 1] };
    common::router(src, vec![vif0], fuse_lanes).unwrap_or_else(|e| panic!("{e:?}\n{src}"))
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

/// Every frame sent, in order, and the value of every element-specific read
/// handler (`ELEM.HANDLER`), after feeding `rounds` of frames (a run and a
/// transmit after each round).
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
    let mut handlers = BTreeMap::new();
    let names: Vec<String> = r.element_names().map(String::from).collect();
    for (i, name) in names.iter().enumerate() {
        let list = r.read_handler(Some(i), "handlers").unwrap_or_default();
        for h in list.lines().filter(|h| !matches!(*h, "name" | "class" | "config" | "ports" | "handlers")) {
            if let Some(v) = r.read_handler(Some(i), h) {
                handlers.insert(format!("{name}.{h}"), v);
            }
        }
    }
    (sent, handlers)
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
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn fused_and_unfused_routers_do_the_same(
        tails in prop::collection::vec(tail(), 2..9),
        rounds in prop::collection::vec(frames(10), 1..4),
    ) {
        let src = config(&tails);
        let fused = run(&src, &rounds, true);
        let unfused = run(&src, &rounds, false);
        prop_assert_eq!(&fused.0, &unfused.0, "frames sent differ\n{}", src);
        prop_assert_eq!(&fused.1, &unfused.1, "handlers differ\n{}", src);
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
    assert_eq!(r.read_handler(None, "lanes").unwrap(), "2\nCounter 6 lanes: c0 ... c5\nDiscard 6 lanes: x0 ... x5\n");
    assert!(build(&src, false).lane_groups().is_empty());
    assert_eq!(build(&src, false).read_handler(None, "lanes").unwrap(), "0\n");

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
        assert_eq!(counts[&format!("c{o}.count")], want, "c{o}");
        assert_eq!(counts[&format!("x{o}.count")], want, "x{o}");
    }
    assert_eq!(counts["unmatched.count"], "8");
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

/// A tenant of the consolidated shape: its guard, its firewall, its counter,
/// and its way back out through its guard.
#[derive(Clone, Copy, Debug)]
enum Tenant {
    /// The common firewall: `allow udp dst port 1500, deny all`.
    Firewall,
    /// A firewall of its own (another program: not a lane of the others').
    OwnFirewall,
    /// Answers every packet with its addresses swapped (through its guard,
    /// which lets the answer out only from the tenant's own address).
    Mirror,
    /// An element that cannot be a lane on the way back.
    PaintBack,
    /// Sends nothing (a guard with one input and one output).
    Sink,
    /// Sends every packet on from a source address not its own: the guard
    /// drops them (spoofing).
    Spoof,
}

fn tenant() -> impl Strategy<Value = Tenant> {
    prop::sample::select(vec![
        Tenant::Firewall,
        Tenant::Firewall,
        Tenant::Firewall,
        Tenant::OwnFirewall,
        Tenant::Mirror,
        Tenant::PaintBack,
        Tenant::Sink,
        Tenant::Spoof,
    ])
}

fn consolidated(tenants: &[(Tenant, bool)]) -> String {
    let n = tenants.len();
    let mut s = String::from(
        "rx :: FromNetfront(0); tx :: ToNetfront(0); Idle -> tx;\n\
         rx -> e :: Classifier(12/0800, -) [0] -> CheckIPHeader(14) -> d :: IPClassifier(",
    );
    let rules: Vec<String> = (0..n).map(|k| format!("dst host 10.0.{k}.1")).chain(["-".into()]).collect();
    s += &rules.join(", ");
    s += &format!(");\nd[{n}] -> unmatched :: Discard;\n");
    for (k, (t, third_party)) in tenants.iter().enumerate() {
        let trust = if *third_party { "third-party" } else { "client" };
        s += &format!("g{k} :: TenantGuard(TRUST {trust}, ADDR 10.0.{k}.1, PEERS 256);\nd[{k}] -> g{k};\n");
        s += &match t {
            Tenant::Firewall => {
                format!("g{k} -> f{k} :: IPFilter(allow udp dst port 1500, deny all) -> c{k} :: Counter -> [1] g{k};\n")
            }
            Tenant::OwnFirewall => {
                format!("g{k} -> f{k} :: IPFilter(allow udp, deny all) -> c{k} :: Counter -> [1] g{k};\n")
            }
            Tenant::Mirror => format!("g{k} -> c{k} :: Counter -> IPMirror -> [1] g{k};\n"),
            Tenant::PaintBack => format!(
                "g{k} -> f{k} :: IPFilter(allow udp dst port 1500, deny all) -> c{k} :: Counter -> Paint(1) -> [1] g{k};\n"
            ),
            Tenant::Sink => format!("g{k} -> c{k} :: Counter -> x{k} :: Discard;\n"),
            Tenant::Spoof => format!("g{k} -> c{k} :: Counter -> StoreIPAddress(10.9.9.9, src) -> [1] g{k};\n"),
        };
        if !matches!(t, Tenant::Sink) {
            s += &format!("g{k}[1] -> tx;\n");
        }
    }
    s += "e[1] -> Discard;\n";
    s
}

/// An Ethernet/IPv4/UDP frame from `10.0.S.2` (S = `src`) to `10.0.D.1` (or,
/// for D past the tenants, an unknown address) and UDP port `port`, with a
/// valid IP checksum.
fn ip_frame(src: u8, dst: u8, port: u16, id: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&28u16.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, src, 2]);
    ip[16..20].copy_from_slice(&[10, 0, dst, 1]);
    let sum = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f[34..36].copy_from_slice(&1234u16.to_be_bytes());
    f[36..38].copy_from_slice(&port.to_be_bytes());
    f[38..40].copy_from_slice(&8u16.to_be_bytes());
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn consolidated_tenants_fused_and_unfused_do_the_same(
        tenants in prop::collection::vec((tenant(), any::<bool>()), 2..8),
        rounds in prop::collection::vec(
            prop::collection::vec((0u8..10, 0u8..10, prop::sample::select(vec![1500u16, 53]), any::<u16>()), 0..80),
            1..4,
        ),
    ) {
        let src = consolidated(&tenants);
        let rounds: Vec<Vec<Vec<u8>>> = rounds
            .iter()
            .map(|frames| frames.iter().map(|&(s, d, port, id)| ip_frame(s, d, port, id)).collect())
            .collect();
        let fused = run(&src, &rounds, true);
        let unfused = run(&src, &rounds, false);
        prop_assert_eq!(&fused.0, &unfused.0, "frames sent differ\n{}", src);
        prop_assert_eq!(&fused.1, &unfused.1, "handlers differ\n{}", src);
    }
}

/// The consolidated shape with one firewall for every tenant is one chain of
/// groups: guards, firewalls, counters, and back into the guards.
#[test]
fn consolidated_tenants_become_a_chain_of_lane_groups() {
    let src = consolidated(&[(Tenant::Firewall, false); 5]);
    let r = build(&src, true);
    let groups: Vec<Vec<String>> =
        r.lane_groups().iter().map(|g| g.iter().map(|&e| r.element_name(e).to_string()).collect()).collect();
    let names = |p: &str| (0..5).map(|o| format!("{p}{o}")).collect::<Vec<_>>();
    assert_eq!(groups, [names("g"), names("f"), names("c")]);
    let frames: Vec<Vec<u8>> = (0..50u16).map(|k| ip_frame(9, (k % 5) as u8, 1500, k)).collect();
    let (sent, handlers) = run(&src, &[frames], true);
    // Each tenant passes its ten packets on unchanged: their source is a peer.
    assert_eq!(sent.len(), 50);
    for k in 0..5 {
        assert_eq!(handlers[&format!("c{k}.count")], "10");
        assert_eq!(handlers[&format!("g{k}.in_packets")], "10");
        assert_eq!(handlers[&format!("g{k}.out_packets")], "10");
    }
}

/// A group whose lanes' outputs lead back into the group itself, lane for lane
/// (each Counter wired to its own input): packets go round until the budget
/// for packets brought back to a running group is spent, then are dropped;
/// the router neither hangs nor runs out of stack, fused or not.
#[test]
fn a_group_wired_into_itself_stops() {
    let src = "rx :: FromNetfront(0); tx :: ToNetfront(0); Idle -> tx;\n\
               d :: Classifier(14/00, 14/01, -); rx -> d; d[2] -> Discard;\n\
               d[0] -> c0 :: Counter -> c0; d[1] -> c1 :: Counter -> c1;\n";
    for fuse in [true, false] {
        let mut r = build(src, fuse);
        assert_eq!(r.lane_groups().len(), usize::from(fuse), "fused: {fuse}");
        for k in 0..4u8 {
            let mut f = vec![0u8; 14];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f.extend([k % 2, k]);
            r.device_receive(0, &f);
        }
        r.run_while_busy();
        let count = |e: &str| r.read_handler(Some(r.find(e).unwrap()), "count").unwrap().parse::<u64>().unwrap();
        let (c0, c1) = (count("c0"), count("c1"));
        assert!(c0 > 2 && c1 > 2, "fused: {fuse}: {c0} {c1}");
        assert!(c0 <= 2 * (1 << 16) + 2 && c1 <= 2 * (1 << 16) + 2, "fused: {fuse}: {c0} {c1}");
    }
}

/// A lane reconfigured while fused runs its new configuration: one tenant's
/// firewall rewritten to deny all stops that tenant's traffic only, though the
/// group had been classifying every lane's packets with the one program they
/// shared.
#[test]
fn a_lane_reconfigured_runs_its_new_configuration() {
    let src = consolidated(&[(Tenant::Firewall, false); 3]);
    let mut r = build(&src, true);
    assert_eq!(r.lane_groups().len(), 3);
    let send = |r: &mut Router| {
        for k in 0..9u16 {
            r.device_receive(0, &ip_frame(9, (k % 3) as u8, 1500, k));
        }
        r.run_while_busy();
    };
    send(&mut r);
    r.write_handler(Some(r.find("f1").unwrap()), "config", "deny all").unwrap().unwrap();
    send(&mut r);
    let count = |r: &Router, e: &str| r.read_handler(Some(r.find(e).unwrap()), "count").unwrap();
    assert_eq!(count(&r, "c0"), "6");
    assert_eq!(count(&r, "c1"), "3");
    assert_eq!(count(&r, "c2"), "6");
    // And back: the lanes share one program again.
    r.write_handler(Some(r.find("f1").unwrap()), "config", "allow udp dst port 1500, deny all").unwrap().unwrap();
    send(&mut r);
    assert_eq!(count(&r, "c1"), "6");
}

/// Tenants of several configurations behind one demux: those sharing one
/// firewall make groups of their own (lanes 0, 2 and 4 of the guards' group
/// lead into them and back), the others go by themselves, and the router does
/// what the unfused one does.
#[test]
fn tenants_sharing_a_configuration_among_others_make_groups_of_their_own() {
    let tenants = [
        (Tenant::Firewall, false),
        (Tenant::OwnFirewall, false),
        (Tenant::Firewall, true),
        (Tenant::Mirror, false),
        (Tenant::Firewall, false),
    ];
    let src = consolidated(&tenants);
    let r = build(&src, true);
    assert_eq!(
        r.read_handler(None, "lanes").unwrap(),
        "3\nTenantGuard 5 lanes: g0 ... g4\nIPFilter 3 lanes: f0 ... f4\nCounter 3 lanes: c0 ... c4\n"
    );
    let frames: Vec<Vec<u8>> = (0..60u16).map(|k| ip_frame((k % 7) as u8, (k % 6) as u8, 1500, k)).collect();
    let fused = run(&src, std::slice::from_ref(&frames), true);
    let unfused = run(&src, std::slice::from_ref(&frames), false);
    assert_eq!(fused, unfused);
    // Every tenant's packets (ten each; the sixth address is nobody's) were
    // counted by its own counter and left through its own guard.
    for k in 0..5 {
        assert_eq!(fused.1[&format!("c{k}.count")], "10", "c{k}");
        assert_eq!(fused.1[&format!("g{k}.out_packets")], "10", "g{k}");
    }
    assert_eq!(fused.0.len(), 50);
}
