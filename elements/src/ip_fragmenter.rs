//! IPFragmenter — fragments IP packets larger than the MTU.
//!
//! `IPFragmenter(MTU [, KEYWORDS])`
//!
//! One push input, one or two push outputs. Expects packets with an IP header
//! annotation. Packets whose IP part fits in MTU bytes pass unchanged. Larger ones
//! are split into fragments (RFC 791): each carries at most MTU bytes, data in
//! multiples of 8 bytes, the first with all the options, the rest with only the
//! options marked "copied". A large packet with Don't Fragment set goes to output
//! 1 instead (else is dropped), for `ICMPError(..., unreachable, needfrag)`.
//! Keywords: `HONOR_DF` (default true; false fragments such packets anyway),
//! `VERBOSE`. Handlers: `fragments` (made), `drops`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

use crate::ip::ip_checksum;

#[derive(Default)]
pub struct IPFragmenter {
    mtu: usize,
    honor_df: bool,
    fragments: u64,
    drops: u64,
}

/// The options of header `opts` that every fragment carries (copied flag set),
/// padded with end-of-list to a multiple of 4 bytes.
fn copied_options(opts: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            ty => {
                let len = opts.get(i + 1).map_or(0, |&l| usize::from(l));
                if len < 2 || i + len > opts.len() {
                    break;
                }
                if ty & 0x80 != 0 {
                    out.extend_from_slice(&opts[i..i + len]);
                }
                i += len;
            }
        }
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

/// Split the IP packet `ip` (header and data) into fragments of at most `mtu`
/// bytes; `None` if it cannot be (MTU too small for the header).
pub fn fragment(ip: &[u8], mtu: usize) -> Option<Vec<Vec<u8>>> {
    if ip.len() < 20 {
        return None;
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    if hl < 20 || total < hl {
        return None;
    }
    let off_field = u16::from_be_bytes([ip[6], ip[7]]);
    let base_off = usize::from(off_field & 0x1fff) * 8;
    let more_after = off_field & 0x2000 != 0;
    let later_opts = copied_options(&ip[20..hl]);
    let data = &ip[hl..total];
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() || out.is_empty() {
        let first = out.is_empty();
        let h = if first { hl } else { 20 + later_opts.len() };
        let room = mtu.checked_sub(h)? & !7;
        if room == 0 {
            return None;
        }
        let n = room.min(data.len() - pos);
        let last = pos + n >= data.len();
        let mut f = Vec::with_capacity(h + n);
        if first {
            f.extend_from_slice(&ip[..hl]);
        } else {
            f.extend_from_slice(&ip[..20]);
            f.extend_from_slice(&later_opts);
            f[0] = 0x40 | (h / 4) as u8;
        }
        f.extend_from_slice(&data[pos..pos + n]);
        let len = f.len() as u16;
        f[2..4].copy_from_slice(&len.to_be_bytes());
        let mf = if last && !more_after { 0 } else { 0x2000 };
        let off = (((base_off + pos) / 8) as u16 & 0x1fff) | mf | (off_field & 0x4000);
        f[6..8].copy_from_slice(&off.to_be_bytes());
        f[10] = 0;
        f[11] = 0;
        let sum = ip_checksum(&f[..h]);
        f[10..12].copy_from_slice(&sum.to_be_bytes());
        out.push(f);
        pos += n;
    }
    Some(out)
}

impl Element for IPFragmenter {
    fn class_name(&self) -> &'static str {
        "IPFragmenter"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1-2"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.mtu = a.read_mp("MTU").unwrap_or(0);
        self.honor_df = a.read_or("HONOR_DF", true);
        let _verbose: Option<bool> = a.read("VERBOSE");
        let _headroom: Option<u32> = a.read("HEADROOM");
        finish_args(a)?;
        if self.mtu < 28 {
            return Err(alloc::vec![String::from("MTU must be at least 28")]);
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        let nh = p.anno.network_header.unwrap_or(0);
        let ip_len = p.len().saturating_sub(nh);
        if ip_len <= self.mtu {
            cx.push(0, p);
            return;
        }
        let df = p.data().get(nh + 6).is_some_and(|b| b & 0x40 != 0);
        if df && self.honor_df {
            self.drops += 1;
            cx.push(1, p);
            return;
        }
        let Some(frags) = p.data().get(nh..).and_then(|ip| fragment(ip, self.mtu)) else {
            self.drops += 1;
            return;
        };
        for f in frags {
            let mut q = cx.new_packet(&f);
            q.anno = p.anno;
            q.anno.network_header = Some(0);
            q.anno.transport_header = Some(usize::from(f[0] & 0x0f) * 4);
            self.fragments += 1;
            cx.push(0, q);
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "fragments" => Some(format!("{}", self.fragments)),
            "drops" => Some(format!("{}", self.drops)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["fragments", "drops"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_cover_the_data_in_eights() {
        let mut ip = alloc::vec![0u8; 20 + 1000];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&1020u16.to_be_bytes());
        ip[9] = 17;
        for (i, b) in ip[20..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let frags = fragment(&ip, 300).unwrap();
        assert_eq!(frags.len(), 4);
        let mut data = Vec::new();
        for (k, f) in frags.iter().enumerate() {
            assert!(f.len() <= 300);
            assert_eq!(ip_checksum(&f[..20]), 0);
            let off = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(usize::from(off & 0x1fff) * 8, data.len());
            assert_eq!(off & 0x2000 != 0, k + 1 < frags.len());
            data.extend_from_slice(&f[20..]);
        }
        assert_eq!(&data[..], &ip[20..]);
    }
}
