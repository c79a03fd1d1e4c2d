//! The `oxclick` binary end to end: its subcommands and its Click personalities.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_oxclick"))
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oxclick-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A symlink to the binary under another name, as Click's scripts call it.
fn personality(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    std::os::unix::fs::symlink(bin(), &p).unwrap();
    p
}

fn run(cmd: &Path, args: &[&str], dir: &Path, stdin: &str) -> Output {
    let mut child = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_reports_all_errors_with_snippets() {
    let d = tempdir("check");
    std::fs::write(d.join("bad.click"), "a :: Idle;\na :: Idle;\nb -> Discard;\n").unwrap();
    let o = run(&bin(), &["check", "bad.click"], &d, "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("bad.click:2: redeclaration of element 'a'\n    a :: Idle;\n    ^\n"), "{err}");
    assert!(err.contains("bad.click:1: element 'a' previously declared here"), "{err}");
    assert!(err.contains("bad.click:3: undeclared element 'b'"), "{err}");
    // A class the library lacks is a warning for `check` (the driver refuses it).
    std::fs::write(d.join("unknown.click"), "Idle -> x :: NoSuchClass -> Discard;\n").unwrap();
    let o = run(&bin(), &["check", "unknown.click"], &d, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr)
            .contains("unknown.click:1: warning: element class 'NoSuchClass' is not in oxclick's element library"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&bin(), &["-q", "unknown.click"], &d, "");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn check_accepts_the_bundled_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = run(&bin(), &["check", "examples/pipeline.click"], root, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "examples/pipeline.click: ok: 9 elements, 8 connections\n");
    let o = run(&bin(), &["check", "examples/firewall.click"], root, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "examples/firewall.click: ok: 21 elements, 20 connections\n");
    // Classes the library lacks are named; everything around them is still checked.
    let d = tempdir("check-unknown");
    std::fs::write(d.join("t.click"), "Idle -> p :: TenantPolicy(allow) -> Discard;\n").unwrap();
    let o = run(&bin(), &["check", "t.click"], &d, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("t.click:1: warning: element class 'TenantPolicy' is not in"));
    assert_eq!(text(&o.stdout), "t.click: ok: 3 elements, 2 connections (1 classes not in the library)\n");
    // Router errors still fail the check.
    let o = run(&bin(), &["check", "-e", "i :: InfiniteSource -> Discard; i -> Discard"], root, "");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("config:1: illegal reuse of 'i :: InfiniteSource' push output 0"));
}

#[test]
fn flatten_names_compound_parts_like_click() {
    let d = tempdir("flatten");
    let src = "elementclass F { $x | input -> Print($x) -> output }\nIdle -> F(hi) -> f :: F(there) -> Discard;\n";
    let o = run(&bin(), &["flatten", "-e", src], &d, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "Idle@1 :: Idle;\nDiscard@4 :: Discard;\nF@2/Print@1 :: Print(hi);\nf/Print@1 :: Print(there);\n\n\
         Idle@1 -> F@2/Print@1\n    -> f/Print@1\n    -> Discard@4;\n"
    );
}

#[test]
fn command_line_definitions_and_stdin() {
    let d = tempdir("vars");
    let o = run(&bin(), &["flatten", "-", "N=7"], &d, "Print($N);");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Print@1 :: Print(7);\n\n");
}

#[test]
fn click_flatten_personality_is_a_tool() {
    let d = tempdir("cf");
    let cf = personality(&d, "click-flatten");
    // Unknown names are classes to the tool, and errors carry no snippets.
    let o = run(&cf, &["-e", "A -> B"], &d, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "A@1 :: A;\nB@2 :: B;\n\nA@1 -> B@2;\n");
    let o = run(&cf, &["-o/dev/null", "-e", "elementclass F { A -> B; }\nA :: Idle;"], &d, "");
    assert_eq!(text(&o.stderr), "config:2: class 'A' used as element name\n");
    let out = d.join("out.click");
    let o = run(&cf, &["-o", out.to_str().unwrap(), "-e", "Idle -> Discard"], &d, "");
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        "Idle@1 :: Idle;\nDiscard@2 :: Discard;\n\nIdle@1 -> Discard@2;\n"
    );
}

#[test]
fn click_personality_reports_in_clicks_form() {
    let d = tempdir("click");
    let click = personality(&d, "click");
    let o = run(&click, &["-q"], &d, "# 3 \"A\"\nx :: Idle;\n# 1 \"B\"\nx :: Idle;\n");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "B:1: redeclaration of element 'x'\nA:3: element 'x' previously declared here\n");
}

#[test]
fn buildtool_provides() {
    let d = tempdir("bt");
    let bt = personality(&d, "click-buildtool");
    assert!(run(&bt, &["provides", "Counter", "Discard", "userlevel"], &d, "").status.success());
    assert_eq!(run(&bt, &["provides", "Counter", "NoSuchElement"], &d, "").status.code(), Some(1));
    assert!(run(&bt, &["provides", "FromIPSummaryDump", "ARPQuerier"], &d, "").status.success());
}

#[test]
fn dot_output_and_rendering() {
    let d = tempdir("dot");
    let o = run(&bin(), &["dot", "-e", "t :: Tee; Idle -> t; t [1] -> Discard; t -> Discard"], &d, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dot = text(&o.stdout);
    assert!(dot.starts_with("digraph oxclick {"), "{dot}");
    assert!(dot.contains("[label=\"t\\n:: Tee\"]"), "{dot}");
    assert!(dot.contains("n0 -> n2 [taillabel=\"1\"];"), "{dot}");
    // Rendering needs Graphviz, which the project's CI installs.
    if Command::new("dot").arg("-V").output().is_ok() {
        let svg = d.join("g.svg");
        let o = run(&bin(), &["dot", "-e", "Idle -> Discard", "-o", svg.to_str().unwrap()], &d, "");
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(std::fs::read_to_string(svg).unwrap().contains("<svg"));
    } else {
        eprintln!("dot_output_and_rendering: Graphviz not installed; SVG rendering not checked");
    }
}

#[test]
fn help_teaches() {
    let d = tempdir("help");
    let o = run(&bin(), &["--help"], &d, "");
    assert!(o.status.success());
    let h = text(&o.stdout);
    for want in ["-e, --expression", "-h, --handler", "oxclick check FILE", "click-flatten"] {
        assert!(h.contains(want), "missing {want} in help:\n{h}");
    }
}

#[test]
fn missing_file_is_a_clear_error() {
    let d = tempdir("missing");
    let o = run(&bin(), &["check", "nope.click"], &d, "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "nope.click: No such file or directory\n");
}

#[test]
fn driver_runs_and_reports_handlers_like_click() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = run(&bin(), &["examples/pipeline.click", "-h", "sent.count", "-h", "tap/seen.count"], root, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "sent.count:\n1000\n\ntap/seen.count:\n1000\n\n");
    // One handler prints just its value.
    let d = tempdir("drv");
    let o =
        run(&bin(), &["-e", "InfiniteSource(LIMIT 3, STOP true) -> c :: Counter -> Discard", "-h", "c.count"], &d, "");
    assert_eq!(text(&o.stdout), "3\n");
    let o = run(&bin(), &["-e", "Idle -> Discard", "-q", "-h", "nope.count"], &d, "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "no element 'nope'\n");
}

#[test]
fn elements_and_manual_pages() {
    let d = tempdir("man");
    let o = run(&bin(), &["elements"], &d, "");
    assert!(text(&o.stdout).lines().any(|l| l == "InfiniteSource"));
    let o = run(&bin(), &["help", "Counter"], &d, "");
    assert!(text(&o.stdout).starts_with("Counter — counts packets and bytes.\n"), "{}", text(&o.stdout));
    assert_eq!(run(&bin(), &["help", "NoSuch"], &d, "").status.code(), Some(1));
}

/// A 64-byte Ethernet/IPv4/UDP frame 10.0.0.1:1234 -> 10.0.0.2:1500 as Click data.
fn udp_frame_data() -> String {
    let mut ip = [0x45u8, 0, 0, 50, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    let mut sum: u32 = ip.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]) as u32).sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut f = vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x04, 0xd2, 0x05, 0xdc, 0, 30, 0, 0]);
    f.resize(64, 0);
    format!("\\<{}>", f.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[test]
fn pcap_written_by_todump_reads_back_and_opens_in_tcpdump() {
    let d = tempdir("pcap");
    let cfg = format!("InfiniteSource(DATA {}, LIMIT 5, STOP true) -> t :: ToDump(out.pcap)", udp_frame_data());
    let o = run(&bin(), &["-e", &cfg, "-h", "t.count"], &d, "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "5\n");
    let o = run(
        &bin(),
        &[
            "-e",
            "FromDump(out.pcap, STOP true) -> Strip(14) -> CheckIPHeader -> c :: Counter -> Discard",
            "-h",
            "c.count",
        ],
        &d,
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "5\n");
    // The real tool reads it (CI installs tcpdump).
    match Command::new("tcpdump").args(["-n", "-r", "out.pcap"]).current_dir(&d).output() {
        Ok(t) => {
            let lines = text(&t.stdout);
            assert_eq!(lines.lines().count(), 5, "{lines}{}", text(&t.stderr));
            assert!(lines.lines().all(|l| l.contains("IP 10.0.0.1.1234 > 10.0.0.2.1500: UDP, length 22")), "{lines}");
        }
        Err(_) => eprintln!("tcpdump not installed: pcap checked by FromDump only"),
    }
    let o = run(&bin(), &["-q", "-e", "FromDump(nope.pcap) -> Discard"], &d, "");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("While initializing 'FromDump@1 :: FromDump':"), "{}", text(&o.stderr));
}

#[test]
fn interrupt_stops_the_router_and_still_reports_handlers() {
    let d = tempdir("int");
    let child = Command::new(bin())
        .args(["-e", "InfiniteSource -> c :: Counter -> Discard", "-h", "c.count"])
        .current_dir(&d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let count: u64 = text(&o.stdout).trim().parse().expect("a count");
    assert!(count > 0);
}

#[test]
fn the_readme_main_job_routes_the_bundled_trace() {
    // README's first command: Click's IP router over examples/router-trace.pcap.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let d = tempdir("iprouter");
    let out0 = d.join("eth0.pcap");
    let out1 = d.join("eth1.pcap");
    let o = run(
        &bin(),
        &["examples/ip-router.click", &format!("OUT0={}", out0.display()), &format!("OUT1={}", out1.display())],
        root,
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    for line in [
        "frames in on eth0:              1000",
        "bad IP headers dropped:         50",
        "TTL expired (ICMP sent back):   50",
        "too big with DF (ICMP sent):    50",
        "fragments made for eth1:        100",
        "to the router itself:           50",
    ] {
        assert!(report.contains(line), "missing '{line}' in:\n{report}");
    }
    assert!(report.contains(": 500\n") && report.contains(": 600\n"), "{report}");
    // What left eth1 reads back: 500 forwarded datagrams and 100 fragments.
    let o = run(
        &bin(),
        &["-e", &format!("FromDump({}, STOP true) -> c :: Counter -> Discard", out1.display()), "-h", "c.count"],
        &d,
        "",
    );
    assert_eq!(text(&o.stdout), "600\n", "{}", text(&o.stderr));
}

/// A pcap file of `frames` (each all `0xab`, its length given), little-endian
/// with microsecond timestamps or big-endian with nanosecond ones, ending in a
/// record cut short (which ends the trace, as in Click).
fn pcap_bytes(big_endian: bool, frames: &[usize]) -> Vec<u8> {
    let word = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let half = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend(word(if big_endian { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend(half(2));
    f.extend(half(4));
    f.extend(word(0));
    f.extend(word(0));
    f.extend(word(65535));
    f.extend(word(1));
    for (i, &len) in frames.iter().enumerate() {
        let i = i as u32;
        f.extend(word(1000 + i));
        f.extend(word(if big_endian { i * 1_000_000 } else { i * 1000 }));
        f.extend(word(len as u32));
        f.extend(word(len as u32 + 4));
        f.extend(std::iter::repeat_n(0xab, len));
    }
    f.extend(word(2000));
    f.extend(word(0));
    f.extend(word(50));
    f.extend(word(50));
    f.extend([0xab; 10]);
    f
}

#[test]
fn fromdump_reads_a_trace_the_same_mapped_read_or_piped() {
    let d = tempdir("fromdump-forms");
    let frames = [60, 1500, 70, 64];
    for big_endian in [false, true] {
        std::fs::write(d.join("t.pcap"), pcap_bytes(big_endian, &frames)).unwrap();
        let chain = "-> ToIPSummaryDump(-, FIELDS timestamp, HEADER false) -> c :: Counter -> Discard";
        let mut outputs = Vec::new();
        for source in ["t.pcap, STOP true, MMAP true", "t.pcap, STOP true, MMAP false", "/dev/stdin, STOP true"] {
            // The last one reads a pipe, which cannot be mapped.
            let script = format!(
                "cat t.pcap | '{}' -e 'FromDump({source}) {chain}' -h c.count -h c.byte_count",
                bin().display()
            );
            let o = Command::new("sh").args(["-c", &script]).current_dir(&d).output().unwrap();
            assert!(o.status.success(), "{source}: {}", text(&o.stderr));
            outputs.push(text(&o.stdout));
        }
        let want_bytes = frames.iter().sum::<usize>().to_string();
        let out = &outputs[0];
        // Handlers print before the dump is flushed at cleanup, as in Click.
        let stamps: Vec<&str> = out.lines().filter(|l| l.starts_with("10")).collect();
        assert_eq!(stamps.len(), 4, "{out}");
        assert!(stamps[0].starts_with("1000.") && stamps[3].starts_with("1003.003"), "{out}");
        assert!(out.starts_with(&format!("c.count:\n4\n\nc.byte_count:\n{want_bytes}\n")), "{out}");
        assert!(outputs.iter().all(|o| o == out), "big-endian {big_endian}: {outputs:?}");
    }
}

/// `oxclick image` writes a vif hotplug script whose `#!` line runs this
/// binary; from a path the kernel cannot run that way (one with a blank in it)
/// it says so, names the way out, and writes nothing.
#[test]
fn image_from_a_binary_the_kernel_cannot_run_as_a_script_writes_nothing() {
    let d = tempdir("image-blank");
    let tools = d.join("my tools");
    std::fs::create_dir_all(&tools).unwrap();
    // A copy, not a link: the binary finds itself through /proc/self/exe, which
    // resolves links.
    let exe = tools.join("oxclick");
    std::fs::copy(bin(), &exe).unwrap();
    std::fs::write(d.join("m.click"), "FromNetfront(0) -> ToNetfront(0)").unwrap();
    let out = run(&exe, &["image", "m.click", "--guest", "no-such-guest"], &d, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("my tools/oxclick: has blanks in it") && err.contains("--stock-hotplug"), "{err}");
    let mut left: Vec<String> =
        std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["m.click", "my tools"]);
    std::fs::remove_dir_all(&d).unwrap();
}
