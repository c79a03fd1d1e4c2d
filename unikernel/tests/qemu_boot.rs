//! Builds the guest (`guest/`, release profile) and boots it under plain QEMU
//! with no hypervisor, reading its log from the isa-debugcon port (0xe9) and
//! its verdict from isa-debug-exit (status 33 = clean exit, 35 = crash).
//!
//! Skipped, with a message, when `qemu-system-x86_64` is not installed.
//! Real-Xen checks live in the project's xen-e2e harness.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const QEMU: &str = "qemu-system-x86_64";
const EXIT_CLEAN: i32 = 33;
const EXIT_CRASH: i32 = 35;

fn qemu_available() -> bool {
    let found = Command::new(QEMU).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        eprintln!("skipping: {QEMU} is not installed (apt-get install qemu-system-x86)");
    }
    found
}

/// Build the guest once per test run.
fn guest_elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("guest");
        let target = dir.join("target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("run cargo to build the guest");
        assert!(status.success(), "building the guest failed");
        target.join("release/oxclick-guest")
    })
}

struct Run {
    status: i32,
    log: String,
}

/// Boot the guest with `memory_mib` of RAM and a command line.
fn boot(memory_mib: u32, cmdline: &str) -> Run {
    boot_image(guest_elf(), memory_mib, cmdline)
}

/// A copy of the guest with configuration `text` embedded (what `oxclick image
/// --embed` does, through the library call it uses).
fn guest_with_config(tag: &str, text: &str) -> PathBuf {
    use object::{Object, ObjectSection};
    let mut elf = std::fs::read(guest_elf()).expect("read the guest");
    let (offset, size) = {
        let file = object::File::parse(&*elf).expect("the guest is an ELF file");
        let section = file.section_by_name(".oxclick_config").expect("configuration section");
        let (o, s) = section.file_range().expect("section bytes");
        (o as usize, s as usize)
    };
    oxclick_unikernel::embedded::embed(&mut elf[offset..offset + size], tag, text).expect("embed");
    let path = std::env::temp_dir().join(format!("oxclick-guest-{}-{tag}.elf", std::process::id()));
    std::fs::write(&path, elf).expect("write the image");
    path
}

fn boot_image(elf: &Path, memory_mib: u32, cmdline: &str) -> Run {
    let log_path = std::env::temp_dir().join(format!(
        "oxclick-qemu-{}-{}-{}-{}.log",
        std::process::id(),
        elf.file_stem().and_then(|s| s.to_str()).unwrap_or("guest"),
        memory_mib,
        cmdline.replace(' ', "_")
    ));
    let _ = std::fs::remove_file(&log_path);
    let mut child = Command::new(QEMU)
        .args(["-machine", "q35", "-cpu", "max", "-m"])
        .arg(memory_mib.to_string())
        .arg("-kernel")
        .arg(elf)
        .args(["-append", cmdline])
        .args(["-display", "none", "-no-reboot", "-serial", "none", "-monitor", "none"])
        .arg("-chardev")
        .arg(format!("file,id=dbg,path={}", log_path.display()))
        .args(["-device", "isa-debugcon,iobase=0xe9,chardev=dbg"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu");
    // The guest exits in well under a second; allow for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for qemu") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "guest did not exit within 60 s; log so far:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    Run { status: status.code().unwrap_or(-1), log }
}

#[test]
fn boots_checks_itself_and_exits_cleanly_without_xen() {
    if !qemu_available() {
        return;
    }
    let run = boot(64, "hello oxclick");
    assert_eq!(run.status, EXIT_CLEAN, "log:\n{}", run.log);
    for line in [
        "oxclick: PVH guest starting",
        "cmdline \"hello oxclick\"",
        "oxclick: no Xen hypervisor",
        "oxclick: runtime checks PASS",
        "oxclick: exiting (no Xen)",
    ] {
        assert!(run.log.contains(line), "missing {line:?} in log:\n{}", run.log);
    }
}

#[test]
fn heap_is_sized_from_the_memory_map() {
    if !qemu_available() {
        return;
    }
    let heap_kib = |log: &str| -> u64 {
        let after = log.split("heap ").nth(1).expect("heap line");
        after.split(' ').next().unwrap().parse().expect("heap size")
    };
    let small = boot(4, "");
    assert_eq!(small.status, EXIT_CLEAN, "log:\n{}", small.log);
    let large = boot(64, "");
    assert_eq!(large.status, EXIT_CLEAN, "log:\n{}", large.log);
    // 4 MiB of RAM minus the image at 1 MiB leaves about 2; 64 MiB leaves ~62.
    assert!(heap_kib(&small.log) < 3 * 1024, "log:\n{}", small.log);
    assert!(heap_kib(&large.log) > 60 * 1024, "log:\n{}", large.log);
}

#[test]
fn cpu_exceptions_crash_visibly() {
    if !qemu_available() {
        return;
    }
    let run = boot(16, "test-fault");
    assert_eq!(run.status, EXIT_CRASH, "log:\n{}", run.log);
    assert!(run.log.contains("oxclick: FATAL: CPU exception page fault (14)"), "log:\n{}", run.log);
    assert!(run.log.contains("cr2=0x1000000000"), "log:\n{}", run.log);
}

#[test]
fn panics_crash_visibly() {
    if !qemu_available() {
        return;
    }
    let run = boot(16, "test-panic");
    assert_eq!(run.status, EXIT_CRASH, "log:\n{}", run.log);
    assert!(run.log.contains("oxclick: FATAL: panicked at"), "log:\n{}", run.log);
    assert!(run.log.contains("test-panic requested"), "log:\n{}", run.log);
}

#[test]
fn loaded_image_ends_below_two_mib() {
    if !qemu_available() {
        return;
    }
    // Loaded size (text, data and bss) decides the smallest domain that can
    // boot it: with the whole element library it must end below 2 MiB (it is
    // loaded at 1 MiB), leaving a 4 MiB domain room for its heap.
    let run = boot(16, "");
    let image = run.log.split("image ").nth(1).expect("image line");
    let kib: u64 = image.split('(').nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(kib < 1024, "image is {kib} KiB in memory");
}

#[test]
fn stack_overflow_hits_the_guard_page() {
    if !qemu_available() {
        return;
    }
    let run = boot(16, "test-stack-overflow");
    assert_eq!(run.status, EXIT_CRASH, "log:\n{}", run.log);
    assert!(run.log.contains("oxclick: FATAL: CPU exception stack overflow"), "log:\n{}", run.log);
}

#[test]
fn an_embedded_configuration_runs_in_the_guest() {
    if !qemu_available() {
        return;
    }
    let elf = guest_with_config(
        "count",
        "InfiniteSource(LENGTH 60, LIMIT 1000, STOP true) -> Strip(14) -> c :: Counter -> d :: Discard",
    );
    let run = boot_image(&elf, 16, "");
    let _ = std::fs::remove_file(&elf);
    assert_eq!(run.status, EXIT_CLEAN, "log:\n{}", run.log);
    for line in [
        "oxclick: router 0: running embedded configuration \"count\"",
        "oxclick: router 0: c.count = 1000",
        "oxclick: router 0: d.count = 1000",
    ] {
        assert!(run.log.contains(line), "missing {line:?} in log:\n{}", run.log);
    }
}

#[test]
fn a_broken_embedded_configuration_is_reported() {
    if !qemu_available() {
        return;
    }
    let elf = guest_with_config("bad", "InfiniteSource -> NoSuch -> Discard");
    let run = boot_image(&elf, 16, "");
    let _ = std::fs::remove_file(&elf);
    assert_eq!(run.status, EXIT_CLEAN, "log:\n{}", run.log);
    assert!(run.log.contains("oxclick: router 0: bad:1: undeclared element 'NoSuch'"), "log:\n{}", run.log);
}
