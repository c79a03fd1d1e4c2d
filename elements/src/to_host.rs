//! ToHost, ToHostSniffers — hand Ethernet frames to the host (user level).
//!
//! `ToHost([DEVNAME])` · `ToHostSniffers([DEVNAME])`
//!
//! One push input, no outputs. In Click's Linux kernel module these give frames
//! to the kernel's network stack (ToHost) or only to its packet sniffers, such
//! as tcpdump (ToHostSniffers). At user level oxclick gives them to a TAP
//! device it creates and brings up (with no address) on first use, shared by
//! every element naming it:
//!
//! - ToHost writes to DEVNAME (default `tohost0`). The host stack takes the
//!   frames as received on that device: give it the addresses it should answer
//!   for (`ip addr add ... dev tohost0`). A unicast frame's destination
//!   Ethernet address becomes the device's own, so the host does not discard
//!   it as addressed to another host (the kernel element marks such frames as
//!   the host's in the same way).
//! - ToHostSniffers writes to `sniffers0`, unchanged: `tcpdump -i sniffers0`
//!   sees every frame. The host discards unicast frames not addressed to the
//!   device; broadcasts reach it as they would on any device. DEVNAME (the
//!   device the frames belong to, as in Click) is accepted and shown by the
//!   `devname` handler; at user level it does not change where frames go.
//!
//! Both devices have IPv6 turned off, so the host sends nothing of its own
//! on them. Frames shorter than an Ethernet header are dropped. Needs CAP_NET_ADMIN
//! (root) for the TAP device.
//!
//! Handlers: `count` (frames handed over), `drops` (frames the device refused
//! or too short), `dev_name` (the TAP device), `devname` (ToHostSniffers' argument).

use alloc::format;
use alloc::string::String;
use std::sync::Arc;

use oxclick_lang::args::Word;
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

use crate::host_io::{TunDevice, device_ether};

pub struct ToHost {
    sniffers: bool,
    /// The TAP device frames go to.
    dev_name: String,
    /// ToHostSniffers' DEVNAME, for its handler.
    devname: String,
    dev: Option<Arc<TunDevice>>,
    /// The TAP device's Ethernet address (ToHost writes it into unicast frames).
    ether: [u8; 6],
    count: u64,
    drops: u64,
}

impl ToHost {
    pub fn host() -> Self {
        ToHost::new(false)
    }
    pub fn sniffers() -> Self {
        ToHost::new(true)
    }
    fn new(sniffers: bool) -> Self {
        ToHost {
            sniffers,
            dev_name: String::new(),
            devname: String::new(),
            dev: None,
            ether: [0; 6],
            count: 0,
            drops: 0,
        }
    }

    fn deliver(&mut self, p: &mut Packet) {
        let Some(dev) = self.dev.as_ref() else { return };
        if p.len() < 14 {
            self.drops += 1;
            return;
        }
        if !self.sniffers && p.data()[0] & 1 == 0 && p.data()[..6] != self.ether {
            p.data_mut()[..6].copy_from_slice(&self.ether);
        }
        match dev.send(p.data()) {
            Ok(()) => self.count += 1,
            Err(_) => self.drops += 1,
        }
    }
}

impl Element for ToHost {
    fn class_name(&self) -> &'static str {
        if self.sniffers { "ToHostSniffers" } else { "ToHost" }
    }
    fn port_count(&self) -> &'static str {
        "1/0"
    }
    fn processing(&self) -> &'static str {
        "h/"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let dev = a.read_p::<Word>("DEVNAME").map(|w| w.0);
        finish_args(a)?;
        if self.sniffers {
            self.devname = dev.unwrap_or_default();
            self.dev_name = String::from("sniffers0");
        } else {
            self.dev_name = dev.unwrap_or_else(|| String::from("tohost0"));
        }
        Ok(())
    }
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        let dev = TunDevice::shared_tap(&self.dev_name)?;
        self.ether = device_ether(&dev.name).ok_or_else(|| format!("{}: no Ethernet address", dev.name))?;
        self.dev = Some(dev);
        Ok(())
    }
    fn push(&mut self, _port: usize, mut p: Packet, _cx: &mut Ctx) {
        self.deliver(&mut p);
    }
    fn push_batch(&mut self, _port: usize, mut batch: Batch, cx: &mut Ctx) {
        for p in batch.iter_mut() {
            self.deliver(p);
        }
        cx.recycle_batch(batch);
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "drops" => Some(format!("{}", self.drops)),
            "dev_name" => Some(self.dev_name.clone()),
            "devname" => Some(self.devname.clone()),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "drops", "dev_name", "devname"]
    }
}
