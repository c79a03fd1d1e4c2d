//! Driver mode: run a flattened router on the host (Click's userlevel `click`).
//!
//! Filled in by the runtime work; `main.rs` calls [`run`] after parsing, flattening and
//! handling `-q`/`-o`.

use oxclick_lang::flat::FlatConfig;

/// What `main.rs` hands the driver.
#[derive(Clone, Debug, Default)]
pub struct DriverOptions {
    /// `-h ELEM.HANDLER` arguments, in command-line order.
    pub handlers: Vec<String>,
    /// The text the router-wide `config` handler returns (Click: the flattened configuration).
    pub config_text: String,
    /// `--simtime`: deterministic simulated time.
    pub simtime: bool,
}

/// Build, check, initialize and run the router; print `-h` handlers afterwards.
/// Returns the process exit code. Errors are printed to stderr in Click's form.
pub fn run(_flat: &FlatConfig, _opts: &DriverOptions) -> i32 {
    eprintln!("oxclick: running routers is not implemented yet");
    1
}
