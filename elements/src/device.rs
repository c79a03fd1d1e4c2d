//! FromDevice, ToDevice — Ethernet frames from and to a Linux network device.
//!
//! `FromDevice(DEVNAME [, KEYWORDS])`
//!
//! DEVNAME is a Linux device name or, when no device has that name, an Ethernet
//! address (or an AddressInfo name for one, `extern:eth`): the device with that
//! address, as in Click.
//!
//! No inputs, one push output. Emits every frame the device DEVNAME receives,
//! read from an AF_PACKET socket, with its timestamp and packet type annotation
//! (host, broadcast, multicast, other host) set. The kernel sees the frames too
//! (Click's `SNIFFER true`). Keywords: `PROMISC` (default false: put the device in
//! promiscuous mode), `OUTBOUND` (default false: also emit frames this host sends
//! on the device, including those of ToDevice), `BURST` (frames per task run,
//! default 32), `SNAPLEN` (bytes kept per frame, default 2046), `ACTIVE`. Needs
//! the CAP_NET_RAW capability (root). When nothing arrives the task checks again
//! within a millisecond.
//!
//! `ToDevice(DEVNAME [, KEYWORDS])`
//!
//! One agnostic input, no outputs. Sends each packet, as a complete Ethernet
//! frame, out of DEVNAME through an AF_PACKET socket: pushed packets at once,
//! pulled packets `BURST` (default 32) per task run. Frames the device refuses
//! (too long, no buffer space) are dropped and counted.
//!
//! Handlers: `count` (frames received or sent), `drops` (ToDevice).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{ArgType, EtherAddr, Word};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, PacketType, finish_args};

use crate::host_io::{Direction, PacketSocket, resolve_device};

/// The Ethernet address DEVNAME stands for, if it is one (`00:e0:98:09:ab:af`,
/// or an AddressInfo name such as `extern:eth`): Click finds the device with
/// that address when no device has that name.
fn device_mac(dev: &str, cx: &ConfigCtx) -> Option<[u8; 6]> {
    EtherAddr::parse_arg(dev).ok().or_else(|| EtherAddr::from_name(dev, cx.names)).map(|e| e.0)
}

/// Frames bigger than this are cut (segmentation offload can hand up 64 KB ones).
const RECV_BUFFER: usize = 65_536;

pub struct FromDevice {
    dev: String,
    dev_mac: Option<[u8; 6]>,
    promisc: bool,
    outbound: bool,
    burst: u32,
    snaplen: usize,
    active: bool,
    sock: Option<PacketSocket>,
    buf: Vec<u8>,
    count: u64,
}

impl Default for FromDevice {
    fn default() -> Self {
        FromDevice {
            dev: String::new(),
            dev_mac: None,
            promisc: false,
            outbound: false,
            burst: 32,
            snaplen: 2046,
            active: true,
            sock: None,
            buf: Vec::new(),
            count: 0,
        }
    }
}

impl Element for FromDevice {
    fn class_name(&self) -> &'static str {
        "FromDevice"
    }
    fn port_count(&self) -> &'static str {
        "0/1"
    }
    fn processing(&self) -> &'static str {
        "/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.dev = a.read_mp::<Word>("DEVNAME").map(|w| w.0).unwrap_or_default();
        self.dev_mac = device_mac(&self.dev, cx);
        let _sniffer: Option<bool> = a.read("SNIFFER");
        self.promisc = a.read_p("PROMISC").unwrap_or(false);
        self.outbound = a.read_or("OUTBOUND", false);
        self.burst = a.read_or("BURST", 32);
        self.snaplen = a.read_p("SNAPLEN").unwrap_or(2046);
        self.active = a.read_or("ACTIVE", true);
        let _method: Option<Word> = a.read("METHOD");
        let _headroom: Option<u32> = a.read("HEADROOM");
        let _force_ip: Option<bool> = a.read("FORCE_IP");
        finish_args(a)
    }
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        let dev = resolve_device(&self.dev, self.dev_mac).map_err(|e| format!("{}: {e}", self.dev))?;
        self.sock = Some(PacketSocket::open(&dev, self.promisc).map_err(|e| format!("{}: {e}", self.dev))?);
        self.buf = alloc::vec![0u8; RECV_BUFFER];
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let Some(sock) = self.sock.as_ref() else { return false };
        if !self.active {
            cx.sleep();
            return false;
        }
        let now = cx.now();
        let mut batch = cx.new_batch();
        for _ in 0..self.burst.max(1) {
            let Some((n, dir)) = sock.recv(&mut self.buf) else { break };
            if dir == Direction::Outgoing && !self.outbound {
                continue;
            }
            let mut p = cx.new_packet(&self.buf[..n.min(self.snaplen)]);
            p.anno.timestamp = now;
            p.anno.packet_type = match dir {
                Direction::Host => PacketType::Host,
                Direction::Broadcast => PacketType::Broadcast,
                Direction::Multicast => PacketType::Multicast,
                Direction::OtherHost => PacketType::OtherHost,
                Direction::Outgoing => PacketType::Outgoing,
            };
            batch.push(p);
        }
        if batch.is_empty() {
            cx.recycle_batch(batch);
            // Nothing waiting: look again in a millisecond.
            cx.wake_at(now.saturating_add(1_000_000));
            cx.sleep();
            return false;
        }
        self.count += batch.len() as u64;
        cx.push_batch(0, batch);
        true
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "active" => Some(format!("{}", self.active)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "active"]
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        if !write {
            return self.read_handler(name).map(Ok);
        }
        (name == "active").then(|| {
            let r = <bool as oxclick_lang::args::ArgType>::parse_arg(value.trim())
                .map(|b| self.active = b)
                .map_err(|_| String::from("expected boolean"));
            cx.wake_self();
            r.map(|()| String::new())
        })
    }
}

pub struct ToDevice {
    dev: String,
    dev_mac: Option<[u8; 6]>,
    burst: u32,
    sock: Option<PacketSocket>,
    pulls: bool,
    notified: bool,
    count: u64,
    drops: u64,
}

impl Default for ToDevice {
    fn default() -> Self {
        ToDevice {
            dev: String::new(),
            dev_mac: None,
            burst: 32,
            sock: None,
            pulls: false,
            notified: false,
            count: 0,
            drops: 0,
        }
    }
}

impl ToDevice {
    fn send(&mut self, p: &Packet) {
        let Some(sock) = self.sock.as_ref() else { return };
        match sock.send(p.data()) {
            Ok(()) => self.count += 1,
            Err(_) => self.drops += 1,
        }
    }
}

impl Element for ToDevice {
    fn class_name(&self) -> &'static str {
        "ToDevice"
    }
    fn port_count(&self) -> &'static str {
        "1/0"
    }
    fn processing(&self) -> &'static str {
        "a/"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.dev = a.read_mp::<Word>("DEVNAME").map(|w| w.0).unwrap_or_default();
        self.dev_mac = device_mac(&self.dev, cx);
        self.burst = a.read_or("BURST", 32);
        let _quiet: Option<bool> = a.read("QUIET");
        let _method: Option<Word> = a.read("METHOD");
        let _ql: Option<u32> = a.read("QUEUE");
        finish_args(a)
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        let dev = resolve_device(&self.dev, self.dev_mac).map_err(|e| format!("{}: {e}", self.dev))?;
        self.sock = Some(PacketSocket::open(&dev, false).map_err(|e| format!("{}: {e}", self.dev))?);
        self.pulls = cx.input_is_pull(0);
        if self.pulls {
            self.notified = cx.listen_upstream_empty(0);
        }
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, _cx: &mut Ctx) {
        self.send(&p);
    }
    fn has_task(&self) -> bool {
        self.pulls
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let mut sent = 0;
        while sent < self.burst.max(1) {
            let Some(p) = cx.pull(0) else { break };
            self.send(&p);
            sent += 1;
        }
        if sent == 0 {
            if self.notified {
                cx.sleep();
            } else {
                let now = cx.now();
                cx.wake_at(now.saturating_add(1_000_000));
                cx.sleep();
            }
        }
        sent > 0
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "drops" => Some(format!("{}", self.drops)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "drops"]
    }
}
