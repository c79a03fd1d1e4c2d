//! A xenstore client over any byte transport.
//!
//! The client is synchronous: one request at a time, waiting for the reply
//! with the same `req_id`. Watch events that arrive meanwhile are queued and
//! handed out by [`Client::next_watch_event`]. Replies nobody waits for (a
//! misbehaving daemon) are counted and dropped. Waiting is the transport's
//! business, so the same code runs against the real ring (polling an event
//! channel) and against an in-memory daemon in tests.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::wire::{self, Message, MessageReader, MsgType, Request, WireError, XsErrno};

/// Moves bytes to and from xenstored.
pub trait Transport {
    /// Write as many bytes as fit now; 0 when the ring is full.
    fn write(&mut self, bytes: &[u8]) -> Result<usize, TransportError>;
    /// Read whatever is available, up to `buf.len()`; 0 when nothing is.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError>;
    /// Tell the daemon there are new bytes or free space.
    fn notify(&mut self);
    /// Block until the daemon signals, or fail when it seems gone.
    fn wait(&mut self) -> Result<(), TransportError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The ring indices are impossible.
    Corrupt,
    /// The daemon did not answer in time.
    Timeout,
}

/// Why a xenstore operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// xenstored refused the request (ENOENT, EACCES, EAGAIN, ...).
    Xenstore(XsErrno),
    /// A malformed message or argument.
    Wire(WireError),
    /// The daemon's reply does not make sense for the request.
    Protocol(&'static str),
    /// A value that should be text is not UTF-8.
    NotUtf8,
    Transport(TransportError),
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Xenstore(e) => write!(f, "xenstore: {}", e.name()),
            Error::Wire(e) => write!(f, "{e}"),
            Error::Protocol(what) => write!(f, "xenstore protocol: {what}"),
            Error::NotUtf8 => write!(f, "xenstore value is not UTF-8"),
            Error::Transport(TransportError::Corrupt) => write!(f, "xenstore ring corrupt"),
            Error::Transport(TransportError::Timeout) => write!(f, "xenstore did not answer"),
        }
    }
}

impl Error {
    /// The node does not exist.
    pub fn is_not_found(&self) -> bool {
        *self == Error::Xenstore(XsErrno::Enoent)
    }
}

/// A transaction id; [`NO_TX`] outside transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxId(pub u32);
pub const NO_TX: TxId = TxId(0);

/// A fired watch: the node that changed (or the watched path itself, once,
/// when the watch is registered) and the token given to [`Client::watch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub path: String,
    pub token: String,
}

/// Queued watch events beyond this are dropped (oldest first): a watch storm
/// must not exhaust a small guest's heap. Watchers re-read state anyway.
const MAX_QUEUED_EVENTS: usize = 256;
/// How often a transaction is retried when xenstored reports a conflict.
const TRANSACTION_ATTEMPTS: usize = 32;

/// What one [`Client::receive`] produced.
enum Received {
    Reply(Message),
    Event,
    Nothing,
}

pub struct Client<T: Transport> {
    transport: T,
    reader: MessageReader,
    next_req_id: u32,
    events: VecDeque<WatchEvent>,
    dropped_events: u64,
    stray_replies: u64,
    /// Every watch registered, as (path, token): a restored domain has a new
    /// connection to xenstored, which knows none of them.
    watches: Vec<(String, String)>,
}

impl<T: Transport> Client<T> {
    pub fn new(transport: T) -> Self {
        Client {
            transport,
            reader: MessageReader::new(),
            next_req_id: 1,
            events: VecDeque::new(),
            dropped_events: 0,
            stray_replies: 0,
            watches: Vec::new(),
        }
    }

    /// After the domain was restored from a saved image: xenstored serves a new
    /// domain and knows none of our watches. Forget any half-read message and
    /// queued events and register every watch again (each fires once, so
    /// watchers read the current state, as after their first registration).
    pub fn reconnected(&mut self) -> Result<(), Error> {
        self.reader = MessageReader::new();
        self.events.clear();
        let watches = core::mem::take(&mut self.watches);
        let mut result = Ok(());
        for (path, token) in &watches {
            if let Err(e) = self.call(NO_TX, Request::Watch { path, token }) {
                result = Err(e);
            }
        }
        self.watches = watches;
        result
    }

    /// Drop the watches with `token` from the set [`Self::reconnected`] registers
    /// again (their path is gone: a restored domain's backends have new paths).
    pub fn forget_watches(&mut self, token: &str) {
        self.watches.retain(|(_, t)| t != token);
    }

    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The transport, the client done with.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Watch events already taken off the transport (while a call waited for
    /// its reply) and not yet handed out. No notification will come for them:
    /// a caller about to sleep on the event channel must look here first.
    pub fn has_queued_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Replies that matched no request, and watch events dropped for lack of room.
    pub fn anomalies(&self) -> (u64, u64) {
        (self.stray_replies, self.dropped_events)
    }

    /// Send one request and wait for its reply (an `ERROR` reply becomes `Err`).
    pub fn call(&mut self, tx: TxId, request: Request<'_>) -> Result<Vec<u8>, Error> {
        let req_id = self.next_req_id;
        self.next_req_id = self.next_req_id.wrapping_add(1).max(1);
        let bytes = request.encode(req_id, tx.0)?;
        self.send_all(&bytes)?;
        loop {
            let msg = match self.receive(true)? {
                Received::Reply(msg) => msg,
                Received::Event | Received::Nothing => continue,
            };
            if msg.header.req_id != req_id {
                self.stray_replies += 1;
                continue;
            }
            return match msg.msg_type() {
                Some(MsgType::Error) => Err(Error::Xenstore(XsErrno::parse(&msg.payload))),
                Some(t) if t == request.msg_type() => Ok(msg.payload),
                _ => Err(Error::Protocol("reply type does not match request")),
            };
        }
    }

    fn send_all(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            let n = self.transport.write(bytes)?;
            bytes = &bytes[n..];
            self.transport.notify();
            if n == 0 {
                // Ring full: the daemon signals when it has consumed some.
                self.transport.wait()?;
            }
        }
        Ok(())
    }

    /// Read until one message is complete. A watch event is queued and
    /// reported as [`Received::Event`]. Without `block`, returns
    /// [`Received::Nothing`] as soon as the ring is empty.
    fn receive(&mut self, block: bool) -> Result<Received, Error> {
        let mut buf = [0u8; 256];
        loop {
            let want = self.reader.wants().min(buf.len());
            let n = self.transport.read(&mut buf[..want])?;
            if n == 0 {
                if !block {
                    return Ok(Received::Nothing);
                }
                self.transport.wait()?;
                continue;
            }
            // Space freed: a daemon with more to say may be waiting for it.
            self.transport.notify();
            let (_, msg) = self.reader.accept(&buf[..n])?;
            let Some(msg) = msg else { continue };
            if msg.msg_type() == Some(MsgType::WatchEvent) {
                self.queue_event(&msg.payload)?;
                return Ok(Received::Event);
            }
            return Ok(Received::Reply(msg));
        }
    }

    fn queue_event(&mut self, payload: &[u8]) -> Result<(), Error> {
        let mut parts = wire::split_strings(payload).map_err(|_| Error::NotUtf8)?.into_iter();
        let (Some(path), Some(token)) = (parts.next(), parts.next()) else {
            return Err(Error::Protocol("watch event without path and token"));
        };
        if self.events.len() == MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.dropped_events += 1;
        }
        self.events.push_back(WatchEvent { path, token });
        Ok(())
    }

    /// The next watch event: queued ones first, then whatever is on the ring.
    /// With `block`, waits for one; otherwise returns `None` when there is none.
    pub fn next_watch_event(&mut self, block: bool) -> Result<Option<WatchEvent>, Error> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            match self.receive(block)? {
                Received::Event => continue,
                // A reply outside any request: nobody wants it.
                Received::Reply(_) => self.stray_replies += 1,
                Received::Nothing => return Ok(None),
            }
        }
    }

    /// Read a node's value.
    pub fn read(&mut self, tx: TxId, path: &str) -> Result<Vec<u8>, Error> {
        self.call(tx, Request::Read { path })
    }

    /// Read a node's value as text.
    pub fn read_string(&mut self, tx: TxId, path: &str) -> Result<String, Error> {
        String::from_utf8(self.read(tx, path)?).map_err(|_| Error::NotUtf8)
    }

    /// Read a node holding a decimal number (surrounding whitespace allowed).
    pub fn read_u32(&mut self, tx: TxId, path: &str) -> Result<u32, Error> {
        let value = self.read(tx, path)?;
        parse_u32(&value).ok_or(Error::Protocol("node is not a decimal number"))
    }

    /// Write a node, creating it and its parents.
    pub fn write(&mut self, tx: TxId, path: &str, value: &[u8]) -> Result<(), Error> {
        self.call(tx, Request::Write { path, value }).map(drop)
    }

    /// List a directory's children (names, not paths).
    pub fn directory(&mut self, tx: TxId, path: &str) -> Result<Vec<String>, Error> {
        let payload = self.call(tx, Request::Directory { path })?;
        wire::split_strings(&payload).map_err(|_| Error::NotUtf8)
    }

    pub fn mkdir(&mut self, tx: TxId, path: &str) -> Result<(), Error> {
        self.call(tx, Request::Mkdir { path }).map(drop)
    }

    /// Remove a node and everything below it.
    pub fn rm(&mut self, tx: TxId, path: &str) -> Result<(), Error> {
        self.call(tx, Request::Rm { path }).map(drop)
    }

    /// Watch a path (and everything below it). xenstored fires the watch once
    /// right away, so a watcher always starts by reading the current state.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<(), Error> {
        self.call(NO_TX, Request::Watch { path, token })?;
        if !self.watches.iter().any(|(p, t)| p == path && t == token) {
            self.watches.push((String::from(path), String::from(token)));
        }
        Ok(())
    }

    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<(), Error> {
        self.call(NO_TX, Request::Unwatch { path, token })?;
        self.events.retain(|e| e.token != token);
        self.watches.retain(|(p, t)| !(p == path && t == token));
        Ok(())
    }

    /// This domain's home, e.g. `/local/domain/3`.
    pub fn domain_path(&mut self, domid: u16) -> Result<String, Error> {
        let payload = self.call(NO_TX, Request::GetDomainPath { domid })?;
        String::from_utf8(wire::first_string(&payload).to_vec()).map_err(|_| Error::NotUtf8)
    }

    pub fn transaction_start(&mut self) -> Result<TxId, Error> {
        let payload = self.call(NO_TX, Request::TransactionStart)?;
        match parse_u32(wire::first_string(&payload)) {
            Some(0) | None => Err(Error::Protocol("bad transaction id")),
            Some(id) => Ok(TxId(id)),
        }
    }

    /// Commit (or abort) a transaction. `Err(Xenstore(Eagain))` on commit means
    /// another writer interfered: start over.
    pub fn transaction_end(&mut self, tx: TxId, commit: bool) -> Result<(), Error> {
        self.call(tx, Request::TransactionEnd { commit }).map(drop)
    }

    /// Run `body` in a transaction, retrying the whole body while xenstored
    /// reports a conflict. An error from `body` aborts the transaction.
    pub fn transaction<R>(&mut self, mut body: impl FnMut(&mut Self, TxId) -> Result<R, Error>) -> Result<R, Error> {
        for _ in 0..TRANSACTION_ATTEMPTS {
            let tx = self.transaction_start()?;
            let result = match body(self, tx) {
                Ok(result) => result,
                Err(e) => {
                    // The body's error is the one worth reporting.
                    let _ = self.transaction_end(tx, false);
                    return Err(e);
                }
            };
            match self.transaction_end(tx, true) {
                Ok(()) => return Ok(result),
                Err(Error::Xenstore(XsErrno::Eagain)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Xenstore(XsErrno::Eagain))
    }
}

/// A decimal `u32`, as xenstore nodes hold numbers.
pub fn parse_u32(bytes: &[u8]) -> Option<u32> {
    let text = core::str::from_utf8(bytes).ok()?.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::fake::{FakeXenstored, Loopback};
    use super::*;

    fn client() -> Client<Loopback> {
        Client::new(Loopback::new(FakeXenstored::new(7)))
    }

    #[test]
    fn read_write_directory_rm() {
        let mut xs = client();
        xs.write(NO_TX, "data/a", b"1").unwrap();
        xs.write(NO_TX, "/local/domain/7/data/b", b"two").unwrap();
        assert_eq!(xs.read(NO_TX, "data/a").unwrap(), b"1");
        assert_eq!(xs.read_string(NO_TX, "/local/domain/7/data/a").unwrap(), "1");
        assert_eq!(xs.directory(NO_TX, "data").unwrap(), ["a", "b"]);
        assert_eq!(xs.read_u32(NO_TX, "data/a").unwrap(), 1);
        assert_eq!(xs.read_u32(NO_TX, "data/b"), Err(Error::Protocol("node is not a decimal number")));
        xs.rm(NO_TX, "data/a").unwrap();
        assert!(xs.read(NO_TX, "data/a").unwrap_err().is_not_found());
        assert_eq!(xs.domain_path(7).unwrap(), "/local/domain/7");
    }

    #[test]
    fn many_large_requests_wrap_the_rings() {
        let mut xs = client();
        for i in 0..200u32 {
            let value: Vec<u8> = (0..(i * 97 % 3000)).map(|j| (i + j) as u8).collect();
            let path = format!("data/n{i}");
            xs.write(NO_TX, &path, &value).unwrap();
            assert_eq!(xs.read(NO_TX, &path).unwrap(), value);
        }
    }

    #[test]
    fn a_reconnected_client_registers_its_watches_again() {
        let mut xs = Client::new(Loopback::new(FakeXenstored::new(3)));
        xs.watch("control/shutdown", "shutdown").unwrap();
        xs.watch("backend/old", "vif/0").unwrap();
        xs.watch("data", "data").unwrap();
        xs.unwatch("data", "data").unwrap();
        while xs.next_watch_event(false).unwrap().is_some() {}
        // A restored domain: xenstored knows none of them.
        xs.transport().daemon().forget_watches();
        xs.forget_watches("vif/0");
        xs.reconnected().unwrap();
        let mut tokens = Vec::new();
        while let Some(e) = xs.next_watch_event(false).unwrap() {
            tokens.push(e.token);
        }
        assert_eq!(tokens, ["shutdown"], "registered again (firing once), and only what is still wanted");
        xs.transport().daemon().external_write("/local/domain/3/control/shutdown", b"suspend");
        assert_eq!(xs.next_watch_event(true).unwrap().map(|e| e.token).as_deref(), Some("shutdown"));
    }

    #[test]
    fn watches_fire_on_registration_and_on_change() {
        let mut xs = client();
        xs.watch("control/shutdown", "sd").unwrap();
        let first = xs.next_watch_event(true).unwrap().unwrap();
        assert_eq!(first, WatchEvent { path: "control/shutdown".into(), token: "sd".into() });
        assert_eq!(xs.next_watch_event(false).unwrap(), None);
        // The toolstack (another client of the daemon) writes the node.
        xs.transport().daemon().external_write("/local/domain/7/control/shutdown", b"poweroff");
        let event = xs.next_watch_event(true).unwrap().unwrap();
        assert_eq!(event.token, "sd");
        assert_eq!(event.path, "control/shutdown", "relative watch, relative path");
        assert_eq!(xs.read(NO_TX, "control/shutdown").unwrap(), b"poweroff");
        // Events that arrive while a request waits for its reply are kept.
        xs.transport().daemon().external_write("/local/domain/7/control/shutdown", b"reboot");
        assert!(!xs.has_queued_events());
        xs.write(NO_TX, "data/x", b"y").unwrap();
        // Read off the ring with the write's reply: a sleeper must see it here.
        assert!(xs.has_queued_events());
        assert_eq!(xs.next_watch_event(false).unwrap().unwrap().token, "sd");
        assert!(!xs.has_queued_events());
        xs.unwatch("control/shutdown", "sd").unwrap();
        xs.transport().daemon().external_write("/local/domain/7/control/shutdown", b"x");
        xs.transport().notify();
        assert_eq!(xs.next_watch_event(false).unwrap(), None);
    }

    #[test]
    fn transactions_commit_abort_and_retry_on_conflict() {
        let mut xs = client();
        let tx = xs.transaction_start().unwrap();
        xs.write(tx, "data/t", b"in-tx").unwrap();
        assert!(xs.read(NO_TX, "data/t").unwrap_err().is_not_found(), "isolated until commit");
        xs.transaction_end(tx, true).unwrap();
        assert_eq!(xs.read(NO_TX, "data/t").unwrap(), b"in-tx");

        let tx = xs.transaction_start().unwrap();
        xs.write(tx, "data/t", b"aborted").unwrap();
        xs.transaction_end(tx, false).unwrap();
        assert_eq!(xs.read(NO_TX, "data/t").unwrap(), b"in-tx");

        // Two conflicts, then success: the body runs three times.
        xs.transport().daemon().fail_next_commits(2);
        let mut runs = 0;
        let result = xs.transaction(|xs, tx| {
            runs += 1;
            xs.write(tx, "data/t", b"retried")?;
            Ok(runs)
        });
        assert_eq!(result, Ok(3));
        assert_eq!(xs.read(NO_TX, "data/t").unwrap(), b"retried");

        // A failing body aborts and reports its own error.
        let result: Result<(), Error> = xs.transaction(|xs, tx| {
            xs.write(tx, "data/t", b"never")?;
            xs.read(tx, "data/missing").map(drop)
        });
        assert!(result.unwrap_err().is_not_found());
        assert_eq!(xs.read(NO_TX, "data/t").unwrap(), b"retried");
    }

    #[test]
    fn hostile_daemon_cannot_make_the_client_panic() {
        // Oversized announced length.
        let mut xs = client();
        xs.transport().daemon().inject_raw(&wire::Header { kind: 2, req_id: 1, tx_id: 0, len: 100_000 }.encode());
        assert_eq!(xs.read(NO_TX, "x"), Err(Error::Wire(WireError::OversizedMessage(100_000))));

        // A reply for a request never made is skipped; the real reply still arrives.
        let mut xs = client();
        let mut stray = wire::Header { kind: 2, req_id: 999, tx_id: 0, len: 2 }.encode().to_vec();
        stray.extend_from_slice(b"no");
        xs.transport().daemon().inject_raw(&stray);
        xs.write(NO_TX, "data/a", b"ok").unwrap();
        assert_eq!(xs.anomalies().0, 1);

        // A reply of the wrong type.
        let mut xs = client();
        xs.transport().daemon().answer_next_with_type(MsgType::Directory);
        assert_eq!(xs.read(NO_TX, "data"), Err(Error::Protocol("reply type does not match request")));

        // A watch event without a token, and garbage bytes.
        let mut xs = client();
        let mut ev = wire::Header { kind: 15, req_id: 0, tx_id: 0, len: 5 }.encode().to_vec();
        ev.extend_from_slice(b"path\0");
        xs.transport().daemon().inject_raw(&ev);
        xs.transport().notify();
        assert!(matches!(xs.next_watch_event(false), Err(Error::Protocol(_))));

        // Corrupt ring indices: the daemon's consumer index on the request ring...
        let mut xs = client();
        xs.transport().corrupt_index(crate::byte_ring::XENSTORE_REQ.cons);
        assert_eq!(xs.read(NO_TX, "data"), Err(Error::Transport(TransportError::Corrupt)));
        // ...and its producer index on the reply ring.
        let mut xs = client();
        xs.transport().daemon().go_silent();
        xs.transport().corrupt_index(crate::byte_ring::XENSTORE_RSP.prod);
        assert_eq!(xs.read(NO_TX, "data"), Err(Error::Transport(TransportError::Corrupt)));

        // A daemon that never answers.
        let mut xs = client();
        xs.transport().daemon().go_silent();
        assert_eq!(xs.read(NO_TX, "data"), Err(Error::Transport(TransportError::Timeout)));
    }

    #[test]
    fn parse_u32_accepts_only_decimal() {
        assert_eq!(parse_u32(b"42"), Some(42));
        assert_eq!(parse_u32(b" 7\n"), Some(7));
        assert_eq!(parse_u32(b"4\0"), Some(4));
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b"0x10"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"99999999999"), None);
    }
}
