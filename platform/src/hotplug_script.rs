//! The vif hotplug scripts oxclick writes for xl: a file whose first line
//! runs the oxclick binary itself (`#!/path/to/oxclick hotplug-vif`), so for
//! each vif the kernel starts one process instead of Xen's shell scripts (see
//! `oxclick hotplug-vif --help`). `oxclick image` writes one for bridged vifs,
//! the platform's xl backend one for its vifs, which go on no bridge.

use std::path::Path;

/// The longest interpreter path accepted on a `#!` line: the kernel reads at
/// most 255 bytes of the line, and the `#!` and the subcommand need room too.
const MAX_INTERPRETER: usize = 200;

/// The text of a hotplug script that has the kernel run `exe SUBCOMMAND
/// SCRIPT ARGS...`, with `comment` (lines starting `#`) after the first line;
/// or why `exe` cannot start a script. The kernel splits a `#!` line once, at
/// the first blank after the interpreter, so a path with blanks in it would
/// run something else, and a path longer than the kernel reads would be cut.
pub fn text(exe: &Path, subcommand: &str, comment: &str) -> Result<String, String> {
    let path = exe.to_str().ok_or_else(|| format!("{}: not UTF-8, so it cannot start a script", exe.display()))?;
    if !exe.is_absolute() {
        return Err(format!("{path}: not an absolute path, so it cannot start a script"));
    }
    if path.contains(char::is_whitespace) {
        return Err(format!(
            "{path}: has blanks in it, so it cannot start a script (the kernel ends the interpreter at the first blank)"
        ));
    }
    if path.len() > MAX_INTERPRETER {
        return Err(format!(
            "{path}: {} bytes long, too long to start a script (at most {MAX_INTERPRETER})",
            path.len()
        ));
    }
    Ok(format!("#!{path} {subcommand}\n{comment}"))
}

/// Put executable script `text` at `path`, unless it holds that already. The
/// file is replaced whole (written beside it, then renamed over it), never
/// rewritten in place: xl may be running it for another guest.
pub fn install(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}", std::process::id()));
    let err = |e: std::io::Error| format!("{}: {e}", tmp.display());
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_starts_with_its_interpreter_and_subcommand() {
        let t = text(Path::new("/usr/bin/oxclick"), "hotplug-vif-up", "# what it is\n").unwrap();
        assert_eq!(t, "#!/usr/bin/oxclick hotplug-vif-up\n# what it is\n");
    }

    #[test]
    fn paths_the_kernel_cannot_run_are_refused_by_name() {
        let long = format!("/{}/oxclick", "d".repeat(220));
        for (exe, why) in [
            ("/opt/my tools/oxclick", "has blanks in it"),
            ("/opt/tab\there/oxclick", "has blanks in it"),
            ("oxclick", "not an absolute path"),
            (long.as_str(), "too long"),
        ] {
            let e = text(Path::new(exe), "hotplug-vif", "").unwrap_err();
            assert!(e.starts_with(exe) && e.contains(why), "{exe}: {e}");
        }
    }

    #[test]
    fn install_replaces_the_script_whole_and_leaves_an_equal_one_alone() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = std::env::temp_dir().join(format!("oxclick-hotplug-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oxclick-vif");
        install(&path, "#!/a b\n").unwrap();
        let first = std::fs::metadata(&path).unwrap();
        assert_eq!(first.permissions().mode() & 0o777, 0o755);
        // The same text: the file is not touched (same inode).
        install(&path, "#!/a b\n").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), first.ino());
        // New text: a new file renamed over the old one.
        install(&path, "#!/c d\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "#!/c d\n");
        assert_ne!(std::fs::metadata(&path).unwrap().ino(), first.ino());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
