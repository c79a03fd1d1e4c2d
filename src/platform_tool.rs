//! `oxclick platform`: the In-Net platform daemon and the commands that talk to it
//! (the `oxclick-platform` crate does the work).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};
use oxclick_platform::{Options, Platform, call, process::ProcessBackend, xl::XlBackend};

#[derive(Parser, Debug)]
#[command(
    name = "oxclick platform",
    about = "The In-Net platform: boot tenants' routers on their first packet, suspend them when idle",
    after_help = "\
Tenants are described as for `oxclick consolidate` (a TOML manifest of [[tenant]]
entries: name, addresses, flows, config, trust, memory). Each gets its own router,
booted when the first packet for one of its addresses arrives on the uplink; the
packets wait (up to --buffer) until it takes frames, then go in order; a boot that
fails is tried twice more, 1 s and 2 s later, the packets still held. A router
idle for --idle is suspended (its state kept) if it keeps per-flow state, else
stopped; the next packet resumes or boots it. A router that dies is restarted.
State lives in --state (tenants, registrations, where routers are), so the daemon
can be restarted without losing anything.

Examples:
  oxclick platform run --uplink eth1 --backend xl         in dom0: tenants are Xen guests
  oxclick platform run --uplink veth0 --backend process   without Xen: host processes
  oxclick platform add-tenant tenants.toml
  oxclick platform status
  oxclick platform remove-tenant alice"
)]
struct PlatformArgs {
    /// The daemon's state directory (its control socket is in it).
    #[arg(long, global = true, default_value = "/var/lib/oxclick-platform", value_name = "DIR")]
    state: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the daemon (until `oxclick platform stop` or Ctrl-C).
    Run {
        /// The network interface tenants' traffic comes in on and leaves by.
        #[arg(long, value_name = "IFACE")]
        uplink: String,
        /// What runs tenants' routers: `xl` (oxclick Xen guests, in dom0) or
        /// `process` (host processes on veth pairs).
        #[arg(long, default_value = "process")]
        backend: String,
        /// Memory of each tenant's guest, in MB (xl backend).
        #[arg(long, default_value_t = 8, value_name = "MB")]
        memory: u32,
        /// Suspend (or stop) a router after this many seconds without traffic.
        #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
        idle: f64,
        /// Frames held per tenant while its router starts.
        #[arg(long, default_value_t = 1024, value_name = "FRAMES")]
        buffer: usize,
        /// Routers booted or resumed at once; more wait their turn (dom0's tools
        /// slow each other down when many run together).
        #[arg(long, default_value_t = 4, value_name = "N")]
        starts: usize,
    },
    /// Register the tenants of a manifest (all or none).
    AddTenant {
        #[arg(value_name = "MANIFEST")]
        manifest: PathBuf,
    },
    /// Stop a tenant's router and forget the tenant.
    RemoveTenant {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Per tenant: router state, packets, drops, boots, resumes, restarts, last activity.
    Status,
    /// Stop the daemon (routers keep running; a new daemon picks them up).
    Stop,
}

pub fn platform_main(args: Vec<OsString>) -> i32 {
    let a: PlatformArgs = match crate::parse_args(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let socket = a.state.join("platform.sock");
    let request = match a.command {
        Cmd::Run { uplink, backend, idle, buffer, memory, starts } => {
            return run(a.state, uplink, &backend, idle, buffer, memory, starts);
        }
        Cmd::AddTenant { manifest } => {
            let path = std::path::absolute(&manifest).unwrap_or(manifest);
            format!("add-tenant {}", path.display())
        }
        Cmd::RemoveTenant { name } => format!("remove-tenant {name}"),
        Cmd::Status => "status".into(),
        Cmd::Stop => "stop".into(),
    };
    match call(&socket, &request) {
        Ok(answer) => {
            let (first, rest) = answer.split_once('\n').unwrap_or((&answer, ""));
            if first == "ok" {
                print!("{rest}");
                0
            } else {
                eprint!("oxclick platform: {rest}");
                1
            }
        }
        Err(e) => {
            eprintln!("oxclick platform: {e}");
            1
        }
    }
}

fn run(state: PathBuf, uplink: String, backend: &str, idle: f64, buffer: usize, memory: u32, starts: usize) -> i32 {
    let me = match std::env::current_exe() {
        Ok(me) => me,
        Err(e) => {
            eprintln!("oxclick platform: cannot find my own executable: {e}");
            return 1;
        }
    };
    let backend: Arc<dyn oxclick_platform::Backend> = match backend {
        "process" => Arc::new(ProcessBackend::new(me)),
        "xl" => match XlBackend::new(me, &state, memory) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                eprintln!("oxclick platform: {e}");
                return 1;
            }
        },
        other => {
            eprintln!("oxclick platform: unknown backend '{other}' (xl or process)");
            return 1;
        }
    };
    if !(idle > 0.0 && idle.is_finite()) {
        eprintln!("oxclick platform: --idle must be a positive number of seconds");
        return 1;
    }
    if starts == 0 {
        eprintln!("oxclick platform: --starts must be at least 1");
        return 1;
    }
    let opts = Options { uplink, state_dir: state, idle: Duration::from_secs_f64(idle), buffer, starts };
    let log = Box::new(|line: &str| eprintln!("{line}"));
    let mut platform = match Platform::new(opts, backend, log) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("oxclick platform: {e}");
            return 1;
        }
    };
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    platform.run(&|| INTERRUPTED.load(Ordering::SeqCst));
    0
}
