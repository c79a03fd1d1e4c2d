//! RoundRobinIPMapper — hands out rewrite patterns in turn.
//!
//! `RoundRobinIPMapper(PATTERN_1, ..., PATTERN_N)`
//!
//! No ports. Each PATTERN is `SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT` (as in
//! IPRewriter's `pattern` specs, or `NAME FOUTPUT ROUTPUT` for an
//! IPRewriterPatterns name). A rewriter input spec that is just this element's
//! name maps each new flow with the next pattern in turn: a simple load balancer
//! over several addresses or ports.

use alloc::string::String;

use oxclick_runtime::{ConfigCtx, ConfigErrors, Element};

use crate::rewriter::{InputSpec, named_patterns};

#[derive(Default)]
pub struct RoundRobinIPMapper {
    patterns: String,
}

impl Element for RoundRobinIPMapper {
    fn class_name(&self) -> &'static str {
        "RoundRobinIPMapper"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "0/0"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let named = named_patterns(cx.configs_of("IPRewriterPatterns"), cx.names).unwrap_or_default();
        match InputSpec::mapper(config, cx.names, &named) {
            Ok(InputSpec::Mapper { patterns, .. }) => {
                self.patterns = patterns.iter().map(|(p, f, r)| alloc::format!("{} {f} {r}\n", p.unparse())).collect();
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(alloc::vec![e]),
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "patterns").then(|| self.patterns.clone())
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["patterns"]
    }
}
