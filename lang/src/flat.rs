//! The flattened router: what every consumer of a configuration (the checker, the
//! runtime, the unikernel, the consolidator) works from.
//!
//! Compound elements are gone, names are full paths (`outer/inner`), anonymous elements
//! carry Click's `Class@N` names, and every element and connection remembers the source
//! position (its *landmark*) it came from so later errors can point at it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A source position: file name (as the user gave it, `config` for `-e`) and 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Landmark {
    pub file: String,
    pub line: u32,
}

impl Landmark {
    pub fn new(file: impl Into<String>, line: u32) -> Self {
        Landmark { file: file.into(), line }
    }
}

impl fmt::Display for Landmark {
    /// Click prints landmarks as `FILE:LINE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One element of a flat router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlatElement {
    /// Full name, e.g. `tenant1/fw`, or `Counter@3` for an anonymous element.
    pub name: String,
    /// Element class name, e.g. `Counter`.
    pub class: String,
    /// The configuration string after `$variable` substitution, otherwise verbatim.
    pub config: String,
    pub landmark: Landmark,
}

/// A connection `from [from_port] -> [to_port] to`, with element indexes into
/// [`FlatConfig::elements`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    pub element: usize,
    pub port: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlatConnection {
    pub from: Port,
    pub to: Port,
    pub landmark: Landmark,
}

/// A whole flat configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlatConfig {
    /// Elements in Click's order (declaration order, compound components expanded in place
    /// of the compound at the end of their parent's list, as Click does).
    pub elements: Vec<FlatElement>,
    /// Connections in source order, duplicates removed.
    pub connections: Vec<FlatConnection>,
    /// `require(...)` statements other than libraries, in order.
    pub requirements: Vec<Requirement>,
}

/// One requirement: `compact_config` (empty value) or `package NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub kind: String,
    pub value: String,
}

impl FlatConfig {
    /// The index of the element called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.elements.iter().position(|e| e.name == name)
    }
}
