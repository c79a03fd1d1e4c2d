//! StaticIPLookup, LinearIPLookup — IP routing tables.
//!
//! `StaticIPLookup(ADDR/MASK [GATEWAY] OUT, ...)` · `LinearIPLookup(...)`
//!
//! One push input, any number of push outputs. Each argument is a route: packets
//! whose destination address annotation (set by CheckIPHeader or GetIPAddress)
//! falls in ADDR/MASK leave on output OUT; with a GATEWAY, the annotation becomes
//! the gateway's address, so the next element (ARPQuerier) sends the packet there.
//! The longest matching prefix wins; packets matching no route are dropped. Routes
//! may name an output that does not exist only if no packet takes them.
//!
//! Handlers: `table` (read), `lookup ADDR` (read: the output and gateway for
//! ADDR, `-1` if none). LinearIPLookup also has `add ROUTE`, `set ROUTE` (add or
//! replace) and `remove ADDR/MASK` (write).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oxclick_lang::args::{AddressNames, ArgType, Ipv4Addr, Ipv4Prefix, split_args, split_spacevec};
use oxclick_runtime::{Batch, ConfigCtx, ConfigErrors, Ctx, Element, Packet, route_batch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: u32,
    pub mask: u32,
    pub gw: u32,
    pub port: usize,
}

impl Route {
    fn unparse(&self) -> String {
        let p = Ipv4Prefix { addr: Ipv4Addr(self.dst.to_be_bytes()), mask: Ipv4Addr(self.mask.to_be_bytes()) };
        let gw = if self.gw == 0 { String::from("-") } else { format!("{}", Ipv4Addr(self.gw.to_be_bytes())) };
        format!("{p}\t{gw}\t{}", self.port)
    }
}

fn parse_route(text: &str, names: &AddressNames) -> Result<Route, String> {
    let words = split_spacevec(text);
    let bad = || format!("expected 'ADDR/MASK [GATEWAY] OUTPUT', got '{text}'");
    let (pfx, gw, out) = match words.as_slice() {
        [p, o] => (p, None, o),
        [p, g, o] => (p, Some(g), o),
        _ => return Err(bad()),
    };
    let prefix = Ipv4Prefix::parse_arg(pfx).ok().or_else(|| Ipv4Prefix::from_name(pfx, names)).ok_or_else(bad)?;
    let gw = match gw {
        Some(g) => {
            u32::from_be_bytes(Ipv4Addr::parse_arg(g).ok().or_else(|| Ipv4Addr::from_name(g, names)).ok_or_else(bad)?.0)
        }
        None => 0,
    };
    let port: usize = out.parse().map_err(|_| bad())?;
    let mask = u32::from_be_bytes(prefix.mask.0);
    Ok(Route { dst: u32::from_be_bytes(prefix.addr.0) & mask, mask, gw, port })
}

pub struct IPLookup {
    class: &'static str,
    routes: Vec<Route>,
    names: AddressNames,
}

impl IPLookup {
    pub fn named(class: &'static str) -> IPLookup {
        IPLookup { class, routes: Vec::new(), names: AddressNames::default() }
    }

    /// The longest-prefix route for `addr`.
    pub fn lookup(&self, addr: [u8; 4]) -> Option<&Route> {
        let a = u32::from_be_bytes(addr);
        self.routes.iter().filter(|r| a & r.mask == r.dst).max_by_key(|r| r.mask.count_ones())
    }

    /// The output for `p`, with its destination annotation set to the gateway if
    /// the route has one; `None`: no route.
    fn route(&self, p: &mut Packet) -> Option<usize> {
        let r = *self.lookup(p.anno.dst_ip)?;
        if r.gw != 0 {
            p.anno.dst_ip = r.gw.to_be_bytes();
        }
        Some(r.port)
    }

    fn editable(&self) -> bool {
        self.class == "LinearIPLookup"
    }
}

impl Element for IPLookup {
    fn class_name(&self) -> &'static str {
        self.class
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/-"
    }
    fn processing(&self) -> &'static str {
        "h/h"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut routes = Vec::new();
        let mut errors = Vec::new();
        for (i, arg) in split_args(config).iter().enumerate() {
            match parse_route(arg, cx.names) {
                Ok(r) => routes.push(r),
                Err(e) => errors.push(format!("argument {}: {e}", i + 1)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.routes = routes;
        self.names = cx.names.clone();
        Ok(())
    }
    fn initialize(&mut self, cx: &mut Ctx) -> Result<(), String> {
        match self.routes.iter().find(|r| r.port >= cx.noutputs()) {
            Some(r) => Err(format!("route '{}' names output {} of {}", r.unparse(), r.port, cx.noutputs())),
            None => Ok(()),
        }
    }
    fn push(&mut self, _port: usize, mut p: Packet, cx: &mut Ctx) {
        if let Some(out) = self.route(&mut p) {
            cx.push(out, p);
        }
    }
    fn routes_batches(&self) -> bool {
        true
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        route_batch(batch, cx, |p| self.route(p));
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "table").then(|| self.routes.iter().map(|r| format!("{}\n", r.unparse())).collect())
    }
    fn handler_names(&self) -> &'static [&'static str] {
        if self.editable() { &["table", "lookup", "add", "set", "remove"] } else { &["table", "lookup"] }
    }
    fn call_handler(&mut self, name: &str, write: bool, value: &str, cx: &mut Ctx) -> Option<Result<String, String>> {
        let v = value.trim();
        match (name, write) {
            ("table", false) => self.read_handler(name).map(Ok),
            ("lookup", false) => {
                Some(match Ipv4Addr::parse_arg(v).ok().or_else(|| Ipv4Addr::from_name(v, &self.names)) {
                    Some(a) => Ok(match self.lookup(a.0) {
                        Some(r) if r.gw != 0 => format!("{} {}", r.port, Ipv4Addr(r.gw.to_be_bytes())),
                        Some(r) => format!("{}", r.port),
                        None => String::from("-1"),
                    }),
                    None => Err(String::from("expected IP address")),
                })
            }
            ("add" | "set", true) if self.editable() => Some(parse_route(v, &self.names).and_then(|r| {
                if r.port >= cx.noutputs() {
                    return Err(format!("output {} out of range", r.port));
                }
                match self.routes.iter().position(|o| o.dst == r.dst && o.mask == r.mask) {
                    Some(k) if name == "set" => self.routes[k] = r,
                    Some(_) => return Err(format!("conflict with existing route '{}'", r.unparse())),
                    None => self.routes.push(r),
                }
                Ok(String::new())
            })),
            ("remove", true) if self.editable() => {
                let Some(pfx) = Ipv4Prefix::parse_arg(v).ok() else {
                    return Some(Err(String::from("expected ADDR/MASK")));
                };
                let mask = u32::from_be_bytes(pfx.mask.0);
                let dst = u32::from_be_bytes(pfx.addr.0) & mask;
                let before = self.routes.len();
                self.routes.retain(|r| !(r.dst == dst && r.mask == mask));
                Some(if self.routes.len() < before { Ok(String::new()) } else { Err(String::from("no such route")) })
            }
            _ => None,
        }
    }
}
