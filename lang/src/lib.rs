//! The Click configuration language.
#![no_std]
extern crate alloc;
