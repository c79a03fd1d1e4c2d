//! The `Element` trait: what every element class implements, and the context through
//! which it reaches its neighbours, the clock and the driver.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::any::{Any, TypeId};
use core::cell::RefCell;

use oxclick_lang::args::{AddressNames, Args};

use crate::device::Device;
use crate::lanes::LaneMaker;
use crate::packet::{Packet, PacketPool};
use crate::router::Core;

/// Packets travelling together: batching amortizes dispatch over many packets.
pub type Batch = Vec<Packet>;

/// Most packets a source puts in one batch.
pub const MAX_BATCH: usize = 32;

/// `push_batch` for elements whose work is `simple_action`: each packet through
/// `simple_action`, the survivors on to output 0 as one batch. Survivors are
/// compacted in place in the batch's own vector, so a packet moves as little as
/// possible.
pub fn simple_action_batch<E: Element + ?Sized>(e: &mut E, batch: Batch, cx: &mut Ctx) {
    filter_map_batch(batch, cx, |p, cx| e.simple_action(p, cx));
}

/// [`simple_action_batch`] with the per-packet work as a closure: an element
/// that copies its settings into locals first lets the compiler keep them in
/// registers across the batch, where `&mut self` (which the work may change)
/// makes it load them again for every packet.
#[inline(always)]
pub fn filter_map_batch(mut batch: Batch, cx: &mut Ctx, mut f: impl FnMut(Packet, &mut Ctx) -> Option<Packet>) {
    let n = batch.len();
    let base = batch.as_mut_ptr();
    // SAFETY: with the length at 0, nothing below can drop a packet twice: slots
    // `0..kept` hold survivors written back, slots `i+1..n` are read at most once,
    // and if `f` unwinds the unread ones leak, which is safe.
    unsafe {
        batch.set_len(0);
        let mut kept = 0;
        for i in 0..n {
            let p = core::ptr::read(base.add(i));
            if let Some(q) = f(p, cx) {
                core::ptr::write(base.add(kept), q);
                kept += 1;
            }
        }
        batch.set_len(kept);
    }
    cx.push_batch(0, batch);
}

/// `push_batch` for elements that send each packet out of one output or drop it
/// (classifiers, switches, routing tables): `route` picks the output, and may
/// change the packet on the way. Consecutive packets for the same output travel
/// on as one batch, in arrival order, so the elements after keep batching.
/// `route` is called once per packet, in the batch's order (callers may count
/// calls to know which packet they are given).
pub fn route_batch(mut batch: Batch, cx: &mut Ctx, mut route: impl FnMut(&mut Packet) -> Option<usize>) {
    // Outputs leading to a lane group: its packets go to it together.
    if let Some(g) = cx.core.fed_group(cx.me) {
        return crate::lanes::route_to_lanes(batch, cx, g, route);
    }
    // The common case first: every packet goes out of one output, and the batch
    // goes on whole (a demux at 10,000 tenants sees batches of one).
    let mut out = None;
    let mut k = 0;
    let diverged = loop {
        let Some(p) = batch.get_mut(k) else { break None };
        match route(p) {
            Some(o) if out.is_none_or(|first| first == o) => {
                out = Some(o);
                k += 1;
            }
            other => break Some(other),
        }
    };
    let Some(kth) = diverged else {
        match out {
            Some(o) => cx.push_batch(o, batch),
            None => cx.recycle_batch(batch),
        }
        return;
    };
    // Packets 0..k go out of `out`, packet k out of `kth` (routed already), and
    // the rest in runs of consecutive packets bound for the same output. A run of
    // one goes out as a single push: no batch vector is taken for it and given
    // back downstream, which with many tenants round-robin is every run.
    let mut rest = cx.new_batch();
    rest.extend(batch.drain(k..));
    let (mut run, mut run_out) = (batch, out.unwrap_or(usize::MAX));
    let mut tail = rest.drain(..);
    let mut next = tail.next().map(|p| (p, kth));
    while let Some((p, o)) = next {
        if let Some(o) = o {
            if o != run_out && !run.is_empty() {
                send_run(&mut run, run_out, cx);
            }
            run_out = o;
            run.push(p);
        }
        next = tail.next().map(|mut p| {
            let o = route(&mut p);
            (p, o)
        });
    }
    drop(tail);
    cx.recycle_batch(rest);
    if run.len() == 1 {
        send_run(&mut run, run_out, cx);
    }
    if run.is_empty() {
        cx.recycle_batch(run);
    } else {
        cx.push_batch(run_out, run);
    }
}

/// Send `run` (not empty) out of `port`, leaving an empty batch in its place.
#[inline]
fn send_run(run: &mut Batch, port: usize, cx: &mut Ctx) {
    if run.len() == 1
        && let Some(p) = run.pop()
    {
        cx.push(port, p);
    } else {
        let full = core::mem::replace(run, cx.new_batch());
        cx.push_batch(port, full);
    }
}

/// What an element keeps that grows with the traffic it sees, as configured. The
/// consolidator (many tenants in one router) admits a tenant only if the worst case
/// of its elements fits the tenant's memory budget, so every element class says
/// which kind it is; one that does not is taken to be unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing grows with traffic: counters, rates, configuration, compiled programs.
    Stateless,
    /// Grows with traffic (queued packets, flows, table entries) up to a configured
    /// capacity; `bytes` is that worst case, beyond the element itself.
    Bounded { bytes: usize },
    /// Grows with traffic with no configured bound.
    Unbounded,
}

/// Worst-case bytes of one stored packet, for [`State::Bounded`] declarations:
/// a buffer for the largest frame a device hands over (with headroom) and its header.
pub const STORED_PACKET_BYTES: usize = 2048 + 256;

/// Worst-case bytes of a hashbrown table holding `entries` entries of `entry_bytes`
/// each (buckets are a power of two at most 7/8 full, one control byte per bucket),
/// for [`State::Bounded`] declarations.
pub fn hash_table_bytes(entries: usize, entry_bytes: usize) -> usize {
    let buckets = entries.saturating_mul(8).div_ceil(7).max(1).checked_next_power_of_two().unwrap_or(usize::MAX);
    buckets.saturating_mul(entry_bytes.saturating_add(1))
}

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

    /// [`Element::push`] for an element that says [`Element::tail_pushes`]: the
    /// same work, but the packet it would push on (if any) is returned with its
    /// output instead, and the router pushes it once the element is back in its
    /// slot. A packet that comes back to the element down that path (a tenant's
    /// answer reaching its guard) then finds it there and is a plain call, not
    /// a re-entry queued until the element returns.
    fn push_tail(&mut self, port: usize, p: Packet, cx: &mut Ctx) -> Option<(usize, Packet)> {
        self.push(port, p, cx);
        None
    }

    /// Whether single packets should go through [`Element::push_tail`]
    /// (decided once, when the router is built).
    fn tail_pushes(&self) -> bool {
        false
    }

    /// A batch of packets arrives on push input `port`. The default hands them to
    /// `push` one at a time; elements whose work is a `simple_action` override it
    /// with [`simple_action_batch`], and others that can do better than one at a
    /// time override it too. The batch's vector can be recycled with
    /// [`Ctx::recycle_batch`].
    fn push_batch(&mut self, port: usize, mut batch: Batch, cx: &mut Ctx) {
        for p in batch.drain(..) {
            self.push(port, p, cx);
        }
        cx.recycle_batch(batch);
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

    /// Tickets of this element's task (stride scheduling: twice the tickets, twice
    /// the runs).
    fn tickets(&self) -> u32 {
        crate::router::DEFAULT_TICKETS
    }

    /// Whether this element is a notifier (a queue): it calls
    /// [`Ctx::notify_nonempty`] / [`Ctx::notify_nonfull`], so tasks can sleep on it.
    fn is_notifier(&self) -> bool {
        false
    }

    /// A handler call with the router at hand, for handlers that take parameters,
    /// run scripts or call other handlers. For reads `value` holds the parameters.
    /// `None` when there is no such handler. The default serves
    /// [`read_handler`](Self::read_handler) and [`write_handler`](Self::write_handler).
    fn call_handler(&mut self, name: &str, write: bool, value: &str, _cx: &mut Ctx) -> Option<Result<String, String>> {
        if write {
            self.write_handler(name, value).map(|r| r.map(|()| String::new()))
        } else {
            self.read_handler(name).map(Ok)
        }
    }

    /// Whether this element decides when the driver stops (DriverManager).
    fn manages_driver(&self) -> bool {
        false
    }

    /// This element as `Any`, for elements whose state can move to their
    /// replacement in a hot swap (see [`take_state`](Self::take_state)).
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        None
    }

    /// Whether this element's `push_batch` goes through [`route_batch`], which
    /// can hand all the packets a batch has for a lane group of elements behind
    /// its outputs to that group at once (see [`crate::lanes`]).
    fn routes_batches(&self) -> bool {
        false
    }

    /// This element, as configured, can run as a lane of a group of its class
    /// (see [`crate::lanes`]): the class's maker, [`LaneMaker::of`].
    fn lane_maker(&self) -> Option<LaneMaker> {
        None
    }

    /// What this element keeps that grows with traffic (see [`State`]). Called
    /// after `configure`, so capacities are known.
    fn state(&self) -> State {
        State::Unbounded
    }

    /// Hot swap: `old` is the element of the same name in the router being
    /// replaced; take over what should survive (a queue's packets, a table's
    /// entries). Called after this router initialized, before it runs.
    fn take_state(&mut self, _old: &mut dyn Element, _cx: &mut Ctx) {}
}

/// What a router knows of an element besides the element itself: its name, its
/// class and configuration as written, and where it was declared. Classes,
/// configurations and file names are shared by the elements that have equal ones
/// (a consolidated router runs 10,000 tenants with the same firewall).
pub struct ElementMeta {
    pub name: Box<str>,
    pub class: Rc<str>,
    pub config: Rc<str>,
    pub file: Rc<str>,
    pub line: u32,
}

impl ElementMeta {
    /// Click's landmark, `FILE:LINE`.
    pub fn landmark(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// Parsed forms of configurations that elements with equal ones share, kept
/// while one router is configured (see [`ConfigCtx::shared`]).
#[derive(Default)]
pub struct SharedForms {
    forms: RefCell<BTreeMap<(TypeId, String), Rc<dyn Any>>>,
}

/// What `configure` can see besides its own string: the router's AddressInfo names,
/// and every element's class and configuration (for elements that, like Click's
/// router attachments, take definitions from others: IPRewriter's named patterns
/// from IPRewriterPatterns).
pub struct ConfigCtx<'a> {
    pub names: &'a AddressNames,
    /// Every element of the router.
    pub elements: &'a [ElementMeta],
    shared: Option<&'a SharedForms>,
}

impl<'a> ConfigCtx<'a> {
    /// A context with names only (no other elements, nothing shared).
    pub fn with_names(names: &'a AddressNames) -> ConfigCtx<'a> {
        ConfigCtx { names, elements: &[], shared: None }
    }

    /// The context a router configures its elements in.
    pub fn new(names: &'a AddressNames, elements: &'a [ElementMeta], shared: Option<&'a SharedForms>) -> ConfigCtx<'a> {
        ConfigCtx { names, elements, shared }
    }

    /// The configurations of the router's elements of class `class`.
    pub fn configs_of<'c>(&self, class: &'c str) -> impl Iterator<Item = &'a str> + use<'a, 'c> {
        let elements: &'a [ElementMeta] = self.elements;
        elements.iter().filter(move |m| &*m.class == class).map(|m| &*m.config)
    }

    /// The class and configuration of the element called `name`.
    pub fn element(&self, name: &str) -> Option<(&'a str, &'a str)> {
        let elements: &'a [ElementMeta] = self.elements;
        elements.iter().find(|m| &*m.name == name).map(|m| (&*m.class, &*m.config))
    }

    /// An argument reader for `config` that resolves AddressInfo names.
    pub fn args(&self, config: &str) -> Args<'a> {
        Args::with_names(config, self.names)
    }

    /// What `make` builds for `key`, built once while the router is configured and
    /// shared by every element that asks for a `T` with an equal `key` (which must
    /// say everything the form depends on: the class and configuration). An
    /// element that compiles its configuration, like IPFilter, holds its program
    /// this way, so 10,000 tenants with one firewall hold one program, hot in the
    /// cache. Errors are not kept.
    pub fn shared<T: Any, E>(&self, key: &str, make: impl FnOnce() -> Result<T, E>) -> Result<Rc<T>, E> {
        let Some(shared) = self.shared else { return make().map(Rc::new) };
        let key = (TypeId::of::<T>(), String::from(key));
        if let Some(form) = shared.forms.borrow().get(&key).cloned()
            && let Ok(form) = form.downcast::<T>()
        {
            return Ok(form);
        }
        let form = Rc::new(make()?);
        shared.forms.borrow_mut().insert(key, form.clone());
        Ok(form)
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
    /// Inlined into the pushing element: a hop is then one call, the next
    /// element's, with no frame of its own in between.
    #[inline(always)]
    pub fn push(&mut self, port: usize, p: Packet) {
        self.core.push_from(self.me, port, p);
    }

    /// Send a batch out of push output `port` (dropped if the port is unconnected).
    #[inline(always)]
    pub fn push_batch(&mut self, port: usize, batch: Batch) {
        if !batch.is_empty() {
            self.core.push_batch_from(self.me, port, batch);
        } else {
            self.recycle_batch(batch);
        }
    }

    /// An empty batch, reusing a vector from the router's free list.
    pub fn new_batch(&mut self) -> Batch {
        self.core.new_batch()
    }

    /// Hand back a batch's vector (its packets, if any, are dropped).
    pub fn recycle_batch(&mut self, batch: Batch) {
        self.core.recycle_batch(batch);
    }

    /// A new packet holding a copy of `data`, its buffer from the router's pool.
    pub fn new_packet(&self, data: &[u8]) -> Packet {
        self.core.pool.packet(data)
    }

    /// Network device `dev` of the driver (see [`crate::device`]), if there is one.
    pub fn device(&mut self, dev: usize) -> Option<&mut Device> {
        self.core.devices.get_mut(dev)
    }

    /// How many network devices the driver gave the router.
    pub fn device_count(&self) -> usize {
        self.core.devices.len()
    }

    /// The router's packet pool.
    pub fn pool(&self) -> &PacketPool {
        &self.core.pool
    }

    /// Pull a packet from pull input `port`.
    pub fn pull(&mut self, port: usize) -> Option<Packet> {
        self.core.pull_into(self.me, port)
    }

    /// The router clock, in nanoseconds.
    pub fn now(&self) -> u64 {
        self.core.now
    }

    /// Ask for this element's task to run again no later than `t` (a timer, for
    /// rate-limited and time-driven tasks; it wakes the task if it sleeps). From an
    /// element without a task, it only keeps the router from idling past `t`.
    pub fn wake_at(&mut self, t: u64) {
        let k = self.core.sched.task_of.get(self.me).copied().unwrap_or(crate::router::NO_TASK);
        match self.core.sched.tasks.get_mut(k as usize) {
            Some(task) => task.timer = Some(task.timer.map_or(t, |w| w.min(t))),
            None => self.core.next_wake = Some(self.core.next_wake.map_or(t, |w| w.min(t))),
        }
    }

    /// Unschedule this element's task after this run, until a notifier it listens to,
    /// its timer or [`Ctx::wake`] reschedules it.
    pub fn sleep(&mut self) {
        self.core.sched.sleep_request = true;
    }

    /// Reschedule element `element`'s task if it sleeps.
    pub fn wake(&mut self, element: usize) {
        self.core.sched.wake(element);
    }

    /// Reschedule this element's own task (from a push or a handler).
    pub fn wake_self(&mut self) {
        self.core.sched.wake(self.me);
    }

    /// Listen to the queues upstream of pull input `port` (Click's
    /// `Notifier::upstream_empty_signal`): when one of them gets a packet, this
    /// element's task is woken. False when some upstream path has no notifier, in
    /// which case the task must not sleep waiting for packets.
    pub fn listen_upstream_empty(&mut self, port: usize) -> bool {
        self.core.listen(self.me, port, true)
    }

    /// Listen to the queues downstream of push output `port` (Click's
    /// `downstream_full_signal`): when one of them has room again, this element's
    /// task is woken. False when some downstream path has no notifier.
    pub fn listen_downstream_full(&mut self, port: usize) -> bool {
        self.core.listen(self.me, port, false)
    }

    /// This notifier (a queue) is no longer empty: wake its upstream-empty listeners.
    pub fn notify_nonempty(&mut self) {
        self.core.notify(self.me, true);
    }

    /// This notifier (a queue) is full: its "not full" signal goes off until
    /// [`Ctx::notify_nonfull`].
    pub fn set_full(&mut self) {
        self.core.full[self.me] = true;
    }

    /// Every queue downstream that this element listens to (see
    /// [`Ctx::listen_downstream_full`]) is full, so pushing now would only drop.
    /// Click's inactive `downstream_full_signal`.
    pub fn downstream_full(&self) -> bool {
        let qs = &self.core.full_listens[self.me];
        !qs.is_empty() && qs.iter().all(|&q| self.core.full[q])
    }

    /// This notifier (a queue) is no longer full: wake its downstream-full listeners.
    pub fn notify_nonfull(&mut self) {
        self.core.notify(self.me, false);
    }

    /// Ask the driver to stop (Click's `please_stop_driver`).
    pub fn request_stop(&mut self) {
        self.core.request_stop();
    }

    /// This element's name in the configuration.
    pub fn name(&self) -> &str {
        self.core.name(self.me)
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
        self.core.ninputs(self.me)
    }

    pub fn noutputs(&self) -> usize {
        self.core.noutputs(self.me)
    }

    pub fn output_is_push(&self, port: usize) -> bool {
        self.core.output_is_push(self.me, port)
    }

    pub fn input_is_pull(&self, port: usize) -> bool {
        self.core.input_is_pull(self.me, port)
    }

    /// The element called `name` (for [`Ctx::with_element`]).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.core.find(name)
    }

    /// Run `f` on element `i` with a context of its own, as Click elements
    /// call methods of elements they were configured with (FTPPortMapper and
    /// its rewriters). None when `i` is running: this element, or one whose
    /// push or pull led here.
    pub fn with_element<R>(&mut self, i: usize, f: impl FnOnce(&mut dyn Element, &mut Ctx) -> R) -> Option<R> {
        self.core.with_element_mut(i, |e, core| f(e, &mut Ctx { core, me: i }))
    }

    /// Call another element's read handler, `ELEM.HANDLER [PARAMS]`.
    pub fn read_handler(&mut self, spec: &str) -> Result<String, String> {
        self.core.call_handler(spec, false, "")
    }

    /// Call another element's write handler, `ELEM.HANDLER`, or the router's
    /// `stop`.
    pub fn write_handler(&mut self, spec: &str, value: &str) -> Result<(), String> {
        self.core.call_handler(spec, true, value).map(|_| ())
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
