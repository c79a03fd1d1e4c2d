//! The Click configuration language: lexer, parser, syntax tree, elaboration to a flat
//! router (compound expansion, anonymous naming, tunnels), `$variable` expansion,
//! printing, and Click-style diagnostics. `no_std` + `alloc`, so the Xen guest can
//! read configurations itself.
#![no_std]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod args;
pub mod ast;
mod cp;
pub mod diag;
pub mod elaborate;
pub mod expand;
pub mod flat;
pub mod lexer;
pub mod parser;
pub mod unparse;
pub mod xform;

pub use elaborate::{Loader, Options, Output, read};
