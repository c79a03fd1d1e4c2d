//! CheckIPHeader, MarkIPHeader, DecIPTTL — IPv4 header handling.
//!
//! `CheckIPHeader([OFFSET, KEYWORDS])`
//!
//! Checks that each packet holds a valid IPv4 header at OFFSET (default 0): length
//! at least 20, version 4, header length at least 5 words and within the packet,
//! total length at least the header and within the packet, a correct checksum
//! (`CHECKSUM false` skips it), and a source address that is not bad: 0.0.0.0,
//! 255.255.255.255, or (`BADSRC`) the space-separated addresses given instead, plus
//! (`INTERFACES`) the broadcast address of each space-separated prefix. Valid packets get their IP header annotation and are cut to the
//! IP total length; invalid ones go to output 1 if it exists, else are dropped.
//! Handlers: `drops`.
//!
//! `MarkIPHeader([OFFSET])` sets the IP header annotation without checking.
//!
//! `DecIPTTL` decrements the TTL of packets with an IP header annotation, updating
//! the checksum incrementally (RFC 1624). Packets whose TTL is 0 or 1 go to output 1
//! if it exists, else are dropped. Handlers: `drops`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Ipv4Addr, Ipv4Prefix, split_spacevec};
use oxclick_runtime::{
    Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, filter_map_batch, finish_args, simple_action_batch,
};

/// The Internet checksum of `data` (RFC 1071), folded and complemented. Sums
/// 32-bit words into a 64-bit accumulator (the ones'-complement sum is the same
/// whatever the word size), which is several times faster than 16 bits at a time.
#[inline]
pub fn ip_checksum(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut rest = words.remainder().chunks_exact(2);
    for w in &mut rest {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether an option-less IP header's checksum is right, as five straight-line
/// word additions: the common case, worth its own code.
///
/// A header is right when the ones'-complement sum of its 16-bit words is 0xffff,
/// that is when their plain sum is a nonzero multiple of 0xffff (2^16 is 1 modulo
/// 0xffff, which is also why 32-bit words can be added whole). The words are added
/// in the machine's byte order: swapping a word's bytes multiplies it by 2^8
/// modulo 0xffff, which is prime to 2, so the test holds in either order. The
/// sum is never zero: the version nibble is 4.
#[inline(always)]
fn header_checksum20_ok(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    (w(0) + w(4) + w(8) + w(12) + w(16)) % 0xffff == 0
}

/// Why a header is invalid, or its length in bytes (header, total).
#[inline]
pub fn validate(data: &[u8], checksum: bool, bad_src: &[[u8; 4]]) -> Result<(usize, usize), &'static str> {
    // The fixed header as an array: the checks below need no bounds checks.
    let Some(h) = data.first_chunk::<20>() else { return Err("too small") };
    // Version 4 with no options, the common case, passes both first checks.
    let hlen = if h[0] == 0x45 { 20 } else { header_length(h[0], data.len())? };
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < hlen || total > data.len() {
        return Err("bad IP length");
    }
    if checksum {
        let ok = if hlen == 20 { header_checksum20_ok(h) } else { ip_checksum(&data[..hlen]) == 0 };
        if !ok {
            return Err("bad IP checksum");
        }
    }
    if is_bad_source(bad_src, [h[12], h[13], h[14], h[15]]) {
        return Err("bad source address");
    }
    Ok((hlen, total))
}

/// The header length the first byte `vhl` gives, if it is version 4 and the
/// header fits in `len` bytes.
fn header_length(vhl: u8, len: usize) -> Result<usize, &'static str> {
    if vhl >> 4 != 4 {
        return Err("bad IP version");
    }
    let hlen = usize::from(vhl & 0x0f) * 4;
    if hlen < 20 || hlen > len {
        return Err("bad IP header length");
    }
    Ok(hlen)
}

/// Whether `src` is on the bad-source list `bad`; the default list (two
/// addresses) without a loop.
#[inline(always)]
fn is_bad_source(bad: &[[u8; 4]], src: [u8; 4]) -> bool {
    match bad {
        [a, b] => src == *a || src == *b,
        list => list.contains(&src),
    }
}

/// Check the IPv4 header `offset` bytes into `p`; if it is valid, trim the packet
/// to the header's total length and set the header and destination annotations.
/// Inlined into the batch loop: the per-packet call frame cost as much as the checks.
#[inline(always)]
fn check_and_mark(p: &mut Packet, offset: usize, checksum: bool, bad_src: &[[u8; 4]]) -> Option<()> {
    // One look at the bytes: validate, and take what the annotations need.
    let header = p.data().get(offset..)?;
    let (hlen, total) = validate(header, checksum, bad_src).ok()?;
    let dst = *header.get(16..)?.first_chunk::<4>()?;
    let excess = header.len() - total;
    p.take(excess);
    p.anno.network_header = Some(offset);
    p.anno.transport_header = Some(offset + hlen);
    p.anno.dst_ip = dst;
    Some(())
}

/// A rejected packet (CheckIPHeader's bad header, DecIPTTL's expired TTL) out of
/// output 1, or dropped if there is none. Out of line: inlined into a batch loop,
/// the push took registers the good path needed.
#[cold]
#[inline(never)]
fn reject_out_of_line(p: Packet, cx: &mut Ctx) {
    if cx.noutputs() > 1 {
        cx.push(1, p);
    }
}

const DEFAULT_BAD_SRC: [[u8; 4]; 2] = [[0, 0, 0, 0], [255, 255, 255, 255]];

pub struct CheckIPHeader {
    offset: usize,
    bad_src: Vec<[u8; 4]>,
    checksum: bool,
    drops: u64,
    mark_only: bool,
}

impl CheckIPHeader {
    pub fn check() -> Self {
        CheckIPHeader { offset: 0, bad_src: DEFAULT_BAD_SRC.to_vec(), checksum: true, drops: 0, mark_only: false }
    }
    pub fn mark() -> Self {
        CheckIPHeader { offset: 0, bad_src: Vec::new(), checksum: false, drops: 0, mark_only: true }
    }

    #[cold]
    fn reject(&mut self, p: Packet, cx: &mut Ctx) {
        self.drops += 1;
        reject_out_of_line(p, cx);
    }
}

impl Element for CheckIPHeader {
    fn class_name(&self) -> &'static str {
        if self.mark_only { "MarkIPHeader" } else { "CheckIPHeader" }
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        if self.mark_only { "1/1" } else { "1/1-2" }
    }
    fn processing(&self) -> &'static str {
        if self.mark_only { "a/a" } else { "a/ah" }
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.offset = a.read_p("OFFSET").unwrap_or(0);
        if !self.mark_only {
            self.checksum = a.read_or("CHECKSUM", true);
            let _verbose: bool = a.read_or("VERBOSE", false);
            let words = |s: &str| -> Result<Vec<String>, Option<String>> { Ok(split_spacevec(s)) };
            if let Some(list) = a.read_with("BADSRC", false, false, "IP address list", words) {
                self.bad_src.clear();
                for w in list {
                    match Ipv4Addr::parse_arg(&w) {
                        Ok(ip) => self.bad_src.push(ip.0),
                        Err(_) => return Err(alloc::vec![format!("BADSRC: expected IP address list")]),
                    }
                }
            }
            if let Some(list) = a.read_with("INTERFACES", false, false, "IP prefix list", words) {
                for w in list {
                    match Ipv4Prefix::parse_arg(&w) {
                        Ok(p) => {
                            let bcast = u32::from_be_bytes(p.addr.0) | !u32::from_be_bytes(p.mask.0);
                            self.bad_src.push(bcast.to_be_bytes());
                        }
                        Err(_) => return Err(alloc::vec![format!("INTERFACES: expected IP prefix list")]),
                    }
                }
            }
        }
        finish_args(a)
    }
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        if self.mark_only {
            p.anno.network_header = Some(self.offset);
            return Some(p);
        }
        let checked = check_and_mark(&mut p, self.offset, self.checksum, &self.bad_src);
        if checked.is_none() {
            self.reject(p, cx);
            return None;
        }
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        if self.mark_only {
            return simple_action_batch(self, batch, cx);
        }
        // The settings in locals, the drops counted after: the batch loop keeps
        // them in registers instead of loading them again for every packet.
        let (offset, checksum, bad_src) = (self.offset, self.checksum, self.bad_src.as_slice());
        let mut drops = 0;
        filter_map_batch(batch, cx, |mut p, cx| {
            if check_and_mark(&mut p, offset, checksum, bad_src).is_some() {
                return Some(p);
            }
            drops += 1;
            reject_out_of_line(p, cx);
            None
        });
        self.drops += drops;
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "drops" && !self.mark_only).then(|| format!("{}", self.drops))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        if self.mark_only { &[] } else { &["drops"] }
    }
}

/// Decrement the TTL of the IP packet `p` (with an IP header annotation) and
/// update its checksum; false, leaving it unchanged, if the TTL is 0 or 1 or the
/// header is not there.
#[inline]
pub fn decrement_ttl(p: &mut Packet) -> bool {
    let Some(o) = p.anno.network_header else { return false };
    let Some(h) = p.data_mut().get_mut(o..o + 12) else { return false };
    if h[8] <= 1 {
        return false;
    }
    h[8] -= 1;
    // RFC 1624: the TTL is the high byte of its 16-bit word, so the word fell by
    // 0x0100; add that back (as 0xfeff, its ones'-complement negation) into the
    // complemented sum. The sum is kept in the machine's byte order, as Click's
    // DecIPTTL does: ones'-complement addition commutes with swapping the bytes
    // of every word, so 0xfeff goes in swapped and no byte of the checksum needs
    // swapping.
    let old = u16::from_ne_bytes([h[10], h[11]]);
    let delta = u16::from_ne_bytes(0xfeffu16.to_be_bytes());
    let mut sum = u32::from(!old) + u32::from(delta);
    sum = (sum & 0xffff) + (sum >> 16);
    let new = !(sum as u16);
    h[10..12].copy_from_slice(&new.to_ne_bytes());
    true
}

#[derive(Default)]
pub struct DecIPTTL {
    drops: u64,
}

impl DecIPTTL {
    /// A packet whose TTL ran out (or that had no IP header): counted, and
    /// out of output 1 if there is one. Kept out of the batch loop too, which
    /// it would otherwise crowd.
    #[cold]
    #[inline(never)]
    fn expired(&mut self, p: Packet, cx: &mut Ctx) {
        self.drops += 1;
        reject_out_of_line(p, cx);
    }
}

impl Element for DecIPTTL {
    fn class_name(&self) -> &'static str {
        "DecIPTTL"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1-2"
    }
    fn processing(&self) -> &'static str {
        "a/ah"
    }
    // Inlined into the batch loop: the per-packet call frame cost as much as the checks.
    #[inline(always)]
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        if decrement_ttl(&mut p) {
            return Some(p);
        }
        self.expired(p, cx);
        None
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "drops").then(|| format!("{}", self.drops))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["drops"]
    }
}

#[cfg(test)]
mod tests {
    use super::{decrement_ttl, header_checksum20_ok, ip_checksum};
    use oxclick_runtime::Packet;

    /// An option-less IPv4 header of random bytes (xorshift state `x`).
    fn random_header(x: &mut u64) -> [u8; 20] {
        let mut h = [0u8; 20];
        for b in &mut h {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *b = *x as u8;
        }
        h[0] = 0x45;
        h
    }

    #[test]
    fn a_decremented_ttl_leaves_a_valid_checksum() {
        let mut x = 0x0bad_cafe_1234_5678u64;
        for i in 0..20_000u32 {
            let mut h = random_header(&mut x);
            // Every TTL that can be decremented, the edges included.
            h[8] = (2 + i % 254) as u8;
            h[10..12].fill(0);
            let sum = ip_checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            let mut p = Packet::from_data(&h);
            p.anno.network_header = Some(0);
            assert!(decrement_ttl(&mut p));
            let d = p.data();
            assert_eq!(d[8], h[8] - 1);
            assert_eq!(ip_checksum(d), 0, "header {h:02x?} -> {d:02x?}");
        }
        // TTL 1 and 0 are not decremented.
        for ttl in [0u8, 1] {
            let mut h = [0u8; 20];
            h[8] = ttl;
            let mut p = Packet::from_data(&h);
            p.anno.network_header = Some(0);
            assert!(!decrement_ttl(&mut p));
            assert_eq!(p.data(), &h);
        }
    }

    #[test]
    fn the_20_byte_checksum_test_agrees_with_the_general_sum() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut counts = [0; 2];
        for i in 0..4000 {
            let mut h = random_header(&mut x);
            match i % 4 {
                // Made right, then (sometimes) broken by one bit or one word.
                0 | 1 => {
                    h[10..12].fill(0);
                    let sum = ip_checksum(&h);
                    h[10..12].copy_from_slice(&sum.to_be_bytes());
                    if i % 4 == 1 {
                        h[1 + (x as usize % 19)] ^= 1 << (x % 8);
                    }
                }
                _ => {}
            }
            let ok = header_checksum20_ok(&h);
            assert_eq!(ok, ip_checksum(&h) == 0, "{h:?}");
            counts[usize::from(ok)] += 1;
        }
        assert!(counts[0] >= 1000 && counts[1] >= 1000, "right and wrong headers both tried: {counts:?}");
    }

    /// The straightforward 16-bit RFC 1071 sum, to check the fast one against.
    fn reference(data: &[u8]) -> u16 {
        let mut sum = 0u32;
        for c in data.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn fast_checksum_matches_the_reference_at_every_length() {
        let mut x = 0x1234_5678u32;
        let bytes: alloc::vec::Vec<u8> = (0..300)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for len in 0..bytes.len() {
            assert_eq!(ip_checksum(&bytes[..len]), reference(&bytes[..len]), "length {len}");
        }
        assert_eq!(ip_checksum(&[0xff; 64]), reference(&[0xff; 64]));
    }
}
