//! Access decisions made in a `--tcpd` child against hostile or broken
//! lookups: ident servers that drip or lie, a name server that never
//! answers, dual-stack clients; and where the child's log lines go.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::access::greeter;
use crate::util::*;

/// An ident server on `ip`:113 (root only) that hands each of `queries`
/// connections, with the ports asked about, to `serve`.
fn ident_server(
    ip: &str,
    queries: usize,
    serve: impl Fn(TcpStream, u16, u16) + Send + 'static,
) -> JoinHandle<()> {
    let listener = TcpListener::bind((ip, 113)).expect("bind the ident port");
    std::thread::spawn(move || {
        for _ in 0..queries {
            let (stream, _) = listener.accept().expect("accept an ident query");
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut query = String::new();
            BufReader::new(&stream).read_line(&mut query).unwrap();
            let (client, server) = query.trim().split_once(',').expect("an ident query");
            serve(
                stream,
                client.trim().parse().unwrap(),
                server.trim().parse().unwrap(),
            );
        }
    })
}

/// libwrap bounds the whole ident exchange by its timeout: a server that
/// sends a byte every 1.5 s (each read well within `rfc931 2`) is cut off
/// after 2 s, and the connection is served as from an unknown user.
#[test]
fn a_dripping_ident_server_is_cut_off_at_the_timeout() {
    if !is_root() {
        eprintln!("skipping: the fake ident server needs port 113");
        return;
    }
    let port = free_port("127.0.0.1");
    let d = Daemon::start("tcpd-ident-drip", &greeter(port));
    d.write_rules("hosts.allow", "greeter: ALL: rfc931 2\n");
    // Not joined: it stops at its first failed write after the child gives up.
    let _ident = ident_server("127.0.0.6", 1, |mut stream, _, _| {
        for _ in 0..20 {
            if stream.write_all(b"1").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1500));
        }
    });
    let started = Instant::now();
    let service = connect_from("127.0.0.6", &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(read_all(service), b"hi\n");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the ident lookup took {took:?}"
    );
}

/// A reply about other ports is no answer, and only the user token
/// counts (what follows a blank or a control byte is dropped).
#[test]
fn ident_replies_are_checked_and_trimmed() {
    if !is_root() {
        eprintln!("skipping: the fake ident server needs port 113");
        return;
    }
    let port = free_port("127.0.0.1");
    let d = Daemon::start("tcpd-ident-reply", &greeter(port));
    d.write_rules(
        "hosts.allow",
        "greeter: ALL: rfc931 2: twist /bin/echo user=%u\n",
    );
    let replies = AtomicUsize::new(0);
    let ident = ident_server("127.0.0.7", 2, move |mut stream, client, server| {
        // The first reply is about another connection; the second carries junk.
        let (client, user) = match replies.fetch_add(1, Ordering::SeqCst) {
            0 => (client + 1, "joe"),
            _ => (client, "joe\x1b[2J x"),
        };
        let reply = format!("{client} , {server} : USERID : UNIX : {user}\r\n");
        let _ = stream.write_all(reply.as_bytes());
    });
    let addr = format!("127.0.0.1:{port}");
    let ask = || read_all(connect_from("127.0.0.7", &addr).unwrap());
    assert_eq!(String::from_utf8_lossy(&ask()), "user=unknown\n");
    assert_eq!(String::from_utf8_lossy(&ask()), "user=joe\n");
    ident.join().unwrap();
}

/// Client-supplied bytes in a log line are escaped: here an ident user
/// name with non-ASCII bytes, in the refusal a child logs.
#[test]
fn client_bytes_in_log_lines_are_escaped() {
    if !is_root() {
        eprintln!("skipping: the fake ident server needs port 113");
        return;
    }
    let port = free_port("127.0.0.1");
    let d = Daemon::start("tcpd-log-escape", &greeter(port));
    d.write_rules("hosts.deny", "greeter: ALL: rfc931 2\n");
    let ident = ident_server("127.0.0.8", 1, |mut stream, client, server| {
        let mut reply = format!("{client} , {server} : USERID : UNIX : r").into_bytes();
        reply.extend_from_slice(b"\xc3\xa9my\x9b[31m\r\n");
        let _ = stream.write_all(&reply);
    });
    let service = connect_from("127.0.0.8", &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(read_all(service), b"");
    ident.join().unwrap();
    d.wait_for_log("@127.0.0.8");
    let log = std::fs::read(&d.log).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.contains("refused connect from r\\xc3\\xa9my"),
        "{text}"
    );
    assert!(
        log.iter()
            .all(|&b| b == b'\n' || (b' '..=b'~').contains(&b)),
        "raw bytes in the log: {text:?}"
    );
}

/// With `-d`, a refusal decided in a child is on the daemon's stderr,
/// for a program, a builtin connection and a builtin datagram.
#[test]
fn refusals_decided_in_a_child_reach_stderr() {
    let [program, echo] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let d = Daemon::start(
        "tcpd-stderr",
        &format!(
            "{}127.0.0.1:{echo} dgram udp wait {user} internal echo\n",
            greeter(program)
        ),
    );
    // 127.0.0.1 is localhost in /etc/hosts: a name rule, decided in a child.
    d.write_rules("hosts.deny", "greeter, echo: localhost\n");
    assert_eq!(read_all(connect(&format!("127.0.0.1:{program}"))), b"");
    d.wait_for_log("greeter[");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(b"x", format!("127.0.0.1:{echo}")).unwrap();
    d.wait_for_log("echo[");
    let log = d.log_text();
    assert_eq!(
        log.matches(": refused connect from localhost").count(),
        2,
        "{log}"
    );
}

/// A client of a dual-stack socket arrives as an IPv4-mapped address; its
/// name is verified as the IPv4 address's, as libwrap does.
#[test]
fn ipv4_clients_of_a_dual_stack_socket_are_verified() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "tcpd-mapped",
        &format!("[::ffff:127.0.0.1]:{port} stream tcp46 nowait {user} internal echo\n"),
    );
    d.write_rules("hosts.allow", "echo: localhost\n");
    d.write_rules("hosts.deny", "ALL: ALL\n");
    let mut stream = connect(&format!("127.0.0.1:{port}"));
    stream.write_all(b"ping").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_all(stream), b"ping");
}

/// A name server that never answers: the reverse lookup gives up at the
/// name-lookup deadline (10 s) and the client counts as unknown, where
/// glibc alone would wait out the resolver's own 30 s x 5 tries.
#[test]
fn a_silent_name_server_is_given_up_on() {
    if !is_root() {
        eprintln!("skipping: a private resolv.conf needs a mount namespace (root)");
        return;
    }
    if !require("unshare") || !require("mount") {
        return;
    }
    let dns = UdpSocket::bind("127.0.0.10:53").expect("bind the DNS port");
    let dir = Dir::new("tcpd-dns");
    let resolv = dir.create(
        "resolv.conf",
        "nameserver 127.0.0.10\noptions timeout:30 attempts:5\n",
    );
    let port = free_port("127.0.0.1");
    let config = dir.create("inetd.conf", &greeter(port));
    let allow = dir.create("hosts.allow", "greeter: .example.com\n");
    let deny = dir.create("hosts.deny", "greeter: ALL\n");
    let pidfile = dir.join("inetd.pid");
    let log = dir.join("stderr.log");
    let inetd = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"")
        .arg(&resolv)
        .arg(inetd_bin())
        .arg("-d")
        .arg("-p")
        .arg(&pidfile)
        .arg("--allow")
        .arg(&allow)
        .arg("--deny")
        .arg(&deny)
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .map(Daemon::adopt)
        .expect("start inetd in a mount namespace");
    inetd.wait_for_pidfile(&pidfile);
    let started = Instant::now();
    let mut service = connect_from("127.0.0.9", &format!("127.0.0.1:{port}")).unwrap();
    service
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reply = Vec::new();
    let closed = service.read_to_end(&mut reply);
    let took = started.elapsed();
    assert!(closed.is_ok() && reply.is_empty(), "{closed:?} {reply:?}");
    assert!(took < Duration::from_secs(20), "the lookup took {took:?}");
    dns.set_nonblocking(true).unwrap();
    assert!(
        dns.recv_from(&mut [0; 512]).is_ok(),
        "no query reached the name server"
    );
    wait_until("the refusal", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("refused connect from 127.0.0.9"))
    });
}

/// A DNS server on loopback (dnsmasq) for the search-list spoof: the PTR
/// of 127.0.0.21 is `a.example.com`, which does not exist, while
/// `a.example.com.attacker.test` (the attacker's zone, in the resolver's
/// search list) resolves to 127.0.0.21. The forward lookup of the PTR
/// name then finds the client's address through the search list; libwrap
/// rejects it because the canonical name differs, and so must the child.
/// (Before the canonical name was compared, the child granted it.)
#[test]
fn a_name_verified_through_the_search_list_is_paranoid() {
    if !require("dnsmasq") {
        return;
    }
    let dir = Dir::new("tcpd-search-list");
    let port = free_port("127.0.0.1");
    let config = dir.create("inetd.conf", &greeter(port));
    let allow = dir.create("hosts.allow", "greeter: .example.com\n");
    let deny = dir.create("hosts.deny", "greeter: ALL\n");
    let pidfile = dir.join("inetd.pid");
    let log = dir.join("stderr.log");
    let Some(mut command) = private_names(
        &dir,
        "127.0.0.1 localhost\n",
        "nameserver 127.0.0.20\nsearch attacker.test\noptions timeout:1 attempts:1\n",
        "hosts: files dns\n",
        &inetd_bin(),
    ) else {
        return;
    };
    let dns = std::process::Command::new("dnsmasq")
        .args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.20",
            "--port=53",
            "--user=root",
            "--pid-file=",
            "--local=/example.com/",
            "--ptr-record=21.0.0.127.in-addr.arpa,a.example.com",
            "--host-record=a.example.com.attacker.test,127.0.0.21",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Daemon::adopt)
        .expect("start dnsmasq");
    wait_until("dnsmasq to bind 127.0.0.20:53", || {
        UdpSocket::bind("127.0.0.20:53").is_err()
    });
    let inetd = command
        .arg("-d")
        .arg("-p")
        .arg(&pidfile)
        .arg("--allow")
        .arg(&allow)
        .arg("--deny")
        .arg(&deny)
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .map(Daemon::adopt)
        .expect("start inetd in a mount namespace");
    inetd.wait_for_pidfile(&pidfile);
    let service = connect_from("127.0.0.21", &format!("127.0.0.1:{port}")).unwrap();
    let reply = read_all(service);
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(reply, b"", "granted through the search list:\n{}", text());
    wait_until("the refusal", || {
        text().contains("refused connect from 127.0.0.21")
    });
    // glibc follows the search list and sees the other canonical name;
    // musl never searches a name with a dot, so it finds none.
    let glibc = "host name/name mismatch: a.example.com != a.example.com.attacker.test";
    let musl = "can't verify hostname: getaddrinfo(a.example.com, AF_INET) failed";
    assert!(
        text().contains(glibc) || text().contains(musl),
        "{}",
        text()
    );
    drop(dns);
}

/// A NUL byte in a rule cuts its line there and the next physical line is
/// read onto it, as libwrap's xgets() does: no option ever holds a NUL
/// (setenv with one used to panic the child).
#[test]
fn a_nul_byte_in_a_rule_cuts_the_line() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start("tcpd-nul", &greeter(port));
    d.write_rules(
        "hosts.allow",
        "greeter: ALL: setenv X a\0b\n: twist /bin/echo x=$X\n",
    );
    let reply = read_all(connect(&format!("127.0.0.1:{port}")));
    assert_eq!(String::from_utf8_lossy(&reply), "x=a\n", "{}", d.log_text());
}
