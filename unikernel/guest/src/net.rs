//! Network devices: every `device/vif/N` the toolstack gave us, driven by
//! the library's netfront through [`GuestPlatform`].
//!
//! Each vif watches its backend's state; the event loop feeds those watch
//! events to [`Net::on_watch`] and polls the vifs' event channels, calling
//! [`Net::receive`] to hand packets to whoever consumes them (today the
//! network check; the element runtime later).

use alloc::vec::Vec;

use oxclick_unikernel::abi::{DomId, EvtchnPort, GrantRef, PAGE_SHIFT};
use oxclick_unikernel::grant::{GrantError, Grants};
use oxclick_unikernel::netfront::handshake::{LinkEvent, Vif, discover};
use oxclick_unikernel::netfront::{DmaPage, NetError, Platform, VifConfig};

use crate::xen::Xen;
use crate::xen::store::Xenstore;
use crate::{heap, log};

/// Netfront's view of the guest: heap pages (identity mapped, so the frame
/// number is the address >> 12), our grant table, Xen's event channels.
pub struct GuestPlatform<'a> {
    pub xen: &'static Xen,
    pub grants: &'a mut Grants,
}

impl Platform for GuestPlatform<'_> {
    fn alloc_page(&mut self) -> Option<DmaPage> {
        let ptr = heap::alloc_pages(1)?;
        Some(DmaPage { ptr, gfn: ptr.as_ptr() as u64 >> PAGE_SHIFT })
    }

    fn grant_access(&mut self, domid: DomId, gfn: u64, readonly: bool) -> Result<GrantRef, GrantError> {
        self.grants.grant(domid, gfn, readonly)
    }

    fn end_access(&mut self, gref: GrantRef) -> Result<(), GrantError> {
        self.grants.revoke(gref)
    }

    fn alloc_unbound_evtchn(&mut self, remote: DomId) -> Result<EvtchnPort, i64> {
        self.xen.evtchn_alloc_unbound(remote)
    }

    fn notify(&mut self, port: EvtchnPort) {
        self.xen.evtchn_send(port);
    }
}

pub fn format_mac(mac: &[u8; 6]) -> alloc::string::String {
    alloc::format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
}

/// All vifs of the domain.
pub struct Net {
    pub vifs: Vec<Vif>,
}

impl Net {
    /// Find the vifs and set each up; one that fails is logged and left out.
    pub fn start(xs: &mut Xenstore, platform: &mut GuestPlatform<'_>) -> Net {
        let indices = match discover(xs) {
            Ok(i) => i,
            Err(e) => {
                log!("oxclick: cannot list device/vif: {e}");
                Vec::new()
            }
        };
        let mut vifs = Vec::new();
        for index in indices {
            match Vif::new(xs, platform, index, VifConfig::default()) {
                Ok(vif) => {
                    log!(
                        "oxclick: vif{index}: mac {}, backend {} (domain {}), event channel {}",
                        format_mac(&vif.node.mac),
                        vif.node.backend,
                        vif.node.backend_id,
                        vif.net.port()
                    );
                    vifs.push(vif);
                }
                Err(e) => log!("oxclick: vif{index}: cannot set up: {e}"),
            }
        }
        Net { vifs }
    }

    /// A watch event fired; returns true if it was one of ours.
    pub fn on_watch(&mut self, token: &str, xs: &mut Xenstore, platform: &mut GuestPlatform<'_>) -> bool {
        let Some(vif) = self.vifs.iter_mut().find(|v| v.token() == token) else { return false };
        let index = vif.node.index;
        match vif.on_backend_change(xs, platform) {
            Ok(Some(LinkEvent::Up)) => log!("oxclick: vif{index}: connected"),
            Ok(Some(LinkEvent::Down)) => log!("oxclick: vif{index}: backend closing, link down"),
            Ok(None) => {}
            Err(e) => log!("oxclick: vif{index}: {e}"),
        }
        true
    }

    pub fn all_up(&self) -> bool {
        self.vifs.iter().all(Vif::is_up)
    }

    /// Event channels to poll.
    pub fn ports(&self) -> impl Iterator<Item = EvtchnPort> + '_ {
        self.vifs.iter().map(|v| v.net.port())
    }

    /// Drain every connected vif's rx ring into `deliver(vif position, packet)`.
    pub fn receive(&mut self, platform: &mut GuestPlatform<'_>, mut deliver: impl FnMut(usize, &[u8])) {
        for (i, vif) in self.vifs.iter_mut().enumerate() {
            // Clear the event even while the link is down, or every poll
            // would return at once.
            platform.xen.take_pending(vif.net.port());
            if !vif.is_up() {
                continue;
            }
            if let Err(e) = vif.net.receive(platform, |p| deliver(i, p)) {
                log!("oxclick: vif{}: disabled: {e}", vif.node.index);
            }
        }
    }

    /// Put one frame on vif position `i`'s ring, to go with the next [`Net::flush`].
    pub fn queue(&mut self, i: usize, frame: &[u8]) -> Result<(), NetError> {
        let vif = self.vifs.get_mut(i).ok_or(NetError::BadConfig)?;
        if !vif.is_up() {
            return Err(NetError::TxFull);
        }
        vif.net.transmit(frame)
    }

    /// Tell vif position `i`'s backend about the frames queued since the last flush.
    pub fn flush(&mut self, i: usize, platform: &mut GuestPlatform<'_>) {
        if let Some(vif) = self.vifs.get_mut(i) {
            vif.net.flush(platform);
        }
    }

    /// Send one frame on vif position `i` right away.
    pub fn send(&mut self, i: usize, frame: &[u8], platform: &mut GuestPlatform<'_>) -> Result<(), NetError> {
        let vif = &mut self.vifs[i];
        vif.net.transmit(frame)?;
        vif.net.flush(platform);
        Ok(())
    }
}
