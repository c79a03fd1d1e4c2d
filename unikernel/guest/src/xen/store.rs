//! The xenstore ring (`HVM_PARAM_STORE_PFN`, `HVM_PARAM_STORE_EVTCHN`) as a
//! transport for the library's xenstore client.

use core::ptr::NonNull;

use oxclick_unikernel::abi::hvm::{HVM_PARAM_STORE_EVTCHN, HVM_PARAM_STORE_PFN};
use oxclick_unikernel::abi::{EvtchnPort, PAGE_SHIFT};
use oxclick_unikernel::byte_ring::{ByteConsumer, ByteProducer, XENSTORE_REQ, XENSTORE_RSP};
use oxclick_unikernel::xenstore::{Client, Transport, TransportError};

use super::Xen;
use crate::boot_info::IDENTITY_MAPPED;

/// How long one wait for xenstored may take before the request fails. Under
/// nested emulation a busy dom0 can be slow; a dead one should not hang us.
const WAIT_NS: u64 = 30_000_000_000;

pub struct RingTransport {
    xen: &'static Xen,
    req: ByteProducer,
    rsp: ByteConsumer,
    port: EvtchnPort,
}

impl RingTransport {
    pub fn port(&self) -> EvtchnPort {
        self.port
    }

    /// After a restore: the event channel is new, and xenstored set the ring's
    /// indices up for the new domain (they are not ours any more): attach to
    /// the ring afresh.
    pub fn resumed(&mut self) -> Result<(), &'static str> {
        let fresh = connect(self.xen)?;
        let RingTransport { req, rsp, port, .. } = fresh.into_transport();
        (self.req, self.rsp, self.port) = (req, rsp, port);
        Ok(())
    }
}

impl Transport for RingTransport {
    fn write(&mut self, bytes: &[u8]) -> Result<usize, TransportError> {
        self.req.write(bytes).map_err(|_| TransportError::Corrupt)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        self.rsp.read(buf).map_err(|_| TransportError::Corrupt)
    }

    fn notify(&mut self) {
        self.xen.evtchn_send(self.port);
    }

    fn wait(&mut self) -> Result<(), TransportError> {
        let deadline = self.xen.now_ns() + WAIT_NS;
        loop {
            if self.xen.take_pending(self.port) {
                return Ok(());
            }
            if self.xen.now_ns() >= deadline {
                return Err(TransportError::Timeout);
            }
            self.xen.poll(&[self.port], deadline);
        }
    }
}

pub type Xenstore = Client<RingTransport>;

/// Connect to xenstored through the ring the toolstack set up.
pub fn connect(xen: &'static Xen) -> Result<Xenstore, &'static str> {
    let pfn = xen.hvm_param(HVM_PARAM_STORE_PFN).map_err(|_| "no HVM_PARAM_STORE_PFN")?;
    let port = xen.hvm_param(HVM_PARAM_STORE_EVTCHN).map_err(|_| "no HVM_PARAM_STORE_EVTCHN")? as EvtchnPort;
    let addr = pfn << PAGE_SHIFT;
    if pfn == 0 || addr >= IDENTITY_MAPPED {
        return Err("xenstore page outside the identity map");
    }
    let page = NonNull::new(addr as *mut u8).ok_or("null xenstore page")?;
    // SAFETY: the xenstore page is a special page Xen keeps at this frame for
    // the domain's life; we are its only frontend user.
    let (req, rsp) = unsafe { (ByteProducer::attach(page, XENSTORE_REQ), ByteConsumer::attach(page, XENSTORE_RSP)) };
    Ok(Client::new(RingTransport { xen, req, rsp, port }))
}
