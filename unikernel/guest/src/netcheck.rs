//! A network self-check for end-to-end tests: on every vif, ask (ARP) for a
//! peer's MAC address and wait for the answer. A reply proves the whole path:
//! xenbus handshake, grants, both rings, event channels, and the backend's
//! bridge. Enabled with `netcheck` (peer 192.0.2.1, us 192.0.2.2, the
//! addresses of xen-under-qemu.md's dom0 bridge) or `netcheck=OURS/PEER`.

use alloc::format;
use alloc::string::String;

use crate::Domain;
use crate::net::format_mac;

const ETH_P_ARP: u16 = 0x0806;

pub fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    let mut ip = [0u8; 4];
    let mut parts = text.split('.');
    for byte in ip.iter_mut() {
        *byte = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(ip)
}

/// "who-has `target` tell `sender`", broadcast, padded to the Ethernet minimum.
pub fn arp_request(mac: [u8; 6], sender: [u8; 4], target: [u8; 4]) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&sender);
    f[38..42].copy_from_slice(&target);
    f
}

/// The sender MAC of an ARP reply from `from`, if `frame` is one.
pub fn arp_reply_from(frame: &[u8], from: [u8; 4]) -> Option<[u8; 6]> {
    if frame.len() < 42 || frame[12..14] != ETH_P_ARP.to_be_bytes() || frame[20..22] != 2u16.to_be_bytes() {
        return None;
    }
    (frame[28..32] == from).then(|| frame[22..28].try_into().unwrap())
}

pub fn run(d: &mut Domain, spec: Option<&str>) -> Result<(), String> {
    let spec = spec.unwrap_or("192.0.2.2/192.0.2.1");
    let (ours, peer) = spec.split_once('/').ok_or("netcheck=OURS/PEER")?;
    let ours = parse_ipv4(ours).ok_or("bad netcheck address")?;
    let peer = parse_ipv4(peer).ok_or("bad netcheck peer")?;
    if d.net.vifs.is_empty() {
        return Err("no vif".into());
    }

    let xen = d.xen;
    let link_deadline = xen.now_ns() + 60_000_000_000;
    while !d.net.all_up() {
        if xen.now_ns() > link_deadline {
            return Err("vifs did not connect within 60 s".into());
        }
        d.run_once(link_deadline, &mut |_, _| {});
    }
    crate::log!("oxclick: netcheck: {} vif(s) connected", d.net.vifs.len());

    for i in 0..d.net.vifs.len() {
        let mac = d.net.vifs[i].node.mac;
        let index = d.net.vifs[i].node.index;
        let request = arp_request(mac, ours, peer);
        let started = xen.now_ns();
        let mut answer = None;
        for _attempt in 0..10 {
            d.send(i, &request).map_err(|e| format!("vif{index}: send: {e}"))?;
            let deadline = xen.now_ns() + 1_000_000_000;
            while answer.is_none() && xen.now_ns() < deadline {
                d.run_once(deadline, &mut |vif, frame| {
                    if vif == i {
                        answer = answer.or(arp_reply_from(frame, peer));
                    }
                });
            }
            if answer.is_some() {
                break;
            }
        }
        let peer_mac = answer.ok_or_else(|| format!("vif{index}: no ARP reply from the peer in 10 s"))?;
        let stats = d.net.vifs[i].net.stats();
        crate::log!(
            "oxclick: netcheck: vif{index}: peer is at {} ({} us); rx {} tx {} packets",
            format_mac(&peer_mac),
            (xen.now_ns() - started) / 1000,
            stats.rx_packets,
            stats.tx_packets
        );
    }
    Ok(())
}

/// After the check, the guest keeps answering ARP and ping for its address,
/// so a test can push sustained traffic through both rings (`ping -A`).
pub struct Responder {
    pub ip: [u8; 4],
    pub arp_replies: u64,
    pub echo_replies: u64,
}

impl Responder {
    pub fn from_spec(spec: Option<&str>) -> Option<Responder> {
        let ours = spec.unwrap_or("192.0.2.2/192.0.2.1").split('/').next()?;
        Some(Responder { ip: parse_ipv4(ours)?, arp_replies: 0, echo_replies: 0 })
    }

    /// The reply to `frame` received on an interface with address `mac`, if any.
    pub fn answer(&mut self, mac: [u8; 6], frame: &[u8]) -> Option<alloc::vec::Vec<u8>> {
        if frame.len() < 42 {
            return None;
        }
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype == ETH_P_ARP && frame[20..22] == 1u16.to_be_bytes() && frame[38..42] == self.ip {
            let mut reply = frame[..42].to_vec();
            reply.resize(60, 0);
            reply[0..6].copy_from_slice(&frame[22..28]);
            reply[6..12].copy_from_slice(&mac);
            reply[20..22].copy_from_slice(&2u16.to_be_bytes());
            reply[22..28].copy_from_slice(&mac);
            reply[28..32].copy_from_slice(&self.ip);
            reply[32..38].copy_from_slice(&frame[22..28]);
            reply[38..42].copy_from_slice(&frame[28..32]);
            self.arp_replies += 1;
            return Some(reply);
        }
        if ethertype != 0x0800 || frame[0..6] != mac {
            return None;
        }
        let ip = &frame[14..];
        let header_len = ((ip[0] & 0x0f) as usize) * 4;
        let total_len = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        if ip[0] >> 4 != 4 || header_len < 20 || total_len < header_len + 8 || total_len > ip.len() {
            return None;
        }
        // ICMP echo request to us, not fragmented.
        if ip[9] != 1
            || ip[16..20] != self.ip
            || ip[header_len] != 8
            || u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0
        {
            return None;
        }
        let mut reply = frame[..14 + total_len].to_vec();
        reply[0..6].copy_from_slice(&frame[6..12]);
        reply[6..12].copy_from_slice(&mac);
        let ipr = &mut reply[14..];
        // Swapping source and destination keeps the IP header checksum valid.
        let (src, dst) = (ipr[12..16].to_vec(), ipr[16..20].to_vec());
        ipr[12..16].copy_from_slice(&dst);
        ipr[16..20].copy_from_slice(&src);
        let icmp = &mut ipr[header_len..total_len];
        icmp[0] = 0;
        icmp[2] = 0;
        icmp[3] = 0;
        let sum = internet_checksum(icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        if reply.len() < 60 {
            reply.resize(60, 0);
        }
        self.echo_replies += 1;
        Some(reply)
    }
}

/// RFC 1071 checksum.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 { u16::from_be_bytes([chunk[0], chunk[1]]) } else { (chunk[0] as u16) << 8 };
        sum += word as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
