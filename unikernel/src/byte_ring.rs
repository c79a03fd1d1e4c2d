//! Byte rings: the xenstore page (io/xs_wire.h) and the console page
//! (io/console.h) each carry two of them, a power-of-two byte array with a
//! consumer and a producer index, both free-running `u32`s.
//!
//! Each end keeps its own index privately and only reads the peer's. A peer
//! index that puts more bytes in flight than the ring holds is reported as
//! corruption rather than trusted.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::abi::console;

/// Where one byte ring lives inside its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRingLayout {
    pub data: usize,
    /// A power of two.
    pub size: u32,
    pub cons: usize,
    pub prod: usize,
}

/// `struct xenstore_domain_interface`: requests to xenstored.
pub const XENSTORE_REQ: ByteRingLayout = ByteRingLayout { data: 0, size: 1024, cons: 2048, prod: 2052 };
/// Replies and watch events from xenstored.
pub const XENSTORE_RSP: ByteRingLayout = ByteRingLayout { data: 1024, size: 1024, cons: 2056, prod: 2060 };
/// `struct xencons_interface`: output to the console daemon.
pub const CONSOLE_OUT: ByteRingLayout = ByteRingLayout {
    data: console::OUT_OFFSET,
    size: console::OUT_SIZE as u32,
    cons: console::OUT_CONS,
    prod: console::OUT_PROD,
};
/// Input from the console daemon.
pub const CONSOLE_IN: ByteRingLayout = ByteRingLayout {
    data: console::IN_OFFSET,
    size: console::IN_SIZE as u32,
    cons: console::IN_CONS,
    prod: console::IN_PROD,
};

/// The peer's index is impossible: the ring is corrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorruptRing {
    pub prod: u32,
    pub cons: u32,
}

impl core::fmt::Display for CorruptRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "corrupt byte ring (prod {}, cons {})", self.prod, self.cons)
    }
}

struct RingPage {
    base: NonNull<u8>,
    layout: ByteRingLayout,
}

impl RingPage {
    /// # Safety
    /// `base` must point to a 4-byte aligned area covering `layout`, valid for
    /// the ring's lifetime.
    unsafe fn new(base: NonNull<u8>, layout: ByteRingLayout) -> Self {
        assert!(layout.size.is_power_of_two(), "byte ring size must be a power of two");
        assert!((base.as_ptr() as usize).is_multiple_of(4), "byte ring page must be aligned");
        RingPage { base, layout }
    }

    fn index(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: the index offsets lie in the page (constructor contract).
        unsafe { &*(self.base.as_ptr().add(offset) as *const AtomicU32) }
    }

    fn data_ptr(&self, idx: u32) -> *mut u8 {
        let i = (idx & (self.layout.size - 1)) as usize;
        // SAFETY: i < size, and the data area covers size bytes.
        unsafe { self.base.as_ptr().add(self.layout.data + i) }
    }
}

/// The end that writes bytes.
pub struct ByteProducer {
    page: RingPage,
    prod: u32,
}

impl ByteProducer {
    /// Take the producer end, continuing from the index found in the page.
    ///
    /// # Safety
    /// `page` must point to a live page laid out as `layout` says, shared only
    /// with the consumer, for the producer's lifetime.
    pub unsafe fn attach(page: NonNull<u8>, layout: ByteRingLayout) -> Self {
        // SAFETY: forwarded contract.
        let page = unsafe { RingPage::new(page, layout) };
        let prod = page.index(layout.prod).load(Ordering::Acquire);
        ByteProducer { page, prod }
    }

    /// Bytes that can be written now.
    pub fn space(&self) -> Result<u32, CorruptRing> {
        let cons = self.page.index(self.page.layout.cons).load(Ordering::Acquire);
        let used = self.prod.wrapping_sub(cons);
        if used > self.page.layout.size {
            return Err(CorruptRing { prod: self.prod, cons });
        }
        Ok(self.page.layout.size - used)
    }

    /// Write as much of `bytes` as fits and publish it; returns how much was written.
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize, CorruptRing> {
        let n = (self.space()? as usize).min(bytes.len());
        for (i, &byte) in bytes[..n].iter().enumerate() {
            // SAFETY: data_ptr stays inside the data area; volatile because the
            // consumer reads it concurrently.
            unsafe { core::ptr::write_volatile(self.page.data_ptr(self.prod.wrapping_add(i as u32)), byte) };
        }
        self.prod = self.prod.wrapping_add(n as u32);
        // Release: the data is visible before the index that covers it.
        self.page.index(self.page.layout.prod).store(self.prod, Ordering::Release);
        Ok(n)
    }

    /// True when the consumer has taken everything written.
    pub fn is_drained(&self) -> Result<bool, CorruptRing> {
        Ok(self.space()? == self.page.layout.size)
    }
}

/// The end that reads bytes.
pub struct ByteConsumer {
    page: RingPage,
    cons: u32,
}

impl ByteConsumer {
    /// Take the consumer end, continuing from the index found in the page.
    ///
    /// # Safety
    /// As for [`ByteProducer::attach`].
    pub unsafe fn attach(page: NonNull<u8>, layout: ByteRingLayout) -> Self {
        // SAFETY: forwarded contract.
        let page = unsafe { RingPage::new(page, layout) };
        let cons = page.index(layout.cons).load(Ordering::Acquire);
        ByteConsumer { page, cons }
    }

    /// Bytes ready to be read.
    pub fn available(&self) -> Result<u32, CorruptRing> {
        let prod = self.page.index(self.page.layout.prod).load(Ordering::Acquire);
        let ready = prod.wrapping_sub(self.cons);
        if ready > self.page.layout.size {
            return Err(CorruptRing { prod, cons: self.cons });
        }
        Ok(ready)
    }

    /// Read up to `buf.len()` bytes and free their space; returns how many.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, CorruptRing> {
        let n = (self.available()? as usize).min(buf.len());
        for (i, slot) in buf[..n].iter_mut().enumerate() {
            // SAFETY: data_ptr stays inside the data area.
            *slot = unsafe { core::ptr::read_volatile(self.page.data_ptr(self.cons.wrapping_add(i as u32))) };
        }
        self.cons = self.cons.wrapping_add(n as u32);
        // Release: our reads of the data complete before the producer may reuse it.
        self.page.index(self.page.layout.cons).store(self.cons, Ordering::Release);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Page;

    fn set_index(page: &mut Page, offset: usize, value: u32) {
        page.bytes_mut()[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn layouts_match_the_c_structs() {
        // xenstore_domain_interface: req[1024], rsp[1024], req_cons, req_prod, rsp_cons, rsp_prod.
        assert_eq!(
            (XENSTORE_REQ.cons, XENSTORE_REQ.prod, XENSTORE_RSP.cons, XENSTORE_RSP.prod),
            (2048, 2052, 2056, 2060)
        );
        // xencons_interface: in[1024], out[2048], in_cons, in_prod, out_cons, out_prod.
        assert_eq!((CONSOLE_IN.cons, CONSOLE_IN.prod, CONSOLE_OUT.cons, CONSOLE_OUT.prod), (3072, 3076, 3080, 3084));
    }

    #[test]
    fn bytes_flow_and_wrap() {
        let mut page = Page::new();
        // Start near the u32 wrap, as a long-lived console would be.
        set_index(&mut page, CONSOLE_OUT.prod, u32::MAX - 10);
        set_index(&mut page, CONSOLE_OUT.cons, u32::MAX - 10);
        let mut tx = unsafe { ByteProducer::attach(page.ptr(), CONSOLE_OUT) };
        let mut rx = unsafe { ByteConsumer::attach(page.ptr(), CONSOLE_OUT) };
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for round in 0..50u32 {
            let chunk: Vec<u8> = (0..(round * 37 % 3000)).map(|i| (i * 7 + round) as u8).collect();
            let mut off = 0;
            while off < chunk.len() {
                off += tx.write(&chunk[off..]).unwrap();
                let mut buf = [0u8; 700];
                let n = rx.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            expected.extend_from_slice(&chunk);
        }
        let mut buf = [0u8; 4096];
        let n = rx.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        assert_eq!(got, expected);
        assert!(tx.is_drained().unwrap());
    }

    #[test]
    fn a_full_ring_accepts_nothing_more() {
        let mut page = Page::new();
        let mut tx = unsafe { ByteProducer::attach(page.ptr(), XENSTORE_REQ) };
        assert_eq!(tx.write(&[1u8; 2000]).unwrap(), 1024);
        assert_eq!(tx.write(&[1u8; 10]).unwrap(), 0);
        assert_eq!(tx.space().unwrap(), 0);
    }

    #[test]
    fn impossible_peer_indices_are_reported() {
        let mut page = Page::new();
        let rx = unsafe { ByteConsumer::attach(page.ptr(), XENSTORE_RSP) };
        set_index(&mut page, XENSTORE_RSP.prod, 5000);
        assert_eq!(rx.available(), Err(CorruptRing { prod: 5000, cons: 0 }));
        let mut rx = rx;
        assert!(rx.read(&mut [0u8; 16]).is_err());

        let mut page = Page::new();
        let tx = unsafe { ByteProducer::attach(page.ptr(), XENSTORE_REQ) };
        // Consumer claims to be ahead of the producer.
        set_index(&mut page, XENSTORE_REQ.cons, 3);
        assert!(tx.space().is_err());
    }
}
