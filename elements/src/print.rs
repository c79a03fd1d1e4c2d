//! Print — prints packet contents.
//!
//! `Print([LABEL, MAXLENGTH, KEYWORDS])`
//!
//! One agnostic input and output. For each packet, writes a line to the console
//! (standard error): `LABEL: LENGTH | HEX`, the length right-aligned in 4 columns and
//! the first MAXLENGTH bytes (default 24; -1 for all) in hex, grouped by four bytes.
//! Without a label the line starts with the length.
//!
//! Keywords: `MAXLENGTH`, `CONTENTS` (`true`/`false`, default true), `ACTIVE`
//! (default true), `TIMESTAMP` (default false: when true, the packet's timestamp
//! annotation follows the label, in seconds since the epoch with microseconds:
//! `LABEL: 1764400000.123456:    64 | ...`).

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;

use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args, simple_action_batch};

pub struct Print {
    label: String,
    max_length: i64,
    contents: bool,
    active: bool,
    timestamp: bool,
}

impl Default for Print {
    fn default() -> Self {
        Print { label: String::new(), max_length: 24, contents: true, active: true, timestamp: false }
    }
}

/// Click's Print line for `data` of total length `len`.
pub fn format_line(label: &str, len: usize, data: &[u8]) -> String {
    let mut s = String::new();
    let sep = if label.is_empty() {
        ""
    } else {
        s.push_str(label);
        ": "
    };
    s.push_str(&format!("{sep}{len:4}"));
    if !data.is_empty() {
        s.push_str(" | ");
        for (i, b) in data.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                s.push(' ');
            }
            s.push_str(&format!("{b:02x}"));
        }
    }
    s
}

impl Element for Print {
    fn class_name(&self) -> &'static str {
        "Print"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.label = a.read_p("LABEL").unwrap_or_default();
        self.max_length = a.read_p("MAXLENGTH").unwrap_or(24);
        self.contents = a.read_or("CONTENTS", true);
        self.active = a.read_or("ACTIVE", true);
        self.timestamp = a.read_or("TIMESTAMP", false);
        finish_args(a)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        simple_action_batch(self, batch, cx)
    }
    fn simple_action(&mut self, p: Packet, cx: &mut Ctx) -> Option<Packet> {
        if self.active {
            let shown = if !self.contents {
                0
            } else if self.max_length < 0 {
                p.len()
            } else {
                p.len().min(self.max_length as usize)
            };
            let label = if self.timestamp {
                let ts = p.anno.timestamp;
                let stamp = format!("{}.{:06}", ts / 1_000_000_000, ts % 1_000_000_000 / 1000);
                Cow::Owned(if self.label.is_empty() { stamp } else { format!("{}: {stamp}", self.label) })
            } else {
                Cow::Borrowed(self.label.as_str())
            };
            let line = format_line(&label, p.len(), &p.data()[..shown]);
            cx.console(&line);
        }
        Some(p)
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["active"]
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "active").then(|| format!("{}", self.active))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_format() {
        assert_eq!(format_line("", 14, b"I love myself\n"), "  14 | 49206c6f 7665206d 7973656c 660a");
        assert_eq!(format_line("A", 0, b""), "A:    0");
        assert_eq!(format_line("", 0, b""), "   0");
    }
}
