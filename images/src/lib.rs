//! Guest images: the oxclick guest ELF with a configuration embedded in it, and
//! the xl configuration that boots it.
//!
//! The guest is built once (`cargo xtask guest`); making an image for a
//! configuration needs no compiler: the configuration is checked on the host
//! exactly as the guest will build it (the guest's element classes, one network
//! device per vif) and written into the ELF's `.oxclick_config` section.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection};
use oxclick_runtime::{DeviceInfo, Router, RouterOptions};
use oxclick_unikernel::embedded;

/// What the xl configuration says.
#[derive(Clone, Debug)]
pub struct ImageOptions {
    /// The domain's name.
    pub name: String,
    /// Its memory in MiB.
    pub memory_mb: u32,
    /// One xl vif specification per network device (`bridge=xenbr0`), in
    /// device-number order: FromNetfront(0) is the first.
    pub vifs: Vec<String>,
    /// The guest's command line (`extra=`), if any.
    pub cmdline: Option<String>,
    /// Keep a crashed domain for post-mortem (`xl` `on_crash="preserve"`;
    /// `xenctx` reads its registers) instead of destroying it.
    pub preserve_on_crash: bool,
    /// The hotplug script (an absolute path) for vifs on a bridge that name
    /// none (`oxclick image` writes one that runs `oxclick hotplug-vif`).
    /// `None`: the toolstack's default, Xen's `vif-bridge`.
    pub vif_script: Option<PathBuf>,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            name: "oxclick".into(),
            memory_mb: 8,
            vifs: vec!["bridge=xenbr0".into()],
            cmdline: None,
            preserve_on_crash: false,
            vif_script: None,
        }
    }
}

/// `spec` naming `script` as its hotplug script, when it is a bridged vif
/// that names none.
pub fn with_vif_script(spec: &str, script: &Path) -> String {
    let keys: Vec<&str> = spec.split(',').map(|kv| kv.split('=').next().unwrap_or("").trim()).collect();
    if keys.contains(&"bridge") && !keys.contains(&"script") {
        format!("{spec},script={}", script.display())
    } else {
        spec.to_string()
    }
}

/// Check configuration `text` (named `filename` in messages) as the guest
/// would build it with `vifs` network devices. `Err` holds Click's messages.
pub fn check_config(text: &str, filename: &str, vifs: usize) -> Result<(), Vec<String>> {
    let opts = RouterOptions::quiet(DeviceInfo::placeholder_vifs(vifs));
    Router::from_text(text, filename, &oxclick_elements::guest_registry(), opts).map(drop)
}

/// Write `name` and `text` into the `.oxclick_config` section of guest ELF `elf`.
pub fn embed(elf: &mut [u8], name: &str, text: &str) -> Result<(), String> {
    let (offset, size) = {
        let file = object::File::parse(&*elf).map_err(|e| format!("not an ELF file: {e}"))?;
        let section = file
            .section_by_name(".oxclick_config")
            .ok_or("no .oxclick_config section: not an oxclick guest, or one too old to embed configurations")?;
        let (offset, size) = section.file_range().ok_or(".oxclick_config has no bytes in the file")?;
        (offset as usize, size as usize)
    };
    let area = elf.get_mut(offset..offset + size).ok_or(".oxclick_config lies past the end of the file")?;
    embedded::embed(area, name, text).map_err(|e| e.to_string())
}

/// The (name, text) embedded in guest ELF `elf`, if any.
pub fn embedded_config(elf: &[u8]) -> Result<Option<(String, String)>, String> {
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF file: {e}"))?;
    let Some(section) = file.section_by_name(".oxclick_config") else { return Ok(None) };
    let data = section.data().map_err(|e| e.to_string())?;
    Ok(embedded::parse(data).map(|(n, t)| (n.to_string(), t.to_string())))
}

/// Quote `s` for an xl configuration string.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The xl configuration booting `kernel` (a guest ELF) as `opts` says.
pub fn xl_config(kernel: &Path, opts: &ImageOptions) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# oxclick guest; boot with: xl create THIS_FILE");
    let _ = writeln!(s, "name = {}", quoted(&opts.name));
    let _ = writeln!(s, "type = \"pvh\"");
    let _ = writeln!(s, "kernel = {}", quoted(&kernel.display().to_string()));
    let _ = writeln!(s, "memory = {}", opts.memory_mb);
    let _ = writeln!(s, "vcpus = 1");
    // The guest reads time with RDTSC and Xen's pvclock; never have Xen trap
    // and emulate RDTSC (its default where the TSC is not invariant, as under
    // nested virtualisation, where the trap has been seen to triple-fault the
    // guest). Xen keeps pvclock right across save/restore and migration.
    let _ = writeln!(s, "tsc_mode = \"native\"");
    if let Some(c) = &opts.cmdline {
        let _ = writeln!(s, "extra = {}", quoted(c));
    }
    let vifs: Vec<String> = opts
        .vifs
        .iter()
        .map(|v| match &opts.vif_script {
            Some(script) => quoted(&with_vif_script(v, script)),
            None => quoted(v),
        })
        .collect();
    let _ = writeln!(s, "vif = [{}]", vifs.join(", "));
    // A crash must not turn into a reboot loop.
    let _ = writeln!(s, "on_poweroff = \"destroy\"");
    let _ = writeln!(s, "on_crash = \"{}\"", if opts.preserve_on_crash { "preserve" } else { "destroy" });
    let _ = writeln!(s, "on_reboot = \"destroy\"");
    s
}

/// Where the guest ELF is: `explicit`, else `$OXCLICK_GUEST`, else the build
/// in the source tree this program was built from.
pub fn find_guest(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() { Ok(p.to_path_buf()) } else { Err(format!("{}: no such guest image", p.display())) };
    }
    if let Some(p) = std::env::var_os("OXCLICK_GUEST") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{}: no such guest image (from $OXCLICK_GUEST)", p.display()))
        };
    }
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
    let built = tree.join("unikernel/guest/target/release/oxclick-guest");
    if built.is_file() {
        return Ok(built);
    }
    Err(format!(
        "no guest image: build it with `cargo xtask guest` (it lands in {}), or name one with --guest or $OXCLICK_GUEST",
        built.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xl_configuration() {
        let opts = ImageOptions {
            name: "mirror".into(),
            memory_mb: 4,
            vifs: vec!["bridge=xenbr0".into(), "bridge=br1,mac=00:16:3e:00:00:01".into()],
            cmdline: Some("quiet-debugcon".into()),
            preserve_on_crash: false,
            vif_script: None,
        };
        let text = xl_config(Path::new("/var/lib/oxclick/mirror.elf"), &opts);
        assert!(text.contains("name = \"mirror\"\n"));
        assert!(text.contains("type = \"pvh\"\n"));
        assert!(text.contains("kernel = \"/var/lib/oxclick/mirror.elf\"\n"));
        assert!(text.contains("memory = 4\n"));
        assert!(text.contains("tsc_mode = \"native\"\n"));
        assert!(text.contains("extra = \"quiet-debugcon\"\n"));
        assert!(text.contains("vif = [\"bridge=xenbr0\", \"bridge=br1,mac=00:16:3e:00:00:01\"]\n"));
        assert!(text.contains("on_crash = \"destroy\"\n"));
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn bridged_vifs_get_the_lean_hotplug_script_unless_they_name_one() {
        let script = Path::new("/var/lib/oxclick/oxclick-vif-bridge");
        assert_eq!(
            with_vif_script("bridge=xenbr0", script),
            "bridge=xenbr0,script=/var/lib/oxclick/oxclick-vif-bridge"
        );
        assert_eq!(with_vif_script("bridge=br1, script=vif-openvswitch", script), "bridge=br1, script=vif-openvswitch");
        // Not bridged: whatever the administrator's default is.
        assert_eq!(with_vif_script("mac=00:16:3e:00:00:01", script), "mac=00:16:3e:00:00:01");
        let opts = ImageOptions { vif_script: Some(script.to_path_buf()), ..ImageOptions::default() };
        let text = xl_config(Path::new("/g.elf"), &opts);
        assert!(text.contains("vif = [\"bridge=xenbr0,script=/var/lib/oxclick/oxclick-vif-bridge\"]\n"), "{text}");
    }

    #[test]
    fn configurations_are_checked_as_the_guest_builds_them() {
        assert!(check_config("FromDevice(0) -> Counter -> ToNetfront(0)", "m.click", 1).is_ok());
        let e = check_config("FromNetfront(1) -> Discard", "m.click", 1).unwrap_err();
        assert!(e.iter().any(|l| l.contains("no network device 1: this domain has 1 (0 to 0)")), "{e:?}");
        // Host I/O does not exist in the guest.
        let e = check_config("FromDump(x.pcap) -> Discard", "m.click", 1).unwrap_err();
        assert!(e.iter().any(|l| l.starts_with("m.click:1: ") && l.contains("FromDump")), "{e:?}");
    }

    /// A minimal ELF with a `.oxclick_config` section holding an empty area,
    /// made by hand so the test needs no guest build.
    fn tiny_elf() -> Vec<u8> {
        let area = embedded::empty_area();
        let shstrtab = b"\0.oxclick_config\0.shstrtab\0";
        let data_off = 64usize;
        let shstr_off = data_off + area.len();
        let sh_off = (shstr_off + shstrtab.len()).next_multiple_of(8);
        let mut f = vec![0u8; sh_off + 3 * 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little endian
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[40..48].copy_from_slice(&(sh_off as u64).to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&3u16.to_le_bytes());
        f[62..64].copy_from_slice(&2u16.to_le_bytes());
        f[data_off..data_off + area.len()].copy_from_slice(&area);
        f[shstr_off..shstr_off + shstrtab.len()].copy_from_slice(shstrtab);
        let section = |f: &mut Vec<u8>, i: usize, name: u32, kind: u32, off: usize, size: usize| {
            let h = sh_off + i * 64;
            f[h..h + 4].copy_from_slice(&name.to_le_bytes());
            f[h + 4..h + 8].copy_from_slice(&kind.to_le_bytes());
            f[h + 24..h + 32].copy_from_slice(&(off as u64).to_le_bytes());
            f[h + 32..h + 40].copy_from_slice(&(size as u64).to_le_bytes());
            f[h + 48..h + 56].copy_from_slice(&1u64.to_le_bytes());
        };
        section(&mut f, 1, 1, 1, data_off, area.len()); // PROGBITS
        section(&mut f, 2, 17, 3, shstr_off, shstrtab.len()); // STRTAB
        f
    }

    #[test]
    fn embed_into_an_elf_and_read_back() {
        let mut elf = tiny_elf();
        assert_eq!(embedded_config(&elf).unwrap(), None);
        embed(&mut elf, "mirror", "FromNetfront(0) -> ToNetfront(0)").unwrap();
        assert_eq!(
            embedded_config(&elf).unwrap(),
            Some(("mirror".to_string(), "FromNetfront(0) -> ToNetfront(0)".to_string()))
        );
        assert!(embed(&mut [0u8; 16], "x", "y").unwrap_err().starts_with("not an ELF file"));
        let e = embed(&mut elf, "x", &"y".repeat(embedded::CAPACITY)).unwrap_err();
        assert!(e.contains("install it through xenstore instead"), "{e}");
    }
}
