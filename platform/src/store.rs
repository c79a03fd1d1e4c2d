//! The daemon's state on disk (`STATE/state.toml`): every tenant with its
//! registration and configuration, and where its router is, so a restarted daemon
//! picks up where it left off. Written whole to a temporary file and renamed over
//! the old one, so a crash mid-write never leaves half a state.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use oxclick_consolidate::{Flow, Tenant};
use oxclick_elements::tenant_guard::Trust;
use serde::{Deserialize, Serialize};

use crate::backend::Attached;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Stored {
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<StoredTenant>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StoredTenant {
    pub name: String,
    pub addresses: Vec<Ipv4Addr>,
    /// `ADDR PROTO PORT`.
    pub flows: Vec<String>,
    pub config: String,
    pub trust: String,
    pub memory: usize,
    pub allow: Vec<String>,
    pub peers: usize,
    /// The tenant's configuration text as it was added.
    pub body: String,
    pub attached: Option<Attached>,
    pub suspended: bool,
    pub boots: u64,
    pub resumes: u64,
    pub restarts: u64,
}

impl StoredTenant {
    pub fn new(
        t: &Tenant,
        body: &str,
        attached: Option<Attached>,
        suspended: bool,
        boots: u64,
        resumes: u64,
        restarts: u64,
    ) -> StoredTenant {
        StoredTenant {
            name: t.name.clone(),
            addresses: t.addresses.clone(),
            flows: t.flows.iter().map(|f| format!("{} {} {}", f.addr, f.proto, f.port)).collect(),
            config: t.config_path.display().to_string(),
            trust: t.trust.name().into(),
            memory: t.memory,
            allow: t.allow.clone(),
            peers: t.peers,
            body: body.into(),
            attached,
            suspended,
            boots,
            resumes,
            restarts,
        }
    }

    pub fn tenant(&self) -> Tenant {
        let flows = self
            .flows
            .iter()
            .filter_map(|f| {
                let mut w = f.split_whitespace();
                Some(Flow {
                    addr: w.next()?.parse().ok()?,
                    proto: w.next()?.parse().ok()?,
                    port: w.next()?.parse().ok()?,
                })
            })
            .collect();
        Tenant {
            name: self.name.clone(),
            addresses: self.addresses.clone(),
            flows,
            config: self.config.clone(),
            config_path: PathBuf::from(&self.config),
            trust: Trust::parse(&self.trust).unwrap_or(Trust::ThirdParty),
            memory: self.memory,
            allow: self.allow.clone(),
            peers: self.peers,
            line: 1,
        }
    }
}

pub fn load(path: &Path) -> Result<Option<Stored>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn save(path: &Path, s: &Stored) -> Result<(), String> {
    let text = toml::to_string(s).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("toml.new");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
