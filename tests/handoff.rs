//! What a program learns beyond its socket: the client's address in the
//! environment (UCSPI names), systemd-style socket passing, and the state
//! dump on SIGUSR1.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};

use crate::util::*;

/// `NAME=value` lines as a map.
fn env_of(text: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A shell script service that prints its environment.
const PRINT_ENV: &str = "/bin/sh sh -c env";

#[test]
fn a_shell_script_learns_its_tcp_client_over_ipv4_and_ipv6() {
    let user = current_user();
    let [with, without] = [0; 2].map(|_| free_port("127.0.0.1"));
    let v6 = free_port("::1");
    let _d = Daemon::start(
        "env-tcp",
        &format!(
            "127.0.0.1:{with} stream tcp nowait,env {user} {PRINT_ENV}\n\
             127.0.0.1:{without} stream tcp nowait {user} {PRINT_ENV}\n\
             [::1]:{v6} stream tcp6 nowait,env {user} {PRINT_ENV}\n"
        ),
    );
    let stream = connect(&format!("127.0.0.1:{with}"));
    let client_port = stream.local_addr().unwrap().port().to_string();
    let env = env_of(&read_all(stream));
    assert_eq!(env["PROTO"], "TCP");
    assert_eq!(env["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(env["TCPREMOTEPORT"], client_port);
    assert_eq!(env["TCPLOCALIP"], "127.0.0.1");
    assert_eq!(env["TCPLOCALPORT"], with.to_string());
    assert_eq!(env["REMOTE_HOST"], "127.0.0.1");

    let env = env_of(&read_all(connect(&format!("127.0.0.1:{without}"))));
    assert!(
        !env.contains_key("TCPREMOTEIP") && !env.contains_key("PROTO"),
        "{env:?}"
    );

    let stream = connect(&format!("[::1]:{v6}"));
    let client_port = stream.local_addr().unwrap().port().to_string();
    let env = env_of(&read_all(stream));
    assert_eq!(env["TCPREMOTEIP"], "::1");
    assert_eq!(env["TCPREMOTEPORT"], client_port);
    assert_eq!(env["TCPLOCALIP"], "::1");
    assert_eq!(env["TCPLOCALPORT"], v6.to_string());
}

#[test]
fn the_environment_option_turns_it_on_for_every_program() {
    let user = current_user();
    let port = free_port("127.0.0.1");
    let _d = Daemon::start_with(
        "env-global",
        &format!("127.0.0.1:{port} stream tcp nowait {user} {PRINT_ENV}\n"),
        &["--environment"],
    );
    let env = env_of(&read_all(connect(&format!("127.0.0.1:{port}"))));
    assert_eq!(env["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(env["TCPLOCALPORT"], port.to_string());
}

/// A Python program in `dir`, run as `python3 FILE` (inetd.conf splits
/// arguments at blanks: the code goes in a file).
fn python(dir: &Dir, name: &str, code: &str) -> String {
    format!(
        "/usr/bin/python3 python3 {}",
        dir.create(name, code).display()
    )
}

/// A `wait` datagram program that answers the waiting datagram with its
/// environment.
const UDP_ENV: &str = "import os, socket
s = socket.socket(fileno=0)
data, sender = s.recvfrom(512)
s.sendto('\\n'.join(k + '=' + v for k, v in os.environ.items()).encode(), sender)
";

/// A program that accepts one connection on fd 3 and tells what it was
/// given, as sd_listen_fds() reads it.
const ACCEPT_ON_FD3: &str = "import os, socket
s = socket.socket(fileno=3)
c, _ = s.accept()
e = os.environ
c.sendall(' '.join([e['LISTEN_FDS'], e['LISTEN_PID'], str(os.getpid()), e['LISTEN_FDNAMES']]).encode())
";

/// A `wait` program that accepts on fd 0 and tells whether it was told of
/// a passed socket.
const ACCEPT_ON_FD0: &str = "import os, socket
s = socket.socket(fileno=0)
c, _ = s.accept()
c.sendall(os.environ.get('LISTEN_FDS', '-').encode())
";

#[test]
fn a_wait_datagram_program_learns_the_sender() {
    if !require("python3") {
        return;
    }
    let user = current_user();
    let v4 = free_port("127.0.0.1");
    let v6 = free_port("::1");
    let dir = Dir::new("env-udp-program");
    let program = python(&dir, "udp_env.py", UDP_ENV);
    let _d = Daemon::start(
        "env-udp",
        &format!(
            "127.0.0.1:{v4} dgram udp wait,env {user} {program}\n\
             [::1]:{v6} dgram udp6 wait,env {user} {program}\n"
        ),
    );
    for (local, server, ip, port) in [
        ("127.0.0.1:0", format!("127.0.0.1:{v4}"), "127.0.0.1", v4),
        ("[::1]:0", format!("[::1]:{v6}"), "::1", v6),
    ] {
        let socket = UdpSocket::bind(local).unwrap();
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        socket.send_to(b"hello", &server).unwrap();
        let mut buf = vec![0; 65536];
        let (n, _) = socket.recv_from(&mut buf).expect("the program's reply");
        let env = env_of(&buf[..n]);
        assert_eq!(env["PROTO"], "UDP");
        assert_eq!(env["UDPREMOTEIP"], ip);
        let sender = socket.local_addr().unwrap().port().to_string();
        assert_eq!(env["UDPREMOTEPORT"], sender);
        assert_eq!(env["UDPLOCALIP"], ip);
        assert_eq!(env["UDPLOCALPORT"], port.to_string());
    }
}

#[test]
fn a_wait_program_accepts_on_fd_3_twice_in_a_row() {
    if !require("python3") {
        return;
    }
    let user = current_user();
    let port = free_port("127.0.0.1");
    let dir = Dir::new("listen-fds-program");
    let program = python(&dir, "accept_on_fd3.py", ACCEPT_ON_FD3);
    let d = Daemon::start(
        "listen-fds",
        &format!("127.0.0.1:{port} stream tcp wait,listen-fds {user} {program}\n"),
    );
    let mut pids = Vec::new();
    for _ in 0..2 {
        let reply = String::from_utf8(read_all(connect(&format!("127.0.0.1:{port}")))).unwrap();
        let fields: Vec<&str> = reply.split(' ').collect();
        assert_eq!(fields.len(), 4, "{reply}");
        assert_eq!(fields[0], "1");
        assert_eq!(fields[1], fields[2], "LISTEN_PID is the program's pid");
        assert_eq!(fields[3], port.to_string());
        pids.push(fields[1].to_string());
        // The socket comes back to inetd when the program exits.
        let pid: i32 = fields[1].parse().unwrap();
        wait_until("the program to exit", || {
            !children_of(d.pid()).contains(&pid)
        });
    }
    assert_ne!(pids[0], pids[1]);
}

#[test]
fn without_the_flag_a_wait_program_is_told_of_no_socket() {
    if !require("python3") {
        return;
    }
    let user = current_user();
    let port = free_port("127.0.0.1");
    let dir = Dir::new("no-listen-fds-program");
    let program = python(&dir, "accept_on_fd0.py", ACCEPT_ON_FD0);
    let _d = Daemon::start(
        "no-listen-fds",
        &format!("127.0.0.1:{port} stream tcp wait {user} {program}\n"),
    );
    let reply = read_all(connect(&format!("127.0.0.1:{port}")));
    assert_eq!(String::from_utf8_lossy(&reply), "-");
}

/// systemd's own socket-activated proxy (Debian's systemd package) checks
/// LISTEN_PID and LISTEN_FDS as sd_listen_fds() does: through inetd, it
/// proxies to inetd's echo.
#[test]
fn systemd_socket_proxyd_runs_as_a_wait_service() {
    let proxyd = [
        "/lib/systemd/systemd-socket-proxyd",
        "/usr/lib/systemd/systemd-socket-proxyd",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    let Some(proxyd) = proxyd else {
        if std::env::var_os("CI").is_some() {
            panic!("systemd-socket-proxyd is missing (package systemd)");
        }
        eprintln!("SKIPPED: systemd-socket-proxyd not installed (package systemd)");
        return;
    };
    let user = current_user();
    let [port, echo] = [0; 2].map(|_| free_port("127.0.0.1"));
    let d = Daemon::start(
        "proxyd",
        &format!(
            "127.0.0.1:{echo} stream tcp nowait {user} internal echo\n\
             127.0.0.1:{port} stream tcp wait,listen-fds {user} {proxyd} \
             systemd-socket-proxyd --exit-idle-time=1s 127.0.0.1:{echo}\n"
        ),
    );
    for round in 0..2 {
        let mut stream = connect(&format!("127.0.0.1:{port}"));
        stream.write_all(b"through the proxy\n").unwrap();
        let mut reply = [0u8; 18];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"through the proxy\n", "round {round}");
        drop(stream);
        // It exits once idle; the socket comes back to inetd.
        wait_until("the proxy to exit", || children_of(d.pid()).is_empty());
    }
}

#[test]
fn sigusr1_dumps_every_service_and_child() {
    let user = current_user();
    let [serving, looping, taken] = [0; 3].map(|_| free_port("127.0.0.1"));
    // Held by the test: that service's bind stays pending.
    let _holder = TcpListener::bind(("127.0.0.1", taken)).unwrap();
    let d = Daemon::start(
        "dump",
        &format!(
            "127.0.0.1:{serving} stream tcp nowait {user} /bin/cat cat\n\
             127.0.0.1:{looping} stream tcp nowait {user} /bin/false false\n\
             127.0.0.1:{taken} stream tcp nowait {user} internal echo\n"
        ),
    );
    let held = connect(&format!("127.0.0.1:{serving}"));
    wait_until("the child to start", || children_of(d.pid()).len() == 1);
    let child = children_of(d.pid())[0];
    // Children that fail at once, one after the other: paused as looping.
    for _ in 0..10 {
        drop(read_all(connect(&format!("127.0.0.1:{looping}"))));
    }
    d.wait_for_log("looping");
    d.signal(libc::SIGUSR1);
    d.wait_for_log(&format!("state: {taken}/tcp"));
    let log = d.log_text();
    let dump: Vec<&str> = log.lines().filter(|l| l.contains("state: ")).collect();
    let line = |what: &str| {
        dump.iter()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in the dump:\n{}", dump.join("\n")))
            .to_string()
    };
    assert!(line("services, ").contains("3 services, 1 children"));
    let serving_line = line(&format!("state: {serving}/tcp"));
    assert!(
        serving_line.contains(": serving;") && serving_line.contains("active 1"),
        "{serving_line}"
    );
    assert!(serving_line.contains("started 1"), "{serving_line}");
    assert!(line(&format!("state: {looping}/tcp")).contains("paused (its children failed at once"));
    assert!(line(&format!("state: {taken}/tcp")).contains("bind pending"));
    let child_line = line(&format!("pid {child} for 127.0.0.1:"));
    assert!(
        child_line.contains(&format!("state: {serving}/tcp pid {child} for")),
        "{child_line}"
    );
    assert!(child_line.contains(", age "), "{child_line}");
    drop(held);
}

/// A `wait` datagram program that answers on fd 3 with what it was given.
const ANSWER_ON_FD3: &str = "import os, socket
s = socket.socket(fileno=3)
data, sender = s.recvfrom(512)
e = os.environ
s.sendto(' '.join([e['LISTEN_FDS'], e['LISTEN_PID'], str(os.getpid()), e.get('CHECKED', '-')]).encode(), sender)
";

#[test]
fn a_passed_socket_survives_an_access_check_in_a_child() {
    if !require("python3") {
        return;
    }
    let user = current_user();
    let port = free_port("127.0.0.1");
    let dir = Dir::new("listen-fds-checked-program");
    let program = python(&dir, "answer_on_fd3.py", ANSWER_ON_FD3);
    let d = Daemon::start(
        "listen-fds-checked",
        &format!("127.0.0.1:{port} dgram udp wait,listen-fds {user} {program}\n"),
    );
    // setenv runs in the `--tcpd` child, which holds fd 3 while it decides.
    d.write_rules("hosts.allow", "python3: 127.0.0.1: setenv CHECKED yes\n");
    let reply = udp_request(&format!("127.0.0.1:{port}"), b"hello");
    let reply = String::from_utf8(reply).unwrap();
    let fields: Vec<&str> = reply.split(' ').collect();
    assert_eq!(fields.len(), 4, "{reply}");
    assert_eq!(fields[0], "1");
    assert_eq!(fields[1], fields[2], "LISTEN_PID is the program's pid");
    assert_eq!(fields[3], "yes", "the rule's option ran in the child");
}

#[test]
fn a_nowait_datagram_program_learns_its_peer() {
    if !require("python3") {
        return;
    }
    let user = current_user();
    let port = free_port("127.0.0.1");
    let dir = Dir::new("env-udp-nowait-program");
    let program = python(&dir, "udp_env.py", UDP_ENV);
    let _d = Daemon::start(
        "env-udp-nowait",
        &format!("127.0.0.1:{port} dgram udp nowait,env {user} {program}\n"),
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.send_to(b"hello", ("127.0.0.1", port)).unwrap();
    let mut buf = vec![0; 65536];
    let (n, _) = socket.recv_from(&mut buf).expect("the program's reply");
    let env = env_of(&buf[..n]);
    assert_eq!(env["PROTO"], "UDP");
    assert_eq!(
        env["UDPREMOTEPORT"],
        socket.local_addr().unwrap().port().to_string()
    );
    assert_eq!(env["UDPLOCALPORT"], port.to_string());
}
