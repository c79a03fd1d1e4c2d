//! The router with the core elements: Click's checks and messages, push/pull
//! resolution, running, handlers.

mod common;

use std::cell::RefCell;

use oxclick_lang::{Options, read};
use oxclick_runtime::{Router, RouterOptions};

struct Built {
    router: Result<Router, Vec<String>>,
    console: common::Console,
}

fn build(src: &str) -> Built {
    let (router, console) = common::router_with_console(src);
    Built { router, console }
}

fn errors(src: &str) -> Vec<String> {
    match build(src).router {
        Ok(_) => vec![],
        Err(e) => e,
    }
}

fn handler(r: &Router, elem: &str, h: &str) -> String {
    r.read_handler(Some(r.find(elem).expect("element")), h).expect("handler")
}

#[test]
fn click_check_messages() {
    assert_eq!(
        errors("i::InfiniteSource -> Print -> d::Discard;\ni -> Print -> d;"),
        ["t:1: illegal reuse of 'i :: InfiniteSource' push output 0", "Router could not be initialized!"]
    );
    assert_eq!(
        errors("i::InfiniteSource -> Print -> d::Discard;\nInfiniteSource -> p::Print;"),
        ["t:2: 'p :: Print' output 0 unused", "Router could not be initialized!"]
    );
    assert_eq!(
        errors("q :: Queue; Idle -> q; q -> [1] c :: Counter -> Discard; q -> Discard"),
        ["t:1: 'c :: Counter' has no input 1", "Router could not be initialized!"]
    );
    assert_eq!(
        errors("Idle -> q :: Queue -> PushNull -> Discard"),
        [
            "'q :: Queue' pull output 0 connected to 'PushNull@3 :: PushNull' push input 0",
            "Router could not be initialized!"
        ]
    );
    assert_eq!(
        errors("Idle -> Counter(5) -> Discard"),
        ["t:1: While configuring 'Counter@2 :: Counter':", "  too many arguments", "Router could not be initialized!"]
    );
}

#[test]
fn agnostic_ports_take_their_neighbours_processing() {
    // Counter between a queue and Unqueue runs pull; between a source and Discard, push.
    let b = build("InfiniteSource(LIMIT 3, STOP true) -> q :: Queue -> c :: Counter -> Unqueue -> d :: Discard");
    let mut r = b.router.unwrap();
    assert!(handler(&r, "c", "ports").starts_with("1 input\npull\t-\tq [0]\n"));
    r.run();
    assert_eq!(handler(&r, "c", "count"), "3");
    assert_eq!(handler(&r, "d", "count"), "3");
}

#[test]
fn sources_stop_the_driver_and_print_prints() {
    let b = build("InfiniteSource(DATA \"ab\", LIMIT 2, STOP true) -> Print(x) -> c :: Counter -> Discard");
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "c", "count"), "2");
    assert_eq!(handler(&r, "c", "byte_count"), "4");
    assert_eq!(*b.console.borrow(), ["x:    2 | 6162", "x:    2 | 6162"]);
}

#[test]
fn print_shows_the_timestamp_annotation_when_asked() {
    let b = build(
        "InfiniteSource(DATA \"ab\", LIMIT 1, STOP true) -> SetTimestamp(1000.0000305) -> Print(x, TIMESTAMP true) -> Print(TIMESTAMP true, CONTENTS false) -> Discard",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(*b.console.borrow(), ["x: 1000.000030:    2 | 6162", "1000.000030:    2"]);
}

#[test]
fn rated_source_is_paced_in_simulated_time() {
    let b = build("s :: RatedSource(RATE 100, LIMIT 5, STOP true) -> c :: Counter -> Discard");
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "c", "count"), "5");
}

#[test]
fn driver_manager_waits_for_stops() {
    let b = build(
        "InfiniteSource(LIMIT 1, STOP true) -> a :: Counter -> Discard;
         InfiniteSource(LIMIT 4, STOP true) -> b :: Counter -> Discard;
         DriverManager(wait_stop 2)",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "a", "count"), "1");
    assert_eq!(handler(&r, "b", "count"), "4");
}

#[test]
fn tee_copies_to_every_output() {
    let b = build(
        "InfiniteSource(LIMIT 2, STOP true) -> t :: Tee; t -> a :: Counter -> Discard; t [1] -> b :: Counter -> Discard",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!((handler(&r, "a", "count"), handler(&r, "b", "count")), ("2".into(), "2".into()));
}

#[test]
fn queue_drops_when_full() {
    // The source sleeps once the queue is full (as Click's does), so the script
    // stops the router.
    let b = build(
        "InfiniteSource(LIMIT 10, BURST 10) -> q :: Queue(4) -> Discard(ACTIVE false);
         Script(wait 0.01, write stop)",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "q", "length"), "4");
    assert_eq!(handler(&r, "q", "drops"), "6");
    assert_eq!(handler(&r, "q", "highwater_length"), "4");
}

#[test]
fn router_handlers() {
    let b = build("a :: Idle -> Discard");
    let r = b.router.unwrap();
    assert_eq!(r.read_handler(None, "list").unwrap(), "2\na\nDiscard@2\n");
    assert_eq!(r.read_handler(None, "flatconfig").unwrap(), "a :: Idle;\nDiscard@2 :: Discard;\n\na -> Discard@2;\n");
    assert_eq!(handler(&r, "a", "class"), "Idle");
}

/// A 20-byte IPv4/UDP-less header with a valid checksum, after a 14-byte Ethernet header.
fn frame(ttl: u8) -> String {
    let mut ip = [0x45u8, 0, 0, 20, 0, 1, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    let sum = oxclick_elements::ip::ip_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut hex = String::from("\\<000000000001 000000000002 0800 ");
    for b in ip {
        hex.push_str(&format!("{b:02x}"));
    }
    hex.push('>');
    hex
}

#[test]
fn ip_chain_checks_decrements_ttl_and_restores_ethernet() {
    let src = format!(
        "InfiniteSource(DATA {}, LIMIT 3, STOP true) -> Strip(14) -> c :: CheckIPHeader -> d :: DecIPTTL -> Unstrip(14) -> ok :: Counter -> Print(x, -1) -> Discard;
         c [1] -> bad :: Counter -> Discard; d [1] -> expired :: Counter -> Discard;
         InfiniteSource(DATA {}, LIMIT 2, STOP true) -> Strip(14) -> c2 :: CheckIPHeader -> d2 :: DecIPTTL -> Discard; d2 [1] -> exp2 :: Counter -> Discard;
         InfiniteSource(DATA \\<45 00 00>, LIMIT 1, STOP true) -> c3 :: CheckIPHeader -> Discard; c3 [1] -> bad3 :: Counter -> Discard;
         DriverManager(wait_stop 3)",
        frame(64),
        frame(1)
    );
    let b = build(&src);
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "ok", "count"), "3");
    assert_eq!(handler(&r, "exp2", "count"), "2");
    assert_eq!(handler(&r, "bad3", "count"), "1");
    assert_eq!(handler(&r, "c3", "drops"), "1");
    // TTL 64 -> 63 and a checksum that still verifies; the Ethernet header is back.
    let line = b.console.borrow()[0].clone();
    let hex: String = line.split(" | ").nth(1).unwrap().replace(' ', "");
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    assert_eq!(&bytes[..14], &[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 8, 0]);
    assert_eq!(bytes[14 + 8], 63);
    assert_eq!(oxclick_elements::ip::ip_checksum(&bytes[14..34]), 0);
}

#[test]
fn driver_manager_prints_and_writes_handlers() {
    let out = std::rc::Rc::new(RefCell::new(Vec::new()));
    let sink = out.clone();
    let src = "Idle -> e :: EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> Idle;
               DriverManager(print e.ethertype, write e.ethertype 0x0801, print e.ethertype, print \"done\", stop)";
    let opts = RouterOptions {
        output: Box::new(move |l: &str| sink.borrow_mut().push(l.to_string())),
        ..RouterOptions::quiet(Vec::new())
    };
    let mut r = common::router_with_options(src, opts).unwrap();
    r.run();
    assert_eq!(*out.borrow(), ["2048", "2049", "done"]);
}

#[test]
fn check_ip_header_refuses_interface_broadcast_sources() {
    // frame() sends from 10.0.0.1; make that an interface broadcast address.
    let src = format!(
        "InfiniteSource(DATA {}, LIMIT 2, STOP true) -> Strip(14) -> c :: CheckIPHeader(INTERFACES 10.0.0.1/32) -> ok :: Counter -> Discard; c [1] -> bad :: Counter -> Discard",
        frame(64)
    );
    let mut r = build(&src).router.unwrap();
    r.run();
    assert_eq!((handler(&r, "ok", "count"), handler(&r, "bad", "count")), ("0".into(), "2".into()));
    let src = format!(
        "InfiniteSource(DATA {}, LIMIT 2, STOP true) -> Strip(14) -> c :: CheckIPHeader(BADSRC 9.9.9.9) -> ok :: Counter -> Discard; c [1] -> Discard",
        frame(64)
    );
    let mut r = build(&src).router.unwrap();
    r.run();
    assert_eq!(handler(&r, "ok", "count"), "2");
}

#[test]
fn address_info_names_reach_other_elements() {
    let b = build(
        "AddressInfo(gw 10.0.0.1/8 00:01:02:03:04:05);
         InfiniteSource(DATA \\<01>, LIMIT 1, STOP true) -> SetIPAddress(gw) -> e :: EtherEncap(0x0800, gw, gw:eth) -> Discard",
    );
    let r = b.router.unwrap();
    assert_eq!(handler(&r, "e", "src"), "00-01-02-03-04-05");
    assert_eq!(
        errors("AddressInfo(gw 10.0.0.1); Idle -> EtherEncap(0x0800, gw, gw) -> Discard"),
        [
            "t:1: While configuring 'EtherEncap@3 :: EtherEncap':",
            "  SRC: expected Ethernet address",
            "  DST: expected Ethernet address",
            "Router could not be initialized!"
        ]
    );
}

#[test]
fn encapsulated_udp_checks_clean_and_survives_fragmenting() {
    // UDPIPEncap's checksums verify; fragments reassemble to the same datagram;
    // a ping request is answered.
    let b = build(
        "InfiniteSource(LENGTH 1000, LIMIT 5, STOP true)
           -> UDPIPEncap(10.0.0.1, 1234, 10.0.0.2, 5678)
           -> CheckIPHeader -> cu :: CheckUDPHeader
           -> IPFragmenter(300) -> frags :: Counter
           -> IPReassembler -> CheckIPHeader -> CheckUDPHeader -> whole :: Counter -> Discard",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "cu", "drops"), "0");
    assert_eq!(handler(&r, "frags", "count"), "20");
    assert_eq!(handler(&r, "whole", "count"), "5");
    assert_eq!(handler(&r, "whole", "byte_count"), "5140");
}

#[test]
fn hot_swap_keeps_queued_packets_and_survives_a_bad_config() {
    let b = build(
        "InfiniteSource(LIMIT 5) -> q :: Queue(10) -> Discard(ACTIVE false);
         Script(wait 1, write stop)",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "q", "length"), "5");
    // A configuration that fails (an unknown class) leaves the old router as it was.
    let err = r.write_handler(None, "hotconfig", "q :: Queue(10); Idle -> q -> NoSuchClass -> Discard");
    assert!(matches!(err, Some(Err(_))), "{err:?}");
    assert_eq!(handler(&r, "q", "length"), "5");
    // The new router's q takes the five packets, and its counter sees them.
    let ok = r.write_handler(
        None,
        "hotconfig",
        "Idle -> q :: Queue(10) -> c :: Counter -> Discard; Script(wait 1, write stop)",
    );
    assert!(matches!(ok, Some(Ok(()))), "{ok:?}");
    assert_eq!(handler(&r, "q", "length"), "5");
    r.run();
    assert_eq!(handler(&r, "c", "count"), "5");
    assert_eq!(handler(&r, "q", "length"), "0");
}

#[test]
fn a_script_can_hot_swap_the_running_router() {
    let b = build(
        "InfiniteSource(LIMIT 3) -> q :: Queue(10) -> Discard(ACTIVE false);
         Script(wait 1, writeq hotconfig \"Idle -> q :: Queue(10) -> c :: Counter -> Discard; Script(wait 1, write stop)\")",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "c", "count"), "3");
}

#[test]
fn every_element_class_has_a_manual_page_naming_it() {
    let reg = oxclick_elements::registry();
    for name in reg.names() {
        let page = oxclick_elements::manual(name).unwrap_or_else(|| panic!("{name} has no manual page"));
        assert!(page.contains(name), "{name}'s manual page does not mention it");
        // The page is the element's own file's doc comment.
        assert!(page.starts_with("//! "), "{name}: {page}");
    }
}

#[test]
fn nat_maps_outbound_flows_and_translates_replies() {
    // Outbound UDP from 10.0.0.x gets 1.0.0.1 and sequential ports; a reply to a
    // mapped port comes back translated; one to an unmapped port is dropped.
    let b = build(
        "rw :: IPRewriter(pattern 1.0.0.1 5000-5001# - - 0 1, drop, CAPACITY 2);
         InfiniteSource(LIMIT 3, STOP true) -> UDPIPEncap(10.0.0.7, 1234, 8.8.8.8, 53)
           -> CheckIPHeader -> [0] rw [0] -> CheckIPHeader -> out :: CheckUDPHeader -> o :: Counter -> Discard;
         InfiniteSource(LIMIT 2) -> UDPIPEncap(8.8.8.8, 53, 1.0.0.1, 5000) -> CheckIPHeader
           -> [1] rw [1] -> CheckIPHeader -> back :: CheckUDPHeader -> r :: Counter -> Discard;
         InfiniteSource(LIMIT 2) -> UDPIPEncap(8.8.8.8, 53, 1.0.0.1, 5001) -> CheckIPHeader -> [1] rw;",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "o", "count"), "3");
    assert_eq!(handler(&r, "out", "drops"), "0");
    assert_eq!(handler(&r, "rw", "nmappings"), "1");
    assert_eq!(handler(&r, "r", "count"), "2");
    assert_eq!(handler(&r, "back", "drops"), "0");
    assert!(handler(&r, "rw", "table").contains("10.0.0.7, 1234, 8.8.8.8, 53) => (1.0.0.1, 5000, 8.8.8.8, 53)"));
}

#[test]
fn named_patterns_with_address_names() {
    let b = build(
        "AddressInfo(ext 1.0.0.1);
         IPRewriterPatterns(to_world ext 7000-7010# - -);
         rw :: IPRewriter(pattern to_world 0 1, drop);
         InfiniteSource(LIMIT 2, STOP true) -> UDPIPEncap(10.0.0.7, 1234, 8.8.8.8, 53)
           -> CheckIPHeader -> [0] rw [0] -> Discard;
         Idle -> [1] rw [1] -> Discard;",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert!(handler(&r, "rw", "table").contains("=> (1.0.0.1, 7000, 8.8.8.8, 53)"), "{}", handler(&r, "rw", "table"));
    assert_eq!(handler(&r, "rw", "patterns"), "1.0.0.1 7000-7010 - -\n");
    assert_eq!(
        errors("rw :: IPRewriter(pattern nowhere 0 0); Idle -> rw -> Discard"),
        [
            "t:1: While configuring 'rw :: IPRewriter':",
            "  input spec 0: no such pattern 'nowhere'",
            "Router could not be initialized!"
        ]
    );
}

#[test]
fn address_rewriters_keep_checksums_valid() {
    for class in ["IPAddrRewriter", "IPAddrPairRewriter"] {
        let b = build(&format!(
            "rw :: {class}(pattern 1.0.0.1 - 0 1, drop);
             InfiniteSource(LIMIT 2, STOP true) -> UDPIPEncap(10.0.0.7, 1234, 8.8.8.8, 53)
               -> CheckIPHeader -> [0] rw [0] -> CheckIPHeader -> u :: CheckUDPHeader -> c :: Counter -> Discard;
             Idle -> [1] rw [1] -> Discard;"
        ));
        let mut r = b.router.unwrap();
        r.run();
        assert_eq!(handler(&r, "c", "count"), "2", "{class}");
        assert_eq!(handler(&r, "u", "drops"), "0", "{class}");
        assert_eq!(handler(&r, "rw", "nmappings"), "1", "{class}");
    }
}

#[test]
fn a_round_robin_mapper_spreads_new_flows() {
    let mut src = String::from(
        "m :: RoundRobinIPMapper(- - 10.0.0.1 - 0 1, - - 10.0.0.2 - 0 1);
         rw :: IPRewriter(m, drop); rw [0] -> Discard; Idle -> [1] rw [1] -> Discard;
         Script(wait 1, write stop);",
    );
    for port in 1001..1005 {
        src.push_str(&format!(
            "InfiniteSource(LIMIT 1) -> UDPIPEncap(1.1.1.1, {port}, 9.9.9.9, 80) -> CheckIPHeader -> [0] rw;"
        ));
    }
    let mut r = build(&src).router.unwrap();
    r.run();
    let table = handler(&r, "rw", "table");
    assert_eq!(table.matches(", 10.0.0.1, 80)").count(), 2, "{table}");
    assert_eq!(table.matches(", 10.0.0.2, 80)").count(), 2, "{table}");
    assert_eq!(handler(&r, "rw", "patterns"), "- - 10.0.0.1 -\n- - 10.0.0.2 -\n");
}

#[test]
fn a_cycle_of_tail_pushes_ends_without_running_out_of_stack() {
    // A TenantGuard hands its packet back to the router to push on (push_tail);
    // wired to itself, each packet would go round forever. It goes round 65,536
    // times, then is dropped, and the run ends.
    let b = build(
        "InfiniteSource(LIMIT 3, STOP true) -> g :: TenantGuard(TRUST operator, ADDR 10.0.0.1);
         g -> [0] g;",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "g", "in_packets"), format!("{}", 3 * 65_536));
}

#[test]
fn a_full_nat_table_evicts_only_mappings_past_their_guarantee() {
    for (guarantee, mappings, failures) in [("0", "1", "0"), ("1000", "1", "1")] {
        let mut src = format!(
            "rw :: IPRewriter(pattern 1.0.0.1 5000-5100# - - 0 1, drop, CAPACITY 1, GUARANTEE {guarantee});
             rw [0] -> c :: Counter -> Discard; Idle -> [1] rw [1] -> Discard; Script(wait 1, write stop);"
        );
        for port in [1001, 1002] {
            src.push_str(&format!(
                "InfiniteSource(LIMIT 1) -> UDPIPEncap(10.0.0.1, {port}, 9.9.9.9, 80) -> CheckIPHeader -> [0] rw;"
            ));
        }
        let mut r = build(&src).router.unwrap();
        r.run();
        assert_eq!(handler(&r, "rw", "nmappings"), mappings, "GUARANTEE {guarantee}");
        assert_eq!(handler(&r, "rw", "mapping_failures"), failures, "GUARANTEE {guarantee}");
        let through = if failures == "0" { "2" } else { "1" };
        assert_eq!(handler(&r, "c", "count"), through, "GUARANTEE {guarantee}");
    }
}

#[test]
fn schedule_info_divides_the_processor_by_tickets() {
    let b = build(
        "ScheduleInfo(a 3, b 1);
         a :: InfiniteSource -> ca :: Counter(COUNT_CALL 3000 stop) -> Discard;
         b :: InfiniteSource -> cb :: Counter -> Discard;",
    );
    let mut r = b.router.unwrap();
    r.run();
    let nb: u64 = handler(&r, "cb", "count").parse().unwrap();
    assert!((950..=1050).contains(&nb), "b ran {nb} times while a ran 3000");
}

#[test]
fn a_flat_configuration_naming_no_element_is_an_error_not_a_panic() {
    let reg = oxclick_elements::registry();
    let known = |n: &str| reg.contains(n);
    let mut out = read("Idle -> Discard", "t", &Options { is_primitive: Some(&known), ..Options::default() });
    out.flat.connections[0].to.element = 32;
    let errors = Router::new(&out.flat, &reg, RouterOptions::quiet(Vec::new())).err().expect("refused");
    assert_eq!(errors, ["a connection names element 32 of 2", "Router could not be initialized!"]);
}

#[test]
fn packets_pushed_back_into_a_running_element_arrive_when_it_returns() {
    // Each guard pushes a frame on to its tenant, whose answer comes back into the
    // guard's other input while the guard is still running. Two guards take the
    // frames in turn, so each has answers waiting while the other runs.
    let b = build(
        "InfiniteSource(LIMIT 7, BURST 4, STOP true) -> UDPIPEncap(10.0.0.9, 1234, 10.0.0.1, 53)
           -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> sw :: RoundRobinSwitch;
         sw [0] -> a :: TenantGuard(TRUST client, ADDR 10.0.0.1) -> IPMirror -> ac :: Counter -> [1] a;
         sw [1] -> b :: TenantGuard(TRUST client, ADDR 10.0.0.1) -> IPMirror -> bc :: Counter -> [1] b;
         a [1] -> out :: Counter -> Discard;
         b [1] -> out;",
    );
    let mut r = b.router.unwrap();
    r.run();
    assert_eq!(handler(&r, "ac", "count"), "4");
    assert_eq!(handler(&r, "bc", "count"), "3");
    assert_eq!(handler(&r, "a", "out_packets"), "4");
    assert_eq!(handler(&r, "b", "out_packets"), "3");
    assert_eq!(handler(&r, "a", "drops"), "0");
    assert_eq!(handler(&r, "out", "count"), "7");
}

#[cfg(feature = "std")] // FromDump reads a file
#[test]
fn a_nat_with_many_flows_finds_every_mapping_again() {
    // Above 16,384 mappings IPRewriter loads a batch's mappings ahead of use and
    // looks each up by the hash it loaded it with (FromDump pushes batches; a
    // debug build checks every such hash against its key). Every flow's second
    // packet must find the mapping its first made: the
    // pattern has exactly one port per flow, so a lookup that missed would find
    // no port left and fail.
    let flows = 20_000u32;
    // A pcap of UDP frames 10.x.y.z:1000+ -> 8.8.8.8:53, every flow twice.
    let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
    for _ in 0..2 {
        for i in 0..flows {
            let mut frame = vec![0u8; 12];
            frame.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
            frame.extend_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8, 8, 8, 8, 8]);
            frame.extend_from_slice(&(1000 + (i % 7) as u16).to_be_bytes());
            frame.extend_from_slice(&[0, 53, 0, 8, 0, 0]);
            let len = (frame.len() as u32).to_le_bytes();
            pcap.extend_from_slice(&[0; 8]);
            pcap.extend_from_slice(&len);
            pcap.extend_from_slice(&len);
            pcap.extend_from_slice(&frame);
        }
    }
    let path = std::env::temp_dir().join(format!("oxclick-nat-flows-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap).unwrap();
    let b = build(&format!(
        "FromDump({}, STOP true) -> Strip(14) -> MarkIPHeader
           -> rw :: IPRewriter(pattern 1.0.0.1 1024-{} - - 0 1, drop, CAPACITY 30000)
           -> c :: Counter -> Discard;
         Idle -> [1] rw [1] -> Discard;",
        path.display(),
        1024 + flows - 1
    ));
    let mut r = b.router.unwrap();
    r.run();
    let _ = std::fs::remove_file(&path);
    assert_eq!(handler(&r, "rw", "mapping_failures"), "0");
    assert_eq!(handler(&r, "rw", "nmappings"), flows.to_string());
    assert_eq!(handler(&r, "c", "count"), (2 * flows).to_string());
}

/// A frame from `src` to `dst` (IPv4 in Ethernet; the checksum does not matter here).
fn frame_from(src: [u8; 4], dst: [u8; 4]) -> String {
    let mut hex = String::from("\\<000000000001 000000000002 0800 450000140001000040110000");
    for b in src.iter().chain(&dst) {
        hex.push_str(&format!("{b:02x}"));
    }
    hex.push('>');
    hex
}

/// A tenant's guard sees the same traffic one packet at a time (a demux
/// interleaving tenants) and in batches, its tenant's answers coming back to it
/// while it runs: the counts and the verdicts must not depend on which.
#[test]
fn a_tenant_guard_counts_alike_one_packet_at_a_time_and_in_batches() {
    let counts = |burst: u32| {
        let src = format!(
            "in :: InfiniteSource(DATA {}, LIMIT 6, STOP true, BURST {burst}) -> g :: TenantGuard(TRUST client, ADDR 10.0.0.1) -> tenant :: Counter -> [1] g;
             spoof :: InfiniteSource(DATA {}, LIMIT 3, STOP false, BURST {burst}) -> [1] g;
             g [1] -> out :: Counter -> Discard;
             DriverManager(wait_stop)",
            frame_from([10, 0, 0, 9], [10, 0, 0, 1]),
            frame_from([6, 6, 6, 6], [10, 0, 0, 9]),
        );
        let b = build(&src);
        let mut r = b.router.unwrap();
        r.run();
        ["in_packets", "out_packets", "spoof_drops", "peers"]
            .map(|h| handler(&r, "g", h))
            .into_iter()
            .chain([handler(&r, "tenant", "count"), handler(&r, "out", "count")])
            .collect::<Vec<_>>()
    };
    // 6 in; the tenant echoes all 6 from its peer 10.0.0.9, which pass; 3 spoofed stop.
    let expected = ["6", "6", "3", "1", "6", "6"];
    assert_eq!(counts(1), expected);
    assert_eq!(counts(4), expected);
}

#[test]
fn a_counter_resetting_itself_does_so_before_the_next_packet_of_its_batch() {
    // Click calls COUNT_CALL's handler at once. A Counter's own handler is
    // called before the next packet, so the count does not depend on batches:
    // a burst of 7 (one batch) through `COUNT_CALL 2 c.reset` leaves 1, the
    // same as 7 packets one at a time; the handler waiting for the batch would
    // leave 0 (reset after the seventh).
    for burst in [7, 1] {
        let b = build(&format!(
            "InfiniteSource(LIMIT 7, BURST {burst}, STOP true) -> c :: Counter(COUNT_CALL 2 c.reset) -> k :: Counter -> Discard"
        ));
        let mut r = b.router.unwrap();
        r.run();
        assert_eq!(handler(&r, "k", "count"), "7", "BURST {burst}");
        assert_eq!(handler(&r, "c", "count"), "1", "BURST {burst}");
    }
}
