//! What the live-traffic tests share: the binary under test, shell helpers, and
//! the check that this machine can run them at all.
#![allow(dead_code)]

use std::process::{Command, Stdio};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_oxclick")
}

/// Why live-traffic tests cannot run here (not root, or one of `tools` missing), if so.
pub fn missing_root_or(tools: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in tools {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status();
        if !found.is_ok_and(|s| s.success()) {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

/// Stop oxclick `child` as Ctrl-C would and return what it printed (its `-h`
/// handlers, its errors).
pub fn stop(child: std::process::Child) -> String {
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().expect("oxclick output");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn sh(cmd: &str) -> bool {
    Command::new("sh").arg("-c").arg(cmd).status().is_ok_and(|s| s.success())
}

pub fn must(cmd: &str) {
    assert!(sh(cmd), "command failed: {cmd}");
}
