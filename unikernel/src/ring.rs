//! Xen shared request/response rings (io/ring.h), both ends.
//!
//! A ring lives in one shared page: a 64-byte header (`req_prod`, `req_event`,
//! `rsp_prod`, `rsp_event`, padding) followed by a power-of-two number of
//! slots, each the size of the union of the request and response types. All
//! indices are free-running `u32`s that wrap; a slot is `index & (size - 1)`.
//!
//! The other end is not trusted: every index it publishes is checked against
//! what it could legitimately have produced, and entries are copied out of
//! shared memory once (a volatile read) before anyone looks at them, so a peer
//! rewriting a slot after the check cannot change what we act on.
//!
//! Ordering follows ring.h: the producer writes entries, then (write barrier)
//! the producer index; the consumer reads the producer index, then (read
//! barrier) the entries. The notification hold-off test needs a full barrier
//! between publishing an index and reading the peer's event index.

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering, fence};

const REQ_PROD: usize = 0;
const REQ_EVENT: usize = 4;
const RSP_PROD: usize = 8;
const RSP_EVENT: usize = 12;
/// Entries start after the 16 bytes of indices, 4 of private flags and 44 of padding.
pub const ENTRIES_OFFSET: usize = 64;

/// The size of one slot: the C union of request and response, i.e. the larger
/// size rounded up to the larger alignment.
pub const fn slot_size<Req, Rsp>() -> usize {
    let size = max(core::mem::size_of::<Req>(), core::mem::size_of::<Rsp>());
    let align = max(core::mem::align_of::<Req>(), core::mem::align_of::<Rsp>());
    size.div_ceil(align) * align
}

/// How many slots fit in `area` bytes (usually a page), rounded down to a power
/// of two (`__CONST_RING_SIZE`).
pub const fn ring_size(area: usize, slot: usize) -> u32 {
    if area <= ENTRIES_OFFSET || slot == 0 {
        return 0;
    }
    let fit = (area - ENTRIES_OFFSET) / slot;
    if fit == 0 {
        return 0;
    }
    let pow2 = 1usize << (usize::BITS - 1 - fit.leading_zeros());
    if pow2 > u32::MAX as usize / 2 { 1 << 30 } else { pow2 as u32 }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// A violation of the ring protocol by the other end. The ring is unusable
/// afterwards: the driver should stop using the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The backend published more responses than there are requests in flight.
    ResponseOverflow { rsp_prod: u32, rsp_cons: u32 },
    /// The frontend published more requests than free slots.
    RequestOverflow { req_prod: u32, req_cons: u32 },
}

impl core::fmt::Display for RingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            RingError::ResponseOverflow { rsp_prod, rsp_cons } => {
                write!(f, "peer published impossible rsp_prod {rsp_prod} (rsp_cons {rsp_cons})")
            }
            RingError::RequestOverflow { req_prod, req_cons } => {
                write!(f, "peer published impossible req_prod {req_prod} (req_cons {req_cons})")
            }
        }
    }
}

/// The shared page, seen as indices plus slots.
struct SharedRing {
    base: NonNull<u8>,
    size: u32,
    slot: usize,
}

impl SharedRing {
    /// # Safety
    /// `base` must point to `area` bytes, aligned to 64, that stay valid (and are
    /// only accessed through ring code or by the peer) for the ring's lifetime.
    unsafe fn new(base: NonNull<u8>, area: usize, slot: usize) -> Self {
        let size = ring_size(area, slot);
        assert!(size > 0, "ring area of {area} bytes holds no slot of {slot} bytes");
        assert!((base.as_ptr() as usize).is_multiple_of(64), "ring page must be aligned");
        SharedRing { base, size, slot }
    }

    fn index(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: offsets are within the 64-byte header of a live, aligned area
        // (constructor contract); AtomicU32 has u32's layout.
        unsafe { &*(self.base.as_ptr().add(offset) as *const AtomicU32) }
    }

    fn slot_ptr(&self, idx: u32) -> *mut u8 {
        let i = (idx & (self.size - 1)) as usize;
        // SAFETY: i < size, and size slots fit after the header by construction.
        unsafe { self.base.as_ptr().add(ENTRIES_OFFSET + i * self.slot) }
    }

    fn read_slot<T: Copy>(&self, idx: u32) -> T {
        // SAFETY: the slot is in bounds and aligned for T (slot size is a multiple
        // of T's alignment, the area is 64-aligned). Volatile: one copy, taken
        // now, of memory the peer may be writing.
        unsafe { core::ptr::read_volatile(self.slot_ptr(idx) as *const T) }
    }

    fn write_slot<T: Copy>(&self, idx: u32, value: T) {
        // SAFETY: as in read_slot.
        unsafe { core::ptr::write_volatile(self.slot_ptr(idx) as *mut T, value) }
    }

    /// SHARED_RING_INIT: producers at 0, events at 1 (notify on the first entry).
    fn init(&self) {
        self.index(REQ_PROD).store(0, Ordering::Relaxed);
        self.index(RSP_PROD).store(0, Ordering::Relaxed);
        self.index(REQ_EVENT).store(1, Ordering::Relaxed);
        self.index(RSP_EVENT).store(1, Ordering::Relaxed);
        for offset in (16..ENTRIES_OFFSET).step_by(4) {
            self.index(offset).store(0, Ordering::Relaxed);
        }
        fence(Ordering::Release);
    }
}

/// Publish `new` as our producer index and decide whether the peer wants an
/// event (`RING_PUSH_*_AND_CHECK_NOTIFY`): only if its event index lies in
/// `(old, new]`, i.e. it asked to be woken for one of the entries just added.
fn publish(prod: &AtomicU32, event: &AtomicU32, old: u32, new: u32) -> bool {
    // Entries before index: Release orders the slot writes before the store.
    prod.store(new, Ordering::Release);
    // The peer must see the new index before we read its event index.
    fence(Ordering::SeqCst);
    let event = event.load(Ordering::Relaxed);
    new.wrapping_sub(event) < new.wrapping_sub(old)
}

/// The front end: produces requests, consumes responses.
pub struct FrontRing<Req: Copy, Rsp: Copy> {
    ring: SharedRing,
    req_prod_pvt: u32,
    /// The request producer index we last published; kept privately so that a
    /// peer scribbling on the shared copy cannot confuse our checks.
    req_prod_published: u32,
    rsp_cons: u32,
    _types: PhantomData<fn(Req) -> Rsp>,
}

impl<Req: Copy, Rsp: Copy> FrontRing<Req, Rsp> {
    /// Initialise the shared page and take the front end (`XEN_FRONT_RING_INIT`).
    ///
    /// # Safety
    /// `page` must point to `area` bytes, 64-byte aligned, valid for the ring's
    /// lifetime and shared only with the backend.
    pub unsafe fn new(page: NonNull<u8>, area: usize) -> Self {
        // SAFETY: forwarded contract.
        let ring = unsafe { SharedRing::new(page, area, slot_size::<Req, Rsp>()) };
        ring.init();
        FrontRing { ring, req_prod_pvt: 0, req_prod_published: 0, rsp_cons: 0, _types: PhantomData }
    }

    /// Number of slots.
    pub fn size(&self) -> u32 {
        self.ring.size
    }

    /// Slots free for new requests (`RING_FREE_REQUESTS`).
    pub fn free_requests(&self) -> u32 {
        self.ring.size - self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// Requests queued or published whose responses have not been consumed yet.
    pub fn in_flight(&self) -> u32 {
        self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// Queue a request; the backend sees it after [`Self::publish_requests`].
    /// Gives the request back when the ring is full.
    pub fn push_request(&mut self, req: Req) -> Result<(), Req> {
        if self.free_requests() == 0 {
            return Err(req);
        }
        self.ring.write_slot(self.req_prod_pvt, req);
        self.req_prod_pvt = self.req_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Make queued requests visible; returns whether the backend must be notified.
    pub fn publish_requests(&mut self) -> bool {
        let old = self.req_prod_published;
        let new = self.req_prod_pvt;
        self.req_prod_published = new;
        publish(self.ring.index(REQ_PROD), self.ring.index(REQ_EVENT), old, new)
    }

    /// Responses ready to be consumed, checked against what the backend could
    /// have produced.
    pub fn unconsumed_responses(&self) -> Result<u32, RingError> {
        let rsp_prod = self.ring.index(RSP_PROD).load(Ordering::Acquire);
        let ready = rsp_prod.wrapping_sub(self.rsp_cons);
        if ready > self.req_prod_published.wrapping_sub(self.rsp_cons) {
            return Err(RingError::ResponseOverflow { rsp_prod, rsp_cons: self.rsp_cons });
        }
        Ok(ready)
    }

    /// Take the next response, if one is ready.
    pub fn pop_response(&mut self) -> Result<Option<Rsp>, RingError> {
        if self.unconsumed_responses()? == 0 {
            return Ok(None);
        }
        let rsp = self.ring.read_slot::<Rsp>(self.rsp_cons);
        self.rsp_cons = self.rsp_cons.wrapping_add(1);
        Ok(Some(rsp))
    }

    /// Ask for an event on the next response, then look once more
    /// (`RING_FINAL_CHECK_FOR_RESPONSES`): true means responses arrived and the
    /// caller must process them instead of sleeping.
    pub fn final_check_for_responses(&mut self) -> Result<bool, RingError> {
        if self.unconsumed_responses()? > 0 {
            return Ok(true);
        }
        self.ring.index(RSP_EVENT).store(self.rsp_cons.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::SeqCst);
        Ok(self.unconsumed_responses()? > 0)
    }
}

/// The back end: consumes requests, produces responses. oxclick is a frontend;
/// this end exists for tests (a simulated backend) and for guest-to-guest use.
pub struct BackRing<Req: Copy, Rsp: Copy> {
    ring: SharedRing,
    rsp_prod_pvt: u32,
    rsp_prod_published: u32,
    req_cons: u32,
    _types: PhantomData<fn(Req) -> Rsp>,
}

impl<Req: Copy, Rsp: Copy> BackRing<Req, Rsp> {
    /// Attach to a page the front end initialised (`BACK_RING_INIT`).
    ///
    /// # Safety
    /// As for [`FrontRing::new`].
    pub unsafe fn attach(page: NonNull<u8>, area: usize) -> Self {
        // SAFETY: forwarded contract.
        let ring = unsafe { SharedRing::new(page, area, slot_size::<Req, Rsp>()) };
        BackRing { ring, rsp_prod_pvt: 0, rsp_prod_published: 0, req_cons: 0, _types: PhantomData }
    }

    /// Number of slots.
    pub fn size(&self) -> u32 {
        self.ring.size
    }

    /// Requests ready to be consumed (`RING_HAS_UNCONSUMED_REQUESTS`), checked
    /// against the slots the frontend may legitimately fill.
    pub fn unconsumed_requests(&self) -> Result<u32, RingError> {
        let req_prod = self.ring.index(REQ_PROD).load(Ordering::Acquire);
        if req_prod.wrapping_sub(self.rsp_prod_pvt) > self.ring.size {
            return Err(RingError::RequestOverflow { req_prod, req_cons: self.req_cons });
        }
        Ok(req_prod.wrapping_sub(self.req_cons))
    }

    /// Take the next request, if one is ready.
    pub fn pop_request(&mut self) -> Result<Option<Req>, RingError> {
        if self.unconsumed_requests()? == 0 {
            return Ok(None);
        }
        let req = self.ring.read_slot::<Req>(self.req_cons);
        self.req_cons = self.req_cons.wrapping_add(1);
        Ok(Some(req))
    }

    /// Queue a response. Only consumed requests can be answered; gives the
    /// response back otherwise.
    pub fn push_response(&mut self, rsp: Rsp) -> Result<(), Rsp> {
        if self.rsp_prod_pvt == self.req_cons {
            return Err(rsp);
        }
        self.ring.write_slot(self.rsp_prod_pvt, rsp);
        self.rsp_prod_pvt = self.rsp_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Make queued responses visible; returns whether the frontend must be notified.
    pub fn publish_responses(&mut self) -> bool {
        let old = self.rsp_prod_published;
        let new = self.rsp_prod_pvt;
        self.rsp_prod_published = new;
        publish(self.ring.index(RSP_PROD), self.ring.index(RSP_EVENT), old, new)
    }

    /// `RING_FINAL_CHECK_FOR_REQUESTS`.
    pub fn final_check_for_requests(&mut self) -> Result<bool, RingError> {
        if self.unconsumed_requests()? > 0 {
            return Ok(true);
        }
        self.ring.index(REQ_EVENT).store(self.req_cons.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::SeqCst);
        Ok(self.unconsumed_requests()? > 0)
    }

    /// Overwrite the shared response producer index, as a hostile backend would.
    #[cfg(test)]
    pub(crate) fn forge_rsp_prod(&self, value: u32) {
        self.ring.index(RSP_PROD).store(value, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::netif::*;
    use crate::testing::Page;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    struct Req(u32, u32);
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    struct Rsp(u64);

    fn pair(page: &mut Page) -> (FrontRing<Req, Rsp>, BackRing<Req, Rsp>) {
        unsafe { (FrontRing::new(page.ptr(), 4096), BackRing::attach(page.ptr(), 4096)) }
    }

    #[test]
    fn netif_rings_have_256_slots_like_c() {
        // __CONST_RING_SIZE(netif_tx, 4096): (4096 - 64) / 12 = 336 -> 256.
        assert_eq!(slot_size::<NetifTxRequest, NetifTxResponse>(), 12);
        assert_eq!(ring_size(4096, slot_size::<NetifTxRequest, NetifTxResponse>()), 256);
        assert_eq!(slot_size::<NetifRxRequest, NetifRxResponse>(), 8);
        assert_eq!(ring_size(4096, 8), 256);
        assert_eq!(ring_size(4096, 64), 32);
        assert_eq!(ring_size(4096, 4096), 0);
        assert_eq!(ring_size(64, 8), 0);
    }

    #[test]
    fn init_writes_the_header_like_shared_ring_init() {
        let mut page = Page::filled(0xAA);
        let _front: FrontRing<Req, Rsp> = unsafe { FrontRing::new(page.ptr(), 4096) };
        let b = page.bytes();
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 0, "req_prod");
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 1, "req_event");
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 0, "rsp_prod");
        assert_eq!(u32::from_le_bytes(b[12..16].try_into().unwrap()), 1, "rsp_event");
        assert!(b[16..64].iter().all(|&x| x == 0), "private area and padding zeroed");
    }

    #[test]
    fn requests_and_responses_round_trip_with_entries_at_the_c_offsets() {
        let mut page = Page::new();
        let (mut front, mut back) = pair(&mut page);
        assert_eq!(front.size(), 256);
        front.push_request(Req(7, 8)).unwrap();
        assert_eq!(back.unconsumed_requests().unwrap(), 0, "not visible before publish");
        assert!(front.publish_requests(), "req_event starts at 1: first request notifies");
        // Slot 0 is at byte 64.
        assert_eq!(&page.bytes()[64..72], &[7, 0, 0, 0, 8, 0, 0, 0]);
        assert_eq!(back.pop_request().unwrap(), Some(Req(7, 8)));
        assert_eq!(back.pop_request().unwrap(), None);
        back.push_response(Rsp(99)).unwrap();
        assert!(back.publish_responses());
        assert_eq!(front.pop_response().unwrap(), Some(Rsp(99)));
        assert_eq!(front.pop_response().unwrap(), None);
        assert_eq!(front.in_flight(), 0);
    }

    #[test]
    fn ring_full_gives_the_request_back() {
        let mut page = Page::new();
        let (mut front, _back) = pair(&mut page);
        for i in 0..256 {
            front.push_request(Req(i, 0)).unwrap();
        }
        assert_eq!(front.free_requests(), 0);
        assert_eq!(front.push_request(Req(1000, 0)), Err(Req(1000, 0)));
    }

    #[test]
    fn notification_hold_off_follows_the_event_index() {
        let mut page = Page::new();
        let (mut front, mut back) = pair(&mut page);
        front.push_request(Req(1, 0)).unwrap();
        assert!(front.publish_requests());
        // The backend has not re-armed req_event (still 1): more requests need no event.
        front.push_request(Req(2, 0)).unwrap();
        assert!(!front.publish_requests());
        // Backend drains and re-arms; the next request notifies again.
        while back.pop_request().unwrap().is_some() {}
        assert!(!back.final_check_for_requests().unwrap());
        front.push_request(Req(3, 0)).unwrap();
        assert!(front.publish_requests());
        // final check sees work that raced with re-arming.
        assert!(back.final_check_for_requests().unwrap());
    }

    #[test]
    fn indices_wrap_around_u32() {
        let mut page = Page::new();
        let (mut front, mut back) = pair(&mut page);
        // Start every index just below the wrap, as after a very long run.
        let start = u32::MAX - 5;
        front.req_prod_pvt = start;
        front.req_prod_published = start;
        front.rsp_cons = start;
        back.req_cons = start;
        back.rsp_prod_pvt = start;
        back.rsp_prod_published = start;
        back.ring.index(REQ_PROD).store(start, Ordering::Relaxed);
        back.ring.index(RSP_PROD).store(start, Ordering::Relaxed);
        back.ring.index(REQ_EVENT).store(start.wrapping_add(1), Ordering::Relaxed);
        back.ring.index(RSP_EVENT).store(start.wrapping_add(1), Ordering::Relaxed);
        for round in 0..40u32 {
            for i in 0..7 {
                front.push_request(Req(round, i)).unwrap();
            }
            front.publish_requests();
            for i in 0..7 {
                let req = back.pop_request().unwrap().unwrap();
                assert_eq!(req, Req(round, i));
                back.push_response(Rsp((round * 10 + i) as u64)).unwrap();
            }
            back.publish_responses();
            for i in 0..7 {
                assert_eq!(front.pop_response().unwrap(), Some(Rsp((round * 10 + i) as u64)));
            }
            assert_eq!(front.free_requests(), 256);
        }
        assert!(front.req_prod_pvt < start, "indices wrapped");
    }

    #[test]
    fn hostile_rsp_prod_is_an_error_not_a_panic() {
        let mut page = Page::new();
        let (mut front, back) = pair(&mut page);
        front.push_request(Req(1, 1)).unwrap();
        front.publish_requests();
        // One request in flight, backend claims 1000 responses.
        back.forge_rsp_prod(1000);
        assert!(matches!(front.pop_response(), Err(RingError::ResponseOverflow { rsp_prod: 1000, .. })));
        // Claiming a response to a request not yet published is also refused.
        front.push_request(Req(2, 2)).unwrap();
        back.forge_rsp_prod(2);
        assert!(front.unconsumed_responses().is_err());
        // Going backwards (huge wrapped distance) too.
        back.forge_rsp_prod(u32::MAX);
        assert!(front.unconsumed_responses().is_err());
        back.forge_rsp_prod(1);
        assert_eq!(front.unconsumed_responses(), Ok(1));
    }

    #[test]
    fn hostile_req_prod_is_refused_by_the_back_end() {
        let mut page = Page::new();
        let (_front, mut back) = pair(&mut page);
        back.ring.index(REQ_PROD).store(257, Ordering::Relaxed);
        assert!(back.pop_request().is_err());
    }

    #[test]
    fn back_end_cannot_answer_unread_requests() {
        let mut page = Page::new();
        let (_front, mut back) = pair(&mut page);
        assert_eq!(back.push_response(Rsp(1)), Err(Rsp(1)));
    }

    #[test]
    fn two_threads_exchange_a_million_entries() {
        let mut page = Page::new();
        let (mut front, mut back) = pair(&mut page);
        struct SendPtr<T>(T);
        unsafe impl<T> Send for SendPtr<T> {}
        let back = SendPtr(&mut back as *mut BackRing<Req, Rsp>);
        const N: u32 = 1_000_000;
        std::thread::scope(|s| {
            s.spawn(move || {
                let back = unsafe { &mut *{ back }.0 };
                let mut answered = 0;
                while answered < N {
                    while let Some(Req(a, b)) = back.pop_request().unwrap() {
                        assert_eq!(b, a.wrapping_mul(3));
                        while back.push_response(Rsp(a as u64)).is_err() {}
                        answered += 1;
                    }
                    back.publish_responses();
                    std::hint::spin_loop();
                }
            });
            let (mut sent, mut received) = (0u32, 0u32);
            while received < N {
                while sent < N && front.push_request(Req(sent, sent.wrapping_mul(3))).is_ok() {
                    sent += 1;
                }
                front.publish_requests();
                while let Some(Rsp(v)) = front.pop_response().unwrap() {
                    assert_eq!(v, received as u64, "responses in order");
                    received += 1;
                }
                std::hint::spin_loop();
            }
        });
        drop(page);
    }
}
