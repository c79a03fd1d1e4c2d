//! FTPPortMapper — lets active-mode FTP through a NAT.
//!
//! `FTPPortMapper(CONTROL_REWRITER, DATA_REWRITER, DATA_REWRITER_INPUT)`
//!
//! One agnostic input and output; expects the IP packets (IP header annotation
//! set) of FTP control connections, on their way into CONTROL_REWRITER, a
//! TCPRewriter. A packet whose payload starts with a `PORT a,b,c,d,p1,p2`
//! command (case-insensitive, whole, ended by CR or LF) of a connection that
//! CONTROL_REWRITER already maps is changed so:
//!
//! - DATA_REWRITER (any IPRewriter-like element; it may be CONTROL_REWRITER)
//!   makes the mapping of the data connection the command announces, from
//!   `a.b.c.d:p1*256+p2` to the control connection's destination at port
//!   (control port - 1), as if its first packet had arrived on input
//!   DATA_REWRITER_INPUT (usually one with a `pattern` spec). The server's
//!   connection to the rewritten address then finds its way back.
//! - The command is rewritten to name the mapped address and port, the IP
//!   length and both checksums are updated.
//! - The command's new length shifts the rest of the connection's bytes:
//!   CONTROL_REWRITER is told from which sequence number on, and translates
//!   sequence and acknowledgement numbers (SACK blocks too) from then on.
//!
//! Other packets, and commands that do not parse, pass unchanged. The packet's
//! addresses and ports are not changed here: CONTROL_REWRITER does that.
//! Packets of other protocols, short ones, and ones whose headers do not fit
//! pass unchanged too (Click asserts on them). As in Click, the command must be
//! the first in its segment.
//!
//! Example (Click's `conf/mazu-nat.click`):
//!
//! ```text
//! ip_from_intern[2] -> FTPPortMapper(tcp_rw, rw, 0) -> [0]tcp_rw;
//! ```
//!
//! Handlers: `mapped` (PORT commands rewritten).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::Word;
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

use crate::ip_rewriter::{self, IPRewriter};
use crate::rewriter::Flow;
use crate::wire::{IP_PROTO_TCP, set_checksums, tcp_in_ipv4};

#[derive(Default)]
pub struct FTPPortMapper {
    control: String,
    data: String,
    data_input: usize,
    /// The two rewriters' element indices, found at initialization.
    control_at: usize,
    data_at: usize,
    mapped: u64,
}

/// A PORT command at the start of `payload`: the bytes its argument takes
/// (`start..end`) and the address and port it names.
fn parse_port_command(payload: &[u8]) -> Option<(usize, usize, [u8; 4], u16)> {
    let verb = payload.get(..5)?;
    if !verb[..4].eq_ignore_ascii_case(b"PORT") || verb[4] != b' ' {
        return None;
    }
    let start = 5 + payload[5..].iter().take_while(|&&b| b == b' ').count();
    let mut nums = [0u32; 6];
    let mut which = 0;
    let mut end = start;
    while let Some(&b) = payload.get(end) {
        match b {
            b'0'..=b'9' => nums[which] = (nums[which] * 10 + u32::from(b - b'0')).min(1000),
            b',' if which < 5 => which += 1,
            _ => break,
        }
        end += 1;
    }
    let terminated = matches!(payload.get(end), Some(b'\r' | b'\n'));
    if which != 5 || !terminated || nums.iter().any(|&n| n > 255) {
        return None;
    }
    let addr = [nums[0] as u8, nums[1] as u8, nums[2] as u8, nums[3] as u8];
    Some((start, end, addr, (nums[4] << 8 | nums[5]) as u16))
}

/// Offsets in packet data: the IP header, the TCP header, the payload, and
/// the payload's end (by the IP length, so link-layer padding is not payload).
struct Layout {
    ip: usize,
    tcp: usize,
    payload: usize,
    end: usize,
}

fn tcp_layout(p: &Packet) -> Option<Layout> {
    let ip = p.anno.network_header?;
    let at = tcp_in_ipv4(p.data().get(ip..)?)?;
    Some(Layout { ip, tcp: ip + at.tcp, payload: ip + at.payload, end: ip + at.end })
}

fn flow_of(ip: &[u8], tcp: &[u8]) -> Flow {
    Flow {
        saddr: u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]),
        sport: u16::from_be_bytes([tcp[0], tcp[1]]),
        daddr: u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]),
        dport: u16::from_be_bytes([tcp[2], tcp[3]]),
    }
}

fn rewriter(e: &mut dyn Element) -> Option<&mut IPRewriter> {
    e.as_any_mut()?.downcast_mut::<IPRewriter>()
}

impl FTPPortMapper {
    /// Rewrite `p`'s PORT command, if it has one this mapper can map.
    fn map(&mut self, p: &mut Packet, cx: &mut Ctx) -> Option<()> {
        let at = tcp_layout(p)?;
        let d = p.data();
        let (start, end, addr, port) = parse_port_command(&d[at.payload..at.end])?;
        let control_flow = flow_of(&d[at.ip..], &d[at.tcp..]);
        let seq = u32::from_be_bytes(d.get(at.tcp + 4..at.tcp + 8)?.try_into().ok()?);
        let payload_len = at.end - at.payload;
        let mapped = cx.with_element(self.control_at, |e, _| {
            rewriter(e).is_some_and(|r| r.has_mapping(IP_PROTO_TCP, &control_flow))
        })?;
        if !mapped {
            return None;
        }
        // The data connection: from the address and port the command names to
        // the server's data port, one below its control port.
        let data_flow = Flow {
            saddr: u32::from_be_bytes(addr),
            sport: port,
            daddr: control_flow.daddr,
            dport: control_flow.dport.wrapping_sub(1),
        };
        let (input, now) = (self.data_input, cx.now());
        let new =
            cx.with_element(self.data_at, |e, _| rewriter(e)?.mapping_for(input, IP_PROTO_TCP, data_flow, now))??;
        let a = new.saddr.to_be_bytes();
        let text = format!("{},{},{},{},{},{}", a[0], a[1], a[2], a[3], new.sport >> 8, new.sport & 0xff);

        // Splice the new argument in: the payload's tail moves by the change.
        let (arg_at, arg_end) = (at.payload + start, at.payload + end);
        let change = text.len() as isize - (end - start) as isize;
        let tail: Vec<u8> = p.data()[arg_end..].to_vec();
        if change > 0 {
            p.put(change as usize);
        } else {
            p.take(change.unsigned_abs());
        }
        let d = p.data_mut();
        let new_end = arg_at + text.len() + tail.len();
        d.get_mut(arg_at..new_end)?.copy_from_slice(&[text.as_bytes(), &tail].concat());

        // The new length, then both checksums over it.
        let ip_len = (at.end as isize + change - at.ip as isize) as usize;
        let ip = &mut d[at.ip..];
        ip[2..4].copy_from_slice(&(ip_len.min(0xffff) as u16).to_be_bytes());
        set_checksums(ip);

        // The bytes after this segment are numbered `change` further on.
        if change != 0 {
            let after = seq.wrapping_add(payload_len as u32);
            cx.with_element(self.control_at, |e, _| {
                rewriter(e).map(|r| r.shift_seq(&control_flow, after, change as i32))
            });
        }
        self.mapped += 1;
        Some(())
    }
}

impl Element for FTPPortMapper {
    fn class_name(&self) -> &'static str {
        "FTPPortMapper"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let control = a.read_mp::<Word>("CONTROL_REWRITER").map(|w| w.0);
        let data = a.read_mp::<Word>("DATA_REWRITER").map(|w| w.0);
        let input = a.read_mp::<usize>("DATA_REWRITER_INPUT");
        finish_args(a)?;
        let (Some(control), Some(data), Some(input)) = (control, data, input) else { return Ok(()) };
        let mut errors = Vec::new();
        match cx.element(&control) {
            None => errors.push(format!("CONTROL_REWRITER: no element named '{control}'")),
            Some((class, _)) if class != "TCPRewriter" => {
                errors.push(format!("CONTROL_REWRITER: '{control}' is a {class}, not a TCPRewriter"))
            }
            _ => {}
        }
        match cx.element(&data) {
            None => errors.push(format!("DATA_REWRITER: no element named '{data}'")),
            Some((class, _)) if !ip_rewriter::CLASSES.contains(&class) => {
                errors.push(format!("DATA_REWRITER: '{data}' is a {class}, not an IPRewriter-like element"))
            }
            _ => {}
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        (self.control, self.data, self.data_input) = (control, data, input);
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        let find = |cx: &Ctx, name: &str| cx.find(name).ok_or_else(|| format!("no element named '{name}'"));
        self.control_at = find(cx, &self.control)?;
        self.data_at = find(cx, &self.data)?;
        let inputs = cx.with_element(self.data_at, |e, _| rewriter(e).map(|r| r.input_specs())).flatten();
        match inputs {
            Some(n) if self.data_input < n => Ok(()),
            _ => Err(String::from("DATA_REWRITER_INPUT out of range")),
        }
    }
    fn simple_action(&mut self, mut p: Packet, cx: &mut Ctx) -> Option<Packet> {
        let _ = self.map(&mut p, cx);
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "mapped").then(|| format!("{}", self.mapped))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["mapped"]
    }
}

#[cfg(test)]
mod tests {
    use super::parse_port_command;
    use alloc::string::String;

    #[test]
    fn port_commands_parse_as_clicks_do() {
        assert_eq!(parse_port_command(b"PORT 10,0,0,2,3,9\r\n"), Some((5, 17, [10, 0, 0, 2], 777)));
        assert_eq!(parse_port_command(b"port   1,2,3,4,0,21\n"), Some((7, 19, [1, 2, 3, 4], 21)));
        for bad in [
            &b"PORT 10,0,0,2,3,9"[..],  // not terminated
            b"PORT 10,0,0,2,3\r\n",     // five numbers
            b"PORT 10,0,0,2,3,9,1\r\n", // seven
            b"PORT 10,0,0,256,3,9\r\n", // out of range
            b"PORT 99999999999999999999,0,0,1,3,9\r\n",
            b"PORTX 10,0,0,2,3,9\r\n",
            b"PASV\r\n",
            b"PORT",
            b"",
        ] {
            assert_eq!(parse_port_command(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
