//! The ceiling for `cargo xtask bench`'s (d0): the per-packet work of
//! `FromDump -> Strip(14) -> CheckIPHeader -> DecIPTTL -> Counter -> Discard`
//! written as one plain Rust loop over the same pcap bytes, with no router.
//!
//! It reads the file as FromDump does: mapped into memory, giving back the pages
//! it has parsed every 4 MB.
//!
//! Per packet it does what the configuration does: copy the frame out of the
//! mapped file (FromDump makes a packet), skip the Ethernet header, check the IPv4
//! header (length, version, header length, total length, checksum, source
//! address), decrement the TTL with an incremental checksum update, and count
//! packets and bytes. Prints `PACKETS BYTES SECONDS`.

use std::fs::File;
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
    let file = File::open(&path).expect("open");
    let started = Instant::now();
    // SAFETY: read-only map of a file nobody changes during the run.
    let map = unsafe { memmap2::Mmap::map(&file) }.expect("mmap");
    let _ = map.advise(memmap2::Advice::Sequential);
    let bytes: &[u8] = &map;
    let mut frame = [0u8; 2048];
    let mut start = 24usize;
    let mut released = 0usize;
    let (mut packets, mut bytes_counted, mut bad) = (0u64, 0u64, 0u64);
    while let Some(rec) = bytes.get(start..start + 16) {
        let caplen = u32::from_le_bytes(rec[8..12].try_into().unwrap()) as usize;
        let Some(data) = bytes.get(start + 16..start + 16 + caplen) else { break };
        start += 16 + caplen;
        if start - released >= 4 << 20 {
            let len = (start - released) & !((4 << 20) - 1);
            // SAFETY: the map is read-only and shared, and the parsed pages are
            // not used again.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, released, len) };
            released += len;
        }
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
        bytes_counted += total as u64;
        std::hint::black_box(&frame);
    }
    let secs = started.elapsed().as_secs_f64();
    std::hint::black_box(bad);
    println!("{packets} {bytes_counted} {secs:.6}");
    // Its own peak RSS, as oxclick reports it for the bench.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
    {
        let kb: String = line.chars().filter(char::is_ascii_digit).collect();
        println!("handloop-peak-rss-kb {kb}");
    }
}
