//! `oxclick image`, `oxclick boot` and `oxclick ctl`: configurations as Xen
//! guests, from dom0.
//!
//! `image` needs nothing but the guest ELF (`cargo xtask guest` builds it);
//! `boot` and `ctl` run Xen's own tools (`xl`, `xenstore-read`,
//! `xenstore-write`, `xenstore-rm`), so they work wherever an administrator's
//! shell does, and speak ClickOS's xenstore layout (see the guest library's
//! `clickos` module), so ClickOS's tools can drive our guests too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
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
one network device per --vif) before anything is written.

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
    };
    std::fs::write(xl_out, oxclick_images::xl_config(&kernel, &opts))
        .map_err(|e| format!("{}: {e}", xl_out.display()))?;
    Ok(text)
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

/// Run a command; its standard output, or an error naming it and what it said.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("{program}: not found (run this in a Xen dom0 with xen-utils installed)")
        }
        _ => format!("{program}: {e}"),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("{program} {}: {}", args.join(" "), err.trim()))
    }
}

/// A guest's xenstore home from its name or id.
fn domain_home(domain: &str) -> Result<String, String> {
    let id = if domain.bytes().all(|b| b.is_ascii_digit()) {
        domain.to_string()
    } else {
        run("xl", &["domid", domain]).map_err(|_| format!("no domain named '{domain}'"))?.trim().to_string()
    };
    Ok(format!("/local/domain/{id}"))
}

/// A node's value, exactly (`-R`: raw, no escaping and no newline added).
fn xs_read(path: &str) -> Option<String> {
    run("xenstore-read", &["-R", path]).ok()
}

/// Write `path value` pairs in one transaction, raw (`-R`: backslashes stay).
fn xs_write(pairs: &[&str]) -> Result<(), String> {
    let mut args = vec!["-R"];
    args.extend_from_slice(pairs);
    run("xenstore-write", &args).map(drop)
}

/// Write `text` as the configuration chunks of router `base` and set its
/// status, in one xenstore transaction (one xenstore-write call).
fn install(base: &str, name: &str, text: &str, status: Option<&str>) -> Result<(), String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let chunks = chunk_text(text);
    for (i, chunk) in chunks.iter().enumerate() {
        pairs.push((format!("{base}/config/{i}"), chunk.clone()));
    }
    pairs.push((format!("{base}/config_name"), name.to_string()));
    if let Some(s) = status {
        pairs.push((format!("{base}/status"), s.to_string()));
    }
    let args: Vec<&str> = pairs.iter().flat_map(|(p, v)| [p.as_str(), v.as_str()]).collect();
    xs_write(&args)?;
    // Chunks left over from a longer configuration go after the new ones are in
    // place: a reader in between sees a configuration that fails to parse, and
    // the running router keeps going.
    let mut i = chunks.len();
    while xs_read(&format!("{base}/config/{i}")).is_some() {
        run("xenstore-rm", &[&format!("{base}/config/{i}")])?;
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

/// Ask router `base` for handler `spec` (`elem/handler`), waiting up to `timeout`.
fn read_handler(base: &str, spec: &str, timeout: Duration) -> Result<String, String> {
    let answer = format!("{base}/elements/{spec}");
    let error = format!("{base}/control/errors/{spec}");
    let _ = run("xenstore-rm", &[&answer]);
    let _ = run("xenstore-rm", &[&error]);
    xs_write(&[&format!("{base}/control/read/{spec}"), ""])?;
    let start = Instant::now();
    loop {
        if let Some(v) = xs_read(&answer) {
            return Ok(v);
        }
        if let Some(e) = xs_read(&error) {
            return Err(e);
        }
        if start.elapsed() > timeout {
            return Err(format!("no answer from the guest within {} s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `elem.handler` as ClickOS's path form `elem/handler` (compound names keep their `/`).
fn handler_path(spec: &str) -> String {
    match spec.rsplit_once('.') {
        Some((e, h)) => format!("{e}/{h}"),
        None => spec.to_string(),
    }
}

/// `xl create` the domain of xl configuration `xl`, named `name`. Under
/// emulated Xen, xl itself has been seen to crash (a segfault or abort in libc)
/// before or after building the domain: a domain that exists is up, and one
/// that does not gets one more try.
/// How long `xl create` may take before we stop waiting for it (if the domain
/// exists by then, it goes on without xl's word).
const XL_CREATE_PATIENCE: Duration = Duration::from_secs(90);

/// Run `xl create` with its output in `log`, waiting at most [`XL_CREATE_PATIENCE`].
fn xl_create_once(path: &str, log: &Path) -> Result<(), String> {
    oxclick_platform::tool::run_logged(Path::new("xl"), &["create", path], XL_CREATE_PATIENCE, log).map(drop)
}

fn xl_create(xl: &Path, name: &str) -> Result<(), String> {
    let path = xl.display().to_string();
    let log = xl.with_extension("xl.log");
    let mut last = String::new();
    for attempt in 1..=2 {
        match xl_create_once(&path, &log) {
            Ok(()) => return Ok(()),
            Err(e) if domain_home(name).is_ok() => {
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
    let base = format!("{}/data/clickos/0", domain_home(&name)?);
    if !a.guest.embed {
        install(&base, &name, &text, Some("Running"))?;
    }
    let timeout = Duration::from_secs(a.timeout);
    loop {
        if xs_read(&format!("{base}/status")).as_deref().map(str::trim) == Some("Error") {
            let errors = xs_read(&format!("{base}/errors")).unwrap_or_default();
            return Err(format!("{name}: the guest refused the configuration:\n{errors}"));
        }
        // The router answers handler reads once it runs.
        if read_handler(&base, "list", Duration::from_millis(500)).is_ok() {
            break;
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "{name}: the router did not start within {} s (see xl dmesg / its console log)",
                a.timeout
            ));
        }
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
    let home = domain_home(&a.domain)?;
    let base = format!("{home}/data/clickos/{}", a.rid);
    let timeout = Duration::from_secs(a.timeout);
    let words: Vec<&str> = a.command.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["read", spec] => read_handler(&base, &handler_path(spec), timeout),
        ["write", spec, value @ ..] => {
            let path = handler_path(spec);
            let error = format!("{base}/control/errors/{path}");
            let _ = run("xenstore-rm", &[&error]);
            xs_write(&[&format!("{base}/elements/{path}"), &value.join(" ")])?;
            // The guest handles requests in order: once a later read is
            // answered, the write has been made.
            read_handler(&base, "list", timeout)?;
            match xs_read(&error) {
                Some(e) => Err(format!("{spec}: {e}")),
                None => Ok(String::new()),
            }
        }
        ["config"] => {
            let mut text = String::new();
            for i in 0.. {
                match xs_read(&format!("{base}/config/{i}")) {
                    Some(chunk) => text.push_str(&chunk),
                    None => break,
                }
            }
            Ok(text)
        }
        ["config", file] => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let running = xs_read(&format!("{base}/status")).as_deref().map(str::trim) == Some("Running");
            let _ = run("xenstore-rm", &[&format!("{base}/errors")]);
            let name = Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            install(&base, &name, &text, (!running).then_some("Running"))?;
            // Wait for the guest to take it (or say why not).
            let start = Instant::now();
            loop {
                if let Some(e) = xs_read(&format!("{base}/errors")) {
                    return Err(format!("the guest refused {file}:\n{e}"));
                }
                if let Ok(config) = read_handler(&base, "config", Duration::from_millis(500))
                    && config == text
                {
                    return Ok(String::new());
                }
                if start.elapsed() > timeout {
                    return Err(format!("the guest did not take {file} within {} s", a.timeout));
                }
            }
        }
        ["start"] => xs_write(&[&format!("{base}/status"), "Running"]).map(|_| String::new()),
        ["stop"] => xs_write(&[&format!("{base}/status"), "Halted"]).map(|_| String::new()),
        ["status"] => {
            let status =
                xs_read(&format!("{base}/status")).ok_or_else(|| format!("no router {} in {}", a.rid, a.domain))?;
            match xs_read(&format!("{base}/errors")) {
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
    fn handler_specs_become_clickos_paths() {
        assert_eq!(handler_path("c.count"), "c/count");
        assert_eq!(handler_path("a/b.count"), "a/b/count");
        assert_eq!(handler_path("list"), "list");
    }
}
