//! Lane fusion: many elements of one class, each behind its own output of a
//! demux, run as one.
//!
//! A consolidated router puts thousands of tenants behind one IPClassifier. With
//! tenants interleaved on the wire, every batch the demux sees splits into runs
//! of one packet, and each of those goes to its tenant's Counter and Discard by
//! calls of its own: find the peer, take the element out of its slot, a virtual
//! push, put it back, drop one packet. Per packet, that is most of what a tenant
//! costs, and it is why a packet at 10,000 tenants cost half as much again as
//! one at a single tenant.
//!
//! So when the router is built, an element that routes batches
//! ([`Element::routes_batches`]: its `push_batch` goes through
//! [`route_batch`](crate::route_batch)) and whose outputs lead to distinct
//! elements of one class that can run as lanes ([`LaneElement`]) has those
//! elements moved into one **lane group**: a vector of them, one lane each. As
//! the routing element sorts a batch, it stamps each packet bound for the group
//! with its lane ([`Packet::lane`]) and hands the group all of them at once; the
//! class's [`LaneElement::push_lanes`] does each packet's work with its lane's
//! element and sends the batch on. Where the lanes' outputs lead to elements of
//! one fusable class again, those form the next group, lane for lane, so a batch
//! crosses every tenant's Counter and then every tenant's Discard as one batch,
//! whichever tenants its packets are for.
//!
//! Nothing a user sees changes:
//! - each lane is still its element, with its name, handlers and hot-swap state:
//!   the router reaches it inside its group (`Core::with_element_mut`);
//! - packets keep their order on every path: a group takes a batch in order and
//!   sends it on in order, and a packet for an output outside the group first
//!   sends on the packets gathered for the group, as `route_batch` sends on a run
//!   before starting the next;
//! - a packet that reaches a lane's element another way (pushed alone, or by a
//!   cycle while the group runs) is stamped and handed to the group, or waits
//!   until the group returns, as it would wait for a running element.
//!
//! What fusion does change is where batches start and end, and only that: a
//! group's batch holds the packets of many lanes, where without fusion each
//! lane's run of packets is a batch of its own. An element whose result for one
//! packet depends on what a later stage did with an earlier packet of the same
//! batch sees that the same way as with any batching: a tenant's guard learns
//! the sources of all of a batch's packets for its tenant before it checks the
//! tenant's answers, so with its peer table smaller than a batch it may have
//! forgotten one it would have remembered had the packets come one at a time.
//!
//! [`RouterOptions::fuse_lanes`](crate::RouterOptions::fuse_lanes) turns fusion
//! off; the tests run configurations both ways and compare.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::any::TypeId;

use crate::element::{Batch, Ctx, Element};
use crate::packet::Packet;
use crate::router::{Core, NO_TASK, Peer};

/// An element class whose elements can run as the lanes of one group.
///
/// Implement it for classes whose per-packet work is small and needs only the
/// element itself (counters, sinks, filters, a tenant's guard), and have
/// [`Element::lane_maker`] return [`LaneMaker::of`] for elements configured so
/// that `push_lanes` does exactly what their `push` would; the router finds
/// the element itself through [`Element::as_any_mut`], which must return it.
/// Such an element has only push ports and no task; the router checks that.
pub trait LaneElement: Element + Default + Sized + 'static {
    /// What a group knows of all its lanes at once (IPFilter: the one program
    /// they all run, if they do), so that a packet need not visit its lane's
    /// element for it. `()` for most classes.
    type Summary: Default;

    /// Whether `self` and `other` can be lanes of one group (IPFilter: the same
    /// compiled program). The default: always.
    fn fuses_with(&self, _other: &Self) -> bool {
        true
    }

    /// The group's summary of `lanes`: made when the group forms, and again
    /// after anything but `push_lanes` touched a lane (a handler call, a hot
    /// swap).
    fn summarize(_lanes: &[Self]) -> Self::Summary {
        Self::Summary::default()
    }

    /// `batch` arrived on input `port` of the lanes' elements, each packet at
    /// `lanes[packet.lane()]`. Do each packet's work with its lane's element, in
    /// order, and send what goes on through `cx`, in order.
    fn push_lanes(lanes: &mut [Self], summary: &Self::Summary, port: usize, batch: Batch, cx: &mut LaneCtx);
}

/// How the router makes a group of one [`LaneElement`] class out of its elements.
#[derive(Clone, Copy)]
pub struct LaneMaker {
    class: TypeId,
    fuses: fn(&mut dyn Element, &mut dyn Element) -> bool,
    make: fn(Elements) -> Result<Box<dyn LaneGroup>, Elements>,
}

/// Elements out of their slots, to become lanes.
type Elements = Vec<Box<dyn Element>>;

impl LaneMaker {
    /// The maker for class `E`.
    pub fn of<E: LaneElement>() -> LaneMaker {
        LaneMaker { class: TypeId::of::<E>(), fuses: fuses::<E>, make: make::<E> }
    }
}

/// `e` as an `E`, through [`Element::as_any_mut`].
fn as_lane<E: LaneElement>(e: &mut dyn Element) -> Option<&mut E> {
    e.as_any_mut()?.downcast_mut::<E>()
}

fn fuses<E: LaneElement>(a: &mut dyn Element, b: &mut dyn Element) -> bool {
    match (as_lane::<E>(a), as_lane::<E>(b)) {
        (Some(a), Some(b)) => a.fuses_with(b),
        _ => false,
    }
}

/// The group of `members`, which all are `E`s; if one is not, they come back
/// untouched.
fn make<E: LaneElement>(mut members: Elements) -> Result<Box<dyn LaneGroup>, Elements> {
    if !members.iter_mut().all(|m| as_lane::<E>(&mut **m).is_some()) {
        return Err(members);
    }
    // Each element moves into the group's vector (a default one is left in its
    // box, which is then freed): one allocation for all lanes, dense in memory,
    // and of their number, not grown by doubling (10,000 guards: 2.6 MB, where
    // growing held 6.3 MB at once).
    let mut lanes: Vec<E> = Vec::with_capacity(members.len());
    lanes.extend(members.iter_mut().filter_map(|m| as_lane::<E>(&mut **m).map(core::mem::take)));
    let summary = E::summarize(&lanes);
    Ok(Box::new(Lanes::<E> { lanes, summary }))
}

/// A group's lanes, whatever their class (the router's view).
pub(crate) trait LaneGroup {
    fn push_lanes(&mut self, port: usize, batch: Batch, cx: &mut LaneCtx);
    fn member(&mut self, lane: usize) -> Option<&mut dyn Element>;
    fn member_ref(&self, lane: usize) -> Option<&dyn Element>;
    /// A lane was reached through `member`: summarize again.
    fn changed(&mut self);
}

struct Lanes<E: LaneElement> {
    lanes: Vec<E>,
    summary: E::Summary,
}

impl<E: LaneElement> LaneGroup for Lanes<E> {
    fn push_lanes(&mut self, port: usize, batch: Batch, cx: &mut LaneCtx) {
        E::push_lanes(&mut self.lanes, &self.summary, port, batch, cx);
    }
    fn member(&mut self, lane: usize) -> Option<&mut dyn Element> {
        self.lanes.get_mut(lane).map(|e| e as &mut dyn Element)
    }
    fn member_ref(&self, lane: usize) -> Option<&dyn Element> {
        self.lanes.get(lane).map(|e| e as &dyn Element)
    }
    fn changed(&mut self) {
        self.summary = E::summarize(&self.lanes);
    }
}

/// A lane group's view of the router while it runs.
pub struct LaneCtx<'a> {
    pub(crate) core: &'a mut Core,
    pub(crate) group: usize,
}

impl LaneCtx<'_> {
    /// Send each packet of `batch` out of push output `port` of its lane's element.
    #[inline]
    pub fn push_batch(&mut self, port: usize, batch: Batch) {
        if batch.is_empty() {
            self.core.recycle_batch(batch);
        } else {
            self.core.lanes_out(self.group, port, batch);
        }
    }

    /// Send each packet of `batch` out of the output of its lane's element that
    /// `route` picks (None: dropped), in order: consecutive packets for the same
    /// output go on as one batch, as [`route_batch`](crate::route_batch) sends
    /// them. `route` is called once per packet, in order.
    pub fn route_batch(&mut self, mut batch: Batch, mut route: impl FnMut(&mut Packet) -> Option<usize>) {
        let mut run = self.core.new_batch();
        let mut run_port = usize::MAX;
        for mut p in batch.drain(..) {
            let Some(o) = route(&mut p) else { continue };
            if o != run_port && !run.is_empty() {
                let full = core::mem::replace(&mut run, self.core.new_batch());
                self.push_batch(run_port, full);
            }
            run_port = o;
            run.push(p);
        }
        self.core.recycle_batch(batch);
        self.push_batch(run_port, run);
    }

    /// Hand back a batch's vector (its packets, if any, are dropped).
    #[inline]
    pub fn recycle_batch(&mut self, batch: Batch) {
        self.core.recycle_batch(batch);
    }

    /// The router clock, in nanoseconds.
    #[inline]
    pub fn now(&self) -> u64 {
        self.core.now
    }

    /// Lane `lane`'s element's own context, for what it does off the fast path
    /// (calling a handler); None if there is no such lane. Its own group is
    /// running meanwhile: a write handler call to a lane of it waits until the
    /// group returns.
    pub fn lane(&mut self, lane: usize) -> Option<Ctx<'_>> {
        let me = *self.core.groups.get(self.group)?.nodes.get(lane)? as usize;
        Some(Ctx { core: self.core, me })
    }
}

/// No group, or no lane.
pub(crate) const NONE: u32 = u32::MAX;

/// Where an output of a group's elements leads.
#[derive(Clone, Copy)]
pub(crate) enum LaneOut {
    /// Lane for lane into a group (the next one, or one a cycle leads back
    /// to), on this input: the batch goes on whole.
    Group(u32, u32),
    /// Into a group, some lanes or in another order, on this input:
    /// `GroupSlot::maps[map][lane]` is each lane's lane there ([`NONE`]: its
    /// packets go on by themselves). Tenants of several configurations behind
    /// one demux: those sharing one make a group of their own.
    Map(u32, u32, u32),
    /// Every lane's output to the same input: the batch goes on whole.
    Peer(Peer),
    /// Somewhere different for each lane: each packet goes on by itself.
    Each,
}

/// One lane group and its wiring.
pub(crate) struct GroupSlot {
    /// The lanes; out of the slot while the group runs.
    lanes: Option<Box<dyn LaneGroup>>,
    /// `nodes[lane]`: the element that lane is.
    pub(crate) nodes: Vec<u32>,
    /// Where each output of the lanes' elements leads.
    outs: Vec<LaneOut>,
    /// Lane maps of `LaneOut::Map` outputs.
    maps: Vec<Vec<u32>>,
    /// For a group fed by a routing element, the lane each of that element's
    /// outputs leads to ([`NONE`]: none)...
    lane_of_output: Vec<u32>,
    /// ...and the lanes' input those outputs lead to.
    fed_port: u32,
    /// Batches that reached the group while it ran (through a cycle: a tenant
    /// answering through its guard), with their input, delivered in order when
    /// it returns.
    pending: Vec<(u32, Batch)>,
    /// Whether `Core::after_group` is delivering `pending`.
    draining: bool,
}

/// Packets that one delivery (`Core::after_group`) hands back to a group they
/// reached while it ran; beyond this the rest are dropped, as packets cycling
/// back into a running element are.
const PENDING_BUDGET: usize = 1 << 16;

impl Core {
    /// The group fed by routing element `e`'s outputs, if any.
    #[inline(always)]
    pub(crate) fn fed_group(&self, e: usize) -> Option<usize> {
        self.feeds.get(e).and_then(|&g| (g != NONE).then_some(g as usize))
    }

    /// The group and lane of element `e`, if it is fused.
    #[inline]
    pub(crate) fn lane_of(&self, e: usize) -> Option<(usize, usize)> {
        self.lanes_of.get(e).and_then(|&(g, l)| (g != NONE).then_some((g as usize, l as usize)))
    }

    /// Run group `g` on `batch` (each packet stamped with its lane), arriving on
    /// input `port`; if the group is running already, the batch waits for it.
    pub(crate) fn push_group(&mut self, g: usize, port: usize, mut batch: Batch) {
        let Some(slot) = self.groups.get_mut(g) else { return self.recycle_batch(batch) };
        let Some(mut lanes) = slot.lanes.take() else {
            // Packets for the input the last waiting batch is for join it: a
            // cycle brings them back one by one when lanes go different ways.
            match slot.pending.last_mut() {
                Some((p, waiting)) if *p as usize == port => {
                    waiting.append(&mut batch);
                    self.recycle_batch(batch);
                }
                _ => slot.pending.push((port as u32, batch)),
            }
            return;
        };
        lanes.push_lanes(port, batch, &mut LaneCtx { core: self, group: g });
        self.restore_group(g, lanes);
    }

    /// Put group `g` back in its slot, then deliver what waited for it.
    #[inline]
    fn restore_group(&mut self, g: usize, lanes: Box<dyn LaneGroup>) {
        let slot = &mut self.groups[g];
        slot.lanes = Some(lanes);
        if !slot.pending.is_empty() || !self.deferred.is_empty() {
            self.after_group(g);
        }
    }

    /// Deliver what waited for group `g` while it ran: write handler calls to
    /// its lanes, and batches, in order, up to [`PENDING_BUDGET`] packets (a
    /// cycle that keeps bringing packets back has the rest dropped). One loop
    /// does it all: the group running again from here finds `draining` set and
    /// leaves what it left waiting to this loop, so a cycle never nests calls.
    #[cold]
    #[inline(never)]
    fn after_group(&mut self, g: usize) {
        if self.groups[g].draining {
            return;
        }
        self.groups[g].draining = true;
        let mut budget = PENDING_BUDGET;
        loop {
            let deferred = self.deferred.iter().map(|d| d.0).find(|&i| self.lane_of(i).is_some_and(|(h, _)| h == g));
            if let Some(i) = deferred {
                self.run_deferred(i);
                continue;
            }
            if self.groups[g].pending.is_empty() {
                break;
            }
            let (port, batch) = self.groups[g].pending.remove(0);
            if budget < batch.len() {
                self.recycle_batch(batch);
                continue;
            }
            budget -= batch.len();
            self.push_group(g, port as usize, batch);
        }
        self.groups[g].draining = false;
    }

    /// A batch arrives on input `port` of fused element `to`, not through its
    /// group's feeder (pushed by some other element, or alone).
    #[cold]
    #[inline(never)]
    pub(crate) fn push_to_lane(&mut self, g: usize, lane: usize, port: usize, mut batch: Batch) {
        for p in &mut batch {
            p.set_lane(lane as u32);
        }
        self.push_group(g, port, batch);
    }

    /// A packet arrives at fused element `to` by itself.
    #[cold]
    #[inline(never)]
    pub(crate) fn push_packet_to_lane(&mut self, g: usize, lane: usize, port: usize, p: Packet) {
        let mut batch = self.new_batch();
        batch.push(p);
        self.push_to_lane(g, lane, port, batch);
    }

    /// Send each packet of `batch` out of output `port` of its lane's element in
    /// group `g`.
    pub(crate) fn lanes_out(&mut self, g: usize, port: usize, mut batch: Batch) {
        match self.groups[g].outs.get(port).copied() {
            Some(LaneOut::Group(next, to)) => self.push_group(next as usize, to as usize, batch),
            Some(LaneOut::Map(next, to, map)) => {
                self.lanes_out_mapped(g, port, next as usize, to as usize, map as usize, batch)
            }
            Some(LaneOut::Peer(peer)) => match peer.port() {
                Some(to) => self.push_batch_to(to.element, to.port, batch),
                None => self.recycle_batch(batch),
            },
            Some(LaneOut::Each) => {
                for p in batch.drain(..) {
                    if let Some(&e) = self.groups[g].nodes.get(p.lane()) {
                        self.push_from(e as usize, port, p);
                    }
                }
                self.recycle_batch(batch);
            }
            None => self.recycle_batch(batch),
        }
    }

    /// `lanes_out` through a lane map: packets of lanes the map takes into group
    /// `next` go there together (restamped), the others on by themselves, in
    /// order (the gathered ones go first whenever one goes by itself).
    fn lanes_out_mapped(&mut self, g: usize, port: usize, next: usize, to: usize, map: usize, mut batch: Batch) {
        let mut mapped = self.new_batch();
        for mut p in batch.drain(..) {
            let lane = p.lane();
            let there = self.groups[g].maps.get(map).and_then(|m| m.get(lane)).copied().unwrap_or(NONE);
            if there != NONE {
                p.set_lane(there);
                mapped.push(p);
                continue;
            }
            if !mapped.is_empty() {
                let gathered = core::mem::replace(&mut mapped, self.new_batch());
                self.push_group(next, to, gathered);
            }
            if let Some(&e) = self.groups[g].nodes.get(lane) {
                self.push_from(e as usize, port, p);
            }
        }
        self.recycle_batch(batch);
        if mapped.is_empty() {
            self.recycle_batch(mapped);
        } else {
            self.push_group(next, to, mapped);
        }
    }

    /// Run `f` on lane `lane` of group `g` (element `i`); None while the group runs.
    pub(crate) fn with_lane<R>(
        &mut self,
        g: usize,
        lane: usize,
        f: impl FnOnce(&mut dyn Element, &mut Core) -> R,
    ) -> Option<R> {
        let mut lanes = self.groups.get_mut(g)?.lanes.take()?;
        let r = lanes.member(lane).map(|e| f(e, self));
        lanes.changed();
        self.restore_group(g, lanes);
        r
    }

    /// Lane `lane` of group `g`; None while the group runs.
    pub(crate) fn lane_ref(&self, g: usize, lane: usize) -> Option<&dyn Element> {
        self.groups.get(g)?.lanes.as_ref()?.member_ref(lane)
    }

    /// Whether element `e` can be a lane, and of which class: it is here (not
    /// fused already), says it can ([`Element::lane_maker`]), has only push
    /// ports, and neither a task nor a part in the driver's or the notifiers'
    /// bookkeeping.
    fn lane_candidate(&mut self, e: usize) -> Option<LaneMaker> {
        let el = self.nodes.get(e)?.element.as_ref()?;
        let maker = el.lane_maker()?;
        let fits = (0..self.ninputs(e)).all(|k| !self.input_is_pull(e, k))
            && (0..self.noutputs(e)).all(|q| self.output_is_push(e, q))
            && self.sched.task_of.get(e).is_none_or(|&t| t == NO_TASK)
            && !el.is_notifier()
            && !self.managers.contains(&e)
            && self.listeners.get(e).is_none_or(|l| l.is_empty());
        fits.then_some(maker)
    }

    /// Whether candidate `e` (of `maker`'s class) can share a group whose first
    /// lane is `first`: the class says so, and the port counts agree.
    fn fuses(&mut self, maker: &LaneMaker, first: usize, e: usize) -> bool {
        if self.noutputs(first) != self.noutputs(e) || self.ninputs(first) != self.ninputs(e) {
            return false;
        }
        let (Some(mut a), Some(mut b)) = (self.nodes[first].element.take(), self.nodes[e].element.take()) else {
            return false;
        };
        let ok = (maker.fuses)(&mut *a, &mut *b);
        self.nodes[first].element = Some(a);
        self.nodes[e].element = Some(b);
        ok
    }

    /// The largest set of the elements the inputs `peers` lead to that can be
    /// lanes of one new group: candidates of one class, on one input, that
    /// fuse with the set's first. Returned with each peer's lane in it (`map`,
    /// [`NONE`] for peers outside it; a peer reached twice has one lane), if
    /// it has two lanes or more.
    fn lane_set(&mut self, peers: &[Peer]) -> Option<(LaneMaker, u32, Vec<u32>, Vec<u32>)> {
        // (class, input, elements); candidates seen, with the set and lane each went to.
        let mut sets: Vec<(LaneMaker, u32, Vec<u32>)> = Vec::new();
        let mut placed: BTreeMap<u32, (usize, u32)> = BTreeMap::new();
        for peer in peers {
            let Some(to) = peer.port() else { continue };
            if placed.contains_key(&peer.element) {
                continue;
            }
            let Some(maker) = self.lane_candidate(to.element) else { continue };
            let set = sets.iter().position(|(m, port, nodes)| {
                m.class == maker.class && *port == peer.port && self.fuses(m, nodes[0] as usize, to.element)
            });
            let k = match set {
                Some(k) => k,
                None => {
                    sets.push((maker, peer.port, Vec::new()));
                    sets.len() - 1
                }
            };
            placed.insert(peer.element, (k, sets[k].2.len() as u32));
            sets[k].2.push(peer.element);
        }
        let best = (0..sets.len()).max_by_key(|&k| sets[k].2.len())?;
        let map = peers
            .iter()
            .map(|p| match placed.get(&p.element) {
                Some(&(k, lane)) if k == best && p.port == sets[k].1 => lane,
                _ => NONE,
            })
            .collect();
        let (maker, port, nodes) = sets.swap_remove(best);
        (nodes.len() >= 2).then_some((maker, port, nodes, map))
    }

    /// Move elements `nodes` into a new group; its index.
    fn make_group(&mut self, maker: LaneMaker, nodes: Vec<u32>) -> Option<usize> {
        let taken: Vec<Option<Box<dyn Element>>> =
            nodes.iter().map(|&e| self.nodes[e as usize].element.take()).collect();
        // Every candidate is in its slot, and of the maker's class: a failure
        // here is not reached, but puts each element back where it was.
        let made = if taken.iter().all(Option::is_some) {
            (maker.make)(taken.into_iter().flatten().collect()).map_err(|back| back.into_iter().map(Some).collect())
        } else {
            Err(taken)
        };
        let lanes = match made {
            Ok(lanes) => lanes,
            Err(back) => {
                for (&e, m) in nodes.iter().zip(back) {
                    self.nodes[e as usize].element = m;
                }
                return None;
            }
        };
        let g = self.groups.len();
        if self.lanes_of.is_empty() {
            self.lanes_of = vec![(NONE, 0); self.nodes.len()];
        }
        for (lane, &e) in nodes.iter().enumerate() {
            self.lanes_of[e as usize] = (g as u32, lane as u32);
        }
        self.groups.push(GroupSlot {
            lanes: Some(lanes),
            nodes,
            outs: Vec::new(),
            maps: Vec::new(),
            lane_of_output: Vec::new(),
            fed_port: 0,
            pending: Vec::new(),
            draining: false,
        });
        Some(g)
    }

    /// Fuse what can be fused (see the module's text). Called once the router is
    /// initialized, before it runs.
    pub(crate) fn fuse_lanes(&mut self) {
        for f in 0..self.nodes.len() {
            let routes = self.nodes[f].element.as_ref().is_some_and(|e| e.routes_batches());
            let nout = self.noutputs(f);
            if !routes || nout < 2 {
                continue;
            }
            // The elements the routing element's outputs lead to: the largest
            // set of them that can be lanes of one group is the group. Outputs
            // to the others go on unfused (a demux's output for unmatched
            // traffic, usually).
            let peers: Vec<Peer> = (0..nout)
                .map(|o| match self.push_peer(f, o) {
                    Some(to) if self.output_is_push(f, o) && to.element != f => Peer::of(to),
                    _ => Peer::NONE,
                })
                .collect();
            let Some((maker, port, nodes, lane_of_output)) = self.lane_set(&peers) else { continue };
            let Some(g) = self.make_group(maker, nodes) else { continue };
            self.groups[g].lane_of_output = lane_of_output;
            self.groups[g].fed_port = port;
            if self.feeds.is_empty() {
                self.feeds = vec![NONE; self.nodes.len()];
            }
            self.feeds[f] = g as u32;
            self.chain(g);
        }
    }

    /// A group that two or more of `peers`' elements are lanes of already, all
    /// on one input, with each peer's lane there (`map`, [`NONE`] for peers
    /// outside it): the tenants' last elements answering through their guards.
    fn lanes_into(&self, peers: &[Peer]) -> Option<(usize, u32, Vec<u32>)> {
        let (first, h) = peers.iter().find_map(|p| Some((p, self.lane_of(p.element as usize)?.0)))?;
        let map: Vec<u32> = peers
            .iter()
            .map(|p| match self.lane_of(p.element as usize) {
                Some((g, lane)) if g == h && p.port == first.port => lane as u32,
                _ => NONE,
            })
            .collect();
        (map.iter().filter(|&&l| l != NONE).count() >= 2).then_some((h, first.port, map))
    }

    /// Wire the outputs of group `g`'s lanes, making the groups they lead to.
    fn chain(&mut self, g: usize) {
        let mut todo = vec![g];
        while let Some(g) = todo.pop() {
            let nodes = self.groups[g].nodes.clone();
            let nout = self.noutputs(nodes[0] as usize);
            let mut outs = Vec::with_capacity(nout);
            for q in 0..nout {
                let peers: Vec<Peer> =
                    nodes.iter().map(|&e| self.push_peer(e as usize, q).map_or(Peer::NONE, Peer::of)).collect();
                let same = peers.iter().all(|p| p.element == peers[0].element && p.port == peers[0].port);
                // Lane k to lane k, every lane: the batch goes on whole.
                let into = |h: usize, port: u32, map: Vec<u32>, slot: &mut GroupSlot| {
                    let identity = map.len() == nodes.len() && map.iter().enumerate().all(|(k, &l)| l as usize == k);
                    if identity {
                        LaneOut::Group(h as u32, port)
                    } else {
                        slot.maps.push(map);
                        LaneOut::Map(h as u32, port, (slot.maps.len() - 1) as u32)
                    }
                };
                let out = if same {
                    LaneOut::Peer(peers[0])
                } else if let Some((h, port, map)) = self.lanes_into(&peers) {
                    // Back into a group: a tenant's last element answering
                    // through its guard.
                    into(h, port, map, &mut self.groups[g])
                } else if let Some((maker, port, next, map)) = self.lane_set(&peers)
                    && let Some(h) = self.make_group(maker, next)
                {
                    todo.push(h);
                    into(h, port, map, &mut self.groups[g])
                } else {
                    LaneOut::Each
                };
                outs.push(out);
            }
            self.groups[g].outs = outs;
        }
    }
}

/// [`route_batch`](crate::route_batch) for a routing element that feeds group
/// `g`: packets bound for the group's lanes are stamped and gathered, and go to
/// the group together; packets for other outputs go on in runs, as
/// `route_batch` sends them. Order is kept on every path: before a packet for
/// another output goes on, the packets gathered for the group go first, and the
/// other way round.
pub(crate) fn route_to_lanes(
    mut batch: Batch,
    cx: &mut Ctx,
    g: usize,
    mut route: impl FnMut(&mut Packet) -> Option<usize>,
) {
    // The common case first: every packet for a lane, so the batch goes to the
    // group whole.
    let mut k = 0;
    let diverged = {
        let table = &cx.core.groups[g].lane_of_output;
        loop {
            let Some(p) = batch.get_mut(k) else { break None };
            let out = route(p);
            match out.and_then(|o| table.get(o)) {
                Some(&lane) if lane != NONE => {
                    p.set_lane(lane);
                    k += 1;
                }
                _ => break Some(out),
            }
        }
    };
    let port = cx.core.groups[g].fed_port as usize;
    let Some(kth) = diverged else {
        return cx.core.push_group(g, port, batch);
    };
    // Packets 0..k are for the group; packet k goes out of `kth` (or is
    // dropped); the rest as they come.
    let mut rest = cx.new_batch();
    rest.extend(batch.drain(k..));
    let mut lanes = batch;
    let mut run = cx.new_batch();
    let mut run_out = usize::MAX;
    let mut first = Some(kth);
    for mut p in rest.drain(..) {
        let out = match first.take() {
            Some(o) => o,
            None => route(&mut p),
        };
        let Some(o) = out else { continue };
        match cx.core.groups[g].lane_of_output.get(o).copied() {
            Some(lane) if lane != NONE => {
                if !run.is_empty() {
                    let r = core::mem::replace(&mut run, cx.new_batch());
                    cx.push_batch(run_out, r);
                }
                p.set_lane(lane);
                lanes.push(p);
            }
            _ => {
                if !lanes.is_empty() {
                    let l = core::mem::replace(&mut lanes, cx.new_batch());
                    cx.core.push_group(g, port, l);
                }
                if o != run_out && !run.is_empty() {
                    let r = core::mem::replace(&mut run, cx.new_batch());
                    cx.push_batch(run_out, r);
                }
                run_out = o;
                run.push(p);
            }
        }
    }
    cx.recycle_batch(rest);
    if !lanes.is_empty() {
        cx.core.push_group(g, port, lanes);
    } else {
        cx.recycle_batch(lanes);
    }
    if !run.is_empty() {
        cx.push_batch(run_out, run);
    } else {
        cx.recycle_batch(run);
    }
}
