//! Driver mode: run a flattened router on the host (Click's userlevel `click`).
//!
//! `main.rs` reads and flattens the configuration, prints language errors, then hands
//! over here: build the router (Click's checks), initialize it, write `-o` output, run
//! it unless `-q`, and print `-h` handlers.

use oxclick_lang::flat::FlatConfig;

/// What `main.rs` hands the driver.
#[derive(Clone, Debug, Default)]
pub struct DriverOptions {
    /// `-h ELEM.HANDLER` arguments, in command-line order.
    pub handlers: Vec<String>,
    /// The text the router-wide `config` handler returns (the original configuration,
    /// or the flat one under `require(compact_config)`).
    pub config_text: String,
    /// The flat configuration as Click prints it (`flatconfig` handler, `-o`).
    pub flat_text: String,
    /// `-o FILE`: write `flat_text` there after the router initializes (`-` = stdout).
    pub output: Option<String>,
    /// `-q`: initialize, write output, call handlers, but do not run.
    pub quit: bool,
    /// `--simtime`: deterministic simulated time.
    pub simtime: bool,
}

/// Is `name` a primitive element class the runtime can build? The language uses this
/// to tell undeclared element names from anonymous elements, as Click does.
pub fn is_element_class(name: &str) -> bool {
    // Replaced by the element registry's lookup once the runtime lands.
    PLANNED_CLASSES.contains(&name)
}

/// The element classes of the core library (the runtime issue's list).
const PLANNED_CLASSES: &[&str] = &[
    "Idle",
    "Discard",
    "TimedSink",
    "Counter",
    "Print",
    "Paint",
    "PaintSwitch",
    "PaintTee",
    "Tee",
    "Null",
    "PushNull",
    "PullNull",
    "Truncate",
    "Strip",
    "Unstrip",
    "Pad",
    "Resize",
    "EtherEncap",
    "EtherMirror",
    "HostEtherFilter",
    "CheckIPHeader",
    "MarkIPHeader",
    "GetIPAddress",
    "SetIPAddress",
    "StoreIPAddress",
    "FixIPSrc",
    "DecIPTTL",
    "IPGWOptions",
    "IPPrint",
    "IPEncap",
    "UDPIPEncap",
    "IPMirror",
    "CheckICMPHeader",
    "CheckUDPHeader",
    "CheckTCPHeader",
    "SetUDPChecksum",
    "SetTCPChecksum",
    "ICMPError",
    "ICMPPingResponder",
    "IPFragmenter",
    "IPReassembler",
    "StaticIPLookup",
    "LinearIPLookup",
    "IPInputCombo",
    "IPOutputCombo",
    "ARPResponder",
    "ARPQuerier",
    "AddressInfo",
    "Queue",
    "SimpleQueue",
    "FrontDropQueue",
    "Unqueue",
    "DelayUnqueue",
    "TimedUnqueue",
    "RatedUnqueue",
    "BandwidthRatedUnqueue",
    "RoundRobinSched",
    "PrioSched",
    "Switch",
    "StaticSwitch",
    "RoundRobinSwitch",
    "HashSwitch",
    "RatedSplitter",
    "BandwidthRatedSplitter",
    "Meter",
    "BandwidthMeter",
    "Shaper",
    "BandwidthShaper",
    "InfiniteSource",
    "RatedSource",
    "TimedSource",
    "DriverManager",
    "Script",
    "FromDump",
    "ToDump",
    "FromIPSummaryDump",
    "ToIPSummaryDump",
    "FromDevice",
    "ToDevice",
    "KernelTun",
    // The classification issue's.
    "Classifier",
    "IPClassifier",
    "IPFilter",
    "IPRewriter",
    "IPRewriterPatterns",
    "TCPRewriter",
    "UDPRewriter",
    "IPAddrRewriter",
    "IPAddrPairRewriter",
    "RoundRobinIPMapper",
];

/// Click's router checks without running anything; returns error lines in Click's
/// `FILE:LINE: message` form.
pub fn check(_flat: &FlatConfig) -> Vec<String> {
    Vec::new()
}

/// Build, check, initialize and run the router; print `-h` handlers afterwards.
/// Returns the process exit code. Errors are printed to stderr in Click's form.
pub fn run(_flat: &FlatConfig, opts: &DriverOptions) -> i32 {
    if let Some(path) = &opts.output
        && let Err(e) = crate::write_output(path, &opts.flat_text)
    {
        eprintln!("{e}");
        return 1;
    }
    if opts.quit && opts.handlers.is_empty() {
        return 0;
    }
    eprintln!("oxclick: running routers is not implemented yet");
    1
}
