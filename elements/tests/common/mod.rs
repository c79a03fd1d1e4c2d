//! What the element library's integration tests share: building a router from
//! a configuration text the way a driver would, quietly.

use oxclick_lang::{Options, read, unparse::unparse};
use oxclick_runtime::{DeviceInfo, Router, RouterOptions};

/// The router of configuration `src` (read as file `t`; language errors fail
/// the test) with network devices `devices`, on simulated time, its console and
/// output discarded, lane fusion as `fuse_lanes` says; or its errors.
pub fn router(src: &str, devices: Vec<DeviceInfo>, fuse_lanes: bool) -> Result<Router, Vec<String>> {
    let reg = oxclick_elements::registry();
    let known = |n: &str| reg.contains(n);
    let out = read(src, "t", &Options { is_primitive: Some(&known), ..Options::default() });
    assert!(out.diagnostics.is_empty(), "{src}: {:?}", out.diagnostics);
    let opts = RouterOptions {
        config_text: src.into(),
        flat_text: unparse(&out.flat),
        fuse_lanes,
        ..RouterOptions::quiet(devices)
    };
    Router::new(&out.flat, &reg, opts)
}
