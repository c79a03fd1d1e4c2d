//! Randomized isolation: random tenants running random chains of library elements
//! (some of which try to spoof other tenants' or made-up addresses, or to send
//! where they may not), random traffic including spoofed, cross-tenant, unmatched
//! and malformed frames. Frames go in one at a time, so each frame that leaves is
//! known to come from the one tenant the frame went to. Properties:
//!
//! - a frame reaches exactly the tenant whose registration it matches (each
//!   tenant's entry counter equals the count computed from the manifest), so no
//!   packet for A ever reaches an element of B;
//! - no merged connection joins two tenants;
//! - what a tenant emits has its own source address (or a registered flow's, with
//!   that flow's protocol and port), or the source of a frame it received; a
//!   third party's goes only to its own addresses, its ALLOW list or such peers.

mod common;

use std::collections::HashSet;
use std::fmt::Write as _;

use common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct TenantSpec {
    addrs: Vec<[u8; 4]>,
    /// (addr, proto, port): UDP or TCP 3-tuples.
    flows: Vec<([u8; 4], u8, u16)>,
    third_party: bool,
    /// Indexes into STAGES.
    stages: Vec<usize>,
}

/// Stages a tenant's chain is drawn from. `{OTHER}` becomes another tenant's
/// address, `{OWN}` one of its own, `{EXT}` an outside address.
const STAGES: &[&str] = &[
    "Counter",
    "Null",
    "IPMirror",
    "EtherMirror",
    "Paint(3)",
    "DecIPTTL",
    "IPFilter(allow udp, allow tcp, deny all)",
    "IPFilter(deny src net 192.0.2.0/28, allow all)",
    "StoreIPAddress({OTHER}, src)",
    "StoreIPAddress({EXT}, src)",
    "StoreIPAddress({OWN}, src)",
    "StoreIPAddress({EXT}, dst)",
    "StoreIPAddress(198.51.100.9, dst)",
    "UDPRewriter(pattern {OTHER} 1024-65535 - - 0 0, CAPACITY 64)",
    "IPRewriter(pattern {OWN} 1024-65535 - - 0 0, CAPACITY 64)",
    "Queue(8) -> Unqueue",
    "Strip(14) -> Unstrip(14)",
    // A copy of each packet goes straight out, mirrored.
    TEE,
];

const TEE: &str = "Tee(2)";

fn addr_of(t: usize, k: usize) -> [u8; 4] {
    [10, 1, t as u8, k as u8 + 1]
}

fn tenant_spec(t: usize) -> impl Strategy<Value = TenantSpec> {
    (
        1..3usize,
        proptest::collection::vec((prop_oneof![Just(17u8), Just(6u8)], 1u16..4), 0..2),
        any::<bool>(),
        proptest::collection::vec(0..STAGES.len(), 1..5),
    )
        .prop_map(move |(naddrs, flows, third_party, stages)| TenantSpec {
            addrs: (0..naddrs).map(|k| addr_of(t, k)).collect(),
            flows: flows
                .into_iter()
                .enumerate()
                .map(|(i, (p, port))| ([10, 2, t as u8, i as u8 + 1], p, port))
                .collect(),
            third_party,
            stages,
        })
}

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// The tenant's configuration text.
fn config(t: usize, spec: &TenantSpec, all: &[TenantSpec]) -> String {
    let other = (t + 1) % all.len();
    let mut chain: Vec<String> = vec!["input".into(), "entry :: Counter".into()];
    let mut extra = String::new();
    for (i, &s) in spec.stages.iter().enumerate() {
        let text = STAGES[s]
            .replace("{OTHER}", &ip(all[other].addrs[0]))
            .replace("{OWN}", &ip(spec.addrs[0]))
            .replace("{EXT}", "203.0.113.7");
        if text == TEE {
            chain.push(format!("t{i} :: {TEE}"));
            let _ = writeln!(extra, "t{i}[1] -> IPMirror -> output;");
        } else {
            chain.push(text);
        }
    }
    chain.push("output".into());
    format!("{};\n{extra}", chain.join(" -> "))
}

fn manifest(specs: &[TenantSpec]) -> String {
    let mut m = String::new();
    for (t, s) in specs.iter().enumerate() {
        let addrs: Vec<String> = s.addrs.iter().map(|a| format!("\"{}\"", ip(*a))).collect();
        let flows: Vec<String> = s
            .flows
            .iter()
            .map(|(a, p, port)| {
                format!(
                    "{{ addr = \"{}\", proto = \"{}\", port = {port} }}",
                    ip(*a),
                    if *p == 6 { "tcp" } else { "udp" }
                )
            })
            .collect();
        let _ = write!(
            m,
            "[[tenant]]\nname = \"t{t}\"\naddresses = [{}]\nflows = [{}]\nconfig = \"t{t}.click\"\ntrust = \"{}\"\nallow = [\"198.51.100.0/24\"]\n\n",
            addrs.join(", "),
            flows.join(", "),
            if s.third_party { "third-party" } else { "client" }
        );
    }
    m
}

#[derive(Clone, Debug)]
struct FrameSpec {
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    sport: u16,
    dport: u16,
    /// Bytes to cut off the end (a malformed frame when it cuts the headers).
    cut: usize,
    non_ip: bool,
}

fn frame_spec(ntenants: usize) -> impl Strategy<Value = FrameSpec> {
    let addr = prop_oneof![
        (0..ntenants, 0..3usize).prop_map(|(t, k)| addr_of(t, k)),
        (0..ntenants, 0..3usize).prop_map(|(t, k)| [10, 2, t as u8, k as u8 + 1]),
        Just([192, 0, 2, 1]),
        Just([192, 0, 2, 200]),
        Just([203, 0, 113, 7]),
        Just([10, 1, 99, 1]),
    ];
    (
        addr.clone(),
        addr,
        prop_oneof![Just(17u8), Just(6u8), Just(1u8)],
        1u16..4,
        1u16..4,
        prop_oneof![8 => Just(0usize), 1 => 1..60usize],
        prop_oneof![15 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(src, dst, proto, sport, dport, cut, non_ip)| FrameSpec {
            src,
            dst,
            proto,
            sport,
            dport,
            cut,
            non_ip,
        })
}

/// The tenant a well-formed frame belongs to, from the manifest alone.
fn owner(specs: &[TenantSpec], f: &FrameSpec) -> Option<usize> {
    specs.iter().position(|s| {
        s.addrs.contains(&f.dst) || s.flows.iter().any(|&(a, p, port)| a == f.dst && p == f.proto && port == f.dport)
    })
}

fn headers(frame: &[u8]) -> Option<([u8; 4], [u8; 4], u8, u16)> {
    if frame.get(12..14)? != [8, 0] || frame.len() < 38 {
        return None;
    }
    let g = |i: usize| [frame[i], frame[i + 1], frame[i + 2], frame[i + 3]];
    Some((g(26), g(30), frame[23], u16::from_be_bytes([frame[34], frame[35]])))
}

fn scenario() -> impl Strategy<Value = (Vec<TenantSpec>, Vec<FrameSpec>)> {
    (2..5usize).prop_flat_map(|n| {
        let specs: Vec<_> = (0..n).map(tenant_spec).collect();
        (specs, proptest::collection::vec(frame_spec(n), 1..40))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_tenant_sees_or_speaks_for_another((specs, frames) in scenario()) {
        let mut setup = Setup::new(&manifest(&specs));
        for t in 0..specs.len() {
            setup = setup.file(&format!("t{t}.click"), &config(t, &specs[t], &specs));
        }
        let merged = setup.merge().unwrap_or_else(|e| panic!("{}\n{}", e.join("\n"), setup.manifest));
        // No connection joins two tenants (or a tenant's elements to the platform's,
        // except through its own guard).
        let tenant_of = |name: &str| name.split('/').next().unwrap().to_string();
        for c in &merged.flat.connections {
            let a = tenant_of(&merged.flat.elements[c.from.element].name);
            let b = tenant_of(&merged.flat.elements[c.to.element].name);
            prop_assert!(a == b || a == "platform" || b == "platform", "{a} -> {b}");
        }
        let mut r = router(&merged.text);
        let mut expected = vec![0u64; specs.len()];
        let mut peers: Vec<HashSet<[u8; 4]>> = vec![HashSet::new(); specs.len()];
        for f in &frames {
            let mut bytes = frame(f.src, f.dst, f.proto, f.sport, f.dport);
            if f.non_ip {
                bytes[12..14].copy_from_slice(&[0x86, 0xdd]);
            }
            bytes.truncate(bytes.len() - f.cut.min(bytes.len()));
            // The platform's CheckIPHeader drops frames cut into the IP datagram
            // (it fills the frame: 14 + 46 bytes).
            let well_formed = !f.non_ip && f.cut == 0;
            let to = if well_formed { owner(&specs, f) } else { None };
            let before: Vec<u64> = (0..specs.len()).map(|t| read(&r, &format!("t{t}.out_packets")).parse().unwrap()).collect();
            let out = exchange(&mut r, &[bytes]);
            if let Some(t) = to {
                expected[t] += 1;
                peers[t].insert(f.src);
            }
            let senders: Vec<usize> = (0..specs.len())
                .filter(|&t| read(&r, &format!("t{t}.out_packets")).parse::<u64>().unwrap() > before[t])
                .collect();
            prop_assert!(senders.len() <= 1, "one frame in, several tenants sent: {senders:?}");
            if out.is_empty() {
                continue;
            }
            let Some(&t) = senders.first() else {
                // The platform answers nothing on its own here (no ARP configured).
                return Err(TestCaseError::fail(format!("frames left that no tenant sent: {out:?}")));
            };
            prop_assert_eq!(Some(t), to, "a tenant that did not receive the frame sent something");
            let s = &specs[t];
            for o in &out {
                let Some((src, dst, proto, sport)) = headers(o) else {
                    return Err(TestCaseError::fail(format!("t{t} sent a non-IP or short frame past its guard")));
                };
                let own_flow = s.flows.iter().any(|&(a, p, port)| a == src && p == proto && port == sport);
                prop_assert!(
                    s.addrs.contains(&src) || own_flow || peers[t].contains(&src),
                    "t{t} sent from {src:?}, not its own nor a peer's"
                );
                if s.third_party {
                    let own = s.addrs.contains(&dst) || s.flows.iter().any(|f| f.0 == dst);
                    prop_assert!(own || dst[..3] == [198, 51, 100] || peers[t].contains(&dst), "t{t} sent to {dst:?}");
                }
            }
        }
        for (t, want) in expected.iter().enumerate() {
            let got: u64 = read(&r, &format!("t{t}/entry.count")).parse().unwrap();
            prop_assert_eq!(got, *want, "t{} got {} frames, its registrations match {}", t, got, want);
        }
    }
}
