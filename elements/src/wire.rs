//! Protocol facts the IP elements share (not an element): protocol numbers, ICMP
//! type and code names as Click spells them, and the transport checksum over the
//! IPv4 pseudo-header. Every function takes untrusted bytes and checks bounds.

use crate::ip::ip_checksum;

pub const IP_PROTO_ICMP: u8 = 1;
pub const IP_PROTO_TCP: u8 = 6;
pub const IP_PROTO_UDP: u8 = 17;

/// Where the TCP segment of an IPv4 packet sits, as offsets from the start of
/// its IP header: the TCP header, the payload, and the payload's end by the IP
/// total length (so link-layer padding is not payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInIpv4 {
    pub tcp: usize,
    pub payload: usize,
    pub end: usize,
}

/// The TCP segment of IPv4 packet `ip` (from its IP header on), if it is TCP, a
/// first fragment, and holds a whole TCP header within its IP length.
pub fn tcp_in_ipv4(ip: &[u8]) -> Option<TcpInIpv4> {
    let h = ip.get(..20)?;
    let hl = usize::from(h[0] & 0x0f) * 4;
    let first_fragment = u16::from_be_bytes([h[6], h[7]]) & 0x1fff == 0;
    if h[9] != IP_PROTO_TCP || hl < 20 || !first_fragment {
        return None;
    }
    let end = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let thl = usize::from(*ip.get(hl + 12)? >> 4) * 4;
    let payload = hl + thl;
    (thl >= 20 && payload <= end && end <= ip.len()).then_some(TcpInIpv4 { tcp: hl, payload, end })
}

/// The IPv4 fields of an Ethernet frame that demultiplexing and source checks
/// look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameIpv4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    /// The TCP or UDP source port of a first fragment whose datagram holds it.
    pub src_port: Option<u16>,
    /// The destination port, likewise.
    pub dst_port: Option<u16>,
}

/// The IPv4 fields of an Ethernet frame, or `None` if it carries no whole IPv4
/// header (by its ethertype, not by annotations: what is on the wire counts).
pub fn frame_ipv4(frame: &[u8]) -> Option<FrameIpv4> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let vhl = *ip.first()?;
    let hl = usize::from(vhl & 0x0f) * 4;
    if vhl >> 4 != 4 || hl < 20 || ip.len() < hl {
        return None;
    }
    let proto = ip[9];
    let first_fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
    let port = |at: usize| match (first_fragment, proto, ip.get(at..at + 2)) {
        (true, IP_PROTO_TCP | IP_PROTO_UDP, Some(p)) => Some(u16::from_be_bytes([p[0], p[1]])),
        _ => None,
    };
    Some(FrameIpv4 {
        src: [ip[12], ip[13], ip[14], ip[15]],
        dst: [ip[16], ip[17], ip[18], ip[19]],
        proto,
        src_port: port(hl),
        dst_port: port(hl + 2),
    })
}

/// An IP protocol by name or number: `tcp`, `udp`, `icmp`, `17`.
pub fn parse_ip_proto(s: &str) -> Option<u8> {
    match s {
        "tcp" => Some(IP_PROTO_TCP),
        "udp" => Some(IP_PROTO_UDP),
        "icmp" => Some(IP_PROTO_ICMP),
        _ => s.parse().ok(),
    }
}

/// ICMP types by Click's names (`click/icmp.hh`).
pub const ICMP_TYPES: &[(&str, u8)] = &[
    ("echo-reply", 0),
    ("unreachable", 3),
    ("sourcequench", 4),
    ("redirect", 5),
    ("echo", 8),
    ("routeradvert", 9),
    ("routersolicit", 10),
    ("timeexceeded", 11),
    ("parameterproblem", 12),
    ("timestamp", 13),
    ("timestamp-reply", 14),
    ("inforeq", 15),
    ("inforeq-reply", 16),
    ("maskreq", 17),
    ("maskreq-reply", 18),
];

/// ICMP codes by name, for the types that have named codes.
pub const ICMP_CODES: &[(u8, &str, u8)] = &[
    (3, "net", 0),
    (3, "host", 1),
    (3, "protocol", 2),
    (3, "port", 3),
    (3, "needfrag", 4),
    (3, "srcroutefail", 5),
    (3, "net-unknown", 6),
    (3, "host-unknown", 7),
    (3, "isolated", 8),
    (3, "net-prohibited", 9),
    (3, "host-prohibited", 10),
    (3, "tos-net", 11),
    (3, "tos-host", 12),
    (3, "filterprohibited", 13),
    (3, "host-precedence", 14),
    (3, "precedence-cutoff", 15),
    (5, "net", 0),
    (5, "host", 1),
    (5, "tos-net", 2),
    (5, "tos-host", 3),
    (11, "transit", 0),
    (11, "reassembly", 1),
    (12, "erroratptr", 0),
    (12, "missingopt", 1),
    (12, "length", 2),
];

pub fn icmp_type_by_name(name: &str) -> Option<u8> {
    ICMP_TYPES.iter().find(|(n, _)| *n == name).map(|&(_, t)| t).or_else(|| name.parse().ok())
}

pub fn icmp_type_name(t: u8) -> Option<&'static str> {
    ICMP_TYPES.iter().find(|&&(_, v)| v == t).map(|&(n, _)| n)
}

pub fn icmp_code_by_name(ty: u8, name: &str) -> Option<u8> {
    ICMP_CODES.iter().find(|&&(t, n, _)| t == ty && n == name).map(|&(_, _, c)| c).or_else(|| name.parse().ok())
}

/// The TCP or UDP checksum of `segment` carried between `src` and `dst` with
/// protocol `proto`, as it belongs in the header (the checksum field of
/// `segment` must be zero while computing it).
pub fn transport_checksum(src: [u8; 4], dst: [u8; 4], proto: u8, segment: &[u8]) -> u16 {
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&src);
    pseudo[4..8].copy_from_slice(&dst);
    pseudo[9] = proto;
    let len = segment.len().min(0xffff) as u16;
    pseudo[10..12].copy_from_slice(&len.to_be_bytes());
    // Sum the two parts without copying: un-complement each and add.
    let a = u32::from(!ip_checksum(&pseudo));
    let b = u32::from(!ip_checksum(segment));
    let mut s = a + b;
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Fill in the IP header checksum and, for a complete first-fragment TCP, UDP or
/// ICMP packet, its transport checksum. `ip` starts at the IP header; nothing
/// happens when the header is not all there.
pub fn set_checksums(ip: &mut [u8]) {
    if ip.len() < 20 {
        return;
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
    if hl < 20 || hl > ip.len() {
        return;
    }
    ip[10] = 0;
    ip[11] = 0;
    let sum = ip_checksum(&ip[..hl]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    let first_frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
    if !first_frag || total < hl {
        return;
    }
    let (src, dst, proto) = ([ip[12], ip[13], ip[14], ip[15]], [ip[16], ip[17], ip[18], ip[19]], ip[9]);
    let seg = &mut ip[hl..total];
    let at = match proto {
        IP_PROTO_TCP if seg.len() >= 20 => 16,
        IP_PROTO_UDP if seg.len() >= 8 => 6,
        IP_PROTO_ICMP if seg.len() >= 4 => 2,
        _ => return,
    };
    seg[at] = 0;
    seg[at + 1] = 0;
    let sum = match proto {
        IP_PROTO_ICMP => ip_checksum(seg),
        // A computed UDP checksum of zero is sent as all ones: zero means none.
        IP_PROTO_UDP => match transport_checksum(src, dst, proto, seg) {
            0 => 0xffff,
            s => s,
        },
        _ => transport_checksum(src, dst, proto, seg),
    };
    seg[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn udp_checksum_verifies_to_zero() {
        let mut ip = [0u8; 28];
        ip[0] = 0x45;
        ip[3] = 28;
        ip[8] = 64;
        ip[9] = IP_PROTO_UDP;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        ip[20..28].copy_from_slice(&[0x13, 0x69, 0x13, 0x69, 0, 8, 0, 0]);
        set_checksums(&mut ip);
        assert_eq!(ip_checksum(&ip[..20]), 0);
        // Summing the pseudo-header and the segment with its checksum gives zero.
        let seg = ip[20..].to_vec();
        assert_eq!(transport_checksum([10, 0, 0, 1], [10, 0, 0, 2], 17, &seg), 0);
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(icmp_type_by_name("echo"), Some(8));
        assert_eq!(icmp_type_name(0), Some("echo-reply"));
        assert_eq!(icmp_code_by_name(3, "needfrag"), Some(4));
        assert_eq!(icmp_code_by_name(3, "7"), Some(7));
    }

    #[test]
    fn the_tcp_segment_is_found_by_the_ip_length() {
        // 20-byte IP header, 24-byte TCP header (one option word), 5 payload
        // bytes, then 3 bytes of link-layer padding.
        let mut ip = vec![0x45, 0, 0, 49, 0, 1, 0x40, 0, 64, IP_PROTO_TCP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let mut tcp = vec![0u8; 24];
        tcp[12] = 6 << 4;
        ip.extend(tcp);
        ip.extend(b"hello");
        ip.extend([0; 3]);
        assert_eq!(tcp_in_ipv4(&ip), Some(TcpInIpv4 { tcp: 20, payload: 44, end: 49 }));
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut v = ip.clone();
            f(&mut v);
            tcp_in_ipv4(&v)
        };
        assert_eq!(with(&|v| v[9] = IP_PROTO_UDP), None, "not TCP");
        assert_eq!(with(&|v| v[7] = 1), None, "a later fragment");
        assert_eq!(with(&|v| v[32] = 4 << 4), None, "TCP header under 20 bytes");
        assert_eq!(with(&|v| v[3] = 40), None, "IP length short of the TCP header");
        assert_eq!(with(&|v| v[3] = 60), None, "IP length past the data");
        assert_eq!(with(&|v| v.truncate(30)), None, "cut inside the TCP header");
        assert_eq!(with(&|v| v[0] = 0x44), None, "IP header under 20 bytes");
    }
}
