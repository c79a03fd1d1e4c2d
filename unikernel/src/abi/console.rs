//! The PV console ring page (io/console.h `struct xencons_interface`): two byte
//! rings with free-running 32-bit indices, `in` from the console daemon, `out`
//! to it.

pub const IN_OFFSET: usize = 0;
pub const IN_SIZE: usize = 1024;
pub const OUT_OFFSET: usize = 1024;
pub const OUT_SIZE: usize = 2048;
pub const IN_CONS: usize = 3072;
pub const IN_PROD: usize = 3076;
pub const OUT_CONS: usize = 3080;
pub const OUT_PROD: usize = 3084;
