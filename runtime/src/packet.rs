//! Packets: one contiguous buffer with headroom, plus Click's annotations.

use alloc::vec;
use alloc::vec::Vec;

/// Headroom new packets get, so encapsulation rarely reallocates.
pub const DEFAULT_HEADROOM: usize = 64;

/// The annotations elements read and write (a subset of Click's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    pub paint: u8,
    /// Nanoseconds of the router clock.
    pub timestamp: u64,
    pub dst_ip: [u8; 4],
    /// Offset of the network header from the start of the data, if set.
    pub network_header: Option<usize>,
    pub transport_header: Option<usize>,
    pub user: [u8; 8],
}

/// A packet: `buf[head..]` is its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    buf: Vec<u8>,
    head: usize,
    pub anno: Annotations,
}

impl Packet {
    /// A packet holding a copy of `data`, with default headroom.
    pub fn from_data(data: &[u8]) -> Packet {
        let mut buf = vec![0u8; DEFAULT_HEADROOM];
        buf.extend_from_slice(data);
        Packet { buf, head: DEFAULT_HEADROOM, anno: Annotations::default() }
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..]
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn headroom(&self) -> usize {
        self.head
    }

    /// Remove `n` bytes from the front (at most the whole packet).
    pub fn pull(&mut self, n: usize) {
        self.head += n.min(self.len());
    }

    /// Give back `n` bytes in front of the data: the bytes a `pull` removed when they
    /// are still in the headroom, else zeros.
    pub fn unpull(&mut self, n: usize) {
        if n <= self.head {
            self.head -= n;
        } else {
            self.push(n);
        }
    }

    /// Add `n` zero bytes at the front, growing the buffer when headroom runs out.
    pub fn push(&mut self, n: usize) {
        if n <= self.head {
            self.head -= n;
            self.buf[self.head..self.head + n].fill(0);
        } else {
            let mut buf = vec![0u8; n + DEFAULT_HEADROOM];
            buf.extend_from_slice(self.data());
            self.buf = buf;
            self.head = DEFAULT_HEADROOM;
        }
    }

    /// Add `n` zero bytes at the end.
    pub fn put(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Remove `n` bytes from the end (at most the whole packet).
    pub fn take(&mut self, n: usize) {
        let n = n.min(self.len());
        self.buf.truncate(self.buf.len() - n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_put_take() {
        let mut p = Packet::from_data(b"abcd");
        p.pull(1);
        assert_eq!(p.data(), b"bcd");
        p.push(2);
        assert_eq!(p.data(), b"\0\0bcd");
        p.push(1000);
        assert_eq!(p.len(), 1005);
        p.take(1003);
        assert_eq!(p.data(), b"\0\0");
        p.put(1);
        assert_eq!(p.len(), 3);
        p.pull(99);
        p.take(99);
        assert!(p.is_empty());
    }
}
