//! The Click configuration language.
#![no_std]
extern crate alloc;

pub mod flat;
