//! The oxclick element library. One element per file; each file's doc comment is the
//! element's manual page (`oxclick help ELEMENT`).
#![no_std]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

use alloc::boxed::Box;
use oxclick_runtime::Registry;

pub mod address_info;
pub mod align;
pub mod arp_querier;
pub mod arp_responder;
pub mod check_transport_header;
pub mod classifier;
pub mod counter;
pub mod delay_unqueue;
#[cfg(feature = "std")]
pub mod device;
pub mod discard;
pub mod drop_broadcasts;
#[cfg(feature = "std")]
pub mod dump;
pub mod ether_encap;
pub mod ether_mirror;
pub mod fix_ip_src;
pub mod flow_map;
#[cfg(feature = "std")]
pub mod from_ip_summary_dump;
pub mod from_netfront;
pub mod ftp_port_mapper;
pub mod get_ip_address;
pub mod hash_switch;
pub mod host_ether_filter;
#[cfg(feature = "std")]
pub mod host_io;
pub mod icmp_error;
pub mod icmp_ping_responder;
pub mod idle;
pub mod ip;
pub mod ip_classifier;
pub mod ip_decision;
pub mod ip_encap;
pub mod ip_fragmenter;
pub mod ip_gw_options;
pub mod ip_input_combo;
pub mod ip_lookup;
pub mod ip_mirror;
pub mod ip_output_combo;
pub mod ip_pattern;
pub mod ip_print;
pub mod ip_reassembler;
pub mod ip_rewriter;
pub mod ip_rewriter_patterns;
pub mod ip_summary;
#[cfg(feature = "std")]
pub mod kernel_tun;
pub mod meter;
pub mod nulls;
pub mod pad;
pub mod paint;
pub(crate) mod prefetch;
pub mod print;
pub mod prio_sched;
pub mod pull_tee;
pub mod queue;
pub mod rate;
pub mod rated_splitter;
pub mod rated_unqueue;
pub mod resize;
pub mod rewriter;
pub mod round_robin_ip_mapper;
pub mod round_robin_sched;
pub mod round_robin_switch;
pub mod schedule_info;
pub mod script;
pub mod set_ip_address;
pub mod set_timestamp;
pub mod set_transport_checksum;
pub mod shaper;
pub mod sources;
pub mod static_map;
pub mod store_ip_address;
pub mod strip;
pub mod switch;
pub mod tee;
pub mod tenant_guard;
pub mod timed_sink;
pub mod timed_source;
pub mod timed_unqueue;
#[cfg(feature = "std")]
pub mod to_host;
#[cfg(feature = "std")]
pub mod to_ip_summary_dump;
pub mod to_netfront;
pub mod unqueue;
pub mod wire;

/// Classes that need the host (files, Linux sockets and devices): the `std`
/// feature's. In the guest, `FromDevice` and `ToDevice` name its vifs instead.
pub const HOST_ONLY: &[&str] = &[
    "FromDump",
    "ToDump",
    "FromDevice",
    "ToDevice",
    "KernelTun",
    "KernelTap",
    "ToHost",
    "ToHostSniffers",
    "FromIPSummaryDump",
    "ToIPSummaryDump",
];

/// The registry the Xen guest runs with (and `oxclick image` checks a
/// configuration against on the host): no host I/O, and Click's device element
/// names mean the guest's vifs, as in ClickOS.
pub fn guest_registry() -> Registry {
    let mut r = registry();
    for name in HOST_ONLY {
        r.remove(name);
    }
    r.add("FromDevice", || Box::<from_netfront::FromNetfront>::default());
    r.add("ToDevice", || Box::<to_netfront::ToNetfront>::default());
    r
}

/// Every element class this library provides.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    r.add("AddressInfo", || Box::new(address_info::AddressInfo));
    r.add("Idle", || Box::new(idle::Idle));
    r.add("Discard", || Box::<discard::Discard>::default());
    r.add("Null", || Box::new(nulls::Null));
    r.add("PushNull", || Box::new(nulls::PushNull));
    r.add("PullNull", || Box::new(nulls::PullNull));
    r.add("Paint", || Box::<paint::Paint>::default());
    r.add("Tee", || Box::new(tee::Tee));
    r.add("PullTee", || Box::new(pull_tee::PullTee));
    r.add("ScheduleInfo", || Box::new(schedule_info::ScheduleInfo));
    r.add("Align", || Box::new(align::Align));
    r.add("AlignmentInfo", || Box::new(align::AlignmentInfo));
    r.add("Counter", || Box::<counter::Counter>::default());
    r.add("TenantGuard", || Box::<tenant_guard::TenantGuard>::default());
    r.add("Print", || Box::<print::Print>::default());
    r.add("InfiniteSource", || Box::<sources::InfiniteSource>::default());
    r.add("RatedSource", || Box::<sources::RatedSource>::default());
    r.add("DriverManager", || Box::new(script::Script::driver_manager()));
    r.add("Script", || Box::new(script::Script::plain()));
    r.add("Queue", || Box::new(queue::Queue::named("Queue")));
    r.add("SimpleQueue", || Box::new(queue::Queue::named("SimpleQueue")));
    r.add("Unqueue", || Box::<unqueue::Unqueue>::default());
    r.add("FrontDropQueue", || Box::new(queue::Queue::named("FrontDropQueue")));
    r.add("TimedUnqueue", || Box::<timed_unqueue::TimedUnqueue>::default());
    r.add("DelayUnqueue", || Box::<delay_unqueue::DelayUnqueue>::default());
    r.add("TimedSink", || Box::<timed_sink::TimedSink>::default());
    r.add("TimedSource", || Box::<timed_source::TimedSource>::default());
    r.add("RoundRobinSched", || Box::<round_robin_sched::RoundRobinSched>::default());
    r.add("PrioSched", || Box::new(prio_sched::PrioSched));
    r.add("HashSwitch", || Box::<hash_switch::HashSwitch>::default());
    r.add("Shaper", || Box::new(shaper::Shaper::packets()));
    r.add("BandwidthShaper", || Box::new(shaper::Shaper::bandwidth()));
    r.add("RatedSplitter", || Box::new(rated_splitter::RatedSplitter::packets()));
    r.add("BandwidthRatedSplitter", || Box::new(rated_splitter::RatedSplitter::bandwidth()));
    r.add("Meter", || Box::new(meter::Meter::packets()));
    r.add("BandwidthMeter", || Box::new(meter::Meter::bandwidth()));
    r.add("RatedUnqueue", || Box::new(rated_unqueue::RatedUnqueue::packets()));
    r.add("BandwidthRatedUnqueue", || Box::new(rated_unqueue::RatedUnqueue::bandwidth()));
    r.add("SetIPAddress", || Box::<set_ip_address::SetIPAddress>::default());
    r.add("StoreIPAddress", || Box::<store_ip_address::StoreIPAddress>::default());
    r.add("RoundRobinSwitch", || Box::<round_robin_switch::RoundRobinSwitch>::default());
    r.add("EtherEncap", || Box::<ether_encap::EtherEncap>::default());
    r.add("Switch", || Box::new(switch::Chooser::switch()));
    r.add("StaticSwitch", || Box::new(switch::Chooser::static_switch()));
    r.add("PaintSwitch", || Box::new(switch::Chooser::paint_switch()));
    r.add("PaintTee", || Box::new(switch::Chooser::paint_tee()));
    r.add("Resize", || Box::<resize::Resize>::default());
    r.add("Strip", || Box::new(strip::Resizer::strip()));
    r.add("Unstrip", || Box::new(strip::Resizer::unstrip()));
    r.add("Truncate", || Box::new(strip::Resizer::truncate()));
    r.add("CheckIPHeader", || Box::new(ip::CheckIPHeader::check()));
    r.add("MarkIPHeader", || Box::new(ip::CheckIPHeader::mark()));
    r.add("DecIPTTL", || Box::<ip::DecIPTTL>::default());
    r.add("Classifier", || Box::<classifier::Classifier>::default());
    r.add("ARPQuerier", || Box::<arp_querier::ARPQuerier>::default());
    r.add("ARPResponder", || Box::<arp_responder::ARPResponder>::default());
    r.add("StaticIPLookup", || Box::new(ip_lookup::IPLookup::named("StaticIPLookup")));
    r.add("LinearIPLookup", || Box::new(ip_lookup::IPLookup::named("LinearIPLookup")));
    r.add("DropBroadcasts", || Box::<drop_broadcasts::DropBroadcasts>::default());
    r.add("FixIPSrc", || Box::<fix_ip_src::FixIPSrc>::default());
    r.add("FTPPortMapper", || Box::<ftp_port_mapper::FTPPortMapper>::default());
    r.add("GetIPAddress", || Box::<get_ip_address::GetIPAddress>::default());
    r.add("EtherMirror", || Box::new(ether_mirror::EtherMirror));
    r.add("HostEtherFilter", || Box::<host_ether_filter::HostEtherFilter>::default());
    r.add("IPEncap", || Box::new(ip_encap::IPEncap::ip()));
    r.add("UDPIPEncap", || Box::new(ip_encap::IPEncap::udp_ip()));
    r.add("IPMirror", || Box::<ip_mirror::IPMirror>::default());
    r.add("SetUDPChecksum", || Box::new(set_transport_checksum::SetTransportChecksum::udp()));
    r.add("SetTCPChecksum", || Box::new(set_transport_checksum::SetTransportChecksum::tcp()));
    r.add("ICMPPingResponder", || Box::new(icmp_ping_responder::ICMPPingResponder));
    r.add("IPReassembler", || Box::<ip_reassembler::IPReassembler>::default());
    r.add("IPClassifier", || Box::new(ip_classifier::IPClassifier::classifier()));
    r.add("IPFilter", || Box::new(ip_classifier::IPClassifier::filter()));
    r.add("IPRewriter", || Box::new(ip_rewriter::IPRewriter::ip()));
    r.add("TCPRewriter", || Box::new(ip_rewriter::IPRewriter::tcp()));
    r.add("UDPRewriter", || Box::new(ip_rewriter::IPRewriter::udp()));
    r.add("IPAddrRewriter", || Box::new(ip_rewriter::IPRewriter::addr()));
    r.add("IPAddrPairRewriter", || Box::new(ip_rewriter::IPRewriter::addr_pair()));
    r.add("RoundRobinIPMapper", || Box::<round_robin_ip_mapper::RoundRobinIPMapper>::default());
    r.add("IPRewriterPatterns", || Box::<ip_rewriter_patterns::IPRewriterPatterns>::default());
    r.add("IPPrint", || Box::<ip_print::IPPrint>::default());
    r.add("ICMPError", || Box::<icmp_error::ICMPError>::default());
    r.add("IPFragmenter", || Box::<ip_fragmenter::IPFragmenter>::default());
    r.add("IPGWOptions", || Box::<ip_gw_options::IPGWOptions>::default());
    r.add("IPInputCombo", || Box::<ip_input_combo::IPInputCombo>::default());
    r.add("IPOutputCombo", || Box::<ip_output_combo::IPOutputCombo>::default());
    r.add("CheckICMPHeader", || Box::new(check_transport_header::CheckTransportHeader::icmp()));
    r.add("CheckUDPHeader", || Box::new(check_transport_header::CheckTransportHeader::udp()));
    r.add("CheckTCPHeader", || Box::new(check_transport_header::CheckTransportHeader::tcp()));
    r.add("Pad", || Box::<pad::Pad>::default());
    r.add("SetTimestamp", || Box::<set_timestamp::SetTimestamp>::default());
    r.add("FromNetfront", || Box::<from_netfront::FromNetfront>::default());
    r.add("ToNetfront", || Box::<to_netfront::ToNetfront>::default());
    #[cfg(feature = "std")]
    {
        r.add("FromDump", || Box::<dump::FromDump>::default());
        r.add("ToDump", || Box::<dump::ToDump>::default());
        r.add("FromDevice", || Box::<device::FromDevice>::default());
        r.add("ToDevice", || Box::<device::ToDevice>::default());
        r.add("KernelTun", || Box::new(kernel_tun::KernelTun::tun()));
        r.add("KernelTap", || Box::new(kernel_tun::KernelTun::tap()));
        r.add("ToHost", || Box::new(to_host::ToHost::host()));
        r.add("ToHostSniffers", || Box::new(to_host::ToHost::sniffers()));
        r.add("FromIPSummaryDump", || Box::<from_ip_summary_dump::FromIPSummaryDump>::default());
        r.add("ToIPSummaryDump", || Box::<to_ip_summary_dump::ToIPSummaryDump>::default());
    }
    r
}

/// The manual page of element class `name` (its file's doc comment).
pub fn manual(name: &str) -> Option<&'static str> {
    let text = match name {
        "Idle" => include_str!("idle.rs"),
        "AddressInfo" => include_str!("address_info.rs"),
        "Discard" => include_str!("discard.rs"),
        "FromNetfront" => include_str!("from_netfront.rs"),
        "ToNetfront" => include_str!("to_netfront.rs"),
        "Null" | "PushNull" | "PullNull" => include_str!("nulls.rs"),
        "Paint" => include_str!("paint.rs"),
        "Tee" => include_str!("tee.rs"),
        "PullTee" => include_str!("pull_tee.rs"),
        "ScheduleInfo" => include_str!("schedule_info.rs"),
        "Align" | "AlignmentInfo" => include_str!("align.rs"),
        "Counter" => include_str!("counter.rs"),
        "TenantGuard" => include_str!("tenant_guard.rs"),
        "Print" => include_str!("print.rs"),
        "InfiniteSource" | "RatedSource" => include_str!("sources.rs"),
        "Script" | "DriverManager" => include_str!("script.rs"),
        "Queue" | "SimpleQueue" | "FrontDropQueue" => include_str!("queue.rs"),
        "TimedUnqueue" => include_str!("timed_unqueue.rs"),
        "DelayUnqueue" => include_str!("delay_unqueue.rs"),
        "TimedSink" => include_str!("timed_sink.rs"),
        "TimedSource" => include_str!("timed_source.rs"),
        "RoundRobinSched" => include_str!("round_robin_sched.rs"),
        "PrioSched" => include_str!("prio_sched.rs"),
        "HashSwitch" => include_str!("hash_switch.rs"),
        "Shaper" | "BandwidthShaper" => include_str!("shaper.rs"),
        "RatedSplitter" | "BandwidthRatedSplitter" => include_str!("rated_splitter.rs"),
        "Meter" | "BandwidthMeter" => include_str!("meter.rs"),
        "Unqueue" => include_str!("unqueue.rs"),
        "RatedUnqueue" | "BandwidthRatedUnqueue" => include_str!("rated_unqueue.rs"),
        "Strip" | "Unstrip" | "Truncate" => include_str!("strip.rs"),
        "Resize" => include_str!("resize.rs"),
        "Switch" | "StaticSwitch" | "PaintSwitch" | "PaintTee" => include_str!("switch.rs"),
        "EtherEncap" => include_str!("ether_encap.rs"),
        "SetIPAddress" => include_str!("set_ip_address.rs"),
        "StoreIPAddress" => include_str!("store_ip_address.rs"),
        "RoundRobinSwitch" => include_str!("round_robin_switch.rs"),
        "CheckIPHeader" | "MarkIPHeader" | "DecIPTTL" => include_str!("ip.rs"),
        "FromDump" | "ToDump" => include_str!("dump.rs"),
        "FromIPSummaryDump" => include_str!("from_ip_summary_dump.rs"),
        "FromDevice" | "ToDevice" => include_str!("device.rs"),
        "KernelTun" | "KernelTap" => include_str!("kernel_tun.rs"),
        "ToHost" | "ToHostSniffers" => include_str!("to_host.rs"),
        "ToIPSummaryDump" => include_str!("to_ip_summary_dump.rs"),
        "CheckICMPHeader" | "CheckUDPHeader" | "CheckTCPHeader" => include_str!("check_transport_header.rs"),
        "Pad" => include_str!("pad.rs"),
        "Classifier" => include_str!("classifier.rs"),
        "ARPResponder" => include_str!("arp_responder.rs"),
        "ARPQuerier" => include_str!("arp_querier.rs"),
        "StaticIPLookup" | "LinearIPLookup" => include_str!("ip_lookup.rs"),
        "DropBroadcasts" => include_str!("drop_broadcasts.rs"),
        "FixIPSrc" => include_str!("fix_ip_src.rs"),
        "FTPPortMapper" => include_str!("ftp_port_mapper.rs"),
        "GetIPAddress" => include_str!("get_ip_address.rs"),
        "ICMPError" => include_str!("icmp_error.rs"),
        "IPPrint" => include_str!("ip_print.rs"),
        "IPRewriter" | "TCPRewriter" | "UDPRewriter" | "IPAddrRewriter" | "IPAddrPairRewriter" => {
            include_str!("ip_rewriter.rs")
        }
        "IPRewriterPatterns" => include_str!("ip_rewriter_patterns.rs"),
        "RoundRobinIPMapper" => include_str!("round_robin_ip_mapper.rs"),
        "IPClassifier" | "IPFilter" => include_str!("ip_classifier.rs"),
        "EtherMirror" => include_str!("ether_mirror.rs"),
        "HostEtherFilter" => include_str!("host_ether_filter.rs"),
        "IPEncap" | "UDPIPEncap" => include_str!("ip_encap.rs"),
        "IPMirror" => include_str!("ip_mirror.rs"),
        "SetUDPChecksum" | "SetTCPChecksum" => include_str!("set_transport_checksum.rs"),
        "ICMPPingResponder" => include_str!("icmp_ping_responder.rs"),
        "IPReassembler" => include_str!("ip_reassembler.rs"),
        "IPFragmenter" => include_str!("ip_fragmenter.rs"),
        "IPGWOptions" => include_str!("ip_gw_options.rs"),
        "IPInputCombo" => include_str!("ip_input_combo.rs"),
        "IPOutputCombo" => include_str!("ip_output_combo.rs"),
        "SetTimestamp" => include_str!("set_timestamp.rs"),
        _ => return None,
    };
    let end = text.find("\n\n").unwrap_or(text.len());
    Some(&text[..end])
}
