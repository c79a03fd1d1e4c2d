//! ClickOS's xenstore control protocol, driving oxclick routers: so ClickOS's
//! tooling (cosmos, clickos-ctl) and ours (`oxclick ctl`) can install, start,
//! stop, inspect and reconfigure the routers in a guest.
//!
//! The layout, under the guest's home (`/local/domain/<domid>/`), for router
//! `<rid>` (0 to 63):
//!
//! | path under `data/clickos/<rid>/` | written by | meaning |
//! | --- | --- | --- |
//! | `config/0`, `config/1`, ... | toolstack | the configuration text, in chunks of 512 bytes |
//! | `config_name` | toolstack | a name for it (informational) |
//! | `status` | both | `Running` starts the router, `Halted` (or ClickOS-ctl's `Stopped`) stops it; the guest writes `Error` when the configuration fails and `Halted` when the router stops by itself |
//! | `errors` | guest | why the configuration failed (Click's messages, one per line) |
//! | `control/read/<elem>/<handler>` | toolstack | asks for a read handler; the guest answers under `elements/` and removes the request |
//! | `elements/<elem>/<handler>` | both | a read handler's answer (guest), or a value to write to a write handler (toolstack) |
//! | `control/errors/<elem>/<handler>` | guest | why a handler read or write failed |
//!
//! Router-wide handlers have no `<elem>` (`control/read/list`,
//! `elements/hotconfig`); element names with `/` (compound elements) span
//! several path levels, the last level always being the handler.
//!
//! Writing new `config/` chunks to a running router hot-swaps it (keeping its
//! state where names and classes match), which ClickOS could not do. Writers
//! should replace the chunks in one transaction, as clickos-ctl does; a
//! configuration read while half written fails to parse and the running router
//! keeps going until the rest arrives.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use oxclick_runtime::{Clock, DeviceInfo, Registry, Router, RouterOptions};

use crate::xenstore::{Client, Error, NO_TX, Transport, TxId};

/// Where the routers live, relative to the domain's home.
pub const BASE: &str = "data/clickos";
/// The watch token of [`BASE`].
pub const WATCH_TOKEN: &str = "oxclick-clickos";
/// Bytes per configuration chunk (ClickOS's).
pub const CHUNK: usize = 512;
/// Routers per guest (ClickOS's limit).
pub const MAX_ROUTERS: u32 = 64;
/// Configuration chunks read at most (a 4 MiB configuration).
const MAX_CHUNKS: usize = 8192;

/// Where router console lines go: (router id, line).
pub type Console = Rc<dyn Fn(u32, &str)>;

/// What routers need from the platform.
pub struct Platform {
    /// The network devices, in device-number order.
    pub devices: Vec<DeviceInfo>,
    /// A clock for a new router.
    pub clock: Box<dyn Fn() -> Box<dyn Clock>>,
    /// Where a router's console lines go (its id, the line).
    pub console: Console,
}

struct Slot {
    router: Router,
    /// The configuration text it runs, to tell a real change from a rewrite.
    config: String,
    /// Devices whose received frames it takes (it has a FromNetfront for them).
    reads: Vec<usize>,
}

/// The guest's routers and the protocol that controls them.
pub struct Routers {
    platform: Platform,
    registry: Registry,
    slots: BTreeMap<u32, Slot>,
    /// Values the guest wrote under `elements/` (read answers), so their watch
    /// events are not taken for handler writes.
    answered: BTreeMap<String, Vec<u8>>,
}

/// A path below `data/clickos/<rid>/`, parsed.
#[derive(Debug, PartialEq, Eq)]
enum Node<'a> {
    Base,
    Router(u32),
    Status(u32),
    Config(u32),
    ReadRequest(u32, &'a str),
    Element(u32, &'a str),
    Other,
}

fn parse_node(path: &str) -> Node<'_> {
    // Watch events carry the path as registered (relative) or absolute.
    let Some(at) = path.find(BASE) else { return Node::Other };
    let rest = &path[at + BASE.len()..];
    if rest.is_empty() {
        return Node::Base;
    }
    let Some(rest) = rest.strip_prefix('/') else { return Node::Other };
    let (rid, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(rid) = rid.parse::<u32>().ok().filter(|r| *r < MAX_ROUTERS) else { return Node::Other };
    if rest.is_empty() {
        return Node::Router(rid);
    }
    if rest == "status" {
        return Node::Status(rid);
    }
    if rest == "config" || rest.starts_with("config/") {
        return Node::Config(rid);
    }
    if let Some(h) = rest.strip_prefix("control/read/") {
        return Node::ReadRequest(rid, h);
    }
    if let Some(h) = rest.strip_prefix("elements/") {
        return Node::Element(rid, h);
    }
    Node::Other
}

/// `elem/handler` (or a bare router-wide `handler`) split at the last `/`.
fn split_handler(spec: &str) -> (Option<&str>, &str) {
    match spec.rsplit_once('/') {
        Some((e, h)) => (Some(e), h),
        None => (None, spec),
    }
}

fn router_path(rid: u32) -> String {
    format!("{BASE}/{rid}")
}

impl Routers {
    pub fn new(platform: Platform, registry: Registry) -> Routers {
        Routers { platform, registry, slots: BTreeMap::new(), answered: BTreeMap::new() }
    }

    /// Create `data/clickos` (so tools see a ClickOS domain) and watch it. The
    /// watch fires once at once, which installs whatever the toolstack put
    /// there before we booted.
    pub fn attach<T: Transport>(&mut self, xs: &mut Client<T>) -> Result<(), Error> {
        if xs.read(NO_TX, BASE).is_err() {
            xs.write(NO_TX, BASE, b"")?;
        }
        xs.watch(BASE, WATCH_TOKEN)
    }

    /// Install configuration `text` as router `rid`, publish it in xenstore in
    /// ClickOS's layout (so tools can inspect and replace it) and run it: what
    /// a guest built with an embedded configuration does at boot.
    pub fn install<T: Transport>(
        &mut self,
        xs: &mut Client<T>,
        rid: u32,
        name: &str,
        text: &str,
    ) -> Result<(), Vec<String>> {
        self.start(rid, text)?;
        let base = router_path(rid);
        let published = xs.transaction(|xs, tx| {
            write_config(xs, tx, &base, text)?;
            xs.write(tx, &format!("{base}/config_name"), name.as_bytes())?;
            xs.write(tx, &format!("{base}/status"), b"Running")
        });
        if let Err(e) = published {
            (self.platform.console)(rid, &format!("cannot publish the configuration in xenstore: {e}"));
        }
        Ok(())
    }

    /// Build and start router `rid` from `text` (replacing any router there).
    fn start(&mut self, rid: u32, text: &str) -> Result<(), Vec<String>> {
        let router = self.build(rid, text)?;
        let reads = devices_read(&router);
        self.slots.insert(rid, Slot { router, config: text.to_string(), reads });
        Ok(())
    }

    fn build(&self, rid: u32, text: &str) -> Result<Router, Vec<String>> {
        let sink = |c: &Console| {
            let c = c.clone();
            Box::new(move |line: &str| c(rid, line)) as Box<dyn FnMut(&str)>
        };
        let opts = RouterOptions {
            config_text: String::new(),
            flat_text: String::new(),
            console: sink(&self.platform.console),
            output: sink(&self.platform.console),
            clock: (self.platform.clock)(),
            devices: self.platform.devices.clone(),
            fuse_lanes: true,
        };
        Router::from_text(text, &format!("router {rid}"), &self.registry, opts)
    }

    /// After the domain was restored from a saved image its xenstore home is a
    /// new one, empty: publish every running router again (configuration and
    /// `status`), so tools see and drive them as before. Their state never left
    /// memory.
    pub fn republish<T: Transport>(&mut self, xs: &mut Client<T>) {
        if xs.read(NO_TX, BASE).is_err() {
            let _ = xs.write(NO_TX, BASE, b"");
        }
        for (rid, slot) in &self.slots {
            let base = router_path(*rid);
            let published = xs.transaction(|xs, tx| {
                write_config(xs, tx, &base, &slot.config)?;
                xs.write(tx, &format!("{base}/status"), b"Running")
            });
            if let Err(e) = published {
                (self.platform.console)(*rid, &format!("cannot publish the configuration again: {e}"));
            }
        }
    }

    /// The running routers' ids.
    pub fn running(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.keys().copied()
    }

    /// Router `rid`, if it runs.
    pub fn router(&mut self, rid: u32) -> Option<&mut Router> {
        self.slots.get_mut(&rid).map(|s| &mut s.router)
    }

    /// React to a watch event on `path`. Failures are reported through
    /// xenstore (`status`, `errors`, `control/errors/...`) and the console;
    /// nothing a toolstack writes can stop the guest.
    pub fn on_event<T: Transport>(&mut self, xs: &mut Client<T>, path: &str) {
        match parse_node(path) {
            Node::Base => {
                let rids: Vec<u32> = xs
                    .directory(NO_TX, BASE)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|r| r.parse().ok())
                    .filter(|r| *r < MAX_ROUTERS)
                    .collect();
                for rid in rids {
                    self.sync_status(xs, rid);
                }
            }
            Node::Router(rid) | Node::Status(rid) => self.sync_status(xs, rid),
            Node::Config(rid) => self.config_changed(xs, rid),
            Node::ReadRequest(rid, spec) => self.answer_read(xs, rid, spec),
            Node::Element(rid, spec) => self.handler_write(xs, rid, spec),
            Node::Other => {}
        }
    }

    /// Start or stop router `rid` as its `status` says.
    fn sync_status<T: Transport>(&mut self, xs: &mut Client<T>, rid: u32) {
        let base = router_path(rid);
        let status = match xs.read_string(NO_TX, &format!("{base}/status")) {
            Ok(s) => s,
            // The router's node was removed: stop it.
            Err(e) if e.is_not_found() => String::from("Halted"),
            Err(_) => return,
        };
        let status = status.trim_end_matches('\0').trim();
        match (status, self.slots.contains_key(&rid)) {
            ("Running", false) => {
                let text = match read_config(xs, &base) {
                    Ok(t) => t,
                    Err(e) => return self.fail(xs, rid, &[format!("cannot read the configuration: {e}")]),
                };
                match self.start(rid, &text) {
                    Ok(()) => {
                        let _ = xs.rm(NO_TX, &format!("{base}/errors"));
                        (self.platform.console)(rid, "router running");
                    }
                    Err(errors) => self.fail(xs, rid, &errors),
                }
            }
            ("Halted" | "Stopped" | "Error" | "", true) => {
                self.slots.remove(&rid);
                (self.platform.console)(rid, "router stopped");
            }
            _ => {}
        }
    }

    /// New configuration chunks for router `rid`: hot-swap it if it runs.
    fn config_changed<T: Transport>(&mut self, xs: &mut Client<T>, rid: u32) {
        let Some(slot) = self.slots.get(&rid) else { return };
        let base = router_path(rid);
        let Ok(text) = read_config(xs, &base) else { return };
        if text == slot.config {
            return;
        }
        let Some(slot) = self.slots.get_mut(&rid) else { return };
        match slot.router.hot_swap(&text) {
            Ok(()) => {
                slot.config = text;
                slot.reads = devices_read(&slot.router);
                let _ = xs.rm(NO_TX, &format!("{base}/errors"));
                (self.platform.console)(rid, "new configuration swapped in");
            }
            Err(errors) => {
                // The running router goes on; say why the new one did not.
                let _ = xs.write(NO_TX, &format!("{base}/errors"), errors.join("\n").as_bytes());
                for e in &errors {
                    (self.platform.console)(rid, e);
                }
            }
        }
    }

    fn fail<T: Transport>(&mut self, xs: &mut Client<T>, rid: u32, errors: &[String]) {
        let base = router_path(rid);
        for e in errors {
            (self.platform.console)(rid, e);
        }
        let _ = xs.write(NO_TX, &format!("{base}/errors"), errors.join("\n").as_bytes());
        let _ = xs.write(NO_TX, &format!("{base}/status"), b"Error");
    }

    fn answer_read<T: Transport>(&mut self, xs: &mut Client<T>, rid: u32, spec: &str) {
        let base = router_path(rid);
        let request = format!("{base}/control/read/{spec}");
        // Our own removal of the request fires the watch too.
        if xs.read(NO_TX, &request).is_err() {
            return;
        }
        let (elem, handler) = split_handler(spec);
        let answer = match self.slots.get(&rid) {
            None => Err(format!("router {rid} is not running")),
            Some(slot) => read_handler(&slot.router, elem, handler),
        };
        let answer_path = format!("{base}/elements/{spec}");
        let error_path = format!("{base}/control/errors/{spec}");
        let _ = xs.transaction(|xs, tx: TxId| {
            match &answer {
                Ok(value) => {
                    xs.write(tx, &answer_path, value.as_bytes())?;
                    remove(xs, tx, &error_path)?;
                }
                Err(e) => xs.write(tx, &error_path, e.as_bytes())?,
            }
            xs.rm(tx, &request)
        });
        if let Ok(value) = answer {
            self.answered.insert(answer_path, value.into_bytes());
        }
    }

    fn handler_write<T: Transport>(&mut self, xs: &mut Client<T>, rid: u32, spec: &str) {
        let base = router_path(rid);
        let path = format!("{base}/elements/{spec}");
        let Ok(value) = xs.read(NO_TX, &path) else { return };
        if self.answered.get(&path) == Some(&value) {
            return;
        }
        self.answered.remove(&path);
        let Some(slot) = self.slots.get_mut(&rid) else { return };
        let text = String::from_utf8_lossy(&value);
        let (elem, handler) = split_handler(spec);
        let result = match elem {
            None => slot.router.write_handler(None, handler, &text),
            Some(name) => match slot.router.find(name) {
                None => Some(Err(format!("no element named '{name}'"))),
                Some(i) => slot.router.write_handler(Some(i), handler, &text),
            },
        };
        let result = result.unwrap_or_else(|| Err(format!("no write handler '{spec}'")));
        if handler == "hotconfig" && result.is_ok() {
            slot.config = text.into_owned();
            slot.reads = devices_read(&slot.router);
        }
        let error_path = format!("{base}/control/errors/{spec}");
        match result {
            Ok(()) => {
                let _ = remove(xs, NO_TX, &error_path);
            }
            Err(e) => {
                (self.platform.console)(rid, &format!("{spec}: {e}"));
                let _ = xs.write(NO_TX, &error_path, e.as_bytes());
            }
        }
    }

    /// Hand a frame received on device `dev` to the lowest-numbered running
    /// router that reads that device. False if none takes it.
    pub fn deliver(&mut self, dev: usize, frame: &[u8]) -> bool {
        for slot in self.slots.values_mut() {
            if slot.reads.contains(&dev) {
                return slot.router.device_receive(dev, frame);
            }
        }
        false
    }

    /// Run every router while it has work; the earliest timer any of them has
    /// pending, if any. Routers that stopped by themselves are removed and
    /// their status set to `Halted`.
    pub fn run<T: Transport>(&mut self, xs: &mut Client<T>) -> Option<u64> {
        let mut wake: Option<u64> = None;
        let mut stopped = Vec::new();
        for (&rid, slot) in self.slots.iter_mut() {
            if let Some(t) = slot.router.run_while_busy() {
                wake = Some(wake.map_or(t, |w| w.min(t)));
            }
            if slot.router.is_stopped() {
                stopped.push(rid);
            }
        }
        for rid in stopped {
            (self.platform.console)(rid, "router stopped itself");
            let _ = xs.write(NO_TX, &format!("{}/status", router_path(rid)), b"Halted");
            // The status write's watch event finds it gone already.
            self.slots.remove(&rid);
        }
        wake
    }

    /// Give every router's frames waiting for device `dev` to `send`, until it
    /// returns false (the ring is full). Returns how many went.
    pub fn transmit(&mut self, dev: usize, mut send: impl FnMut(&[u8]) -> bool) -> usize {
        let mut sent = 0;
        let mut full = false;
        for slot in self.slots.values_mut() {
            sent += slot.router.device_transmit(dev, |f| {
                if full {
                    return false;
                }
                full = !send(f);
                !full
            });
            if full {
                break;
            }
        }
        sent
    }
}

/// The devices a router's FromNetfront (or FromDevice) elements read.
fn devices_read(router: &Router) -> Vec<usize> {
    let mut devs = Vec::new();
    for class in ["FromNetfront", "FromDevice"] {
        for i in router.elements_of_class(class) {
            let config = router.read_handler(Some(i), "config").unwrap_or_default();
            let first = oxclick_lang::args::split_args(&config).into_iter().next().unwrap_or_default();
            if let Some(d) = oxclick_elements::from_netfront::parse_devid(&first)
                && !devs.contains(&d)
            {
                devs.push(d);
            }
        }
    }
    devs
}

fn read_handler(router: &Router, elem: Option<&str>, handler: &str) -> Result<String, String> {
    let index = match elem {
        None => None,
        Some(name) => Some(router.find(name).ok_or_else(|| format!("no element named '{name}'"))?),
    };
    router.read_handler(index, handler).ok_or_else(|| match elem {
        Some(name) => format!("no read handler '{name}.{handler}'"),
        None => format!("no read handler '{handler}'"),
    })
}

/// Remove `path` and what is below it, if it is there: one request, a missing
/// node being no error.
fn remove<T: Transport>(xs: &mut Client<T>, tx: TxId, path: &str) -> Result<(), Error> {
    match xs.rm(tx, path) {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Replace router `base`'s configuration chunks with `text`'s.
pub fn write_config<T: Transport>(xs: &mut Client<T>, tx: TxId, base: &str, text: &str) -> Result<(), Error> {
    let dir = format!("{base}/config");
    remove(xs, tx, &dir)?;
    for (i, chunk) in text.as_bytes().chunks(CHUNK).enumerate() {
        xs.write(tx, &format!("{dir}/{i}"), chunk)?;
    }
    Ok(())
}

/// Router `base`'s configuration: its chunks `config/0`, `config/1`, ... up to
/// the first missing one, read in one transaction.
pub fn read_config<T: Transport>(xs: &mut Client<T>, base: &str) -> Result<String, Error> {
    let bytes = xs.transaction(|xs, tx| {
        let mut bytes = Vec::new();
        for i in 0..MAX_CHUNKS {
            match xs.read(tx, &format!("{base}/config/{i}")) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(bytes)
    })?;
    String::from_utf8(bytes).map_err(|_| Error::NotUtf8)
}

#[cfg(test)]
mod tests;
