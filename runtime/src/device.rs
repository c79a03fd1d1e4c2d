//! Network devices owned by the driver, not by an element: the Xen guest's vifs.
//!
//! The driver talks to the hardware (netfront rings) on its own schedule and
//! meets the router at two bounded queues per device: frames it received wait in
//! `rx` until the device's FromNetfront element takes them; frames elements send
//! wait in `tx` until the driver hands them to the hardware. Keeping the rings
//! on the driver's side keeps every element free of platform code, so the same
//! elements run (and are tested) on the host, and a hot swap hands the queues,
//! with the packets in them, to the new router.

use alloc::collections::VecDeque;
use alloc::string::String;

use crate::packet::Packet;

/// Frames a device queue holds at most in each direction; beyond that a frame
/// is dropped and counted (a ring's worth: netfront rings have 256 slots).
pub const DEVICE_QUEUE_CAPACITY: usize = 1024;

/// What the driver tells the router about a device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The driver's name for it (`vif0`).
    pub name: String,
    pub mac: [u8; 6],
}

impl DeviceInfo {
    /// `n` stand-in vifs (`vif0`...; no address), for checking a guest
    /// configuration on a host as the guest would build it.
    pub fn placeholder_vifs(n: usize) -> alloc::vec::Vec<DeviceInfo> {
        (0..n).map(|i| DeviceInfo { name: alloc::format!("vif{i}"), mac: [0; 6] }).collect()
    }
}

/// A device's queues and counters.
#[derive(Default)]
pub struct Device {
    pub info: DeviceInfo,
    pub(crate) rx: VecDeque<Packet>,
    pub(crate) tx: VecDeque<Packet>,
    /// Received frames dropped because `rx` was full.
    pub rx_drops: u64,
    /// Frames elements sent while `tx` was full.
    pub tx_drops: u64,
}

impl Device {
    pub fn new(info: DeviceInfo) -> Device {
        Device { info, ..Device::default() }
    }

    /// Frames waiting to be sent.
    pub fn tx_len(&self) -> usize {
        self.tx.len()
    }

    /// Frames waiting for the router.
    pub fn rx_len(&self) -> usize {
        self.rx.len()
    }

    /// Whether `tx` can take another frame.
    pub fn tx_has_room(&self) -> bool {
        self.tx.len() < DEVICE_QUEUE_CAPACITY
    }

    /// Queue `p` to be sent; false (and counted in `tx_drops`) when `tx` is
    /// full and `p` was dropped.
    pub fn send(&mut self, p: Packet) -> bool {
        if self.tx_has_room() {
            self.tx.push_back(p);
            true
        } else {
            self.tx_drops += 1;
            false
        }
    }

    /// The oldest received frame.
    pub fn receive(&mut self) -> Option<Packet> {
        self.rx.pop_front()
    }
}
