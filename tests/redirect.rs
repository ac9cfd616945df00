//! `internal redirect HOST:PORT`: connections forwarded by the loop itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

/// A target that reads to its client's end, then answers with what it
/// read, reversed, and closes: both half-closes must pass the relay.
fn reversing_target() -> (u16, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        let reply: Vec<u8> = got.iter().rev().copied().collect();
        stream.write_all(&reply).unwrap();
        got
    });
    (port, handle)
}

#[test]
fn bytes_pass_both_ways_with_both_half_closes() {
    let (target, server) = reversing_target();
    let port = free_port("127.0.0.1");
    let d = Daemon::start(
        "redirect",
        &format!("127.0.0.1:{port} stream tcp nowait root internal redirect 127.0.0.1:{target}\n"),
    );
    let mut stream = connect(&format!("127.0.0.1:{port}"));
    // More than any buffer on the way, so back-pressure is exercised.
    let request: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
    stream.write_all(&request).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let reply = read_all(&mut stream);
    assert_eq!(
        server.join().unwrap(),
        request,
        "the target got every byte, then the end"
    );
    let reversed: Vec<u8> = request.iter().rev().copied().collect();
    assert!(
        reply == reversed,
        "the reply came back whole after the client's half-close"
    );
    // No process per connection.
    assert!(children_of(d.pid()).is_empty());
}

#[test]
fn socat_through_a_redirect_to_inetds_own_echo() {
    if !require("socat") {
        return;
    }
    let [port, echo] = [0; 2].map(|_| free_port("127.0.0.1"));
    let _d = Daemon::start(
        "redirect-socat",
        &format!(
            "127.0.0.1:{echo} stream tcp nowait root internal echo\n\
             127.0.0.1:{port} stream tcp nowait root internal redirect 127.0.0.1:{echo}\n"
        ),
    );
    let out = std::process::Command::new("socat")
        .args(["-T", "5", "-", &format!("TCP:127.0.0.1:{port}")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"through a redirect\n")?;
            child.wait_with_output()
        })
        .expect("run socat");
    assert_eq!(out.stdout, b"through a redirect\n");
}

#[test]
fn a_dead_target_closes_the_client_and_is_logged() {
    let dead = free_port("127.0.0.1");
    let port = free_port("127.0.0.1");
    let d = Daemon::start(
        "redirect-dead",
        &format!("127.0.0.1:{port} stream tcp nowait root internal redirect 127.0.0.1:{dead}\n"),
    );
    let started = Instant::now();
    let stream = connect(&format!("127.0.0.1:{port}"));
    let mut stream = stream;
    let mut buf = [0u8; 16];
    let n = stream.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    assert!(started.elapsed() < Duration::from_secs(5));
    d.wait_for_log(&format!(
        "127.0.0.1:{dead}: cannot connect: connection refused"
    ));
}

#[test]
fn access_rules_apply_to_a_redirect_by_its_service_name() {
    let (target, server) = reversing_target();
    let [port, denied] = [0; 2].map(|_| free_port("127.0.0.1"));
    let d = Daemon::start(
        "redirect-access",
        &format!(
            "127.0.0.1:{port} stream tcp nowait root internal redirect 127.0.0.1:{target}\n\
             127.0.0.1:{denied} stream tcp nowait root internal redirect 127.0.0.1:{target}\n"
        ),
    );
    // setenv runs in a `--tcpd` child: the connection waits for its verdict.
    d.write_rules("hosts.allow", &format!("{port}: 127.0.0.1: setenv X y\n"));
    d.write_rules("hosts.deny", &format!("{denied}: ALL\n"));
    let refused = read_all(connect(&format!("127.0.0.1:{denied}")));
    assert!(refused.is_empty());
    let mut stream = connect(&format!("127.0.0.1:{port}"));
    stream.write_all(b"abc").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut stream), b"cba");
    assert_eq!(server.join().unwrap(), b"abc");
}
