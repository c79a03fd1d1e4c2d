//! `cargo xtask`: project tasks that are more than one cargo command.

mod bench;
mod clicktest;
mod xen_e2e;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

const HELP: &str = "\
usage: cargo xtask <task> [options]

tasks:
  test                     everything CI runs: `cargo test --workspace`, then Click's
                           conformance tests from ../shared/clicktests (tests listed in
                           tests/clicktests.pass must pass; others report XFAIL), then
                           xen-e2e when run as root (OXCLICK_SKIP_XEN_E2E=1 skips it)
  bench [CASE...]          release-build speed and memory figures (see bench --help)
  guest                    build the Xen guest ELF (what `oxclick image` starts from)
  xen-e2e                  oxclick guests under real Xen (Xen + dom0 under QEMU; see
                           xen-e2e --help); needs root the first time
  clicktest [PATH...]      run .clicktest files (default ../shared/clicktests)
      --bin PATH           use this oxclick binary instead of building one
      --release            build oxclick in release mode
      --expect FILE        only tests named in FILE must pass (one name per line)
      --timeout SECS       per-test time limit (default 60)
      -v, --verbose        show why expected failures fail
      --keep               keep each test's directory and print its path

A clicktest's %script runs under `sh -e` with `click`, `click-flatten` and
`click-buildtool` resolving to oxclick, which acts on the name it runs under.";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn build_oxclick(release: bool) -> Result<PathBuf, String> {
    let root = workspace_root();
    let mut cmd = cargo();
    cmd.current_dir(&root).args(["build", "--quiet", "-p", "oxclick", "--bin", "oxclick"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building oxclick failed".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    Ok(target.join(if release { "release" } else { "debug" }).join("oxclick"))
}

fn read_expect_file(path: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// The conformance suite beside the repository, if this machine has it.
fn default_suite() -> Option<PathBuf> {
    let p = workspace_root().join("../shared/clicktests");
    p.is_dir().then(|| p.canonicalize().unwrap_or(p))
}

fn clicktest(args: &[String]) -> Result<bool, String> {
    let mut bin = None;
    let mut release = false;
    let mut expect = None;
    let mut verbose = false;
    let mut keep = false;
    let mut timeout = 60u64;
    let mut paths = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bin" => bin = Some(PathBuf::from(it.next().ok_or("--bin needs a path")?)),
            "--release" => release = true,
            "--expect" => expect = Some(PathBuf::from(it.next().ok_or("--expect needs a file")?)),
            "--timeout" => {
                timeout = it.next().and_then(|s| s.parse().ok()).ok_or("--timeout needs a number of seconds")?
            }
            "-v" | "--verbose" => verbose = true,
            "--keep" => keep = true,
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(true);
            }
            s if s.starts_with('-') => return Err(format!("clicktest: unknown option '{s}'\n\n{HELP}")),
            p => paths.push(PathBuf::from(p)),
        }
    }
    if paths.is_empty() {
        match default_suite() {
            Some(p) => paths.push(p),
            None => {
                println!(
                    "clicktest: ../shared/clicktests is not on this machine; Click's conformance tests were not run"
                );
                return Ok(true);
            }
        }
    }
    let bin = match bin {
        Some(b) => b,
        None => build_oxclick(release)?,
    };
    let bin = bin.canonicalize().map_err(|e| format!("{}: {e}", bin.display()))?;
    let expected_to_pass = expect.map(|p| read_expect_file(&p)).transpose()?;
    clicktest::run(&clicktest::Options {
        bin,
        paths,
        expected_to_pass,
        verbose,
        keep,
        timeout: Duration::from_secs(timeout),
    })
}

fn test(args: &[String]) -> Result<bool, String> {
    if let Some(a) = args.first() {
        return Err(format!("test: unexpected argument '{a}'"));
    }
    let root = workspace_root();
    println!("== cargo test --workspace");
    let status = cargo()
        .current_dir(&root)
        .args(["test", "--workspace"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let unit_ok = status.success();
    println!("== Click's conformance tests");
    let expect = root.join("tests/clicktests.pass");
    let suite_ok = clicktest(&["--expect".into(), expect.to_string_lossy().into_owned()])?;
    println!("== oxclick guests under real Xen (cargo xtask xen-e2e)");
    let xen_ok = if std::env::var_os("OXCLICK_SKIP_XEN_E2E").is_some() {
        println!("skipped: OXCLICK_SKIP_XEN_E2E is set");
        true
    } else if !xen_e2e::is_root() {
        println!("skipped: needs root (apt-get, debootstrap); CI runs it as root");
        true
    } else {
        xen_e2e::main(&[])?
    };
    if !unit_ok {
        println!("cargo test --workspace failed (see above)");
    }
    Ok(unit_ok && suite_ok && xen_ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("clicktest") => clicktest(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("xen-e2e") => xen_e2e::main(&args[1..]),
        Some("guest") => xen_e2e::guest_main(),
        Some("-h" | "--help" | "help") | None => {
            println!("{HELP}");
            Ok(true)
        }
        Some(other) => Err(format!("unknown task '{other}'\n\n{HELP}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
