//! `oxclick consolidate`: many tenants' configurations merged into one router
//! behind an IPClassifier demux (the `oxclick-consolidate` crate does the work).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "oxclick consolidate",
    about = "Merge tenants' Click configurations into one router, after checking they cannot reach each other",
    after_help = "\
The manifest (TOML) lists the tenants:

  [platform]                          # optional; these are the defaults
  input = \"FromNetfront(0)\"           # FromDump(in.pcap) to try it on the host
  output = \"ToNetfront(0)\"            # ToDump(out.pcap)
  # ether = \"00:16:3e:00:00:01\"       # answer ARP for every tenant address

  [[tenant]]
  name = \"alice\"
  addresses = [\"10.0.0.1\"]
  flows = [{ addr = \"10.0.9.1\", proto = \"udp\", port = 53 }]
  config = \"alice.click\"              # 'input -> ... -> output', relative to the manifest
  trust = \"client\"                    # operator | client | third-party (default)
  memory = \"64KiB\"                    # worst-case state budget (default 1MiB)
  allow = [\"198.51.100.0/24\"]         # third-party: where it may send
  peers = 256                         # sources its guard remembers (replies may go to them)

A tenant's elements are named alice/..., its guard (accounting and anti-spoofing)
alice: `oxclick merged.click -h alice.in_packets -h alice/c.count` on the host,
`oxclick ctl VM read alice.spoof_drops` in a guest. To add, replace or remove a
tenant in a running router, edit the manifest, merge again and swap the result in
(`oxclick ctl VM config merged.click`): the other tenants keep their state.

Examples:
  oxclick consolidate examples/tenants/tenants.toml -o merged.click
  oxclick consolidate tenants.toml --check       check only; print each tenant's memory
  oxclick consolidate tenants.toml --input 'FromDump(in.pcap, STOP true)' \\
      --output-element 'ToDump(out.pcap)' -o host.click && oxclick host.click -h alice.in_packets"
)]
struct ConsolidateArgs {
    /// The tenant manifest.
    #[arg(value_name = "MANIFEST")]
    manifest: PathBuf,
    /// Where to write the merged configuration (`-` or absent: standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<String>,
    /// Override the manifest's platform input element (e.g. `FromDump(in.pcap, STOP true)`
    /// to try a guest's tenants on the host).
    #[arg(long, value_name = "ELEMENT")]
    input: Option<String>,
    /// Override the manifest's platform output element (e.g. `ToDump(out.pcap)`).
    #[arg(long, value_name = "ELEMENT")]
    output_element: Option<String>,
    /// Check and report, write nothing.
    #[arg(long)]
    check: bool,
    /// Say nothing on success.
    #[arg(short = 'q', long)]
    quiet: bool,
}

pub fn consolidate_main(args: Vec<OsString>) -> i32 {
    let a: ConsolidateArgs = match crate::parse_args(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let start = Instant::now();
    let file = a.manifest.display().to_string();
    let text = match std::fs::read_to_string(&a.manifest) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("oxclick consolidate: {file}: {e}");
            return 1;
        }
    };
    let dir = a.manifest.parent().unwrap_or(Path::new("."));
    let result = oxclick_consolidate::Manifest::parse(&text, &file, dir).and_then(|mut m| {
        if let Some(i) = &a.input {
            m.platform.input = i.clone();
        }
        if let Some(o) = &a.output_element {
            m.platform.output = o.clone();
        }
        let read = |p: &Path| std::fs::read_to_string(p);
        oxclick_consolidate::consolidate(&m, &read, &oxclick_elements::registry())
    });
    let merged = match result {
        Ok(m) => m,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("oxclick consolidate: {file}: nothing merged ({} error{})", errors.len(), plural(errors.len()));
            return 1;
        }
    };
    let took = start.elapsed();
    if !a.check {
        match a.output.as_deref() {
            None | Some("-") => print!("{}", merged.text),
            Some(out) => {
                if let Err(e) = std::fs::write(out, &merged.text) {
                    eprintln!("oxclick consolidate: {out}: {e}");
                    return 1;
                }
            }
        }
    }
    if !a.quiet {
        let n = merged.tenants.len();
        let total: usize = merged.tenants.iter().map(|t| t.memory).sum();
        eprintln!(
            "oxclick consolidate: {n} tenant{} merged in {:.1} ms ({} elements; declared worst-case state {} in all)",
            plural(n),
            took.as_secs_f64() * 1e3,
            merged.flat.elements.len(),
            oxclick_consolidate::human(total)
        );
        if a.check || n <= 20 {
            for t in &merged.tenants {
                eprintln!(
                    "  {:<16} {:>3} element{}  {:>10} of {}",
                    t.name,
                    t.elements,
                    plural(t.elements),
                    oxclick_consolidate::human(t.memory),
                    oxclick_consolidate::human(t.budget)
                );
            }
        }
    }
    0
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
