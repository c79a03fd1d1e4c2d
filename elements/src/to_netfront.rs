//! ToNetfront — send packets out of a Xen network device (a vif).
//!
//! `ToNetfront(DEVID [, KEYWORDS])`
//!
//! One agnostic input, no outputs. Sends each packet as a frame on network
//! device DEVID (`0` for `device/vif/0`; `vif0` and `eth0` mean the same), as
//! FromNetfront numbers them. In the guest, `ToDevice` is another name for this
//! element, as in ClickOS. Pushed packets join the device's transmit queue (1024
//! frames; more are dropped and counted); with a pull input, its task pulls up
//! to `BURST` (default 32) packets per run while the queue has room, so a Queue
//! upstream holds the backlog. The driver moves queued frames onto the netfront
//! ring.
//!
//! Keywords: `BURST`.
//!
//! Handlers: `count` (packets queued to send), `drops` (packets the full queue
//! dropped).
//!
//! Only routers a driver gives network devices can run it (the Xen guest); on
//! the host, initialization fails naming the missing device.

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, MAX_BATCH, Packet, finish_args};

use crate::from_netfront::{check_device, read_devid};

pub struct ToNetfront {
    dev: usize,
    burst: usize,
    count: u64,
    drops: u64,
    pulls: bool,
}

impl Default for ToNetfront {
    fn default() -> Self {
        ToNetfront { dev: 0, burst: MAX_BATCH, count: 0, drops: 0, pulls: false }
    }
}

impl ToNetfront {
    fn send(&mut self, p: Packet, cx: &mut Ctx) {
        if let Some(d) = cx.device(self.dev) {
            if d.send(p) {
                self.count += 1;
            } else {
                self.drops += 1;
            }
        }
    }
}

impl Element for ToNetfront {
    fn class_name(&self) -> &'static str {
        "ToNetfront"
    }
    fn port_count(&self) -> &'static str {
        "1/0"
    }
    fn processing(&self) -> &'static str {
        "a/"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let dev = read_devid(&mut a);
        self.burst = a.read_or("BURST", MAX_BATCH as u32).max(1) as usize;
        finish_args(a)?;
        self.dev = dev?;
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        check_device(self.dev, cx)?;
        self.pulls = cx.input_is_pull(0);
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        self.send(p, cx);
    }
    fn push_batch(&mut self, _port: usize, mut batch: Batch, cx: &mut Ctx) {
        for p in batch.drain(..) {
            self.send(p, cx);
        }
        cx.recycle_batch(batch);
    }
    fn has_task(&self) -> bool {
        self.pulls
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        let mut sent = 0;
        while sent < self.burst && cx.device(self.dev).is_some_and(|d| d.tx_has_room()) {
            let Some(p) = cx.pull(0) else { break };
            self.send(p, cx);
            sent += 1;
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
