//! Event channels, polled: every port is masked, and the guest waits with
//! `SCHEDOP_poll` on the ports it cares about, with a deadline.

use oxclick_unikernel::abi::event_channel::*;
use oxclick_unikernel::abi::sched::{POLL_MAX_PORTS, SCHEDOP_POLL, SchedPoll};
use oxclick_unikernel::abi::{DOMID_SELF, DomId, EvtchnPort, hypercall as nr};

use super::{Xen, hypercall};

/// `struct evtchn_bind_interdomain`.
#[repr(C)]
struct BindInterdomain {
    remote_dom: DomId,
    remote_port: EvtchnPort,
    local_port: EvtchnPort,
}

impl Xen {
    /// A new port that domain `remote` can bind to (a device backend, usually).
    pub fn evtchn_alloc_unbound(&self, remote: DomId) -> Result<EvtchnPort, i64> {
        let mut arg = EvtchnAllocUnbound { dom: DOMID_SELF, remote_dom: remote, port: 0 };
        // SAFETY: EvtchnAllocUnbound is evtchn_alloc_unbound.
        let rc = unsafe { hypercall::call_with(nr::EVENT_CHANNEL_OP, EVTCHNOP_ALLOC_UNBOUND, &mut arg) };
        if rc < 0 { Err(rc) } else { Ok(arg.port) }
    }

    /// What our `port` is bound to: `(EVTCHNSTAT_*, remote domain)`, or Xen's
    /// error when the port does not exist.
    pub fn evtchn_status(&self, port: EvtchnPort) -> Result<(u32, DomId), i64> {
        let mut arg = EvtchnStatus { dom: DOMID_SELF, port, status: 0, vcpu: 0, remote_dom: 0, remote_port: 0 };
        // SAFETY: EvtchnStatus is evtchn_status.
        let rc = unsafe { hypercall::call_with(nr::EVENT_CHANNEL_OP, EVTCHNOP_STATUS, &mut arg) };
        if rc < 0 { Err(rc) } else { Ok((arg.status, arg.remote_dom)) }
    }

    /// Connect a local port to `remote_port` of domain `remote`.
    pub fn evtchn_bind_interdomain(&self, remote: DomId, remote_port: EvtchnPort) -> Result<EvtchnPort, i64> {
        let mut arg = BindInterdomain { remote_dom: remote, remote_port, local_port: 0 };
        // SAFETY: BindInterdomain is evtchn_bind_interdomain (EVTCHNOP 0).
        let rc = unsafe { hypercall::call_with(nr::EVENT_CHANNEL_OP, 0, &mut arg) };
        if rc < 0 { Err(rc) } else { Ok(arg.local_port) }
    }

    /// Signal the other end of `port`.
    pub fn evtchn_send(&self, port: EvtchnPort) {
        let mut arg = EvtchnPortArg { port };
        // SAFETY: EvtchnPortArg is evtchn_send.
        unsafe { hypercall::call_with(nr::EVENT_CHANNEL_OP, EVTCHNOP_SEND, &mut arg) };
    }

    pub fn evtchn_close(&self, port: EvtchnPort) {
        let mut arg = EvtchnPortArg { port };
        // SAFETY: EvtchnPortArg is evtchn_close.
        unsafe { hypercall::call_with(nr::EVENT_CHANNEL_OP, EVTCHNOP_CLOSE, &mut arg) };
    }

    /// Test and clear `port`'s pending bit.
    pub fn take_pending(&self, port: EvtchnPort) -> bool {
        self.events().take_pending(port)
    }

    /// Block until one of `ports` is pending or Xen system time reaches
    /// `deadline_ns`. Returns at once if one already is. At most 128 ports
    /// (Xen's limit); an empty list just sleeps until the deadline.
    pub fn poll(&self, ports: &[EvtchnPort], deadline_ns: u64) {
        let ports = &ports[..ports.len().min(POLL_MAX_PORTS)];
        if ports.iter().any(|&p| self.events().is_pending(p)) {
            return;
        }
        // A zero timeout means "forever" to Xen; a deadline already past
        // must not become that.
        let deadline = deadline_ns.max(1);
        let mut arg = SchedPoll { ports: ports.as_ptr(), nr_ports: ports.len() as u32, timeout: deadline };
        // SAFETY: SchedPoll is sched_poll; the ports slice outlives the call.
        unsafe { hypercall::call_with(nr::SCHED_OP, SCHEDOP_POLL, &mut arg) };
    }

    /// Sleep for `ns` nanoseconds.
    pub fn sleep_ns(&self, ns: u64) {
        let deadline = self.now_ns().saturating_add(ns);
        while self.now_ns() < deadline {
            self.poll(&[], deadline);
        }
    }
}
