//! Driver mode: run a flattened router on the host (Click's userlevel `click`).
//!
//! `main.rs` reads and flattens the configuration, prints language errors, then hands
//! over here: build the router (Click's checks), initialize it, write `-o` output, run
//! it unless `-q`, and print `-h` handlers.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxclick_lang::flat::FlatConfig;
use oxclick_runtime::{Clock, Registry, Router, RouterOptions, SimClock};

/// What `main.rs` hands the driver.
#[derive(Clone, Debug, Default)]
pub struct DriverOptions {
    /// `-h ELEM.HANDLER` arguments, in command-line order.
    pub handlers: Vec<String>,
    /// The text the router-wide `config` handler returns (the original configuration,
    /// or the flat one under `require(compact_config)`).
    pub config_text: String,
    /// The flat configuration as Click prints it (`flatconfig` handler, `-o`).
    pub flat_text: String,
    /// `-o FILE`: write `flat_text` there after the router initializes (`-` = stdout).
    pub output: Option<String>,
    /// `-q`: initialize, write output, call handlers, but do not run.
    pub quit: bool,
    /// `--simtime`: deterministic simulated time.
    pub simtime: bool,
    /// `--no-lane-fusion`: run every element by itself, never as a lane of a
    /// group (see `oxclick_runtime::lanes`).
    pub no_lane_fusion: bool,
}

/// Is `name` a primitive element class? The language uses this to tell undeclared
/// element names from anonymous elements, as Click does.
pub fn is_element_class(name: &str) -> bool {
    library().contains(name)
}

/// Can a router built here contain an element of class `name` (what
/// `click-buildtool provides` answers)?
pub fn provides_class(name: &str) -> bool {
    library().contains(name)
}

/// The element library's registry, built once (class lookups happen per element
/// while a configuration is read).
fn library() -> &'static Registry {
    static LIBRARY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(oxclick_elements::registry)
}

fn registry() -> Registry {
    library().clone()
}

/// Wall-clock time (nanoseconds since the Unix epoch, like Click's timestamps, so
/// packet timestamps from traces and from the clock compare), advanced by a
/// monotonic clock so it never steps back.
struct HostClock {
    start: Instant,
    start_wall: u64,
}

impl HostClock {
    fn new() -> HostClock {
        let wall =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        HostClock { start: Instant::now(), start_wall: wall }
    }
}

impl Clock for HostClock {
    fn now(&mut self) -> u64 {
        self.start_wall.saturating_add(self.start.elapsed().as_nanos() as u64)
    }
    fn sleep_until(&mut self, t: u64) {
        let now = self.now();
        if t > now {
            std::thread::sleep(Duration::from_nanos((t - now).min(10_000_000)));
        }
    }
}

fn build(flat: &FlatConfig, opts: &mut DriverOptions) -> Result<Router, Vec<String>> {
    let clock: Box<dyn Clock> = if opts.simtime { Box::new(SimClock::default()) } else { Box::new(HostClock::new()) };
    let ropts = RouterOptions {
        config_text: std::mem::take(&mut opts.config_text),
        flat_text: std::mem::take(&mut opts.flat_text),
        console: Box::new(|line: &str| {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{line}");
        }),
        output: Box::new(|line: &str| {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{line}");
        }),
        clock,
        devices: Vec::new(),
        fuse_lanes: !opts.no_lane_fusion,
    };
    Router::new(flat, library(), ropts)
}

/// An element of a class the library lacks, for `check`: any ports, agnostic, any
/// configuration, so the rest of the router can still be checked around it.
struct Unchecked;

impl oxclick_runtime::Element for Unchecked {
    fn class_name(&self) -> &'static str {
        UNCHECKED_CLASS
    }
    fn port_count(&self) -> &'static str {
        "-/-"
    }
    fn port_flow(&self, _input: usize, _output: usize) -> bool {
        false
    }
    fn configure(
        &mut self,
        _config: &str,
        _cx: &oxclick_runtime::ConfigCtx,
    ) -> Result<(), oxclick_runtime::ConfigErrors> {
        Ok(())
    }
}

const UNCHECKED_CLASS: &str = "<not in the element library>";

/// What `oxclick check` found beyond the language.
pub struct CheckReport {
    /// Click's router errors (`FILE:LINE: message`).
    pub errors: Vec<String>,
    /// Classes the library does not have, with the landmark of their first use.
    pub unknown_classes: Vec<(String, String)>,
}

/// Click's router checks (and configuration) without running anything. Elements of
/// classes the library lacks are stood in for by a permissive placeholder, so the
/// rest is still checked; they are listed in the report.
pub fn check(flat: &FlatConfig) -> CheckReport {
    let mut reg = registry();
    let mut unknown_classes: Vec<(String, String)> = Vec::new();
    let mut flat = flat.clone();
    for e in &mut flat.elements {
        if !reg.contains(&e.class) {
            if !unknown_classes.iter().any(|(c, _)| *c == e.class) {
                unknown_classes.push((e.class.clone(), e.landmark.to_string()));
            }
            e.class = UNCHECKED_CLASS.into();
        }
    }
    reg.add(UNCHECKED_CLASS, || Box::new(Unchecked));
    // A guest configuration is checked as the guest would run it: with the vifs
    // its FromNetfront/ToNetfront elements name (how many a guest has is up to its
    // xl configuration, not the router).
    let vifs = flat
        .elements
        .iter()
        .filter(|e| e.class == "FromNetfront" || e.class == "ToNetfront")
        .filter_map(|e| {
            let first = oxclick_lang::args::split_args(&e.config).into_iter().next()?;
            oxclick_elements::from_netfront::parse_devid(&first)
        })
        .max()
        .map_or(0, |n| n.min(63) + 1);
    let ropts = RouterOptions::quiet(oxclick_runtime::DeviceInfo::placeholder_vifs(vifs));
    let errors = match Router::new(&flat, &reg, ropts) {
        Ok(_) => Vec::new(),
        Err(e) => e,
    };
    CheckReport { errors, unknown_classes }
}

/// Print `-h` handler results as Click's driver does: one handler prints just its
/// value; several print `NAME:` headers and a blank line after each. Returns whether
/// every handler existed.
fn call_read_handlers(router: &Router, handlers: &[String]) -> bool {
    let mut ok = true;
    let print_names = handlers.len() > 1;
    let mut out = std::io::stdout().lock();
    for h in handlers {
        let (targets, hname): (Vec<Option<usize>>, &str) = match h.rsplit_once('.') {
            None => (vec![None], h.as_str()),
            Some((elem, hname)) => match router.find(elem) {
                Some(i) => (vec![Some(i)], hname),
                None => {
                    let of_class = router.elements_of_class(elem);
                    if of_class.is_empty() {
                        eprintln!("no element '{elem}'");
                        ok = false;
                        continue;
                    }
                    (of_class.into_iter().map(Some).collect(), hname)
                }
            },
        };
        let several = print_names || targets.len() > 1;
        for t in targets {
            let full = match t {
                Some(i) => format!("{}.{hname}", router.element_name(i)),
                None => hname.to_string(),
            };
            match router.read_handler(t, hname) {
                Some(mut v) => {
                    if !v.is_empty() && !v.ends_with('\n') {
                        v.push('\n');
                    }
                    if several {
                        let _ = write!(out, "{full}:\n{v}\n");
                    } else {
                        let _ = write!(out, "{v}");
                    }
                }
                None => {
                    eprintln!("no '{full}' handler");
                    ok = false;
                }
            }
        }
    }
    let _ = out.flush();
    ok
}

/// Give the memory that reading and building the configuration needed back to the
/// system before the router runs (glibc keeps freed heap otherwise: for a router of
/// 10,000 tenants, tens of MB of syntax trees). With `OXCLICK_REPORT_PEAK_RSS` set,
/// report what stays resident: the router as it will run.
fn release_setup_memory() {
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    if std::env::var_os("OXCLICK_REPORT_PEAK_RSS").is_some()
        && let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmRSS:"))
    {
        let kb: String = line.chars().filter(char::is_ascii_digit).collect();
        eprintln!("oxclick-built-rss-kb {kb}");
    }
}

/// Build, check, initialize and run the router; print `-h` handlers afterwards.
/// Returns the process exit code. Errors are printed to stderr in Click's form.
pub fn run(flat: FlatConfig, mut opts: DriverOptions) -> i32 {
    // The texts move into the router, and the flat configuration goes once it is
    // built: what stays resident is the router.
    let mut router = match build(&flat, &mut opts) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return 1;
        }
    };
    let empty = flat.elements.is_empty();
    drop(flat);
    release_setup_memory();
    if let Some(path) = &opts.output
        && let Err(e) = crate::write_output(path, router.flat_text())
    {
        eprintln!("{e}");
        return 1;
    }
    if !opts.quit && !empty {
        // As in Click, the first SIGINT or SIGTERM stops the router and the handlers
        // are still reported; a second one ends the process.
        static INTERRUPTED: AtomicBool = AtomicBool::new(false);
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                std::process::exit(1);
            }
        });
        let started = Instant::now();
        router.run_until(&|| INTERRUPTED.load(Ordering::Relaxed));
        if std::env::var_os("OXCLICK_REPORT_PEAK_RSS").is_some() {
            // For `cargo xtask bench`: the time the router ran, without reading and
            // building the configuration.
            eprintln!("oxclick-run-seconds {:.6}", started.elapsed().as_secs_f64());
        }
    }
    if call_read_handlers(&router, &opts.handlers) { 0 } else { 1 }
}
