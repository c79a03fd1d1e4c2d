//! FromNetfront — receive packets from a Xen network device (a vif).
//!
//! `FromNetfront(DEVID [, KEYWORDS])`
//!
//! No inputs, one push output. Pushes the frames the guest receives on network
//! device DEVID: `0` for the domain's first vif (`device/vif/0`), `1` for the
//! next, and so on (`vif1` and `eth1` are read as `1` too). Up to `BURST`
//! (default 32) frames go out per task run, as one batch. In the guest,
//! `FromDevice` is another name for this element, as in ClickOS. The driver
//! moves frames from the netfront ring into the device's receive queue
//! (1024 frames; more are dropped and counted); this element takes them from
//! there.
//!
//! Keywords: `BURST`, `ACTIVE` (default true).
//!
//! Handlers: `count` (frames pushed), `drops` (frames the device's full queue
//! dropped), `active` (read/write), `device` (the driver's name and MAC
//! address of the device).
//!
//! Only routers a driver gives network devices can run it (the Xen guest); on
//! the host, initialization fails naming the missing device.

use alloc::format;
use alloc::string::String;

use oxclick_lang::args::{ArgType, Word};
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, MAX_BATCH, finish_args};

/// A device number from `0`, `vif0` or `eth0`.
pub fn parse_devid(text: &str) -> Option<usize> {
    let t = text.trim();
    let digits = t.strip_prefix("vif").or_else(|| t.strip_prefix("eth")).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Read the DEVID argument, or say what was wrong.
pub fn read_devid(a: &mut oxclick_lang::args::Args) -> Result<usize, ConfigErrors> {
    let word: Option<Word> = a.read_mp("DEVID");
    let Some(Word(text)) = word else { return Err(alloc::vec![String::from("missing DEVID argument")]) };
    parse_devid(&text)
        .ok_or_else(|| alloc::vec![format!("DEVID: expected a device number (0, vif0, eth0), not '{text}'")])
}

/// Fail initialization with a clear message when the driver has no device `dev`.
pub fn check_device(dev: usize, cx: &mut Ctx) -> Result<(), String> {
    let n = cx.device_count();
    if dev < n {
        return Ok(());
    }
    Err(match n {
        0 => format!("no network device {dev}: this driver has none (netfront devices exist in the Xen guest)"),
        _ => format!("no network device {dev}: this domain has {n} (0 to {})", n - 1),
    })
}

pub struct FromNetfront {
    dev: usize,
    burst: usize,
    active: bool,
    count: u64,
    /// The device's drop count and description, refreshed as the task runs
    /// (handlers cannot reach the router's devices).
    drops: u64,
    device: String,
}

impl Default for FromNetfront {
    fn default() -> Self {
        FromNetfront { dev: 0, burst: MAX_BATCH, active: true, count: 0, drops: 0, device: String::new() }
    }
}

impl Element for FromNetfront {
    fn class_name(&self) -> &'static str {
        "FromNetfront"
    }
    fn port_count(&self) -> &'static str {
        "0/1"
    }
    fn processing(&self) -> &'static str {
        "/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let dev = read_devid(&mut a);
        self.burst = a.read_or("BURST", MAX_BATCH as u32).max(1) as usize;
        self.active = a.read_or("ACTIVE", true);
        finish_args(a)?;
        self.dev = dev?;
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        check_device(self.dev, cx)?;
        if let Some(d) = cx.device(self.dev) {
            let m = d.info.mac;
            self.device = format!(
                "{} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                d.info.name, m[0], m[1], m[2], m[3], m[4], m[5]
            );
        }
        Ok(())
    }
    fn has_task(&self) -> bool {
        true
    }
    fn run_task(&mut self, cx: &mut Ctx) -> bool {
        if !self.active {
            return false;
        }
        let mut batch = cx.new_batch();
        if let Some(d) = cx.device(self.dev) {
            while batch.len() < self.burst {
                match d.receive() {
                    Some(p) => batch.push(p),
                    None => break,
                }
            }
            self.drops = d.rx_drops;
        }
        let n = batch.len();
        self.count += n as u64;
        cx.push_batch(0, batch);
        n > 0
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "drops" => Some(format!("{}", self.drops)),
            "active" => Some(format!("{}", self.active)),
            "device" => Some(self.device.clone()),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "drops", "active", "device"]
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        (name == "active").then(|| {
            let v = value.trim();
            bool::parse_arg(v).map(|b| self.active = b).map_err(|_| format!("active: expected boolean, not '{v}'"))
        })
    }
}
