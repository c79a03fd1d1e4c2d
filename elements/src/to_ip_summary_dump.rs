//! ToIPSummaryDump — writes packets as a Click IP summary dump.
//!
//! `ToIPSummaryDump(FILENAME [, KEYWORDS])`
//!
//! One agnostic input; packets pass through to output 0 if it exists (pull or
//! push), else are dropped after being written. Each packet becomes one text line
//! holding the fields named by `FIELDS` (alias `CONTENTS`; space-separated, e.g.
//! `FIELDS ip_src sport ip_dst dport ip_proto payload`), `-` for a field the packet
//! lacks (a truncated header, another protocol). FILENAME `-` is standard output.
//! The file starts with `!IPSummaryDump 1.3`, a `!creator` line and a `!data` line
//! naming the fields, so FromIPSummaryDump reads it back.
//!
//! Keywords: `BANNER` (a string written as `!creator`), `HEADER` (default true:
//! write the `!` lines), `BAD_PACKETS` (accepted for compatibility: fields a
//! packet lacks are always `-`).
//!
//! Handlers: `count` (lines written).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use std::io::{BufWriter, Write};

use oxclick_lang::args::split_spacevec;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Ctx, Element, Packet, finish_args};

use crate::ip_summary::{Field, unparse};

pub struct ToIPSummaryDump {
    filename: String,
    fields: Vec<Field>,
    names: Vec<String>,
    banner: String,
    header: bool,
    out: Option<BufWriter<Box<dyn Write>>>,
    count: u64,
    line: String,
}

impl Default for ToIPSummaryDump {
    fn default() -> Self {
        ToIPSummaryDump {
            filename: String::new(),
            fields: Vec::new(),
            names: Vec::new(),
            banner: String::new(),
            header: true,
            out: None,
            count: 0,
            line: String::new(),
        }
    }
}

impl ToIPSummaryDump {
    fn write(&mut self, p: &Packet) {
        let Some(out) = self.out.as_mut() else { return };
        self.line.clear();
        for (i, f) in self.fields.iter().enumerate() {
            if i > 0 {
                self.line.push(' ');
            }
            self.line.push_str(&unparse(*f, p));
        }
        self.line.push('\n');
        if out.write_all(self.line.as_bytes()).is_ok() {
            self.count += 1;
        }
    }
}

impl Element for ToIPSummaryDump {
    fn class_name(&self) -> &'static str {
        "ToIPSummaryDump"
    }
    fn port_count(&self) -> &'static str {
        "1/0-1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        self.filename = a.read_mp("FILENAME").unwrap_or_default();
        let text = |s: &str| -> Result<String, Option<String>> { Ok(s.into()) };
        let fields: Option<String> = a.read_with("FIELDS", false, false, "field list", text);
        let contents: Option<String> = a.read_with("CONTENTS", false, false, "field list", text);
        self.banner = a.read_or("BANNER", String::new());
        self.header = a.read_or("HEADER", true);
        let _bad: Option<bool> = a.read("BAD_PACKETS");
        let _verbose: Option<bool> = a.read("VERBOSE");
        let _multipacket: Option<bool> = a.read("MULTIPACKET");
        finish_args(a)?;
        let list = fields.or(contents).unwrap_or_else(|| String::from("timestamp ip_src"));
        let mut errors = Vec::new();
        self.fields.clear();
        self.names.clear();
        for name in split_spacevec(&list) {
            match Field::parse(&name) {
                Some(f) => {
                    self.fields.push(f);
                    self.names.push(name);
                }
                None => errors.push(format!("unknown field '{name}'")),
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
    fn initialize(&mut self, _cx: &mut Ctx) -> Result<(), String> {
        let sink: Box<dyn Write> = if self.filename == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::fs::File::create(&self.filename).map_err(|e| format!("{}: {e}", self.filename))?)
        };
        let mut out = BufWriter::new(sink);
        if self.header {
            let creator = if self.banner.is_empty() { String::from("oxclick") } else { self.banner.clone() };
            let head = format!("!IPSummaryDump 1.3\n!creator \"{creator}\"\n!data {}\n", self.names.join(" "));
            out.write_all(head.as_bytes()).map_err(|e| format!("{}: {e}", self.filename))?;
        }
        self.out = Some(out);
        Ok(())
    }
    fn push(&mut self, _port: usize, p: Packet, cx: &mut Ctx) {
        self.write(&p);
        cx.push(0, p);
    }
    fn pull(&mut self, _port: usize, cx: &mut Ctx) -> Option<Packet> {
        let p = cx.pull(0)?;
        self.write(&p);
        Some(p)
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "count").then(|| format!("{}", self.count))
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count"]
    }
}

impl Drop for ToIPSummaryDump {
    fn drop(&mut self) {
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }
}
