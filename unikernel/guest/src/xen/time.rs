//! Xen system time: nanoseconds since the domain was created, from the TSC
//! scaled by vcpu 0's `vcpu_time_info` in the shared info page.

use oxclick_unikernel::abi::shared_info::{VcpuTimeInfo, vcpu_time_offset};
use oxclick_unikernel::pvclock;

use super::Xen;
use crate::arch::cpu;

impl Xen {
    fn time_info(&self) -> VcpuTimeInfo {
        // SAFETY: the shared info page is mapped; vcpu 0's time info lies
        // within it. Volatile: Xen rewrites it at any time.
        unsafe { core::ptr::read_volatile(self.shared_info().as_ptr().add(vcpu_time_offset(0)) as *const VcpuTimeInfo) }
    }

    /// Current Xen system time in ns; never goes backwards.
    pub fn now_ns(&self) -> u64 {
        let (info, tsc) = pvclock::read_consistent(|| self.time_info(), cpu::rdtsc, 1000);
        let now = pvclock::system_time_ns(&info, tsc).max(self.last_ns.get());
        self.last_ns.set(now);
        now
    }

    /// TSC frequency implied by Xen's parameters (for logs).
    pub fn tsc_hz(&self) -> u64 {
        pvclock::tsc_hz(&self.time_info())
    }
}
