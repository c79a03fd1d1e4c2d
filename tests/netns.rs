//! Live traffic through oxclick: real `ping`s between two Linux network
//! namespaces cross `examples/router-live.click` (FromDevice/ToDevice on veth
//! pairs), a ping to a KernelTap device is answered by a configuration, and
//! devices are found by the Ethernet address their name stands for.
//! Needs root, `ip` and `ping` (`.ci/run` installs them); otherwise each test says
//! it is skipped and why.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{bin, must, sh, stop};

/// Why these tests cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    if let Some(why) = common::missing_root_or(&["ip", "ping"]) {
        return Some(why);
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun".into());
    }
    None
}

/// The count in `-h` output for `name` (Click prints `name:\nvalue`).
fn count(out: &str, name: &str) -> u64 {
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if l.trim() == format!("{name}:") {
            return lines.next().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        }
    }
    panic!("no {name} in output:\n{out}");
}

struct Namespaces(String);

impl Drop for Namespaces {
    fn drop(&mut self) {
        let p = &self.0;
        sh(&format!(
            "ip netns del {p}A 2>/dev/null; ip netns del {p}B 2>/dev/null; ip link del {p}a0 2>/dev/null; ip link del {p}b0 2>/dev/null"
        ));
    }
}

#[test]
fn ping_crosses_the_router_between_two_namespaces() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let p = format!("ox{}", std::process::id() % 100_000);
    let _cleanup = Namespaces(p.clone());
    must(&format!("ip netns add {p}A && ip netns add {p}B"));
    for (side, net) in [("a", 1), ("b", 2)] {
        let ns = format!("{p}{}", side.to_uppercase());
        must(&format!("ip link add {p}{side}0 type veth peer name {p}{side}1 netns {ns}"));
        must(&format!("ip link set {p}{side}0 up"));
        must(&format!("ip -n {ns} addr add 10.71.{net}.2/24 dev {p}{side}1"));
        must(&format!("ip -n {ns} link set {p}{side}1 up && ip -n {ns} link set lo up"));
        must(&format!("ip -n {ns} route add default via 10.71.{net}.1"));
    }
    let mac = |dev: &str| std::fs::read_to_string(format!("/sys/class/net/{dev}/address")).unwrap().trim().to_string();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let child = Command::new(bin())
        .current_dir(root)
        .args(["examples/router-live.click", "-h", "to_a.count", "-h", "to_b.count"])
        .arg(format!("A_DEV={p}a0"))
        .arg(format!("A_MAC={}", mac(&format!("{p}a0"))))
        .arg("A_IP=10.71.1.1")
        .arg("A_NET=10.71.1.0/24")
        .arg(format!("B_DEV={p}b0"))
        .arg(format!("B_MAC={}", mac(&format!("{p}b0"))))
        .arg("B_IP=10.71.2.1")
        .arg("B_NET=10.71.2.0/24")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oxclick");
    std::thread::sleep(Duration::from_millis(300));
    let pinged = sh(&format!("ip netns exec {p}A ping -c 3 -i 0.2 -W 2 10.71.2.2 >/dev/null"));
    let out = stop(child);
    assert!(pinged, "ping from {p}A to {p}B through oxclick failed; oxclick said:\n{out}");
    // Three echo requests went A -> B and three replies B -> A, through the router.
    assert!(count(&out, "to_b.count") >= 3, "{out}");
    assert!(count(&out, "to_a.count") >= 3, "{out}");
}

#[test]
fn ping_to_a_kernel_tap_is_answered_by_the_configuration() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dev = format!("oxtap{}", std::process::id() % 100_000);
    let config = format!(
        "tap :: KernelTap(10.72.0.1/24, DEVNAME {dev});
         c :: Classifier(12/0806 20/0001, 12/0800, -);
         tap -> c;
         c[0] -> ARPResponder(10.72.0.2 02:00:00:00:00:02) -> tap;
         c[1] -> Strip(14) -> CheckIPHeader -> ICMPPingResponder -> pongs :: Counter
              -> Unstrip(14) -> EtherMirror -> tap;
         c[2] -> Discard;"
    );
    let child = Command::new(bin())
        .args(["-e", &config, "-h", "pongs.count"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oxclick");
    std::thread::sleep(Duration::from_millis(300));
    let pinged = sh("ping -c 3 -i 0.2 -W 2 10.72.0.2 >/dev/null");
    let out = stop(child);
    assert!(pinged, "ping to 10.72.0.2 through {dev} failed; oxclick said:\n{out}");
    assert_eq!(out.trim().lines().last().and_then(|l| l.trim().parse::<u64>().ok()), Some(3), "{out}");
}

#[test]
fn devices_can_be_named_by_their_ethernet_address() {
    if let Some(why) = unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    // As in Click's conf/mazu-nat.click: `FromDevice(extern:eth)`, the device
    // found by the Ethernet address an AddressInfo name stands for.
    let _ = sh("ip link del oxmac0 2>/dev/null");
    must("ip link add oxmac0 type veth peer name oxmac1");
    must("ip link set oxmac0 address 02:00:0a:0b:0c:0d && ip link set oxmac0 up && ip link set oxmac1 up");
    let capture = Command::new(bin())
        .args([
            "-e",
            "AddressInfo(outside 02:00:0a:0b:0c:0d); FromDevice(oxmac1) -> c :: Classifier(12/88b5) -> n :: Counter -> Discard; Script(wait 2, stop)",
            "-h",
            "n.count",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the capture");
    std::thread::sleep(Duration::from_millis(500));
    let sent = Command::new(bin())
        .args([
            "-e",
            "AddressInfo(outside 02:00:0a:0b:0c:0d); InfiniteSource(DATA \\<ffffffffffff020000000001 88b5 0000>, LIMIT 5, STOP true) -> ToDevice(outside:eth)",
        ])
        .output()
        .expect("run the sender");
    std::thread::sleep(Duration::from_millis(300));
    let out = stop(capture);
    let _ = sh("ip link del oxmac0");
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert_eq!(out.trim(), "5", "capture said: {out}");
}

#[test]
fn consolidated_tenants_answer_pings_each_on_its_own_counters() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    // Two tenants behind one demux on a veth into a namespace: each answers pings
    // to its own address, counts only its own, and a third address is nobody's.
    let p = format!("oc{}", std::process::id() % 100_000);
    let _cleanup = Namespaces(p.clone());
    must(&format!("ip netns add {p}A && ip link add {p}a0 type veth peer name {p}a1 && ip link set {p}a1 netns {p}A"));
    must(&format!(
        "ip link set {p}a0 up && ip -n {p}A addr add 10.73.0.1/24 dev {p}a1 && ip -n {p}A link set {p}a1 up"
    ));
    let dir = std::env::temp_dir().join(format!("{p}-tenants"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("pong.click"), "input -> c :: Counter -> ICMPPingResponder -> EtherMirror -> output;\n")
        .expect("write");
    let manifest = format!(
        "[platform]\ninput = \"FromDevice({p}a0)\"\noutput = \"ToDevice({p}a0)\"\nether = \"02:00:0a:49:00:02\"\n\n\
         [[tenant]]\nname = \"alice\"\naddresses = [\"10.73.0.10\"]\nconfig = \"pong.click\"\ntrust = \"client\"\n\n\
         [[tenant]]\nname = \"bob\"\naddresses = [\"10.73.0.11\"]\nconfig = \"pong.click\"\ntrust = \"client\"\n"
    );
    std::fs::write(dir.join("tenants.toml"), manifest).expect("write");
    let merged = dir.join("merged.click");
    let out = Command::new(bin())
        .arg("consolidate")
        .arg(dir.join("tenants.toml"))
        .arg("-o")
        .arg(&merged)
        .output()
        .expect("oxclick consolidate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let child = Command::new(bin())
        .arg(&merged)
        .args(["-h", "alice/c.count", "-h", "bob/c.count", "-h", "alice.out_packets", "-h", "platform/unmatched.count"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oxclick");
    std::thread::sleep(Duration::from_millis(300));
    let alice = sh(&format!("ip netns exec {p}A ping -c 3 -i 0.2 -W 2 10.73.0.10 >/dev/null"));
    let bob = sh(&format!("ip netns exec {p}A ping -c 2 -i 0.2 -W 2 10.73.0.11 >/dev/null"));
    let nobody = sh(&format!("ip netns exec {p}A ping -c 1 -W 1 10.73.0.12 >/dev/null"));
    let out = stop(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(alice && bob, "pings to the tenants failed; oxclick said:\n{out}");
    assert!(!nobody, "an address no tenant registered answered");
    assert_eq!(count(&out, "alice/c.count"), 3, "{out}");
    assert_eq!(count(&out, "bob/c.count"), 2, "{out}");
    assert_eq!(count(&out, "alice.out_packets"), 3, "{out}");
}

#[test]
fn to_host_hands_frames_to_the_host_and_to_host_sniffers_only_shows_them() {
    if let Some(why) = unavailable().or_else(|| common::missing_root_or(&["tcpdump"])) {
        eprintln!("skipped: {why}");
        return;
    }
    // Three frames to someone else's Ethernet address through each element,
    // once tcpdump listens on the element's TAP device. ToHost makes them the
    // host's (its device's own address as destination); ToHostSniffers leaves
    // them as they were.
    let p = format!("th{}", std::process::id() % 100_000);
    let frame = "020000000099 020000000001 0800 45000014000100004001f9e30a0000010a000002";
    for (class, dev) in [("ToHost", p.clone()), ("ToHostSniffers", String::from("sniffers0"))] {
        let arg = if class == "ToHost" { p.as_str() } else { "eth0" };
        let config = format!(
            "src :: InfiniteSource(DATA \\<{frame}>, LIMIT 3, ACTIVE false) -> t :: {class}({arg});
             Script(wait 1.5, write src.active true, wait 0.5, stop)"
        );
        let child = Command::new(bin())
            .args(["-e", &config, "-h", "t.count", "-h", "t.drops", "-h", "t.dev_name"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oxclick");
        std::thread::sleep(Duration::from_millis(700));
        let mac = std::fs::read_to_string(format!("/sys/class/net/{dev}/address")).unwrap_or_default();
        let dump = Command::new("timeout")
            .args(["3", "tcpdump", "-n", "-e", "-c", "3", "-i", &dev, "ip"])
            .output()
            .expect("tcpdump");
        let out = stop(child);
        let dump = String::from_utf8_lossy(&dump.stdout);
        assert_eq!(count(&out, "t.count"), 3, "{class}: {out}");
        assert_eq!(count(&out, "t.drops"), 0, "{class}: {out}");
        assert_eq!(dump.lines().count(), 3, "{class}: tcpdump on {dev} saw:\n{dump}");
        let want = if class == "ToHost" { mac.trim().to_string() } else { String::from("02:00:00:00:00:99") };
        assert!(!want.is_empty(), "{class}: {dev} was not there");
        for l in dump.lines() {
            assert!(l.contains(&format!("> {want}")), "{class}: frame not to {want}: {l}");
        }
    }
}
