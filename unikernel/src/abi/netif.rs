//! The network interface protocol (io/netif.h): one tx and one rx shared ring
//! per queue, each a page. oxclick uses the rx-copy mode, one slot per packet,
//! no offloads.

use super::GrantRef;

/// `struct netif_tx_request`: send `size` bytes at `offset` of the granted page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct NetifTxRequest {
    pub gref: GrantRef,
    pub offset: u16,
    pub flags: u16,
    pub id: u16,
    pub size: u16,
}

/// `struct netif_tx_response`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct NetifTxResponse {
    pub id: u16,
    pub status: i16,
}

/// `struct netif_rx_request`: a granted page the backend may copy a packet into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct NetifRxRequest {
    pub id: u16,
    pub pad: u16,
    pub gref: GrantRef,
}

/// `struct netif_rx_response`: `status` is the packet length, or negative `NETIF_RSP_*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct NetifRxResponse {
    pub id: u16,
    pub offset: u16,
    pub flags: u16,
    pub status: i16,
}

/// `struct netif_extra_info` occupies a ring slot too (8 bytes); only its size
/// matters to us, because the tx ring's slot is the union of all three.
pub const NETIF_EXTRA_INFO_SIZE: usize = 8;

/// Tx flags.
pub const NETTXF_CSUM_BLANK: u16 = 1 << 0;
pub const NETTXF_DATA_VALIDATED: u16 = 1 << 1;
pub const NETTXF_MORE_DATA: u16 = 1 << 2;
pub const NETTXF_EXTRA_INFO: u16 = 1 << 3;

/// Rx flags.
pub const NETRXF_DATA_VALIDATED: u16 = 1 << 0;
pub const NETRXF_CSUM_BLANK: u16 = 1 << 1;
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;

pub const NETIF_RSP_DROPPED: i16 = -2;
pub const NETIF_RSP_ERROR: i16 = -1;
pub const NETIF_RSP_OKAY: i16 = 0;
/// Used by backends for the response slot of an extra-info request.
pub const NETIF_RSP_NULL: i16 = 1;

const _: () = {
    assert!(core::mem::size_of::<NetifTxRequest>() == 12);
    assert!(core::mem::offset_of!(NetifTxRequest, offset) == 4);
    assert!(core::mem::offset_of!(NetifTxRequest, id) == 8);
    assert!(core::mem::size_of::<NetifTxResponse>() == 4);
    assert!(core::mem::size_of::<NetifRxRequest>() == 8);
    assert!(core::mem::offset_of!(NetifRxRequest, gref) == 4);
    assert!(core::mem::size_of::<NetifRxResponse>() == 8);
    assert!(core::mem::offset_of!(NetifRxResponse, status) == 6);
};
