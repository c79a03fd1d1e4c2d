//! Helpers for host tests: page-aligned memory standing in for shared pages.

use core::ptr::NonNull;

/// One 4 KiB page, page aligned, on the host heap.
#[repr(C, align(4096))]
pub struct PageBytes(pub [u8; 4096]);

pub struct Page(Box<PageBytes>);

impl Page {
    pub fn new() -> Self {
        Self::filled(0)
    }

    pub fn filled(byte: u8) -> Self {
        Page(Box::new(PageBytes([byte; 4096])))
    }

    pub fn ptr(&mut self) -> NonNull<u8> {
        NonNull::new(self.0.0.as_mut_ptr()).unwrap()
    }

    pub fn bytes(&self) -> &[u8; 4096] {
        &self.0.0
    }

    pub fn bytes_mut(&mut self) -> &mut [u8; 4096] {
        &mut self.0.0
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::new()
    }
}
