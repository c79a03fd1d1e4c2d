//! A firewalling NAT gateway in the style of Click's `conf/mazu-nat.click`
//! (`examples/nat-gateway.click`, or Click's own file named by
//! `OXCLICK_NAT_GATEWAY`) between two network namespaces, with real TCP:
//!
//! - an inside host's connection to the outside world leaves from the
//!   gateway's outside address and a port from 50000;
//! - an outside host's connection to the gateway's web port reaches the
//!   inside server, from the gateway's inside address;
//! - active-mode FTP: the inside client's PORT command is rewritten, the
//!   server's data connection from port 20 reaches the client, and the control
//!   connection goes on with its sequence numbers shifted (the kernels on both
//!   ends would drop misnumbered segments).
//!
//! The namespaces' sockets are opened from threads that joined them (setns).
//! Needs root, `ip` and /dev/net/tun; otherwise the test says it is skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{bin, must, sh};

const TIMEOUT: Duration = Duration::from_secs(5);

struct Lab(String);

impl Drop for Lab {
    fn drop(&mut self) {
        let p = &self.0;
        sh(&format!(
            "ip netns del {p}I 2>/dev/null; ip netns del {p}E 2>/dev/null; ip link del {p}i0 2>/dev/null; ip link del {p}e0 2>/dev/null"
        ));
    }
}

/// Run `f` on a thread inside network namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("namespace file");
        use std::os::fd::AsRawFd;
        // SAFETY: setns on this thread with a namespace descriptor we hold.
        assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns {path}");
        f()
    })
}

/// The next connection to `l`, waiting at most [`TIMEOUT`].
fn accept(l: &TcpListener) -> (TcpStream, SocketAddr) {
    l.set_nonblocking(true).expect("nonblocking");
    let start = std::time::Instant::now();
    loop {
        match l.accept() {
            Ok((s, peer)) => {
                s.set_nonblocking(false).expect("blocking");
                s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
                return (s, peer);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("no connection to {:?}: {e}", l.local_addr()),
        }
    }
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).expect("read a line");
    s
}

/// The running gateway; killed if the test fails before it stops it.
struct Gateway(Option<Child>);

impl Gateway {
    /// Stop it as Ctrl-C would and return what it printed (its `-h` handlers).
    fn stop(&mut self) -> String {
        self.0.take().map(common::stop).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_nat_gateway_carries_tcp_redirects_the_web_and_lets_active_ftp_through() {
    if let Some(why) = common::missing_root_or(&["ip"]) {
        return eprintln!("skipped: {why}");
    }
    if !Path::new("/dev/net/tun").exists() {
        return eprintln!("skipped: no /dev/net/tun");
    }
    let config = std::env::var("OXCLICK_NAT_GATEWAY")
        .unwrap_or_else(|_| format!("{}/examples/nat-gateway.click", env!("CARGO_MANIFEST_DIR")));
    let p = format!("nz{}", std::process::id() % 100_000);
    let _lab = Lab(p.clone());
    // Inside: the client 10.0.0.2 and the server 10.0.0.10 behind the
    // gateway's inside port (00:50:ba:85:84:a9). Outside: the next hop
    // 209.6.198.1 (02:00:0a:11:22:1f) behind its outside port (00:e0:98:09:ab:af).
    must(&format!(
        "ip netns add {p}I && ip netns add {p}E \
         && ip link add {p}i0 address 00:50:ba:85:84:a9 type veth peer name {p}i1 netns {p}I \
         && ip link add {p}e0 address 00:e0:98:09:ab:af type veth peer name {p}e1 address 02:00:0a:11:22:1f netns {p}E \
         && for d in {p}i0 {p}e0; do echo 1 >/proc/sys/net/ipv6/conf/$d/disable_ipv6; ip link set $d up; done \
         && ip -n {p}I addr add 10.0.0.2/8 dev {p}i1 && ip -n {p}I addr add 10.0.0.10/8 dev {p}i1 \
         && ip -n {p}I link set {p}i1 up && ip -n {p}I link set lo up \
         && ip -n {p}I route add default via 10.0.0.1 src 10.0.0.2 \
         && ip -n {p}E addr add 209.6.198.1/24 dev {p}e1 && ip -n {p}E link set {p}e1 up && ip -n {p}E link set lo up"
    ));
    let mut gateway = Gateway(Some(
        Command::new(bin())
            .arg(&config)
            .args(["-h", "tcp_rw.table", "-h", "rw.table"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oxclick"),
    ));
    std::thread::sleep(Duration::from_millis(500));

    // Listeners first: the outside world's plain and FTP servers, the inside web server.
    let outside_plain = in_ns(&format!("{p}E"), || TcpListener::bind("209.6.198.1:7777").expect("bind 7777"));
    let outside_ftp = in_ns(&format!("{p}E"), || TcpListener::bind("209.6.198.1:21").expect("bind 21"));
    let inside_web = in_ns(&format!("{p}I"), || TcpListener::bind("10.0.0.10:80").expect("bind 80"));
    let (outside_plain, outside_ftp, inside_web) =
        (outside_plain.join().unwrap(), outside_ftp.join().unwrap(), inside_web.join().unwrap());

    // 1. Inside to outside: the server sees the gateway's outside address.
    let server = std::thread::spawn(move || {
        let (s, peer) = accept(&outside_plain);
        let mut r = BufReader::new(s.try_clone().unwrap());
        let got = line(&mut r);
        (&s).write_all(b"hello inside\n").unwrap();
        (peer, got)
    });
    let client = in_ns(&format!("{p}I"), || {
        let s = TcpStream::connect_timeout(&"209.6.198.1:7777".parse().unwrap(), TIMEOUT).expect("connect out");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        (&s).write_all(b"hello outside\n").unwrap();
        line(&mut BufReader::new(s))
    });
    let answer = client.join();
    let Ok((peer, got)) = server.join() else {
        panic!("the outside server failed; the gateway said:\n{}", gateway.stop())
    };
    let Ok(answer) = answer else { panic!("the inside client failed; the gateway said:\n{}", gateway.stop()) };
    assert_eq!((got.as_str(), answer.as_str()), ("hello outside\n", "hello inside\n"));
    assert_eq!(peer.ip().to_string(), "209.6.198.213");
    assert!(peer.port() >= 50000, "source port {}", peer.port());

    // 2. Outside to the gateway's web port: the inside server answers.
    let web = std::thread::spawn(move || {
        let (s, peer) = accept(&inside_web);
        (&s).write_all(b"inside server\n").unwrap();
        peer
    });
    let visitor = in_ns(&format!("{p}E"), || {
        let s = TcpStream::connect_timeout(&"209.6.198.213:80".parse().unwrap(), TIMEOUT).expect("connect to :80");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        line(&mut BufReader::new(s))
    });
    assert_eq!(visitor.join().expect("the outside visitor"), "inside server\n");
    let web_peer = web.join().unwrap();
    assert_eq!(web_peer.ip().to_string(), "10.0.0.1", "the server sees the gateway's inside address");

    // 3. Active FTP: PORT names the client's own data listener; the server
    // must see it rewritten to the gateway's outside address, connect back
    // from port 20, and the control connection must go on.
    let ftp_server = in_ns(&format!("{p}E"), move || {
        let (s, _) = accept(&outside_ftp);
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        (&s).write_all(b"220 ready\r\n").unwrap();
        let port = line(&mut r);
        let n: Vec<u16> = port.trim().trim_start_matches("PORT ").split(',').map(|x| x.parse().unwrap()).collect();
        let to = SocketAddr::from(([n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8], n[4] * 256 + n[5]));
        (&s).write_all(b"200 PORT ok\r\n").unwrap();
        let list = line(&mut r);
        // The data connection from port 20, as an FTP server makes it.
        let sock = socket2_bind_20();
        let data = connect_from(sock, to);
        (&data).write_all(b"file-a\r\nfile-b\r\n").unwrap();
        drop(data);
        (&s).write_all(b"226 done\r\n").unwrap();
        (port, to, list)
    });
    let ftp_client = in_ns(&format!("{p}I"), || {
        let data = TcpListener::bind("10.0.0.2:0").expect("data listener");
        let dport = data.local_addr().unwrap().port();
        let s = TcpStream::connect_timeout(&"209.6.198.1:21".parse().unwrap(), TIMEOUT).expect("connect ftp");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let hello = line(&mut r);
        (&s).write_all(format!("PORT 10,0,0,2,{},{}\r\n", dport >> 8, dport & 255).as_bytes()).unwrap();
        let ok = line(&mut r);
        (&s).write_all(b"LIST\r\n").unwrap();
        let (mut conn, from) = accept(&data);
        let mut listing = String::new();
        conn.read_to_string(&mut listing).unwrap();
        let done = line(&mut r);
        (dport, hello, ok, from, listing, done)
    });
    let client = ftp_client.join();
    let server = ftp_server.join();
    let out = gateway.stop();
    let (dport, hello, ok, from, listing, done) =
        client.unwrap_or_else(|_| panic!("the FTP client failed; the gateway said:\n{out}"));
    let (port, to, list) = server.unwrap_or_else(|_| panic!("the FTP server failed; the gateway said:\n{out}"));
    assert_eq!((hello.as_str(), ok.as_str()), ("220 ready\r\n", "200 PORT ok\r\n"));
    assert!(port.starts_with("PORT 209,6,198,213,"), "the server got {port:?}");
    assert_ne!(to.port(), dport, "{out}");
    assert_eq!(list, "LIST\r\n", "the control connection after the rewritten PORT");
    assert_eq!(from.to_string(), "209.6.198.1:20");
    assert_eq!(listing, "file-a\r\nfile-b\r\n");
    assert_eq!(done, "226 done\r\n", "the server's reply after the shift reached the client");
    assert!(out.contains("(6, 10.0.0.2, ") && out.contains(", 209.6.198.1, 20)"), "the gateway's tables:\n{out}");
}

/// A TCP socket bound to port 20 of any address (an FTP server's data port).
fn socket2_bind_20() -> i32 {
    // SAFETY: plain socket calls on a descriptor we own until connect_from takes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let one: libc::c_int = 1;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, (&one as *const libc::c_int).cast(), 4);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as u16;
        sin.sin_port = 20u16.to_be();
        let rc = libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), size_of::<libc::sockaddr_in>() as u32);
        assert_eq!(rc, 0, "bind port 20");
        fd
    }
}

fn connect_from(fd: i32, to: SocketAddr) -> TcpStream {
    let SocketAddr::V4(v4) = to else { panic!("IPv4 only") };
    // SAFETY: connect on our descriptor, then ownership moves to the TcpStream.
    unsafe {
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as u16;
        sin.sin_port = v4.port().to_be();
        sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
        let rc = libc::connect(fd, (&sin as *const libc::sockaddr_in).cast(), size_of::<libc::sockaddr_in>() as u32);
        assert_eq!(rc, 0, "connect from port 20 to {to}");
        use std::os::fd::FromRawFd;
        TcpStream::from_raw_fd(fd)
    }
}
