//! `HYPERVISOR_event_channel_op` (event_channel.h).

use super::{DomId, EvtchnPort};

pub const EVTCHNOP_CLOSE: u32 = 3;
pub const EVTCHNOP_SEND: u32 = 4;
pub const EVTCHNOP_STATUS: u32 = 5;
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

/// `struct evtchn_status`: what a port is bound to. Only the fields a guest
/// asking about its own ports needs are named; the union's largest member
/// (`interdomain`: a domain and a port) sizes the tail.
#[repr(C)]
pub struct EvtchnStatus {
    /// In: whose port (DOMID_SELF).
    pub dom: DomId,
    /// In: the port.
    pub port: EvtchnPort,
    /// Out: one of the `EVTCHNSTAT_*` values.
    pub status: u32,
    /// Out: the vCPU the port notifies.
    pub vcpu: u32,
    /// Out: for `EVTCHNSTAT_unbound`, the domain that may bind it; for
    /// `EVTCHNSTAT_interdomain`, the remote domain.
    pub remote_dom: DomId,
    /// Out: for `EVTCHNSTAT_interdomain`, the remote port.
    pub remote_port: EvtchnPort,
}

/// The port is not in use.
pub const EVTCHNSTAT_CLOSED: u32 = 0;
/// The port waits for `remote_dom` to bind it.
pub const EVTCHNSTAT_UNBOUND: u32 = 1;
/// The port is connected to a port of another domain.
pub const EVTCHNSTAT_INTERDOMAIN: u32 = 2;

/// Number of ports the 2-level ABI addresses on 64-bit guests (64 words of 64 bits).
pub const NR_EVENT_CHANNELS_2L: u32 = 64 * 64;

const _: () = {
    assert!(core::mem::size_of::<EvtchnAllocUnbound>() == 8);
    assert!(core::mem::offset_of!(EvtchnAllocUnbound, port) == 4);
    assert!(core::mem::size_of::<EvtchnStatus>() == 24);
    assert!(core::mem::offset_of!(EvtchnStatus, port) == 4);
    assert!(core::mem::offset_of!(EvtchnStatus, status) == 8);
    assert!(core::mem::offset_of!(EvtchnStatus, remote_dom) == 16);
    assert!(core::mem::offset_of!(EvtchnStatus, remote_port) == 20);
};
