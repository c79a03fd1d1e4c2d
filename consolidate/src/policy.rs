//! The isolation rules a tenant's configuration must obey before it is merged.
//!
//! In-Net's argument for consolidation (section 5) is that Click elements share no
//! memory and talk only through packets, so tenants whose configurations touch
//! nothing but their own elements cannot reach each other. That holds for the
//! element *instances*; it fails for the classes below, which reach outside their
//! element: devices and files, the router itself, or names every element sees.

use oxclick_elements::tenant_guard::Trust;

/// Why a tenant may not use an element class, or `None` if it may.
pub fn refused_class(class: &str, trust: Trust) -> Option<&'static str> {
    Some(match class {
        "FromDevice" | "ToDevice" | "FromNetfront" | "ToNetfront" | "KernelTun" | "KernelTap" => {
            "tenant I/O goes only through its 'input' and 'output': no devices"
        }
        "FromDump" | "ToDump" | "FromIPSummaryDump" | "ToIPSummaryDump" => {
            "tenant I/O goes only through its 'input' and 'output': no files"
        }
        "Script" | "DriverManager" => "it reaches the whole router (other tenants' handlers, the driver's stop)",
        "AddressInfo" | "IPRewriterPatterns" | "AlignmentInfo" => {
            "it defines names every element of the router sees, other tenants' too"
        }
        "ScheduleInfo" => "it sets the scheduling share of elements by name, other tenants' too",
        "TenantGuard" => "it is the platform's own element",
        "Print" | "IPPrint" if trust != Trust::Operator => "it writes to the platform's console",
        _ => return None,
    })
}

/// Router bookkeeping per element beyond the element itself and its strings
/// (ports, dispatch entries, scheduling and notifier slots), measured on the
/// host runtime's data structures and rounded up.
pub const ROUTER_BYTES_PER_ELEMENT: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_and_router_wide_classes_are_refused_and_plain_ones_are_not() {
        for c in ["FromDevice", "ToDump", "Script", "AddressInfo", "ScheduleInfo", "TenantGuard", "FromNetfront"] {
            assert!(refused_class(c, Trust::Operator).is_some(), "{c}");
        }
        for c in ["Counter", "IPFilter", "Queue", "IPRewriter", "EtherMirror"] {
            assert!(refused_class(c, Trust::ThirdParty).is_none(), "{c}");
        }
        assert!(refused_class("Print", Trust::Client).is_some());
        assert!(refused_class("Print", Trust::Operator).is_none());
    }
}
