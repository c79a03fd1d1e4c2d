//! The In-Net platform in dom0 (seed 003, section 5): tenants register addresses
//! and `<addr, proto, port>` 3-tuples; the first packet for a tenant whose router
//! is not running boots it (or resumes it), buffered until the router takes
//! frames; idle routers are suspended (stateless ones stopped); crashed ones are
//! restarted; `oxclick platform add-tenant | remove-tenant | status` talk to the
//! daemon over a Unix socket, and its state survives a restart.
//!
//! A tenant's router is the consolidation of that one tenant (its configuration
//! checked against the isolation rules, behind its guard), run by a [`Backend`]:
//! [`xl::XlBackend`] boots it as an oxclick Xen guest (and suspends it with
//! `xl save`), [`process::ProcessBackend`] runs it as a host process on a veth
//! pair, so the daemon's logic is tested quickly without Xen.
//!
//! Its own crate: a long-running dom0 service with its own state, built on the
//! consolidator and the host I/O elements, which the guest never needs.

pub mod backend;
pub mod daemon;
pub mod frames;
pub mod hotplug_script;
pub mod process;
pub mod store;
pub mod tool;
pub mod xl;

pub use backend::{Attached, Backend, StartSpec};
pub use daemon::{Options, Platform, call};
