//! tcpmux (RFC 1078): the multiplexer builtin and the `tcpmux/NAME`
//! services reached through it, with real client sessions.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// The multiplexer on `port`, a `+` service, a plain one, a builtin and
/// one of at most one child at a time.
fn config(port: u16) -> String {
    let user = current_user();
    format!(
        "127.0.0.1:{port} stream tcp nowait {user} internal tcpmux\n\
         tcpmux/+Greet stream tcp nowait {user} /bin/echo greeter hi\n\
         tcpmux/catter stream tcp nowait {user} /bin/cat cat\n\
         tcpmux/echo stream tcp nowait {user} internal echo\n\
         tcpmux/one stream tcp nowait/1 {user} /bin/cat one\n\
         tcpmux/+twice stream tcp nowait.2 {user} /bin/echo twice\n"
    )
}

/// Sends `request` from `source`, closes the sending side, and returns
/// everything the server sends until it closes (a connection closed with
/// bytes of the client's unread is reset: that ends it too).
fn ask_from(source: &str, addr: &str, request: &[u8]) -> Vec<u8> {
    let mut stream = connect_from(source, addr).expect("connect");
    stream.write_all(request).unwrap();
    // A refused client may be gone already.
    let _ = stream.shutdown(Shutdown::Write);
    read_to_close(&mut stream)
}

fn read_to_close(stream: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    match stream.read_to_end(&mut out) {
        Ok(_) => out,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
        Err(e) => panic!("read: {e}"),
    }
}

fn ask(addr: &str, request: &[u8]) -> Vec<u8> {
    ask_from("127.0.0.1", addr, request)
}

#[test]
fn help_names_and_what_follows_the_line() {
    if !require("socat") {
        return;
    }
    let port = free_port("127.0.0.1");
    let d = Daemon::start("tcpmux-session", &config(port));
    let addr = format!("127.0.0.1:{port}");
    // A real client: socat with HELP on its stdin.
    let mut socat = Command::new("socat")
        .args(["-t", "5", "-", &format!("TCP:{addr}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run socat");
    socat.stdin.take().unwrap().write_all(b"HELP\r\n").unwrap();
    let out = socat.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"Greet\r\ncatter\r\necho\r\none\r\ntwice\r\n");
    // Names in any case; inetd's `+` before the program of a `+` service.
    assert_eq!(ask(&addr, b"gREET\r\n"), b"+Go\r\nhi\n");
    // A plain service answers for itself; what came after the line in the
    // same segment is the program's.
    assert_eq!(
        ask(&addr, b"CATTER\r\nafter the line\n"),
        b"after the line\n"
    );
    // A bare LF ends the line too; a builtin behind tcpmux.
    assert_eq!(ask(&addr, b"echo\nping"), b"ping");
    assert_eq!(ask(&addr, b"nosuch\r\n"), b"-Service not available\r\n");
    d.wait_for_log("asked for \"nosuch\": no such service");
    // A client's bytes reach the log escaped.
    assert_eq!(
        ask(&addr, b"a\x1b[2J\xff\r\n"),
        b"-Service not available\r\n"
    );
    d.wait_for_log("asked for \"a\\x1b[2J\\xef\\xbf\\xbd\": no such service");
    // A line longer than a name may be is refused, not waited for.
    let long = vec![b'x'; 258];
    assert_eq!(ask(&addr, &long), b"-Service not available\r\n");
}

#[test]
fn a_client_that_sends_no_line_is_closed_and_starts_nothing() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start_with("tcpmux-slow", &config(port), &["--idle-timeout=1"]);
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let mut silent = connect(&addr);
    let mut partial = connect(&addr);
    partial.write_all(b"catt").unwrap();
    for stream in [&mut silent, &mut partial] {
        let buf = read_to_close(stream);
        assert!(buf.is_empty(), "{buf:?}");
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "closed after {waited:?}"
    );
    assert!(children_of(d.pid()).is_empty(), "a process was started");
    d.wait_for_log("no request line in time");
    // The service itself is fine.
    assert_eq!(ask(&addr, b"greet\r\n"), b"+Go\r\nhi\n");
}

#[test]
fn access_rules_and_limits_are_those_of_the_service_named() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start("tcpmux-access", &config(port));
    let addr = format!("127.0.0.1:{port}");
    // The daemon name of a tcpmux service is its program's (argv[0]'s
    // basename), as tcpd would see it; the multiplexer's is tcpmux.
    d.write_rules("hosts.deny", "greeter: 127.0.0.2\ntcpmux: 127.0.0.3\n");
    assert_eq!(ask_from("127.0.0.1", &addr, b"greet\r\n"), b"+Go\r\nhi\n");
    // Refused before the `+`: the client gets nothing.
    assert_eq!(ask_from("127.0.0.2", &addr, b"greet\r\n"), b"");
    d.wait_for_log("refused connect from 127.0.0.2");
    assert_eq!(ask_from("127.0.0.2", &addr, b"catter\r\nok\n"), b"ok\n");
    assert_eq!(ask_from("127.0.0.3", &addr, b"catter\r\nok\n"), b"");
    // A rule with an option decides in a child, which execs the program:
    // what followed the line still reaches it.
    d.write_rules("hosts.allow", "cat, greeter: ALL: spawn (/bin/true)\n");
    assert_eq!(ask(&addr, b"catter\r\nchecked\n"), b"checked\n");
    // The child gives a `+` service's reply on a grant, and only then.
    assert_eq!(ask(&addr, b"greet\r\n"), b"+Go\r\nhi\n");
    d.write_rules("hosts.allow", "");
    d.write_rules("hosts.deny", "greeter: ALL: spawn (/bin/true)\n");
    assert_eq!(ask(&addr, b"greet\r\n"), b"");
    d.write_rules("hosts.deny", "");
    // `one` runs one child at a time: a second client is told it is busy
    // while the first holds it, and served once it is gone.
    let mut first = connect(&addr);
    first.write_all(b"one\r\nfirst\n").unwrap();
    let mut echoed = [0u8; 6];
    first.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"first\n");
    assert_eq!(
        ask(&addr, b"one\r\n"),
        b"-Service busy, try again later\r\n"
    );
    // The other services have their own limits.
    assert_eq!(ask(&addr, b"catter\r\nstill\n"), b"still\n");
    first.shutdown(Shutdown::Write).unwrap();
    assert!(read_all(first).is_empty());
    wait_until("the first child to be reaped", || {
        children_of(d.pid()).is_empty()
    });
    assert_eq!(ask(&addr, b"one\r\nsecond\n"), b"second\n");
    // Two spawns a minute: the third pauses the service (its connection is
    // dropped), which then answers busy; the others serve on.
    for _ in 0..2 {
        assert_eq!(ask(&addr, b"twice\r\n"), b"+Go\r\n\n");
    }
    assert_eq!(ask(&addr, b"twice\r\n"), b"");
    d.wait_for_log("tcpmux/+twice/tcp server failing (looping)");
    assert_eq!(
        ask(&addr, b"twice\r\n"),
        b"-Service busy, try again later\r\n"
    );
    assert_eq!(ask(&addr, b"greet\r\n"), b"+Go\r\nhi\n");
}

#[test]
fn tcpmux_services_in_the_dump_and_across_a_reload() {
    let port = free_port("127.0.0.1");
    let dir = Dir::new("tcpmux-dump");
    let path = dir.create("inetd.conf", &config(port));
    let out = inetd().arg("-t").arg("-t").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        dump.lines()
            .any(|l| l.starts_with("tcpmux/+Greet tcpmux stream nowait ")
                && l.ends_with("exec=/bin/echo argv=greeter hi")),
        "{dump}"
    );
    assert!(dump.lines().any(
        |l| l.starts_with("tcpmux/echo tcpmux stream nowait ") && l.ends_with("internal=echo")
    ));
    // A reload adds and removes tcpmux services.
    let d = Daemon::start("tcpmux-reload", &config(port));
    let addr = format!("127.0.0.1:{port}");
    let user = current_user();
    d.reload(&format!(
        "127.0.0.1:{port} stream tcp nowait {user} internal tcpmux\n\
         tcpmux/+later stream tcp nowait {user} /bin/echo later\n"
    ));
    assert_eq!(ask(&addr, b"HELP\r\n"), b"later\r\n");
    assert_eq!(ask(&addr, b"later\r\n"), b"+Go\r\n\n");
    assert_eq!(ask(&addr, b"greet\r\n"), b"-Service not available\r\n");
}

#[test]
fn a_help_longer_than_the_send_buffer_comes_whole() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let mut config = format!("127.0.0.1:{port} stream tcp nowait {user} internal tcpmux\n");
    // 3.6 MB: more than a first write takes here (2.8 MB), less than the
    // unsent pool.
    let names: Vec<String> = (0..14_000).map(|i| format!("{i:0>254}")).collect();
    for name in &names {
        config.push_str(&format!(
            "tcpmux/{name} stream tcp nowait {user} /bin/true\n"
        ));
    }
    let _d = Daemon::start("tcpmux-long-help", &config);
    // A small receive window: the answer cannot be sent in one write.
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::os::fd::AsRawFd;
    let fd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    socket::setsockopt(&fd, sockopt::RcvBuf, &4096).unwrap();
    let target: std::net::SocketAddrV4 = format!("127.0.0.1:{port}").parse().unwrap();
    socket::connect(fd.as_raw_fd(), &SockaddrIn::from(target)).unwrap();
    let mut stream = std::net::TcpStream::from(fd);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(b"help\r\n").unwrap();
    let help = read_all(stream);
    let expected: String = names.iter().map(|n| format!("{n}\r\n")).collect();
    assert_eq!(help.len(), expected.len());
    assert!(help == expected.as_bytes());
}
