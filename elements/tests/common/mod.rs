//! What the element library's integration tests share: building a router from
//! a configuration text the way a driver would, quietly or keeping what it
//! writes to its console.

// Each test crate compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use oxclick_lang::{Options, read, unparse::unparse};
use oxclick_runtime::{DeviceInfo, Router, RouterOptions};

/// The router of configuration `src` (read as file `t`; language errors fail
/// the test) with network devices `devices`, on simulated time, its console and
/// output discarded, lane fusion as `fuse_lanes` says; or its errors.
pub fn router(src: &str, devices: Vec<DeviceInfo>, fuse_lanes: bool) -> Result<Router, Vec<String>> {
    router_with_options(src, RouterOptions { fuse_lanes, ..RouterOptions::quiet(devices) })
}

/// The lines a router's console got, in order.
pub type Console = Rc<RefCell<Vec<String>>>;

/// As [`router`] with no devices and lane fusion on, keeping the lines its
/// console gets (Print's, the driver's messages) in the list returned with it.
pub fn router_with_console(src: &str) -> (Result<Router, Vec<String>>, Console) {
    let console = Rc::new(RefCell::new(Vec::new()));
    let sink = console.clone();
    let opts = RouterOptions {
        console: Box::new(move |l: &str| sink.borrow_mut().push(l.to_string())),
        ..RouterOptions::quiet(Vec::new())
    };
    (router_with_options(src, opts), console)
}

/// The router of configuration `src` (read as file `t`; language errors fail
/// the test) with `opts`, whose two texts are filled in; or its errors.
pub fn router_with_options(src: &str, opts: RouterOptions) -> Result<Router, Vec<String>> {
    let reg = oxclick_elements::registry();
    let known = |n: &str| reg.contains(n);
    let out = read(src, "t", &Options { is_primitive: Some(&known), ..Options::default() });
    assert!(out.diagnostics.is_empty(), "{src}: {:?}", out.diagnostics);
    let opts = RouterOptions { config_text: src.into(), flat_text: unparse(&out.flat), ..opts };
    Router::new(&out.flat, &reg, opts)
}
