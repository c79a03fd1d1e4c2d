//! Finding vifs in xenstore and connecting them to their backends.
//!
//! The toolstack creates `device/vif/N` (relative to our home) with
//! `backend`, `backend-id`, `mac` and `state` = 1 for every `vif=` entry, and
//! the backend directory (usually dom0's `backend/vif/<domid>/N`). The
//! frontend then follows [`FrontendHandshake`]: when the backend reaches
//! `InitWait` it writes its ring references, event channel and features plus
//! `state` = 4 in one transaction, and the link is up once the backend
//! reports `Connected`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{NetError, Netfront, Platform, VifConfig};
use crate::abi::DomId;
use crate::xenbus::{FrontendHandshake, HandshakeStep, XenbusState, device_indices, parse_mac};
use crate::xenstore::wire::ABS_PATH_MAX;
use crate::xenstore::{Client, Error as XsError, NO_TX, Transport};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VifError {
    Xenstore(XsError),
    /// A frontend node is missing or malformed.
    BadNode(&'static str),
    Net(NetError),
    /// The backend cannot copy into our pages (no `feature-rx-copy`).
    NoRxCopy,
    /// The backend closed before connecting.
    BackendGone,
}

impl From<XsError> for VifError {
    fn from(e: XsError) -> Self {
        VifError::Xenstore(e)
    }
}

impl From<NetError> for VifError {
    fn from(e: NetError) -> Self {
        VifError::Net(e)
    }
}

impl core::fmt::Display for VifError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VifError::Xenstore(e) => write!(f, "{e}"),
            VifError::BadNode(what) => write!(f, "bad vif node: {what}"),
            VifError::Net(e) => write!(f, "{e}"),
            VifError::NoRxCopy => write!(f, "backend lacks feature-rx-copy"),
            VifError::BackendGone => write!(f, "backend closed before connecting"),
        }
    }
}

/// The vif indices under `device/vif`, in numeric order (none if absent).
pub fn discover<T: Transport>(xs: &mut Client<T>) -> Result<Vec<u32>, XsError> {
    match xs.directory(NO_TX, "device/vif") {
        Ok(names) => Ok(device_indices(&names)),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// What the toolstack wrote about one vif.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifNode {
    pub index: u32,
    /// Our directory, relative to the domain's home: `device/vif/N`.
    pub frontend: String,
    /// The backend's directory, absolute.
    pub backend: String,
    pub backend_id: DomId,
    pub mac: [u8; 6],
}

impl VifNode {
    pub fn read<T: Transport>(xs: &mut Client<T>, index: u32) -> Result<VifNode, VifError> {
        let frontend = format!("device/vif/{index}");
        let backend = xs.read_string(NO_TX, &format!("{frontend}/backend"))?;
        if !backend.starts_with('/') || backend.len() > ABS_PATH_MAX / 2 || backend.contains('\0') {
            return Err(VifError::BadNode("backend path"));
        }
        let backend_id = xs.read_u32(NO_TX, &format!("{frontend}/backend-id"))?;
        let backend_id = DomId::try_from(backend_id).map_err(|_| VifError::BadNode("backend-id"))?;
        let mac = parse_mac(&xs.read(NO_TX, &format!("{frontend}/mac"))?).ok_or(VifError::BadNode("mac"))?;
        Ok(VifNode { index, frontend, backend, backend_id, mac })
    }
}

/// Link changes reported to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    Up,
    Down,
}

/// One vif: its xenstore identity, its rings and buffers, its handshake.
pub struct Vif {
    pub node: VifNode,
    pub net: Netfront,
    handshake: FrontendHandshake,
    token: String,
}

impl Vif {
    /// Read the vif's nodes, set up rings and buffers, and watch the backend's state.
    pub fn new<T: Transport>(
        xs: &mut Client<T>,
        platform: &mut impl Platform,
        index: u32,
        config: VifConfig,
    ) -> Result<Vif, VifError> {
        let node = VifNode::read(xs, index)?;
        let net = Netfront::new(platform, node.backend_id, config)?;
        let token = format!("vif/{index}");
        xs.watch(&format!("{}/state", node.backend), &token)?;
        Ok(Vif { node, net, handshake: FrontendHandshake::new(), token })
    }

    /// After the domain was restored from a saved image: read the vif's nodes
    /// again (the backend's path names the new domain), reconnect the rings and
    /// start the handshake over, watching the new backend's state. The caller
    /// has reset the grant table and told the xenstore client to forget this
    /// vif's old watch.
    pub fn reconnect<T: Transport>(
        &mut self,
        xs: &mut Client<T>,
        platform: &mut impl Platform,
    ) -> Result<(), VifError> {
        self.node = VifNode::read(xs, self.node.index)?;
        self.net.reconnect(platform, self.node.backend_id)?;
        self.handshake = FrontendHandshake::new();
        xs.watch(&format!("{}/state", self.node.backend), &self.token)?;
        Ok(())
    }

    /// The watch token whose events concern this vif.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn is_up(&self) -> bool {
        self.handshake.phase() == crate::xenbus::HandshakePhase::Connected && self.net.broken().is_none()
    }

    /// Re-read the backend's state and take the next handshake step.
    pub fn on_backend_change<T: Transport>(
        &mut self,
        xs: &mut Client<T>,
        platform: &mut impl Platform,
    ) -> Result<Option<LinkEvent>, VifError> {
        let state = match xs.read(NO_TX, &format!("{}/state", self.node.backend)) {
            Ok(value) => XenbusState::parse(&value),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        match self.handshake.on_backend_state(state) {
            HandshakeStep::Wait => Ok(None),
            HandshakeStep::Publish => {
                self.publish(xs)?;
                Ok(None)
            }
            HandshakeStep::Up => {
                // Kick the backend: the rx buffers have been waiting.
                platform.notify(self.net.port());
                Ok(Some(LinkEvent::Up))
            }
            HandshakeStep::Close => {
                self.set_state(xs, XenbusState::Closing)?;
                Ok(Some(LinkEvent::Down))
            }
            HandshakeStep::Down => {
                self.set_state(xs, XenbusState::Closed)?;
                Ok(None)
            }
            HandshakeStep::Failed => Err(VifError::BackendGone),
        }
    }

    fn set_state<T: Transport>(&self, xs: &mut Client<T>, state: XenbusState) -> Result<(), XsError> {
        xs.write(NO_TX, &format!("{}/state", self.node.frontend), state.as_str().as_bytes())
    }

    /// Tell the backend where everything is, and that we are connected.
    fn publish<T: Transport>(&mut self, xs: &mut Client<T>) -> Result<(), VifError> {
        let rx_copy = xs.read(NO_TX, &format!("{}/feature-rx-copy", self.node.backend));
        if !matches!(rx_copy.as_deref(), Ok(b"1")) {
            return Err(VifError::NoRxCopy);
        }
        let (tx_ref, rx_ref) = self.net.ring_refs();
        let port = self.net.port();
        let dir = self.node.frontend.clone();
        xs.transaction(|xs, tx| {
            let put = |xs: &mut Client<T>, key: &str, value: &str| -> Result<(), XsError> {
                xs.write(tx, &format!("{dir}/{key}"), value.as_bytes())
            };
            put(xs, "tx-ring-ref", &format!("{tx_ref}"))?;
            put(xs, "rx-ring-ref", &format!("{rx_ref}"))?;
            put(xs, "event-channel", &format!("{port}"))?;
            // Packets are copied into our granted pages, one slot each.
            put(xs, "request-rx-copy", "1")?;
            // We notify for rx requests; Linux netback refuses frontends that don't.
            put(xs, "feature-rx-notify", "1")?;
            put(xs, "feature-sg", "0")?;
            put(xs, "feature-gso-tcpv4", "0")?;
            put(xs, "feature-gso-tcpv6", "0")?;
            // Received packets must carry complete checksums: a dataplane
            // forwards them, it does not finish them.
            put(xs, "feature-no-csum-offload", "1")?;
            put(xs, "feature-ipv6-csum-offload", "0")?;
            put(xs, "state", XenbusState::Connected.as_str())
        })?;
        Ok(())
    }
}
