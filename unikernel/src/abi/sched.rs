//! `HYPERVISOR_sched_op` (sched.h).

use super::EvtchnPort;

pub const SCHEDOP_YIELD: u32 = 0;
pub const SCHEDOP_BLOCK: u32 = 1;
pub const SCHEDOP_SHUTDOWN: u32 = 2;
pub const SCHEDOP_POLL: u32 = 3;

/// Why the domain shuts down (`SHUTDOWN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ShutdownReason {
    /// Exited normally: the toolstack cleans up (`on_poweroff`).
    Poweroff = 0,
    Reboot = 1,
    Suspend = 2,
    /// The guest crashed (`on_crash`).
    Crash = 3,
    Watchdog = 4,
}

/// `struct sched_shutdown`.
#[repr(C)]
pub struct SchedShutdown {
    pub reason: u32,
}

/// `struct sched_poll`: block until one of `ports` is pending or the absolute
/// Xen system time `timeout` (ns; 0 = none) passes. At most 128 ports.
#[repr(C)]
pub struct SchedPoll {
    pub ports: *const EvtchnPort,
    pub nr_ports: u32,
    pub timeout: u64,
}

/// Xen rejects a poll on more ports than this (`do_poll`).
pub const POLL_MAX_PORTS: usize = 128;

const _: () = {
    assert!(core::mem::size_of::<SchedPoll>() == 24);
    assert!(core::mem::offset_of!(SchedPoll, nr_ports) == 8);
    assert!(core::mem::offset_of!(SchedPoll, timeout) == 16);
};
