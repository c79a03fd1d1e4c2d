//! The `process` backend: each tenant's router is an `oxclick` process on the host,
//! reached through a veth pair (the daemon owns one end, the router's
//! FromDevice/ToDevice the other). Suspend is SIGSTOP and resume SIGCONT, so a
//! suspended router keeps every byte of its state, as `xl save`/`xl restore` does
//! for a guest. It lets the daemon's logic be tested quickly, without Xen.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use crate::backend::{Attached, Backend, StartSpec};

pub struct ProcessBackend {
    /// The oxclick binary that runs routers.
    pub oxclick: PathBuf,
    /// Children not yet reaped, so a crash is noticed (and zombies do not pile up).
    children: Mutex<Vec<std::process::Child>>,
}

/// How long a router may take to come up.
const BOOT_TIMEOUT: Duration = Duration::from_secs(20);

impl ProcessBackend {
    pub fn new(oxclick: PathBuf) -> ProcessBackend {
        ProcessBackend { oxclick, children: Mutex::new(Vec::new()) }
    }
}

/// The two ends of a tenant's veth pair: the daemon's and the router's. Interface
/// names have at most 15 bytes, so they come from a short hash of the tenant name.
pub fn veth_names(tenant: &str) -> (String, String) {
    let mut h: u32 = 2166136261;
    for b in tenant.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    (format!("oxp{h:08x}"), format!("oxt{h:08x}"))
}

fn ip(args: &str) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .map_err(|e| format!("ip {args}: {e} (is iproute2 installed?)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {args}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn signal(handle: &str, sig: i32) -> Result<(), String> {
    let pid: i32 = handle.parse().map_err(|_| format!("not a process id: '{handle}'"))?;
    // SAFETY: kill(2) with a pid we started and a valid signal number.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(format!("process {pid}: {}", std::io::Error::last_os_error()))
    }
}

impl Backend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    fn io_elements(&self, tenant: &str) -> (String, String) {
        let (_, theirs) = veth_names(tenant);
        (format!("FromDevice({theirs})"), format!("ToDevice({theirs})"))
    }

    fn boot(&self, spec: &StartSpec) -> Result<Attached, String> {
        let (ours, theirs) = veth_names(&spec.tenant.name);
        let _ = ip(&format!("link del {ours}"));
        ip(&format!("link add {ours} type veth peer name {theirs}"))?;
        // No IPv6 chatter (router solicitations) from the kernel on either end:
        // the daemon would count it as frames the tenant may not send.
        for end in [&ours, &theirs] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{end}/disable_ipv6"), "1");
        }
        ip(&format!("link set {ours} up"))?;
        ip(&format!("link set {theirs} up"))?;
        std::fs::create_dir_all(&spec.dir).map_err(|e| format!("{}: {e}", spec.dir.display()))?;
        let config = spec.dir.join("router.click");
        // The router says when its devices are open: a Script runs once every
        // element has initialized.
        let text = format!("{}\nScript(print \"oxclick-platform-ready\");\n", spec.config);
        std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
        let log = std::fs::File::create(spec.dir.join("router.log")).map_err(|e| e.to_string())?;
        // Its own process group: a Ctrl-C meant for the daemon must not stop the
        // routers (a daemon restart loses nothing).
        let mut child = Command::new(&self.oxclick)
            .process_group(0)
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.oxclick.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        // Read its output to the end (it must not block on a full pipe); say
        // whether it came up, or that it ended first.
        std::thread::spawn(move || {
            let mut ready = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !ready && line.trim() == "oxclick-platform-ready" {
                    ready = true;
                    let _ = tx.send(true);
                }
            }
            if !ready {
                let _ = tx.send(false);
            }
        });
        let pid = child.id();
        self.children.lock().map_err(|_| "backend lock poisoned")?.push(child);
        match rx.recv_timeout(BOOT_TIMEOUT) {
            Ok(true) => Ok(Attached { port: ours, handle: pid.to_string() }),
            _ => {
                let log = std::fs::read_to_string(spec.dir.join("router.log")).unwrap_or_default();
                let _ = signal(&pid.to_string(), libc::SIGKILL);
                Err(format!("tenant '{}': the router did not come up: {}", spec.tenant.name, log.trim()))
            }
        }
    }

    fn suspend(&self, _spec: &StartSpec, at: &Attached) -> Result<(), String> {
        signal(&at.handle, libc::SIGSTOP)
    }

    fn resume(&self, _spec: &StartSpec, at: &Attached) -> Result<Attached, String> {
        signal(&at.handle, libc::SIGCONT)?;
        Ok(at.clone())
    }

    fn destroy(&self, spec: &StartSpec, at: &Attached) -> Result<(), String> {
        let _ = signal(&at.handle, libc::SIGCONT);
        let _ = signal(&at.handle, libc::SIGTERM);
        let _ = ip(&format!("link del {}", veth_names(&spec.tenant.name).0));
        Ok(())
    }

    fn alive(&self, at: &Attached) -> bool {
        let Ok(pid) = at.handle.parse::<u32>() else { return false };
        let Ok(mut children) = self.children.lock() else { return false };
        if let Some(k) = children.iter().position(|c| c.id() == pid) {
            match children[k].try_wait() {
                Ok(None) => return true,
                _ => {
                    // Exited (try_wait reaped it) or unreadable: gone either way.
                    let mut gone = children.remove(k);
                    let _ = gone.wait();
                    return false;
                }
            }
        }
        // Not our child (the daemon restarted): ask the kernel.
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        unsafe { libc::kill(pid as i32, 0) == 0 }
    }
}
