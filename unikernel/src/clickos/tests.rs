//! The control protocol against the fake xenstored (the real wire protocol over
//! a real ring page) with real oxclick routers: the test plays the toolstack.

use std::cell::RefCell;
use std::rc::Rc;
use std::string::String;
use std::vec::Vec;

use oxclick_runtime::{Clock, DeviceInfo, SimClock};

use super::*;
use crate::xenstore::fake::{FakeXenstored, Loopback};

type Xs = Client<Loopback>;

struct Guest {
    xs: Xs,
    routers: Routers,
    console: Rc<RefCell<Vec<String>>>,
}

fn guest(devices: usize) -> Guest {
    let mut xs = Client::new(Loopback::new(FakeXenstored::new(7)));
    let console = Rc::new(RefCell::new(Vec::new()));
    let sink = console.clone();
    let platform = Platform {
        devices: (0..devices)
            .map(|i| DeviceInfo { name: format!("vif{i}"), mac: [0, 0x16, 0x3e, 0, 0, i as u8] })
            .collect(),
        clock: Box::new(|| Box::new(SimClock::default()) as Box<dyn Clock>),
        console: Rc::new(move |rid: u32, line: &str| sink.borrow_mut().push(format!("[{rid}] {line}"))),
    };
    let mut routers = Routers::new(platform, oxclick_elements::guest_registry());
    routers.attach(&mut xs).unwrap();
    let mut g = Guest { xs, routers, console };
    g.pump();
    g
}

impl Guest {
    /// Deliver every pending watch event, as the guest's event loop does.
    fn pump(&mut self) {
        // Let the daemon put what it has (watch events) on the ring.
        self.xs.transport().notify();
        while let Some(ev) = self.xs.next_watch_event(false).unwrap() {
            if ev.token == WATCH_TOKEN {
                self.routers.on_event(&mut self.xs, &ev.path);
            }
        }
    }

    /// The toolstack writes a node.
    fn tool_write(&mut self, path: &str, value: &str) {
        self.xs.transport().daemon().external_write(path, value.as_bytes());
        self.pump();
    }

    fn value(&mut self, path: &str) -> Option<String> {
        self.xs.transport().daemon().value(path).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Install a configuration as clickos-ctl does: chunks, name, then status.
    fn tool_install(&mut self, rid: u32, text: &str) {
        for (i, chunk) in text.as_bytes().chunks(CHUNK).enumerate() {
            self.xs.transport().daemon().external_write(&format!("data/clickos/{rid}/config/{i}"), chunk);
        }
        self.tool_write(&format!("data/clickos/{rid}/config_name"), "test");
        self.tool_write(&format!("data/clickos/{rid}/status"), "Running");
    }

    fn read(&mut self, rid: u32, spec: &str) -> Option<String> {
        self.tool_write(&format!("data/clickos/{rid}/control/read/{spec}"), "");
        assert_eq!(self.value(&format!("data/clickos/{rid}/control/read/{spec}")), None, "request not removed");
        self.value(&format!("data/clickos/{rid}/elements/{spec}"))
    }
}

#[test]
fn the_guest_announces_itself_as_a_clickos_domain() {
    let mut g = guest(1);
    assert_eq!(g.value("data/clickos"), Some(String::new()));
}

#[test]
fn install_start_read_write_and_stop() {
    let mut g = guest(1);
    // A configuration longer than one chunk, so it is split.
    let padding = "// padding\n".repeat(60);
    let text = format!("{padding}FromNetfront(0) -> c :: Counter -> EtherMirror -> ToNetfront(0);\n");
    assert!(text.len() > CHUNK);
    g.tool_install(0, &text);
    assert_eq!(g.routers.running().collect::<Vec<_>>(), [0]);
    assert!(g.console.borrow().iter().any(|l| l == "[0] router running"));

    for i in 0..5u8 {
        let mut frame = vec![0u8; 60];
        frame[0] = i;
        assert!(g.routers.deliver(0, &frame));
    }
    g.routers.run(&mut g.xs);
    let mut sent = 0;
    g.routers.transmit(0, |_| {
        sent += 1;
        true
    });
    assert_eq!(sent, 5);

    assert_eq!(g.read(0, "c/count"), Some("5".into()));
    assert_eq!(g.read(0, "list").as_deref().map(|l| l.lines().next()), Some(Some("4")));
    // A handler write; our own answer above is not taken for one.
    g.tool_write("data/clickos/0/elements/c/reset", "");
    assert_eq!(g.read(0, "c/count"), Some("0".into()));

    // Errors are reported beside the request, never as an answer.
    assert_eq!(g.read(0, "nosuch/count"), None);
    assert_eq!(g.value("data/clickos/0/control/errors/nosuch/count"), Some("no element named 'nosuch'".into()));
    g.tool_write("data/clickos/0/elements/c/count", "9");
    assert_eq!(g.value("data/clickos/0/control/errors/c/count").as_deref(), Some("no write handler 'c/count'"));

    g.tool_write("data/clickos/0/status", "Halted");
    assert_eq!(g.routers.running().count(), 0);
    assert!(!g.routers.deliver(0, &[0u8; 60]));
}

#[test]
fn a_bad_configuration_is_reported_and_loses_nothing() {
    let mut g = guest(1);
    g.tool_install(3, "FromNetfront(0) -> NoSuchElement -> ToNetfront(0)");
    assert_eq!(g.routers.running().count(), 0);
    assert_eq!(g.value("data/clickos/3/status"), Some("Error".into()));
    let errors = g.value("data/clickos/3/errors").unwrap();
    assert!(errors.contains("router 3:1: undeclared element 'NoSuchElement'"), "{errors}");
    // A device the guest does not have is named.
    g.tool_install(4, "FromNetfront(1) -> Discard");
    assert!(g.value("data/clickos/4/errors").unwrap().contains("no network device 1"));
    // Router ids beyond ClickOS's 64 are not ours to touch.
    g.tool_install(64, "Idle -> Discard");
    assert_eq!(g.routers.running().count(), 0);
}

#[test]
fn new_chunks_hot_swap_a_running_router_and_keep_its_state() {
    let mut g = guest(1);
    g.tool_install(0, "FromNetfront(0) -> q :: Queue(100) -> Unqueue(ACTIVE false) -> ToNetfront(0)");
    for _ in 0..7 {
        g.routers.deliver(0, &[1u8; 60]);
    }
    g.routers.run(&mut g.xs);
    assert_eq!(g.read(0, "q/length"), Some("7".into()));
    // The toolstack replaces the chunks in one go.
    let new = "FromNetfront(0) -> q :: Queue(100) -> Unqueue -> c :: Counter -> ToNetfront(0)";
    g.xs.transaction(|xs, tx| write_config(xs, tx, "data/clickos/0", new)).unwrap();
    g.pump();
    assert!(g.console.borrow().iter().any(|l| l == "[0] new configuration swapped in"), "{:?}", g.console.borrow());
    g.routers.run(&mut g.xs);
    // The queue's packets went on through the new router.
    assert_eq!(g.read(0, "c/count"), Some("7".into()));

    // A broken one is refused and the router goes on.
    g.xs.transaction(|xs, tx| write_config(xs, tx, "data/clickos/0", "FromNetfront(0) -> Bad")).unwrap();
    g.pump();
    assert!(g.value("data/clickos/0/errors").unwrap().contains("Bad"));
    assert_eq!(g.read(0, "c/count"), Some("7".into()));
}

#[test]
fn embedded_configurations_are_published_and_self_stops_are_reported() {
    let mut g = guest(0);
    g.routers
        .install(&mut g.xs, 0, "embedded", "InfiniteSource(LIMIT 3, STOP true) -> c :: Counter -> Discard")
        .unwrap();
    g.pump();
    assert_eq!(g.value("data/clickos/0/status"), Some("Running".into()));
    assert_eq!(g.value("data/clickos/0/config_name"), Some("embedded".into()));
    assert!(g.value("data/clickos/0/config/0").unwrap().starts_with("InfiniteSource"));
    g.routers.run(&mut g.xs);
    g.pump();
    assert_eq!(g.value("data/clickos/0/status"), Some("Halted".into()));
    assert_eq!(g.routers.running().count(), 0);
}

#[test]
fn frames_go_to_the_router_that_reads_their_device() {
    let mut g = guest(2);
    g.tool_install(0, "FromNetfront(1) -> a :: Counter -> Discard");
    g.tool_install(1, "FromNetfront(0) -> b :: Counter -> Discard; Idle -> ToNetfront(1)");
    assert!(g.routers.deliver(0, &[0u8; 60]));
    assert!(g.routers.deliver(1, &[0u8; 60]));
    assert!(g.routers.deliver(1, &[0u8; 60]));
    g.routers.run(&mut g.xs);
    assert_eq!(g.read(0, "a/count"), Some("2".into()));
    assert_eq!(g.read(1, "b/count"), Some("1".into()));
}

#[test]
fn paths_parse_strictly() {
    assert_eq!(parse_node("data/clickos"), Node::Base);
    assert_eq!(parse_node("/local/domain/7/data/clickos/12/status"), Node::Status(12));
    assert_eq!(parse_node("data/clickos/12/config/3"), Node::Config(12));
    assert_eq!(parse_node("data/clickos/1/control/read/a/b/count"), Node::ReadRequest(1, "a/b/count"));
    assert_eq!(parse_node("data/clickos/1/elements/hotconfig"), Node::Element(1, "hotconfig"));
    assert_eq!(parse_node("data/clickos/64/status"), Node::Other);
    assert_eq!(parse_node("data/clickos/x/status"), Node::Other);
    assert_eq!(parse_node("data/clickosx"), Node::Other);
    assert_eq!(split_handler("a/b/count"), (Some("a/b"), "count"));
    assert_eq!(split_handler("list"), (None, "list"));
}
