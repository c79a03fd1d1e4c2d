//! `cargo xtask bench`: the runtime's speed and memory on this machine.
//!
//! Release builds, one core, generated inputs (64-byte Ethernet/IPv4/UDP frames
//! with valid checksums; pcaps written on first use under target/bench-data).
//! Each case runs several times; we report the median packet rate (packets over
//! the time the router ran, which oxclick reports, so reading and building a
//! configuration of 10,000 tenants does not count as packet time) and the peak
//! resident memory of the process (its own VmHWM, which oxclick reports when
//! `OXCLICK_REPORT_PEAK_RSS` is set; else `wait4`'s rusage), and check that every
//! packet was counted so a broken build cannot post a good number. Before a case
//! runs, its trace is settled in the page cache (see [`settle_trace`]), so no case
//! pays for how an earlier one left the cache.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{cargo, workspace_root};

pub const HELP: &str = "\
usage: cargo xtask bench [--packets N] [--runs K] [--against OXCLICK] [CASE...]

cases (default: all):
  a        InfiniteSource(LENGTH 64, LIMIT N, STOP true) -> Discard
  d0       FromDump(udp64_N.pcap, STOP true) -> Strip(14) -> CheckIPHeader
           -> DecIPTTL -> c :: Counter -> Discard
  hand     a hand-written Rust loop doing d0's per-packet work (the ceiling)
  b        InfiniteSource(DATA <64-byte UDP frame>, LIMIT N, STOP true) -> Strip(14)
           -> CheckIPHeader -> IPFilter(allow udp dst port 1500, deny all)
           -> DecIPTTL -> c :: Counter -> Discard
  d        the same chain fed by FromDump(udp64p1500_N.pcap, STOP true)
  startup  Idle -> Discard, with -q (build the router, then quit)
  nat      d's chain with IPRewriter(pattern 1.0.0.1 1024-65535 - - 0 1, CAPACITY 1100000)
           in place of DecIPTTL, over a trace of N packets in 1,000,000 flows taken
           in turn (each flow its own source and destination): 1M live mappings;
           also its first 1,000,000 packets alone (nat-new: making the mappings),
           and from the two the rate once all mappings are live
  rules    compile time of a 10,000-rule IPClassifier (address prefixes, hosts,
           ports, protocols): `oxclick -q` of it, less `oxclick -q` of the same
           router with `-` rules
  c        the tenant demux: FromDump(tenants_N.pcap) -> Strip(14) -> CheckIPHeader
           -> IPClassifier(dst host T1, ..., dst host TN), a Counter -> Discard per
           tenant, the trace round-robin over N tenants, for N = 1, 100, 1000, 10000
           (--tenant-packets per trace, default 2000000)
  t        consolidated tenants: `oxclick consolidate` of N tenants each running
           `input -> IPFilter(allow udp dst port 1500, deny all) -> c :: Counter -> output`
           behind the platform's demux and guards, over c's traces; reports the merge
           time, Mpps and memory per tenant, for N = 1, 100, 1000, 10000, each
           packet for the next tenant; at 10000 also in trains of 32 per tenant

  --packets N   packets per run for a, d0 and hand (default 10000000)
  --runs K      runs per case; the median is reported (default 5)
  --against OXCLICK
                another oxclick binary (say, a copy of an earlier build) to compare
                with: each run of a case runs both, one after the other, and each
                case reports the other binary's median and its time against this
                build's. Interleaved runs see the same machine: this machine's speed
                drifts by several percent through a day, more than many changes move
                a figure. The hand loop and the rules case run this build's only.

Traces are generated under target/bench-data on first use. Before a case runs, its
trace is dropped from the page cache and read back in sequence, so no case pays for
how an earlier one (or the rest of the machine) left the cache; a warning says so if
a trace does not stay resident.";

struct Run {
    seconds: f64,
    max_rss_kb: u64,
    stdout: String,
}

impl Run {
    /// How long the router ran, without reading and building its configuration,
    /// as oxclick reports it when `OXCLICK_REPORT_PEAK_RSS` is set.
    fn router_seconds(&self) -> Option<f64> {
        self.stdout.lines().find_map(|l| l.strip_prefix("oxclick-run-seconds ")).and_then(|s| s.trim().parse().ok())
    }
}

/// Run `cmd`, timing it and reading its peak RSS from the kernel.
fn measure(cmd: &mut Command) -> Result<Run, String> {
    let started = Instant::now();
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| format!("{e}"))?;
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so a chatty child cannot block on a full pipe.
    let mut child = child;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let mut status = 0;
    // SAFETY: plain FFI; `status` and `usage` outlive the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    if r != pid {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("command failed: {stderr}"));
    }
    // The process's own high-water mark when it reports one (oxclick does when
    // asked): wait4's figure also counts what the spawning process had resident.
    let own = stderr
        .lines()
        .find_map(|l| l.strip_prefix("oxclick-peak-rss-kb "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .or_else(|| {
            stdout.lines().find_map(|l| l.strip_prefix("handloop-peak-rss-kb ")).and_then(|n| n.trim().parse().ok())
        });
    let max_rss_kb = own.unwrap_or(usage.ru_maxrss as u64);
    Ok(Run { seconds, max_rss_kb, stdout: stdout + &stderr })
}

/// One 64-byte frame: Ethernet, IPv4 (TTL 64), UDP with a valid checksum.
fn frame(i: u64) -> [u8; 64] {
    frame_to(i, [10, 0, 0, 2])
}

/// Tenant `t`'s address in the (c) traces.
fn tenant_addr(t: u64) -> [u8; 4] {
    [10, (t >> 8) as u8, (t & 255) as u8, 1]
}

/// Frame `i` of a trace, to `dst`.
fn frame_to(i: u64, dst: [u8; 4]) -> [u8; 64] {
    frame_from(i, [10, 0, 0, 1], 1024 + (i % 50000) as u16, dst)
}

/// Flows in the NAT trace.
const NAT_FLOWS: u64 = 1_000_000;

/// Frame `i` of the NAT trace: flow `i % NAT_FLOWS`, each flow its own
/// source and destination, so every flow needs a mapping of its own.
fn nat_frame(i: u64) -> [u8; 64] {
    let f = i % NAT_FLOWS;
    let (a, b, c) = ((f >> 16) as u8, (f >> 8) as u8, f as u8);
    frame_from(i, [10, a, b, c], 1024 + (f % 50000) as u16, [2, a, b, c])
}

/// Frame `i` of a trace, from `src`:`sport` to `dst` port 1500.
fn frame_from(i: u64, src: [u8; 4], sport: u16, dst: [u8; 4]) -> [u8; 64] {
    let mut f = [0u8; 64];
    f[..6].copy_from_slice(&[0, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[0, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&50u16.to_be_bytes());
    ip[4..6].copy_from_slice(&(i as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let sum = checksum(&f[14..34], 0);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    // Port 1500: what the (b) and (d) filters let through.
    f[36..38].copy_from_slice(&1500u16.to_be_bytes());
    f[38..40].copy_from_slice(&30u16.to_be_bytes());
    for (k, b) in f[42..].iter_mut().enumerate() {
        *b = k as u8;
    }
    // UDP checksum over the pseudo-header and the datagram.
    let pseudo = (u32::from(src[0]) << 8 | u32::from(src[1]))
        + (u32::from(src[2]) << 8 | u32::from(src[3]))
        + (u32::from(dst[0]) << 8 | u32::from(dst[1]))
        + (u32::from(dst[2]) << 8 | u32::from(dst[3]))
        + 17
        + 30;
    let mut u = checksum(&f[34..64], pseudo);
    if u == 0 {
        u = 0xffff;
    }
    f[40..42].copy_from_slice(&u.to_be_bytes());
    f
}

fn checksum(data: &[u8], start: u32) -> u16 {
    let mut sum = start;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pcap_path(dir: &Path, packets: u64) -> PathBuf {
    let tag = if packets.is_multiple_of(1_000_000) { format!("{}M", packets / 1_000_000) } else { packets.to_string() };
    dir.join(format!("udp64p1500_{tag}.pcap"))
}

/// The trace of case c for `n` tenants, `packets` packets round-robin (also
/// case t's).
fn tenant_trace(dir: &Path, n: impl std::fmt::Display, packets: u64) -> PathBuf {
    dir.join(format!("tenants_{n}_{packets}_p1500.pcap"))
}

/// Write the trace unless it is already there.
fn ensure_pcap(path: &Path, packets: u64) -> Result<(), String> {
    ensure_trace(path, packets, &|i| frame(i))
}

/// Write a trace of `packets` frames made by `make` unless it is already there.
fn ensure_trace(path: &Path, packets: u64, make: &dyn Fn(u64) -> [u8; 64]) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    eprintln!("generating {} ({packets} packets, {} MB)...", path.display(), (24 + packets * 80) >> 20);
    let tmp = path.with_extension("tmp");
    let f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
    // Classic pcap header: microseconds, little-endian, Ethernet.
    w.write_all(&0xa1b2c3d4u32.to_le_bytes()).map_err(io)?;
    w.write_all(&2u16.to_le_bytes()).map_err(io)?;
    w.write_all(&4u16.to_le_bytes()).map_err(io)?;
    w.write_all(&[0u8; 8]).map_err(io)?;
    w.write_all(&65535u32.to_le_bytes()).map_err(io)?;
    w.write_all(&1u32.to_le_bytes()).map_err(io)?;
    for i in 0..packets {
        let us = i;
        w.write_all(&((us / 1_000_000) as u32).to_le_bytes()).map_err(io)?;
        w.write_all(&((us % 1_000_000) as u32).to_le_bytes()).map_err(io)?;
        w.write_all(&64u32.to_le_bytes()).map_err(io)?;
        w.write_all(&64u32.to_le_bytes()).map_err(io)?;
        w.write_all(&make(i)).map_err(io)?;
        if i > 0 && i % 2_000_000 == 0 {
            eprintln!("  {}M packets", i / 1_000_000);
        }
    }
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Put `trace` in the page cache the same way before every case that reads it:
/// written back, dropped from the cache, then read once from start to end.
///
/// Why: FromDump (and the hand loop) map their trace, so a run's time includes the
/// page faults on it, and what a fault costs depends on how the kernel happened to
/// cache the file. A trace that was written out, partly evicted, then faulted back
/// in page by page sits in small folios; one read in sequence sits in the large
/// folios readahead makes. The same chain over two such copies of one trace ran
/// 24 ms against 41 ms on 2M packets, and a trace partly evicted is read from disk
/// inside the timed run. Settling gives every case and every trace the same start.
fn settle_trace(path: &Path) -> Result<(), String> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = std::fs::File::open(path).map_err(err)?;
    // Dirty pages are not dropped: write them back first.
    f.sync_data().map_err(err)?;
    // SAFETY: a plain advice call on a descriptor we own; it touches no memory of ours.
    unsafe {
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
    let mut buf = vec![0u8; 4 << 20];
    while f.read(&mut buf).map_err(err)? > 0 {}
    let (resident, total) = resident_pages(&f).map_err(err)?;
    if resident < total {
        eprintln!(
            "warning: only {resident} of {total} pages of {} stay in the page cache; its runs include disk reads",
            path.display()
        );
    }
    Ok(())
}

/// How many of `f`'s pages are in the page cache, of how many.
fn resident_pages(f: &std::fs::File) -> std::io::Result<(usize, usize)> {
    // SAFETY: a read-only map of a file nobody writes while the bench runs; its
    // bytes are never read, only their residency asked.
    let map = unsafe { memmap2::Mmap::map(f) }?;
    let page = 4096;
    let total = map.len().div_ceil(page);
    let mut vec = vec![0u8; total];
    if total == 0 {
        return Ok((0, 0));
    }
    // SAFETY: `vec` has one byte per page of the mapping, as mincore requires.
    let rc = unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, map.len(), vec.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((vec.iter().filter(|&&b| b & 1 != 0).count(), total))
}

fn build() -> Result<PathBuf, String> {
    let root = workspace_root();
    eprintln!("building release binaries...");
    let status = cargo()
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "oxclick",
            "--bin",
            "oxclick",
            "-p",
            "xtask",
            "--bin",
            "handloop",
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("release build failed".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    Ok(target.join("release"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Tenant counts for the demux case.
const TENANT_COUNTS: [u64; 4] = [1, 100, 1000, 10_000];

pub fn bench(args: &[String]) -> Result<bool, String> {
    let mut packets = 10_000_000u64;
    let mut tenant_packets = 2_000_000u64;
    let mut runs = 5usize;
    let mut against: Option<PathBuf> = None;
    let mut cases = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--packets" => {
                packets = it.next().and_then(|n| n.parse().ok()).ok_or("--packets needs a number")?;
            }
            "--runs" => runs = it.next().and_then(|n| n.parse().ok()).ok_or("--runs needs a number")?,
            "--against" => {
                let path = PathBuf::from(it.next().ok_or("--against needs an oxclick binary")?);
                // Absolute: the runs start in other directories' names for files.
                let path = path.canonicalize().map_err(|e| format!("--against {}: {e}", path.display()))?;
                against = Some(path);
            }
            "--tenant-packets" => {
                tenant_packets = it.next().and_then(|n| n.parse().ok()).ok_or("--tenant-packets needs a number")?;
            }
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(true);
            }
            c @ ("a" | "d0" | "hand" | "startup" | "b" | "d" | "nat" | "c" | "t" | "rules") => {
                cases.push(c.to_string())
            }
            other => return Err(format!("bench: unknown argument '{other}'\n\n{HELP}")),
        }
    }
    if cases.is_empty() {
        cases = ["a", "d0", "hand", "startup", "b", "d", "nat", "c", "t", "rules"].map(String::from).to_vec();
    }
    let runs = runs.max(1);
    let bin_dir = build()?;
    let oxclick = bin_dir.join("oxclick");
    let data_dir = bin_dir.parent().ok_or("odd target dir")?.join("bench-data");
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let pcap = pcap_path(&data_dir, packets);
    if cases.iter().any(|c| c == "d0" || c == "hand" || c == "d") {
        ensure_pcap(&pcap, packets)?;
    }
    // The tenant demux runs once per tenant count, each with its own trace and
    // configuration file (too big for a command-line argument at 10,000 tenants).
    if let Some(k) = cases.iter().position(|c| c == "c") {
        cases.remove(k);
        for (j, n) in TENANT_COUNTS.iter().enumerate() {
            let trace = tenant_trace(&data_dir, n, tenant_packets);
            ensure_trace(&trace, tenant_packets, &|i| frame_to(i, tenant_addr(i % n)))?;
            let conf = data_dir.join(format!("tenants_{n}.click"));
            let mut text =
                format!("FromDump({}, STOP true) -> Strip(14) -> CheckIPHeader -> c :: IPClassifier(", trace.display());
            let pats: Vec<String> = (0..*n)
                .map(|t| {
                    let a = tenant_addr(t);
                    format!("dst host {}.{}.{}.{}", a[0], a[1], a[2], a[3])
                })
                .collect();
            text.push_str(&pats.join(", "));
            text.push_str(");\n");
            for t in 0..*n {
                text.push_str(&format!("c[{t}] -> t{t} :: Counter -> Discard;\n"));
            }
            std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
            cases.insert(k + j, format!("c{n}"));
        }
    }
    // Cases with a report of their own, not a packet rate: run after the rest.
    let rules = take_case(&mut cases, "rules");
    let nat_trace = data_dir.join(format!("nat_{}flows_{packets}.pcap", NAT_FLOWS));
    // The NAT trace's first NAT_FLOWS packets alone: one packet per flow, each
    // making its mapping. Timing it apart splits the full run into making the
    // mappings and forwarding through them once they are all live.
    let nat_new_packets = NAT_FLOWS.min(packets);
    let nat_new_trace = data_dir.join(format!("nat_{}flows_{nat_new_packets}.pcap", NAT_FLOWS));
    if let Some(k) = cases.iter().position(|c| c == "nat") {
        ensure_trace(&nat_trace, packets, &nat_frame)?;
        if packets > NAT_FLOWS {
            ensure_trace(&nat_new_trace, nat_new_packets, &nat_frame)?;
            cases.insert(k + 1, "nat-new".into());
        }
    }
    let consolidated = take_case(&mut cases, "t");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("machine load before: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    let mut rates = std::collections::BTreeMap::new();
    let have_taskset = Command::new("taskset").arg("-V").output().is_ok();
    for case in &cases {
        // The demux's configuration takes a while to build at 10,000 tenants: time
        // that (with -q) and count packets over the rest.
        let mut setup = 0.0;
        if let Some(n) = case.strip_prefix('c') {
            let conf = data_dir.join(format!("tenants_{n}.click"));
            let mut t = Vec::new();
            for _ in 0..3 {
                let mut q = Command::new(&oxclick);
                q.arg("-q").arg(&conf);
                t.push(measure(&mut q)?.seconds);
            }
            setup = median(&mut t);
        }
        let trace = match case.as_str() {
            "d0" | "hand" | "d" => Some(pcap.clone()),
            "nat" => Some(nat_trace.clone()),
            "nat-new" => Some(nat_new_trace.clone()),
            c => c.strip_prefix('c').map(|n| tenant_trace(&data_dir, n, tenant_packets)),
        };
        if let Some(trace) = trace {
            settle_trace(&trace)?;
        }
        // Packets a run of this case sends, and how many its counter must show
        // (for the demux: tenant 0's share).
        let (case_packets, expect) = match case.strip_prefix('c') {
            Some(n) => (tenant_packets, tenant_packets.div_ceil(n.parse().unwrap_or(1))),
            None if case == "nat-new" => (nat_new_packets, nat_new_packets),
            None => (packets, packets),
        };
        // This build, and the one to compare with (not for the hand loop, which
        // is no oxclick).
        let this = oxclick.as_path();
        let bins: Vec<&Path> = std::iter::once(this).chain(against.as_deref().filter(|_| case != "hand")).collect();
        let mut secs = vec![Vec::new(); bins.len()];
        let mut rss = vec![0u64; bins.len()];
        // A 2 ms figure needs more samples than a seconds-long one.
        let case_runs = if case == "startup" { runs.max(21) } else { runs };
        for k in 0..case_runs {
            for (b, &oxclick) in bins.iter().enumerate() {
                let which = if b == 0 { "" } else { " (against)" };
                let mut cmd = match case.as_str() {
                    "a" => {
                        let mut c = Command::new(oxclick);
                        c.args([
                            "-e",
                            &format!("InfiniteSource(LENGTH 64, LIMIT {packets}, STOP true) -> d :: Discard"),
                        ]);
                        c.args(["-h", "d.count"]);
                        c
                    }
                    "b" | "d" => {
                        let source = if case == "b" {
                            let hex: String = frame(0).iter().map(|b| format!("{b:02x}")).collect();
                            format!("InfiniteSource(DATA \\<{hex}>, LIMIT {packets}, STOP true)")
                        } else {
                            format!("FromDump({}, STOP true)", pcap.display())
                        };
                        let conf = format!(
                            "{source} -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp dst port 1500, deny all) -> DecIPTTL -> c :: Counter -> Discard"
                        );
                        let mut c = Command::new(oxclick);
                        c.args(["-e", &conf, "-h", "c.count"]);
                        c
                    }
                    "nat" | "nat-new" => {
                        let conf = format!(
                            "FromDump({}, STOP true) -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp dst port 1500, deny all) \
                         -> rw :: IPRewriter(pattern 1.0.0.1 1024-65535 - - 0 1, CAPACITY 1100000) -> c :: Counter -> Discard; \
                         Idle -> [0] rw; rw[1] -> Discard",
                            if case == "nat" { nat_trace.display() } else { nat_new_trace.display() }
                        );
                        let mut c = Command::new(oxclick);
                        c.args(["-e", &conf, "-h", "c.count", "-h", "rw.nmappings"]);
                        c
                    }
                    "d0" => {
                        let mut c = Command::new(oxclick);
                        let conf = format!(
                            "FromDump({}, STOP true) -> Strip(14) -> CheckIPHeader -> DecIPTTL -> c :: Counter -> Discard",
                            pcap.display()
                        );
                        c.args(["-e", &conf, "-h", "c.count"]);
                        c
                    }
                    c if c.starts_with('c') => {
                        let n = &c[1..];
                        let mut cmd = Command::new(oxclick);
                        cmd.arg(data_dir.join(format!("tenants_{n}.click"))).args(["-h", "t0.count"]);
                        cmd
                    }
                    "hand" => {
                        let mut c = Command::new(bin_dir.join("handloop"));
                        c.arg(&pcap);
                        c
                    }
                    _ => {
                        let mut c = Command::new(oxclick);
                        c.args(["-q", "-e", "Idle -> Discard"]);
                        c
                    }
                };
                // One core, as the targets say.
                cmd.env("OXCLICK_REPORT_PEAK_RSS", "1");
                let mut pinned = Command::new("taskset");
                pinned.env("OXCLICK_REPORT_PEAK_RSS", "1");
                pinned.arg("-c").arg("0").arg(cmd.get_program()).args(cmd.get_args());
                // Startup is timed without taskset: its own exec (and dynamic loading)
                // would double a 2 ms figure, and pinning means nothing for it.
                let use_taskset = case != "startup" && have_taskset;
                let run = measure(if use_taskset { &mut pinned } else { &mut cmd })?;
                // Every packet must have been counted.
                if case != "startup" && !run.stdout.split_whitespace().any(|w| w == expect.to_string()) {
                    return Err(format!("{case}: expected {expect} packets counted, got: {}", run.stdout.trim()));
                }
                rss[b] = rss[b].max(run.max_rss_kb);
                let seconds = match run.router_seconds() {
                    Some(s) if case != "startup" => s,
                    _ => run.seconds - setup,
                }
                .max(1e-6);
                secs[b].push(seconds);
                let rate = case_packets as f64 / seconds / 1e6;
                if case == "startup" {
                    eprintln!("  {case}{which} run {}: {:.2} ms, {} KB RSS", k + 1, run.seconds * 1e3, run.max_rss_kb);
                } else {
                    eprintln!(
                        "  {case}{which} run {}: {:.3} s, {rate:.2} Mpps, {} KB RSS",
                        k + 1,
                        seconds,
                        run.max_rss_kb
                    );
                }
            }
        }
        let m = median(&mut secs[0]);
        let packets = case_packets;
        let rss = rss[0];
        if case == "startup" {
            println!("{case:8} median {:.2} ms   peak RSS {:.1} MB", m * 1e3, rss as f64 / 1024.0);
        } else {
            let rate = packets as f64 / m / 1e6;
            rates.insert(case.clone(), rate);
            let setup_note =
                if setup > 0.0 { format!(", after {:.0} ms building the router", setup * 1e3) } else { String::new() };
            println!(
                "{case:8} median {rate:7.2} Mpps ({m:.3} s for {packets} packets{setup_note})   peak RSS {:.1} MB",
                rss as f64 / 1024.0
            );
        }
        if let Some(other) = secs.get_mut(1) {
            report_against(case, m, median(other), (case != "startup").then_some(packets));
        }
    }
    if consolidated {
        bench_consolidated(&oxclick, against.as_deref(), &data_dir, tenant_packets, runs)?;
    }
    if rules {
        bench_rules(&oxclick, &data_dir, runs)?;
    }
    if let (Some(one), Some(many)) = (rates.get("c1"), rates.get("c10000")) {
        println!("the 10,000th tenant costs {:.2}x the first (packet rate with 1 tenant / with 10,000)", one / many);
    }
    if let (Some(all), Some(new)) = (rates.get("nat"), rates.get("nat-new")) {
        // Seconds for the whole trace less those for making the mappings: the
        // packets after the first NAT_FLOWS, every one through a live mapping.
        let (all_s, new_s) = (packets as f64 / all / 1e6, nat_new_packets as f64 / new / 1e6);
        let live = (packets - nat_new_packets) as f64 / (all_s - new_s).max(1e-6) / 1e6;
        println!(
            "nat: {new:.2} Mpps making {nat_new_packets} mappings, then {live:.2} Mpps with all of them live \
             (the last {} packets: the whole trace's time less the first {nat_new_packets} packets')",
            packets - nat_new_packets
        );
    }
    if let (Some(d0), Some(hand)) = (rates.get("d0"), rates.get("hand")) {
        println!("d0 runs at {:.2}x the hand-written loop's time", hand / d0);
    }
    Ok(true)
}

/// Whether `case` was asked for; it leaves `cases`.
fn take_case(cases: &mut Vec<String>, case: &str) -> bool {
    let k = cases.iter().position(|c| c == case);
    k.map(|k| cases.remove(k)).is_some()
}

/// Rules in the `rules` case.
const RULES: usize = 10_000;

/// Case rules: how long a 10,000-rule IPClassifier takes to compile. Rule k is
/// one of four shapes (a source prefix and a TCP port range, a host and a UDP
/// port, a 3-tuple, a protocol and an ICMP type), all different.
fn bench_rules(oxclick: &Path, data_dir: &Path, runs: usize) -> Result<(), String> {
    let rule = |k: usize| {
        let (a, b) = ((k >> 8) as u8, k as u8);
        match k % 4 {
            0 => format!("src net 10.{a}.{b}.0/24 and dst tcp port > {}", 1024 + k % 5000),
            1 => format!("dst host 192.168.{a}.{b} and udp dst port {}", 1 + k % 1000),
            2 => format!("dst host 172.16.{a}.{b} and dst tcp port {}", 80 + k % 7),
            _ => format!("src host 10.200.{a}.{b} and icmp type {}", k % 16),
        }
    };
    let write = |name: &str, rules: &dyn Fn(usize) -> String| -> Result<PathBuf, String> {
        let path = data_dir.join(name);
        let mut text = String::from("Idle -> c :: IPClassifier(");
        text.push_str(&(0..RULES).map(rules).collect::<Vec<_>>().join(",\n  "));
        text.push_str(");\nd :: Discard;\n");
        for k in 0..RULES {
            text.push_str(&format!("c[{k}] -> d;\n"));
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    };
    let full = write("rules_10000.click", &rule)?;
    let trivial = write("rules_10000_trivial.click", &|_| String::from("-"))?;
    let time = |conf: &Path| -> Result<f64, String> {
        let mut t = Vec::new();
        for _ in 0..runs.max(3) {
            let mut c = Command::new(oxclick);
            c.arg("-q").arg(conf);
            t.push(measure(&mut c)?.seconds);
        }
        Ok(median(&mut t))
    };
    let (with, without) = (time(&full)?, time(&trivial)?);
    println!(
        "rules    {RULES}-rule IPClassifier: compile {:.1} ms (oxclick -q {:.1} ms, less {:.1} ms with `-` rules)",
        (with - without) * 1e3,
        with * 1e3,
        without * 1e3
    );
    Ok(())
}

/// Case t: N tenants consolidated into one router, each a small firewall.
fn bench_consolidated(
    oxclick: &Path,
    against: Option<&Path>,
    data_dir: &Path,
    tenant_packets: u64,
    runs: usize,
) -> Result<(), String> {
    let bins: Vec<&Path> = std::iter::once(oxclick).chain(against).collect();
    let fw = data_dir.join("tenant-firewall.click");
    std::fs::write(&fw, "input -> IPFilter(allow udp dst port 1500, deny all) -> c :: Counter -> output;\n")
        .map_err(|e| format!("{}: {e}", fw.display()))?;
    let mut per_packet = Vec::new();
    let mut train_per_packet = None;
    let mut idle_rss = Vec::new();
    for &n in &TENANT_COUNTS {
        let trace = tenant_trace(data_dir, n, tenant_packets);
        ensure_trace(&trace, tenant_packets, &|i| frame_to(i, tenant_addr(i % n)))?;
        let manifest = data_dir.join(format!("consolidated_{n}.toml"));
        let mut text =
            format!("[platform]\ninput = \"FromDump({}, STOP true)\"\noutput = \"Discard\"\n\n", trace.display());
        for t in 0..n {
            let a = tenant_addr(t);
            text.push_str(&format!(
                "[[tenant]]\nname = \"t{t}\"\naddresses = [\"{}.{}.{}.{}\"]\nconfig = \"tenant-firewall.click\"\ntrust = \"client\"\nmemory = \"16KiB\"\n\n",
                a[0], a[1], a[2], a[3]
            ));
        }
        std::fs::write(&manifest, text).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let merged = data_dir.join(format!("consolidated_{n}.click"));
        // Merge + compile: the consolidate command (it builds the merged router to
        // check it), then the router build alone (-q), each the median of three.
        let mut merge = Vec::new();
        let mut build = Vec::new();
        let mut build_rss = 0u64;
        let mut built_rss = 0u64;
        for _ in 0..3 {
            let mut c = Command::new(oxclick);
            c.arg("consolidate").arg(&manifest).arg("-q").arg("-o").arg(&merged);
            merge.push(measure(&mut c)?.seconds);
            let mut q = Command::new(oxclick);
            q.env("OXCLICK_REPORT_PEAK_RSS", "1").arg("-q").arg(&merged);
            let r = measure(&mut q)?;
            build.push(r.seconds);
            build_rss = build_rss.max(r.max_rss_kb);
            // What stays resident once the router is built (the driver gives the
            // memory reading the configuration took back first).
            let built = r.stdout.lines().find_map(|l| l.strip_prefix("oxclick-built-rss-kb "));
            built_rss = built_rss.max(built.and_then(|n| n.trim().parse().ok()).unwrap_or(r.max_rss_kb));
        }
        let (merge, build) = (median(&mut merge), median(&mut build));
        let expect = tenant_packets.div_ceil(n);
        settle_trace(&trace)?;
        let timed = run_consolidated(&bins, &merged, &format!("t{n}"), expect, tenant_packets, build, runs)?;
        let (m, rss) = timed[0];
        per_packet.push(m / tenant_packets as f64);
        idle_rss.push((built_rss, build_rss));
        let per_tenant = match idle_rss.first() {
            Some(&(one, one_peak)) if n > 1 => format!(
                ", per tenant beyond the first {:.2} KB resident ({:.2} KB at the peak)",
                (built_rss.saturating_sub(one)) as f64 / (n - 1) as f64,
                (build_rss.saturating_sub(one_peak)) as f64 / (n - 1) as f64
            ),
            _ => String::new(),
        };
        println!(
            "t{n:<7} median {:7.2} Mpps ({m:.3} s for {tenant_packets} packets)   merge {:.0} ms, build {:.0} ms   RSS {:.1} MB built ({:.1} MB peak), {:.1} MB running{per_tenant}",
            tenant_packets as f64 / m / 1e6,
            merge * 1e3,
            build * 1e3,
            built_rss as f64 / 1024.0,
            build_rss as f64 / 1024.0,
            rss as f64 / 1024.0
        );
        if let Some(&(other, _)) = timed.get(1) {
            report_against(&format!("t{n}"), m, other, Some(tenant_packets));
        }
        if n == TENANT_COUNTS[TENANT_COUNTS.len() - 1] {
            // The same router fed trains of TRAIN packets per tenant (tenants still
            // in turn), as TCP's windows bring them: the worst case above, a
            // common one here.
            let trains = data_dir.join(format!("tenants_{n}_{tenant_packets}_train{TRAIN}_p1500.pcap"));
            let tenant_of = |i: u64| (i / TRAIN) % n;
            ensure_trace(&trains, tenant_packets, &|i| frame_to(i, tenant_addr(tenant_of(i))))?;
            let text = std::fs::read_to_string(&merged).map_err(|e| format!("{}: {e}", merged.display()))?;
            let fed = data_dir.join(format!("consolidated_{n}_train{TRAIN}.click"));
            std::fs::write(&fed, text.replace(&trace.display().to_string(), &trains.display().to_string()))
                .map_err(|e| format!("{}: {e}", fed.display()))?;
            let expect = (0..tenant_packets).filter(|&i| tenant_of(i) == 0).count() as u64;
            settle_trace(&trains)?;
            let timed = run_consolidated(&bins, &fed, &format!("t{n}/{TRAIN}"), expect, tenant_packets, build, runs)?;
            let (m, _) = timed[0];
            train_per_packet = Some(m / tenant_packets as f64);
            println!(
                "t{n}/{TRAIN:<3} median {:7.2} Mpps ({m:.3} s for {tenant_packets} packets in trains of {TRAIN} per tenant)",
                tenant_packets as f64 / m / 1e6
            );
            if let Some(&(other, _)) = timed.get(1) {
                report_against(&format!("t{n}/{TRAIN}"), m, other, Some(tenant_packets));
            }
        }
    }
    if let (Some(one), Some(many)) = (per_packet.first(), per_packet.last()) {
        println!(
            "consolidated: a packet at 10,000 tenants costs {:.2}x one at 1 tenant (each packet for the next tenant)",
            many / one
        );
        if let Some(trains) = train_per_packet {
            println!("consolidated: {:.2}x in trains of {TRAIN} packets per tenant", trains / one);
        }
    }
    Ok(())
}

/// Packets per tenant in a row in the trains trace of case t.
const TRAIN: u64 = 32;

/// Run a consolidated router `runs` times with each of `bins` in turn (this
/// build first), checking that tenant 0's counter saw `expect` packets: for
/// each binary the median router time and the peak RSS.
fn run_consolidated(
    bins: &[&Path],
    merged: &Path,
    label: &str,
    expect: u64,
    packets: u64,
    build: f64,
    runs: usize,
) -> Result<Vec<(f64, u64)>, String> {
    let mut secs = vec![Vec::new(); bins.len()];
    let mut rss = vec![0u64; bins.len()];
    for k in 0..runs {
        for (b, oxclick) in bins.iter().enumerate() {
            let which = if b == 0 { "" } else { " (against)" };
            let mut c = Command::new("taskset");
            c.env("OXCLICK_REPORT_PEAK_RSS", "1").args(["-c", "0"]).arg(oxclick).arg(merged);
            c.args(["-h", "t0/c.count"]);
            let run = measure(&mut c)?;
            if !run.stdout.split_whitespace().any(|w| w == expect.to_string()) {
                return Err(format!("{label}{which}: expected {expect} packets counted, got: {}", run.stdout.trim()));
            }
            // The router's own run time when it reports one; else the whole run less
            // the build's.
            let seconds = run.router_seconds().unwrap_or(run.seconds - build).max(1e-6);
            rss[b] = rss[b].max(run.max_rss_kb);
            eprintln!("  {label}{which} run {}: {seconds:.3} s, {:.2} Mpps", k + 1, packets as f64 / seconds / 1e6);
            secs[b].push(seconds);
        }
    }
    Ok(secs.iter_mut().zip(rss).map(|(s, r)| (median(s), r)).collect())
}

/// With `--against`, the other binary's line for a case: its median (a packet
/// rate over `packets`, or milliseconds for a case with none) and its median
/// time against this build's, both in seconds.
fn report_against(label: &str, this: f64, other: f64, packets: Option<u64>) {
    let figure = match packets {
        Some(n) => format!("{:7.2} Mpps", n as f64 / other / 1e6),
        None => format!("{:.2} ms", other * 1e3),
    };
    println!("{label:8} against median {figure}: {:.3}x this build's time", other / this);
}
