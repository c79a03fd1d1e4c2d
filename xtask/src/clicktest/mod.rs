//! `cargo xtask clicktest`: run Click's own `.clicktest` files against oxclick.
//!
//! Each test's `%script` runs under `sh -e` in a fresh directory holding its `%file`s,
//! with `click`, `click-flatten` and `click-buildtool` on `PATH` resolving to the
//! oxclick binary (it acts on the name it is run under). Outputs are compared with
//! the `%expect` sections by Click's rules (see [`compare`]).

pub mod compare;
pub mod format;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use format::Test;

/// The Click tool names the oxclick binary answers to.
const TOOL_NAMES: &[&str] = &["click", "click-flatten", "click-buildtool", "click-xform", "click-align"];

pub struct Options {
    /// The oxclick binary.
    pub bin: PathBuf,
    pub paths: Vec<PathBuf>,
    /// Tests (relative names like `tools/lexer-01`) that must pass; failures of others
    /// are reported as expected failures. `None`: every test must pass.
    pub expected_to_pass: Option<BTreeSet<String>>,
    pub verbose: bool,
    pub keep: bool,
    pub timeout: Duration,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// Every `.clicktest` under `path` (or `path` itself), sorted, with display names
/// relative to `root`.
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => return,
        };
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else if path.extension().is_some_and(|e| e == "clicktest") {
        out.push(path.to_path_buf());
    }
}

/// A test's name: `category/name` as Click's test tree names them (the file's
/// directory and stem), whatever path it was found under.
fn display_name(file: &Path) -> String {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match file.parent().and_then(|p| p.file_name()) {
        Some(dir) => format!("{}/{stem}", dir.to_string_lossy()),
        None => stem,
    }
}

fn make_tool_dir(bin: &Path) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("oxclick-clicktest-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for name in TOOL_NAMES {
        std::os::unix::fs::symlink(bin, dir.join(name)).map_err(|e| format!("symlink {name}: {e}"))?;
    }
    Ok(dir)
}

/// Run `sh -e script` in `dir` with a time limit; returns (success, stderr text).
fn run_sh(
    dir: &Path,
    script: &str,
    path_env: &str,
    stdin: Option<&Path>,
    timeout: Duration,
) -> Result<(bool, String), String> {
    let script_path = dir.join(".clicktest-script");
    std::fs::write(&script_path, script).map_err(|e| e.to_string())?;
    let stdout = std::fs::File::create(dir.join("stdout")).map_err(|e| e.to_string())?;
    let stderr = std::fs::File::create(dir.join("stderr")).map_err(|e| e.to_string())?;
    let stdin = match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).map_err(|e| e.to_string())?),
        None => Stdio::null(),
    };
    let status = Command::new("timeout")
        .arg("--kill-after=5")
        .arg(timeout.as_secs().max(1).to_string())
        .arg("sh")
        .arg("-e")
        .arg(".clicktest-script")
        .current_dir(dir)
        .env("PATH", path_env)
        .env("LC_ALL", "C")
        .env("rundir", "..")
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let err = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    if status.code() == Some(124) {
        return Ok((false, format!("timed out after {} s\n{err}", timeout.as_secs())));
    }
    Ok((status.success(), err))
}

fn run_test(test: &Test, work: &Path, path_env: &str, timeout: Duration) -> Outcome {
    if let Some(req) = &test.require {
        let dir = work.join("require");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return Outcome::Fail(e.to_string());
        }
        match run_sh(&dir, req, path_env, None, timeout) {
            Ok((true, _)) => {}
            Ok((false, _)) => return Outcome::Skip(format!("requirement not met: {}", req.trim().replace('\n', "; "))),
            Err(e) => return Outcome::Fail(e),
        }
    }
    let dir = work.join("run");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Outcome::Fail(e.to_string());
    }
    for (name, data) in &test.files {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&p, data) {
            return Outcome::Fail(format!("{name}: {e}"));
        }
    }
    let stdin = test.files.iter().any(|f| f.0 == "stdin").then(|| dir.join("stdin"));
    let (ok, stderr) = match run_sh(&dir, &test.script, path_env, stdin.as_deref(), timeout) {
        Ok(x) => x,
        Err(e) => return Outcome::Fail(e),
    };
    if !ok {
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        return Outcome::Fail(format!("script failed; its stderr:\n    {}", tail.join("\n    ")));
    }
    let mut report = String::new();
    for (file, alternates) in &test.expects {
        let actual = match std::fs::read(dir.join(file)) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                report.push_str(&format!("  {file}: {e}\n"));
                continue;
            }
        };
        let patterns: Vec<&format::Ignore> =
            [file.as_str(), "all"].iter().filter_map(|k| test.ignores.get(*k)).flatten().collect();
        let ignores = match compare::Ignores::new(&patterns) {
            Ok(i) => i,
            Err(e) => return Outcome::Fail(e),
        };
        match compare::compare(&actual, alternates, &ignores) {
            Ok(None) => {}
            Ok(Some(m)) => {
                report.push_str(&format!(
                    "  {file}:{}: got      {}\n  {file}:{}: expected {}\n",
                    m.line,
                    m.actual.as_deref().map(|s| format!("'{s}'")).unwrap_or_else(|| "end of file".into()),
                    m.line,
                    m.expected.as_deref().map(|s| format!("'{s}'")).unwrap_or_else(|| "end of file".into()),
                ));
                let shown: Vec<&str> = actual.lines().take(12).collect();
                report.push_str(&format!("  {file} begins:\n    {}\n", shown.join("\n    ")));
            }
            Err(e) => return Outcome::Fail(e),
        }
    }
    if report.is_empty() { Outcome::Pass } else { Outcome::Fail(report) }
}

/// Run the suite; returns whether it passed (every test expected to pass did).
pub fn run(opts: &Options) -> Result<bool, String> {
    let mut files = Vec::new();
    for p in &opts.paths {
        if !p.exists() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
        collect(p, &mut files);
    }
    let tool_dir = make_tool_dir(&opts.bin)?;
    let path_env = format!("{}:{}", tool_dir.display(), std::env::var("PATH").unwrap_or_default());
    let (mut passed, mut failed, mut skipped, mut xfailed) = (0usize, 0usize, 0usize, 0usize);
    let mut unexpected_passes = Vec::new();
    let total = files.len();
    for (n, file) in files.iter().enumerate() {
        let name = display_name(file);
        let must_pass = opts.expected_to_pass.as_ref().is_none_or(|s| s.contains(&name));
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return Err(format!("{}: {e}", file.display())),
        };
        let outcome = match format::parse(&text) {
            Err(e) => Outcome::Fail(format!("{}: {e}", file.display())),
            Ok(tests) => {
                let work = std::env::temp_dir().join(format!("oxclick-clicktest-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&work);
                let mut result = Outcome::Pass;
                for (i, t) in tests.iter().enumerate() {
                    let r = run_test(t, &work.join(i.to_string()), &path_env, opts.timeout);
                    if r != Outcome::Pass {
                        result = r;
                        break;
                    }
                }
                if opts.keep {
                    println!("      (kept {})", work.display());
                } else {
                    let _ = std::fs::remove_dir_all(&work);
                }
                result
            }
        };
        let progress = format!("[{}/{total}]", n + 1);
        match outcome {
            Outcome::Pass => {
                passed += 1;
                if !must_pass {
                    unexpected_passes.push(name.clone());
                }
                println!("PASS  {name} {progress}");
            }
            Outcome::Skip(why) => {
                skipped += 1;
                println!("SKIP  {name} ({why}) {progress}");
            }
            Outcome::Fail(why) if must_pass => {
                failed += 1;
                println!("FAIL  {name} {progress}\n{why}");
            }
            Outcome::Fail(why) => {
                xfailed += 1;
                println!("XFAIL {name} (not yet expected to pass) {progress}");
                if opts.verbose {
                    println!("{why}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tool_dir);
    if !unexpected_passes.is_empty() {
        println!("note: now passing but not yet listed as expected to pass: {}", unexpected_passes.join(", "));
    }
    if xfailed > 0 {
        println!("{xfailed} tests are not yet expected to pass (counted as skipped below)");
    }
    let skipped_total = skipped + xfailed;
    if skipped_total > 0 {
        println!("{passed} passed, {failed} failed, {skipped_total} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    Ok(failed == 0)
}
