//! Linux packet I/O for the host elements (not an element): AF_PACKET sockets
//! bound to one interface, and TUN/TAP devices. Everything is non-blocking; the
//! elements poll.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::string::String;

/// What a received frame was, from the kernel's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Host,
    Broadcast,
    Multicast,
    OtherHost,
    Outgoing,
}

fn last_error(what: &str) -> String {
    std::format!("{what}: {}", io::Error::last_os_error())
}

/// A raw AF_PACKET socket bound to one interface (all protocols).
/// The Linux network device named `dev`, or else (as Click's FromDevice and
/// ToDevice allow) the one whose Ethernet address is `mac`, the address `dev`
/// stands for.
pub fn resolve_device(dev: &str, mac: Option<[u8; 6]>) -> Result<String, String> {
    let base = std::path::Path::new("/sys/class/net");
    if base.join(dev).exists() {
        return Ok(dev.into());
    }
    let Some(mac) = mac else { return Err(std::format!("no such device '{dev}'")) };
    let want =
        std::format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    let entries = std::fs::read_dir(base).map_err(|e| std::format!("{}: {e}", base.display()))?;
    for entry in entries.flatten() {
        let address = std::fs::read_to_string(entry.path().join("address")).unwrap_or_default();
        if address.trim() == want {
            return Ok(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Err(std::format!("no device named '{dev}' or with Ethernet address {want}"))
}

/// Whether recvmsg's auxiliary data says the frame's checksum is not filled in.
fn checksum_not_ready(msg: &libc::msghdr) -> bool {
    // SAFETY: walking the control messages recvmsg wrote, with libc's macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                let aux = libc::CMSG_DATA(c).cast::<libc::tpacket_auxdata>().read_unaligned();
                return aux.tp_status & libc::TP_STATUS_CSUMNOTREADY != 0;
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    false
}

/// Fill in the transport checksum of an Ethernet frame carrying IPv4.
fn complete_checksum(frame: &mut [u8]) {
    if frame.len() > 14 && frame[12..14] == [0x08, 0x00] {
        crate::wire::set_checksums(&mut frame[14..]);
    }
}

/// `setsockopt(fd, SOL_PACKET, name, value)`; its return value.
fn set_packet_option<T>(fd: &OwnedFd, name: libc::c_int, value: &T) -> libc::c_int {
    // SAFETY: `value` is a valid T of the size we pass, which is what option
    // `name` takes (the callers pair them).
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            name,
            (value as *const T).cast(),
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    }
}

pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    pub fn open(dev: &str, promisc: bool) -> Result<PacketSocket, String> {
        let name = CString::new(dev).map_err(|_| String::from("bad device name"))?;
        // SAFETY: plain libc calls with valid arguments; the fd is owned below.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(std::format!("no such device '{dev}'"));
        }
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: as above.
        let raw = unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, i32::from(proto))
        };
        if raw < 0 {
            return Err(last_error("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: zeroed sockaddr_ll is valid; we fill the fields bind needs.
        let mut sll: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = index as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the size we pass.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const sll).cast(),
                core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_error("bind"));
        }
        if promisc {
            // SAFETY: zeroed packet_mreq is valid; we fill it.
            let mut mr: libc::packet_mreq = unsafe { core::mem::zeroed() };
            mr.mr_ifindex = index as i32;
            mr.mr_type = libc::PACKET_MR_PROMISC as u16;
            if set_packet_option(&fd, libc::PACKET_ADD_MEMBERSHIP, &mr) < 0 {
                return Err(last_error("promiscuous mode"));
            }
        }
        // Frames a local sender left for the device to checksum (veth and TAP
        // pass them on so) are flagged in the auxiliary data: recv completes them.
        set_packet_option(&fd, libc::PACKET_AUXDATA, &(1 as libc::c_int));
        Ok(PacketSocket { fd })
    }

    /// One frame into `buf`: its length and direction, or `None` if none waits.
    /// A frame whose TCP or UDP checksum the sender left to the hardware (a
    /// local sender on a veth or TAP device: only the pseudo-header sum is
    /// there) gets its checksum completed, so a router that rewrites it
    /// incrementally, or sends it on through another device, sends a valid one.
    pub fn recv(&self, buf: &mut [u8]) -> Option<(usize, Direction)> {
        // SAFETY: zeroed sockaddr_ll, msghdr and control buffer are valid for
        // recvmsg to fill; every pointer stays valid for the call.
        let mut from: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
        let mut control = [0u64; 8];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_name = (&raw mut from).cast();
        msg.msg_namelen = core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = core::mem::size_of_val(&control);
        // SAFETY: `msg` describes valid buffers.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC) };
        if n < 0 {
            return None;
        }
        // MSG_TRUNC reports the full length; keep what fit.
        let n = (n as usize).min(buf.len());
        if checksum_not_ready(&msg) {
            complete_checksum(&mut buf[..n]);
        }
        let dir = match from.sll_pkttype {
            libc::PACKET_BROADCAST => Direction::Broadcast,
            libc::PACKET_MULTICAST => Direction::Multicast,
            libc::PACKET_OTHERHOST => Direction::OtherHost,
            libc::PACKET_OUTGOING => Direction::Outgoing,
            _ => Direction::Host,
        };
        Some((n, dir))
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is valid for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}

impl AsRawFd for PacketSocket {
    /// For poll(2) in drivers that wait on several sockets.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// A TUN (IP packets) or TAP (Ethernet frames) device owned by this process.
pub struct TunDevice {
    fd: OwnedFd,
    pub name: String,
}

fn ifreq_for(name: &str) -> Result<libc::ifreq, String> {
    // SAFETY: zeroed ifreq is valid.
    let mut ifr: libc::ifreq = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= ifr.ifr_name.len() {
        return Err(std::format!("device name '{name}' too long"));
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(ifr)
}

/// An AF_INET datagram socket, for interface ioctls.
fn control_socket() -> Result<OwnedFd, String> {
    // SAFETY: plain socket call; the fd is owned below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(last_error("socket(AF_INET)"));
    }
    // SAFETY: new descriptor, owned here only.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn sockaddr_in(addr: [u8; 4]) -> libc::sockaddr {
    // SAFETY: zeroed sockaddr_in is valid.
    let mut sin: libc::sockaddr_in = unsafe { core::mem::zeroed() };
    sin.sin_family = libc::AF_INET as u16;
    sin.sin_addr.s_addr = u32::from_ne_bytes(addr);
    // SAFETY: sockaddr_in and sockaddr have the same size on Linux.
    unsafe { core::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

impl TunDevice {
    /// Create (or attach to) device `name` (`tun%d`/`tap%d` patterns allowed).
    pub fn open(name: &str, tap: bool) -> Result<TunDevice, String> {
        let path = c"/dev/net/tun";
        // SAFETY: valid C string path.
        let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(last_error("/dev/net/tun"));
        }
        // SAFETY: new descriptor, owned here only.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut ifr = ifreq_for(name)?;
        ifr.ifr_ifru.ifru_flags = (if tap { libc::IFF_TAP } else { libc::IFF_TUN } | libc::IFF_NO_PI) as i16;
        // SAFETY: TUNSETIFF takes a pointer to an ifreq.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) } < 0 {
            return Err(last_error("TUNSETIFF"));
        }
        let name: String = ifr.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect();
        Ok(TunDevice { fd, name })
    }

    /// Give the device an address and netmask, an optional MTU and Ethernet
    /// address, and bring it up.
    pub fn configure(
        &self,
        addr: [u8; 4],
        mask: [u8; 4],
        mtu: Option<u32>,
        ether: Option<[u8; 6]>,
    ) -> Result<(), String> {
        let s = control_socket()?;
        let ioctl = |req: libc::c_ulong, ifr: &mut libc::ifreq, what: &str| -> Result<(), String> {
            // SAFETY: each request takes a pointer to an ifreq.
            if unsafe { libc::ioctl(s.as_raw_fd(), req, ifr as *mut libc::ifreq) } < 0 {
                Err(last_error(what))
            } else {
                Ok(())
            }
        };
        if let Some(e) = ether {
            let mut ifr = ifreq_for(&self.name)?;
            // SAFETY: zeroed sockaddr is valid; we fill family and bytes.
            let mut sa: libc::sockaddr = unsafe { core::mem::zeroed() };
            sa.sa_family = libc::ARPHRD_ETHER;
            for (d, s) in sa.sa_data.iter_mut().zip(e) {
                *d = s as libc::c_char;
            }
            ifr.ifr_ifru.ifru_hwaddr = sa;
            ioctl(libc::SIOCSIFHWADDR, &mut ifr, "setting the Ethernet address")?;
        }
        if let Some(m) = mtu {
            let mut ifr = ifreq_for(&self.name)?;
            ifr.ifr_ifru.ifru_mtu = m as i32;
            ioctl(libc::SIOCSIFMTU, &mut ifr, "setting the MTU")?;
        }
        let mut ifr = ifreq_for(&self.name)?;
        ifr.ifr_ifru.ifru_addr = sockaddr_in(addr);
        ioctl(libc::SIOCSIFADDR, &mut ifr, "setting the address")?;
        let mut ifr = ifreq_for(&self.name)?;
        ifr.ifr_ifru.ifru_netmask = sockaddr_in(mask);
        ioctl(libc::SIOCSIFNETMASK, &mut ifr, "setting the netmask")?;
        self.bring_up()
    }

    /// Bring the device up. Without an address (as [`TunDevice::configure`]
    /// gives), the host takes what it is given on it, as ToHost wants, and
    /// sniffers see it, but the host routes nothing through it.
    pub fn bring_up(&self) -> Result<(), String> {
        let s = control_socket()?;
        let mut ifr = ifreq_for(&self.name)?;
        // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS take a pointer to an ifreq.
        if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr as *mut libc::ifreq) } < 0 {
            return Err(last_error("reading the flags"));
        }
        // SAFETY: the union holds flags after SIOCGIFFLAGS.
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        ifr.ifr_ifru.ifru_flags = flags | (libc::IFF_UP | libc::IFF_RUNNING) as i16;
        // SAFETY: as above.
        if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &mut ifr as *mut libc::ifreq) } < 0 {
            return Err(last_error("bringing the device up"));
        }
        Ok(())
    }

    /// The TAP device `name` this process has open, opening it (and bringing
    /// it up) on first use: every element that hands frames to it shares one
    /// descriptor, as Linux allows only one per device.
    pub fn shared_tap(name: &str) -> Result<std::sync::Arc<TunDevice>, String> {
        use std::sync::{Arc, Mutex, Weak};
        static OPEN: Mutex<std::vec::Vec<(String, Weak<TunDevice>)>> = Mutex::new(std::vec::Vec::new());
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|(_, w)| w.strong_count() > 0);
        if let Some(dev) = open.iter().find(|(n, _)| n == name).and_then(|(_, w)| w.upgrade()) {
            return Ok(dev);
        }
        let dev = Arc::new(TunDevice::open(name, true)?);
        // The host should not talk on it on its own (IPv6 neighbour discovery
        // would put its own frames among the router's).
        let _ = std::fs::write(std::format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", dev.name), "1");
        dev.bring_up().map_err(|e| std::format!("{name}: {e}"))?;
        open.push((name.into(), Arc::downgrade(&dev)));
        Ok(dev)
    }

    pub fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        (n > 0).then_some(n as usize)
    }

    pub fn send(&self, data: &[u8]) -> io::Result<()> {
        // SAFETY: `data` is valid for its length.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}

/// The Ethernet address of device `dev`, from sysfs.
pub fn device_ether(dev: &str) -> Option<[u8; 6]> {
    let text = std::fs::read_to_string(std::format!("/sys/class/net/{dev}/address")).ok()?;
    let mut out = [0u8; 6];
    let mut parts = text.trim().split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    Some(out)
}
