//! EtherEncap — prepends an Ethernet header.
//!
//! `EtherEncap(ETHERTYPE, SRC, DST)`
//!
//! One agnostic input and output. Puts a 14-byte Ethernet header in front of each
//! packet: destination DST, source SRC, type ETHERTYPE (e.g. `0x0800`).
//! Handlers: `ethertype`, `src`, `dst` (read and write).

use alloc::format;
use alloc::string::{String, ToString};

use oxclick_lang::args::{ArgType, EtherAddr};
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

#[derive(Default)]
pub struct EtherEncap {
    ethertype: u16,
    src: [u8; 6],
    dst: [u8; 6],
}

impl Element for EtherEncap {
    fn class_name(&self) -> &'static str {
        "EtherEncap"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.ethertype = a.read_mp("ETHERTYPE").unwrap_or(0);
        self.src = a.read_mp::<EtherAddr>("SRC").map(|e| e.0).unwrap_or_default();
        self.dst = a.read_mp::<EtherAddr>("DST").map(|e| e.0).unwrap_or_default();
        finish_args(a)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn simple_action(&mut self, mut p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        p.push(14);
        let h = p.data_mut();
        h[..6].copy_from_slice(&self.dst);
        h[6..12].copy_from_slice(&self.src);
        h[12..14].copy_from_slice(&self.ethertype.to_be_bytes());
        Some(p)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "ethertype" => Some(format!("{}", self.ethertype)),
            "src" => Some(EtherAddr(self.src).to_string()),
            "dst" => Some(EtherAddr(self.dst).to_string()),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["ethertype", "src", "dst"]
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        let v = value.trim();
        let bad = |what: &str| Err(format!("expected {what}"));
        Some(match name {
            "ethertype" => u16::parse_arg(v).map(|t| self.ethertype = t).or_else(|_| bad(u16::DESCRIPTION)),
            "src" => EtherAddr::parse_arg(v).map(|e| self.src = e.0).or_else(|_| bad(EtherAddr::DESCRIPTION)),
            "dst" => EtherAddr::parse_arg(v).map(|e| self.dst = e.0).or_else(|_| bad(EtherAddr::DESCRIPTION)),
            _ => return None,
        })
    }
}
