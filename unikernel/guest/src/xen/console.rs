//! The Xen PV console: a byte ring page (`HVM_PARAM_CONSOLE_PFN`) read by
//! xenconsoled, which writes it to the domain's console log and `xl console`.

use core::ptr::NonNull;

use oxclick_unikernel::abi::hvm::{HVM_PARAM_CONSOLE_EVTCHN, HVM_PARAM_CONSOLE_PFN};
use oxclick_unikernel::abi::{EvtchnPort, PAGE_SHIFT};
use oxclick_unikernel::byte_ring::{ByteProducer, CONSOLE_OUT};

use super::Xen;
use crate::boot_info::IDENTITY_MAPPED;

/// How long a write waits for xenconsoled to make room before dropping output.
const WRITE_PATIENCE_NS: u64 = 200_000_000;

pub struct XenConsole {
    xen: &'static Xen,
    out: ByteProducer,
    port: EvtchnPort,
    /// Set when the ring looked corrupt: stop using it.
    broken: bool,
}

impl XenConsole {
    /// The console the toolstack set up, if any.
    pub fn connect(xen: &'static Xen) -> Option<XenConsole> {
        let pfn = xen.hvm_param(HVM_PARAM_CONSOLE_PFN).ok().filter(|&p| p != 0)?;
        let port = xen.hvm_param(HVM_PARAM_CONSOLE_EVTCHN).ok()? as EvtchnPort;
        let addr = pfn << PAGE_SHIFT;
        if addr >= IDENTITY_MAPPED {
            return None;
        }
        // SAFETY: the console page is a special page Xen keeps mapped at
        // this frame for the domain's life, inside our identity mapping.
        let out = unsafe { ByteProducer::attach(NonNull::new(addr as *mut u8)?, CONSOLE_OUT) };
        Some(XenConsole { xen, out, port, broken: false })
    }

    pub fn write(&mut self, mut bytes: &[u8]) {
        let mut deadline = None;
        while !bytes.is_empty() && !self.broken {
            match self.out.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(_) => self.broken = true,
            }
            self.xen.evtchn_send(self.port);
            if bytes.is_empty() {
                break;
            }
            // Ring full: wait for xenconsoled, but not forever.
            let deadline = *deadline.get_or_insert_with(|| self.xen.now_ns() + WRITE_PATIENCE_NS);
            if self.xen.now_ns() >= deadline {
                return;
            }
            self.xen.take_pending(self.port);
            self.xen.poll(&[self.port], deadline);
        }
    }

    /// Wait until xenconsoled has read everything (bounded).
    pub fn flush(&mut self) {
        let deadline = self.xen.now_ns() + WRITE_PATIENCE_NS;
        while !self.broken && !self.out.is_drained().unwrap_or(true) && self.xen.now_ns() < deadline {
            self.xen.take_pending(self.port);
            self.xen.poll(&[self.port], deadline);
        }
    }
}
