//! IPGWOptions — processes the IP options a router must handle.
//!
//! `IPGWOptions(MYADDR [, OTHERADDRS])`
//!
//! One agnostic input, one or two outputs. Expects packets with an IP header
//! annotation. Fills in Record Route and Timestamp options as a router on the
//! path (with MYADDR; Timestamp's prespecified mode also answers for OTHERADDRS,
//! space-separated) and updates the checksum. A malformed option sends the packet
//! to output 1 (else drops it) with the offending byte's offset in its ICMP
//! parameter-problem annotation, for `ICMPError(..., parameterproblem)`. Packets
//! without options cost one comparison. Handlers: `drops`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, Ipv4Addr, split_spacevec};
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::ip::ip_checksum;

/// Process the options of `p` for a router with address `me` (and `others`) at
/// time `now_ns`. `Err(offset)` names the bad byte, from the IP header.
pub fn process_gw_options(p: &mut Packet, me: [u8; 4], others: &[[u8; 4]], now_ns: u64) -> Result<(), u8> {
    let Some(nh) = p.anno.network_header else { return Ok(()) };
    let hl = match p.data().get(nh) {
        Some(b) => usize::from(b & 0x0f) * 4,
        None => return Ok(()),
    };
    if hl <= 20 || p.len() < nh + hl {
        return Ok(());
    }
    let ms = ((now_ns / 1_000_000_000) % 86_400 * 1000 + now_ns % 1_000_000_000 / 1_000_000) as u32;
    let d = p.data_mut();
    let ip = &mut d[nh..nh + hl];
    let mut changed = false;
    let mut oi = 20;
    while oi < hl {
        let ty = ip[oi];
        if ty == 1 {
            oi += 1;
            continue;
        }
        if ty == 0 {
            break;
        }
        let Some(&xlen) = ip.get(oi + 1) else { return Err((oi + 1) as u8) };
        let xlen = usize::from(xlen);
        if xlen < 2 || oi + xlen > hl {
            return Err((oi + 1) as u8);
        }
        if ty == 7 {
            // Record Route: the pointer is 1-origin.
            let Some(&ptr) = ip.get(oi + 2) else { return Err((oi + 2) as u8) };
            let ptr = usize::from(ptr).wrapping_sub(1);
            if ptr >= 3 && ptr + 4 <= xlen {
                ip[oi + ptr..oi + ptr + 4].copy_from_slice(&me);
                ip[oi + 2] += 4;
                changed = true;
            } else if ptr != xlen {
                return Err((oi + 2) as u8);
            }
        } else if ty == 68 {
            // Timestamp.
            if xlen < 4 {
                return Err((oi + 1) as u8);
            }
            let ptr = usize::from(ip[oi + 2]).wrapping_sub(1);
            let oflw = ip[oi + 3] >> 4;
            let flg = ip[oi + 3] & 0x0f;
            let mut overflowed = false;
            if !(4..=40).contains(&ptr) {
                return Err((oi + 2) as u8);
            } else if flg == 0 {
                if ptr + 4 <= xlen {
                    ip[oi + ptr..oi + ptr + 4].copy_from_slice(&ms.to_be_bytes());
                    ip[oi + 2] += 4;
                    changed = true;
                } else {
                    overflowed = true;
                }
            } else if flg == 1 {
                if ptr + 8 <= xlen {
                    ip[oi + ptr..oi + ptr + 4].copy_from_slice(&me);
                    ip[oi + ptr + 4..oi + ptr + 8].copy_from_slice(&ms.to_be_bytes());
                    ip[oi + 2] += 8;
                    changed = true;
                } else {
                    overflowed = true;
                }
            } else if flg == 3 && ptr + 8 <= xlen {
                let addr = [ip[oi + ptr], ip[oi + ptr + 1], ip[oi + ptr + 2], ip[oi + ptr + 3]];
                if addr == me || others.contains(&addr) {
                    ip[oi + ptr + 4..oi + ptr + 8].copy_from_slice(&ms.to_be_bytes());
                    ip[oi + 2] += 8;
                    changed = true;
                }
            } else {
                return Err((oi + 3) as u8);
            }
            if overflowed {
                if oflw < 15 {
                    ip[oi + 3] = ((oflw + 1) << 4) | flg;
                    changed = true;
                } else {
                    return Err((oi + 3) as u8);
                }
            }
        }
        oi += xlen;
    }
    if changed {
        ip[10] = 0;
        ip[11] = 0;
        let sum = ip_checksum(ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    Ok(())
}

#[derive(Default)]
pub struct IPGWOptions {
    me: [u8; 4],
    others: Vec<[u8; 4]>,
    drops: u64,
}

impl Element for IPGWOptions {
    fn class_name(&self) -> &'static str {
        "IPGWOptions"
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
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.me = a.read_mp::<Ipv4Addr>("MYADDR").map_or([0; 4], |x| x.0);
        let words = |s: &str| -> Result<Vec<String>, Option<String>> { Ok(split_spacevec(s)) };
        let others = a.read_with("OTHERADDRS", true, false, "IP address list", words).unwrap_or_default();
        finish_args(a)?;
        self.others.clear();
        for w in others {
            match Ipv4Addr::parse_arg(&w) {
                Ok(x) => self.others.push(x.0),
                Err(_) => return Err(alloc::vec![format!("OTHERADDRS: expected IP address list")]),
            }
        }
        Ok(())
    }
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        match process_gw_options(&mut p, self.me, &self.others, cx.now()) {
            Ok(()) => Some(p),
            Err(at) => {
                self.drops += 1;
                p.anno.icmp_param_ptr = at;
                if cx.noutputs() > 1 {
                    cx.push(1, p);
                }
                None
            }
        }
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
