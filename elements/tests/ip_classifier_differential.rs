//! Differential tests of IPClassifier's compiler: random rule lists over random
//! packets, the compiled program (hash lookups for runs of exact-match rules,
//! decision graphs for the rest) against evaluating each rule's expression in
//! order. Both the general shape (random expressions) and the tenant-demux shape
//! (many `dst host` / 3-tuple rules with others between them) are covered.

use oxclick_elements::ip_classifier::IPClassifier;
use oxclick_lang::args::AddressNames;
use oxclick_runtime::{ConfigCtx, Element};
use proptest::prelude::*;

const ADDRS: [&str; 4] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "192.168.1.1"];
const PORTS: [u16; 6] = [0, 22, 53, 80, 1000, 65535];
const PROTOS: [u8; 4] = [1, 6, 17, 47];

fn primitive() -> impl Strategy<Value = String> {
    let addr = prop::sample::select(ADDRS.to_vec());
    let port = prop::sample::select(PORTS.to_vec());
    prop_oneof![
        Just("tcp".to_string()),
        Just("udp".to_string()),
        Just("icmp".to_string()),
        Just("ip frag".to_string()),
        Just("ip unfrag".to_string()),
        Just("tcp opt syn".to_string()),
        Just("icmp type echo".to_string()),
        Just("true".to_string()),
        Just("-".to_string()),
        addr.clone().prop_map(|a| format!("src host {a}")),
        addr.clone().prop_map(|a| format!("dst host {a}")),
        addr.prop_map(|a| format!("dst net {a}/24")),
        port.clone().prop_map(|p| format!("src port {p}")),
        port.clone().prop_map(|p| format!("dst port {p}")),
        port.clone().prop_map(|p| format!("tcp dst port {p}")),
        port.clone().prop_map(|p| format!("dst port > {p}")),
        port.clone().prop_map(|p| format!("src port >= {p}")),
        port.clone().prop_map(|p| format!("dst port <= {p}")),
        port.prop_map(|p| format!("src port != {p}")),
        (1u8..70).prop_map(|t| format!("ip ttl < {t}")),
        (0u8..70).prop_map(|t| format!("ip ttl != {t}")),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    primitive().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("not ({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a}) or ({b})")),
        ]
    })
}

/// A tenant-demux rule: an address, or an address, protocol and port.
fn demux_rule() -> impl Strategy<Value = String> {
    let addr = (0u8..6, 0u8..6).prop_map(|(a, b)| format!("10.0.{a}.{b}"));
    prop_oneof![
        addr.clone().prop_map(|a| format!("dst host {a}")),
        (addr, prop::sample::select(PORTS.to_vec())).prop_map(|(a, p)| format!("dst host {a} and tcp dst port {p}")),
    ]
}

/// An IPv4 packet from a few values per field (so rules match often), cut
/// short at `cut` when that is shorter, so truncated headers are covered too.
#[allow(clippy::too_many_arguments)]
fn packet(src: u8, dst: u8, proto: u8, sport: u16, dport: u16, ttl: u8, frag: u16, flags: u8, cut: usize) -> Vec<u8> {
    let addr = |i: u8| -> [u8; 4] {
        match i % 6 {
            0..=3 => {
                ADDRS[(i % 4) as usize].split('.').map(|o| o.parse().unwrap()).collect::<Vec<u8>>().try_into().unwrap()
            }
            _ => [10, 0, i % 6, i / 6 % 6],
        }
    };
    let mut p = vec![0x45, 0, 0, 40, 0, 1];
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[ttl, proto, 0, 0]);
    p.extend_from_slice(&addr(src));
    p.extend_from_slice(&addr(dst));
    if proto == 1 {
        p.extend_from_slice(&[if sport.is_multiple_of(2) { 8 } else { 0 }, 0, 0, 0, 0, 0, 0, 0]);
    } else {
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&[0x50, flags, 0, 0, 0, 0, 0, 0]);
    }
    p.truncate(cut.max(1));
    p
}

fn packets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let one = (
        0u8..36,
        0u8..36,
        prop::sample::select(PROTOS.to_vec()),
        prop::sample::select(PORTS.to_vec()),
        prop::sample::select(PORTS.to_vec()),
        1u8..80,
        prop::sample::select(vec![0u16, 0x2000, 0x0001, 0x4000]),
        prop::sample::select(vec![0u8, 0x02, 0x12, 0x10]),
        prop::sample::select(vec![100usize, 40, 23, 21, 20, 12, 9]),
    )
        .prop_map(|(s, d, pr, sp, dp, t, f, fl, c)| packet(s, d, pr, sp, dp, t, f, fl, c));
    let noise = prop::collection::vec(any::<u8>(), 0..60);
    prop::collection::vec(prop_oneof![4 => one, 1 => noise], 1..40)
}

fn classifier(rules: &[String]) -> IPClassifier {
    let names = AddressNames::default();
    let mut c = IPClassifier::classifier();
    let config = rules.join(", ");
    c.configure(&config, &ConfigCtx::with_names(&names)).unwrap_or_else(|e| panic!("{config}: {e:?}"));
    c
}

fn agree(rules: &[String], packets: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let c = classifier(rules);
    for ip in packets {
        prop_assert_eq!(c.matching_rule(ip), c.interpreted_rule(ip), "rules {:?}, packet {:?}", rules, ip);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn compiled_expressions_agree_with_the_interpreter(
        rules in prop::collection::vec(expression(), 1..30),
        packets in packets(),
    ) {
        agree(&rules, &packets)?;
    }

    #[test]
    fn compiled_demuxes_agree_with_the_interpreter(
        demux in prop::collection::vec(demux_rule(), 1..40),
        others in prop::collection::vec((0usize..40, expression()), 0..4),
        packets in packets(),
    ) {
        // Other rules dropped in between split the hashable runs.
        let mut rules = demux;
        for (at, e) in others {
            let at = at.min(rules.len());
            rules.insert(at, e);
        }
        agree(&rules, &packets)?;
    }
}
