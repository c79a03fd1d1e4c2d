//! The Xen network frontend (io/netif.h), one instance per `device/vif/N`.
//!
//! Mode: one queue, one event channel, rx-copy (the backend copies received
//! packets into pages we grant it), no scatter-gather, no offloads, so every
//! packet is one ring slot both ways.
//!
//! Buffers and grants are set up once and reused for the device's life:
//! - rx: one page per buffer, granted writable to the backend; after a packet
//!   is consumed the same page and grant reference are posted again;
//! - tx: two 2 KiB buffers per page, each page granted read-only; a slot is
//!   reused when the backend's response for it arrives.
//!
//! Nothing the backend writes is trusted: response ids must name a buffer
//! that is actually out with the backend, lengths and offsets must stay
//! inside the page, and ring indices must be possible. A bad response is
//! counted and dropped; an impossible ring index disables the device. The
//! driver never panics on backend input.
//!
//! The driver reaches the platform only through [`Platform`]; the xenbus
//! handshake is in [`handshake`].

pub mod handshake;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::abi::netif::*;
use crate::abi::{DomId, EvtchnPort, GrantRef, PAGE_SIZE};
use crate::grant::GrantError;
use crate::ring::{FrontRing, RingError};

/// A zeroed, page-aligned page and the guest frame number to grant.
#[derive(Clone, Copy, Debug)]
pub struct DmaPage {
    pub ptr: NonNull<u8>,
    pub gfn: u64,
}

/// What netfront needs from the platform.
pub trait Platform {
    /// A fresh page that stays allocated for good.
    fn alloc_page(&mut self) -> Option<DmaPage>;
    fn grant_access(&mut self, domid: DomId, gfn: u64, readonly: bool) -> Result<GrantRef, GrantError>;
    fn end_access(&mut self, gref: GrantRef) -> Result<(), GrantError>;
    /// An event channel port the backend domain can bind to.
    fn alloc_unbound_evtchn(&mut self, remote: DomId) -> Result<EvtchnPort, i64>;
    fn notify(&mut self, port: EvtchnPort);
}

/// Size of one tx buffer: two per page. Holds any Ethernet frame up to a
/// 1500-byte MTU with VLAN tags.
pub const TX_BUFFER_SIZE: usize = PAGE_SIZE / 2;
/// netback rejects shorter tx requests.
pub const MIN_FRAME: usize = 14;

/// Buffer counts. Each rx buffer costs a page, each pair of tx buffers one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VifConfig {
    pub rx_buffers: u16,
    pub tx_buffers: u16,
}

impl Default for VifConfig {
    /// 64 + 64: 96 pages (384 KiB) per vif, a few vifs fit in `memory=4`.
    fn default() -> Self {
        VifConfig { rx_buffers: 64, tx_buffers: 64 }
    }
}

/// Counters, for logs and handlers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Responses with an error status or impossible length/offset.
    pub rx_errors: u64,
    /// Multi-slot packets (we never enable scatter-gather), dropped.
    pub rx_dropped: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Backend reported an error or drop.
    pub tx_errors: u64,
    /// Responses naming no buffer of ours, or one not out with the backend.
    pub bogus_responses: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// Setup failed: no memory for pages.
    OutOfMemory,
    Grant(GrantError),
    EventChannel(i64),
    /// The backend broke the ring protocol; the device is disabled.
    Broken(RingError),
    /// No free tx buffer: collect responses or try later.
    TxFull,
    /// Frame shorter than an Ethernet header or longer than a tx buffer.
    BadFrameLength(usize),
    /// Too many buffers for a ring.
    BadConfig,
}

impl From<GrantError> for NetError {
    fn from(e: GrantError) -> Self {
        NetError::Grant(e)
    }
}

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NetError::OutOfMemory => write!(f, "out of memory for netfront pages"),
            NetError::Grant(e) => write!(f, "{e}"),
            NetError::EventChannel(rc) => write!(f, "event channel allocation failed ({rc})"),
            NetError::Broken(e) => write!(f, "backend broke the ring protocol: {e}"),
            NetError::TxFull => write!(f, "tx ring full"),
            NetError::BadFrameLength(n) => write!(f, "frame of {n} bytes cannot be sent"),
            NetError::BadConfig => write!(f, "bad buffer configuration"),
        }
    }
}

/// A buffer shared with the backend.
struct Buffer {
    ptr: NonNull<u8>,
    /// The frame of the page it lies in (granted again after a restore).
    gfn: u64,
    gref: GrantRef,
    offset: u16,
    /// Out with the backend: a request names it and no response came back yet.
    with_backend: bool,
}

/// Rings, buffers and grants of one vif. Created by [`Netfront::new`]; the
/// backend learns about it through [`handshake`].
pub struct Netfront {
    backend_id: DomId,
    port: EvtchnPort,
    /// The ring pages, kept for a reconnect after a restore.
    tx_page: DmaPage,
    rx_page: DmaPage,
    tx: FrontRing<NetifTxRequest, NetifTxResponse>,
    rx: FrontRing<NetifRxRequest, NetifRxResponse>,
    tx_ring_ref: GrantRef,
    rx_ring_ref: GrantRef,
    tx_buffers: Vec<Buffer>,
    tx_free: Vec<u16>,
    rx_buffers: Vec<Buffer>,
    /// Inside a multi-slot packet that is being dropped.
    rx_skipping: bool,
    broken: Option<RingError>,
    stats: NetStats,
}

impl Netfront {
    /// Allocate and grant rings and buffers for backend domain `backend_id`,
    /// post every rx buffer, and allocate the event channel. The backend sees
    /// none of it until the handshake publishes the ring references.
    pub fn new(platform: &mut impl Platform, backend_id: DomId, config: VifConfig) -> Result<Netfront, NetError> {
        let tx_page = platform.alloc_page().ok_or(NetError::OutOfMemory)?;
        let rx_page = platform.alloc_page().ok_or(NetError::OutOfMemory)?;
        // SAFETY: fresh, page-aligned pages that stay allocated for good and
        // are shared only with the backend.
        let (tx, mut rx) = unsafe {
            (
                FrontRing::<NetifTxRequest, NetifTxResponse>::new(tx_page.ptr, PAGE_SIZE),
                FrontRing::<NetifRxRequest, NetifRxResponse>::new(rx_page.ptr, PAGE_SIZE),
            )
        };
        if config.rx_buffers as u32 > rx.size() || config.tx_buffers as u32 > tx.size() || config.rx_buffers == 0 {
            return Err(NetError::BadConfig);
        }
        let tx_ring_ref = platform.grant_access(backend_id, tx_page.gfn, false)?;
        let rx_ring_ref = platform.grant_access(backend_id, rx_page.gfn, false)?;

        let mut tx_buffers = Vec::with_capacity(config.tx_buffers as usize);
        while tx_buffers.len() < config.tx_buffers as usize {
            let page = platform.alloc_page().ok_or(NetError::OutOfMemory)?;
            let gref = platform.grant_access(backend_id, page.gfn, true)?;
            for half in 0..2 {
                if tx_buffers.len() < config.tx_buffers as usize {
                    let offset = half * TX_BUFFER_SIZE;
                    // SAFETY: offset < PAGE_SIZE, inside the page.
                    let ptr = unsafe { page.ptr.add(offset) };
                    tx_buffers.push(Buffer { ptr, gfn: page.gfn, gref, offset: offset as u16, with_backend: false });
                }
            }
        }
        // Lowest ids first.
        let tx_free = (0..config.tx_buffers).rev().collect();

        let mut rx_buffers = Vec::with_capacity(config.rx_buffers as usize);
        for id in 0..config.rx_buffers {
            let page = platform.alloc_page().ok_or(NetError::OutOfMemory)?;
            let gref = platform.grant_access(backend_id, page.gfn, false)?;
            rx.push_request(NetifRxRequest { id, pad: 0, gref }).map_err(|_| NetError::BadConfig)?;
            rx_buffers.push(Buffer { ptr: page.ptr, gfn: page.gfn, gref, offset: 0, with_backend: true });
        }
        rx.publish_requests();

        let port = platform.alloc_unbound_evtchn(backend_id).map_err(NetError::EventChannel)?;
        Ok(Netfront {
            backend_id,
            port,
            tx_page,
            rx_page,
            tx,
            rx,
            tx_ring_ref,
            rx_ring_ref,
            tx_buffers,
            tx_free,
            rx_buffers,
            rx_skipping: false,
            broken: None,
            stats: NetStats::default(),
        })
    }

    pub fn backend_id(&self) -> DomId {
        self.backend_id
    }

    /// After the domain was restored from a saved image (`xl restore`): the
    /// grant table and event channels are new, and so is the backend. Grant the
    /// same pages to `backend_id` again, reset both rings, post every rx buffer
    /// and take a new event channel; the caller then does the handshake again.
    /// Frames that were on the rings when the domain was saved are lost (as on
    /// a wire); the counters carry on.
    pub fn reconnect(&mut self, platform: &mut impl Platform, backend_id: DomId) -> Result<(), NetError> {
        self.backend_id = backend_id;
        // SAFETY: the ring pages from `new`, ours for good and shared with no one
        // now: the backend that knew them is gone with the old domain.
        let (tx, mut rx) = unsafe {
            (
                FrontRing::<NetifTxRequest, NetifTxResponse>::new(self.tx_page.ptr, PAGE_SIZE),
                FrontRing::<NetifRxRequest, NetifRxResponse>::new(self.rx_page.ptr, PAGE_SIZE),
            )
        };
        self.tx_ring_ref = platform.grant_access(backend_id, self.tx_page.gfn, false)?;
        self.rx_ring_ref = platform.grant_access(backend_id, self.rx_page.gfn, false)?;
        // Two tx buffers share a page and its grant.
        let mut page_grant: Option<(u64, GrantRef)> = None;
        for b in &mut self.tx_buffers {
            let gref = match page_grant {
                Some((gfn, gref)) if gfn == b.gfn => gref,
                _ => platform.grant_access(backend_id, b.gfn, true)?,
            };
            page_grant = Some((b.gfn, gref));
            b.gref = gref;
            b.with_backend = false;
        }
        self.tx_free = (0..self.tx_buffers.len() as u16).rev().collect();
        for (id, b) in self.rx_buffers.iter_mut().enumerate() {
            b.gref = platform.grant_access(backend_id, b.gfn, false)?;
            rx.push_request(NetifRxRequest { id: id as u16, pad: 0, gref: b.gref }).map_err(|_| NetError::BadConfig)?;
            b.with_backend = true;
        }
        rx.publish_requests();
        self.tx = tx;
        self.rx = rx;
        self.port = platform.alloc_unbound_evtchn(backend_id).map_err(NetError::EventChannel)?;
        self.rx_skipping = false;
        self.broken = None;
        Ok(())
    }

    /// The event channel to poll for this vif.
    pub fn port(&self) -> EvtchnPort {
        self.port
    }

    /// Grant references of the tx and rx ring pages (published in xenstore).
    pub fn ring_refs(&self) -> (GrantRef, GrantRef) {
        (self.tx_ring_ref, self.rx_ring_ref)
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Why the device was disabled, if it was.
    pub fn broken(&self) -> Option<RingError> {
        self.broken
    }

    fn check(&mut self, result: Result<(), RingError>) -> Result<(), NetError> {
        if let Some(e) = self.broken {
            return Err(NetError::Broken(e));
        }
        result.map_err(|e| {
            self.broken = Some(e);
            NetError::Broken(e)
        })
    }

    /// Free tx buffers right now (without collecting responses).
    pub fn tx_available(&self) -> usize {
        self.tx_free.len()
    }

    /// Queue one frame. It reaches the backend at the next [`Self::flush`].
    pub fn transmit(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.check(Ok(()))?;
        if frame.len() < MIN_FRAME || frame.len() > TX_BUFFER_SIZE {
            return Err(NetError::BadFrameLength(frame.len()));
        }
        if self.tx_free.is_empty() {
            self.collect_tx()?;
        }
        let id = self.tx_free.pop().ok_or(NetError::TxFull)?;
        let buffer = &mut self.tx_buffers[id as usize];
        // SAFETY: the buffer is TX_BUFFER_SIZE bytes inside our page and not
        // with the backend (it was on the free list).
        unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), buffer.ptr.as_ptr(), frame.len()) };
        buffer.with_backend = true;
        let request =
            NetifTxRequest { gref: buffer.gref, offset: buffer.offset, flags: 0, id, size: frame.len() as u16 };
        // Cannot fail: at most tx_buffers <= ring size requests are out.
        if self.tx.push_request(request).is_err() {
            self.tx_buffers[id as usize].with_backend = false;
            self.tx_free.push(id);
            return Err(NetError::TxFull);
        }
        self.stats.tx_packets += 1;
        self.stats.tx_bytes += frame.len() as u64;
        Ok(())
    }

    /// Publish queued frames and rx buffers; notify the backend if it asked.
    pub fn flush(&mut self, platform: &mut impl Platform) {
        let tx_notify = self.tx.publish_requests();
        let rx_notify = self.rx.publish_requests();
        if (tx_notify || rx_notify) && self.broken.is_none() {
            platform.notify(self.port);
        }
    }

    /// Take back tx buffers the backend is done with.
    pub fn collect_tx(&mut self) -> Result<usize, NetError> {
        let mut collected = 0;
        loop {
            let response = match self.tx.pop_response() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return self.check(Err(e)).map(|_| collected),
            };
            // Extra-info slots are answered with NETIF_RSP_NULL; we send none,
            // so any response must name one of our buffers.
            let Some(buffer) = self.tx_buffers.get_mut(response.id as usize).filter(|b| b.with_backend) else {
                self.stats.bogus_responses += 1;
                continue;
            };
            buffer.with_backend = false;
            self.tx_free.push(response.id);
            if response.status != NETIF_RSP_OKAY {
                self.stats.tx_errors += 1;
            }
            collected += 1;
        }
        // Responses are collected lazily, on transmit and on rx events. Only
        // when buffers run short ask for an event on the next tx response,
        // so a sender waiting for room is woken.
        if self.tx_free.len() < self.tx_buffers.len() / 2 {
            match self.tx.final_check_for_responses() {
                Ok(true) => return self.collect_tx().map(|more| collected + more),
                Ok(false) => {}
                Err(e) => return self.check(Err(e)).map(|_| collected),
            }
        }
        Ok(collected)
    }

    /// Hand every received packet to `deliver`, re-post the buffers, and
    /// arm the ring for the next event. Returns the number of packets.
    pub fn receive(&mut self, platform: &mut impl Platform, mut deliver: impl FnMut(&[u8])) -> Result<usize, NetError> {
        self.check(Ok(()))?;
        let mut delivered = 0;
        loop {
            loop {
                let response = match self.rx.pop_response() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => return self.check(Err(e)).map(|_| delivered),
                };
                if self.rx_response(response, &mut deliver) {
                    delivered += 1;
                }
            }
            // Re-arm rsp_event, then look once more for responses that raced.
            match self.rx.final_check_for_responses() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => return self.check(Err(e)).map(|_| delivered),
            }
        }
        self.collect_tx()?;
        self.flush(platform);
        Ok(delivered)
    }

    /// Handle one rx response; true if a packet was delivered.
    fn rx_response(&mut self, response: NetifRxResponse, deliver: &mut impl FnMut(&[u8])) -> bool {
        let id = response.id;
        let Some(buffer) = self.rx_buffers.get_mut(id as usize).filter(|b| b.with_backend) else {
            self.stats.bogus_responses += 1;
            return false;
        };
        buffer.with_backend = false;
        let skipping = self.rx_skipping;
        self.rx_skipping = response.flags & NETRXF_MORE_DATA != 0;
        let (offset, status) = (response.offset as usize, response.status);
        let delivered = if skipping || self.rx_skipping || response.flags & NETRXF_EXTRA_INFO != 0 {
            // Part of a multi-slot packet, or carrying extra info we never
            // asked for: not a whole packet in one buffer.
            self.stats.rx_dropped += 1;
            false
        } else if status <= 0 || offset + status as usize > PAGE_SIZE {
            self.stats.rx_errors += 1;
            false
        } else {
            let len = status as usize;
            // SAFETY: offset + len <= PAGE_SIZE, inside the buffer's page; the
            // backend finished writing before publishing the response.
            let packet = unsafe { core::slice::from_raw_parts(buffer.ptr.as_ptr().add(offset), len) };
            deliver(packet);
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += len as u64;
            true
        };
        self.repost_rx(id);
        delivered
    }

    /// Give an rx buffer back to the backend (same page, same grant).
    fn repost_rx(&mut self, id: u16) {
        let buffer = &mut self.rx_buffers[id as usize];
        // A slot is free: we just consumed the response for this buffer.
        if self.rx.push_request(NetifRxRequest { id, pad: 0, gref: buffer.gref }).is_ok() {
            buffer.with_backend = true;
        }
    }
}
