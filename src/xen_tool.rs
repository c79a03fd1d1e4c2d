//! `oxclick image`, `oxclick boot` and `oxclick ctl`: configurations as Xen
//! guests, from dom0.
//!
//! `image` needs nothing but the guest ELF (`cargo xtask guest` builds it);
//! `boot` runs `xl create`, and then `boot` and `ctl` talk to xenstored
//! directly (see [`crate::dom0_xenstore`]) in ClickOS's xenstore layout (see
//! the guest library's `clickos` module), so ClickOS's tools can drive our
//! guests too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;

use crate::dom0_xenstore::Store;
use oxclick_images::ImageOptions;
use oxclick_unikernel::clickos::CHUNK;

/// The guest image's options, shared by `image` and `boot`.
#[derive(clap::Args, Debug)]
struct GuestArgs {
    /// The Click configuration to run in the guest.
    #[arg(value_name = "CONFIG.click")]
    config: PathBuf,
    /// The domain's name (default: the configuration file's stem).
    #[arg(long)]
    name: Option<String>,
    /// The domain's memory in MiB.
    #[arg(long, default_value_t = 8, value_name = "MB")]
    memory: u32,
    /// A network device, as an xl vif specification (`bridge=xenbr0`,
    /// `bridge=br1,mac=00:16:3e:00:00:01`); repeat for more. The first is
    /// FromNetfront(0)/ToNetfront(0). Default: one vif on xenbr0.
    #[arg(long = "vif", value_name = "SPEC")]
    vifs: Vec<String>,
    /// No network devices at all.
    #[arg(long, conflicts_with = "vifs")]
    no_vif: bool,
    /// Build the configuration into the image instead of installing it
    /// through xenstore at boot.
    #[arg(long)]
    embed: bool,
    /// The guest command line (xl `extra=`), e.g. `quiet-debugcon`.
    #[arg(long, value_name = "WORDS")]
    cmdline: Option<String>,
    /// Keep the domain if it crashes (xl on_crash="preserve"), for xenctx.
    #[arg(long)]
    preserve_on_crash: bool,
    /// Bring bridged vifs up with Xen's own vif-bridge hotplug script instead
    /// of oxclick's (written as oxclick-vif-bridge beside the xl
    /// configuration): vif-bridge also runs your site's iptables rules, and
    /// takes 100-300 ms a vif on hardware, seconds under emulation.
    #[arg(long)]
    stock_hotplug: bool,
    /// The guest ELF to start from (default: $OXCLICK_GUEST, or the one
    /// `cargo xtask guest` built in this source tree).
    #[arg(long, value_name = "PATH")]
    guest: Option<PathBuf>,
}

#[derive(Parser, Debug)]
#[command(
    name = "oxclick image",
    about = "Make a Xen guest image and xl configuration for a Click configuration",
    after_help = "\
The configuration is checked as the guest will build it (its element classes,
one network device per --vif) before anything is written. Bridged vifs are
brought up by oxclick-vif-bridge, written beside the xl configuration, which
runs `oxclick hotplug-vif` (one process where Xen's vif-bridge runs twenty);
--stock-hotplug keeps vif-bridge.

Examples:
  oxclick image mirror.click --embed -o mirror.elf
      mirror.elf runs mirror.click as soon as it boots; mirror.cfg boots it:
      xl create mirror.cfg
  oxclick image nat.click --vif bridge=xenbr0 --vif bridge=xenbr1 --memory 16
      nat.elf waits for its configuration in xenstore (oxclick ctl nat config nat.click)"
)]
struct ImageArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Where to write the guest ELF (default NAME.elf).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Where to write the xl configuration (default: the ELF's path with .cfg).
    #[arg(long = "xl", value_name = "FILE")]
    xl: Option<PathBuf>,
}

#[derive(Parser, Debug)]
#[command(
    name = "oxclick boot",
    about = "Boot a Click configuration as a Xen guest (xl create) and install it",
    after_help = "\
Run in dom0. Makes the image under --dir, runs `xl create`, installs the
configuration through xenstore (unless --embed) and waits until the router runs,
printing how long each step took. Configuration errors are printed as the guest
reports them, and the command fails.

Example:
  oxclick boot mirror.click --name mirror
  oxclick ctl mirror read c.count"
)]
struct BootArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Where the image and xl configuration go.
    #[arg(long, default_value = "/var/lib/oxclick", value_name = "DIR")]
    dir: PathBuf,
    /// Seconds to wait for the router to run.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    timeout: u64,
}

#[derive(Parser, Debug)]
#[command(
    name = "oxclick ctl",
    about = "Control the routers in a running oxclick (or ClickOS) guest through xenstore",
    after_help = "\
Commands:
  read ELEM.HANDLER          print a read handler (HANDLER alone: a router handler
                             such as list, config, flatconfig)
  write ELEM.HANDLER [VALUE] call a write handler (hotconfig takes a configuration)
  config                     print the installed configuration
  config FILE                install FILE (the running router is hot-swapped:
                             queues, tables and NAT mappings carry over)
  start | stop               set the router's status to Running / Halted
  status                     print the router's status (and errors, if any)

Examples:
  oxclick ctl mirror read c.count
  oxclick ctl mirror write c.reset
  oxclick ctl mirror config new-mirror.click"
)]
struct CtlArgs {
    /// The domain's name or id.
    domain: String,
    /// Router id within the guest (ClickOS's; 0 to 63).
    #[arg(long = "router", default_value_t = 0, value_name = "RID")]
    rid: u32,
    /// Seconds to wait for the guest's answer.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    timeout: u64,
    /// The command and its arguments.
    #[arg(required = true, num_args = 1.., value_name = "COMMAND")]
    command: Vec<String>,
}

impl GuestArgs {
    /// The domain's name: `--name`, else the configuration file's stem.
    fn domain_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.config.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "oxclick".into())
        })
    }
}

fn vif_specs(g: &GuestArgs) -> Vec<String> {
    if g.no_vif {
        Vec::new()
    } else if g.vifs.is_empty() {
        vec!["bridge=xenbr0".into()]
    } else {
        g.vifs.clone()
    }
}

/// Read the configuration, check it, and write the guest image and xl
/// configuration. Returns the configuration text.
fn make_image(g: &GuestArgs, elf_out: &Path, xl_out: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(&g.config).map_err(|e| format!("{}: {e}", g.config.display()))?;
    let filename = g.config.display().to_string();
    let vifs = vif_specs(g);
    oxclick_images::check_config(&text, &filename, vifs.len()).map_err(|errors| errors.join("\n"))?;
    // The hotplug script first: if this binary cannot start one, nothing is written.
    let vif_script = if g.stock_hotplug || vifs.is_empty() { None } else { Some(write_vif_script(xl_out)?) };
    let name = g.domain_name();
    let guest = oxclick_images::find_guest(g.guest.as_deref())?;
    let mut elf = std::fs::read(&guest).map_err(|e| format!("{}: {e}", guest.display()))?;
    if g.embed {
        oxclick_images::embed(&mut elf, &name, &text).map_err(|e| format!("{}: {e}", guest.display()))?;
    }
    std::fs::write(elf_out, &elf).map_err(|e| format!("{}: {e}", elf_out.display()))?;
    let kernel = elf_out.canonicalize().unwrap_or_else(|_| elf_out.to_path_buf());
    let opts = ImageOptions {
        name: name.clone(),
        memory_mb: g.memory,
        vifs,
        cmdline: g.cmdline.clone(),
        preserve_on_crash: g.preserve_on_crash,
        vif_script,
    };
    std::fs::write(xl_out, oxclick_images::xl_config(&kernel, &opts))
        .map_err(|e| format!("{}: {e}", xl_out.display()))?;
    Ok(text)
}

/// Write oxclick's vif hotplug script (see [`crate::hotplug_tool`]) beside xl
/// configuration `xl_out`, executable; its absolute path.
fn write_vif_script(xl_out: &Path) -> Result<PathBuf, String> {
    let dir = match xl_out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("where is this oxclick binary? {e}"))?;
    let text = crate::hotplug_tool::script(&exe).map_err(|e| format!("{e}; use --stock-hotplug"))?;
    let path = dir.join("oxclick-vif-bridge");
    oxclick_platform::hotplug_script::install(&path, &text)?;
    Ok(path)
}

pub fn image_main(args: Vec<OsString>) -> i32 {
    let a: ImageArgs = match crate::parse_args(args) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let name = a.guest.domain_name();
    let elf = a.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.elf")));
    let xl = a.xl.clone().unwrap_or_else(|| elf.with_extension("cfg"));
    match make_image(&a.guest, &elf, &xl) {
        Ok(_) => {
            let size = std::fs::metadata(&elf).map(|m| m.len()).unwrap_or(0);
            println!("{}: guest image for \"{name}\" ({} KiB)", elf.display(), size / 1024);
            println!("{}: xl configuration; boot with: xl create {}", xl.display(), xl.display());
            if !a.guest.embed {
                println!(
                    "install the configuration once it runs: oxclick ctl {name} config {}",
                    a.guest.config.display()
                );
            }
            0
        }
        Err(e) => {
            eprintln!("oxclick image: {e}");
            1
        }
    }
}

/// A guest's xenstore home from its name or id.
fn domain_home(xs: &mut Store, domain: &str) -> Result<String, String> {
    Ok(format!("/local/domain/{}", xs.domid(domain)?))
}

/// Write `text` as the configuration chunks of router `base` and set its
/// status, in one xenstore transaction.
fn install(xs: &mut Store, base: &str, name: &str, text: &str, status: Option<&str>) -> Result<(), String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let chunks = chunk_text(text);
    for (i, chunk) in chunks.iter().enumerate() {
        pairs.push((format!("{base}/config/{i}"), chunk.clone()));
    }
    pairs.push((format!("{base}/config_name"), name.to_string()));
    if let Some(s) = status {
        pairs.push((format!("{base}/status"), s.to_string()));
    }
    xs.write_all(&pairs)?;
    // Chunks left over from a longer configuration go after the new ones are in
    // place: a reader in between sees a configuration that fails to parse, and
    // the running router keeps going.
    let mut i = chunks.len();
    while xs.read(&format!("{base}/config/{i}"))?.is_some() {
        xs.rm(&format!("{base}/config/{i}"))?;
        i += 1;
    }
    Ok(())
}

/// `text` in ClickOS's 512-byte chunks, split on character boundaries.
fn chunk_text(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(CHUNK);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        chunks.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    chunks
}

/// Ask router `base` for handler `spec` (`elem/handler`), clearing any earlier
/// answer or error first; the nodes where the answer and the error will be.
fn request_read(xs: &mut Store, base: &str, spec: &str) -> Result<(String, String), String> {
    let answer = format!("{base}/elements/{spec}");
    let error = format!("{base}/control/errors/{spec}");
    xs.rm(&answer)?;
    xs.rm(&error)?;
    xs.write(&format!("{base}/control/read/{spec}"), "")?;
    Ok((answer, error))
}

/// Ask router `base` for handler `spec` (`elem/handler`), waiting up to `timeout`.
fn read_handler(xs: &mut Store, base: &str, spec: &str, timeout: Duration) -> Result<String, String> {
    let (answer, error) = request_read(xs, base, spec)?;
    let got = xs.wait_until(&[&answer, &error], timeout, |xs| {
        if let Some(v) = xs.read(&answer)? {
            return Ok(Some(Ok(v)));
        }
        Ok(xs.read(&error)?.map(Err))
    })?;
    got.unwrap_or_else(|| Err(format!("no answer from the guest within {} s", timeout.as_secs_f32())))
}

/// `elem.handler` as ClickOS's path form `elem/handler` (compound names keep their `/`).
fn handler_path(spec: &str) -> String {
    match spec.rsplit_once('.') {
        Some((e, h)) => format!("{e}/{h}"),
        None => spec.to_string(),
    }
}

/// How long `xl create` may take before we stop waiting for it (if the domain
/// exists by then, it goes on without xl's word).
const XL_CREATE_PATIENCE: Duration = Duration::from_secs(90);

/// Run `xl create` with its output in `log`, waiting at most [`XL_CREATE_PATIENCE`].
fn xl_create_once(path: &str, log: &Path) -> Result<(), String> {
    oxclick_platform::tool::run_logged(Path::new("xl"), &["create", path], XL_CREATE_PATIENCE, log).map(drop)
}

/// `xl create` the domain of xl configuration `xl`, named `name`. Under
/// emulated Xen, xl itself has been seen to crash (a segfault or abort in libc)
/// before or after building the domain: a domain that exists is up, and one
/// that does not gets one more try.
fn xl_create(xl: &Path, name: &str) -> Result<(), String> {
    let path = xl.display().to_string();
    let log = xl.with_extension("xl.log");
    let mut last = String::new();
    for attempt in 1..=2 {
        match xl_create_once(&path, &log) {
            Ok(()) => return Ok(()),
            Err(e) if Store::open().and_then(|mut xs| xs.domid(name)).is_ok() => {
                eprintln!("oxclick boot: warning: {e}; the domain exists, going on");
                return Ok(());
            }
            Err(e) => {
                if attempt == 1 {
                    eprintln!("oxclick boot: warning: {e}; trying once more");
                }
                last = e;
            }
        }
    }
    Err(last)
}

pub fn boot_main(args: Vec<OsString>) -> i32 {
    let a: BootArgs = match crate::parse_args(args) {
        Ok(a) => a,
        Err(c) => return c,
    };
    match boot(&a) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("oxclick boot: {e}");
            1
        }
    }
}

fn boot(a: &BootArgs) -> Result<(), String> {
    std::fs::create_dir_all(&a.dir).map_err(|e| format!("{}: {e}", a.dir.display()))?;
    let name = a.guest.domain_name();
    let elf = a.dir.join(format!("{name}.elf"));
    let xl = elf.with_extension("cfg");
    let text = make_image(&a.guest, &elf, &xl)?;
    let started = Instant::now();
    xl_create(&xl, &name)?;
    let created = started.elapsed();
    println!("{name}: xl create took {} ms", created.as_millis());
    let mut xs = Store::open()?;
    let domid = xs.domid(&name)?;
    println!("{name}: domain {domid}");
    let base = format!("/local/domain/{domid}/data/clickos/0");
    if !a.guest.embed {
        install(&mut xs, &base, &name, &text, Some("Running"))?;
        println!("{name}: configuration installed {} ms after xl create started", started.elapsed().as_millis());
    }
    let timeout = Duration::from_secs(a.timeout);
    // The router answers handler reads once it runs. A request that comes
    // before the router is built gets "not running": ask again when anything
    // under the router's node changes.
    let status = format!("{base}/status");
    let (answer, error) = request_read(&mut xs, &base, "list")?;
    let running = xs.wait_until(&[&base], timeout, |xs| {
        if xs.read(&status)?.as_deref().map(str::trim) == Some("Error") {
            let errors = xs.read(&format!("{base}/errors"))?.unwrap_or_default();
            return Err(format!("{name}: the guest refused the configuration:\n{errors}"));
        }
        if xs.read(&answer)?.is_some() {
            return Ok(Some(()));
        }
        if xs.read(&error)?.is_some() {
            request_read(xs, &base, "list")?;
        }
        Ok(None)
    })?;
    if running.is_none() {
        return Err(format!(
            "{name}: the router did not start within {} s (see xl dmesg / its console log)",
            a.timeout
        ));
    }
    println!("{name}: router running {} ms after xl create started", started.elapsed().as_millis());
    Ok(())
}

pub fn ctl_main(args: Vec<OsString>) -> i32 {
    let a: CtlArgs = match crate::parse_args(args) {
        Ok(a) => a,
        Err(c) => return c,
    };
    match ctl(&a) {
        Ok(out) => {
            if !out.is_empty() {
                println!("{}", out.trim_end_matches('\n'));
            }
            0
        }
        Err(e) => {
            eprintln!("oxclick ctl: {e}");
            1
        }
    }
}

fn ctl(a: &CtlArgs) -> Result<String, String> {
    let mut xs = Store::open()?;
    let xs = &mut xs;
    let home = domain_home(xs, &a.domain)?;
    let base = format!("{home}/data/clickos/{}", a.rid);
    let timeout = Duration::from_secs(a.timeout);
    let words: Vec<&str> = a.command.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["read", spec] => read_handler(xs, &base, &handler_path(spec), timeout),
        ["write", spec, value @ ..] => {
            let path = handler_path(spec);
            let error = format!("{base}/control/errors/{path}");
            xs.rm(&error)?;
            xs.write(&format!("{base}/elements/{path}"), &value.join(" "))?;
            // The guest handles requests in order: once a later read is
            // answered, the write has been made.
            read_handler(xs, &base, "list", timeout)?;
            match xs.read(&error)? {
                Some(e) => Err(format!("{spec}: {e}")),
                None => Ok(String::new()),
            }
        }
        ["config"] => {
            let mut text = String::new();
            for i in 0.. {
                match xs.read(&format!("{base}/config/{i}"))? {
                    Some(chunk) => text.push_str(&chunk),
                    None => break,
                }
            }
            Ok(text)
        }
        ["config", file] => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let running = xs.read(&format!("{base}/status"))?.as_deref().map(str::trim) == Some("Running");
            xs.rm(&format!("{base}/errors"))?;
            let name = Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            install(xs, &base, &name, &text, (!running).then_some("Running"))?;
            // Wait for the guest to take it (or say why not).
            let start = Instant::now();
            loop {
                if let Some(e) = xs.read(&format!("{base}/errors"))? {
                    return Err(format!("the guest refused {file}:\n{e}"));
                }
                if let Ok(config) = read_handler(xs, &base, "config", Duration::from_millis(500))
                    && config == text
                {
                    return Ok(String::new());
                }
                if start.elapsed() > timeout {
                    return Err(format!("the guest did not take {file} within {} s", a.timeout));
                }
                // The old configuration still runs: give the guest a moment.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        ["start"] => xs.write(&format!("{base}/status"), "Running").map(|_| String::new()),
        ["stop"] => xs.write(&format!("{base}/status"), "Halted").map(|_| String::new()),
        ["status"] => {
            let status =
                xs.read(&format!("{base}/status"))?.ok_or_else(|| format!("no router {} in {}", a.rid, a.domain))?;
            match xs.read(&format!("{base}/errors"))? {
                Some(e) if !e.is_empty() => Ok(format!("{status}\n{e}")),
                _ => Ok(status),
            }
        }
        _ => Err(format!("unknown command '{}' (see oxclick ctl --help)", a.command.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_clickos_size_and_utf8() {
        let text = format!("{}é{}", "a".repeat(CHUNK - 1), "b".repeat(CHUNK));
        let chunks = chunk_text(&text);
        assert_eq!(chunks.concat(), text);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks[0].len(), CHUNK - 1);
        assert!(chunk_text("").is_empty());
    }

    #[test]
    fn handler_reads_get_the_guests_answer_or_its_error() {
        use crate::dom0_xenstore::{Dom0Transport, test_daemon};
        let base = "/local/domain/3/data/clickos/0";
        let guest = Box::new(move |path: &str| {
            let Some(spec) = path.strip_prefix(&format!("{base}/control/read/")) else { return vec![] };
            match spec {
                "c/count" => vec![(format!("{base}/elements/c/count"), "1000".to_string())],
                _ => vec![(format!("{base}/control/errors/{spec}"), format!("no element '{spec}'"))],
            }
        });
        // A stale answer from an earlier read must not be taken for this one's.
        let tree = [(format!("{base}/elements/c/count"), "7".to_string())].into_iter().collect();
        let path = test_daemon::spawn(tree, guest);
        let mut xs = Store::over(Dom0Transport::connect_socket(path.to_str().unwrap()).unwrap());
        assert_eq!(read_handler(&mut xs, base, "c/count", Duration::from_secs(5)), Ok("1000".to_string()));
        assert_eq!(read_handler(&mut xs, base, "d/count", Duration::from_secs(5)), Err("no element 'd/count'".into()));
        install(&mut xs, base, "big", &"x".repeat(3 * CHUNK), Some("Running")).unwrap();
        install(&mut xs, base, "small", "Idle -> Discard;", None).unwrap();
        assert_eq!(xs.read(&format!("{base}/config/0")).unwrap().as_deref(), Some("Idle -> Discard;"));
        assert_eq!(xs.read(&format!("{base}/config/1")).unwrap(), None, "a longer configuration's chunks stay");
        assert_eq!(xs.read(&format!("{base}/status")).unwrap().as_deref(), Some("Running"));
    }

    #[test]
    fn handler_specs_become_clickos_paths() {
        assert_eq!(handler_path("c.count"), "c/count");
        assert_eq!(handler_path("a/b.count"), "a/b/count");
        assert_eq!(handler_path("list"), "list");
    }
}
