//! dom0's end of xenstore, for `oxclick boot` and `oxclick ctl`: the guest
//! library's xenstore client over xenstored's Unix socket (or, where xenstored
//! runs elsewhere, the kernel's `/dev/xen/xenbus`), as libxenstore connects.
//!
//! Why not Xen's `xenstore-read`/`-write` tools: each call is a process, and a
//! boot needs dozens of them. Under emulated Xen a process costs tens of
//! milliseconds, on real hardware about one, against a guest that boots in
//! tens: the toolstack's own overhead is what ClickOS had to cut to boot fast.
//! Here a boot is a handful of round trips on one connection, and answers from
//! the guest are awaited with watches, not polled.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use oxclick_unikernel::xenstore::{Client, Error, NO_TX, Transport, TransportError};

/// Where xenstored listens (libxenstore's default; `XENSTORED_PATH` overrides).
const SOCKET_PATHS: [&str; 2] = ["/run/xenstored/socket", "/var/run/xenstored/socket"];
/// The kernel's xenbus device: xenstore when xenstored runs in another domain.
const XENBUS_DEVICE: &str = "/dev/xen/xenbus";
/// How long one request may wait for xenstored's reply.
const REPLY_PATIENCE: Duration = Duration::from_secs(10);
/// How often a waiter looks again without a watch event (a safety net only).
const RECHECK: Duration = Duration::from_millis(500);
/// The token of the watches [`Store::wait_until`] sets.
const WAIT_TOKEN: &str = "oxclick-ctl";

/// A byte stream to xenstored: the socket or the device, non-blocking, waited
/// on with `poll(2)`.
pub struct Dom0Transport {
    file: File,
    /// How long [`Transport::wait`] waits before it reports a timeout.
    patience: Duration,
}

impl Dom0Transport {
    /// Connect the way libxenstore does: `$XENSTORED_PATH`, xenstored's
    /// socket, then the xenbus device.
    pub fn connect() -> Result<Dom0Transport, String> {
        let mut tried = Vec::new();
        let env = std::env::var("XENSTORED_PATH").ok();
        for path in env.iter().map(String::as_str).chain(SOCKET_PATHS) {
            match Dom0Transport::connect_socket(path) {
                Ok(transport) => return Ok(transport),
                Err(e) => tried.push(e),
            }
        }
        match std::fs::OpenOptions::new().read(true).write(true).open(XENBUS_DEVICE) {
            Ok(file) => Dom0Transport::from_fd(OwnedFd::from(file)),
            Err(e) => {
                tried.push(format!("{XENBUS_DEVICE}: {e}"));
                Err(format!("cannot reach xenstore (run this in a Xen dom0 as root): {}", tried.join("; ")))
            }
        }
    }

    /// Connect to a xenstored listening on the Unix socket at `path`.
    pub fn connect_socket(path: &str) -> Result<Dom0Transport, String> {
        let stream = UnixStream::connect(path).map_err(|e| format!("{path}: {e}"))?;
        Dom0Transport::from_fd(OwnedFd::from(stream))
    }

    fn from_fd(fd: OwnedFd) -> Result<Dom0Transport, String> {
        // SAFETY: fcntl on a descriptor we own, with flags it returned.
        let ok = unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
        };
        if !ok {
            return Err(format!(
                "xenstore: cannot make the connection non-blocking: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Dom0Transport { file: File::from(fd), patience: REPLY_PATIENCE })
    }

    /// Wait for `events` on the stream for at most `patience`; false on timeout.
    fn poll(&self, events: libc::c_short, patience: Duration) -> bool {
        let mut pfd = libc::pollfd { fd: self.file.as_raw_fd(), events, revents: 0 };
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one valid pollfd, for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n > 0 {
                return true;
            }
            if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                // Timed out, or an error poll will report again on read.
                return n != 0;
            }
        }
    }
}

impl Transport for Dom0Transport {
    fn write(&mut self, bytes: &[u8]) -> Result<usize, TransportError> {
        // Requests are small: wait here for room rather than make the client
        // wait for it (its `wait` is for replies).
        loop {
            match self.file.write(bytes) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !self.poll(libc::POLLOUT, self.patience) {
                        return Err(TransportError::Timeout);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // xenstored went away: no reply will come.
                Err(_) => return Err(TransportError::Corrupt),
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        loop {
            match self.file.read(buf) {
                // End of stream: xenstored closed the connection.
                Ok(0) if !buf.is_empty() => return Err(TransportError::Corrupt),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(TransportError::Corrupt),
            }
        }
    }

    fn notify(&mut self) {}

    fn wait(&mut self) -> Result<(), TransportError> {
        if self.poll(libc::POLLIN, self.patience) { Ok(()) } else { Err(TransportError::Timeout) }
    }
}

/// One connection to xenstore, with the operations the CLI needs; errors are
/// messages naming the node.
pub struct Store {
    client: Client<Dom0Transport>,
}

fn failed(what: &str, path: &str, e: Error) -> String {
    match e {
        Error::Transport(TransportError::Corrupt) => {
            format!("xenstore: lost the connection to xenstored ({what} {path})")
        }
        e => format!("xenstore: {what} {path}: {e}"),
    }
}

impl Store {
    pub fn open() -> Result<Store, String> {
        Ok(Store::over(Dom0Transport::connect()?))
    }

    pub fn over(transport: Dom0Transport) -> Store {
        Store { client: Client::new(transport) }
    }

    /// A node's value, exactly; `None` when there is no such node.
    pub fn read(&mut self, path: &str) -> Result<Option<String>, String> {
        match self.client.read(NO_TX, path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(failed("read", path, e)),
        }
    }

    /// Write `(path, value)` pairs in one transaction: a reader sees all or none.
    pub fn write_all(&mut self, pairs: &[(String, String)]) -> Result<(), String> {
        self.client
            .transaction(|xs, tx| {
                for (path, value) in pairs {
                    xs.write(tx, path, value.as_bytes())?;
                }
                Ok(())
            })
            .map_err(|e| failed("write", pairs.first().map_or("", |(p, _)| p.as_str()), e))
    }

    pub fn write(&mut self, path: &str, value: &str) -> Result<(), String> {
        self.client.write(NO_TX, path, value.as_bytes()).map_err(|e| failed("write", path, e))
    }

    /// Remove a node and everything below it; a node that is not there is fine.
    pub fn rm(&mut self, path: &str) -> Result<(), String> {
        match self.client.rm(NO_TX, path) {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(failed("remove", path, e)),
        }
    }

    /// The id of the domain named `name` (or written as a number), from the
    /// `name` nodes libxl keeps under `/local/domain/<id>` (what `xl domid`
    /// reads, without starting xl).
    pub fn domid(&mut self, name: &str) -> Result<u32, String> {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            return name.parse().map_err(|_| format!("no domain {name}"));
        }
        let ids = self.client.directory(NO_TX, "/local/domain").map_err(|e| failed("list", "/local/domain", e))?;
        for id in ids {
            if self.read(&format!("/local/domain/{id}/name"))?.as_deref() == Some(name)
                && let Ok(n) = id.parse()
            {
                return Ok(n);
            }
        }
        Err(format!("no domain named '{name}'"))
    }

    /// Call `ready` until it yields, at first and whenever a node under one of
    /// `watched` changes (or every [`RECHECK`] regardless); `None` when
    /// `timeout` passes first.
    pub fn wait_until<R>(
        &mut self,
        watched: &[&str],
        timeout: Duration,
        mut ready: impl FnMut(&mut Store) -> Result<Option<R>, String>,
    ) -> Result<Option<R>, String> {
        let deadline = Instant::now() + timeout;
        for path in watched {
            self.client.watch(path, WAIT_TOKEN).map_err(|e| failed("watch", path, e))?;
        }
        let result = self.wait_loop(deadline, &mut ready);
        for path in watched {
            let _ = self.client.unwatch(path, WAIT_TOKEN);
        }
        result
    }

    fn wait_loop<R>(
        &mut self,
        deadline: Instant,
        ready: &mut impl FnMut(&mut Store) -> Result<Option<R>, String>,
    ) -> Result<Option<R>, String> {
        loop {
            // Events that came in meanwhile are all answered by this one look.
            while let Ok(Some(_)) = self.client.next_watch_event(false) {}
            if let Some(r) = ready(self)? {
                return Ok(Some(r));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.client.transport().patience = left.min(RECHECK);
            let event = self.client.next_watch_event(true);
            self.client.transport().patience = REPLY_PATIENCE;
            match event {
                Ok(_) | Err(Error::Transport(TransportError::Timeout)) => {}
                Err(e) => return Err(failed("wait on", "watches", e)),
            }
        }
    }
}

/// The guest library's in-memory xenstored (`xenstore::fake`) on a Unix socket,
/// for tests of the dom0 tools: its replies dribble out a byte at a time (as a
/// stream may deliver them), and a hook plays the guest.
#[cfg(test)]
pub(crate) mod test_daemon {
    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;

    use oxclick_unikernel::xenstore::fake::FakeXenstored;

    pub type Tree = BTreeMap<String, String>;
    /// Called after each committed write with the node written; returns nodes
    /// the "guest" writes in answer.
    pub type Guest = Box<dyn FnMut(&str) -> Vec<(String, String)> + Send>;

    /// Serve one connection at a fresh socket path, the daemon holding `tree`
    /// (and dom0's own nodes); the path to connect to.
    pub fn spawn(tree: Tree, mut guest: Guest) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("oxclick-xs-test-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind");
        std::thread::spawn(move || {
            let mut daemon = FakeXenstored::new(0);
            for (node, value) in &tree {
                daemon.external_write(node, value.as_bytes());
            }
            daemon.on_write(move |node, _, _| {
                guest(node).into_iter().map(|(node, value)| (node, value.into_bytes())).collect()
            });
            let (mut stream, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 512];
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                daemon.receive(&buf[..n]).expect("the client sends well-formed messages");
                for b in daemon.take_output() {
                    if stream.write_all(&[b]).is_err() {
                        return;
                    }
                }
            }
        });
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(tree: test_daemon::Tree, guest: test_daemon::Guest) -> Store {
        let path = test_daemon::spawn(tree, guest);
        Store::over(Dom0Transport::connect_socket(path.to_str().unwrap()).unwrap())
    }

    fn tree(nodes: &[(&str, &str)]) -> test_daemon::Tree {
        nodes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_writes_and_removes_nodes_over_a_socket() {
        let mut xs = store(tree(&[("/a/b", "hello")]), Box::new(|_| vec![]));
        assert_eq!(xs.read("/a/b").unwrap().as_deref(), Some("hello"));
        assert_eq!(xs.read("/a/missing").unwrap(), None);
        xs.write_all(&[("/a/c".into(), "1".into()), ("/a/d".into(), "two words".into())]).unwrap();
        assert_eq!(xs.read("/a/d").unwrap().as_deref(), Some("two words"));
        xs.rm("/a").unwrap();
        assert_eq!(xs.read("/a/c").unwrap(), None);
        // Removing what is not there is not an error (xenstored says ENOENT
        // when the parent is missing too).
        xs.rm("/a").unwrap();
        xs.rm("/nowhere/x").unwrap();
    }

    #[test]
    fn finds_a_domain_by_name_without_xl() {
        let mut xs = store(
            tree(&[("/local/domain/0/name", "Domain-0"), ("/local/domain/7/name", "mirror")]),
            Box::new(|_| vec![]),
        );
        assert_eq!(xs.domid("mirror").unwrap(), 7);
        assert_eq!(xs.domid("12").unwrap(), 12);
        let err = xs.domid("nat").unwrap_err();
        assert!(err.contains("no domain named 'nat'"), "{err}");
    }

    #[test]
    fn a_waiter_wakes_on_the_watch_not_on_a_timer() {
        // The "guest" answers the request the moment it is written.
        let mut xs = store(
            tree(&[]),
            Box::new(|path| match path {
                "/g/request" => vec![("/g/answer".into(), "42".into())],
                _ => vec![],
            }),
        );
        let start = Instant::now();
        xs.write("/g/request", "").unwrap();
        let got = xs.wait_until(&["/g"], Duration::from_secs(5), |xs| xs.read("/g/answer")).unwrap();
        assert_eq!(got.as_deref(), Some("42"));
        assert!(start.elapsed() < RECHECK, "woke after {:?}: by the timer, not the watch", start.elapsed());
        // Nothing comes: the deadline ends the wait.
        let none = xs.wait_until(&["/h"], Duration::from_millis(50), |xs| xs.read("/h/x")).unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn a_dead_daemon_is_an_error_not_a_hang() {
        let path = std::env::temp_dir().join(format!("oxclick-xs-test-dead-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let mut xs = Store::over(Dom0Transport::connect_socket(path.to_str().unwrap()).unwrap());
        drop(listener.accept().unwrap());
        let err = xs.read("/x").unwrap_err();
        assert!(err.contains("lost the connection"), "{err}");
        let err = Dom0Transport::connect_socket("/nonexistent/socket").err().unwrap();
        assert!(err.contains("/nonexistent/socket"), "{err}");
    }
}
