//! Xenbus: how a frontend and its backend agree to connect (io/xenbus.h).
//!
//! Each end publishes its state in its own xenstore directory (`state`) and
//! watches the other's. A frontend in oxclick follows the order Linux and
//! Mini-OS use: wait for the backend to reach `InitWait`, publish rings and
//! event channels together with state `Connected` in one transaction, then
//! wait for the backend to report `Connected`. [`FrontendHandshake`] is that
//! order as a pure state machine; the driver does the xenstore I/O.

use alloc::string::String;
use alloc::vec::Vec;

/// `enum xenbus_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum XenbusState {
    Unknown = 0,
    Initialising = 1,
    /// The backend is ready for the frontend's details.
    InitWait = 2,
    Initialised = 3,
    Connected = 4,
    Closing = 5,
    Closed = 6,
    Reconfiguring = 7,
    Reconfigured = 8,
}

impl XenbusState {
    pub fn from_u32(v: u32) -> Option<XenbusState> {
        use XenbusState::*;
        Some(match v {
            0 => Unknown,
            1 => Initialising,
            2 => InitWait,
            3 => Initialised,
            4 => Connected,
            5 => Closing,
            6 => Closed,
            7 => Reconfiguring,
            8 => Reconfigured,
            _ => return None,
        })
    }

    /// Parse a `state` node's value. Anything else than a known number is `None`.
    pub fn parse(value: &[u8]) -> Option<XenbusState> {
        crate::xenstore::client::parse_u32(value).and_then(XenbusState::from_u32)
    }

    /// The value to write into a `state` node.
    pub fn as_str(self) -> &'static str {
        ["0", "1", "2", "3", "4", "5", "6", "7", "8"][self as usize]
    }
}

/// What the driver must do after the backend's state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeStep {
    /// Nothing yet: keep watching the backend's state.
    Wait,
    /// Publish rings, event channels and features, and set our state to
    /// `Connected`, in one transaction.
    Publish,
    /// The backend connected: the device is usable.
    Up,
    /// The backend is closing: stop using the rings, set our state to
    /// `Closing`, then `Closed` once the backend is `Closed`.
    Close,
    /// Both ends are closed.
    Down,
    /// The backend went away before connecting.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakePhase {
    AwaitBackend,
    AwaitConnected,
    Connected,
    Closing,
    Closed,
    Failed,
}

/// The frontend side of the handshake.
#[derive(Clone, Copy, Debug)]
pub struct FrontendHandshake {
    phase: HandshakePhase,
}

impl Default for FrontendHandshake {
    fn default() -> Self {
        Self::new()
    }
}

impl FrontendHandshake {
    pub fn new() -> Self {
        FrontendHandshake { phase: HandshakePhase::AwaitBackend }
    }

    pub fn phase(&self) -> HandshakePhase {
        self.phase
    }

    /// Feed the backend's current state (`None` when its node is missing or
    /// unreadable, which counts as not there yet).
    pub fn on_backend_state(&mut self, backend: Option<XenbusState>) -> HandshakeStep {
        use HandshakePhase as P;
        use XenbusState as S;
        let backend = backend.unwrap_or(S::Unknown);
        let (phase, step) = match (self.phase, backend) {
            (P::AwaitBackend, S::InitWait | S::Initialised | S::Connected) => {
                (P::AwaitConnected, HandshakeStep::Publish)
            }
            (P::AwaitBackend | P::AwaitConnected, S::Closing | S::Closed) => (P::Failed, HandshakeStep::Failed),
            (P::AwaitConnected, S::Connected) => (P::Connected, HandshakeStep::Up),
            (P::Connected, S::Closing | S::Closed) => (P::Closing, HandshakeStep::Close),
            (P::Closing, S::Closed) => (P::Closed, HandshakeStep::Down),
            (phase, _) => (phase, HandshakeStep::Wait),
        };
        self.phase = phase;
        step
    }
}

/// Parse a MAC address as the toolstack writes it (`00:16:3e:01:02:03`).
pub fn parse_mac(text: &[u8]) -> Option<[u8; 6]> {
    let text = core::str::from_utf8(text).ok()?.trim();
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in mac.iter_mut() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Device indices found under a `device/<class>` directory, numerically
/// sorted; names that are not numbers are skipped.
pub fn device_indices(names: &[String]) -> Vec<u32> {
    let mut indices: Vec<u32> = names.iter().filter_map(|n| crate::xenstore::client::parse_u32(n.as_bytes())).collect();
    indices.sort_unstable();
    indices.dedup();
    indices
}

#[cfg(test)]
mod tests {
    use super::*;
    use HandshakeStep as Step;
    use XenbusState as S;

    #[test]
    fn states_parse_and_print() {
        for v in 0..=8 {
            let s = XenbusState::from_u32(v).unwrap();
            assert_eq!(XenbusState::parse(s.as_str().as_bytes()), Some(s));
        }
        assert_eq!(XenbusState::parse(b"4\n"), Some(S::Connected));
        assert_eq!(XenbusState::parse(b"9"), None);
        assert_eq!(XenbusState::parse(b"connected"), None);
    }

    #[test]
    fn normal_handshake() {
        let mut h = FrontendHandshake::new();
        assert_eq!(h.on_backend_state(None), Step::Wait);
        assert_eq!(h.on_backend_state(Some(S::Initialising)), Step::Wait);
        assert_eq!(h.on_backend_state(Some(S::InitWait)), Step::Publish);
        // A repeated watch event for the same state must not publish twice.
        assert_eq!(h.on_backend_state(Some(S::InitWait)), Step::Wait);
        assert_eq!(h.on_backend_state(Some(S::Connected)), Step::Up);
        assert_eq!(h.phase(), HandshakePhase::Connected);
        assert_eq!(h.on_backend_state(Some(S::Connected)), Step::Wait);
        assert_eq!(h.on_backend_state(Some(S::Closing)), Step::Close);
        assert_eq!(h.on_backend_state(Some(S::Closing)), Step::Wait);
        assert_eq!(h.on_backend_state(Some(S::Closed)), Step::Down);
    }

    #[test]
    fn backend_that_dies_early_fails_the_handshake() {
        let mut h = FrontendHandshake::new();
        assert_eq!(h.on_backend_state(Some(S::Closed)), Step::Failed);
        let mut h = FrontendHandshake::new();
        h.on_backend_state(Some(S::InitWait));
        assert_eq!(h.on_backend_state(Some(S::Closing)), Step::Failed);
        assert_eq!(h.on_backend_state(Some(S::Connected)), Step::Wait, "failed stays failed");
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(parse_mac(b"00:16:3e:0a:ff:01"), Some([0, 0x16, 0x3e, 0x0a, 0xff, 0x01]));
        assert_eq!(parse_mac(b"0:16:3E:a:ff:1\n"), Some([0, 0x16, 0x3e, 0x0a, 0xff, 0x01]));
        assert_eq!(parse_mac(b"00:16:3e:0a:ff"), None);
        assert_eq!(parse_mac(b"00:16:3e:0a:ff:01:02"), None);
        assert_eq!(parse_mac(b"00:16:3e:0a:ff:0g"), None);
        assert_eq!(parse_mac(b"00:16:3e:0a:ff:100"), None);
        assert_eq!(parse_mac(b"\xff"), None);
    }

    #[test]
    fn device_indices_sort_numerically() {
        let names: Vec<String> = ["10", "2", "0", "x", "2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(device_indices(&names), [0, 2, 10]);
    }
}
