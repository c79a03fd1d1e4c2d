//! An in-memory xenstored for host tests, speaking the real wire protocol over
//! a real xenstore ring page, so tests exercise the byte rings, the encoder,
//! the reader and the client together. It also lets a test play the
//! toolstack or a device backend (`external_write`, `on_write`) and misbehave
//! on purpose. Other crates' tests get it with the `fake-xenstored` feature and
//! speak to it in bytes ([`FakeXenstored::receive`], [`FakeXenstored::take_output`]).

use std::collections::{BTreeMap, HashMap, VecDeque};

#[cfg(test)]
use super::client::{Transport, TransportError};
use super::wire::{self, Header, MessageReader, MsgType};
#[cfg(test)]
use crate::byte_ring::{ByteConsumer, ByteProducer, XENSTORE_REQ, XENSTORE_RSP};
#[cfg(test)]
use crate::testing::Page;

/// Every node: its absolute path and its value.
pub type Tree = BTreeMap<String, Vec<u8>>;
/// Reacts to a committed write: returns further writes (made "by another domain").
type WriteHook = Box<dyn FnMut(&str, &[u8], &Tree) -> Vec<(String, Vec<u8>)>>;

pub struct FakeXenstored {
    home: String,
    tree: Tree,
    generation: u64,
    transactions: HashMap<u32, (Tree, u64)>,
    next_tx: u32,
    /// (absolute path, token, registered relative?)
    watches: Vec<(String, String, bool)>,
    outbox: VecDeque<u8>,
    reader: MessageReader,
    fail_commits: u32,
    silent: bool,
    override_type: Option<MsgType>,
    hooks: Vec<WriteHook>,
}

impl FakeXenstored {
    pub fn new(domid: u16) -> Self {
        let home = format!("/local/domain/{domid}");
        let mut tree = Tree::new();
        tree.insert(home.clone(), Vec::new());
        tree.insert(format!("{home}/domid"), domid.to_string().into_bytes());
        FakeXenstored {
            home,
            tree,
            generation: 0,
            transactions: HashMap::new(),
            next_tx: 1,
            watches: Vec::new(),
            outbox: VecDeque::new(),
            reader: MessageReader::new(),
            fail_commits: 0,
            silent: false,
            override_type: None,
            hooks: Vec::new(),
        }
    }

    fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') { path.to_string() } else { format!("{}/{}", self.home, path) }
    }

    /// What a restore does to a domain's connection: xenstored forgets its watches.
    pub fn forget_watches(&mut self) {
        self.watches.clear();
    }

    /// A write by someone else (toolstack, backend): fires watches.
    pub fn external_write(&mut self, path: &str, value: &[u8]) {
        let path = self.absolute(path);
        let mut tree = std::mem::take(&mut self.tree);
        insert(&mut tree, &path, value);
        self.tree = tree;
        self.generation += 1;
        self.fire(&path, false);
    }

    pub fn value(&self, path: &str) -> Option<&[u8]> {
        self.tree.get(&self.absolute(path)).map(|v| v.as_slice())
    }

    /// Register a reaction to committed writes, e.g. a simulated backend.
    pub fn on_write(&mut self, hook: impl FnMut(&str, &[u8], &Tree) -> Vec<(String, Vec<u8>)> + 'static) {
        self.hooks.push(Box::new(hook));
    }

    pub fn fail_next_commits(&mut self, n: u32) {
        self.fail_commits = n;
    }

    pub fn go_silent(&mut self) {
        self.silent = true;
    }

    pub fn inject_raw(&mut self, bytes: &[u8]) {
        self.outbox.extend(bytes);
    }

    pub fn answer_next_with_type(&mut self, t: MsgType) {
        self.override_type = Some(t);
    }

    /// Take bytes a client sent; each request they complete is handled at once.
    pub fn receive(&mut self, mut bytes: &[u8]) -> Result<(), wire::WireError> {
        while !bytes.is_empty() {
            let (used, msg) = self.reader.accept(bytes)?;
            bytes = &bytes[used..];
            if let Some(msg) = msg {
                self.handle(msg.header, &msg.payload);
            }
        }
        Ok(())
    }

    /// What the daemon has sent since the last call (replies, watch events).
    pub fn take_output(&mut self) -> Vec<u8> {
        self.outbox.drain(..).collect()
    }

    fn reply(&mut self, kind: MsgType, req_id: u32, tx_id: u32, payload: &[u8]) {
        let kind = self.override_type.take().unwrap_or(kind);
        let header = Header { kind: kind as u32, req_id, tx_id, len: payload.len() as u32 };
        self.outbox.extend(header.encode());
        self.outbox.extend(payload);
    }

    /// Queue events for watches on `changed` or its parents; a removal also
    /// fires watches below the removed node.
    fn fire(&mut self, changed: &str, removed: bool) {
        let events: Vec<(String, String)> = self
            .watches
            .iter()
            .filter(|(w, _, _)| {
                changed == w
                    || changed.starts_with(&format!("{w}/"))
                    || (removed && w.starts_with(&format!("{changed}/")))
            })
            .map(|(_, token, relative)| (self.reported(changed, *relative), token.clone()))
            .collect();
        for (path, token) in events {
            let mut payload = path.into_bytes();
            payload.push(0);
            payload.extend(token.as_bytes());
            payload.push(0);
            self.reply(MsgType::WatchEvent, 0, 0, &payload);
        }
    }

    /// xenstored reports paths relative to the home when the watch was relative.
    fn reported(&self, path: &str, relative: bool) -> String {
        match path.strip_prefix(&format!("{}/", self.home)) {
            Some(rest) if relative => rest.to_string(),
            _ => path.to_string(),
        }
    }

    fn handle(&mut self, header: Header, payload: &[u8]) {
        let strings: Vec<String> =
            payload.split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
        let arg = |i: usize| strings.get(i).cloned().unwrap_or_default();
        let (req_id, tx_id) = (header.req_id, header.tx_id);
        let Some(kind) = MsgType::from_u32(header.kind) else {
            return self.reply(MsgType::Error, req_id, tx_id, b"EINVAL\0");
        };
        if tx_id != 0 && !self.transactions.contains_key(&tx_id) {
            return self.reply(MsgType::Error, req_id, tx_id, b"ENOENT\0");
        }
        match kind {
            MsgType::Read => {
                let path = self.absolute(&arg(0));
                match self.view(tx_id).get(&path).cloned() {
                    Some(v) => self.reply(kind, req_id, tx_id, &v),
                    None => self.reply(MsgType::Error, req_id, tx_id, b"ENOENT\0"),
                }
            }
            MsgType::Write => {
                let path_len = payload.iter().position(|&b| b == 0).unwrap_or(payload.len());
                let path = self.absolute(&String::from_utf8_lossy(&payload[..path_len]));
                let value = payload.get(path_len + 1..).unwrap_or(&[]).to_vec();
                insert(self.view_mut(tx_id), &path, &value);
                if tx_id == 0 {
                    self.committed(&[(path, value)]);
                }
                self.reply(kind, req_id, tx_id, b"OK\0");
            }
            MsgType::Directory => {
                let path = self.absolute(&arg(0));
                let view = self.view(tx_id);
                if !view.contains_key(&path) {
                    return self.reply(MsgType::Error, req_id, tx_id, b"ENOENT\0");
                }
                let prefix = format!("{path}/");
                let mut names: Vec<String> = view
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .map(|rest| rest.split('/').next().unwrap().to_string())
                    .collect();
                names.dedup();
                let mut out = Vec::new();
                for n in names {
                    out.extend(n.as_bytes());
                    out.push(0);
                }
                self.reply(kind, req_id, tx_id, &out);
            }
            MsgType::Rm => {
                let path = self.absolute(&arg(0));
                // As xenstored: removing a missing node is fine if its parent
                // is there, and ENOENT if not.
                let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
                let view = self.view(tx_id);
                if !view.contains_key(&path) && !parent.is_empty() && !view.contains_key(parent) {
                    return self.reply(MsgType::Error, req_id, tx_id, b"ENOENT\0");
                }
                let prefix = format!("{path}/");
                self.view_mut(tx_id).retain(|k, _| k != &path && !k.starts_with(&prefix));
                if tx_id == 0 {
                    self.generation += 1;
                    self.fire(&path, true);
                }
                self.reply(kind, req_id, tx_id, b"OK\0");
            }
            MsgType::Mkdir => {
                let path = self.absolute(&arg(0));
                if !self.view(tx_id).contains_key(&path) {
                    insert(self.view_mut(tx_id), &path, b"");
                }
                self.reply(kind, req_id, tx_id, b"OK\0");
            }
            MsgType::Watch => {
                let (path, token) = (arg(0), arg(1));
                let relative = !path.starts_with('/');
                self.watches.push((self.absolute(&path), token.clone(), relative));
                self.reply(kind, req_id, tx_id, b"OK\0");
                let mut event = path.into_bytes();
                event.push(0);
                event.extend(token.as_bytes());
                event.push(0);
                self.reply(MsgType::WatchEvent, 0, 0, &event);
            }
            MsgType::Unwatch => {
                let (path, token) = (self.absolute(&arg(0)), arg(1));
                self.watches.retain(|(p, t, _)| !(p == &path && t == &token));
                self.reply(kind, req_id, tx_id, b"OK\0");
            }
            MsgType::TransactionStart => {
                let id = self.next_tx;
                self.next_tx += 1;
                self.transactions.insert(id, (self.tree.clone(), self.generation));
                self.reply(kind, req_id, 0, format!("{id}\0").as_bytes());
            }
            MsgType::TransactionEnd => {
                let (tree, started) = self.transactions.remove(&tx_id).expect("checked above");
                if arg(0) != "T" {
                    return self.reply(kind, req_id, tx_id, b"OK\0");
                }
                if self.fail_commits > 0 || started != self.generation {
                    self.fail_commits = self.fail_commits.saturating_sub(1);
                    return self.reply(MsgType::Error, req_id, tx_id, b"EAGAIN\0");
                }
                let changed: Vec<(String, Vec<u8>)> = tree
                    .iter()
                    .filter(|(k, v)| self.tree.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.tree = tree;
                self.committed(&changed);
                self.reply(kind, req_id, tx_id, b"OK\0");
            }
            MsgType::GetDomainPath => {
                let domid = arg(0);
                self.reply(kind, req_id, tx_id, format!("/local/domain/{domid}\0").as_bytes());
            }
            _ => self.reply(MsgType::Error, req_id, tx_id, b"ENOSYS\0"),
        }
    }

    fn committed(&mut self, writes: &[(String, Vec<u8>)]) {
        self.generation += 1;
        for (path, _) in writes {
            self.fire(path, false);
        }
        let mut hooks = std::mem::take(&mut self.hooks);
        let mut more = Vec::new();
        for (path, value) in writes {
            for hook in hooks.iter_mut() {
                more.extend(hook(path, value, &self.tree));
            }
        }
        self.hooks = hooks;
        for (path, value) in more {
            self.external_write(&path, &value);
        }
    }

    fn view(&self, tx_id: u32) -> &Tree {
        if tx_id == 0 { &self.tree } else { &self.transactions[&tx_id].0 }
    }

    fn view_mut(&mut self, tx_id: u32) -> &mut Tree {
        if tx_id == 0 { &mut self.tree } else { &mut self.transactions.get_mut(&tx_id).unwrap().0 }
    }
}

/// Insert a node and any missing parents (with empty values), as xenstored does.
fn insert(tree: &mut Tree, path: &str, value: &[u8]) {
    let mut end = 0;
    while let Some(pos) = path[end + 1..].find('/') {
        end += 1 + pos;
        tree.entry(path[..end].to_string()).or_default();
    }
    tree.insert(path.to_string(), value.to_vec());
}

/// The client's transport: a real ring page whose other end is the fake daemon.
/// `wait` runs the daemon; if it has nothing to do, the wait times out.
#[cfg(test)]
pub(crate) struct Loopback {
    page: Page,
    client_req: ByteProducer,
    client_rsp: ByteConsumer,
    daemon_req: ByteConsumer,
    daemon_rsp: ByteProducer,
    daemon: FakeXenstored,
}

#[cfg(test)]
impl Loopback {
    pub fn new(daemon: FakeXenstored) -> Self {
        let mut page = Page::new();
        // SAFETY: the page lives (boxed, so at a fixed address) as long as the rings.
        unsafe {
            Loopback {
                client_req: ByteProducer::attach(page.ptr(), XENSTORE_REQ),
                client_rsp: ByteConsumer::attach(page.ptr(), XENSTORE_RSP),
                daemon_req: ByteConsumer::attach(page.ptr(), XENSTORE_REQ),
                daemon_rsp: ByteProducer::attach(page.ptr(), XENSTORE_RSP),
                page,
                daemon,
            }
        }
    }

    pub fn daemon(&mut self) -> &mut FakeXenstored {
        &mut self.daemon
    }

    /// Overwrite one of the daemon's indices with an impossible value.
    pub fn corrupt_index(&mut self, offset: usize) {
        self.page.bytes_mut()[offset..offset + 4].copy_from_slice(&5000u32.to_le_bytes());
    }

    /// Let the daemon consume requests and send what it has; true if anything moved.
    fn run_daemon(&mut self) -> bool {
        if self.daemon.silent {
            return false;
        }
        let mut progress = false;
        let mut buf = [0u8; 64];
        loop {
            let n = self.daemon_req.read(&mut buf).expect("client wrote sane indices");
            if n == 0 {
                break;
            }
            progress = true;
            self.daemon.receive(&buf[..n]).expect("client sent sane messages");
        }
        while !self.daemon.outbox.is_empty() {
            let (a, b) = self.daemon.outbox.as_slices();
            let chunk = if a.is_empty() { b } else { a };
            let n = self.daemon_rsp.write(chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            progress = true;
            self.daemon.outbox.drain(..n);
        }
        progress
    }
}

#[cfg(test)]
impl Transport for Loopback {
    fn write(&mut self, bytes: &[u8]) -> Result<usize, TransportError> {
        self.client_req.write(bytes).map_err(|_| TransportError::Corrupt)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        self.client_rsp.read(buf).map_err(|_| TransportError::Corrupt)
    }

    fn notify(&mut self) {
        self.run_daemon();
    }

    fn wait(&mut self) -> Result<(), TransportError> {
        if self.run_daemon() { Ok(()) } else { Err(TransportError::Timeout) }
    }
}

#[test]
fn insert_creates_parents() {
    let mut tree = Tree::new();
    insert(&mut tree, "/a/b/c", b"x");
    assert_eq!(tree.keys().collect::<Vec<_>>(), ["/a", "/a/b", "/a/b/c"]);
}

#[test]
fn hooks_play_another_domain() {
    use super::{Client, NO_TX};
    let mut daemon = FakeXenstored::new(3);
    // A "backend" that answers our state with its own.
    daemon.on_write(|path, value, _| {
        if path == "/local/domain/3/device/vif/0/state" {
            vec![("/local/domain/0/backend/vif/3/0/state".to_string(), value.to_vec())]
        } else {
            Vec::new()
        }
    });
    let mut xs = Client::new(Loopback::new(daemon));
    xs.write(NO_TX, "device/vif/0/state", b"4").unwrap();
    assert_eq!(xs.read(NO_TX, "/local/domain/0/backend/vif/3/0/state").unwrap(), b"4");
    assert_eq!(xs.transport().daemon().value("device/vif/0/state"), Some(&b"4"[..]));
    assert_eq!(wire::PAYLOAD_MAX, 4096);
}
