//! The ceiling for `cargo xtask bench`'s (d0): the per-packet work of
//! `FromDump -> Strip(14) -> CheckIPHeader -> DecIPTTL -> Counter -> Discard`
//! written as one plain Rust loop over the same pcap bytes, with no router.
//!
//! Per packet it does what the configuration does: copy the frame out of the file
//! buffer (FromDump makes a packet), skip the Ethernet header, check the IPv4
//! header (length, version, header length, total length, checksum, source
//! address), decrement the TTL with an incremental checksum update, and count
//! packets and bytes. Prints `PACKETS BYTES SECONDS`.

use std::fs::File;
use std::io::Read;
use std::time::Instant;

fn checksum_ok(h: &[u8]) -> bool {
    let mut sum = 0u32;
    for c in h.chunks_exact(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: handloop FILE.pcap");
    let mut file = File::open(&path).expect("open");
    let started = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let mut frame = [0u8; 2048];
    let (mut start, mut end) = (0usize, 0usize);
    let mut header_done = false;
    let (mut packets, mut bytes, mut bad) = (0u64, 0u64, 0u64);
    loop {
        // Refill when fewer than a record header's bytes are left.
        let avail = end - start;
        let need = if header_done { 16 } else { 24 };
        let rec_len = if header_done && avail >= 16 {
            16 + u32::from_le_bytes(buf[start + 8..start + 12].try_into().unwrap()) as usize
        } else {
            need
        };
        if avail < rec_len {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            let n = file.read(&mut buf[end..]).expect("read");
            if n == 0 {
                break;
            }
            end += n;
            continue;
        }
        if !header_done {
            start += 24;
            header_done = true;
            continue;
        }
        let data = &buf[start + 16..start + rec_len];
        start += rec_len;
        let len = data.len().min(frame.len());
        frame[..len].copy_from_slice(&data[..len]);
        let p = &mut frame[..len];
        // Strip(14) -> CheckIPHeader
        let Some(ip) = p.get_mut(14..) else {
            bad += 1;
            continue;
        };
        let hlen = usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4;
        if ip.len() < 20 || ip[0] >> 4 != 4 || hlen < 20 || hlen > ip.len() {
            bad += 1;
            continue;
        }
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if total < hlen || total > ip.len() || !checksum_ok(&ip[..hlen]) {
            bad += 1;
            continue;
        }
        if ip[12..16] == [0, 0, 0, 0] || ip[12..16] == [255, 255, 255, 255] {
            bad += 1;
            continue;
        }
        // DecIPTTL
        if ip[8] <= 1 {
            bad += 1;
            continue;
        }
        ip[8] -= 1;
        let old = u16::from_be_bytes([ip[10], ip[11]]);
        let mut sum = u32::from(!old) + 0xfeff;
        sum = (sum & 0xffff) + (sum >> 16);
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        // Counter
        packets += 1;
        bytes += total as u64;
        std::hint::black_box(&frame);
    }
    let secs = started.elapsed().as_secs_f64();
    std::hint::black_box(bad);
    println!("{packets} {bytes} {secs:.6}");
    // Its own peak RSS, as oxclick reports it for the bench.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
    {
        let kb: String = line.chars().filter(char::is_ascii_digit).collect();
        println!("handloop-peak-rss-kb {kb}");
    }
}
