//! The builtin services over TCP and UDP, IPv4 and IPv6, byte for byte.

use std::io::{Read, Write};
use std::net::Shutdown;

use crate::util::*;

/// All five builtins over `proto` (`tcp`/`udp`, with a family suffix) on `ip`.
fn builtins_config(bracketed: &str, proto: &str, ports: &[u16; 5]) -> String {
    let user = current_user();
    let (socket, wait) = if proto.starts_with("tcp") {
        ("stream", "nowait")
    } else {
        ("dgram", "wait")
    };
    ["echo", "discard", "chargen", "daytime", "time"]
        .iter()
        .zip(ports)
        .map(|(name, port)| {
            format!("{bracketed}:{port} {socket} {proto} {wait} {user} internal {name}\n")
        })
        .collect()
}

fn ports(ip: &str) -> [u16; 5] {
    [0; 5].map(|_| free_port(ip))
}

/// What chargen sends first: lines of 72 characters, each starting one
/// character further along the printable ASCII set, ending in CRLF.
fn expected_chargen(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for line in 0..lines {
        for col in 0..72 {
            out.push(b' ' + ((line + col) % 95) as u8);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The local time as ctime(3) prints it, for each second around now.
fn daytime_candidates() -> Vec<String> {
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    (now - 2..=now + 2)
        .map(|t| {
            let mut tm: libc::tm = unsafe { std::mem::zeroed() };
            let mut buf = [0 as libc::c_char; 64];
            unsafe {
                libc::localtime_r(&t, &mut tm);
                libc::asctime_r(&tm, buf.as_mut_ptr());
                std::ffi::CStr::from_ptr(buf.as_ptr())
                    .to_string_lossy()
                    .trim_end()
                    .to_string()
            }
        })
        .map(|s| format!("{s}\r\n"))
        .collect()
}

fn assert_daytime(reply: &[u8]) {
    let text = String::from_utf8_lossy(reply).to_string();
    assert!(
        daytime_candidates().contains(&text),
        "daytime reply {text:?}"
    );
}

fn assert_time(reply: &[u8]) {
    assert_eq!(reply.len(), 4, "time reply {reply:?}");
    let got = u32::from_be_bytes(reply.try_into().unwrap()) as i64;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expected = (unix + 2_208_988_800) & 0xffff_ffff;
    assert!((got - expected).abs() <= 2, "time {got} vs {expected}");
}

fn check_tcp(host: &str, ports: &[u16; 5]) {
    let addr = |i: usize| format!("{host}:{}", ports[i]);

    let mut echo = connect(&addr(0));
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut echo = echo.try_clone().unwrap();
        let payload = payload.clone();
        std::thread::spawn(move || {
            echo.write_all(&payload).unwrap();
            echo.shutdown(Shutdown::Write).unwrap();
        })
    };
    let echoed = read_all(&mut echo);
    writer.join().unwrap();
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echo returned different bytes");

    let mut discard = connect(&addr(1));
    discard.write_all(b"into the void\r\n").unwrap();
    discard.shutdown(Shutdown::Write).unwrap();
    assert!(read_all(&mut discard).is_empty());

    let mut chargen = connect(&addr(2));
    let mut got = vec![0; 74 * 200];
    chargen.read_exact(&mut got).unwrap();
    assert!(got == expected_chargen(200), "chargen stream differs");

    assert_daytime(&read_all(connect(&addr(3))));
    assert_time(&read_all(connect(&addr(4))));
}

fn check_udp(host: &str, ports: &[u16; 5]) {
    let addr = |i: usize| format!("{host}:{}", ports[i]);
    assert_eq!(udp_request(&addr(0), b"hello, echo"), b"hello, echo");
    let line = udp_request(&addr(2), b"");
    assert_eq!(line.len(), 74);
    assert!(expected_chargen(95)
        .chunks(74)
        .any(|l| l == line.as_slice()));
    assert_daytime(&udp_request(&addr(3), b""));
    assert_time(&udp_request(&addr(4), b""));
    // discard answers nothing; echo still answers afterwards.
    let socket = std::net::UdpSocket::bind(if host.starts_with('[') {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    })
    .unwrap();
    socket.send_to(b"dropped", addr(1)).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    assert!(socket.recv_from(&mut [0; 16]).is_err(), "discard replied");
}

#[test]
fn tcp_builtins_ipv4() {
    let ports = ports("127.0.0.1");
    let _d = Daemon::start("tcp4", &builtins_config("127.0.0.1", "tcp", &ports));
    check_tcp("127.0.0.1", &ports);
}

#[test]
fn tcp_builtins_ipv6() {
    let ports = ports("::1");
    let _d = Daemon::start("tcp6", &builtins_config("[::1]", "tcp6", &ports));
    check_tcp("[::1]", &ports);
}

#[test]
fn udp_builtins_ipv4() {
    let ports = ports("127.0.0.1");
    let _d = Daemon::start("udp4", &builtins_config("127.0.0.1", "udp", &ports));
    check_udp("127.0.0.1", &ports);
}

#[test]
fn udp_builtins_ipv6() {
    let ports = ports("::1");
    let _d = Daemon::start("udp6", &builtins_config("[::1]", "udp6", &ports));
    check_udp("[::1]", &ports);
}

/// Dual stack: one tcp46 listener answers IPv4 and IPv6 clients.
#[test]
fn dual_stack_listener() {
    let port = free_port("::");
    let user = current_user();
    let _d = Daemon::start(
        "dual",
        &format!("[::]:{port} stream tcp46 nowait {user} internal time\n"),
    );
    assert_time(&read_all(connect(&format!("127.0.0.1:{port}"))));
    assert_time(&read_all(connect(&format!("[::1]:{port}"))));
}

/// Real clients: netcat and socat for echo, rdate for time.
#[test]
fn real_clients() {
    if !require("nc") || !require("socat") || !require("rdate") {
        return;
    }
    let port = free_port("127.0.0.1");
    let time_port = free_port("127.0.0.1");
    let user = current_user();
    let _d = Daemon::start(
        "clients",
        &format!(
            "127.0.0.1:{port} stream tcp nowait {user} internal echo\n\
             127.0.0.1:{port} dgram udp wait {user} internal echo\n\
             127.0.0.1:{time_port} stream tcp nowait {user} internal time\n\
             127.0.0.1:{time_port} dgram udp wait {user} internal time\n"
        ),
    );
    for udp in [false, true] {
        let mut rdate = std::process::Command::new("rdate");
        rdate.args(["-p", "-o", &time_port.to_string()]);
        if udp {
            rdate.arg("-u");
        }
        let out = rdate.arg("127.0.0.1").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "rdate failed: {out:?}");
        let year = daytime_candidates()[2]
            .split_whitespace()
            .last()
            .unwrap()
            .to_string();
        assert!(text.contains(&year), "rdate printed {text:?}");
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf 'ping\\n' | nc -N 127.0.0.1 {port}"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping\n");
    let out = std::process::Command::new("socat")
        .args(["-T2", "-", &format!("UDP:127.0.0.1:{port}")])
        .stdin_bytes(b"udp ping\n");
    assert_eq!(out, b"udp ping\n");
}

trait StdinBytes {
    fn stdin_bytes(&mut self, input: &[u8]) -> Vec<u8>;
}

impl StdinBytes for std::process::Command {
    /// Runs the command with `input` on stdin and returns its stdout.
    fn stdin_bytes(&mut self, input: &[u8]) -> Vec<u8> {
        use std::process::Stdio;
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn client");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap().stdout
    }
}

/// `wait` on a stream builtin (a BSD line copied by hand, say) is served
/// as `nowait`: the loop serves each connection (it used to hand the
/// listening socket to no process, and clients hung).
#[test]
fn a_stream_builtin_on_a_wait_line_answers() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start(
        "builtin-wait",
        &format!("127.0.0.1:{port} stream tcp wait root internal daytime\n"),
    );
    for _ in 0..2 {
        let reply = read_all(connect(&format!("127.0.0.1:{port}")));
        assert!(reply.ends_with(b"\r\n"), "{reply:?}");
    }
    assert!(d.log_text().contains("served nowait"));
}
