//! Click's port-count (`"1/1-2"`) and processing (`"a/ah"`) specifications.

use alloc::vec::Vec;

/// An inclusive range of port counts; `max == usize::MAX` is unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub min: usize,
    pub max: usize,
}

impl PortRange {
    /// The count an element gets when `used` ports are connected.
    pub fn clamp(&self, used: usize) -> usize {
        used.clamp(self.min, self.max)
    }
}

fn parse_range(s: &str) -> Option<PortRange> {
    let s = s.trim();
    if s == "-" {
        return Some(PortRange { min: 0, max: usize::MAX });
    }
    if let Some((a, b)) = s.split_once('-') {
        let min = if a.is_empty() { 0 } else { a.parse().ok()? };
        let max = if b.is_empty() { usize::MAX } else { b.parse().ok()? };
        return (min <= max).then_some(PortRange { min, max });
    }
    let n = s.parse().ok()?;
    Some(PortRange { min: n, max: n })
}

/// Inputs and outputs allowed; `same` is the `=` form (as many outputs as inputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortCount {
    pub inputs: PortRange,
    pub outputs: PortRange,
    pub outputs_same_as_inputs: bool,
}

/// Parse `"1/1"`, `"1/1-2"`, `"0/-"`, `"1-/="`, `"-/-"`. A spec without `/` means the
/// same range for both.
pub fn parse_port_count(spec: &str) -> Option<PortCount> {
    let (i, o) = spec.split_once('/').unwrap_or((spec, spec));
    let inputs = parse_range(i)?;
    if o.trim() == "=" {
        return Some(PortCount { inputs, outputs: inputs, outputs_same_as_inputs: true });
    }
    Some(PortCount { inputs, outputs: parse_range(o)?, outputs_same_as_inputs: false })
}

/// A port's processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processing {
    Push,
    Pull,
    Agnostic,
}

fn processing_code(c: u8) -> Processing {
    match c {
        b'h' => Processing::Push,
        b'l' => Processing::Pull,
        _ => Processing::Agnostic,
    }
}

/// Processing of `n` ports from one side of a spec like `"ah"`: the last letter
/// repeats for the remaining ports.
fn side(codes: &str, n: usize) -> Vec<Processing> {
    let b = codes.as_bytes();
    (0..n).map(|i| b.get(i).or(b.last()).map(|c| processing_code(*c)).unwrap_or(Processing::Agnostic)).collect()
}

/// Per-port processing for an element with `nin` inputs and `nout` outputs.
pub fn processing_vector(spec: &str, nin: usize, nout: usize) -> (Vec<Processing>, Vec<Processing>) {
    let (i, o) = spec.split_once('/').unwrap_or((spec, spec));
    (side(i, nin), side(o, nout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_counts() {
        let p = parse_port_count("1/1-2").unwrap();
        assert_eq!((p.inputs.clamp(5), p.outputs.clamp(0), p.outputs.clamp(9)), (1, 1, 2));
        let p = parse_port_count("-/-").unwrap();
        assert_eq!(p.inputs.clamp(7), 7);
        assert!(parse_port_count("1-/=").unwrap().outputs_same_as_inputs);
        assert_eq!(parse_port_count("0/1").unwrap().inputs.max, 0);
        assert!(parse_port_count("x/1").is_none());
    }

    #[test]
    fn processing() {
        let (i, o) = processing_vector("a/ah", 1, 3);
        assert_eq!(i, [Processing::Agnostic]);
        assert_eq!(o, [Processing::Agnostic, Processing::Push, Processing::Push]);
        let (i, o) = processing_vector("h/l", 2, 1);
        assert_eq!((i[1], o[0]), (Processing::Push, Processing::Pull));
    }
}
