//! `oxclick hotplug-vif` and `hotplug-vif-up`: the vif hotplug script xl runs
//! for our guests, as one process (`-up`, for the platform daemon's vifs,
//! which go on no bridge, only brings the vif up).
//!
//! `xl create` (and `xl restore`) runs a hotplug script for every vif and
//! waits for it before the guest may start: Xen's `vif-bridge` sources four
//! helper scripts and runs some twenty programs (locking, iptables, xenstore
//! reads). That is 100-300 ms a vif on hardware and seconds under emulation,
//! several times our guest's own boot; ClickOS and LightVM cut the same cost
//! out of their toolstacks. `oxclick image` writes `oxclick-vif-bridge` beside
//! the xl configuration, a file whose first line is
//! `#!/path/to/oxclick hotplug-vif`, so the kernel runs
//! `oxclick hotplug-vif SCRIPT ACTION` and nothing else: the vif joins the
//! bridge its configuration names (`$XENBUS_PATH/bridge`) with the bridge's
//! MTU and comes up, through ioctls, and the result goes to xenstore
//! (`hotplug-status`, and `hotplug-error`, which `xl create` prints) over
//! xenstored's socket.
//!
//! It speaks libxl's hotplug protocol: the action (`online`/`add`,
//! `offline`/`remove`) is the first argument, then `KEY=VALUE` words such as
//! `type_if=vif`; `$vif` names the dom0 device and
//! `$XENBUS_PATH` the backend's xenstore directory.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::dom0_xenstore::Store;

/// `SIOCBRADDIF` (linux/sockios.h): add the interface at `ifr_ifindex` to the bridge `ifr_name`.
const SIOCBRADDIF: libc::c_ulong = 0x89a2;

/// The script `oxclick image` writes, for the oxclick binary at `exe`; or why
/// `exe` cannot start a script.
pub fn script(exe: &std::path::Path) -> Result<String, String> {
    oxclick_platform::hotplug_script::text(
        exe,
        "hotplug-vif",
        "# oxclick's vif hotplug script for bridged vifs, written by `oxclick image`:\n\
         # xl runs it, and the kernel runs `oxclick hotplug-vif THIS_FILE ACTION`\n\
         # (see `oxclick hotplug-vif --help`). `oxclick image --stock-hotplug`\n\
         # names Xen's vif-bridge instead.\n",
    )
}

/// `oxclick hotplug-vif` (`bridged`: the vif joins its bridge) or
/// `oxclick hotplug-vif-up` (it only comes up).
pub fn hotplug_main(args: Vec<OsString>, bridged: bool) -> i32 {
    let words: Vec<String> = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    if words.iter().any(|w| w == "-h" || w == "--help") || words.is_empty() {
        println!(
            "usage: oxclick hotplug-vif [SCRIPT] ACTION [KEY=VALUE...]\n\
             \x20      oxclick hotplug-vif-up [SCRIPT] ACTION [KEY=VALUE...]\n\n\
             The vif hotplug script of oxclick guests, run by xl (through the\n\
             oxclick-vif-bridge file `oxclick image` writes, or the platform daemon's\n\
             oxclick-vif), not by hand. On online/add, hotplug-vif puts $vif on the bridge\n\
             named in $XENBUS_PATH/bridge with the bridge's MTU and brings it up;\n\
             hotplug-vif-up only brings it up (the platform daemon's vifs are on no\n\
             bridge). Both write hotplug-status; offline/remove need nothing."
        );
        return if words.is_empty() { 2 } else { 0 };
    }
    let action = action_of(&words).unwrap_or_default();
    match action {
        "online" | "add" => {}
        // The vif is going away with its domain: nothing to undo.
        "offline" | "remove" => return 0,
        other => {
            eprintln!("oxclick hotplug-vif: unknown action '{other}' (xl passes online, add, offline or remove)");
            return 2;
        }
    }
    let (Ok(vif), Ok(backend)) = (std::env::var("vif"), std::env::var("XENBUS_PATH")) else {
        eprintln!("oxclick hotplug-vif: run by xl as a vif hotplug script ($vif and $XENBUS_PATH unset)");
        return 2;
    };
    let mut xs = match Store::open() {
        Ok(xs) => xs,
        Err(e) => {
            eprintln!("oxclick hotplug-vif: {vif}: {e}");
            return 1;
        }
    };
    let attached = if bridged { attach(&mut xs, &vif, &backend) } else { bring_up(&vif) };
    match attached.and_then(|()| xs.write(&format!("{backend}/hotplug-status"), "connected")) {
        Ok(()) => 0,
        Err(e) => {
            let message = format!("{vif}: {e}");
            eprintln!("oxclick hotplug-vif: {message}");
            // What xl create prints as the reason it failed.
            let _ = xs.write_all(&[
                (format!("{backend}/hotplug-error"), message),
                (format!("{backend}/hotplug-status"), "error".into()),
            ]);
            1
        }
    }
}

/// libxl runs `SCRIPT ACTION type_if=vif`: the action is the first word that
/// is not the script's path or a `KEY=VALUE`.
fn action_of(words: &[String]) -> Option<&str> {
    words.iter().skip_while(|w| w.starts_with('/')).find(|w| !w.contains('=')).map(String::as_str)
}

/// Put `vif` on the bridge its backend directory `backend` names, with the
/// bridge's MTU, and bring it up.
pub fn attach(xs: &mut Store, vif: &str, backend: &str) -> Result<(), String> {
    let bridge = xs
        .read(&format!("{backend}/bridge"))?
        .filter(|b| !b.is_empty())
        .ok_or("no bridge in the vif's configuration (bridge=...)")?;
    let ifs = Interfaces::open()?;
    let mtu = ifs.mtu(&bridge).map_err(|e| format!("bridge {bridge}: {e}"))?;
    ifs.set_mtu(vif, mtu)?;
    ifs.add_to_bridge(&bridge, vif)?;
    bring_up(vif)
}

/// Bring `vif` up (on no bridge, or on the one `attach` put it on).
pub fn bring_up(vif: &str) -> Result<(), String> {
    // dom0 has no business sending IPv6 router solicitations into a middlebox.
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{vif}/disable_ipv6"), "1");
    Interfaces::open()?.set_up(vif)
}

/// Interface ioctls on a datagram socket (the socket only names the netns).
struct Interfaces {
    sock: OwnedFd,
}

impl Interfaces {
    fn open() -> Result<Interfaces, String> {
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(Interfaces { sock: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    fn request(name: &str) -> Result<libc::ifreq, String> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['/', '\0']) {
            return Err(format!("'{name}' is not an interface name"));
        }
        // SAFETY: ifreq is plain data; all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        Ok(req)
    }

    fn ioctl(&self, what: &str, name: &str, op: libc::c_ulong, req: &mut libc::ifreq) -> Result<(), String> {
        // SAFETY: every op used here takes a struct ifreq, which outlives the call.
        if unsafe { libc::ioctl(self.sock.as_raw_fd(), op as _, req as *mut libc::ifreq) } < 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ENODEV) => format!("{what}: no interface named {name}"),
                Some(libc::EOPNOTSUPP) if op == SIOCBRADDIF => format!("{what}: {name} is not a bridge"),
                Some(libc::EBUSY) if op == SIOCBRADDIF => format!("{what} {name}: it is on a bridge already"),
                _ => format!("{what} {name}: {e}"),
            });
        }
        Ok(())
    }

    fn mtu(&self, name: &str) -> Result<i32, String> {
        let mut req = Self::request(name)?;
        self.ioctl("reading the MTU", name, libc::SIOCGIFMTU, &mut req)?;
        // SAFETY: SIOCGIFMTU filled the mtu member.
        Ok(unsafe { req.ifr_ifru.ifru_mtu })
    }

    fn set_mtu(&self, name: &str, mtu: i32) -> Result<(), String> {
        let mut req = Self::request(name)?;
        req.ifr_ifru.ifru_mtu = mtu;
        self.ioctl("setting the MTU", name, libc::SIOCSIFMTU, &mut req)
    }

    fn add_to_bridge(&self, bridge: &str, name: &str) -> Result<(), String> {
        let mut req = Self::request(name)?;
        self.ioctl("finding", name, libc::SIOCGIFINDEX, &mut req)?;
        // SAFETY: SIOCGIFINDEX filled the ifindex member.
        let index = unsafe { req.ifr_ifru.ifru_ifindex };
        let mut req = Self::request(bridge)?;
        req.ifr_ifru.ifru_ifindex = index;
        self.ioctl(&format!("adding {name} to"), bridge, SIOCBRADDIF, &mut req)
    }

    fn set_up(&self, name: &str) -> Result<(), String> {
        let mut req = Self::request(name)?;
        self.ioctl("reading the flags of", name, libc::SIOCGIFFLAGS, &mut req)?;
        // SAFETY: SIOCGIFFLAGS filled the flags member.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        self.ioctl("bringing up", name, libc::SIOCSIFFLAGS, &mut req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom0_xenstore::{Dom0Transport, test_daemon};
    use std::process::Command;

    fn ip(args: &str) -> String {
        let out = Command::new("ip").args(args.split_whitespace()).output().expect("ip");
        assert!(out.status.success(), "ip {args}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn the_action_is_found_among_libxls_arguments() {
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(action_of(&words("/run/oxclick/oxclick-vif-bridge online type_if=vif")), Some("online"));
        assert_eq!(action_of(&words("offline")), Some("offline"));
        assert_eq!(action_of(&words("/s type_if=vif")), None);
    }

    /// In a network namespace of its own (this thread's), as root: a bridge
    /// with MTU 1400 and a veth device standing in for the vif.
    #[test]
    fn a_vif_joins_its_bridge_with_the_bridges_mtu_and_comes_up() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 || Command::new("ip").arg("-V").output().is_err() {
            eprintln!("skipped: needs root and iproute2 (a network namespace, a bridge and a veth pair)");
            return;
        }
        std::thread::spawn(|| {
            // SAFETY: unshare of this thread's network namespace; nothing else shares it.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
            ip("link add brt0 type bridge");
            ip("link set dev brt0 mtu 1400");
            ip("link add vift1.0 type veth peer name plain0");
            let backend = "/local/domain/0/backend/vif/1/0";
            let tree = [
                (format!("{backend}/bridge"), "brt0".to_string()),
                ("/b/2/bridge".into(), "plain0".into()),
                ("/b/3/bridge".into(), "nosuch0".into()),
            ];
            let path = test_daemon::spawn(tree.into_iter().collect(), Box::new(|_| vec![]));
            let mut xs = Store::over(Dom0Transport::connect_socket(path.to_str().unwrap()).unwrap());
            attach(&mut xs, "vift1.0", backend).unwrap();
            let link = ip("-o link show dev vift1.0");
            assert!(link.contains("mtu 1400") && link.contains("master brt0") && link.contains(",UP"), "{link}");
            let e = attach(&mut xs, "vift1.0", backend).unwrap_err();
            assert!(e.contains("on a bridge already"), "{e}");
            let e = attach(&mut xs, "vift1.0", "/b/2").unwrap_err();
            assert!(e.contains("plain0 is not a bridge"), "{e}");
            let e = attach(&mut xs, "vift1.0", "/b/3").unwrap_err();
            assert!(e.contains("no interface named nosuch0"), "{e}");
            let e = attach(&mut xs, "vift1.0", "/b/4").unwrap_err();
            assert!(e.contains("no bridge in the vif's configuration"), "{e}");
            // The platform's vifs: up, on no bridge.
            ip("link set dev plain0 down");
            bring_up("plain0").unwrap();
            let link = ip("-o link show dev plain0");
            assert!(link.contains(",UP") && !link.contains("master"), "{link}");
        })
        .join()
        .unwrap();
    }
}
