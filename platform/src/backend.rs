//! What runs a tenant's router: a Xen guest (`xl`) or a host process (`process`).
//! The daemon drives both through [`Backend`]; everything it knows about a running
//! router is the [`Attached`] the backend handed back.

use std::path::PathBuf;

use oxclick_consolidate::Tenant;

/// A tenant's router as the backend left it: where its frames go (a Linux
/// interface in dom0 or on the host: a vif, or the daemon's end of a veth) and
/// what the backend needs to find it again (a domain name, a process id), also
/// after a daemon restart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attached {
    pub port: String,
    pub handle: String,
}

/// Everything a backend needs to start a tenant.
#[derive(Clone, Debug)]
pub struct StartSpec {
    pub tenant: Tenant,
    /// The tenant's router configuration, merged and checked (its guard included).
    pub config: String,
    /// Where the backend may keep files for this tenant (configurations, saved images).
    pub dir: PathBuf,
}

pub trait Backend: Send + Sync {
    /// `process` or `xl`.
    fn name(&self) -> &'static str;

    /// The configuration text the tenant's router runs, given the tenant's merged
    /// body: its platform input and output elements for this backend.
    fn io_elements(&self, tenant: &str) -> (String, String);

    /// Start the tenant's router and return once it takes frames.
    fn boot(&self, spec: &StartSpec) -> Result<Attached, String>;

    /// Freeze a running router, keeping its state (flows, mappings, counters).
    fn suspend(&self, spec: &StartSpec, at: &Attached) -> Result<(), String>;

    /// Thaw a suspended router; it may come back on another port.
    fn resume(&self, spec: &StartSpec, at: &Attached) -> Result<Attached, String>;

    /// Stop it for good.
    fn destroy(&self, spec: &StartSpec, at: &Attached) -> Result<(), String>;

    /// Whether it still runs (or is suspended); false once it crashed or was killed.
    fn alive(&self, at: &Attached) -> bool;
}
