//! What the consolidation tests share: a manifest with its files in memory, frames,
//! and a merged router driven through its device queues as the Xen guest drives it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oxclick_consolidate::{Manifest, Merged, consolidate};
use oxclick_runtime::{DeviceInfo, Router, RouterOptions};

/// A manifest and its tenants' files, in memory.
pub struct Setup {
    pub manifest: String,
    pub files: HashMap<PathBuf, String>,
}

impl Setup {
    pub fn new(manifest: &str) -> Setup {
        Setup { manifest: manifest.into(), files: HashMap::new() }
    }

    pub fn file(mut self, name: &str, text: &str) -> Setup {
        self.files.insert(Path::new("/t").join(name), text.into());
        self
    }

    pub fn merge(&self) -> Result<Merged, Vec<String>> {
        let m = Manifest::parse(&self.manifest, "tenants.toml", Path::new("/t"))?;
        let read = |p: &Path| {
            self.files.get(p).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        };
        consolidate(&m, &read, &oxclick_elements::registry())
    }
}

pub fn router(text: &str) -> Router {
    let opts = RouterOptions::quiet(vec![DeviceInfo { name: "vif0".into(), mac: [0, 0x16, 0x3e, 0, 0, 1] }]);
    Router::from_text(text, "merged.click", &oxclick_elements::registry(), opts).unwrap_or_else(|e| panic!("{e:?}"))
}

pub fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet/IPv4 frame with a valid header checksum.
pub fn frame(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8 + 18];
    f[..6].copy_from_slice(&[0, 0x16, 0x3e, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let sum = ip_checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f
}

pub fn read(r: &Router, spec: &str) -> String {
    let (e, h) = spec.rsplit_once('.').unwrap();
    let i = r.find(e).unwrap_or_else(|| panic!("no element {e}"));
    r.read_handler(Some(i), h).unwrap_or_else(|| panic!("no handler {spec}"))
}

/// Feed `frames` in, run, and return what left.
pub fn exchange(r: &mut Router, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    for f in frames {
        assert!(r.device_receive(0, f));
    }
    r.run_while_busy();
    let mut out = Vec::new();
    r.device_transmit(0, |f| {
        out.push(f.to_vec());
        true
    });
    out
}
