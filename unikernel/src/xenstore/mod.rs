//! Xenstore: the hierarchical key-value store through which a guest finds its
//! devices and talks to the toolstack and to device backends.
//!
//! [`wire`] is the message format, [`client`] the request/reply and watch
//! logic over any [`client::Transport`]; the guest's transport is the shared
//! ring page at `HVM_PARAM_STORE_PFN` plus its event channel.

pub mod client;
pub mod wire;

#[cfg(any(test, feature = "fake-xenstored"))]
pub mod fake;

pub use client::{Client, Error, NO_TX, Transport, TransportError, TxId, WatchEvent};
