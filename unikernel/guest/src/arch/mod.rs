//! x86_64 specifics: boot, CPU instructions, exceptions.

pub mod boot;
pub mod cpu;
pub mod traps;
