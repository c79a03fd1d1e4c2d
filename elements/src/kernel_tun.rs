//! KernelTun, KernelTap — packets to and from the host's own network stack.
//!
//! `KernelTun(ADDR/MASK [, KEYWORDS])` · `KernelTap(ADDR/MASK [, KEYWORDS])`
//!
//! One agnostic input, one push output (and an optional second output, unused).
//! Creates a TUN (KernelTun: bare IP packets) or TAP (KernelTap: Ethernet frames)
//! device, gives it address ADDR with netmask MASK and brings it up, so the host
//! routes MASK's network through it. Packets the host sends into the device come
//! out of output 0 (KernelTun's with their IP header annotation set); packets
//! arriving on the input are handed to the host as if received on the device.
//! This is how live traffic from `ping` or `curl` on the host reaches a
//! configuration. Keywords: `DEVNAME` (default `tun%d`/`tap%d`), `ETHER`
//! (KernelTap: the device's Ethernet address), `MTU` (default 1500), `BURST`
//! (packets per task run, default 32). Needs CAP_NET_ADMIN (root).
//!
//! Handlers: `dev_name`, `count` (packets from the host), `drops` (packets the
//! host refused).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{EtherAddr, Ipv4Prefix, Word};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

use crate::host_io::TunDevice;

pub struct KernelTun {
    tap: bool,
    prefix: Ipv4Prefix,
    dev_name: String,
    ether: Option<[u8; 6]>,
    mtu: u32,
    burst: u32,
    dev: Option<TunDevice>,
    buf: Vec<u8>,
    count: u64,
    drops: u64,
}

impl KernelTun {
    pub fn tun() -> Self {
        KernelTun::new(false)
    }
    pub fn tap() -> Self {
        KernelTun::new(true)
    }
    fn new(tap: bool) -> Self {
        KernelTun {
            tap,
            prefix: Ipv4Prefix::default(),
            dev_name: String::new(),
            ether: None,
            mtu: 1500,
            burst: 32,
            dev: None,
            buf: Vec::new(),
            count: 0,
            drops: 0,
        }
    }
}

impl Element for KernelTun {
    fn class_name(&self) -> &'static str {
        if self.tap { "KernelTap" } else { "KernelTun" }
    }
    fn port_count(&self) -> &'static str {
        "0-1/1-2"
    }
    fn processing(&self) -> &'static str {
        "a/h"
    }
    fn port_flow(&self, _input: usize, _output: usize) -> bool {
        // What goes into the host does not come back out of the element.
        false
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.prefix = a.read_mp("ADDR").unwrap_or_default();
        let _gw: Option<oxclick_lang::args::Ipv4Addr> = a.read_p("GATEWAY");
        self.dev_name = a.read::<Word>("DEVNAME").map(|w| w.0).unwrap_or_default();
        self.ether = a.read::<EtherAddr>("ETHER").map(|e| e.0);
        self.mtu = a.read_or("MTU", 1500);
        self.burst = a.read_or("BURST", 32);
        let _headroom: Option<u32> = a.read("HEADROOM");
        finish_args(a)?;
        if self.dev_name.is_empty() {
            self.dev_name = String::from(if self.tap { "tap%d" } else { "tun%d" });
        }
        if self.ether.is_some() && !self.tap {
            return Err(alloc::vec![String::from("ETHER: only KernelTap devices have Ethernet addresses")]);
        }
        Ok(())
    }
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        let dev = TunDevice::open(&self.dev_name, self.tap)?;
        dev.configure(self.prefix.addr.0, self.prefix.mask.0, Some(self.mtu), self.ether)
            .map_err(|e| format!("{}: {e}", dev.name))?;
        self.dev_name = dev.name.clone();
        self.dev = Some(dev);
        self.buf = alloc::vec![0u8; 65_536];
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let Some(dev) = self.dev.as_ref() else { return false };
        let now = cx.now();
        let mut batch = cx.new_batch();
        for _ in 0..self.burst.max(1) {
            let Some(n) = dev.recv(&mut self.buf) else { break };
            let mut p = cx.new_packet(&self.buf[..n]);
            p.anno.timestamp = now;
            if !self.tap && n >= 20 && self.buf[0] >> 4 == 4 {
                p.anno.network_header = Some(0);
                p.anno.transport_header = Some(usize::from(self.buf[0] & 0x0f) * 4);
                p.anno.dst_ip = [self.buf[16], self.buf[17], self.buf[18], self.buf[19]];
            }
            batch.push(p);
        }
        if batch.is_empty() {
            cx.recycle_batch(batch);
            cx.wake_at(now.saturating_add(1_000_000));
            cx.sleep();
            return false;
        }
        self.count += batch.len() as u64;
        cx.push_batch(0, batch);
        true
    }
    fn push(&mut self, _port: usize, p: Packet, _cx: &mut Ctx) {
        let Some(dev) = self.dev.as_ref() else { return };
        // A TUN device takes IP packets: start at the IP header if one is marked.
        let data = match (self.tap, p.anno.network_header) {
            (false, Some(nh)) => p.data().get(nh..).unwrap_or(&[]),
            _ => p.data(),
        };
        if dev.send(data).is_err() {
            self.drops += 1;
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "dev_name" => Some(self.dev_name.clone()),
            "count" => Some(format!("{}", self.count)),
            "drops" => Some(format!("{}", self.drops)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["dev_name", "count", "drops"]
    }
}
