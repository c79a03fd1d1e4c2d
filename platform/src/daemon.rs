//! The platform daemon: owns the uplink and every tenant's port, demultiplexes by
//! registration, boots a tenant's router on the first packet for it (buffering
//! until it takes frames), suspends idle routers and resumes them on the next
//! packet, restarts crashed ones, and answers its control socket.
//!
//! One thread moves frames and keeps the books; boots, resumes and suspends run on
//! worker threads (an `xl create` takes seconds) and report back over a channel,
//! so one tenant's boot never stalls another tenant's traffic.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use oxclick_consolidate::{Flow, Manifest, Tenant, registration_conflicts};
use oxclick_elements::host_io::{Direction, PacketSocket};

use crate::backend::{Attached, Backend, StartSpec};
use crate::frames;
use crate::store::{self, Stored};

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The Linux interface toward the network.
    pub uplink: String,
    /// Where state, the control socket and per-tenant files live.
    pub state_dir: PathBuf,
    /// A router with no traffic for this long is suspended (or stopped, if stateless).
    pub idle: Duration,
    /// Frames held per tenant while its router starts; beyond, they are dropped.
    pub buffer: usize,
    /// Routers booted or resumed at once; more wait their turn, in order. dom0's
    /// tools slow each other down when many run together (and under emulated Xen
    /// they crash), so a burst of new flows is better served a few at a time.
    pub starts: usize,
}

impl Options {
    pub fn socket(&self) -> PathBuf {
        self.state_dir.join("platform.sock")
    }
}

/// Where a tenant's router is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    Stopped,
    Starting,
    Running(Attached),
    Suspending(Attached),
    Suspended(Attached),
    /// Being stopped for good (idle and stateless); frames wait for a new boot.
    Stopping,
    Failed(String),
}

impl Phase {
    fn word(&self) -> &'static str {
        match self {
            Phase::Stopped => "stopped",
            Phase::Starting => "starting",
            Phase::Running(_) => "running",
            Phase::Suspending(_) => "suspending",
            Phase::Suspended(_) => "suspended",
            Phase::Stopping => "stopping",
            Phase::Failed(_) => "failed",
        }
    }
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    packets_in: u64,
    packets_out: u64,
    buffer_drops: u64,
    tx_drops: u64,
    boots: u64,
    resumes: u64,
    suspends: u64,
    restarts: u64,
}

struct TenantState {
    spec: StartSpec,
    /// The tenant's own configuration text (what add-tenant brought).
    body: String,
    stateful: bool,
    phase: Phase,
    socket: Option<PacketSocket>,
    buffer: VecDeque<Vec<u8>>,
    last_active: Instant,
    counts: Counts,
    /// Boots in a row that failed; reset by one that works.
    failed_boots: u32,
    /// When a failed boot is tried again (its frames are held meanwhile).
    retry_at: Option<Instant>,
}

/// Boots tried before a tenant is left failed and its held frames dropped: a
/// boot can fail for a passing reason (under emulated Xen, `xl` itself crashes
/// now and then, and a guest booted beside others has crashed at its first
/// instruction), and a flow whose first frames wait should not lose them for it.
const BOOT_ATTEMPTS: u32 = 3;

/// The wait before boot attempt `n + 1` after `n` failed: 1 s, then 2 s.
fn boot_retry_delay(failed: u32) -> Duration {
    Duration::from_secs(u64::from(failed.clamp(1, 4)))
}

/// What a worker thread reports.
enum Done {
    Started(String, Result<Attached, String>, bool),
    Suspended(String, Result<(), String>),
    Destroyed(String),
}

pub struct Platform {
    opts: Options,
    backend: Arc<dyn Backend>,
    uplink: PacketSocket,
    uplink_mac: [u8; 6],
    tenants: Vec<TenantState>,
    by_addr: HashMap<Ipv4Addr, usize>,
    by_flow: HashMap<Flow, usize>,
    control: UnixListener,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
    /// Boots and resumes on worker threads now.
    starting: usize,
    /// Tenants waiting for a start (their name, and what to resume, if suspended).
    start_queue: VecDeque<(String, Option<Attached>)>,
    unmatched: u64,
    stopping: bool,
    log: Box<dyn FnMut(&str) + Send>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Platform {
    /// Open the uplink and the control socket and load the stored tenants.
    pub fn new(opts: Options, backend: Arc<dyn Backend>, log: Box<dyn FnMut(&str) + Send>) -> Result<Platform, String> {
        std::fs::create_dir_all(&opts.state_dir).map_err(|e| format!("{}: {e}", opts.state_dir.display()))?;
        let uplink = PacketSocket::open(&opts.uplink, true)?;
        let uplink_mac = oxclick_elements::host_io::device_ether(&opts.uplink)
            .ok_or_else(|| format!("{}: no Ethernet address", opts.uplink))?;
        let sock = opts.socket();
        let _ = std::fs::remove_file(&sock);
        let control = UnixListener::bind(&sock).map_err(|e| format!("{}: {e}", sock.display()))?;
        control.set_nonblocking(true).map_err(|e| e.to_string())?;
        let (done_tx, done_rx) = channel();
        let mut p = Platform {
            opts,
            backend,
            uplink,
            uplink_mac,
            tenants: Vec::new(),
            by_addr: HashMap::new(),
            by_flow: HashMap::new(),
            control,
            done_tx,
            done_rx,
            starting: 0,
            start_queue: VecDeque::new(),
            unmatched: 0,
            stopping: false,
            log,
        };
        p.load()?;
        Ok(p)
    }

    fn say(&mut self, line: &str) {
        (self.log)(line);
    }

    fn state_file(&self) -> PathBuf {
        self.opts.state_dir.join("state.toml")
    }

    /// Tenants and where their routers were, from the store: routers that still
    /// run are attached again (a daemon restart loses nothing).
    fn load(&mut self) -> Result<(), String> {
        let Some(stored) = store::load(&self.state_file())? else { return Ok(()) };
        for t in stored.tenants {
            let name = t.name.clone();
            let attached = t.attached.clone();
            let suspended = t.suspended;
            let counts = Counts { boots: t.boots, resumes: t.resumes, restarts: t.restarts, ..Counts::default() };
            match self.admit(t.tenant(), t.body) {
                Ok(i) => {
                    self.tenants[i].counts = counts;
                    // A suspended router has nothing running to ask about (an xl
                    // guest lives on in its save file).
                    if let Some(at) = attached.filter(|a| suspended || self.backend.alive(a)) {
                        self.attach(i, at, suspended);
                    }
                }
                Err(e) => self.say(&format!("tenant '{name}' from the store: {e}")),
            }
        }
        Ok(())
    }

    fn save(&mut self) {
        let stored = Stored {
            tenants: self
                .tenants
                .iter()
                .map(|t| {
                    let (attached, suspended) = match &t.phase {
                        Phase::Running(a) | Phase::Suspending(a) => (Some(a.clone()), false),
                        Phase::Suspended(a) => (Some(a.clone()), true),
                        _ => (None, false),
                    };
                    store::StoredTenant::new(
                        &t.spec.tenant,
                        &t.body,
                        attached,
                        suspended,
                        t.counts.boots,
                        t.counts.resumes,
                        t.counts.restarts,
                    )
                })
                .collect(),
        };
        if let Err(e) = store::save(&self.state_file(), &stored) {
            self.say(&format!("cannot save state: {e}"));
        }
    }

    /// Check a tenant against the registrations and its configuration against the
    /// isolation rules, and add it.
    fn admit(&mut self, tenant: Tenant, body: String) -> Result<usize, String> {
        if self.tenants.iter().any(|t| t.spec.tenant.name == tenant.name) {
            return Err(format!("tenant '{}' exists; remove it first", tenant.name));
        }
        let mut all: Vec<Tenant> = self.tenants.iter().map(|t| t.spec.tenant.clone()).collect();
        all.push(tenant.clone());
        let conflicts = registration_conflicts(&all);
        if !conflicts.is_empty() {
            return Err(conflicts.join("\n"));
        }
        // The tenant's router: the consolidation of this one tenant, on this
        // backend's ports (its guard checks what it sends, in the router too).
        let (input, output) = self.backend.io_elements(&tenant.name);
        let mut one = Manifest { file: format!("tenant {}", tenant.name), ..Manifest::default() };
        one.platform.input = input;
        one.platform.output = output;
        one.tenants.push(tenant.clone());
        let read = |p: &Path| {
            if p == tenant.config_path { Ok(body.clone()) } else { std::fs::read_to_string(p) }
        };
        let merged =
            oxclick_consolidate::consolidate(&one, &read, &oxclick_elements::registry()).map_err(|e| e.join("\n"))?;
        let stateful = merged.tenants.first().is_some_and(|r| r.stateful);
        let i = self.tenants.len();
        let dir = self.opts.state_dir.join("tenants").join(&tenant.name);
        self.tenants.push(TenantState {
            spec: StartSpec { tenant, config: merged.text, dir },
            body,
            stateful,
            phase: Phase::Stopped,
            socket: None,
            buffer: VecDeque::new(),
            last_active: Instant::now(),
            counts: Counts::default(),
            failed_boots: 0,
            retry_at: None,
        });
        self.index(i);
        Ok(i)
    }

    /// Demux entries for tenant `i`'s registrations.
    fn index(&mut self, i: usize) {
        let t = &self.tenants[i].spec.tenant;
        self.by_addr.extend(t.addresses.iter().map(|a| (*a, i)));
        self.by_flow.extend(t.flows.iter().map(|f| (*f, i)));
    }

    /// The demux again, after tenants were removed (indexes moved).
    fn reindex(&mut self) {
        self.by_addr.clear();
        self.by_flow.clear();
        for i in 0..self.tenants.len() {
            self.index(i);
        }
    }

    fn attach(&mut self, i: usize, at: Attached, suspended: bool) {
        if suspended {
            self.tenants[i].phase = Phase::Suspended(at);
            return;
        }
        match PacketSocket::open(&at.port, true) {
            Ok(s) => {
                let t = &mut self.tenants[i];
                t.socket = Some(s);
                t.phase = Phase::Running(at);
                t.last_active = Instant::now();
                // In arrival order, before anything newer.
                while let Some(f) = t.buffer.pop_front() {
                    if t.socket.as_ref().is_some_and(|s| s.send(&f).is_ok()) {
                        t.counts.packets_in += 1;
                    } else {
                        t.counts.buffer_drops += 1;
                    }
                }
            }
            Err(e) => {
                let name = self.tenants[i].spec.tenant.name.clone();
                self.tenants[i].phase = Phase::Failed(format!("port {}: {e}", at.port));
                self.say(&format!("tenant '{name}': cannot open its port {}: {e}", at.port));
            }
        }
    }

    /// Boot (or resume) tenant `i`'s router on a worker thread, or queue it when
    /// `Options::starts` are under way.
    fn start(&mut self, i: usize) {
        let t = &mut self.tenants[i];
        let resume = match &t.phase {
            Phase::Suspended(a) => Some(a.clone()),
            Phase::Stopped | Phase::Failed(_) => None,
            _ => return,
        };
        t.phase = Phase::Starting;
        t.retry_at = None;
        let name = t.spec.tenant.name.clone();
        self.start_queue.push_back((name, resume));
        self.start_queued();
    }

    /// Start queued tenants while fewer than `Options::starts` starts are under way.
    fn start_queued(&mut self) {
        while self.starting < self.opts.starts.max(1) {
            let Some((name, resume)) = self.start_queue.pop_front() else { return };
            // Removed, or stopped, while it waited.
            let Some(i) = self.index_of(&name) else { continue };
            if self.tenants[i].phase != Phase::Starting {
                continue;
            }
            self.starting += 1;
            self.spawn_start(i, resume);
        }
    }

    fn spawn_start(&mut self, i: usize, resume: Option<Attached>) {
        let spec = self.tenants[i].spec.clone();
        let backend = self.backend.clone();
        let tx = self.done_tx.clone();
        std::thread::spawn(move || {
            let resumed = resume.is_some();
            let r = match resume {
                Some(a) => backend.resume(&spec, &a),
                None => backend.boot(&spec),
            };
            let _ = tx.send(Done::Started(spec.tenant.name.clone(), r, resumed));
        });
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.tenants.iter().position(|t| t.spec.tenant.name == name)
    }

    /// The tenant a frame from the network belongs to.
    fn demux(&self, f: &frames::Ipv4Fields) -> Option<usize> {
        if let Some(&i) = self.by_addr.get(&f.dst) {
            return Some(i);
        }
        let (_, dport) = f.ports?;
        self.by_flow.get(&Flow { addr: f.dst, proto: f.proto, port: dport }).copied()
    }

    fn owns(&self, ip: Ipv4Addr) -> bool {
        self.by_addr.contains_key(&ip) || self.by_flow.keys().any(|f| f.addr == ip)
    }

    fn handle_uplink_frame(&mut self, frame: &[u8]) {
        if let Some(a) = frames::arp(frame) {
            if a.request && self.owns(a.target_ip) {
                let reply = frames::arp_reply(&a, a.target_ip, self.uplink_mac);
                let _ = self.uplink.send(&reply);
            }
            return;
        }
        let Some(f) = frames::ipv4(frame) else { return };
        let Some(i) = self.demux(&f) else {
            self.unmatched += 1;
            return;
        };
        let limit = self.opts.buffer;
        let t = &mut self.tenants[i];
        t.last_active = Instant::now();
        if let (Phase::Running(_), Some(s)) = (&t.phase, &t.socket) {
            if s.send(frame).is_ok() {
                t.counts.packets_in += 1;
            } else {
                t.counts.buffer_drops += 1;
            }
            return;
        }
        if t.buffer.len() < limit {
            t.buffer.push_back(frame.to_vec());
        } else {
            t.counts.buffer_drops += 1;
        }
        // A failed boot waiting to be tried again holds its frames until then.
        if matches!(t.phase, Phase::Stopped | Phase::Suspended(_) | Phase::Failed(_)) && t.retry_at.is_none() {
            self.start(i);
        }
    }

    /// MultiStack's transmit rule: a tenant sends only from its own addresses (and
    /// registered 3-tuples, with their protocol and port), ARP only for them.
    fn may_send(t: &Tenant, frame: &[u8]) -> bool {
        if let Some(a) = frames::arp(frame) {
            return t.addresses.contains(&a.sender_ip) || t.flows.iter().any(|f| f.addr == a.sender_ip);
        }
        let Some(f) = frames::ipv4(frame) else { return false };
        t.addresses.contains(&f.src)
            || t.flows
                .iter()
                .any(|fl| fl.addr == f.src && fl.proto == f.proto && f.ports.is_none_or(|(sport, _)| sport == fl.port))
    }

    fn forward_tenant_frames(&mut self, buf: &mut [u8]) {
        for t in &mut self.tenants {
            let Some(s) = &t.socket else { continue };
            for _ in 0..256 {
                let Some((n, dir)) = s.recv(buf) else { break };
                if dir == Direction::Outgoing {
                    continue; // what we sent it
                }
                let frame = &buf[..n];
                if Self::may_send(&t.spec.tenant, frame) && self.uplink.send(frame).is_ok() {
                    t.counts.packets_out += 1;
                    t.last_active = Instant::now();
                } else {
                    t.counts.tx_drops += 1;
                }
            }
        }
    }

    fn finished(&mut self, done: Done) {
        match done {
            Done::Started(name, r, resumed) => {
                self.starting = self.starting.saturating_sub(1);
                self.start_queued();
                let Some(i) = self.index_of(&name) else { return };
                match r {
                    Ok(at) => {
                        self.tenants[i].failed_boots = 0;
                        if resumed {
                            self.tenants[i].counts.resumes += 1;
                        } else {
                            self.tenants[i].counts.boots += 1;
                        }
                        let waited = self.tenants[i].buffer.len();
                        self.attach(i, at, false);
                        self.say(&format!(
                            "tenant '{name}': {} on its port, {waited} buffered frames delivered",
                            if resumed { "resumed" } else { "booted" }
                        ));
                    }
                    Err(e) => {
                        let t = &mut self.tenants[i];
                        t.phase = Phase::Failed(e.clone());
                        if !resumed {
                            t.failed_boots += 1;
                        }
                        if !resumed && t.failed_boots < BOOT_ATTEMPTS {
                            let wait = boot_retry_delay(t.failed_boots);
                            t.retry_at = Some(Instant::now() + wait);
                            let (n, held) = (t.failed_boots, t.buffer.len());
                            self.say(&format!(
                                "tenant '{name}': boot {n} of {BOOT_ATTEMPTS} failed: {e}; trying again in {} s, holding {held} frames",
                                wait.as_secs()
                            ));
                        } else {
                            let (n, held) = (t.failed_boots, t.buffer.len());
                            t.counts.buffer_drops += held as u64;
                            t.buffer.clear();
                            // The next frame for it starts a new round of attempts.
                            t.failed_boots = 0;
                            t.retry_at = None;
                            if resumed {
                                self.say(&format!("tenant '{name}': resume failed: {e}; {held} held frames dropped"));
                            } else {
                                self.say(&format!(
                                    "tenant '{name}': boot {n} of {BOOT_ATTEMPTS} failed: {e}; giving up, {held} held frames dropped"
                                ));
                            }
                        }
                    }
                }
            }
            Done::Destroyed(name) => {
                let Some(i) = self.index_of(&name) else { return };
                if self.tenants[i].phase == Phase::Stopping {
                    self.tenants[i].phase = Phase::Stopped;
                    // Frames that came meanwhile boot it again.
                    if !self.tenants[i].buffer.is_empty() {
                        self.start(i);
                    }
                }
            }
            Done::Suspended(name, r) => {
                let Some(i) = self.index_of(&name) else { return };
                let t = &mut self.tenants[i];
                let Phase::Suspending(at) = t.phase.clone() else { return };
                match r {
                    Ok(()) => {
                        t.counts.suspends += 1;
                        t.phase = Phase::Suspended(at);
                        self.say(&format!("tenant '{name}': suspended"));
                    }
                    Err(e) => {
                        // Still running (or gone, which housekeeping sees);
                        // the next try waits another idle period, not a tick.
                        t.phase = Phase::Running(at);
                        t.last_active = Instant::now();
                        self.say(&format!("tenant '{name}': suspend failed: {e}"));
                    }
                }
                // Frames that came while it was being suspended wake it again.
                if !self.tenants[i].buffer.is_empty() {
                    self.start(i);
                }
            }
        }
        self.save();
    }

    /// Idle routers are suspended (stateless ones stopped); dead ones restarted.
    fn housekeeping(&mut self) {
        for i in 0..self.tenants.len() {
            let t = &mut self.tenants[i];
            if matches!(t.phase, Phase::Failed(_)) && t.retry_at.is_some_and(|at| at <= Instant::now()) {
                t.retry_at = None;
                self.start(i);
                continue;
            }
            let Phase::Running(at) = self.tenants[i].phase.clone() else { continue };
            let name = self.tenants[i].spec.tenant.name.clone();
            if !self.backend.alive(&at) {
                self.say(&format!("tenant '{name}': its router died; restarting it"));
                let t = &mut self.tenants[i];
                t.socket = None;
                t.phase = Phase::Stopped;
                t.counts.restarts += 1;
                self.start(i);
                continue;
            }
            if self.tenants[i].last_active.elapsed() < self.opts.idle {
                continue;
            }
            let t = &mut self.tenants[i];
            t.socket = None;
            if t.stateful {
                t.phase = Phase::Suspending(at.clone());
                let (spec, backend, tx) = (t.spec.clone(), self.backend.clone(), self.done_tx.clone());
                std::thread::spawn(move || {
                    let r = backend.suspend(&spec, &at);
                    let _ = tx.send(Done::Suspended(spec.tenant.name.clone(), r));
                });
            } else {
                // Off the dataplane's thread: an `xl destroy` takes seconds.
                let (spec, backend, tx) = (t.spec.clone(), self.backend.clone(), self.done_tx.clone());
                std::thread::spawn(move || {
                    let _ = backend.destroy(&spec, &at);
                    let _ = tx.send(Done::Destroyed(spec.tenant.name.clone()));
                });
                t.phase = Phase::Stopping;
                self.say(&format!("tenant '{name}': idle and stateless: stopped"));
                self.save();
            }
        }
    }

    /// Answer one control request: `add-tenant MANIFEST`, `remove-tenant NAME`,
    /// `status`, `stop`. The answer's first line is `ok` or `error`.
    pub fn request(&mut self, text: &str) -> String {
        let mut words = text.split_whitespace();
        match (words.next(), words.next()) {
            (Some("status"), None) => format!("ok\n{}", self.status()),
            (Some("stop"), None) => {
                self.stopping = true;
                "ok\n".into()
            }
            (Some("remove-tenant"), Some(name)) => match self.index_of(name) {
                Some(i) => {
                    let t = self.tenants.remove(i);
                    if let Phase::Running(a) | Phase::Suspended(a) | Phase::Suspending(a) = &t.phase {
                        let _ = self.backend.destroy(&t.spec, a);
                    }
                    self.reindex();
                    self.save();
                    format!("ok\ntenant '{name}' removed\n")
                }
                None => format!("error\nno tenant '{name}'\n"),
            },
            (Some("add-tenant"), Some(path)) => match self.add_from(Path::new(path)) {
                Ok(names) => format!("ok\nadded {}\n", names.join(", ")),
                Err(e) => format!("error\n{e}\n"),
            },
            _ => "error\nrequests: add-tenant MANIFEST | remove-tenant NAME | status | stop\n".into(),
        }
    }

    fn add_from(&mut self, path: &Path) -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let m = Manifest::parse(&text, &path.display().to_string(), dir).map_err(|e| e.join("\n"))?;
        // All or nothing: check every tenant before adding any.
        let mut bodies = Vec::new();
        for t in &m.tenants {
            bodies.push(
                std::fs::read_to_string(&t.config_path).map_err(|e| format!("{}: {e}", t.config_path.display()))?,
            );
        }
        let before = self.tenants.len();
        let mut names = Vec::new();
        for (t, body) in m.tenants.into_iter().zip(bodies) {
            names.push(t.name.clone());
            if let Err(e) = self.admit(t, body) {
                self.tenants.truncate(before);
                self.reindex();
                return Err(e);
            }
        }
        self.save();
        Ok(names)
    }

    pub fn status(&self) -> String {
        let mut s = format!(
            "{:<16} {:<10} {:>9} {:>9} {:>7} {:>8} {:>6} {:>7} {:>8}  {:<14} last activity\n",
            "tenant", "router", "pkts in", "pkts out", "drops", "tx drops", "boots", "resumes", "restarts", "where"
        );
        for t in &self.tenants {
            let c = &t.counts;
            s.push_str(&format!(
                "{:<16} {:<10} {:>9} {:>9} {:>7} {:>8} {:>6} {:>7} {:>8}  {:<14} {:.1} s ago{}\n",
                t.spec.tenant.name,
                t.phase.word(),
                c.packets_in,
                c.packets_out,
                c.buffer_drops,
                c.tx_drops,
                c.boots,
                c.resumes,
                c.restarts,
                match &t.phase {
                    Phase::Running(a) | Phase::Suspending(a) | Phase::Suspended(a) => a.handle.as_str(),
                    _ => "-",
                },
                t.last_active.elapsed().as_secs_f64(),
                match &t.phase {
                    Phase::Failed(e) => format!(" ({e})"),
                    _ => String::new(),
                }
            ));
        }
        s.push_str(&format!("unmatched frames: {} (at {})\n", self.unmatched, now_secs()));
        s
    }

    fn serve_control(&mut self) {
        while let Ok((mut conn, _)) = self.control.accept() {
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut req = String::new();
            if conn.read_to_string(&mut req).is_err() {
                continue;
            }
            let answer = self.request(&req);
            let _ = conn.write_all(answer.as_bytes());
        }
    }

    /// Run until a `stop` request (or `interrupted()`).
    pub fn run(&mut self, interrupted: &dyn Fn() -> bool) {
        let mut buf = vec![0u8; 65536];
        let mut last_housekeeping = Instant::now();
        self.say(&format!(
            "oxclick platform: uplink {}, {} backend, {} tenants, control socket {}",
            self.opts.uplink,
            self.backend.name(),
            self.tenants.len(),
            self.opts.socket().display()
        ));
        while !self.stopping && !interrupted() {
            let mut fds = vec![
                libc::pollfd { fd: self.uplink.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: self.control.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            ];
            for t in &self.tenants {
                if let Some(s) = &t.socket {
                    fds.push(libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 });
                }
            }
            // SAFETY: `fds` is a valid array of pollfd for its length.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20) };
            for _ in 0..1024 {
                let Some((n, dir)) = self.uplink.recv(&mut buf) else { break };
                if dir != Direction::Outgoing {
                    self.handle_uplink_frame(&buf[..n]);
                }
            }
            self.forward_tenant_frames(&mut buf);
            while let Ok(d) = self.done_rx.try_recv() {
                self.finished(d);
            }
            self.serve_control();
            if last_housekeeping.elapsed() >= Duration::from_millis(200) {
                last_housekeeping = Instant::now();
                self.housekeeping();
            }
        }
        self.save();
    }
}

/// Send one request to a running daemon and return its answer.
pub fn call(socket: &Path, request: &str) -> Result<String, String> {
    let mut s = UnixStream::connect(socket)
        .map_err(|e| format!("{}: {e} (is `oxclick platform run` running with this --state?)", socket.display()))?;
    // A daemon that cannot answer in a minute is stuck; say so rather than hang.
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    s.shutdown(std::net::Shutdown::Write).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer)
}
