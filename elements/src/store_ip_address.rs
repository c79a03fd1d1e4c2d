//! StoreIPAddress — writes an IP address into packet data.
//!
//! `StoreIPAddress([ADDR,] OFFSET)`
//!
//! One agnostic input; one or two outputs. Writes ADDR (or, without it, the
//! destination IP annotation) at byte OFFSET of the packet. OFFSET may be `src` or
//! `dst`: the address then goes into the IP header's source or destination field
//! and the IP checksum (and a TCP or UDP checksum of a first fragment) are updated
//! incrementally. Packets where the address does not fit, or that have no IP header
//! for `src`/`dst`, go to output 1 if it exists and are dropped otherwise.

use oxclick_lang::args::{ArgType, Ipv4Addr, Word};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

#[derive(Clone, Copy, Default)]
enum Target {
    #[default]
    Source,
    Destination,
    Offset(usize),
}

#[derive(Default)]
pub struct StoreIPAddress {
    addr: Option<[u8; 4]>,
    target: Target,
}

/// Ones'-complement update of the 16-bit checksum at `data[at..at + 2]` when a sum of
/// covered words changes from `old` to `new` (RFC 1624, as Click's
/// `click_update_in_cksum`).
fn update_checksum(data: &mut [u8], at: usize, old: u16, new: u16) {
    let Some(c) = data.get_mut(at..at + 2) else { return };
    let csum = u16::from_be_bytes([c[0], c[1]]);
    let mut sum = (!csum as u32) + (!old as u32) + new as u32;
    sum = (sum & 0xffff) + (sum >> 16);
    let folded = !((sum + (sum >> 16)) as u16);
    c.copy_from_slice(&folded.to_be_bytes());
}

/// The ones'-complement sum of the two 16-bit words of an address.
fn word_sum(a: &[u8]) -> u16 {
    let s = u16::from_be_bytes([a[0], a[1]]) as u32 + u16::from_be_bytes([a[2], a[3]]) as u32;
    (s + (s >> 16)) as u16
}

impl Element for StoreIPAddress {
    fn class_name(&self) -> &'static str {
        "StoreIPAddress"
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
        let two = oxclick_lang::args::split_args(config).len() > 1;
        if two {
            self.addr = a.read_mp::<Ipv4Addr>("ADDR").map(|x| x.0);
        }
        let offset: Option<Word> = a.read_mp("OFFSET");
        finish_args(a)?;
        self.target = match offset.map(|w| w.0.to_ascii_lowercase()) {
            Some(w) if w == "src" => Target::Source,
            Some(w) if w == "dst" => Target::Destination,
            Some(w) => match usize::parse_arg(&w) {
                Ok(n) => Target::Offset(n),
                Err(_) => return Err(alloc::vec!["type mismatch: OFFSET requires integer".into()]),
            },
            None => return Err(alloc::vec!["OFFSET: required argument missing".into()]),
        };
        Ok(())
    }
    fn push(&mut self, _port: usize, mut p: Packet, cx: &mut Ctx) {
        let addr = self.addr.unwrap_or(p.anno.dst_ip);
        let ok = match self.target {
            Target::Offset(off) => match p.data_mut().get_mut(off..off + 4) {
                Some(dst) => {
                    dst.copy_from_slice(&addr);
                    true
                }
                None => false,
            },
            Target::Source | Target::Destination => {
                let field = if matches!(self.target, Target::Source) { 12 } else { 16 };
                match p.anno.network_header {
                    Some(nh) if p.len() >= nh + 20 => {
                        let data = p.data_mut();
                        let old = word_sum(&data[nh + field..nh + field + 4]);
                        data[nh + field..nh + field + 4].copy_from_slice(&addr);
                        let new = word_sum(&addr);
                        update_checksum(data, nh + 10, old, new);
                        let hl = ((data[nh] & 0x0f) as usize) * 4;
                        let first_fragment = u16::from_be_bytes([data[nh + 6], data[nh + 7]]) & 0x1fff == 0;
                        let th = nh + hl;
                        match data[nh + 9] {
                            6 if first_fragment && data.len() >= th + 20 => update_checksum(data, th + 16, old, new),
                            17 if first_fragment
                                && data.len() >= th + 8
                                && (data[th + 6] != 0 || data[th + 7] != 0) =>
                            {
                                update_checksum(data, th + 6, old, new)
                            }
                            _ => {}
                        }
                        true
                    }
                    _ => false,
                }
            }
        };
        if ok {
            cx.push(0, p);
        } else if cx.noutputs() > 1 {
            cx.push(1, p);
        }
    }
}
