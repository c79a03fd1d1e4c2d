//! `HYPERVISOR_event_channel_op` (event_channel.h).

use super::{DomId, EvtchnPort};

pub const EVTCHNOP_CLOSE: u32 = 3;
pub const EVTCHNOP_SEND: u32 = 4;
pub const EVTCHNOP_ALLOC_UNBOUND: u32 = 6;
pub const EVTCHNOP_UNMASK: u32 = 9;

/// `struct evtchn_alloc_unbound`: a fresh local port that `remote_dom` may bind to.
#[repr(C)]
pub struct EvtchnAllocUnbound {
    pub dom: DomId,
    pub remote_dom: DomId,
    /// Out: the allocated port.
    pub port: EvtchnPort,
}

/// `struct evtchn_send`, `struct evtchn_close`, `struct evtchn_unmask`: a port.
#[repr(C)]
pub struct EvtchnPortArg {
    pub port: EvtchnPort,
}

/// Number of ports the 2-level ABI addresses on 64-bit guests (64 words of 64 bits).
pub const NR_EVENT_CHANNELS_2L: u32 = 64 * 64;

const _: () = {
    assert!(core::mem::size_of::<EvtchnAllocUnbound>() == 8);
    assert!(core::mem::offset_of!(EvtchnAllocUnbound, port) == 4);
};
