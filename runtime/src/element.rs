//! The `Element` trait: what every element class implements, and the context through
//! which it reaches its neighbours, the clock and the driver.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use oxclick_lang::args::{AddressNames, Args};

use crate::packet::Packet;
use crate::router::Core;

/// A configuration error list (Click prints them under "While configuring ...").
pub type ConfigErrors = Vec<String>;

/// What an element class is. Defaults give a `0/0` agnostic element with no
/// configuration, no task and only the standard handlers.
pub trait Element {
    fn class_name(&self) -> &'static str;

    /// Port counts, e.g. `"1/1"`, `"1/1-2"`, `"0/-"` (Click's `port_count`).
    fn port_count(&self) -> &'static str {
        "0/0"
    }

    /// Processing per port: `h` push, `l` pull, `a` agnostic (Click's `processing`).
    fn processing(&self) -> &'static str {
        "a/a"
    }

    /// Whether packets arriving on `input` can leave on `output` (Click's flow code);
    /// push and pull spread through agnostic ports only along such paths.
    fn port_flow(&self, _input: usize, _output: usize) -> bool {
        true
    }

    /// Read the configuration string. The default accepts only an empty one.
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        finish_args(cx.args(config))
    }

    /// Called once ports are resolved, before running.
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        Ok(())
    }

    /// The common case: transform or drop one packet (Click's `simple_action`).
    fn simple_action(&mut self, p: Packet, _cx: &mut Ctx) -> Option<Packet> {
        Some(p)
    }

    /// A packet arrives on push input `port`.
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        if let Some(q) = self.simple_action(p, cx) {
            cx.push(0, q);
        }
    }

    /// A batch of packets arrives on push input `port`. Elements that can do better
    /// than one at a time override this.
    fn push_batch(&mut self, port: usize, batch: Vec<Packet>, cx: &mut Ctx) {
        for p in batch {
            self.push(port, p, cx);
        }
    }

    /// Someone pulls from output `port`.
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        let p = cx.pull(0)?;
        self.simple_action(p, cx)
    }

    /// Whether this element has a task to schedule (decided after `initialize`).
    fn has_task(&self) -> bool {
        false
    }

    /// Run the task once; returns whether it did work.
    fn run_task(&mut self, _cx: &mut Ctx) -> bool {
        false
    }

    /// Element-specific read handler `name`.
    fn read_handler(&self, _name: &str) -> Option<String> {
        None
    }

    /// Names of element-specific handlers.
    fn handler_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// Element-specific write handler; `None` when there is no such handler.
    fn write_handler(&mut self, _name: &str, _value: &str) -> Option<Result<(), String>> {
        None
    }

    /// Whether this element decides when the driver stops (DriverManager).
    fn manages_driver(&self) -> bool {
        false
    }
}

/// What `configure` can see besides its own string: the router's AddressInfo names.
pub struct ConfigCtx<'a> {
    pub names: &'a AddressNames,
}

impl<'a> ConfigCtx<'a> {
    /// An argument reader for `config` that resolves AddressInfo names.
    pub fn args(&self, config: &str) -> Args<'a> {
        Args::with_names(config, self.names)
    }
}

/// A constructor for an element class.
pub type Constructor = fn() -> Box<dyn Element>;

/// An element's view of the router while it runs.
pub struct Ctx<'a> {
    pub(crate) core: &'a mut Core,
    pub(crate) me: usize,
}

impl Ctx<'_> {
    /// Send `p` out of push output `port` (dropped if the port is unconnected).
    pub fn push(&mut self, port: usize, p: Packet) {
        self.core.push_from(self.me, port, p);
    }

    /// Pull a packet from pull input `port`.
    pub fn pull(&mut self, port: usize) -> Option<Packet> {
        self.core.pull_into(self.me, port)
    }

    /// The router clock, in nanoseconds.
    pub fn now(&self) -> u64 {
        self.core.now
    }

    /// Ask to be run again no later than `t` (a timer, for rate-limited tasks).
    pub fn wake_at(&mut self, t: u64) {
        self.core.next_wake = Some(self.core.next_wake.map_or(t, |w| w.min(t)));
    }

    /// Ask the driver to stop (Click's `please_stop_driver`).
    pub fn request_stop(&mut self) {
        self.core.stop_requests += 1;
    }

    /// How many stop requests have been made so far.
    pub fn stop_requests(&self) -> u32 {
        self.core.stop_requests
    }

    /// Stop the driver now (DriverManager's `stop`).
    pub fn stop_now(&mut self) {
        self.core.stopped = true;
    }

    pub fn ninputs(&self) -> usize {
        self.core.ninputs[self.me]
    }

    pub fn noutputs(&self) -> usize {
        self.core.noutputs[self.me]
    }

    pub fn output_is_push(&self, port: usize) -> bool {
        self.core.output_push[self.me].get(port).copied().unwrap_or(false)
    }

    pub fn input_is_pull(&self, port: usize) -> bool {
        self.core.input_pull[self.me].get(port).copied().unwrap_or(false)
    }

    /// Call another element's read handler, `ELEM.HANDLER`.
    pub fn read_handler(&mut self, spec: &str) -> Result<String, String> {
        self.core.read_handler(spec)
    }

    /// Call another element's write handler, `ELEM.HANDLER`.
    pub fn write_handler(&mut self, spec: &str, value: &str) -> Result<(), String> {
        self.core.write_handler(spec, value)
    }

    /// Write a line to the router's report output (standard output on the host).
    pub fn output(&mut self, line: &str) {
        (self.core.output)(line);
    }

    /// Write a line to the router's console (standard error on the host).
    pub fn console(&mut self, line: &str) {
        (self.core.console)(line);
    }
}

/// Turn the argument reader's result into an element's configure result.
pub fn finish_args(args: Args) -> Result<(), ConfigErrors> {
    args.complete().map_err(|e| e.iter().map(|x| x.to_string()).collect())
}
