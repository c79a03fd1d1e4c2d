//! IPRewriterPatterns — names rewrite patterns for the NAT elements.
//!
//! `IPRewriterPatterns(NAME SADDR SPORT DADDR DPORT, ...)`
//!
//! No ports. Each argument names a pattern (the same syntax as in IPRewriter's
//! `pattern` input specs, addresses may be AddressInfo names), which IPRewriter,
//! TCPRewriter, UDPRewriter and IPAddrRewriter elements can then use as `pattern
//! NAME FOUTPUT ROUTPUT`; a named pattern used by several inputs or elements
//! shares nothing at run time but its definition.

use alloc::format;
use alloc::string::String;

use oxclick_runtime::{ConfigCtx, ConfigErrors, Element};

use crate::rewriter::named_patterns;

#[derive(Default)]
pub struct IPRewriterPatterns {
    names: String,
}

impl Element for IPRewriterPatterns {
    fn class_name(&self) -> &'static str {
        "IPRewriterPatterns"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "0/0"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let pats = named_patterns(core::iter::once(config), cx.names)?;
        self.names = pats.iter().map(|(n, p)| format!("{n} {}\n", p.unparse())).collect();
        Ok(())
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "patterns").then(|| self.names.clone())
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["patterns"]
    }
}
