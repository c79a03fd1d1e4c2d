//! Running dom0's tools (`xl`, `oxclick boot`) with a time limit.
//!
//! Under emulation `xl` has been seen to hang, and a hung tool must cost one
//! operation, never the caller. Output goes to a file, not a pipe: `xl create`
//! and `xl restore` leave a domain-monitoring daemon behind that may hold a pipe
//! open for the domain's life.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `program args`, its output in `log`, for at most `patience` (then it is
/// killed). `Ok` holds what it wrote; `Err` names the command and says what it
/// wrote (lines joined with `; `).
pub fn run_logged(program: &Path, args: &[&str], patience: Duration, log: &Path) -> Result<String, String> {
    let what = format!("{} {}", program.display(), args.join(" "));
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child =
        Command::new(program).args(args).stdin(Stdio::null()).stdout(file).stderr(err).spawn().map_err(|e| match e
            .kind()
        {
            std::io::ErrorKind::NotFound => {
                format!("{what}: {} not found (xl comes with xen-utils, in a Xen dom0)", program.display())
            }
            _ => format!("{what}: {e}"),
        })?;
    let said = || std::fs::read_to_string(log).unwrap_or_default();
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(said()),
            Ok(Some(_)) => return Err(format!("{what}: {}", said().trim().replace('\n', "; "))),
            Ok(None) if start.elapsed() > patience => {
                let _ = child.kill();
                let _ = child.wait();
                let said = said();
                return Err(format!(
                    "{what}: no answer in {} s: {}",
                    patience.as_secs(),
                    said.trim().replace('\n', "; ")
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}
