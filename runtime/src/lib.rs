//! The oxclick element runtime (`no_std` + `alloc`): packets, the [`Element`] trait,
//! the [`Router`] with Click's checks, tasks, a clock abstraction and handlers. The
//! same code runs in the host driver and inside the Xen guest.
#![no_std]
extern crate alloc;

pub mod device;
pub mod element;
pub mod lanes;
pub mod packet;
pub mod router;
pub mod spec;

pub use device::{DEVICE_QUEUE_CAPACITY, Device, DeviceInfo};
pub use element::{
    Batch, ConfigCtx, ConfigErrors, Constructor, Ctx, Element, ElementMeta, MAX_BATCH, STORED_PACKET_BYTES,
    SharedForms, State, filter_map_batch, finish_args, hash_table_bytes, route_batch, simple_action_batch,
};
pub use lanes::{LaneCtx, LaneElement, LaneMaker};
pub use packet::{Annotations, Packet, PacketMaker, PacketPool, PacketType};
pub use router::{Clock, Registry, Router, RouterOptions, SimClock};
