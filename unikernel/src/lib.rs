//! Platform-independent parts of oxclick's Xen PVH guest.
//!
//! Everything here is `no_std` pure logic over memory the caller provides, so
//! it compiles and is unit-tested on the host; the bootable guest (`guest/`,
//! built separately with panic=abort and a freestanding link) supplies the
//! real shared pages, hypercalls and event channels. The split follows
//! Unikraft's: platform code in the guest, protocol libraries and driver logic
//! here, drivers reaching the platform only through small traits.
//!
//! - [`abi`]: the Xen public headers we rely on, with layout checks.
//! - [`ring`]: io/ring.h request/response rings (front and back ends).
//! - [`byte_ring`]: the byte rings of the xenstore and console pages.
//! - [`xenstore`]: xs_wire.h messages and a client over any transport.
//! - [`xenbus`]: device states and the frontend handshake.
//! - [`grant`]: grant table v1 entries and grant reference allocation.
//! - [`evtchn`]: the 2-level event channel bitmaps in shared_info.
//! - [`pvclock`]: Xen system time from the TSC.
//! - [`heap`]: the guest's allocator; [`memmap`]: the RAM it may use.
//! - [`netfront`]: the Xen network frontend (rx-copy, several vifs).
//! - [`embedded`]: the configuration area `oxclick image --embed` fills in.
//! - [`clickos`]: ClickOS's xenstore control protocol, driving oxclick routers.

#![cfg_attr(not(any(test, feature = "fake-xenstored")), no_std)]

extern crate alloc;

pub mod abi;
pub mod byte_ring;
pub mod clickos;
pub mod embedded;
pub mod evtchn;
pub mod grant;
pub mod heap;
pub mod memmap;
pub mod netfront;
pub mod pvclock;
pub mod ring;
pub mod xenbus;
pub mod xenstore;

#[cfg(test)]
pub(crate) mod testing;
