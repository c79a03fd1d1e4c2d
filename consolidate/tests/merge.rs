//! The merge, the isolation checks, and the merged router running: frames go in
//! through the device queues as the Xen guest feeds them.

mod common;

use common::*;

const TWO: &str = r#"
[[tenant]]
name = "alice"
addresses = ["10.0.0.1", "10.0.0.2"]
config = "mirror.click"
trust = "client"
memory = "64KiB"

[[tenant]]
name = "bob"
flows = [{ addr = "10.0.0.9", proto = "udp", port = 53 }]
config = "firewall.click"
"#;

const MIRROR: &str = "input -> c :: Counter -> IPMirror -> EtherMirror -> output;\n";
const FIREWALL: &str = "// a firewall\ninput -> f :: IPFilter(allow udp, deny all) -> c :: Counter -> output;\n";

fn two() -> Setup {
    Setup::new(TWO).file("mirror.click", MIRROR).file("firewall.click", FIREWALL)
}

#[test]
fn each_tenant_gets_its_own_traffic_and_only_that() {
    let merged = two().merge().expect("merges");
    assert!(merged.text.contains("alice/c :: Counter;"), "{}", merged.text);
    assert!(merged.text.contains("bob/f :: IPFilter(allow udp, deny all);"));
    assert!(merged.text.contains("dst host 10.0.0.9 and udp and dst port 53"));
    let mut r = router(&merged.text);
    let out = exchange(
        &mut r,
        &[
            frame([192, 0, 2, 1], [10, 0, 0, 1], 17, 1000, 7),
            frame([192, 0, 2, 1], [10, 0, 0, 2], 6, 1000, 7),
            frame([192, 0, 2, 2], [10, 0, 0, 9], 17, 1000, 53),
            frame([192, 0, 2, 2], [10, 0, 0, 9], 17, 1000, 54), // bob's address, not bob's port
            frame([192, 0, 2, 3], [10, 0, 0, 77], 17, 1000, 7), // nobody's
        ],
    );
    assert_eq!(read(&r, "alice/c.count"), "2");
    assert_eq!(read(&r, "alice.in_packets"), "2");
    assert_eq!(read(&r, "alice.out_packets"), "2");
    assert_eq!(read(&r, "bob/c.count"), "1");
    assert_eq!(read(&r, "bob.in_packets"), "1");
    assert_eq!(read(&r, "platform/unmatched.count"), "2");
    // Alice mirrored hers (from her own address); bob's firewall passed his on
    // unchanged (from the peer that sent it).
    assert_eq!(out.len(), 3);
    assert_eq!(out[0][26..30], [10, 0, 0, 1]);
    assert_eq!(out[0][30..34], [192, 0, 2, 1]);
    assert_eq!(out[2][26..30], [192, 0, 2, 2]);
    let alice = merged.tenants.iter().find(|t| t.name == "alice").unwrap();
    assert_eq!(alice.elements, 3);
    assert!(alice.memory > 0 && alice.memory <= alice.budget);
    assert!(!alice.stateful, "counters and mirrors keep nothing per flow");
}

#[test]
fn a_tenant_that_spoofs_is_stopped_and_counted() {
    let setup = Setup::new(
        r#"
[[tenant]]
name = "mallory"
addresses = ["10.0.0.5"]
config = "spoof.click"
trust = "client"
"#,
    )
    .file("spoof.click", "input -> IPMirror -> StoreIPAddress(10.0.0.6, src) -> SetIPChecksum -> output;");
    // SetIPChecksum is not in the library: the error names it with the tenant's file and line.
    let errs = setup.merge().unwrap_err().join("\n");
    assert!(errs.contains("/t/spoof.click:1"), "{errs}");
    assert!(errs.contains("SetIPChecksum"), "{errs}");
    let setup = setup.file("spoof.click", "input -> IPMirror -> StoreIPAddress(10.0.0.6, src) -> output;");
    let mut r = router(&setup.merge().expect("merges").text);
    let out = exchange(&mut r, &[frame([192, 0, 2, 1], [10, 0, 0, 5], 17, 1, 2)]);
    assert!(out.is_empty(), "a spoofed source never leaves");
    assert_eq!(read(&r, "mallory.spoof_drops"), "1");
    assert_eq!(read(&r, "mallory.drops"), "1");
}

#[test]
fn a_third_party_may_send_only_where_it_is_authorized() {
    let setup = Setup::new(
        r#"
[[tenant]]
name = "cdn"
addresses = ["10.0.0.5"]
config = "redirect.click"
allow = ["198.51.100.0/24"]
"#,
    )
    .file("redirect.click", "input -> IPMirror -> s :: Switch(0) -> output; s[1] -> StoreIPAddress(8.8.8.8, dst) -> output;\ns[2] -> StoreIPAddress(198.51.100.7, dst) -> output;");
    let mut r = router(&setup.merge().expect("merges").text);
    // A reply to the sender passes (implicit authorization).
    assert_eq!(exchange(&mut r, &[frame([192, 0, 2, 1], [10, 0, 0, 5], 17, 1, 2)]).len(), 1);
    r.write_handler(Some(r.find("cdn/s").unwrap()), "switch", "1").unwrap().unwrap();
    assert!(exchange(&mut r, &[frame([192, 0, 2, 1], [10, 0, 0, 5], 17, 1, 2)]).is_empty(), "default off");
    assert_eq!(read(&r, "cdn.denied_drops"), "1");
    r.write_handler(Some(r.find("cdn/s").unwrap()), "switch", "2").unwrap().unwrap();
    assert_eq!(exchange(&mut r, &[frame([192, 0, 2, 1], [10, 0, 0, 5], 17, 1, 2)]).len(), 1, "explicitly allowed");
}

#[test]
fn isolation_rules_are_checked_with_tenant_file_line_and_element() {
    let manifest = r#"
[[tenant]]
name = "a"
addresses = ["10.0.0.1"]
config = "a.click"
[[tenant]]
name = "b"
addresses = ["10.0.0.2"]
config = "b.click"
"#;
    let cases: &[(&str, &str)] = &[
        (
            "input -> Counter -> output;\nFromDevice(eth0) -> Discard;",
            "/t/a.click:2: tenant 'a': element 'a/FromDevice@2' (FromDevice): tenant I/O goes only through its 'input' and 'output': no devices",
        ),
        ("input -> Counter -> output;\nInfiniteSource -> ToDump(x.pcap);", "no files"),
        ("input -> output;\nScript(write stop);", "(Script): it reaches the whole router"),
        ("input -> output;\nAddressInfo(x 1.2.3.4);", "(AddressInfo): it defines names every element"),
        ("input -> Counter(COUNT_CALL 1 b.reset) -> output;", "names 'b', which is not the tenant's"),
        ("input -> Counter(COUNT_CALL 1 b/c.reset) -> output;", "names 'b/c', which is not the tenant's"),
        ("input -> Counter(COUNT_CALL 1 platform/demux.program) -> output;", "names 'platform/demux'"),
        (
            "input -> q :: ARPQuerier(10.0.0.1, 0:1:2:3:4:5) -> output; Idle -> [1] q;",
            "/t/a.click:1: tenant 'a': element 'a/q' (ARPQuerier) keeps state that grows with traffic without a bound",
        ),
        (
            "input -> Queue(100000) -> Unqueue -> output;",
            "tenants.toml:3: tenant 'a': worst-case memory 219.7 MiB exceeds its budget 1.0 MiB (largest: 'a/Queue@1' (Queue)",
        ),
        (
            "input -> output; } evil :: Counter; elementclass X {",
            "element 'evil' is outside the tenant's configuration",
        ),
        ("require(package foo);\ninput -> output;", "require(...) is not allowed"),
        ("input -> Nonesuch -> output;", "/t/a.click:1: undeclared element 'Nonesuch'"),
        ("input[1] -> Discard; input -> output;", "'a' input 1 unused"),
    ];
    for (a, want) in cases {
        let setup = Setup::new(manifest).file("a.click", a).file("b.click", "input -> c :: Counter -> output;");
        let errs = setup.merge().err().unwrap_or_else(|| panic!("{a:?} was accepted")).join("\n");
        assert!(errs.contains(want), "for {a:?}\nwant {want:?}\ngot:\n{errs}");
    }
    let setup = Setup::new(manifest).file("a.click", "input -> output;");
    let errs = setup.merge().unwrap_err().join("\n");
    assert!(errs.contains("tenant 'b': cannot read /t/b.click"), "{errs}");
}

#[test]
fn a_word_that_happens_to_be_a_tenant_name_is_not_a_reference() {
    let setup = Setup::new(
        "[[tenant]]\nname = \"dns\"\naddresses = [\"10.0.0.1\"]\nconfig = \"a.click\"\n[[tenant]]\nname = \"b\"\naddresses = [\"10.0.0.2\"]\nconfig = \"b.click\"\n",
    )
    .file("a.click", "input -> output;")
    .file("b.click", "input -> IPFilter(allow udp dst port dns, deny all) -> output;");
    setup.merge().expect("'dns' in b's filter is a port name");
}

#[test]
fn a_tenant_may_leave_input_or_output_unused() {
    let setup = Setup::new(
        r#"
[[tenant]]
name = "sink"
addresses = ["10.0.0.1"]
config = "sink.click"
[[tenant]]
name = "src"
addresses = ["10.0.0.2"]
config = "src.click"
trust = "operator"
"#,
    )
    .file("sink.click", "input -> c :: Counter -> Discard;")
    .file("src.click", "RatedSource(RATE 1, LIMIT 1, STOP false) -> output;");
    let merged = setup.merge().expect("merges");
    let mut r = router(&merged.text);
    exchange(&mut r, &[frame([1, 1, 1, 1], [10, 0, 0, 1], 17, 1, 2)]);
    assert_eq!(read(&r, "sink/c.count"), "1");
}

#[test]
fn stateful_tenants_fit_their_budget_or_are_refused() {
    let nat = "input -> rw :: IPRewriter(pattern 10.0.0.1 1024-65535 - - 0 0, CAPACITY 1000) -> output;";
    let setup = |memory: &str| {
        Setup::new(&format!(
            "[[tenant]]\nname = \"nat\"\naddresses = [\"10.0.0.1\"]\nconfig = \"nat.click\"\nmemory = \"{memory}\"\n"
        ))
        .file("nat.click", nat)
    };
    let ok = setup("1MiB").merge().expect("a NAT with 1000 mappings fits in 1 MiB");
    let t = &ok.tenants[0];
    assert!(t.memory > 1000 * 2 * 32, "the flow table is counted: {}", t.memory);
    assert!(t.stateful);
    let errs = setup("16KiB").merge().unwrap_err().join("\n");
    assert!(errs.contains("tenant 'nat': worst-case memory") && errs.contains("'nat/rw' (IPRewriter)"), "{errs}");
}

#[test]
fn arp_for_tenant_addresses_when_the_platform_has_a_mac() {
    let setup = Setup::new(&format!("[platform]\nether = \"00:16:3e:00:00:01\"\n{TWO}"))
        .file("mirror.click", MIRROR)
        .file("firewall.click", FIREWALL);
    let mut r = router(&setup.merge().unwrap().text);
    let mut arp = vec![0u8; 42];
    arp[..6].copy_from_slice(&[0xff; 6]);
    arp[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    arp[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp[22..28].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    arp[28..32].copy_from_slice(&[192, 0, 2, 1]);
    arp[38..42].copy_from_slice(&[10, 0, 0, 9]);
    let out = exchange(&mut r, &[arp]);
    assert_eq!(out.len(), 1, "an ARP reply for bob's flow address");
    assert_eq!(out[0][20..22], [0, 2]);
    assert_eq!(out[0][22..28], [0, 0x16, 0x3e, 0, 0, 1]);
}

#[test]
fn adding_a_tenant_to_a_running_router_keeps_the_others_state_and_packets() {
    let setup = two();
    let mut r = router(&setup.merge().unwrap().text);
    exchange(
        &mut r,
        &[frame([192, 0, 2, 1], [10, 0, 0, 1], 17, 1, 2), frame([192, 0, 2, 2], [10, 0, 0, 9], 17, 1, 53)],
    );
    // Frames wait in the device queue while the new configuration goes in.
    let waiting: Vec<Vec<u8>> = (0..10).map(|i| frame([192, 0, 2, 1], [10, 0, 0, 1], 17, i, 2)).collect();
    for f in &waiting {
        assert!(r.device_receive(0, f));
    }
    let grown = Setup::new(&format!("{TWO}\n[[tenant]]\nname = \"carol\"\naddresses = [\"10.0.0.3\"]\nconfig = \"mirror.click\"\ntrust = \"client\"\n"))
        .file("mirror.click", MIRROR)
        .file("firewall.click", FIREWALL);
    r.hot_swap(&grown.merge().unwrap().text).expect("hot swap");
    let out = exchange(&mut r, &[frame([192, 0, 2, 5], [10, 0, 0, 3], 17, 1, 2)]);
    assert_eq!(out.len(), 11, "alice's 10 waiting frames and carol's one");
    assert_eq!(read(&r, "alice/c.count"), "11");
    assert_eq!(read(&r, "alice.in_packets"), "11");
    assert_eq!(read(&r, "bob/c.count"), "1");
    assert_eq!(read(&r, "carol/c.count"), "1");
    // Removing bob keeps alice's and carol's counts.
    let shrunk = Setup::new(
        "[[tenant]]\nname = \"alice\"\naddresses = [\"10.0.0.1\", \"10.0.0.2\"]\nconfig = \"mirror.click\"\ntrust = \"client\"\n[[tenant]]\nname = \"carol\"\naddresses = [\"10.0.0.3\"]\nconfig = \"mirror.click\"\ntrust = \"client\"\n",
    )
    .file("mirror.click", MIRROR);
    r.hot_swap(&shrunk.merge().unwrap().text).expect("hot swap");
    assert_eq!(read(&r, "alice/c.count"), "11");
    assert_eq!(read(&r, "carol/c.count"), "1");
    assert!(r.find("bob/c").is_none());
    exchange(&mut r, &[frame([192, 0, 2, 2], [10, 0, 0, 9], 17, 1, 53)]);
    assert_eq!(read(&r, "platform/unmatched.count"), "1", "bob's traffic has nowhere to go now");
}

#[test]
fn a_tenant_with_a_queue_answers_before_and_after_a_hot_swap_adds_another() {
    // Tenants whose answers wait in a queue for a task to pull them out: the task
    // must be woken in the new router as in the old.
    const QUEUED: &str = "input -> c :: Counter -> IPMirror -> EtherMirror -> Queue(64) -> Unqueue -> output;\n";
    let one = "[[tenant]]\nname = \"alice\"\naddresses = [\"10.0.0.1\"]\nconfig = \"q.click\"\ntrust = \"client\"\nmemory = \"256KiB\"\n";
    let two = format!(
        "{one}[[tenant]]\nname = \"carol\"\naddresses = [\"10.0.0.3\"]\nconfig = \"q.click\"\ntrust = \"client\"\nmemory = \"256KiB\"\n"
    );
    let mut r = router(&Setup::new(one).file("q.click", QUEUED).merge().unwrap().text);
    assert_eq!(exchange(&mut r, &[frame([192, 0, 2, 1], [10, 0, 0, 1], 17, 1, 2)]).len(), 1, "alice before");
    r.hot_swap(&Setup::new(&two).file("q.click", QUEUED).merge().unwrap().text).expect("hot swap");
    let out = exchange(&mut r, &[frame([192, 0, 2, 1], [10, 0, 0, 3], 17, 1, 2)]);
    assert_eq!(out.len(), 1, "carol, new in the swapped-in router, answers");
    let out = exchange(&mut r, &[frame([192, 0, 2, 1], [10, 0, 0, 1], 17, 1, 2)]);
    assert_eq!(out.len(), 1, "alice answers after the swap");
    assert_eq!(read(&r, "alice/c.count"), "2");
}
