//! The oxclick element runtime (`no_std` + `alloc`): packets, the [`Element`] trait,
//! the [`Router`] with Click's checks, tasks, a clock abstraction and handlers. The
//! same code runs in the host driver and inside the Xen guest.
#![no_std]
extern crate alloc;

pub mod element;
pub mod packet;
pub mod router;
pub mod spec;

pub use element::{ConfigCtx, ConfigErrors, Constructor, Ctx, Element, finish_args};
pub use packet::Packet;
pub use router::{Clock, Registry, Router, RouterOptions, SimClock};
