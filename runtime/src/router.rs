//! The router: built from a flat configuration through the element registry, checked
//! as Click checks it (in Click's order, with Click's messages), configured,
//! initialized, and run.
//!
//! Dispatch is flat: every element sits in one vector, and each push output and
//! pull input holds the index and port of its peer, so `push` is a direct indexed
//! call. While an element runs it is taken out of its slot, which lets it call its
//! neighbours through [`Ctx`] without aliasing.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use oxclick_lang::args::AddressNames;
use oxclick_lang::flat::{FlatConfig, Port};

use crate::device::{DEVICE_QUEUE_CAPACITY, Device, DeviceInfo};
use crate::element::{Batch, ConfigCtx, Constructor, Ctx, Element, ElementMeta, SharedForms};
use crate::lanes::GroupSlot;
use crate::packet::{Packet, PacketPool};
use crate::spec::{Processing, parse_port_count, processing_vector};

/// Element classes by name.
#[derive(Clone, Default)]
pub struct Registry {
    classes: BTreeMap<&'static str, Constructor>,
}

impl Registry {
    pub fn add(&mut self, name: &'static str, make: Constructor) {
        self.classes.insert(name, make);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.classes.contains_key(name)
    }

    /// Forget class `name` (a driver that cannot run it).
    pub fn remove(&mut self, name: &str) {
        self.classes.remove(name);
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.classes.keys().copied()
    }

    fn make(&self, name: &str) -> Option<Box<dyn Element>> {
        self.classes.get(name).map(|f| f())
    }
}

/// Time for the router: the host's clock, or simulated time.
pub trait Clock {
    /// Nanoseconds since an arbitrary start.
    fn now(&mut self) -> u64;
    /// Wait until `t` (simulated clocks just jump there).
    fn sleep_until(&mut self, t: u64);
}

/// Deterministic time for `--simtime`: starts where Click's does (10^9 seconds
/// after the epoch, so timestamps are never zero) and jumps to the next timer.
pub struct SimClock {
    now: u64,
}

impl SimClock {
    /// Click's simulated start time, in nanoseconds.
    pub const CLICK_START: u64 = 1_000_000_000 * 1_000_000_000;

    pub fn starting_at(now: u64) -> SimClock {
        SimClock { now }
    }
}

impl Default for SimClock {
    fn default() -> Self {
        SimClock { now: Self::CLICK_START }
    }
}

impl Clock for SimClock {
    fn now(&mut self) -> u64 {
        self.now
    }
    fn sleep_until(&mut self, t: u64) {
        self.now = self.now.max(t);
    }
}

/// What the router needs besides the configuration.
pub struct RouterOptions {
    /// What the `config` handler returns.
    pub config_text: String,
    /// What the `flatconfig` handler returns.
    pub flat_text: String,
    /// Where console lines go (Print, errors while running): standard error.
    pub console: Box<dyn FnMut(&str)>,
    /// Where reports go (DriverManager's `print`): standard output.
    pub output: Box<dyn FnMut(&str)>,
    pub clock: Box<dyn Clock>,
    /// The network devices the driver owns (the guest's vifs), in device-number
    /// order: what FromNetfront(N) and ToNetfront(N) reach. Empty on the host.
    pub devices: Vec<DeviceInfo>,
    /// Run elements of one class behind one demux as one (see [`crate::lanes`]).
    /// On unless turned off; the tests compare the two.
    pub fuse_lanes: bool,
}

impl RouterOptions {
    /// Options for a router that is only checked, or driven by a program rather
    /// than a person: no configuration texts, console and output discarded,
    /// simulated time; `devices` as given.
    pub fn quiet(devices: Vec<DeviceInfo>) -> RouterOptions {
        RouterOptions {
            config_text: String::new(),
            flat_text: String::new(),
            console: Box::new(|_: &str| {}),
            output: Box::new(|_: &str| {}),
            clock: Box::new(SimClock::default()),
            devices,
            fuse_lanes: true,
        }
    }
}

/// The state elements reach through [`Ctx`].
pub struct Core {
    /// The elements, in configuration order.
    pub(crate) nodes: Vec<Node>,
    /// The peer of each push output.
    push_to: Vec<Peer>,
    /// The peer of each pull input.
    pull_from: Vec<Peer>,
    output_push: Vec<bool>,
    input_pull: Vec<bool>,
    pub(crate) now: u64,
    pub(crate) next_wake: Option<u64>,
    pub(crate) stop_requests: u32,
    pub(crate) stopped: bool,
    pub(crate) console: Box<dyn FnMut(&str)>,
    pub(crate) output: Box<dyn FnMut(&str)>,
    /// Every element's name, class, configuration (changed by writing `config`)
    /// and landmark.
    meta: Vec<ElementMeta>,
    /// Element indexes in name order: handler calls and hot swaps find elements by
    /// name, and a consolidated router has tens of thousands.
    by_name: Vec<u32>,
    /// AddressInfo names, for reconfiguration.
    address_names: AddressNames,
    /// Packet buffers for this router (one router runs on one core).
    pub(crate) pool: PacketPool,
    /// The driver's network devices (see [`crate::device`]).
    pub(crate) devices: Vec<Device>,
    /// Free batch vectors.
    pub(crate) batches: Vec<Batch>,
    /// The task scheduler's state.
    pub(crate) sched: Scheduler,
    /// `listeners[e]`: elements whose tasks sleep until notifier `e` (a queue)
    /// signals, and whether they listen for "not empty" (true) or "not full".
    pub(crate) listeners: Vec<Vec<(usize, bool)>>,
    /// `full[q]`: notifier `q` (a queue) is full, so its "not full" signal is off.
    pub(crate) full: Vec<bool>,
    /// `full_listens[e]`: the notifiers downstream of element `e` it listens to.
    pub(crate) full_listens: Vec<Vec<usize>>,
    /// Elements that manage the driver (DriverManager, driver scripts).
    pub(crate) managers: Vec<usize>,
    /// Write handler calls to elements that were running: (element, handler, value).
    pub(crate) deferred: Vec<(usize, (String, String))>,
    /// A new configuration written to `hotconfig` while the router ran; swapped
    /// in between task runs.
    pub(crate) pending_hotconfig: Option<String>,
    /// Packets pushed to an element while it was running (a push cycle, like an
    /// ARPQuerier whose queries come back as replies, or a tenant's guard, whose
    /// tenant answers through it): (element, port, what), delivered in order as
    /// soon as it returns.
    reentrant: Vec<(usize, (usize, Waiting))>,
    /// Lane groups: elements of one class behind one demux, run as one (see
    /// [`crate::lanes`]).
    pub(crate) groups: Vec<GroupSlot>,
    /// `lanes_of[e]`: the group and lane of fused element `e` (`lanes::NONE`
    /// when not fused); empty when nothing is.
    pub(crate) lanes_of: Vec<(u32, u32)>,
    /// `feeds[e]`: the group routing element `e` feeds (`lanes::NONE`: none);
    /// empty when no element does.
    pub(crate) feeds: Vec<u32>,
}

/// Packets delivered through push cycles per return of the element they go to; a
/// cycle that keeps making packets (Click would recurse until its stack ran out)
/// has the rest dropped.
const REENTRANT_BUDGET: usize = 1 << 16;

/// Hops a packet makes from element to element by `push_tail` in one go; a
/// cycle of elements that push by tail has the packet dropped after these.
const TAIL_HOPS: usize = 1 << 16;

/// Click's stride scheduling: each task has tickets; the one with the smallest
/// pass runs next and its pass grows by `STRIDE1 / tickets`, so a task with twice
/// the tickets runs twice as often. Tasks may sleep (unscheduled) until a notifier
/// or their timer wakes them.
#[derive(Default)]
pub(crate) struct Scheduler {
    pub(crate) tasks: Vec<Task>,
    /// `task_of[e]`: the task of element `e`, or [`NO_TASK`].
    pub(crate) task_of: Vec<u32>,
    /// The pass of the task run last: woken tasks start from here.
    global_pass: u64,
    /// Set by a running task that asks to sleep.
    pub(crate) sleep_request: bool,
    /// The last run-loop epoch handed out (see [`Task::idle_epoch`]). It lives
    /// here, not in the run loop, because the guest calls
    /// [`Router::run_while_busy`] again and again: an epoch number used in one
    /// call must never come back in the next, or a task counted idle then is
    /// never counted idle again and an idle router spins.
    epoch: u64,
}

pub(crate) struct Task {
    pub(crate) element: usize,
    stride: u64,
    pass: u64,
    pub(crate) scheduled: bool,
    /// When to run again at the latest (a timer), if set.
    pub(crate) timer: Option<u64>,
    /// The run-loop epoch in which this task last ran without work (see
    /// `Router::run_until`).
    pub(crate) idle_epoch: u64,
}

/// What waits for a running element: a batch, or one packet pushed alone.
enum Waiting {
    Batch(Batch),
    One(Packet),
}

/// One element of the dispatch table: the element itself (out of its node while
/// it runs) and where its ports are in the flat port tables (`Core::push_to` and
/// the others: one table per kind, not a vector per element, keeps a router of
/// 30,000 elements small and dense). Kept together, so a push reads one line for
/// where its output leads and one for the element there.
pub(crate) struct Node {
    /// None while the element runs, and always for an element fused into a lane
    /// group (see [`crate::lanes`]), which holds it.
    pub(crate) element: Option<Box<dyn Element>>,
    in_base: u32,
    ninputs: u32,
    out_base: u32,
    noutputs: u32,
    /// Entries for this element in `Core::reentrant` and `Core::deferred`: what
    /// `restore` checks, so the elements a packet passes on its way back to a
    /// running one (a tenant's filter and counter, on the way to its guard) do
    /// not search those lists for themselves.
    waiting: u32,
    /// Single packets go through `push_tail` (`Element::tail_pushes`).
    tail: bool,
}

/// `Scheduler::task_of` for an element without a task.
pub(crate) const NO_TASK: u32 = u32::MAX;

/// The element and port a connected port leads to, compact (a consolidated router
/// has 100,000 ports): [`Peer::NONE`] for an unconnected one.
#[derive(Clone, Copy)]
pub(crate) struct Peer {
    pub(crate) element: u32,
    pub(crate) port: u32,
}

impl Peer {
    pub(crate) const NONE: Peer = Peer { element: u32::MAX, port: 0 };

    pub(crate) fn of(p: Port) -> Peer {
        Peer { element: p.element as u32, port: p.port as u32 }
    }

    pub(crate) fn port(self) -> Option<Port> {
        (self.element != u32::MAX).then_some(Port { element: self.element as usize, port: self.port as usize })
    }
}

/// Click's `STRIDE1`.
const STRIDE1: u64 = 1 << 16;
/// Click's default tickets per task.
pub const DEFAULT_TICKETS: u32 = 1 << 10;
/// Task runs between clock reads while tasks keep finding work.
const STEPS_PER_CLOCK_READ: u32 = 32;
/// Task runs [`Router::run_while_busy`] makes at most before it returns, so a
/// router that always has work (an unlimited source) still lets its driver
/// move packets and read control messages.
const BUSY_BUDGET: u64 = 4096;

impl Scheduler {
    /// A run-loop epoch no task has seen yet.
    fn next_epoch(&mut self) -> u64 {
        self.epoch += 1;
        self.epoch
    }

    fn add(&mut self, element: usize, tickets: u32) {
        let stride = STRIDE1 / u64::from(tickets.clamp(1, 1 << 15));
        self.task_of[element] = u32::try_from(self.tasks.len()).unwrap_or(NO_TASK);
        self.tasks.push(Task { element, stride, pass: stride, scheduled: true, timer: None, idle_epoch: 0 });
    }

    /// Schedule element `e`'s task if it sleeps.
    pub(crate) fn wake(&mut self, e: usize) {
        if let Some(task) = self.task_of.get(e).and_then(|&t| self.tasks.get_mut(t as usize))
            && !task.scheduled
        {
            task.scheduled = true;
            task.pass = task.pass.max(self.global_pass);
        }
    }

    /// The scheduled task with the smallest pass.
    fn next(&self) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for (k, t) in self.tasks.iter().enumerate() {
            if t.scheduled && best.is_none_or(|(p, _)| t.pass < p) {
                best = Some((t.pass, k));
            }
        }
        best.map(|(_, k)| k)
    }

    fn scheduled(&self) -> usize {
        self.tasks.iter().filter(|t| t.scheduled).count()
    }

    /// Wake tasks whose timers are due; return the earliest timer still pending.
    fn fire_timers(&mut self, now: u64) -> Option<u64> {
        let mut earliest: Option<u64> = None;
        for t in &mut self.tasks {
            if let Some(at) = t.timer {
                if at <= now {
                    t.timer = None;
                    if !t.scheduled {
                        t.scheduled = true;
                        t.pass = t.pass.max(self.global_pass);
                    }
                } else {
                    earliest = Some(earliest.map_or(at, |e| e.min(at)));
                }
            }
        }
        earliest
    }
}

impl Core {
    /// Where output `port` of element `e` is in the output tables.
    #[inline(always)]
    fn output_index(&self, e: usize, port: usize) -> Option<usize> {
        let n = self.nodes.get(e)?;
        (port < n.noutputs as usize).then(|| n.out_base as usize + port)
    }

    /// Where input `port` of element `e` is in the input tables.
    #[inline(always)]
    fn input_index(&self, e: usize, port: usize) -> Option<usize> {
        let n = self.nodes.get(e)?;
        (port < n.ninputs as usize).then(|| n.in_base as usize + port)
    }

    #[inline(always)]
    pub(crate) fn push_peer(&self, e: usize, port: usize) -> Option<Port> {
        self.push_to.get(self.output_index(e, port)?)?.port()
    }

    #[inline(always)]
    fn pull_peer(&self, e: usize, port: usize) -> Option<Port> {
        self.pull_from.get(self.input_index(e, port)?)?.port()
    }

    pub(crate) fn ninputs(&self, e: usize) -> usize {
        self.nodes.get(e).map_or(0, |n| n.ninputs as usize)
    }

    pub(crate) fn noutputs(&self, e: usize) -> usize {
        self.nodes.get(e).map_or(0, |n| n.noutputs as usize)
    }

    pub(crate) fn output_is_push(&self, e: usize, port: usize) -> bool {
        self.output_index(e, port).is_some_and(|k| self.output_push[k])
    }

    pub(crate) fn input_is_pull(&self, e: usize, port: usize) -> bool {
        self.input_index(e, port).is_some_and(|k| self.input_pull[k])
    }

    /// The element called `name`.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        let k = self.by_name.binary_search_by(|&i| (*self.meta[i as usize].name).cmp(name)).ok()?;
        Some(self.by_name[k] as usize)
    }

    /// An empty batch, reusing a vector from the free list.
    pub(crate) fn new_batch(&mut self) -> Batch {
        self.batches.pop().unwrap_or_else(|| Vec::with_capacity(crate::element::MAX_BATCH))
    }

    /// Hand back a batch's vector (its packets, if any, are dropped).
    pub(crate) fn recycle_batch(&mut self, mut batch: Batch) {
        self.pool.recycle(&mut batch);
        if self.batches.len() < 64 && batch.capacity() >= crate::element::MAX_BATCH {
            self.batches.push(batch);
        }
    }

    /// Run `f` on element `i`, wherever it is: in its slot, or a lane of a
    /// group. None if it (or its group) is running.
    pub(crate) fn with_element_mut<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut dyn Element, &mut Core) -> R,
    ) -> Option<R> {
        if let Some(mut e) = self.nodes.get_mut(i)?.element.take() {
            let r = f(&mut *e, self);
            self.restore(i, e);
            return Some(r);
        }
        let (g, lane) = self.lane_of(i)?;
        self.with_lane(g, lane, f)
    }

    /// Element `i`, wherever it is; None if it (or its group) is running.
    pub(crate) fn element_ref(&self, i: usize) -> Option<&dyn Element> {
        match self.nodes.get(i)?.element.as_deref() {
            Some(e) => Some(e),
            None => {
                let (g, lane) = self.lane_of(i)?;
                self.lane_ref(g, lane)
            }
        }
    }

    /// Put running element `i` back in its slot, then make the write handler calls
    /// that waited for it.
    #[inline(always)]
    pub(crate) fn restore(&mut self, i: usize, e: Box<dyn Element>) {
        let Some(node) = self.nodes.get_mut(i) else { return };
        // The slot is empty while its element runs; `forget` spares the hot path
        // the drop code for an old value that is never there.
        core::mem::forget(node.element.replace(e));
        if node.waiting != 0 {
            self.after_restore(i);
        }
    }

    /// Not cold: a tenant's guard gets its tenant's answers this way, packet by
    /// packet when tenants interleave.
    #[inline(never)]
    fn after_restore(&mut self, i: usize) {
        if !self.deferred.is_empty() {
            self.run_deferred(i);
        }
        if !self.reentrant.is_empty() {
            self.run_reentrant(i);
        }
    }

    /// Queue `batch` for input `port` of running element `to`, to be delivered
    /// when it returns.
    fn queue_reentrant(&mut self, to: usize, port: usize, batch: Batch) {
        if let Some((g, lane)) = self.lane_of(to) {
            return self.push_to_lane(g, lane, port, batch);
        }
        if let Some(node) = self.nodes.get_mut(to) {
            node.waiting += 1;
            self.reentrant.push((to, (port, Waiting::Batch(batch))));
        } else {
            self.recycle_batch(batch);
        }
    }

    /// The first entry of `list` for element `i`, taken out (keeping the others'
    /// order), with `i`'s waiting count lowered.
    fn take_waiting<T>(nodes: &mut [Node], list: &mut Vec<(usize, T)>, i: usize) -> Option<T> {
        let k = list.iter().position(|r| r.0 == i)?;
        // Usually the only entry: popping spares the shift.
        let (_, v) = if k + 1 == list.len() { list.pop()? } else { list.remove(k) };
        if let Some(node) = nodes.get_mut(i) {
            node.waiting = node.waiting.saturating_sub(1);
        }
        Some(v)
    }

    /// Deliver the packets pushed to element `i` while it ran, in order.
    fn run_reentrant(&mut self, i: usize) {
        let mut budget = REENTRANT_BUDGET;
        while let Some((port, waiting)) = Self::take_waiting(&mut self.nodes, &mut self.reentrant, i) {
            let n = match &waiting {
                Waiting::Batch(batch) => batch.len(),
                Waiting::One(_) => 1,
            };
            if budget < n {
                if let Waiting::Batch(batch) = waiting {
                    self.recycle_batch(batch);
                }
                continue;
            }
            budget -= n;
            let Some(mut el) = self.nodes[i].element.take() else { return };
            match waiting {
                Waiting::Batch(batch) => el.push_batch(port, batch, &mut Ctx { core: self, me: i }),
                Waiting::One(p) => el.push(port, p, &mut Ctx { core: self, me: i }),
            }
            self.nodes[i].element = Some(el);
            if !self.deferred.is_empty() {
                self.run_deferred(i);
            }
        }
    }

    #[cold]
    pub(crate) fn run_deferred(&mut self, i: usize) {
        while let Some((h, v)) = Self::take_waiting(&mut self.nodes, &mut self.deferred, i) {
            let Some(mut el) = self.nodes[i].element.take() else {
                // A lane: its group has returned (this runs from there).
                let r = self.with_element_mut(i, |el, core| el.call_handler(&h, true, &v, &mut Ctx { core, me: i }));
                if let Some(Some(Err(e))) = r {
                    (self.console)(&format!("While calling '{}.{h}': {e}", self.meta[i].name));
                }
                continue;
            };
            if let Some(Err(e)) = el.call_handler(&h, true, &v, &mut Ctx { core: self, me: i }) {
                (self.console)(&format!("While calling '{}.{h}': {e}", self.meta[i].name));
            }
            self.nodes[i].element = Some(el);
        }
    }

    #[cold]
    #[inline(never)]
    fn queue_reentrant_packet(&mut self, to: usize, port: usize, p: Packet) {
        // No batch vector for one packet: a tenant's answers come back to its
        // guard this way, one at a time when tenants interleave.
        if let Some((g, lane)) = self.lane_of(to) {
            return self.push_packet_to_lane(g, lane, port, p);
        }
        if let Some(node) = self.nodes.get_mut(to) {
            node.waiting += 1;
            self.reentrant.push((to, (port, Waiting::One(p))));
        }
    }

    #[inline(always)]
    pub(crate) fn push_batch_from(&mut self, from: usize, port: usize, batch: Batch) {
        let Some(to) = self.push_peer(from, port) else { return };
        self.push_batch_to(to.element, to.port, batch);
    }

    /// Deliver `batch` to input `port` of element `to`.
    #[inline(always)]
    pub(crate) fn push_batch_to(&mut self, to: usize, port: usize, batch: Batch) {
        let Some(mut e) = self.nodes.get_mut(to).and_then(|n| n.element.take()) else {
            // Running, or a lane of a group.
            self.queue_reentrant(to, port, batch);
            return;
        };
        e.push_batch(port, batch, &mut Ctx { core: self, me: to });
        self.restore(to, e);
    }

    /// Walk upstream from pull input `port` of `me` (or downstream from push output
    /// `port` when `!upstream`) to the notifiers (queues) on every path; register
    /// `me` with them. False if some path ends somewhere that cannot notify.
    pub(crate) fn listen(&mut self, me: usize, port: usize, upstream: bool) -> bool {
        let mut found = Vec::new();
        let mut seen = Vec::new();
        if !self.find_notifiers(me, port, upstream, &mut found, &mut seen, 0) {
            return false;
        }
        for q in found {
            if !upstream && !self.full_listens[me].contains(&q) {
                self.full_listens[me].push(q);
            }
            if !self.listeners[q].contains(&(me, upstream)) {
                self.listeners[q].push((me, upstream));
            }
        }
        true
    }

    fn find_notifiers(
        &self,
        e: usize,
        port: usize,
        upstream: bool,
        found: &mut Vec<usize>,
        seen: &mut Vec<(usize, usize)>,
        depth: usize,
    ) -> bool {
        let peer = if upstream { self.pull_peer(e, port) } else { self.push_peer(e, port) };
        let Some(peer) = peer else { return true };
        if depth > 64 || seen.contains(&(peer.element, peer.port)) {
            return depth <= 64;
        }
        seen.push((peer.element, peer.port));
        let Some(el) = self.element_ref(peer.element) else { return false };
        if el.is_notifier() {
            found.push(peer.element);
            return true;
        }
        // Through an element along its flow: pull inputs feeding this pull output,
        // or push outputs fed by this push input.
        let n = if upstream { self.ninputs(peer.element) } else { self.noutputs(peer.element) };
        let mut any = false;
        for k in 0..n {
            let flows = if upstream { el.port_flow(k, peer.port) } else { el.port_flow(peer.port, k) };
            let through_ok =
                if upstream { self.input_is_pull(peer.element, k) } else { self.output_is_push(peer.element, k) };
            if flows && through_ok {
                any = true;
                if !self.find_notifiers(peer.element, k, upstream, found, seen, depth + 1) {
                    return false;
                }
            }
        }
        any
    }

    /// Notifier `me` changed: wake the tasks listening for `nonempty` (true: it is
    /// no longer empty) or for "no longer full" (false).
    pub(crate) fn notify(&mut self, me: usize, nonempty: bool) {
        if !nonempty {
            self.full[me] = false;
        }
        for k in 0..self.listeners[me].len() {
            let (l, kind) = self.listeners[me][k];
            if kind == nonempty {
                self.sched.wake(l);
            }
        }
    }

    /// Element `i` taken out of its slot to be pushed to, and whether it takes
    /// single packets by `push_tail`; None if it is running (the packet waits).
    #[inline(always)]
    fn take_for_push(&mut self, i: usize) -> Option<(Box<dyn Element>, bool)> {
        self.nodes.get_mut(i).and_then(|n| Some((n.element.take()?, n.tail)))
    }

    #[inline(always)]
    pub(crate) fn push_from(&mut self, from: usize, port: usize, p: Packet) {
        let Some(to) = self.push_peer(from, port) else { return };
        // An element pushing into itself through a cycle finds its slot empty;
        // the packet waits until it returns.
        let Some((mut e, tail)) = self.take_for_push(to.element) else {
            return self.queue_reentrant_packet(to.element, to.port, p);
        };
        if tail {
            return self.push_by_tail(to, e, p);
        }
        e.push(to.port, p, &mut Ctx { core: self, me: to.element });
        self.restore(to.element, e);
    }

    /// `push_from` to an element that hands its packet back (`push_tail`), taken
    /// out of its slot as `e`: the packet goes on from element to element in
    /// this loop, not by recursion, so a cycle of such elements (a guard's
    /// output wired to its own input) cannot run out of stack. It is cut after
    /// `TAIL_HOPS` hops and the packet dropped, as a cycle through the re-entry
    /// queue is.
    #[inline(never)]
    fn push_by_tail(&mut self, mut to: Port, mut e: Box<dyn Element>, mut p: Packet) {
        for hop in 1..=TAIL_HOPS {
            let next = e.push_tail(to.port, p, &mut Ctx { core: self, me: to.element });
            self.restore(to.element, e);
            let Some((port, q)) = next else { return };
            // Checked before the next element is taken out of its slot.
            if hop == TAIL_HOPS {
                return;
            }
            let Some(peer) = self.push_peer(to.element, port) else { return };
            to = peer;
            let Some((mut taken, tail)) = self.take_for_push(to.element) else {
                return self.queue_reentrant_packet(to.element, to.port, q);
            };
            if !tail {
                taken.push(to.port, q, &mut Ctx { core: self, me: to.element });
                return self.restore(to.element, taken);
            }
            (e, p) = (taken, q);
        }
    }

    /// Call handler `spec` — `ELEM.HANDLER`, for reads optionally followed by
    /// space-separated parameters — of another element, with `value` for writes.
    /// Router-wide: the `stop` write handler (a stop request).
    pub(crate) fn call_handler(&mut self, spec: &str, write: bool, value: &str) -> Result<String, String> {
        let spec = spec.trim();
        let (target, params) = match spec.find(|c: char| c.is_ascii_whitespace()) {
            Some(k) => (&spec[..k], spec[k..].trim_start()),
            None => (spec, ""),
        };
        let value = if write { value } else { params };
        let Some((e, h)) = target.rsplit_once('.') else {
            return match (target, write) {
                ("stop", true) => {
                    self.request_stop();
                    Ok(String::new())
                }
                ("hotconfig", true) => {
                    self.pending_hotconfig = Some(value.into());
                    Ok(String::new())
                }
                _ => Err(format!("no {} handler '{target}'", if write { "write" } else { "read" })),
            };
        };
        let i = self.find(e).ok_or_else(|| format!("no element named '{e}'"))?;
        let r = self.with_element_mut(i, |el, core| match (h, write) {
            // Every element's `config`: read it, or reconfigure (Click's live
            // reconfiguration); the element keeps its old settings on error.
            ("config", false) => Some(Ok(String::from(&*core.meta[i].config))),
            ("config", true) => {
                Some(match el.configure(value, &ConfigCtx::new(&core.address_names, &core.meta, None)) {
                    Ok(()) => {
                        core.meta[i].config = Rc::from(value);
                        Ok(String::new())
                    }
                    Err(errs) => Err(errs.join("\n")),
                })
            }
            ("name", false) => Some(Ok(String::from(&*core.meta[i].name))),
            _ => el.call_handler(h, write, value, &mut Ctx { core, me: i }),
        });
        let Some(r) = r else {
            // The element is running (it called us, perhaps through others), or
            // its lane group is: a write waits until it returns, as if called
            // right after; a read cannot.
            if write {
                self.nodes[i].waiting += 1;
                self.deferred.push((i, (h.into(), value.into())));
                return Ok(String::new());
            }
            return Err(format!("'{target}' cannot be read while it is running"));
        };
        r.unwrap_or_else(|| Err(format!("no {} handler '{target}'", if write { "write" } else { "read" })))
    }

    /// A stop request (Click's `please_stop_driver`): stops the driver unless an
    /// element manages it, which is woken to decide.
    pub(crate) fn request_stop(&mut self) {
        self.stop_requests += 1;
        for k in 0..self.managers.len() {
            let m = self.managers[k];
            self.sched.wake(m);
        }
    }

    /// This element's name.
    pub(crate) fn name(&self, i: usize) -> &str {
        self.meta.get(i).map_or("", |m| &m.name)
    }

    pub(crate) fn pull_into(&mut self, into: usize, port: usize) -> Option<Packet> {
        let from = self.pull_peer(into, port)?;
        let mut e = self.nodes.get_mut(from.element)?.element.take()?;
        let p = e.pull(from.port, &mut Ctx { core: self, me: from.element });
        self.restore(from.element, e);
        p
    }
}

/// Shares equal strings among elements while a router is built (see
/// [`ElementMeta`]).
#[derive(Default)]
struct Interner<'f> {
    seen: BTreeMap<&'f str, Rc<str>>,
}

impl<'f> Interner<'f> {
    fn get(&mut self, s: &'f str) -> Rc<str> {
        self.seen.entry(s).or_insert_with(|| Rc::from(s)).clone()
    }
}

/// A checked, initialized router.
pub struct Router {
    core: Core,
    connections: Vec<(Port, Port)>,
    managed: bool,
    clock: Box<dyn Clock>,
    config_text: String,
    flat_text: String,
    /// The classes this router was built from, for hot swaps.
    registry: Registry,
}

/// Ticket factors from ScheduleInfo elements (`ScheduleInfo(ELEMENT FACTOR, ...)`):
/// element name -> factor. Names are relative to the ScheduleInfo's compound, as
/// in Click (`a/si :: ScheduleInfo(from 2)` means `a/from`).
fn schedule_info(meta: &[ElementMeta]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for m in meta.iter().filter(|m| &*m.class == "ScheduleInfo") {
        let prefix = m.name.rsplit_once('/').map_or("", |(p, _)| p);
        for arg in oxclick_lang::args::split_args(&m.config) {
            let mut words = arg.split_whitespace();
            let (Some(name), Some(factor)) = (words.next(), words.next()) else { continue };
            let Ok(f) = factor.parse::<f64>() else { continue };
            if !(f > 0.0 && f.is_finite()) {
                continue;
            }
            let full = if prefix.is_empty() { String::from(name) } else { format!("{prefix}/{name}") };
            // The innermost match wins, as Click's compound scoping does.
            if meta.iter().any(|x| *x.name == *full) {
                out.insert(full, f);
            } else {
                out.entry(String::from(name)).or_insert(f);
            }
        }
    }
    out
}

/// The error of a router whose ports do not fit the flat port tables' u32 indexes.
fn too_many_ports() -> Vec<String> {
    vec!["too many ports for one router".into(), "Router could not be initialized!".into()]
}

fn describe(m: &ElementMeta) -> String {
    format!("'{} :: {}'", m.name, m.class)
}

fn with_landmark(lm: &str, msg: &str) -> String {
    if lm.is_empty() { msg.to_string() } else { format!("{lm}: {msg}") }
}

impl Router {
    /// Build and initialize a router; `Err` holds every error line, ending with
    /// `Router could not be initialized!`.
    pub fn new(flat: &FlatConfig, registry: &Registry, opts: RouterOptions) -> Result<Router, Vec<String>> {
        let mut errors = Vec::new();
        let n = flat.elements.len();
        let mut strings = Interner::default();
        let meta: Vec<ElementMeta> = flat
            .elements
            .iter()
            .map(|e| ElementMeta {
                name: e.name.as_str().into(),
                class: strings.get(&e.class),
                config: strings.get(&e.config),
                file: strings.get(&e.landmark.file),
                line: e.landmark.line,
            })
            .collect();
        drop(strings);
        if u32::try_from(n).is_err() {
            return Err(vec![
                format!("{n} elements are more than a router holds"),
                "Router could not be initialized!".into(),
            ]);
        }
        // A flat configuration comes from the language crate, but this is a
        // public entry point: a connection naming no element is an error, not
        // an index out of bounds below.
        if let Some(c) = flat.connections.iter().find(|c| c.from.element >= n || c.to.element >= n) {
            return Err(vec![
                format!("a connection names element {} of {n}", c.from.element.max(c.to.element)),
                "Router could not be initialized!".into(),
            ]);
        }
        let mut slots: Vec<Option<Box<dyn Element>>> = Vec::with_capacity(n);
        for (e, m) in flat.elements.iter().zip(&meta) {
            match registry.make(&e.class) {
                Some(el) => slots.push(Some(el)),
                None => {
                    errors.push(with_landmark(&m.landmark(), &format!("unknown element class '{}'", e.class)));
                    slots.push(None);
                }
            }
        }
        if !errors.is_empty() {
            errors.push("Router could not be initialized!".into());
            return Err(errors);
        }
        let elem = |i: usize| slots[i].as_ref().expect("all constructed");

        // Port counts from the connections, clamped to each class's range.
        let mut used = vec![[0usize; 2]; n];
        for c in &flat.connections {
            used[c.to.element][0] = used[c.to.element][0].max(c.to.port + 1);
            used[c.from.element][1] = used[c.from.element][1].max(c.from.port + 1);
        }
        let mut ninputs = vec![0; n];
        let mut noutputs = vec![0; n];
        for i in 0..n {
            let spec =
                parse_port_count(elem(i).port_count()).unwrap_or_else(|| parse_port_count("0/0").expect("valid"));
            ninputs[i] = spec.inputs.clamp(used[i][0]);
            noutputs[i] = if spec.outputs_same_as_inputs { ninputs[i] } else { spec.outputs.clamp(used[i][1]) };
        }
        let mut conns: Vec<(Port, Port)> = Vec::new();
        for c in &flat.connections {
            let mut ok = true;
            if c.from.port >= noutputs[c.from.element] {
                let m = &meta[c.from.element];
                errors.push(with_landmark(&m.landmark(), &format!("{} has no output {}", describe(m), c.from.port)));
                ok = false;
            }
            if c.to.port >= ninputs[c.to.element] {
                let m = &meta[c.to.element];
                errors.push(with_landmark(&m.landmark(), &format!("{} has no input {}", describe(m), c.to.port)));
                ok = false;
            }
            if ok {
                conns.push((c.from, c.to));
            }
        }

        // Push and pull, spreading through agnostic ports.
        let mut in_p: Vec<Vec<Processing>> = Vec::with_capacity(n);
        let mut out_p: Vec<Vec<Processing>> = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b) = processing_vector(elem(i).processing(), ninputs[i], noutputs[i]);
            in_p.push(a);
            out_p.push(b);
        }
        if errors.is_empty() {
            // Agnostic input -> agnostic output inside one element acts like a connection.
            let mut work: Vec<((Port, Port), bool)> = conns.iter().map(|c| (*c, false)).collect();
            for (i, (ins, outs)) in in_p.iter().zip(&out_p).enumerate() {
                let agnostic = |v: &[Processing]| -> Vec<usize> {
                    v.iter().enumerate().filter(|(_, p)| **p == Processing::Agnostic).map(|(k, _)| k).collect()
                };
                for ip in agnostic(ins) {
                    for op in agnostic(outs) {
                        if elem(i).port_flow(ip, op) {
                            work.push(((Port { element: i, port: op }, Port { element: i, port: ip }), true));
                        }
                    }
                }
            }
            let mut dead = vec![false; work.len()];
            loop {
                let mut changed = false;
                for (k, ((from, to), internal)) in work.iter().enumerate() {
                    if dead[k] {
                        continue;
                    }
                    let pf = out_p[from.element][from.port];
                    let pt = in_p[to.element][to.port];
                    match (pf, pt) {
                        (f, Processing::Agnostic) if f != Processing::Agnostic => {
                            in_p[to.element][to.port] = f;
                            changed = true;
                        }
                        (Processing::Agnostic, t) if t != Processing::Agnostic => {
                            out_p[from.element][from.port] = t;
                            changed = true;
                        }
                        (f, t) if f != t && f != Processing::Agnostic => {
                            let word = |p: Processing| if p == Processing::Push { "push" } else { "pull" };
                            let msg = if *internal {
                                format!(
                                    "agnostic {} in mixed context: {} input {}, {} output {}",
                                    describe(&meta[from.element]),
                                    word(t),
                                    to.port,
                                    word(f),
                                    from.port
                                )
                            } else {
                                format!(
                                    "{} {} output {} connected to {} {} input {}",
                                    describe(&meta[from.element]),
                                    word(f),
                                    from.port,
                                    describe(&meta[to.element]),
                                    word(t),
                                    to.port
                                )
                            };
                            errors.push(msg);
                            dead[k] = true;
                        }
                        _ => {}
                    }
                }
                if !changed {
                    break;
                }
            }
            for v in in_p.iter_mut().chain(out_p.iter_mut()) {
                for p in v.iter_mut() {
                    if *p == Processing::Agnostic {
                        *p = Processing::Push;
                    }
                }
            }
        }

        // Completeness: no reuse of push outputs or pull inputs; no unused ports.
        if errors.is_empty() {
            // Inputs first, then outputs, as Click checks them.
            for to_side in [true, false] {
                let end = |c: &(Port, Port)| if to_side { c.1 } else { c.0 };
                let mut sorted: Vec<(Port, Port)> = conns.clone();
                sorted.sort_by_key(|c| (end(c), if to_side { c.0 } else { c.1 }));
                for w in sorted.windows(2) {
                    let p = end(&w[0]);
                    let active = if to_side {
                        in_p[p.element][p.port] == Processing::Pull
                    } else {
                        out_p[p.element][p.port] == Processing::Push
                    };
                    if end(&w[1]) == p && active {
                        let m = &meta[p.element];
                        let kind = if to_side { "pull input" } else { "push output" };
                        let msg = format!("illegal reuse of {} {kind} {}", describe(m), p.port);
                        errors.push(with_landmark(&m.landmark(), &msg));
                    }
                }
            }
            // Which ports have a connection (one pass, not one search per port).
            let mut used_in: Vec<Vec<bool>> = ninputs.iter().map(|&k| vec![false; k]).collect();
            let mut used_out: Vec<Vec<bool>> = noutputs.iter().map(|&k| vec![false; k]).collect();
            for (from, to) in &conns {
                if let Some(u) = used_out.get_mut(from.element).and_then(|v| v.get_mut(from.port)) {
                    *u = true;
                }
                if let Some(u) = used_in.get_mut(to.element).and_then(|v| v.get_mut(to.port)) {
                    *u = true;
                }
            }
            for (side, counts, name) in [(1usize, &ninputs, "input"), (0usize, &noutputs, "output")] {
                for i in 0..n {
                    for port in 0..counts[i] {
                        let connected = if side == 1 { used_in[i][port] } else { used_out[i][port] };
                        if !connected {
                            let m = &meta[i];
                            errors.push(with_landmark(&m.landmark(), &format!("{} {name} {port} unused", describe(m))));
                        }
                    }
                }
            }
        }

        // Configure every element, reporting all failures. AddressInfo names are
        // gathered first so every element can use them (Click's configure phases).
        let mut names = AddressNames::default();
        if errors.is_empty() {
            for m in meta.iter().filter(|m| &*m.class == "AddressInfo") {
                // Its own configure reports any error.
                let _ = names.add_address_info(&m.config);
            }
            let shared = SharedForms::default();
            let ccx = ConfigCtx::new(&names, &meta, Some(&shared));
            for i in 0..n {
                let m = &meta[i];
                if let Some(e) = slots[i].as_mut()
                    && let Err(errs) = e.configure(&m.config, &ccx)
                {
                    // Click's context: the landmark on the "While ..." line, the
                    // messages indented under it.
                    errors.push(with_landmark(&m.landmark(), &format!("While configuring {}:", describe(m))));
                    for x in errs {
                        errors.push(format!("  {x}"));
                    }
                }
            }
        }
        if !errors.is_empty() {
            errors.push("Router could not be initialized!".into());
            return Err(errors);
        }

        // The dispatch table and the flat port tables (see `Node`).
        let mut nodes = Vec::with_capacity(n);
        let (mut in_at, mut out_at) = (0u32, 0u32);
        for (i, element) in slots.into_iter().enumerate() {
            let counts = (u32::try_from(ninputs[i]), u32::try_from(noutputs[i]));
            let (Ok(ni), Ok(no)) = counts else { return Err(too_many_ports()) };
            let tail = element.as_ref().is_some_and(|e| e.tail_pushes());
            nodes.push(Node { element, in_base: in_at, ninputs: ni, out_base: out_at, noutputs: no, waiting: 0, tail });
            let (Some(next_in), Some(next_out)) = (in_at.checked_add(ni), out_at.checked_add(no)) else {
                return Err(too_many_ports());
            };
            (in_at, out_at) = (next_in, next_out);
        }
        let mut push_to = vec![Peer::NONE; out_at as usize];
        let mut pull_from = vec![Peer::NONE; in_at as usize];
        for (from, to) in &conns {
            if out_p[from.element][from.port] == Processing::Push {
                push_to[nodes[from.element].out_base as usize + from.port] = Peer::of(*to);
            } else {
                pull_from[nodes[to.element].in_base as usize + to.port] = Peer::of(*from);
            }
        }
        let output_push = out_p.iter().flatten().map(|p| *p == Processing::Push).collect();
        let input_pull = in_p.iter().flatten().map(|p| *p == Processing::Pull).collect();
        drop((in_p, out_p));
        let mut by_name: Vec<u32> = (0..n as u32).collect();
        by_name.sort_unstable_by(|&a, &b| meta[a as usize].name.cmp(&meta[b as usize].name));
        let mut clock = opts.clock;
        let core = Core {
            nodes,
            push_to,
            pull_from,
            output_push,
            input_pull,
            now: clock.now(),
            next_wake: None,
            stop_requests: 0,
            stopped: false,
            console: opts.console,
            output: opts.output,
            meta,
            by_name,
            address_names: names,
            pool: PacketPool::new(),
            devices: opts.devices.into_iter().map(Device::new).collect(),
            batches: Vec::new(),
            sched: Scheduler { task_of: vec![NO_TASK; n], ..Scheduler::default() },
            listeners: vec![Vec::new(); n],
            full: vec![false; n],
            full_listens: vec![Vec::new(); n],
            managers: Vec::new(),
            deferred: Vec::new(),
            pending_hotconfig: None,
            reentrant: Vec::new(),
            groups: Vec::new(),
            lanes_of: Vec::new(),
            feeds: Vec::new(),
        };
        let mut r = Router {
            core,
            connections: conns,
            managed: false,
            clock,
            config_text: opts.config_text,
            flat_text: opts.flat_text,
            registry: registry.clone(),
        };
        let mut init_errors = Vec::new();
        let tickets = schedule_info(&r.core.meta);
        for i in 0..n {
            let mut e = r.core.nodes[i].element.take().expect("constructed");
            if let Err(msg) = e.initialize(&mut Ctx { core: &mut r.core, me: i }) {
                let m = &r.core.meta[i];
                init_errors.push(with_landmark(&m.landmark(), &format!("While initializing {}:", describe(m))));
                init_errors.push(format!("  {msg}"));
            }
            if e.has_task() {
                let scaled = tickets.get(&*r.core.meta[i].name).map(|f| (f64::from(e.tickets()) * f) as u32);
                r.core.sched.add(i, scaled.unwrap_or_else(|| e.tickets()).max(1));
            }
            if e.manages_driver() {
                r.managed = true;
                r.core.managers.push(i);
            }
            r.core.nodes[i].element = Some(e);
        }
        if !init_errors.is_empty() {
            init_errors.push("Router could not be initialized!".into());
            return Err(init_errors);
        }
        if opts.fuse_lanes {
            r.core.fuse_lanes();
        }
        Ok(r)
    }

    /// Read configuration `text` (named `filename` in messages), flatten it and
    /// build the router; `opts`' configuration texts are set from `text`. `Err`
    /// holds every error line in Click's words.
    pub fn from_text(
        text: &str,
        filename: &str,
        registry: &Registry,
        mut opts: RouterOptions,
    ) -> Result<Router, Vec<String>> {
        let known = |n: &str| registry.contains(n);
        let lang_opts = oxclick_lang::Options { is_primitive: Some(&known), ..oxclick_lang::Options::default() };
        let out = oxclick_lang::read(text, filename, &lang_opts);
        if oxclick_lang::diag::has_errors(&out.diagnostics) {
            return Err(out.diagnostics.iter().map(|d| d.click_text().trim_end().to_string()).collect());
        }
        opts.config_text = text.into();
        opts.flat_text = oxclick_lang::unparse::unparse(&out.flat);
        Router::new(&out.flat, registry, opts)
    }

    /// Run tasks until the driver stops (a stop request, or DriverManager says so).
    /// Returns the number of task rounds run.
    pub fn run(&mut self) -> u64 {
        self.run_until(&|| false)
    }

    /// [`run`](Self::run), also stopping when `interrupted()` says so (the host
    /// driver's Ctrl-C), checked once per round of tasks.
    pub fn run_until(&mut self, interrupted: &dyn Fn() -> bool) -> u64 {
        self.run_tasks(interrupted, false).0
    }

    /// Run tasks while there is work, then return instead of sleeping: what a
    /// driver with its own event loop calls (the Xen guest: it feeds received
    /// frames in with [`Router::device_receive`], runs the router, sends what
    /// [`Router::device_transmit`] gives it, then blocks until an event or the
    /// returned time, the earliest pending timer, if any). A router that stays
    /// busy returns after a budget of task runs, with the current time.
    pub fn run_while_busy(&mut self) -> Option<u64> {
        self.run_tasks(&|| false, true).1
    }

    /// Whether the router has stopped (a `stop` handler write, DriverManager, or
    /// a source's STOP).
    pub fn is_stopped(&self) -> bool {
        self.core.stopped || (!self.managed && self.core.stop_requests > 0)
    }

    fn run_tasks(&mut self, interrupted: &dyn Fn() -> bool, until_idle: bool) -> (u64, Option<u64>) {
        let mut steps = 0u64;
        // The router is idle when every scheduled task has run without work since
        // the last run that did some. `epoch` counts runs with work; a task is
        // counted in `idle_tasks` once per epoch (`Task::idle_epoch`).
        let mut epoch = self.core.sched.next_epoch();
        let mut idle_tasks = 0usize;
        let mut since_clock = 0u32;
        loop {
            if since_clock == 0 {
                if self.core.stopped || (!self.managed && self.core.stop_requests > 0) || interrupted() {
                    break;
                }
                self.core.now = self.clock.now();
                self.core.sched.fire_timers(self.core.now);
            }
            since_clock = (since_clock + 1) % STEPS_PER_CLOCK_READ;
            let scheduled = self.core.sched.scheduled();
            if idle_tasks >= scheduled.max(1) {
                // Idle: sleep until the earliest timer or wake request. With nothing
                // due, like Click, idle until something happens (on the host, a
                // signal or a write handler), checking every 10 ms.
                let timers = self.core.sched.fire_timers(self.core.now);
                let wake = match (timers, self.core.next_wake.take()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if until_idle {
                    return (steps, wake);
                }
                self.clock.sleep_until(wake.unwrap_or(self.core.now.saturating_add(10_000_000)));
                epoch = self.core.sched.next_epoch();
                idle_tasks = 0;
                since_clock = 0;
                continue;
            }
            let Some(k) = self.core.sched.next() else {
                idle_tasks = usize::MAX;
                continue;
            };
            let task = &mut self.core.sched.tasks[k];
            task.pass += task.stride;
            task.timer = None;
            let i = task.element;
            self.core.sched.global_pass = task.pass;
            self.core.sched.sleep_request = false;
            let mut worked = false;
            if let Some(mut e) = self.core.nodes[i].element.take() {
                worked = e.run_task(&mut Ctx { core: &mut self.core, me: i });
                self.core.restore(i, e);
            }
            if worked {
                epoch = self.core.sched.next_epoch();
                idle_tasks = 0;
            }
            let task = &mut self.core.sched.tasks[k];
            if !worked && task.idle_epoch != epoch && !self.core.sched.sleep_request {
                task.idle_epoch = epoch;
                idle_tasks += 1;
            }
            if self.core.sched.sleep_request {
                task.scheduled = false;
                if task.idle_epoch == epoch {
                    // Counted idle earlier this epoch, now not scheduled at all.
                    task.idle_epoch = 0;
                    idle_tasks -= 1;
                }
            }
            steps += 1;
            if self.core.stopped || (!self.managed && self.core.stop_requests > 0) {
                break;
            }
            if until_idle && steps >= BUSY_BUDGET {
                // Busy still: let the driver do its I/O, then come back at once.
                return (steps, Some(self.core.now));
            }
            if self.core.pending_hotconfig.is_some() {
                self.apply_pending_hotconfig();
                epoch = self.core.sched.next_epoch();
                idle_tasks = 0;
                since_clock = 0;
            }
        }
        (steps, None)
    }

    /// Replace this router by one built from configuration `text` (Click's
    /// `hotconfig` handler, `click -R`): the new router is built, checked,
    /// configured and initialized beside the running one; elements with the same
    /// name and class in both take over their predecessor's state
    /// ([`Element::take_state`]: queues keep their packets, tables their entries);
    /// then the new router replaces the old, keeping its clock and console. If the
    /// new configuration fails anywhere, the old router runs on untouched and the
    /// errors are returned.
    pub fn hot_swap(&mut self, text: &str) -> Result<(), Vec<String>> {
        let registry = self.registry.clone();
        let opts = RouterOptions {
            clock: Box::new(SimClock::starting_at(self.core.now)),
            ..RouterOptions::quiet(self.core.devices.iter().map(|d| d.info.clone()).collect())
        };
        let mut new = Router::from_text(text, "hotconfig", &registry, opts)?;
        // Frames waiting in the device queues go on with the new router.
        core::mem::swap(&mut new.core.devices, &mut self.core.devices);
        core::mem::swap(&mut new.core.console, &mut self.core.console);
        core::mem::swap(&mut new.core.output, &mut self.core.output);
        core::mem::swap(&mut new.clock, &mut self.clock);
        new.core.now = self.core.now;
        for i in 0..new.core.meta.len() {
            let Some(j) = self.core.find(&new.core.meta[i].name) else { continue };
            if self.core.meta[j].class != new.core.meta[i].class {
                continue;
            }
            // Either may be a lane of a group (see `crate::lanes`).
            let old = &mut self.core;
            new.core.with_element_mut(i, |ne, core| {
                old.with_element_mut(j, |oe, _| ne.take_state(oe, &mut Ctx { core, me: i }));
            });
        }
        *self = new;
        Ok(())
    }

    /// Swap in a configuration written to `hotconfig` while the router ran.
    #[cold]
    fn apply_pending_hotconfig(&mut self) {
        let Some(text) = self.core.pending_hotconfig.take() else { return };
        if let Err(errors) = self.hot_swap(&text) {
            (self.core.console)("hotconfig: the new configuration failed; the old one keeps running:");
            for e in errors {
                (self.core.console)(&e);
            }
        }
    }

    /// The driver's network devices.
    pub fn devices(&self) -> &[Device] {
        &self.core.devices
    }

    /// Hand the router a frame device `dev` received; false if it was dropped
    /// (no such device, or its receive queue is full: counted in `rx_drops`).
    pub fn device_receive(&mut self, dev: usize, frame: &[u8]) -> bool {
        let Some(d) = self.core.devices.get_mut(dev) else { return false };
        if d.rx.len() >= DEVICE_QUEUE_CAPACITY {
            d.rx_drops += 1;
            return false;
        }
        d.rx.push_back(self.core.pool.packet(frame));
        true
    }

    /// Give the frames waiting to go out of device `dev`, oldest first, to
    /// `send` until it returns false (the ring is full: that frame and the rest
    /// wait for the next call). Returns how many were sent.
    pub fn device_transmit(&mut self, dev: usize, mut send: impl FnMut(&[u8]) -> bool) -> usize {
        let Some(d) = self.core.devices.get_mut(dev) else { return 0 };
        let mut sent = 0;
        while let Some(p) = d.tx.front() {
            if !send(p.data()) {
                break;
            }
            d.tx.pop_front();
            sent += 1;
        }
        sent
    }

    /// Ask the driver to stop (the `stop` handler).
    pub fn stop(&mut self) {
        self.core.stopped = true;
    }

    pub fn element_names(&self) -> impl Iterator<Item = &str> {
        self.core.meta.iter().map(|m| &*m.name)
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.core.find(name)
    }

    /// The class of element `i`.
    pub fn element_class(&self, i: usize) -> &str {
        &self.core.meta[i].class
    }

    /// What element `i` keeps that grows with traffic ([`Element::state`]), and its
    /// own size in bytes; `None` while the element is busy (never between runs).
    pub fn element_state(&self, i: usize) -> Option<(crate::element::State, usize)> {
        let e = self.core.element_ref(i)?;
        Some((e.state(), core::mem::size_of_val(e)))
    }

    /// The lane groups the router made (see [`crate::lanes`]): each group's
    /// elements, in lane order.
    pub fn lane_groups(&self) -> Vec<Vec<usize>> {
        self.core.groups.iter().map(|g| g.nodes.iter().map(|&e| e as usize).collect()).collect()
    }

    /// The `lanes` handler: each lane group, one line each, with its class, how
    /// many lanes and its first and last elements (oxclick's own handler: it
    /// shows whether elements behind a demux run as one).
    fn lanes_text(&self) -> String {
        let groups = self.lane_groups();
        let mut s = format!("{}\n", groups.len());
        for g in &groups {
            let (Some(&first), Some(&last)) = (g.first(), g.last()) else { continue };
            let name = |e: usize| &*self.core.meta[e].name;
            s.push_str(&format!(
                "{} {} lanes: {} ... {}\n",
                self.core.meta[first].class,
                g.len(),
                name(first),
                name(last)
            ));
        }
        s
    }

    /// Indexes of elements whose class is `class`.
    pub fn elements_of_class(&self, class: &str) -> Vec<usize> {
        (0..self.core.meta.len()).filter(|i| &*self.core.meta[*i].class == class).collect()
    }

    pub fn element_name(&self, i: usize) -> &str {
        &self.core.meta[i].name
    }

    fn ports_text(&self, i: usize) -> String {
        let mut s = String::new();
        let nin = self.core.ninputs(i);
        s.push_str(&format!("{nin} input{}\n", if nin == 1 { "" } else { "s" }));
        for p in 0..nin {
            let kind = if self.core.input_is_pull(i, p) { "pull" } else { "push" };
            let peers: Vec<String> = self
                .connections
                .iter()
                .filter(|c| c.1 == Port { element: i, port: p })
                .map(|c| format!("{} [{}]", self.core.meta[c.0.element].name, c.0.port))
                .collect();
            s.push_str(&format!("{kind}\t-\t{}\n", peers.join(", ")));
        }
        let nout = self.core.noutputs(i);
        s.push_str(&format!("{nout} output{}\n", if nout == 1 { "" } else { "s" }));
        for p in 0..nout {
            let kind = if self.core.output_is_push(i, p) { "push" } else { "pull" };
            let peers: Vec<String> = self
                .connections
                .iter()
                .filter(|c| c.0 == Port { element: i, port: p })
                .map(|c| format!("[{}] {}", c.1.port, self.core.meta[c.1.element].name))
                .collect();
            s.push_str(&format!("{kind}\t-\t{}\n", peers.join(", ")));
        }
        s
    }

    /// The flat configuration as Click prints it (the `flatconfig` handler).
    pub fn flat_text(&self) -> &str {
        &self.flat_text
    }

    /// Read handler `handler` of element `element` (`None`: a router-wide handler).
    pub fn read_handler(&self, element: Option<usize>, handler: &str) -> Option<String> {
        let Some(i) = element else {
            return match handler {
                "config" => Some(self.config_text.clone()),
                "flatconfig" => Some(self.flat_text.clone()),
                "list" => {
                    let mut s = format!("{}\n", self.core.meta.len());
                    for m in &self.core.meta {
                        s.push_str(&m.name);
                        s.push('\n');
                    }
                    Some(s)
                }
                "handlers" => Some("config\nflatconfig\nlist\nhandlers\nstop\nhotconfig\nversion\nlanes\n".into()),
                "lanes" => Some(self.lanes_text()),
                "version" => Some(env!("CARGO_PKG_VERSION").into()),
                _ => None,
            };
        };
        let m = self.core.meta.get(i)?;
        let e = self.core.element_ref(i)?;
        match handler {
            "name" => Some(String::from(&*m.name)),
            "class" => Some(String::from(&*m.class)),
            "config" => Some(String::from(&*m.config)),
            "ports" => Some(self.ports_text(i)),
            "handlers" => {
                let mut s = String::from("name\nclass\nconfig\nports\nhandlers\n");
                for h in e.handler_names() {
                    s.push_str(h);
                    s.push('\n');
                }
                Some(s)
            }
            _ => e.read_handler(handler),
        }
    }

    /// Write handler; `None` when there is no such handler.
    pub fn write_handler(&mut self, element: Option<usize>, handler: &str, value: &str) -> Option<Result<(), String>> {
        match element {
            None if handler == "stop" => {
                self.stop();
                Some(Ok(()))
            }
            None if handler == "hotconfig" => Some(self.hot_swap(value).map_err(|e| e.join("\n"))),
            None => None,
            Some(i) if handler == "config" => {
                let spec = format!("{}.config", self.core.name(i));
                Some(self.core.call_handler(&spec, true, value).map(|_| ()))
            }
            Some(i) => {
                let r = self
                    .core
                    .with_element_mut(i, |e, core| e.call_handler(handler, true, value, &mut Ctx { core, me: i }))?;
                r.map(|r| r.map(|_| ()))
            }
        }
    }
}
