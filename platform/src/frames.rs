//! What the daemon reads from frames, and the ARP replies it writes. Frames come
//! from the network and from tenants: hostile both ways, so every read is checked.

use std::net::Ipv4Addr;

const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];

/// The IPv4 fields demux and transmit checks look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Fields {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    /// Transport ports of the first fragment of TCP and UDP.
    pub ports: Option<(u16, u16)>,
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// The IPv4 fields of an Ethernet frame, or `None` if it carries no whole IPv4 header.
pub fn ipv4(frame: &[u8]) -> Option<Ipv4Fields> {
    let f = oxclick_elements::wire::frame_ipv4(frame)?;
    Some(Ipv4Fields {
        src: Ipv4Addr::from(f.src),
        dst: Ipv4Addr::from(f.dst),
        proto: f.proto,
        ports: f.src_port.zip(f.dst_port),
    })
}

/// An ARP packet's operation, sender and target protocol addresses (Ethernet/IPv4 only).
pub struct Arp {
    pub request: bool,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
}

pub fn arp(frame: &[u8]) -> Option<Arp> {
    if frame.get(12..14)? != ETHERTYPE_ARP {
        return None;
    }
    let a = frame.get(14..42)?;
    if a[0..6] != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let op = u16::from_be_bytes([a[6], a[7]]);
    let mut sender_mac = [0u8; 6];
    sender_mac.copy_from_slice(&a[8..14]);
    Some(Arp { request: op == 1, sender_mac, sender_ip: addr(&a[14..18]), target_ip: addr(&a[24..28]) })
}

/// The reply to ARP request `req`: `ip` is at `mac`.
pub fn arp_reply(req: &Arp, ip: Ipv4Addr, mac: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; 42];
    f[0..6].copy_from_slice(&req.sender_mac);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETHERTYPE_ARP);
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    f[32..38].copy_from_slice(&req.sender_mac);
    f[38..42].copy_from_slice(&req.sender_ip.octets());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_odd_frames_are_not_read_past_their_end() {
        for n in 0..60 {
            let mut f = vec![0u8; n];
            if n >= 14 {
                f[12] = 8;
                f[14.min(n - 1)] = 0x45;
            }
            let _ = ipv4(&f);
            let _ = arp(&f);
        }
        let mut f = vec![0u8; 34];
        f[12] = 8;
        f[14] = 0x4f; // a 60-byte header in a 20-byte packet
        assert!(ipv4(&f).is_none());
    }

    #[test]
    fn an_arp_request_gets_a_reply_for_the_asked_address() {
        let mut req = vec![0u8; 42];
        req[12..14].copy_from_slice(&[8, 6]);
        req[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        req[22..28].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        req[28..32].copy_from_slice(&[10, 0, 0, 1]);
        req[38..42].copy_from_slice(&[10, 0, 0, 9]);
        let a = arp(&req).expect("arp");
        assert!(a.request);
        assert_eq!(a.target_ip, Ipv4Addr::new(10, 0, 0, 9));
        let r = arp_reply(&a, a.target_ip, [2, 0, 0, 0, 0, 9]);
        let b = arp(&r).expect("reply parses");
        assert!(!b.request);
        assert_eq!(b.sender_ip, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(r[0..6], [2, 0, 0, 0, 0, 1]);
    }
}
