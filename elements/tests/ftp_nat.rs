//! Active-mode FTP through a NAT: FTPPortMapper rewrites the PORT command and
//! makes the data connection's mapping; TCPRewriter shifts the control
//! connection's sequence numbers by the command's change in length and
//! translates the server's acknowledgements (SACK blocks too) back. Frames go
//! in and out through the runtime's devices, in order: device 0 is inside,
//! device 1 outside.

mod common;

use oxclick_elements::ip::ip_checksum;
use oxclick_elements::wire::{set_checksums, transport_checksum};
use oxclick_runtime::{DeviceInfo, Router};
use proptest::prelude::*;

const NAT: &str = "
    tcp_rw :: TCPRewriter(pattern 1.0.0.1 50000-50099# - - 0 1, drop);
    rw :: IPRewriter(pattern 1.0.0.1 40000-40099# - - 0 1, drop);
    FromNetfront(0) -> Strip(14) -> CheckIPHeader -> inside :: IPClassifier(dst tcp port 21, -);
    inside[0] -> ftp :: FTPPortMapper(tcp_rw, rw, 0) -> [0] tcp_rw;
    inside[1] -> [0] rw;
    FromNetfront(1) -> Strip(14) -> CheckIPHeader -> outside :: IPClassifier(src tcp port 21, -);
    outside[0] -> [1] tcp_rw;
    outside[1] -> [1] rw;
    to_world :: EtherEncap(0x0800, 2:0:0:0:0:1, 2:0:0:0:0:2) -> ToNetfront(1);
    to_inside :: EtherEncap(0x0800, 2:0:0:0:0:1, 2:0:0:0:0:3) -> ToNetfront(0);
    tcp_rw[0] -> to_world; rw[0] -> to_world;
    tcp_rw[1] -> to_inside; rw[1] -> to_inside;
";

/// The router of `src` with `ndev` devices, or its errors.
fn router(src: &str, ndev: usize) -> Result<Router, Vec<String>> {
    let devices = (0..ndev).map(|i| DeviceInfo { name: format!("vif{i}"), mac: [2, 0, 0, 0, 0, 1] }).collect();
    common::router(src, devices, true)
}

fn build() -> Router {
    router(NAT, 2).expect("the NAT builds")
}

struct Segment<'a> {
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    /// TCP options (a multiple of 4 bytes).
    options: &'a [u8],
    payload: &'a [u8],
}

/// An Ethernet frame carrying `s`, with valid checksums.
fn frame(s: &Segment) -> Vec<u8> {
    let thl = 20 + s.options.len();
    let total = 20 + thl + s.payload.len();
    let mut f = vec![0u8; 14 + total];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&s.src);
    ip[16..20].copy_from_slice(&s.dst);
    let t = &mut ip[20..];
    t[0..2].copy_from_slice(&s.sport.to_be_bytes());
    t[2..4].copy_from_slice(&s.dport.to_be_bytes());
    t[4..8].copy_from_slice(&s.seq.to_be_bytes());
    t[8..12].copy_from_slice(&s.ack.to_be_bytes());
    t[12] = ((thl / 4) as u8) << 4;
    t[13] = s.flags;
    t[14..16].copy_from_slice(&8192u16.to_be_bytes());
    t[20..thl].copy_from_slice(s.options);
    t[thl..].copy_from_slice(s.payload);
    set_checksums(ip);
    f
}

/// What came out of device `dev`: IP packets (Ethernet header removed).
fn sent(r: &mut Router, dev: usize) -> Vec<Vec<u8>> {
    r.run_while_busy();
    let mut out = Vec::new();
    r.device_transmit(dev, |f| {
        out.push(f[14..].to_vec());
        true
    });
    out
}

struct Tcp<'a>(&'a [u8]);

impl Tcp<'_> {
    fn t(&self) -> &[u8] {
        &self.0[usize::from(self.0[0] & 15) * 4..]
    }
    fn src(&self) -> ([u8; 4], u16) {
        (self.0[12..16].try_into().unwrap(), u16::from_be_bytes([self.t()[0], self.t()[1]]))
    }
    fn dst(&self) -> ([u8; 4], u16) {
        (self.0[16..20].try_into().unwrap(), u16::from_be_bytes([self.t()[2], self.t()[3]]))
    }
    fn seq(&self) -> u32 {
        u32::from_be_bytes(self.t()[4..8].try_into().unwrap())
    }
    fn ack(&self) -> u32 {
        u32::from_be_bytes(self.t()[8..12].try_into().unwrap())
    }
    fn payload(&self) -> &[u8] {
        &self.t()[usize::from(self.t()[12] >> 4) * 4..]
    }
    /// Both checksums verify, and the IP length is the packet's.
    fn valid(&self) -> bool {
        let len = usize::from(u16::from_be_bytes([self.0[2], self.0[3]]));
        let (src, dst) = (self.src().0, self.dst().0);
        len == self.0.len() && ip_checksum(&self.0[..20]) == 0 && transport_checksum(src, dst, 6, self.t()) == 0
    }
}

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [9, 9, 9, 9];
const NAT_ADDR: [u8; 4] = [1, 0, 0, 1];
const ACK: u8 = 0x10;
const SYN: u8 = 0x02;
const PSH_ACK: u8 = 0x18;

fn from_client<'a>(seq: u32, flags: u8, payload: &'a [u8]) -> Segment<'a> {
    Segment { src: CLIENT, sport: 3000, dst: SERVER, dport: 21, seq, ack: 5001, flags, options: &[], payload }
}

fn from_server<'a>(ack: u32, options: &'a [u8]) -> Segment<'a> {
    Segment { src: SERVER, sport: 21, dst: NAT_ADDR, dport: 50000, seq: 5001, ack, flags: ACK, options, payload: &[] }
}

/// Run the control connection through the NAT with a PORT command naming
/// `data_addr` (whose argument grows or shrinks by `change` bytes when it
/// becomes 1.0.0.1:40000) and check every number on both sides.
fn port_command_through_the_nat(command: &str, data_addr: ([u8; 4], u16), change: i32) {
    let mut r = build();
    r.device_receive(0, &frame(&from_client(1000, SYN, &[])));
    let syn = sent(&mut r, 1);
    assert_eq!(syn.len(), 1);
    assert_eq!(Tcp(&syn[0]).src(), (NAT_ADDR, 50000));

    r.device_receive(0, &frame(&from_client(1001, PSH_ACK, command.as_bytes())));
    let port = sent(&mut r, 1);
    let port = Tcp(&port[0]);
    assert_eq!(port.payload(), b"PORT 1,0,0,1,156,64\r\n", "40000 = 156 * 256 + 64");
    assert_eq!(port.payload().len() as i32, command.len() as i32 + change);
    assert_eq!(port.seq(), 1001, "the PORT segment itself starts where it did");
    assert!(port.valid(), "checksums and length after the rewrite");
    assert_eq!(port.src(), (NAT_ADDR, 50000));

    // The client's next bytes come `change` later in the server's numbering.
    let next = 1001 + command.len() as u32;
    r.device_receive(0, &frame(&from_client(next, PSH_ACK, b"LIST\r\n")));
    let list = sent(&mut r, 1);
    let list = Tcp(&list[0]);
    assert_eq!(list.seq() as i64, next as i64 + i64::from(change));
    assert!(list.valid());

    // The server acknowledges everything and SACKs the LIST bytes; the client
    // sees its own numbers.
    let server_next = (next as i64 + i64::from(change)) as u32 + 6;
    let mut sack = vec![1u8, 1, 5, 10];
    sack.extend_from_slice(&list.seq().to_be_bytes());
    sack.extend_from_slice(&server_next.to_be_bytes());
    r.device_receive(1, &frame(&from_server(server_next, &sack)));
    let ack = sent(&mut r, 0);
    let ack = Tcp(&ack[0]);
    assert_eq!(ack.dst(), (CLIENT, 3000));
    assert_eq!(ack.ack(), next + 6, "the acknowledgement in the client's numbering");
    let t = ack.t();
    assert_eq!(u32::from_be_bytes(t[24..28].try_into().unwrap()), next, "SACK left edge");
    assert_eq!(u32::from_be_bytes(t[28..32].try_into().unwrap()), next + 6, "SACK right edge");
    assert!(ack.valid());

    // An acknowledgement of bytes before the PORT command is not shifted.
    r.device_receive(1, &frame(&from_server(1001, &[])));
    assert_eq!(Tcp(&sent(&mut r, 0)[0]).ack(), 1001);

    // The server opens the data connection from port 20 to the address the
    // command named; it reaches the client's own address and port.
    let data = Segment {
        src: SERVER,
        sport: 20,
        dst: NAT_ADDR,
        dport: 40000,
        seq: 9000,
        ack: 0,
        flags: SYN,
        options: &[],
        payload: &[],
    };
    r.device_receive(1, &frame(&data));
    let data = sent(&mut r, 0);
    assert_eq!(data.len(), 1, "the data connection's SYN got through");
    assert_eq!(Tcp(&data[0]).dst(), data_addr);
    assert!(Tcp(&data[0]).valid());
    assert_eq!(r.read_handler(r.find("ftp"), "mapped").unwrap(), "1");
}

#[test]
fn a_port_command_that_grows() {
    // "10,0,0,2,3,9" (12 bytes) becomes "1,0,0,1,156,64" (14).
    port_command_through_the_nat("PORT 10,0,0,2,3,9\r\n", (CLIENT, 777), 2);
}

#[test]
fn a_port_command_that_shrinks() {
    // "192,168,100,200,255,254" (23 bytes) becomes "1,0,0,1,156,64" (14).
    port_command_through_the_nat("PORT 192,168,100,200,255,254\r\n", ([192, 168, 100, 200], 65534), -9);
}

#[test]
fn other_control_traffic_and_broken_commands_pass_unchanged() {
    let mut r = build();
    r.device_receive(0, &frame(&from_client(1000, SYN, &[])));
    sent(&mut r, 1);
    for payload in
        [&b"USER anonymous\r\n"[..], b"PORT 10,0,0,2,3\r\n", b"PORT 10,0,0,2,3,9", b"PORT 10,0,0,999,3,9\r\n"]
    {
        r.device_receive(0, &frame(&from_client(1001, PSH_ACK, payload)));
        let out = sent(&mut r, 1);
        assert_eq!(Tcp(&out[0]).payload(), payload);
        assert!(Tcp(&out[0]).valid());
    }
    assert_eq!(r.read_handler(r.find("ftp"), "mapped").unwrap(), "0");
    assert_eq!(r.read_handler(r.find("rw"), "nmappings").unwrap(), "0");
}

#[test]
fn a_port_command_on_an_unmapped_connection_is_left_alone() {
    // No SYN first: the control rewriter has no mapping, so FTPPortMapper makes
    // none either (and TCPRewriter then makes the control mapping itself).
    let mut r = build();
    r.device_receive(0, &frame(&from_client(1001, PSH_ACK, b"PORT 10,0,0,2,3,9\r\n")));
    let out = sent(&mut r, 1);
    assert_eq!(Tcp(&out[0]).payload(), b"PORT 10,0,0,2,3,9\r\n");
    assert_eq!(r.read_handler(r.find("rw"), "nmappings").unwrap(), "0");
}

#[test]
fn configuration_errors_name_the_rewriters() {
    for (config, want) in [
        ("FTPPortMapper(nosuch, rw, 0)", "CONTROL_REWRITER: no element named 'nosuch'"),
        ("FTPPortMapper(rw, rw, 0)", "CONTROL_REWRITER: 'rw' is a IPRewriter, not a TCPRewriter"),
        ("FTPPortMapper(tcp_rw, c, 0)", "DATA_REWRITER: 'c' is a Counter, not an IPRewriter-like element"),
        ("FTPPortMapper(tcp_rw, rw, 2)", "DATA_REWRITER_INPUT out of range"),
    ] {
        let src = format!(
            "tcp_rw :: TCPRewriter(drop, drop); rw :: IPRewriter(drop, drop); c :: Counter;
             Idle -> {config} -> Discard; Idle -> [0] tcp_rw; Idle -> [1] tcp_rw; Idle -> [0] rw; Idle -> [1] rw;
             Idle -> c -> Discard; tcp_rw[0] -> Discard; rw[0] -> Discard;"
        );
        let errors = router(&src, 0).err().unwrap_or_default();
        assert!(errors.iter().any(|e| e.contains(want)), "{config}: {errors:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Mangled PORT commands and mangled segments of a connection whose
    /// numbers are shifted (options and SACK blocks included) go through the
    /// NAT without a panic, and whatever comes out says its own length.
    #[test]
    fn mangled_segments_of_a_shifted_connection(
        flips in prop::collection::vec((0usize..120, any::<u8>()), 0..6),
        cut in 0usize..120,
        options in prop::collection::vec(any::<u8>(), 0..10),
        inbound in any::<bool>(),
    ) {
        let mut r = build();
        r.device_receive(0, &frame(&from_client(1000, SYN, &[])));
        r.device_receive(0, &frame(&from_client(1001, PSH_ACK, b"PORT 10,0,0,2,3,9\r\n")));
        sent(&mut r, 1);
        let mut opts = options.clone();
        opts.resize(options.len().div_ceil(4) * 4, 1);
        let base = if inbound {
            frame(&from_server(1030, &opts))
        } else {
            frame(&from_client(1020, PSH_ACK, b"PORT 10,0,0,2,3,10\r\n"))
        };
        let mut f = base.clone();
        for (at, v) in flips {
            if let Some(b) = f.get_mut(14 + at) {
                *b = v;
            }
        }
        f.truncate(cut.max(14 + 20));
        r.device_receive(usize::from(!inbound), &f);
        r.device_receive(usize::from(!inbound), &base);
        for dev in [0, 1] {
            for ip in sent(&mut r, dev) {
                prop_assert_eq!(usize::from(u16::from_be_bytes([ip[2], ip[3]])), ip.len());
            }
        }
    }
}
