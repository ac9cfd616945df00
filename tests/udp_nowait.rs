//! UDP `nowait` services, served as busybox serves them: each new peer gets
//! a program of its own on a socket connected to it.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::util::*;

/// A UDP service that answers each datagram with its pid, its peer (as
/// getpeername says: the socket inetd gave it is connected) and the
/// datagram, until `bye`.
const SERVER: &str = "import os, socket\n\
s = socket.socket(fileno=0)\n\
s.settimeout(20)\n\
peer = '%s:%d' % s.getpeername()[:2]\n\
while True:\n    data = s.recv(512)\n    s.send(b'%d %s %s' % (os.getpid(), peer.encode(), data))\n    if data == b'bye':\n        break\n";

fn python() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A daemon serving [`SERVER`] on a UDP port of 127.0.0.1.
struct Server {
    daemon: Daemon,
    port: u16,
    /// Holds the script; dropped after the daemon.
    _script: Dir,
}

/// Starts inetd (its directory named by `name`, with `args`) serving
/// [`SERVER`] with `wait` as the line's wait field (`nowait`, `nowait/1`,
/// ...); none, said so, without python3.
fn start_server(name: &str, wait: &str, args: &[&str]) -> Option<Server> {
    if !require("python3") {
        return None;
    }
    let dir = Dir::new(&format!("{name}-script"));
    let script = dir.create("serve.py", SERVER);
    let port = free_port("127.0.0.1");
    let user = current_user();
    let daemon = Daemon::start_with(
        name,
        &format!(
            "127.0.0.1:{port} dgram udp {wait} {user} {} python3 {}\n",
            python(),
            script.display()
        ),
        args,
    );
    Some(Server {
        daemon,
        port,
        _script: dir,
    })
}

/// A client bound on `host`, connected to `port` of 127.0.0.1, whose
/// reads wait 100 ms.
fn client(host: &str, port: u16) -> UdpSocket {
    let s = UdpSocket::bind((host, 0)).unwrap();
    s.connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

/// Sends `payload` until the answer to it comes (UDP clients send again:
/// a datagram queued behind another peer's may be dropped by inetd) and
/// returns the server's pid and the peer it saw.
fn ask(socket: &UdpSocket, payload: &str) -> (String, String) {
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = [0u8; 1024];
    loop {
        assert!(Instant::now() < deadline, "no answer to {payload}");
        socket.send(payload.as_bytes()).unwrap();
        let sent = Instant::now();
        while sent.elapsed() < Duration::from_millis(300) {
            let Ok(n) = socket.recv(&mut buf) else {
                break;
            };
            let answer = String::from_utf8_lossy(&buf[..n]).to_string();
            let fields: Vec<&str> = answer.splitn(3, ' ').collect();
            if fields.len() == 3 && fields[2] == payload {
                return (fields[0].to_string(), fields[1].to_string());
            }
        }
    }
}

/// Three clients at once, each served by its own process, all alive
/// together; a client's later datagrams reach its own process.
#[test]
fn three_clients_at_once_each_get_a_process() {
    let Some(server) = start_server("udpnowait", "nowait", &[]) else {
        return;
    };
    let (d, port) = (&server.daemon, server.port);
    let clients: Vec<UdpSocket> = (0..3).map(|_| client("127.0.0.1", port)).collect();
    // The first datagrams of all three are sent before any is answered.
    for c in &clients {
        c.send(b"hello").unwrap();
    }
    let first: Vec<(String, String)> = std::thread::scope(|scope| {
        let asks: Vec<_> = clients
            .iter()
            .map(|c| scope.spawn(move || ask(c, "hello")))
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    for ((_, peer), c) in first.iter().zip(&clients) {
        assert_eq!(*peer, c.local_addr().unwrap().to_string());
    }
    let mut pids: Vec<&String> = first.iter().map(|(pid, _)| pid).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "one process per client: {first:?}");
    assert_eq!(children_of(d.pid()).len(), 3, "all three alive at once");
    // Each client's next datagram goes to its own process.
    for (c, (pid, _)) in clients.iter().zip(&first) {
        assert_eq!(ask(c, "again").0, *pid);
    }
    for (c, (pid, _)) in clients.iter().zip(&first) {
        assert_eq!(ask(c, "bye").0, *pid);
    }
    wait_until("the three servers to exit", || {
        d.log_text().matches("exited").count() >= 3
    });
    // The listener serves a new peer after them.
    let late = client("127.0.0.1", port);
    let (pid, _) = ask(&late, "bye");
    assert!(!pids.contains(&&pid));
}

/// The children of a UDP `nowait` service count against its cap like any
/// other: with `/1`, a second peer waits for the first one's process.
#[test]
fn peers_wait_for_room_under_the_cap() {
    let Some(server) = start_server("udpnowait-cap", "nowait/1", &[]) else {
        return;
    };
    let (d, port) = (&server.daemon, server.port);
    let (a, b) = (client("127.0.0.1", port), client("127.0.0.1", port));
    let (pid_a, _) = ask(&a, "hello");
    b.send(b"hello").unwrap();
    d.wait_for_log("at its limit of concurrent children");
    let mut buf = [0u8; 64];
    assert!(b.recv(&mut buf).is_err(), "served beyond the cap");
    assert_eq!(ask(&a, "bye").0, pid_a);
    let (pid_b, _) = ask(&b, "bye");
    assert_ne!(pid_a, pid_b);
}

/// Per-client limits count peers by address: with one child per client,
/// a second port of the same host is refused while the first is served
/// (its datagram consumed, so the listener goes on), then served.
#[test]
fn one_child_per_client_address() {
    let Some(server) = start_server("udpnowait-client", "nowait/0/0/1", &[]) else {
        return;
    };
    let (d, port) = (&server.daemon, server.port);
    let (a, b) = (client("127.0.0.1", port), client("127.0.0.1", port));
    let (pid_a, _) = ask(&a, "hello");
    b.send(b"hello").unwrap();
    d.wait_for_log("refused connection from 127.0.0.1");
    let mut buf = [0u8; 64];
    assert!(b.recv(&mut buf).is_err(), "a second child for one client");
    // Another host is served meanwhile.
    let other = client("127.0.0.2", port);
    let (pid_other, _) = ask(&other, "bye");
    assert_ne!(pid_other, pid_a);
    assert_eq!(ask(&a, "bye").0, pid_a);
    let (pid_b, _) = ask(&b, "bye");
    assert_ne!(pid_a, pid_b);
}

/// A burst of new peers, all sending at once: the datagrams queued behind
/// the first peer's are dropped, but their senders' next datagrams reach
/// sockets of their own, so each is served by its own process at its
/// second try, not one peer a round.
#[test]
fn a_burst_of_new_peers_is_served_in_one_retry() {
    let Some(server) = start_server("udpnowait-burst", "nowait", &["-R", "1000"]) else {
        return;
    };
    let port = server.port;
    const PEERS: usize = 20;
    let clients: Vec<UdpSocket> = (0..PEERS).map(|_| client("127.0.0.1", port)).collect();
    for c in &clients {
        c.send(b"bye").unwrap();
    }
    let started = Instant::now();
    let mut pids: Vec<String> = std::thread::scope(|scope| {
        let asks: Vec<_> = clients
            .iter()
            .map(|c| scope.spawn(move || ask(c, "bye").0))
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    let took = started.elapsed();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), PEERS, "one process per peer");
    // One 300 ms retry, with room for 20 Python start-ups on a busy machine.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    drop(server);
}

/// Access control applies per peer: a denied host gets nothing (and the
/// listener goes on), and a rule whose option runs in a child (`spawn`)
/// decides in the `--tcpd` child, which then runs the program on the
/// peer's connected socket.
#[test]
fn access_is_decided_per_peer() {
    let Some(server) = start_server("udpnowait-access", "nowait", &[]) else {
        return;
    };
    let (d, port) = (&server.daemon, server.port);
    let out = Dir::new("udpnowait-spawn-out");
    std::fs::set_permissions(
        &out.path,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let file = out.join("spawned");
    d.write_rules("hosts.deny", "python3: 127.0.0.2\n");
    d.write_rules(
        "hosts.allow",
        &format!(
            "python3: 127.0.0.1: spawn /bin/echo %a %d >> {}\n",
            file.display()
        ),
    );
    let denied = client("127.0.0.2", port);
    // Its silence is waited for longer.
    denied
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    denied.send(b"bye").unwrap();
    let mut buf = [0u8; 64];
    assert!(denied.recv(&mut buf).is_err(), "a denied peer was answered");
    let allowed = client("127.0.0.1", port);
    let (_, peer) = ask(&allowed, "bye");
    assert_eq!(peer, allowed.local_addr().unwrap().to_string());
    wait_until("the spawned command", || {
        std::fs::read_to_string(&file).is_ok_and(|s| s == "127.0.0.1 python3\n")
    });
}
