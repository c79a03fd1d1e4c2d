//! Random and truncated frames through every element that accepts packets: no
//! panic, no out-of-bounds, malformed packets dropped or sent to the error output.

mod common;

use proptest::prelude::*;

/// Each element under test, with a configuration and its number of outputs.
const UNDER_TEST: &[(&str, usize)] = &[
    ("Strip(14)", 1),
    ("Unstrip(14)", 1),
    ("Truncate(10)", 1),
    ("CheckIPHeader", 2),
    ("CheckIPHeader(14)", 2),
    ("MarkIPHeader(14)", 1),
    ("DecIPTTL", 2),
    ("Print(p, -1)", 1),
    ("Counter", 1),
    ("Paint(3)", 1),
    ("Null", 1),
    ("Tee(2)", 2),
    ("Resize(-3, 5)", 1),
    ("Resize(20, -40)", 1),
    ("SetIPAddress(1.0.0.1)", 1),
    ("StoreIPAddress(src)", 2),
    ("StoreIPAddress(dst)", 1),
    ("StoreIPAddress(1.2.3.4, 30)", 2),
    ("RoundRobinSwitch", 2),
    ("Switch(1)", 2),
    ("PaintSwitch", 2),
    ("PaintTee(0)", 2),
    ("EtherEncap(0x0800, 1:2:3:4:5:6, 6:5:4:3:2:1)", 1),
    ("HashSwitch(0, 4)", 2),
    ("HashSwitch(12, 2)", 3),
    ("HashSwitch(1000, 10)", 2),
    ("RatedSplitter(10)", 2),
    ("BandwidthRatedSplitter(1kBps)", 2),
    ("Meter(10)", 2),
    ("BandwidthMeter(100, 1000)", 3),
    ("Pad", 1),
    ("Pad(100)", 1),
    ("SetTimestamp", 1),
    ("CheckICMPHeader", 2),
    ("CheckUDPHeader", 2),
    ("CheckTCPHeader(VERBOSE true)", 2),
    ("Classifier(12/0806 20/0001, 12/0800, !0/ff%f0, -)", 4),
    ("ARPResponder(1.0.0.0/8 2:2:2:2:2:2)", 2),
    // x is a Tee feeding both ARPQuerier inputs: frames as IP packets and as replies.
    ("Tee(2) -> a :: ARPQuerier(1.0.0.1/8, 2:2:2:2:2:2) -> Discard; x [1] -> [1] a; a [1] -> Idle", 1),
    ("StaticIPLookup(0.0.0.0/0 1.0.0.1 0, 10.0.0.0/8 1)", 2),
    ("LinearIPLookup(10.0.0.1/32 0, 0.0.0.0/0 1)", 2),
    ("DropBroadcasts", 1),
    ("IPRewriter(pattern 1.0.0.1 1024-65535# - - 0 1, CAPACITY 4)", 2),
    ("TCPRewriter(keep 0 0)", 1),
    // The rewriter keeps the flow, so the second copy finds its mapping.
    ("FTPPortMapper(t, t, 0) -> t :: TCPRewriter(keep 0 0)", 1),
    ("UDPRewriter(pattern - 10-20 2.0.0.2 99 0 0)", 1),
    ("IPAddrRewriter(pattern 1.0.0.0/30 - 0 1)", 2),
    ("IPAddrPairRewriter(pattern 1.0.0.1 2.0.0.2 0 1)", 2),
    ("IPRewriter(m) -> Discard; m :: RoundRobinIPMapper(- 10-11 - - 0 0, 1.0.0.1 - - - 0 0); Idle", 1),
    ("IPClassifier(src host 10.0.0.1 and dst port 80 or 81, tcp opt syn, ip[19]&128==0, transp[2:2] > 1000, -)", 5),
    ("IPFilter(allow udp dst port 1500, 1 icmp type echo, deny all)", 2),
    ("EtherMirror", 1),
    ("HostEtherFilter(0:0:0:0:0:1, true)", 2),
    ("HostEtherFilter(0:0:0:0:0:1, false, false, OFFSET 3)", 1),
    ("IPEncap(udp, 1.0.0.1, 2.0.0.2, DF true)", 1),
    ("UDPIPEncap(1.0.0.1, 1234, 2.0.0.2, 5678)", 1),
    ("IPMirror", 1),
    ("SetUDPChecksum", 2),
    ("SetTCPChecksum", 2),
    ("ICMPPingResponder", 2),
    ("IPReassembler", 2),
    ("IPFragmenter(28, HONOR_DF false) -> IPReassembler", 1),
    ("IPPrint(CONTENTS hex, ID true, TTL true, TOS true, LENGTH true, PAINT true)", 1),
    ("IPPrint(p, CONTENTS ascii, PAYLOAD true, MAXLENGTH -1, SWAP true)", 1),
    ("FixIPSrc(1.2.3.4)", 1),
    ("GetIPAddress(16)", 1),
    ("GetIPAddress(16, IP true)", 1),
    ("ICMPError(1.0.0.1, unreachable, needfrag)", 1),
    ("ICMPError(1.0.0.1, redirect, host)", 1),
    ("ICMPError(1.0.0.1, parameterproblem)", 1),
    ("IPFragmenter(28)", 2),
    ("IPFragmenter(40, HONOR_DF false)", 2),
    ("IPGWOptions(1.0.0.1)", 2),
    ("IPInputCombo(1)", 2),
    ("IPOutputCombo(1, 1.0.0.1, 40)", 5),
    // Pull paths (the element named x is the queue feeding them).
    ("FrontDropQueue(1) -> Unqueue", 1),
    ("Queue -> t :: PullTee -> Unqueue -> Discard; t [1] -> Print(copy)", 1),
    ("Align(4, 2)", 1),
    ("Null -> Discard; ScheduleInfo(x 2, nothing 0.5); Idle", 1),
    ("Queue -> Shaper(1000) -> Unqueue", 1),
    ("Queue -> BandwidthShaper(1kBps) -> Unqueue", 1),
    ("Queue -> RoundRobinSched -> Unqueue", 1),
    ("Queue -> PrioSched -> Unqueue", 1),
    ("Queue -> TimedUnqueue(0.001, 2)", 1),
    ("Queue -> DelayUnqueue(0.001)", 1),
    ("Queue -> RatedUnqueue(1000)", 1),
    ("Queue -> BandwidthRatedUnqueue(1kBps)", 1),
];

fn run_through(element: &str, outputs: usize, frame: &[u8], mark: bool) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let mut src = format!("InfiniteSource(DATA \\<{hex}>, LIMIT 2, STOP true)");
    if mark {
        src.push_str(" -> MarkIPHeader(14)");
    }
    src.push_str(&format!(" -> x :: {element} -> Discard;"));
    for o in 1..outputs {
        src.push_str(&format!(" x [{o}] -> Discard;"));
    }
    let mut r = common::router(&src, Vec::new(), true).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    r.run();
}

proptest! {
    #[test]
    fn random_frames(frame in prop::collection::vec(any::<u8>(), 0..80), mark in any::<bool>()) {
        for (element, outputs) in UNDER_TEST {
            run_through(element, *outputs, &frame, mark);
        }
    }

    #[test]
    fn truncated_ipv4_frames(cut in 0usize..60, ttl in any::<u8>(), ihl in 0u8..16, len in any::<u16>()) {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[8, 0, 0x40 | ihl, 0]);
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0u8; 20]);
        f.truncate(cut);
        for (element, outputs) in UNDER_TEST {
            run_through(element, *outputs, &f, true);
        }
    }

    /// The summary dump writer reads every field from hostile packets.
    #[cfg(feature = "std")]
    #[test]
    fn summary_dump_fields(frame in prop::collection::vec(any::<u8>(), 0..80), mark in any::<bool>()) {
        run_through(
            "ToIPSummaryDump(/dev/null, FIELDS ts ip_src ip_dst ip_len ip_proto ip_frag ip_fragoff ip_opt sport \
             dport tcp_seq tcp_flags tcp_opt tcp_urp udp_len icmp_type_name payload payload_len ip_capture_len)",
            1,
            &frame,
            mark,
        );
    }
}
