//! The platform daemon with the process backend, on live traffic: pings from a
//! namespace to tenants whose routers are not running boot them on the first
//! packet (and that packet is answered), idle routers are stopped (stateless) or
//! suspended (stateful) and come back on the next packet, a killed router is
//! restarted, registrations that overlap are refused, and a restarted daemon
//! finds its tenants and running routers again.
//! Needs root, `ip` and `ping` (`.ci/run` installs them); otherwise it says it is
//! skipped and why.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{bin, must, sh};

fn unavailable() -> Option<String> {
    common::missing_root_or(&["ip", "ping"])
}

struct Lab {
    ns: String,
    uplink: String,
    state: PathBuf,
    daemon: Option<Child>,
    /// Its tenants' names, whose routers' veths it removes when done (only its
    /// own: the tests run side by side).
    tenants: &'static [&'static str],
}

impl Lab {
    /// A namespace on the end of a veth pair whose other end is the daemon's
    /// uplink, the namespace at `NET.1/24`, and a fresh state directory; names
    /// start with `prefix` and this process's id, so tests run side by side.
    fn new(prefix: &str, net: &str, tenants: &'static [&'static str]) -> Lab {
        let p = format!("{prefix}{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("{p}-platform"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let lab =
            Lab { ns: format!("{p}ns"), uplink: format!("{p}u0"), state: dir.join("state"), daemon: None, tenants };
        must(&format!(
            "ip netns add {0} && ip link add {1} type veth peer name {1}p && ip link set {1}p netns {0}",
            lab.ns, lab.uplink
        ));
        must(&format!(
            "ip link set {0} up && ip -n {1} addr add {net}.1/24 dev {0}p && ip -n {1} link set {0}p up",
            lab.uplink, lab.ns
        ));
        lab
    }

    /// Where the test's files go (the state directory's parent).
    fn dir(&self) -> PathBuf {
        self.state.parent().expect("state has a parent").to_path_buf()
    }

    fn ctl(&self, args: &[&str]) -> (bool, String) {
        let out =
            Command::new(bin()).arg("platform").arg("--state").arg(&self.state).args(args).output().expect("oxclick");
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }

    fn start_daemon(&mut self) {
        self.start_daemon_with(&[]);
    }

    fn start_daemon_with(&mut self, options: &[&str]) {
        let log = std::fs::File::create(self.state.with_extension("log")).expect("log");
        let child = Command::new(bin())
            .args(["platform", "run", "--uplink", &self.uplink, "--idle", "1.5", "--state"])
            .arg(&self.state)
            .args(options)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the daemon");
        self.daemon = Some(child);
        let t = Instant::now();
        while !self.state.join("platform.sock").exists() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    fn stop_daemon(&mut self) {
        let _ = self.ctl(&["stop"]);
        if let Some(mut d) = self.daemon.take() {
            let _ = d.wait();
        }
    }

    fn ping(&self, addr: &str, count: u32) -> u32 {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "ping", "-c", &count.to_string(), "-i", "0.2", "-W", "10", addr])
            .output()
            .expect("ping");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split(',').find_map(|p| p.trim().strip_suffix(" received").and_then(|n| n.parse().ok())).unwrap_or(0)
    }

    /// The status line of tenant `name`, as words.
    fn row(&self, name: &str) -> Vec<String> {
        let (ok, out) = self.ctl(&["status"]);
        assert!(ok, "{out}");
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in status:\n{out}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    fn wait_for(&self, name: &str, phase: &str) -> Vec<String> {
        let t = Instant::now();
        loop {
            let row = self.row(name);
            if row[1] == phase || t.elapsed() > Duration::from_secs(10) {
                return row;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.state.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_daemon();
        let _ = sh(&format!("pkill -f 'oxclick {}' 2>/dev/null", self.state.display()));
        sh(&format!("ip netns del {} 2>/dev/null; ip link del {} 2>/dev/null", self.ns, self.uplink));
        for name in self.tenants {
            let (ours, _) = oxclick_platform::process::veth_names(name);
            sh(&format!("ip link del {ours} 2>/dev/null"));
        }
        let _ = std::fs::remove_dir_all(self.state.parent().unwrap_or(Path::new("/nonexistent")));
    }
}

#[test]
fn tenants_boot_on_their_first_packet_sleep_when_idle_and_come_back() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut lab = Lab::new("pl", "10.74.0", &["alice", "bob"]);
    let dir = lab.dir();
    std::fs::write(dir.join("pong.click"), "input -> c :: Counter -> ICMPPingResponder -> EtherMirror -> output;\n")
        .unwrap();
    // A queue keeps packets: stateful, so it is suspended rather than stopped.
    std::fs::write(
        dir.join("queued.click"),
        "input -> ICMPPingResponder -> EtherMirror -> Queue(64) -> Unqueue -> output;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tenants.toml"),
        "[[tenant]]\nname = \"alice\"\naddresses = [\"10.74.0.10\"]\nconfig = \"pong.click\"\ntrust = \"client\"\n\n\
         [[tenant]]\nname = \"bob\"\naddresses = [\"10.74.0.11\"]\nconfig = \"queued.click\"\ntrust = \"client\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("conflict.toml"),
        "[[tenant]]\nname = \"mallory\"\naddresses = [\"10.74.0.10\"]\nconfig = \"pong.click\"\n",
    )
    .unwrap();
    lab.start_daemon();
    let (ok, out) = lab.ctl(&["add-tenant", dir.join("tenants.toml").to_str().unwrap()]);
    assert!(ok, "{out}");
    let (ok, out) = lab.ctl(&["add-tenant", dir.join("conflict.toml").to_str().unwrap()]);
    assert!(!ok && out.contains("tenants 'alice' and 'mallory' both register address 10.74.0.10"), "{out}");
    assert_eq!(lab.row("alice")[1], "stopped");

    // The first packet boots alice's router, and is answered: nothing lost.
    assert_eq!(lab.ping("10.74.0.10", 1), 1, "first ping; daemon log:\n{}", lab.log());
    assert_eq!(lab.ping("10.74.0.10", 3), 3);
    let row = lab.row("alice");
    assert_eq!((row[1].as_str(), row[6].as_str()), ("running", "1"), "{row:?}");
    assert_eq!(row[2], "4", "packets in: {row:?}");
    assert_eq!(row[3], "4", "packets out: {row:?}");

    // Idle and stateless: stopped; the next packet boots it again.
    let row = lab.wait_for("alice", "stopped");
    assert_eq!(row[1], "stopped", "{row:?}");
    assert_eq!(lab.ping("10.74.0.10", 1), 1);
    assert_eq!(lab.row("alice")[6], "2", "booted twice");

    // Bob keeps packets: suspended when idle, resumed (not rebooted) by the next packet.
    assert_eq!(lab.ping("10.74.0.11", 2), 2, "daemon log:\n{}", lab.log());
    let pid = lab.row("bob")[9].clone();
    let row = lab.wait_for("bob", "suspended");
    assert_eq!(row[1], "suspended", "{row:?}");
    assert!(sh(&format!("grep -q '^State:.*T' /proc/{pid}/status")), "bob's router {pid} is stopped, not gone");
    assert_eq!(lab.ping("10.74.0.11", 1), 1);
    let row = lab.row("bob");
    assert_eq!(
        (row[1].as_str(), row[6].as_str(), row[7].as_str(), row[9].as_str()),
        ("running", "1", "1", pid.as_str())
    );

    // A router that dies is noticed and restarted.
    must(&format!("kill -9 {pid}"));
    let t = Instant::now();
    while lab.row("bob")[8] != "1" && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.wait_for("bob", "running");
    assert_eq!(lab.row("bob")[8], "1", "one restart; log:\n{}", lab.log());
    assert_eq!(lab.ping("10.74.0.11", 1), 1);

    // A new daemon finds the tenants and bob's running router again.
    let before = lab.row("bob");
    let (pid, boots) = (before[9].clone(), before[6].clone());
    lab.stop_daemon();
    lab.start_daemon();
    let row = lab.row("bob");
    assert_eq!((row[1].as_str(), row[9].as_str()), ("running", pid.as_str()), "{row:?}\n{}", lab.log());
    assert_eq!(lab.ping("10.74.0.11", 1), 1);
    assert_eq!(lab.row("bob")[6], boots, "no new boot");
    let (ok, out) = lab.ctl(&["remove-tenant", "bob"]);
    assert!(ok, "{out}");
    assert!(!lab.ctl(&["status"]).1.contains("bob"));
}

#[test]
fn a_burst_of_new_flows_is_booted_a_few_at_a_time_and_every_packet_answered() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut lab = Lab::new("pb", "10.73.0", &["c1", "c2", "c3"]);
    let dir = lab.dir();
    std::fs::write(dir.join("pong.click"), "input -> ICMPPingResponder -> EtherMirror -> output;\n").unwrap();
    let manifest: String = (1..=3)
        .map(|k| {
            format!("[[tenant]]\nname = \"c{k}\"\naddresses = [\"10.73.0.{}\"]\nconfig = \"pong.click\"\n\n", 10 + k)
        })
        .collect();
    std::fs::write(dir.join("tenants.toml"), manifest).unwrap();
    // One start at a time: the other two tenants' first packets wait their turn.
    lab.start_daemon_with(&["--starts", "1"]);
    let (ok, out) = lab.ctl(&["add-tenant", dir.join("tenants.toml").to_str().unwrap()]);
    assert!(ok, "{out}");
    let answered: u32 = std::thread::scope(|s| {
        let lab = &lab;
        let pings: Vec<_> = (1..=3).map(|k| s.spawn(move || lab.ping(&format!("10.73.0.{}", 10 + k), 1))).collect();
        pings.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(answered, 3, "every first packet answered; daemon log:\n{}", lab.log());
    for k in 1..=3 {
        assert_eq!(lab.row(&format!("c{k}"))[6], "1", "c{k} booted once");
    }
}

#[test]
fn a_boot_that_fails_is_tried_again_and_its_first_packet_still_answered() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut lab = Lab::new("pr", "10.72.0", &["flaky"]);
    let dir = lab.dir();
    std::fs::write(dir.join("pong.click"), "input -> ICMPPingResponder -> EtherMirror -> output;\n").unwrap();
    std::fs::write(
        dir.join("tenants.toml"),
        "[[tenant]]\nname = \"flaky\"\naddresses = [\"10.72.0.10\"]\nconfig = \"pong.click\"\n",
    )
    .unwrap();
    lab.start_daemon();
    let (ok, out) = lab.ctl(&["add-tenant", dir.join("tenants.toml").to_str().unwrap()]);
    assert!(ok, "{out}");
    // The first boot cannot write the router's log (a directory is in its way),
    // so it fails; the way is cleared before the retry a second later.
    let blocker = lab.state.join("tenants").join("flaky").join("router.log");
    std::fs::create_dir_all(&blocker).unwrap();
    let answered = std::thread::scope(|s| {
        let lab = &lab;
        let ping = s.spawn(move || lab.ping("10.72.0.10", 1));
        let t = Instant::now();
        while !lab.log().contains("boot 1 of 3 failed") && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::remove_dir(&blocker).unwrap();
        ping.join().unwrap()
    });
    let log = lab.log();
    assert!(log.contains("boot 1 of 3 failed") && log.contains("holding 1 frames"), "{log}");
    assert_eq!(answered, 1, "the held first packet was answered; daemon log:\n{log}");
    let row = lab.row("flaky");
    assert_eq!((row[1].as_str(), row[6].as_str()), ("running", "1"), "one boot that worked: {row:?}");
}
