//! Packets: one contiguous buffer with headroom and tailroom, shared between clones
//! and copied on the first write (copy-on-write), plus Click's annotations.
//!
//! Buffers come from a [`PacketPool`], one per router (so one per core): a packet
//! made through the pool gives its buffer back when it is dropped, so the hot path
//! of a running router never calls the allocator. Packets made with
//! [`Packet::from_data`] outside a router are ordinary allocations.
//!
//! Whether a packet may write its buffer in place is the buffer's reference
//! counts' to say, but the header keeps the answer once known (`Header::sole`),
//! so the per-packet path never reads the counts' cache line.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell, RefMut};
use core::fmt;
use core::mem::ManuallyDrop;

/// Headroom new packets get, so encapsulation rarely reallocates.
pub const DEFAULT_HEADROOM: usize = 64;
/// Size of a pooled buffer: a full Ethernet frame plus headroom fits.
pub const POOL_BUFFER_SIZE: usize = 2048;
/// Free buffers a pool keeps at most; beyond that, freed buffers go back to the heap.
const POOL_CAPACITY: usize = 8192;

/// The annotations elements read and write (a subset of Click's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    pub paint: u8,
    /// Nanoseconds of the router clock.
    pub timestamp: u64,
    pub dst_ip: [u8; 4],
    /// Offset of the network header from the start of the data, if set.
    /// Kept on the same bytes by `push`, `pull` and `unpull`.
    pub network_header: Option<usize>,
    pub transport_header: Option<usize>,
    /// Bytes the packet had on the wire beyond those present (a trace's snap
    /// length, Truncate): Click's `EXTRA_LENGTH` annotation.
    pub extra_length: u32,
    /// How the link layer received it (Click's packet type annotation).
    pub packet_type: PacketType,
    /// ICMPError asks the output path's FixIPSrc to set the source address.
    pub fix_ip_src: bool,
    /// The offending byte's offset for an ICMP parameter problem (IPGWOptions).
    pub icmp_param_ptr: u8,
    pub user: [u8; 8],
}

/// How a packet reached this host (Click's `Packet::PacketType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PacketType {
    /// Addressed to this host (and what every generated packet is).
    #[default]
    Host,
    Broadcast,
    Multicast,
    /// Addressed to another host, seen in promiscuous mode.
    OtherHost,
    /// Sent by this host (looped back by a packet socket).
    Outgoing,
}

/// Free packet headers and standard-size buffers, for one router (one core).
///
/// A packet made from the pool keeps a link to it, and so do the free headers the
/// pool holds: a packet is made and given back without touching a reference
/// count. The links form a cycle the pool's `Drop` breaks: dropping the pool
/// frees what it holds, and packets still alive then are freed normally.
#[derive(Default)]
pub struct PacketPool(PoolLink);

/// A packet's (or free header's) link to the pool it came from.
type PoolLink = Rc<RefCell<FreeLists>>;

// The boxes are the point: a packet is a pointer to its header, and recycling
// the allocation is what keeps the allocator off the hot path.
#[allow(clippy::vec_box)]
#[derive(Default)]
struct FreeLists {
    /// Packet headers linked to this pool, still holding their unshared buffer of
    /// `POOL_BUFFER_SIZE` bytes: a new packet is one pop.
    ready: Vec<Box<Header>>,
    /// Packet headers linked to this pool without a buffer (their packet shared
    /// its buffer).
    headers: Vec<Box<Header>>,
    /// Unshared buffers of `POOL_BUFFER_SIZE` bytes without a header.
    buffers: Vec<Rc<[u8]>>,
    /// The empty buffer free headers hold (a packet always has a buffer).
    empty: Option<Rc<[u8]>>,
    /// The pool was dropped: packets given back now are freed.
    closed: bool,
}

impl FreeLists {
    fn empty_buffer(&mut self) -> Rc<[u8]> {
        self.empty.get_or_insert_with(|| zeroed(0)).clone()
    }

    /// Keep `header` (linked to this pool) for reuse; gives it back if there is no
    /// room, for the caller to free once the lists are no longer borrowed (freeing
    /// a header may free the lists themselves).
    #[inline(always)]
    fn keep(&mut self, mut header: Box<Header>) -> Option<Box<Header>> {
        if !self.reusable(&mut header) {
            // A closed pool's `keep_header` hands the header back too.
            return self.keep_header(header);
        }
        if self.ready.len() < POOL_CAPACITY {
            self.ready.push(header);
            return None;
        }
        Some(header)
    }

    /// Whether `header` (of this pool) can go on the ready list with its buffer:
    /// the pool is open and the buffer a standard one nobody else holds.
    #[inline(always)]
    fn reusable(&self, header: &mut Box<Header>) -> bool {
        !self.closed && Self::buffer_reusable(header)
    }

    /// Whether `header`'s buffer is a standard one nobody else holds (the half
    /// of [`FreeLists::reusable`] that does not depend on the pool's state, for
    /// a loop that has checked that once).
    #[inline(always)]
    fn buffer_reusable(header: &mut Box<Header>) -> bool {
        header.buf.len() == POOL_BUFFER_SIZE && header.buf_unique_mut().is_some()
    }

    /// Keep `header` (of this pool, its buffer not reusable) without its buffer;
    /// gives it back if there is no room, as [`FreeLists::keep`] does.
    #[inline]
    fn keep_header(&mut self, mut header: Box<Header>) -> Option<Box<Header>> {
        if self.closed {
            return Some(header);
        }
        // Dropping the buffer here only lowers a count or frees plain bytes.
        header.buf = self.empty_buffer();
        header.sole.set(false);
        if self.headers.len() < POOL_CAPACITY {
            self.headers.push(header);
            return None;
        }
        Some(header)
    }
}

impl Drop for PacketPool {
    fn drop(&mut self) {
        let (ready, headers) = {
            let mut f = self.0.borrow_mut();
            f.closed = true;
            f.buffers.clear();
            (core::mem::take(&mut f.ready), core::mem::take(&mut f.headers))
        };
        // Outside the borrow: these hold links to the lists.
        drop(ready);
        drop(headers);
    }
}

impl PacketPool {
    pub fn new() -> PacketPool {
        PacketPool::default()
    }

    /// A packet holding a copy of `data` with default headroom, its buffer from the pool.
    #[inline]
    pub fn packet(&self, data: &[u8]) -> Packet {
        if DEFAULT_HEADROOM + data.len() <= POOL_BUFFER_SIZE {
            let ready = self.0.borrow_mut().ready.pop();
            if let Some(h) = ready {
                return Self::fill(h, data, Annotations::default());
            }
        }
        let mut p = self.make(DEFAULT_HEADROOM, data.len());
        if let Some(b) = p.buf_mut() {
            b[DEFAULT_HEADROOM..DEFAULT_HEADROOM + data.len()].copy_from_slice(data);
        }
        p
    }

    /// A maker of many packets in a row that borrows the free lists once for all
    /// of them, not once per packet: what a source uses per burst.
    #[inline]
    pub fn maker(&self) -> PacketMaker<'_> {
        PacketMaker { link: &self.0, lists: self.0.borrow_mut() }
    }

    /// A ready header (with its unshared standard buffer) made into a packet of `data`.
    #[inline]
    fn fill(mut h: Box<Header>, data: &[u8], anno: Annotations) -> Packet {
        h.head = DEFAULT_HEADROOM;
        h.tail = DEFAULT_HEADROOM + data.len();
        h.anno = anno;
        let used = core::mem::replace(&mut h.headroom_used, false);
        // The pool's rule: a ready header's buffer is nobody else's (it was
        // tested on the way in), so the counts need no test here.
        h.sole.set(true);
        // SAFETY: `sole` is true, as just said.
        let b = unsafe { h.buf_sole_mut() };
        if let Some(room) = b.get_mut(..DEFAULT_HEADROOM + data.len()) {
            // Zero headroom: an unpull must never show an earlier packet's bytes.
            let (head, body) = room.split_at_mut(DEFAULT_HEADROOM);
            if used {
                head.fill(0);
            }
            copy_frame(body, data);
        }
        Packet(ManuallyDrop::new(h))
    }

    /// Give back every packet of `batch` (leaving it empty): one borrow of the free
    /// lists for the lot, where dropping them one by one takes one each.
    pub fn recycle(&self, batch: &mut Vec<Packet>) {
        if batch.len() <= 1 {
            // Behind a demux most batches are one packet: dropping it is the
            // short way back to the pool.
            drop(batch.pop());
            return;
        }
        let mut spill = Vec::new();
        {
            let mut f = self.0.borrow_mut();
            let lists = &mut *f;
            // The common case, a whole batch of this pool's packets with room for
            // all of them: written straight into the ready list's spare room, so
            // the loop checks neither capacity nor the pool's state per packet.
            let room = if lists.closed { 0 } else { POOL_CAPACITY.saturating_sub(lists.ready.len()) };
            if batch.len() <= room {
                // Shared buffers, whose headers are kept without them.
                let mut unbuffered = Vec::new();
                lists.ready.reserve(batch.len());
                let n = batch.len();
                let from = batch.as_ptr();
                let to = lists.ready.spare_capacity_mut().as_mut_ptr();
                let mut kept = 0;
                // SAFETY: with `batch`'s length at 0 each of its `n` packets is read
                // exactly once and then owned here (as its header); `to` has room
                // for `n` (reserved above) and gets at most `n`.
                unsafe {
                    batch.set_len(0);
                    for i in 0..n {
                        let mut p = ManuallyDrop::new(core::ptr::read(from.add(i)));
                        let mut header = ManuallyDrop::take(&mut p.0);
                        let mine = header.pool.as_ref().is_some_and(|l| Rc::ptr_eq(l, &self.0));
                        if mine && FreeLists::buffer_reusable(&mut header) {
                            (*to.add(kept)).write(header);
                            kept += 1;
                        } else if mine {
                            unbuffered.push(header);
                        } else {
                            spill.push(header);
                        }
                    }
                }
                let len = lists.ready.len();
                // SAFETY: the first `kept` spare slots were written just above.
                unsafe { lists.ready.set_len(len + kept) };
                // `keep` looks again: once one of two clones in the batch let go
                // of its buffer, the other's buffer is reusable.
                for header in unbuffered {
                    if let Some(h) = lists.keep(header) {
                        spill.push(h);
                    }
                }
            } else {
                // Popped, not drained: a pop is cheaper than setting up and
                // tearing down a drain.
                while let Some(p) = batch.pop() {
                    let mut p = ManuallyDrop::new(p);
                    // SAFETY: `p` is never used or dropped again.
                    let header = unsafe { ManuallyDrop::take(&mut p.0) };
                    let mine = header.pool.as_ref().is_some_and(|l| Rc::ptr_eq(l, &self.0));
                    if mine {
                        if let Some(h) = lists.keep(header) {
                            spill.push(h);
                        }
                    } else {
                        spill.push(header);
                    }
                }
            }
        }
        // Outside the borrow: headers of other pools go back to theirs, and those
        // with no room are freed.
        for h in spill {
            drop(Packet(ManuallyDrop::new(h)));
        }
    }

    /// A packet of `len` bytes after `headroom` bytes of headroom; the headroom is
    /// zero, the data bytes are for the caller to fill (they may hold an earlier
    /// packet's bytes: use [`PacketPool::zeroed`] to expose them as they are).
    #[inline]
    fn make(&self, headroom: usize, len: usize) -> Packet {
        let buf = pooled_buffer(&self.0, headroom + len, headroom);
        wrap(&self.0, buf, headroom, len, Annotations::default(), false)
    }

    /// A packet of `len` zero bytes after `headroom` bytes of headroom.
    pub fn zeroed(&self, headroom: usize, len: usize) -> Packet {
        let mut p = self.make(headroom, len);
        if let Some(b) = p.buf_mut() {
            b[headroom..headroom + len].fill(0);
        }
        p
    }

    /// Free buffers waiting in the pool.
    pub fn free_buffers(&self) -> usize {
        let f = self.0.borrow();
        f.buffers.len() + f.ready.len()
    }
}

/// Makes packets from a pool while holding its free lists (see
/// [`PacketPool::maker`]). A packet dropped while it is out is freed, not kept.
pub struct PacketMaker<'a> {
    link: &'a PoolLink,
    lists: RefMut<'a, FreeLists>,
}

/// `dst.copy_from_slice(src)`, without a call into the C library for a minimum
/// sized frame: 32 to 64 bytes go as two 32-byte copies that overlap in the
/// middle, a few vector moves where `memcpy`'s dispatch costs more than the copy.
#[inline(always)]
fn copy_frame(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n == dst.len() && (32..=64).contains(&n) {
        dst[..32].copy_from_slice(&src[..32]);
        dst[n - 32..].copy_from_slice(&src[n - 32..]);
    } else {
        dst.copy_from_slice(src);
    }
}

impl PacketMaker<'_> {
    /// A packet holding a copy of `data` with default headroom and annotations `anno`.
    #[inline]
    pub fn packet(&mut self, data: &[u8], anno: Annotations) -> Packet {
        let fits = DEFAULT_HEADROOM + data.len() <= POOL_BUFFER_SIZE;
        match self.lists.ready.pop() {
            Some(h) if fits => PacketPool::fill(h, data, anno),
            ready => {
                if let Some(h) = ready {
                    self.lists.ready.push(h);
                }
                // Made outside the free lists (they are borrowed); it joins them
                // when dropped.
                let mut buf = zeroed((DEFAULT_HEADROOM + data.len()).max(POOL_BUFFER_SIZE));
                if let Some(b) = Rc::get_mut(&mut buf) {
                    b[DEFAULT_HEADROOM..DEFAULT_HEADROOM + data.len()].copy_from_slice(data);
                }
                let h = Header {
                    buf,
                    pool: Some(self.link.clone()),
                    head: DEFAULT_HEADROOM,
                    tail: DEFAULT_HEADROOM + data.len(),
                    anno,
                    headroom_used: false,
                    lane: 0,
                    sole: Cell::new(false),
                };
                Packet(ManuallyDrop::new(Box::new(h)))
            }
        }
    }
}

/// A packet linked to the pool `link` around `buf`. `headroom_used`: whether
/// `buf`'s first `DEFAULT_HEADROOM` bytes may be nonzero (data starting inside
/// them, at `head`, counts too).
#[inline]
fn wrap(link: &PoolLink, buf: Rc<[u8]>, head: usize, len: usize, anno: Annotations, headroom_used: bool) -> Packet {
    let headroom_used = headroom_used || head < DEFAULT_HEADROOM;
    let free = link.borrow_mut().headers.pop();
    let boxed = match free {
        Some(mut b) => {
            b.buf = buf;
            b.head = head;
            b.tail = head + len;
            b.anno = anno;
            b.headroom_used = headroom_used;
            b.sole.set(false);
            b
        }
        None => Box::new(Header {
            buf,
            pool: Some(link.clone()),
            head,
            tail: head + len,
            anno,
            headroom_used,
            lane: 0,
            sole: Cell::new(false),
        }),
    };
    Packet(ManuallyDrop::new(boxed))
}

/// A buffer of at least `size` bytes whose first `zero` bytes are zero.
#[inline]
fn pooled_buffer(link: &PoolLink, size: usize, zero: usize) -> Rc<[u8]> {
    if size <= POOL_BUFFER_SIZE {
        let mut free = link.borrow_mut();
        let found = match free.buffers.pop() {
            Some(b) => Some(b),
            None => match free.ready.pop() {
                Some(mut h) => {
                    let b = core::mem::replace(&mut h.buf, free.empty_buffer());
                    h.sole.set(false);
                    free.headers.push(h);
                    Some(b)
                }
                None => None,
            },
        };
        if let Some(mut b) = found
            && let Some(bytes) = Rc::get_mut(&mut b)
        {
            bytes[..zero].fill(0);
            return b;
        }
    }
    zeroed(size.max(POOL_BUFFER_SIZE))
}

/// Give back a standard buffer a packet no longer uses, if nobody else does.
#[inline]
fn give_back_buffer(link: &PoolLink, mut buf: Rc<[u8]>) {
    if buf.len() == POOL_BUFFER_SIZE && Rc::get_mut(&mut buf).is_some() {
        let mut free = link.borrow_mut();
        if !free.closed && free.buffers.len() < POOL_CAPACITY {
            free.buffers.push(buf);
        }
    }
}

fn zeroed(size: usize) -> Rc<[u8]> {
    Rc::from(alloc::vec![0u8; size])
}

/// What a packet is: its window on a (possibly shared) buffer, and annotations.
/// Reached through [`Packet`]'s `Deref`, so `p.anno` works as a field.
pub struct Header {
    /// The bytes; `head <= tail <= buf.len()` always.
    buf: Rc<[u8]>,
    pool: Option<PoolLink>,
    head: usize,
    tail: usize,
    pub anno: Annotations,
    /// Whether the first `DEFAULT_HEADROOM` bytes of `buf` may hold something
    /// other than zeros: the data began inside them at some point. False for
    /// nearly every packet, which saves the pool zeroing them on each reuse.
    headroom_used: bool,
    /// Which lane of a fused group the packet is bound for (see
    /// [`crate::lanes`]): set by the router as it hands packets to a group,
    /// meaningless elsewhere. It lives in the header, not beside the packet in
    /// the batch, so a group's batch is an ordinary batch.
    lane: u32,
    /// Whether this packet is known to be the only holder of `buf` (no other
    /// `Rc` or `Weak` of it exists). Set where that was tested, and by the pool
    /// for a header it hands out (its ready headers' buffers are nobody else's);
    /// cleared by `clone`, the one way a buffer comes to be shared, and wherever
    /// `buf` is replaced by one not known to be unique. False is always safe.
    /// Why: testing the buffer's counts reads a cache line of the buffer's that
    /// nothing else on a packet's path reads, in the source filling it, in each
    /// element writing it and in the pool taking it back; a bit in the header,
    /// whose line every step reads anyway, spares those reads. A `Cell`,
    /// because `clone` has only `&self`.
    sole: Cell<bool>,
}

impl Header {
    /// The whole buffer, writable, without testing its counts.
    ///
    /// # Safety
    /// `sole` is true: no other `Rc` or `Weak` of the buffer exists.
    #[inline(always)]
    unsafe fn buf_sole_mut(&mut self) -> &mut [u8] {
        debug_assert!(Rc::strong_count(&self.buf) == 1 && Rc::weak_count(&self.buf) == 0);
        // SAFETY: what `Rc::get_mut_unchecked` (not stable) does: `as_ptr`
        // points at the value inside the allocation, derived from the `Rc`'s
        // own mutable pointer, and with no other holder (the caller's promise)
        // and `&mut self` nothing else can reach the bytes while this lives.
        unsafe { &mut *(Rc::as_ptr(&self.buf) as *mut [u8]) }
    }

    /// The whole buffer, writable, if this packet is its only holder.
    #[inline(always)]
    fn buf_unique_mut(&mut self) -> Option<&mut [u8]> {
        if !self.sole.get() {
            Rc::get_mut(&mut self.buf)?;
            self.sole.set(true);
        }
        // SAFETY: `sole` is true (tested just above, or kept since).
        Some(unsafe { self.buf_sole_mut() })
    }
}

/// A packet: a pointer to its [`Header`], so handing one along moves 8 bytes.
/// Clones share the buffer until one of them writes (copy-on-write).
pub struct Packet(ManuallyDrop<Box<Header>>);

impl core::ops::Deref for Packet {
    type Target = Header;
    #[inline]
    fn deref(&self) -> &Header {
        &self.0
    }
}

impl core::ops::DerefMut for Packet {
    #[inline]
    fn deref_mut(&mut self) -> &mut Header {
        &mut self.0
    }
}

impl Drop for Packet {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: the box is never used again after this point.
        let mut header = unsafe { ManuallyDrop::take(&mut self.0) };
        // The common case, kept small so that it stays cheap where packets are
        // dropped one at a time (behind a demux, every packet): an unshared
        // standard buffer back to its pool's ready list, which has room. One
        // call, not inlined: inlined into every caller it made the consolidated
        // router's re-entrant delivery 10% slower; out of line, the demux bench
        // at 100 tenants takes 13 instructions a packet fewer than before.
        if let Some(link) = header.pool.as_ref().map(Rc::as_ptr) {
            // SAFETY: as in `drop_slow`.
            let lists = unsafe { &*link };
            if let Ok(mut lists) = lists.try_borrow_mut()
                && lists.ready.len() < lists.ready.capacity().min(POOL_CAPACITY)
                && lists.reusable(&mut header)
            {
                lists.ready.push(header);
                return;
            }
        }
        Packet::drop_slow(header);
    }
}

impl Packet {
    /// The rest of `drop`: a header to keep without its buffer, a pool that is
    /// busy, closed or full, or a packet from no pool.
    #[cold]
    #[inline(never)]
    fn drop_slow(header: Box<Header>) {
        let Some(link) = header.pool.as_ref().map(Rc::as_ptr) else { return };
        // SAFETY: the lists live while a header linked to them does, and this one
        // is either kept in them (so it lives on) or handed back by `keep` and
        // freed below, after the borrow has ended. Not cloning the link spares
        // every dropped packet a count up and down.
        let lists = unsafe { &*link };
        // Busy lists (a `PacketMaker` is out) cannot take it: it is freed.
        let spill = match lists.try_borrow_mut() {
            Ok(mut lists) => lists.keep(header),
            Err(_) => Some(header),
        };
        // Freed outside the borrow.
        drop(spill);
    }
}

impl Clone for Packet {
    /// A new packet sharing this one's data (Click's `clone`): cheap, and each copy
    /// gets its own buffer only when it first writes.
    fn clone(&self) -> Packet {
        // From here two packets hold the buffer.
        self.0.sole.set(false);
        let buf = self.buf.clone();
        match &self.pool {
            Some(link) => wrap(link, buf, self.head, self.len(), self.anno, self.headroom_used),
            None => Packet(ManuallyDrop::new(Box::new(Header {
                buf,
                pool: None,
                head: self.head,
                tail: self.tail,
                anno: self.anno,
                headroom_used: self.headroom_used,
                lane: 0,
                sole: Cell::new(false),
            }))),
        }
    }
}

impl PartialEq for Packet {
    fn eq(&self, other: &Packet) -> bool {
        self.data() == other.data() && self.anno == other.anno
    }
}

impl Eq for Packet {}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet").field("data", &self.data()).field("anno", &self.anno).finish()
    }
}

impl Packet {
    /// A packet holding a copy of `data`, with default headroom (not pooled).
    pub fn from_data(data: &[u8]) -> Packet {
        let mut buf = alloc::vec![0u8; DEFAULT_HEADROOM + data.len()];
        buf[DEFAULT_HEADROOM..].copy_from_slice(data);
        Packet(ManuallyDrop::new(Box::new(Header {
            buf: Rc::from(buf),
            pool: None,
            head: DEFAULT_HEADROOM,
            tail: DEFAULT_HEADROOM + data.len(),
            anno: Annotations::default(),
            headroom_used: false,
            lane: 0,
            sole: Cell::new(false),
        })))
    }

    /// The whole buffer, writable, if this packet is its only user.
    #[inline]
    fn buf_mut(&mut self) -> Option<&mut [u8]> {
        self.0.buf_unique_mut()
    }

    #[inline]
    fn buf(&self) -> &[u8] {
        &self.0.buf
    }

    #[inline]
    pub fn data(&self) -> &[u8] {
        debug_assert!(self.head <= self.tail && self.tail <= self.buf().len());
        // SAFETY: `head <= tail <= buf.len()` is the header's invariant: every
        // method that moves `head` or `tail` or replaces `buf` keeps it. Skipping
        // the two checks matters: every element on a packet's path reads its data.
        unsafe { self.buf().get_unchecked(self.head..self.tail) }
    }

    /// The data, writable: copies it first if another packet shares the buffer.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // The same test as the one below, so the compiler makes one of the two.
        if self.0.buf_unique_mut().is_none() {
            self.copy_out();
        }
        let (h, t) = (self.head, self.tail);
        match self.0.buf_unique_mut() {
            Some(b) => {
                debug_assert!(h <= t && t <= b.len());
                // SAFETY: the header's invariant, as in `data`.
                unsafe { b.get_unchecked_mut(h..t) }
            }
            None => &mut [],
        }
    }

    /// Whether another packet shares this one's buffer.
    #[inline]
    pub fn shared(&self) -> bool {
        !self.0.sole.get() && Rc::strong_count(&self.0.buf) > 1
    }

    /// Make the buffer this packet's own, copying it if it is shared (Click's `uniqueify`).
    #[inline]
    pub fn uniqueify(&mut self) {
        if self.shared() {
            self.copy_out();
        }
    }

    /// The rare half of `uniqueify`, kept out of the per-packet path.
    #[cold]
    #[inline(never)]
    fn copy_out(&mut self) {
        self.reallocate(self.head, self.tailroom());
    }

    /// Move the data into a fresh buffer with `headroom` and `tailroom` around it.
    /// The old headroom's bytes come along (as much as fits), so bytes an earlier
    /// `pull` removed can still be `unpull`ed, as with Click's `uniqueify`.
    fn reallocate(&mut self, headroom: usize, tailroom: usize) {
        let len = self.len();
        let size = headroom + len + tailroom;
        let from = self.head.saturating_sub(headroom);
        let to = headroom.saturating_sub(self.head);
        let mut buf = match &self.pool {
            Some(link) => pooled_buffer(link, size, to),
            None => zeroed(size),
        };
        if let Some(b) = Rc::get_mut(&mut buf) {
            let old = &self.buf()[from..self.tail];
            b[to..to + old.len()].copy_from_slice(old);
            // Tailroom is exposed by `put`, which zeroes it; no need here.
        }
        let old = core::mem::replace(&mut self.0.buf, buf);
        // Not known yet: the next write tests it (`buf_unique_mut`).
        self.0.sole.set(false);
        if let Some(link) = &self.0.pool {
            give_back_buffer(link, old);
        }
        self.0.head = headroom;
        self.0.tail = headroom + len;
        // The old bytes may have landed in the new buffer's first bytes.
        self.0.headroom_used = true;
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.tail - self.head
    }

    /// The lane of a fused group this packet is bound for: what
    /// [`crate::lanes::LaneElement::push_lanes`] reads to find its element.
    #[inline]
    pub fn lane(&self) -> usize {
        self.0.lane as usize
    }

    #[inline]
    pub(crate) fn set_lane(&mut self, lane: u32) {
        self.0.lane = lane;
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn headroom(&self) -> usize {
        self.head
    }

    #[inline]
    pub fn tailroom(&self) -> usize {
        self.buf().len() - self.tail
    }

    /// Remove `n` bytes from the front (at most the whole packet). Header
    /// annotations keep pointing at the same bytes (and are cleared if those bytes
    /// are gone).
    #[inline]
    pub fn pull(&mut self, n: usize) {
        let n = n.min(self.len());
        self.0.head += n;
        self.shift_headers(n, true);
    }

    /// Keep the header annotations on the same bytes after the data's start moved
    /// by `n` (forward when `pulled`, backward otherwise).
    #[inline]
    fn shift_headers(&mut self, n: usize, pulled: bool) {
        let a = &mut self.0.anno;
        // Two separate tests: packets without header annotations (as they come
        // off the wire) pay two compares and nothing else.
        let shift = |h: &mut Option<usize>| {
            if let Some(o) = *h {
                *h = if pulled { o.checked_sub(n) } else { o.checked_add(n) };
            }
        };
        shift(&mut a.network_header);
        shift(&mut a.transport_header);
    }

    /// Give back `n` bytes in front of the data: the bytes a `pull` removed when they
    /// are still in the headroom, else zeros.
    #[inline]
    pub fn unpull(&mut self, n: usize) {
        if n <= self.head {
            self.0.head -= n;
            self.0.headroom_used |= self.0.head < DEFAULT_HEADROOM;
            self.shift_headers(n, false);
        } else {
            self.push(n);
        }
    }

    /// Add `n` zero bytes at the front, growing the buffer when headroom runs out.
    pub fn push(&mut self, n: usize) {
        if n > self.head {
            self.reallocate(n + DEFAULT_HEADROOM, self.tailroom());
        } else {
            self.uniqueify();
        }
        self.0.head -= n;
        self.0.headroom_used |= self.0.head < DEFAULT_HEADROOM;
        let h = self.head;
        if let Some(b) = self.buf_mut() {
            b[h..h + n].fill(0);
        }
        self.shift_headers(n, false);
    }

    /// Add `n` zero bytes at the end, growing the buffer when tailroom runs out.
    pub fn put(&mut self, n: usize) {
        if n > self.tailroom() {
            self.reallocate(self.head, n + DEFAULT_HEADROOM);
        } else {
            self.uniqueify();
        }
        let t = self.tail;
        if let Some(b) = self.buf_mut() {
            b[t..t + n].fill(0);
        }
        self.0.tail += n;
    }

    /// Remove `n` bytes from the end (at most the whole packet).
    #[inline]
    pub fn take(&mut self, n: usize) {
        self.0.tail -= n.min(self.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_put_take() {
        let mut p = Packet::from_data(b"abcd");
        p.pull(1);
        assert_eq!(p.data(), b"bcd");
        p.push(2);
        assert_eq!(p.data(), b"\0\0bcd");
        p.push(1000);
        assert_eq!(p.len(), 1005);
        p.take(1003);
        assert_eq!(p.data(), b"\0\0");
        p.put(1);
        assert_eq!(p.len(), 3);
        p.pull(99);
        p.take(99);
        assert!(p.is_empty());
    }

    #[test]
    fn header_annotations_follow_the_bytes() {
        let mut p = Packet::from_data(&[0u8; 40]);
        p.anno.network_header = Some(14);
        p.anno.transport_header = Some(34);
        p.pull(14);
        assert_eq!((p.anno.network_header, p.anno.transport_header), (Some(0), Some(20)));
        p.push(4);
        assert_eq!(p.anno.network_header, Some(4));
        p.pull(30);
        assert_eq!((p.anno.network_header, p.anno.transport_header), (None, None));
    }

    #[test]
    fn clones_share_until_written() {
        let pool = PacketPool::new();
        let a = pool.packet(b"hello");
        let mut b = a.clone();
        assert!(a.shared() && b.shared());
        b.data_mut()[0] = b'j';
        assert_eq!(a.data(), b"hello");
        assert_eq!(b.data(), b"jello");
        assert!(!a.shared() && !b.shared());
        // A pull on a clone moves only its own window.
        let mut c = a.clone();
        c.pull(2);
        assert_eq!(c.data(), b"llo");
        assert_eq!(a.data(), b"hello");
        c.unpull(2);
        assert_eq!(c.data(), b"hello");
        // Writing a clone keeps the bytes a pull removed, for a later unpull.
        c.pull(2);
        c.data_mut()[0] = b'L';
        c.unpull(2);
        assert_eq!(c.data(), b"heLlo");
    }

    /// A packet known to hold its buffer alone (`sole`: made from a ready
    /// header, or written) loses that knowledge when cloned: writes copy, and
    /// the buffer goes back to the pool only when the last holder lets go, by
    /// drop or by recycling, never while a clone still reads it.
    #[test]
    fn a_packet_known_to_hold_its_buffer_alone_shares_it_once_cloned() {
        let pool = PacketPool::new();
        drop(pool.packet(b"warm"));
        // From a ready header (the pool's rule), then written (tested).
        for written in [false, true] {
            let mut a = pool.maker().packet(b"hello", Annotations::default());
            if written {
                a.data_mut()[0] = b'H';
            }
            assert!(a.sole.get() && !a.shared());
            let first = a.data()[0];
            let mut b = a.clone();
            assert!(a.shared() && b.shared());
            a.data_mut()[1] = b'E';
            assert_eq!(b.data()[1], b'e', "a write to the original reached its clone");
            b.data_mut()[2] = b'L';
            assert_eq!(a.data()[2], b'l', "a write to the clone reached the original");
            // A clone of a clone, then the original dropped and recycled: the
            // buffer b and c share stays theirs.
            let c = b.clone();
            drop(a);
            let mut batch = alloc::vec![b];
            pool.recycle(&mut batch);
            let mut reused = Vec::new();
            {
                let mut maker = pool.maker();
                for _ in 0..4 {
                    reused.push(maker.packet(&[0xEE; 64], Annotations::default()));
                }
            }
            reused.push(pool.packet(&[0xDD; 64]));
            assert_eq!(c.data(), [first, b'e', b'L', b'l', b'o'], "written {written}");
        }
    }

    #[test]
    fn pool_recycles_buffers_and_hides_old_bytes() {
        let pool = PacketPool::new();
        let p = pool.packet(&[0xAB; 100]);
        drop(p);
        assert_eq!(pool.free_buffers(), 1);
        let mut q = pool.packet(b"xy");
        assert_eq!(pool.free_buffers(), 0);
        // Bytes exposed by push and put are zero, never the old packet's.
        q.push(8);
        q.put(8);
        assert_eq!(q.data(), b"\0\0\0\0\0\0\0\0xy\0\0\0\0\0\0\0\0");
        // A shared buffer goes back only when its last user drops it.
        let r = q.clone();
        drop(q);
        assert_eq!(pool.free_buffers(), 0);
        drop(r);
        assert_eq!(pool.free_buffers(), 1);
    }

    /// A reused buffer never shows an earlier packet's headroom bytes, whichever
    /// way that packet wrote into its headroom and however the buffer comes back
    /// (through a packet maker, a plain `packet`, alone or after a clone).
    #[test]
    fn reused_buffers_show_zero_headroom() {
        let unpulled_all = |mut p: Packet| {
            p.unpull(p.headroom());
            assert!(p.data()[..DEFAULT_HEADROOM].iter().all(|&b| b == 0), "old bytes in the headroom");
        };
        let writers: [&dyn Fn(&mut Packet); 4] = [
            // A header prepended in place, then written.
            &|p| {
                p.push(20);
                p.data_mut().fill(0xEE);
            },
            // Bytes a pull removed, given back and written.
            &|p| {
                p.unpull(DEFAULT_HEADROOM);
                p.data_mut().fill(0xDD);
            },
            // A push past the headroom: a new buffer, old bytes copied in front.
            &|p| {
                p.push(DEFAULT_HEADROOM + 10);
                p.data_mut().fill(0xCC);
            },
            // Written through a clone, after the original went away.
            &|p| {
                let mut c = p.clone();
                c.unpull(8);
                c.data_mut().fill(0xBB);
                *p = c;
            },
        ];
        for (k, write) in writers.iter().enumerate() {
            let pool = PacketPool::new();
            let mut p = pool.packet(&[0xAB; 60]);
            write(&mut p);
            drop(p);
            // Through the maker, then through `packet`.
            let q = pool.maker().packet(b"new", Annotations::default());
            assert_eq!(q.data(), b"new", "writer {k}");
            unpulled_all(q);
            write(&mut pool.packet(&[0xAB; 60]));
            unpulled_all(pool.packet(b"new"));
        }
        // A packet made with less headroom than the default writes data there.
        let pool = PacketPool::new();
        pool.zeroed(0, 60).data_mut().fill(0xAA);
        unpulled_all(pool.maker().packet(b"new", Annotations::default()));
    }

    #[test]
    fn large_packets_bypass_the_pool() {
        let pool = PacketPool::new();
        let big = pool.packet(&[1u8; 4000]);
        assert_eq!(big.len(), 4000);
        drop(big);
        assert_eq!(pool.free_buffers(), 0);
    }

    #[test]
    fn frames_of_every_small_length_are_copied_whole() {
        let src: Vec<u8> = (0..80u8).map(|b| b.wrapping_mul(37).wrapping_add(1)).collect();
        for n in 0..=80 {
            let mut dst = alloc::vec![0u8; n];
            copy_frame(&mut dst, &src[..n]);
            assert_eq!(dst, src[..n], "length {n}");
        }
    }

    #[test]
    fn maker_and_recycle_reuse_buffers_in_bulk() {
        let pool = PacketPool::new();
        let mut batch = Vec::new();
        {
            let mut maker = pool.maker();
            for i in 0..4u8 {
                batch.push(maker.packet(&[i; 60], Annotations { paint: i, ..Annotations::default() }));
            }
            // A packet dropped while the maker holds the lists is freed, not kept.
            drop(maker.packet(b"x", Annotations::default()));
        }
        assert_eq!(batch[3].data(), &[3u8; 60][..]);
        assert_eq!(batch[3].anno.paint, 3);
        assert_eq!(pool.free_buffers(), 0);
        pool.recycle(&mut batch);
        assert!(batch.is_empty());
        assert_eq!(pool.free_buffers(), 4);
        // A packet of another pool goes back to its own.
        let other = PacketPool::new();
        let mut mixed = alloc::vec![other.packet(b"o"), pool.packet(b"p")];
        pool.recycle(&mut mixed);
        assert_eq!((pool.free_buffers(), other.free_buffers()), (4, 1));
    }

    #[test]
    fn recycling_clones_together_keeps_their_buffer() {
        let pool = PacketPool::new();
        let a = pool.packet(b"tee");
        let b = a.clone();
        let mut batch = alloc::vec![a, b, pool.packet(b"own")];
        pool.recycle(&mut batch);
        // Two buffers: the clones' shared one (once both let go) and the third's.
        assert_eq!(pool.free_buffers(), 2);
        let mut c = pool.packet(b"x");
        c.push(8);
        assert_eq!(c.data(), b"\0\0\0\0\0\0\0\0x");
    }

    #[test]
    fn packets_outlive_their_pool() {
        let pool = PacketPool::new();
        let p = pool.packet(b"alive");
        let q = p.clone();
        drop(pool);
        assert_eq!(q.data(), b"alive");
        drop(p);
        drop(q);
    }
}
