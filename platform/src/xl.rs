//! The `xl` backend: each tenant's router is an oxclick Xen guest, booted with
//! `oxclick boot` (image, `xl create`, configuration through xenstore, wait until
//! it runs), suspended with `xl save` and resumed with `xl restore`, which keep
//! every byte of its state. Its vif is on no bridge: a small hotplug script only
//! brings `vif<domid>.0` up in dom0, and the daemon reads and writes frames there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::backend::{Attached, Backend, StartSpec};
use crate::tool::run_logged;

pub struct XlBackend {
    /// The oxclick binary (`oxclick boot` makes and boots the image).
    pub oxclick: PathBuf,
    /// The vif hotplug script the guests' xl configurations name.
    pub vif_script: PathBuf,
    /// Guest memory in MB.
    pub memory: u32,
}

/// The hotplug script for the guests' vifs, which go on no bridge: the
/// kernel runs `oxclick hotplug-vif-up SCRIPT ACTION`, one process that brings
/// the vif up and tells xl it is ready (a shell script doing the same ran three).
fn vif_script_for(oxclick: &Path) -> Result<String, String> {
    crate::hotplug_script::text(
        oxclick,
        "hotplug-vif-up",
        "# oxclick platform: a tenant guest's vif goes on no bridge; the platform daemon\n\
         # reads and writes its frames. This brings it up and tells xl it is ready.\n",
    )
}

/// Run a tool for at most `patience` (see [`crate::tool`]), its output in a
/// temporary file.
fn run_for(program: &Path, args: &[&str], patience: Duration) -> Result<String, String> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let log = std::env::temp_dir().join(format!("oxclick-platform-{}-{n}.out", std::process::id()));
    let result = run_logged(program, args, patience, &log);
    let _ = std::fs::remove_file(&log);
    result
}

fn run(program: &Path, args: &[&str]) -> Result<String, String> {
    run_for(program, args, Duration::from_secs(120))
}

fn xl(args: &[&str]) -> Result<String, String> {
    run(Path::new("xl"), args)
}

/// The dom0 end of domain `name`'s first vif (the hotplug script brought it
/// up), from its domain id if known (`oxclick boot` prints it), else xl's.
fn vif_of(name: &str, domid: Option<u32>) -> Result<String, String> {
    let domid = match domid {
        Some(id) => id.to_string(),
        None => xl(&["domid", name])?.trim().to_string(),
    };
    Ok(format!("vif{domid}.0"))
}

/// The domain id in `oxclick boot`'s output (its line `NAME: domain ID`).
fn booted_domid(output: &str, name: &str) -> Option<u32> {
    output.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": domain ")?.trim().parse().ok())
}

/// The state flags (`r-----`, `---c--`: running, blocked, paused, shutdown,
/// crashed, dying) of the one domain in `xl list NAME`'s output.
fn domain_state(list: &str) -> Option<&str> {
    let row = list.lines().find(|l| !l.starts_with("Name "))?;
    row.split_whitespace().nth(4).filter(|s| s.len() == 6)
}

impl XlBackend {
    /// Write the hotplug script into `dir`.
    pub fn new(oxclick: PathBuf, dir: &Path, memory: u32) -> Result<XlBackend, String> {
        // Refused here, before anything is written, not at the first guest's
        // `xl create`, whose error would only say the hotplug script failed.
        let text = vif_script_for(&oxclick)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let vif_script = dir.join("oxclick-vif");
        crate::hotplug_script::install(&vif_script, &text)?;
        Ok(XlBackend { oxclick, vif_script, memory })
    }

    fn save_file(spec: &StartSpec) -> PathBuf {
        spec.dir.join("suspended.save")
    }
}

impl Backend for XlBackend {
    fn name(&self) -> &'static str {
        "xl"
    }

    fn io_elements(&self, _tenant: &str) -> (String, String) {
        ("FromNetfront(0)".into(), "ToNetfront(0)".into())
    }

    fn boot(&self, spec: &StartSpec) -> Result<Attached, String> {
        let name = &spec.tenant.name;
        std::fs::create_dir_all(&spec.dir).map_err(|e| format!("{}: {e}", spec.dir.display()))?;
        let config = spec.dir.join(format!("{name}.click"));
        std::fs::write(&config, &spec.config).map_err(|e| format!("{}: {e}", config.display()))?;
        // A guest left over (a crashed one kept, a daemon restart): start clean.
        let _ = xl(&["destroy", name]);
        let vif = format!("script={}", self.vif_script.display());
        let memory = self.memory.to_string();
        let config = config.display().to_string();
        let dir = spec.dir.display().to_string();
        let args = ["boot", &config, "--name", name, "--memory", &memory, "--vif", &vif, "--dir", &dir];
        let output = run_for(&self.oxclick, &args, Duration::from_secs(240))?;
        Ok(Attached { port: vif_of(name, booted_domid(&output, name))?, handle: name.clone() })
    }

    fn suspend(&self, spec: &StartSpec, at: &Attached) -> Result<(), String> {
        let file = Self::save_file(spec);
        let Err(e) = xl(&["save", &at.handle, &file.display().to_string()]) else { return Ok(()) };
        let _ = std::fs::remove_file(&file);
        // A failed save resumes the domain. If it did not come back running (a
        // guest that crashed on the way, and nobody left to apply on_crash: xl's
        // monitor exits when its domain suspends), remove it: its vif goes with
        // it, and the daemon restarts the tenant.
        let list = xl(&["list", &at.handle]).unwrap_or_default();
        match domain_state(&list) {
            Some(state) if state.contains(['c', 's', 'd']) => {
                let _ = xl(&["destroy", &at.handle]);
                Err(format!("{e}; the domain was left {state} and is destroyed"))
            }
            _ => Err(e),
        }
    }

    fn resume(&self, spec: &StartSpec, at: &Attached) -> Result<Attached, String> {
        let file = Self::save_file(spec);
        xl(&["restore", &file.display().to_string()])?;
        let _ = std::fs::remove_file(&file);
        // A new domain: a new vif name in dom0.
        Ok(Attached { port: vif_of(&at.handle, None)?, handle: at.handle.clone() })
    }

    fn destroy(&self, spec: &StartSpec, at: &Attached) -> Result<(), String> {
        let _ = std::fs::remove_file(Self::save_file(spec));
        xl(&["destroy", &at.handle]).map(drop)
    }

    fn alive(&self, at: &Attached) -> bool {
        // Its vif exists in dom0 exactly as long as its domain: a look in sysfs,
        // where `xl list` would cost the daemon's loop hundreds of milliseconds
        // under emulation. (A suspended guest has no vif; the daemon asks only
        // about running ones.)
        Path::new("/sys/class/net").join(&at.port).exists()
    }
}

#[cfg(test)]
mod tests {
    use super::{booted_domid, domain_state};

    #[test]
    fn the_state_column_of_xl_list() {
        let list = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
                    pt1                                          5     3     1     ---c--       0.4\n";
        assert_eq!(domain_state(list), Some("---c--"));
        assert_eq!(domain_state("Name ID Mem VCPUs State Time(s)\n"), None);
        assert_eq!(domain_state("pt1 5 3 1 -b---- 12.0\n"), Some("-b----"));
    }

    #[test]
    fn the_domain_id_oxclick_boot_printed() {
        let out = "pt1: xl create took 1112 ms\npt1: domain 7\npt1: router running 1206 ms after xl create started\n";
        assert_eq!(booted_domid(out, "pt1"), Some(7));
        assert_eq!(booted_domid(out, "pt"), None, "another tenant's name is not a prefix match");
        assert_eq!(booted_domid("pt1: router running 5 ms\n", "pt1"), None);
    }
}
