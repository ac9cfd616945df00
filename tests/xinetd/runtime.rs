//! xinetd's runtime features, Debian's xinetd 2.3.15 against ours on the
//! same file (see `differential.rs` for how xinetd is unpacked and run):
//! `access_times` (windows built around the local time now), `cps`
//! tripping and re-enabling, `banner`, `banner_success`, `banner_fail`,
//! `redirect` (bytes through, each side's half-close, a dead target),
//! `rlimit_*`, `nice`, `umask`, `env` and `passenv` as the program sees
//! them, the log lines (compared by field, not wording), USERID from an
//! ident server of the test's own on loopback, and SIGHUP's hard
//! reconfiguration. Where we differ on purpose, the tables below say how
//! and why, and both sides are checked against them.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::differential::{
    compare, exchange, start_xinetd, tcp, wait_ready, xinetd, Outcome, PATIENCE,
};
use crate::util::{connect_from, current_user, free_port, is_root, wait_until, Daemon, Dir};

/// The local time of day in minutes, as both daemons read it.
fn local_minute() -> u16 {
    // SAFETY: localtime_r writes only the struct given.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        (tm.tm_hour * 60 + tm.tm_min) as u16
    }
}

fn hhmm(minute: u16) -> String {
    format!("{}:{:02}", minute / 60, minute % 60)
}

/// A window holding now and the next minutes (the test takes seconds),
/// and one far from now; neither runs over midnight, which xinetd refuses.
fn windows(now: u16) -> (String, String) {
    let inside = format!(
        "{}-{}",
        hhmm(now.saturating_sub(3)),
        hhmm((now + 3).min(1439))
    );
    let outside = if (150..=240).contains(&now) {
        "15:00-15:30"
    } else {
        "3:00-3:30"
    };
    (inside, outside.to_string())
}

/// Where the redirects go: by its first line, `echo` returns every byte;
/// `count` answers how many bytes followed the line once the client
/// half-closes; `first` writes `hello`, half-closes, and reports what it
/// reads after that.
struct Target {
    port: u16,
    reports: mpsc::Receiver<String>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, reports) = mpsc::channel();
        // Threads of the test process: they end with it.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                std::thread::spawn(move || serve_target(stream, tx));
            }
        });
        Target { port, reports }
    }
}

fn serve_target(mut s: TcpStream, reports: mpsc::Sender<String>) {
    let _ = s.set_read_timeout(Some(crate::util::TIMEOUT));
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while s.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' && line.len() < 16 {
        line.push(byte[0]);
    }
    let mut buf = vec![0u8; 65536];
    match &line[..] {
        b"echo" => loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        },
        b"count" => {
            let mut n = 0;
            while let Ok(got @ 1..) = s.read(&mut buf) {
                n += got;
            }
            let _ = s.write_all(format!("{n}\n").as_bytes());
        }
        b"first" => {
            let _ = s.write_all(b"hello");
            let _ = s.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            let _ = reports.send(String::from_utf8_lossy(&got).into_owned());
        }
        _ => {}
    }
}

/// 256 KiB each way through the redirect at once (each side's buffers
/// fill: back-pressure), without a half-close.
fn through(addr: &str) -> Outcome {
    let Ok(mut stream) = connect_from("127.0.0.1", addr) else {
        return Outcome::Refused;
    };
    let payload: Vec<u8> = (0..256 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let mut writer = stream.try_clone().unwrap();
    let sent = payload.clone();
    let writing = std::thread::spawn(move || {
        let _ = writer.write_all(b"echo\n");
        let _ = writer.write_all(&sent);
    });
    stream.set_read_timeout(Some(crate::util::TIMEOUT)).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < payload.len() {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    writing.join().unwrap();
    Outcome::Answer(if got == payload {
        b"256 KiB back intact".to_vec()
    } else {
        format!("{} bytes back", got.len()).into_bytes()
    })
}

/// The target half-closes first; the client then sends and half-closes.
fn target_half_closes(addr: &str, target: &Target) -> Outcome {
    let Ok(mut stream) = connect_from("127.0.0.1", addr) else {
        return Outcome::Refused;
    };
    let _ = stream.write_all(b"first\n");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    let _ = stream.write_all(b"more");
    let _ = stream.shutdown(Shutdown::Write);
    let after = target
        .reports
        .recv_timeout(crate::util::TIMEOUT)
        .unwrap_or_else(|_| "(no report)".to_string());
    Outcome::Answer(
        format!(
            "the client got {:?}, the target after its half-close {after:?}",
            String::from_utf8_lossy(&got)
        )
        .into_bytes(),
    )
}

/// Connects until one is answered, for up to `within`: how a service
/// comes back after its `cps` wait.
fn answered_within(addr: &str, within: Duration) -> Outcome {
    let deadline = Instant::now() + within;
    loop {
        let outcome = tcp("127.0.0.1", addr, b"z", 8);
        if outcome == Outcome::Answer(b"z".to_vec()) || Instant::now() > deadline {
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

struct Ports {
    probe: u16,
    hours_in: u16,
    hours_out: u16,
    banner: u16,
    cps: u16,
    redirect: u16,
    dead: u16,
    dead_target: u16,
    process: u16,
    inherit: u16,
    logged: u16,
}

impl Ports {
    fn new() -> Ports {
        let p = || free_port("127.0.0.1");
        Ports {
            probe: p(),
            hours_in: p(),
            hours_out: p(),
            banner: p(),
            cps: p(),
            redirect: p(),
            dead: p(),
            dead_target: p(),
            process: p(),
            inherit: p(),
            logged: p(),
        }
    }
}

/// A service block: UNLISTED on `port` of 127.0.0.1, NOLIBWRAP.
fn service(name: &str, port: u16, body: &str) -> String {
    let body = body.trim().replace('\n', "\n\t");
    format!(
        "service {name}\n{{\n\ttype = UNLISTED\n\tport = {port}\n\tbind = 127.0.0.1\n\tflags = NOLIBWRAP\n\t{body}\n}}\n"
    )
}

fn internal(name: &str, port: u16, extra: &str) -> String {
    let body = format!("type = INTERNAL UNLISTED\nsocket_type = stream\nwait = no\n{extra}");
    // `type` once: a second line would be ignored.
    service(name, port, &body).replacen("\ttype = UNLISTED\n", "", 1)
}

fn external(name: &str, port: u16, extra: &str) -> String {
    let user = current_user();
    service(
        name,
        port,
        &format!("socket_type = stream\nwait = no\nuser = {user}\n{extra}"),
    )
}

/// A program that reports its limits, niceness, umask and environment.
const REPORT: &str = "#!/bin/sh\n\
    echo \"files=$(ulimit -n) cpu=$(ulimit -t) as=$(ulimit -v) data=$(ulimit -d) stack=$(ulimit -s) rss=$(ulimit -m) nice=$(/usr/bin/nice) umask=$(umask)\"\n\
    /usr/bin/env | /bin/grep -v -e '^PWD=' -e '^PROTO=' -e '^TCP' | /usr/bin/sort\n";

/// A program that reports the part of inetd's environment it was given.
const INHERIT: &str = "#!/bin/sh\n\
    echo \"FOO=$FOO PATH=${PATH:+set} CARGO_PKG_NAME=$CARGO_PKG_NAME nice=$(/usr/bin/nice)\"\n";

fn write_config(dir: &Dir, p: &Ports, target: u16) -> PathBuf {
    let (inside, outside) = windows(local_minute());
    let script = |name: &str, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.create(name, text);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    let report = script("report.sh", REPORT);
    let inherit = script("inherit.sh", INHERIT);
    let banner = |name: &str, text: &str| dir.create(name, text).display().to_string();
    let (every, success, fail) = (
        banner("banner", "WELCOME\n"),
        banner("banner_success", "GRANTED\n"),
        banner("banner_fail", "REFUSED\n"),
    );
    let user = current_user();
    let text = [
        internal("echo", p.probe, ""),
        internal("echo", p.hours_in, &format!("id = in\naccess_times = {inside}")),
        internal("echo", p.hours_out, &format!("id = out\naccess_times = {outside}")),
        external(
            "banners",
            p.banner,
            &format!("server = /bin/echo\nserver_args = served\nbanner = {every}\nbanner_success = {success}\nbanner_fail = {fail}\nonly_from = 127.0.0.1"),
        ),
        internal("echo", p.cps, "id = cps\ncps = 2 3"),
        service(
            "redirect",
            p.redirect,
            &format!("socket_type = stream\nwait = no\nuser = {user}\nredirect = 127.0.0.1 {target}\nlog_on_success = DURATION TRAFFIC"),
        ),
        service(
            "dead",
            p.dead,
            &format!("socket_type = stream\nwait = no\nuser = {user}\nredirect = 127.0.0.1 {}", p.dead_target),
        ),
        external(
            "process",
            p.process,
            &format!("server = {report}\nrlimit_files = 77\nrlimit_cpu = 100\nrlimit_as = 512M\nrlimit_data = 256M\nrlimit_stack = 4M\nrlimit_rss = 64M\nnice = 5\numask = 027\npassenv = PATH NO_SUCH_VARIABLE\nenv = FOO=bar LANG=C"),
        ),
        external("inherit", p.inherit, &format!("server = {inherit}\nenv = FOO=baz")),
        external(
            "logged",
            p.logged,
            "id = logged-id\nserver = /bin/echo\nserver_args = logged\nlog_on_success = PID HOST EXIT DURATION\nlog_on_failure = HOST ATTEMPT\nonly_from = 127.0.0.1",
        ),
    ]
    .concat();
    let log = dir.join("services.log");
    dir.create(
        "xinetd.conf",
        &format!(
            "defaults\n{{\n\tlog_type = FILE {}\n\tinstances = 50\n}}\n\n{text}",
            log.display()
        ),
    )
}

fn operations(p: &Ports, target: &Target) -> Vec<(String, Outcome)> {
    let at = |port: u16| format!("127.0.0.1:{port}");
    let mut out = vec![
        (
            "access_times around now".to_string(),
            tcp("127.0.0.1", &at(p.hours_in), b"in", 8),
        ),
        (
            "access_times away from now".to_string(),
            tcp("127.0.0.1", &at(p.hours_out), b"out", 8),
        ),
        (
            "banner and banner_success, served".to_string(),
            tcp("127.0.0.1", &at(p.banner), b"", 64),
        ),
        (
            "banner and banner_fail, refused by only_from".to_string(),
            tcp("127.0.0.2", &at(p.banner), b"", 64),
        ),
    ];
    // cps = 2 3: past 2 connections in a second, 3 s without service.
    for n in 1..=4 {
        let label = match n {
            3 => "cps = 2 3: the 3rd connection in a second".to_string(),
            4 => "cps = 2 3: the 4th, during the wait".to_string(),
            n => format!("cps = 2 3: connection {n}"),
        };
        out.push((label, tcp("127.0.0.1", &at(p.cps), b"c", 8)));
    }
    out.push((
        "cps = 2 3: served again after the wait".to_string(),
        answered_within(&at(p.cps), Duration::from_secs(8)),
    ));
    out.push((
        "redirect: 256 KiB each way".to_string(),
        through(&at(p.redirect)),
    ));
    out.push((
        "redirect: the client half-closes, the target answers".to_string(),
        tcp("127.0.0.1", &at(p.redirect), b"count\nabc", 64),
    ));
    out.push((
        "redirect: the target half-closes, the client sends".to_string(),
        target_half_closes(&at(p.redirect), target),
    ));
    out.push((
        "redirect to a dead target".to_string(),
        tcp("127.0.0.1", &at(p.dead), b"x", 8),
    ));
    out.push((
        "rlimit_*, nice, umask, env, passenv".to_string(),
        tcp("127.0.0.1", &at(p.process), b"", 4096),
    ));
    out.push((
        "env without passenv".to_string(),
        tcp("127.0.0.1", &at(p.inherit), b"", 4096),
    ));
    out.push((
        "logged, served".to_string(),
        tcp("127.0.0.1", &at(p.logged), b"", 64),
    ));
    out.push((
        "logged, refused".to_string(),
        tcp("127.0.0.2", &at(p.logged), b"", 64),
    ));
    out
}

/// Where we differ on purpose: the operation, xinetd's outcome, ours, why.
/// (Beyond xinetd's REMOTE_HOST, a program here also gets UCSPI's
/// `PROTO` and `TCP*` names; the report leaves them out.)
const DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "env without passenv",
        "answer \"FOO=baz PATH=set CARGO_PKG_NAME=inetd nice=0\\n\"",
        "answer \"FOO=baz PATH=set CARGO_PKG_NAME= nice=0\\n\"",
        "without passenv, xinetd gives a program its own environment; here programs get PATH alone unless -E, as from inetd.conf (passenv names what to pass)",
    ),
    (
        "cps = 2 3: the 4th, during the wait",
        "refused",
        "closed",
        "xinetd closes the listening socket for the wait (connections are refused, and a socket it cannot bind again is lost); here the socket stays and each connection is accepted and closed",
    ),
    (
        "redirect: the client half-closes, the target answers",
        "closed",
        "answer \"3\\n\"",
        "xinetd's redirect ends both connections at the first end of file, so what the target sends after the client's half-close is lost; here the half-close is passed on",
    ),
    (
        "redirect: the target half-closes, the client sends",
        "answer \"the client got \\\"hello\\\", the target after its half-close \\\"\\\"\"",
        "answer \"the client got \\\"hello\\\", the target after its half-close \\\"more\\\"\"",
        "the same at the target's half-close: xinetd closes the client's connection, here the client may still send",
    ),
];

/// The records xinetd writes beyond ours, on purpose: it checks
/// `only_from` in a child it has forked (and logged a START for), which
/// exits after the FAIL; here the lists are checked before anything
/// starts, so a refused connection has its FAIL alone.
const XINETD_RECORDS: [&str; 2] = ["START pid from=127.0.0.2", "EXIT status=0 pid duration"];

/// Each log record of `service`, as its kind and fields: the values that
/// must agree kept (`from=`, `status=`, the FAIL reason, `in=`/`out=`),
/// the others by name (`pid`, `duration`). xinetd writes a redirect's
/// bytes on a `TRAFFIC` line of their own, here they end its `EXIT` line:
/// both are read as fields of the service.
fn records(log: &str, service: &str) -> Vec<String> {
    let mut records = Vec::new();
    for line in log.lines() {
        for kind in ["START", "EXIT", "FAIL", "TRAFFIC"] {
            let mark = format!("{kind}: {service}");
            let Some(at) = line.find(&mark) else {
                continue;
            };
            let rest = &line[at + mark.len()..];
            if !(rest.is_empty() || rest.starts_with(' ')) {
                continue;
            }
            let fields: Vec<String> = rest
                .split_whitespace()
                .map(|field| match field.split_once('=') {
                    Some(("pid" | "duration", _)) => field.split('=').next().unwrap().to_string(),
                    _ => field.to_string(),
                })
                .collect();
            records.push(format!("{kind} {}", fields.join(" ")));
        }
    }
    records
}

/// The user a `USERID` line names for `service` (its last word).
fn userid(log: &str, service: &str) -> Option<String> {
    let mark = format!("USERID: {service} ");
    log.lines().find_map(|l| {
        Some(
            l[l.find(&mark)? + mark.len()..]
                .split_whitespace()
                .last()?
                .to_string(),
        )
    })
}

fn xinetd_log(dir: &Dir) -> String {
    fs::read_to_string(dir.join("xinetd.log")).unwrap_or_default()
        + &fs::read_to_string(dir.join("services.log")).unwrap_or_default()
}

#[test]
fn the_runtime_features_serve_as_in_xinetd() {
    let Some(binary) = xinetd() else {
        return;
    };
    let target = Target::start();
    let p = Ports::new();
    let dir = Dir::new("xinetd-runtime");
    let conf = write_config(&dir, &p, target.port);
    // xinetd's refused connection has a child too (see XINETD_RECORDS).
    let log_done = |log: &str, exits: usize| {
        log.matches("EXIT: logged-id").count() >= exits
            && log.contains("FAIL: logged-id")
            && log.matches("redirect").count() >= 3
    };
    let (theirs, their_log) = {
        let _xinetd = start_xinetd(&binary, &dir, &conf);
        wait_ready(p.probe, &|| xinetd_log(&dir));
        let outcomes = operations(&p, &target);
        wait_until("xinetd's log lines", || log_done(&xinetd_log(&dir), 2));
        (outcomes, xinetd_log(&dir))
    };
    let (ours, our_log) = {
        // Ours writes its records where log_type says too: the same file,
        // after xinetd's lines.
        let before = xinetd_log(&dir).len();
        let d = Daemon::start_with(
            "xinetd-runtime-ours",
            "",
            &["--xinetd", conf.to_str().unwrap()],
        );
        let our_log = || d.log_text() + xinetd_log(&dir).get(before..).unwrap_or_default();
        wait_ready(p.probe, &our_log);
        let outcomes = operations(&p, &target);
        wait_until("our log lines", || log_done(&our_log(), 1));
        (outcomes, our_log())
    };
    compare(&theirs, &ours, DIFFERENCES);
    // The operations meant something: a few outcomes pinned.
    let outcome = |label: &str| ours.iter().find(|o| o.0 == label).unwrap().1.to_string();
    assert_eq!(outcome("access_times around now"), "answer \"in\"");
    assert_eq!(outcome("access_times away from now"), "closed");
    assert_eq!(
        outcome("banner and banner_success, served"),
        "answer \"WELCOME\\nGRANTED\\nserved\\n\""
    );
    assert_eq!(
        outcome("banner and banner_fail, refused by only_from"),
        "answer \"WELCOME\\nREFUSED\\n\""
    );
    assert_eq!(
        outcome("cps = 2 3: the 3rd connection in a second"),
        "closed"
    );
    assert_eq!(
        outcome("cps = 2 3: served again after the wait"),
        "answer \"z\""
    );
    assert_eq!(
        outcome("redirect: 256 KiB each way"),
        "answer \"256 KiB back intact\""
    );
    let process = outcome("rlimit_*, nice, umask, env, passenv");
    for seen in [
        "files=77 cpu=100 as=524288 data=262144 stack=4096 rss=65536",
        "umask=0027",
        "FOO=bar",
        "LANG=C",
        "PATH=",
    ] {
        assert!(process.contains(seen), "{seen}: {process}");
    }
    assert!(
        !process.contains("CARGO"),
        "passenv passes only what it names: {process}"
    );
    assert!(process.contains("REMOTE_HOST=127.0.0.1"), "{process}");
    // The log lines: the same records with the same fields, but for
    // what xinetd's child for a refused connection writes.
    let (mut theirs, mut ours) = (
        records(&their_log, "logged-id"),
        records(&our_log, "logged-id"),
    );
    let mut expected = ours.clone();
    expected.extend(XINETD_RECORDS.iter().map(|r| r.to_string()));
    theirs.sort();
    ours.sort();
    expected.sort();
    assert_eq!(theirs, expected, "xinetd:\n{their_log}\nours:\n{our_log}");
    assert_eq!(
        ours,
        [
            "EXIT status=0 pid duration",
            "FAIL address from=127.0.0.2",
            "START pid from=127.0.0.1",
        ]
    );
    // A redirect's: xinetd's redirecting process exits (status and pid
    // here are of no process: the loop served it); the bytes of the
    // 256 KiB exchange agree (the others differ at the half-closes).
    let traffic = |log: &str| -> Vec<String> {
        records(log, "redirect")
            .iter()
            .map(|r| {
                let fields = r
                    .split(' ')
                    .filter(|f| f.starts_with("in=") || f.starts_with("out="));
                fields.collect::<Vec<_>>().join(" ")
            })
            .filter(|f| !f.is_empty())
            .collect()
    };
    // Both write a START for each redirected connection.
    let starts = |log: &str| {
        let records = records(log, "redirect");
        records.iter().filter(|r| r.starts_with("START")).count()
    };
    assert_eq!(
        starts(&our_log),
        starts(&their_log),
        "xinetd:\n{their_log}\nours:\n{our_log}"
    );
    assert!(starts(&our_log) > 0, "{our_log}");
    let both = "in=262149(bytes) out=262144(bytes)".to_string();
    assert!(traffic(&their_log).contains(&both), "{their_log}");
    assert!(traffic(&our_log).contains(&both), "{our_log}");
}

/// An ident server on `ip`:113 answering every query with `user`.
fn ident_server(ip: &str, user: &'static str) -> Option<()> {
    let listener = match TcpListener::bind((ip, 113)) {
        Ok(listener) => listener,
        Err(e) if e.kind() == ErrorKind::AddrInUse => return None,
        Err(e) => panic!("bind {ip}:113: {e}"),
    };
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(crate::util::TIMEOUT));
            let mut query = Vec::new();
            let mut byte = [0u8; 1];
            while stream.read(&mut byte).is_ok_and(|n| n == 1)
                && byte[0] != b'\n'
                && query.len() < 64
            {
                query.push(byte[0]);
            }
            let query = String::from_utf8_lossy(&query);
            let ports = query.trim().replace(' ', "");
            let _ = write!(
                stream,
                "{} : USERID : UNIX : {user}\r\n",
                ports.replace(',', " , ")
            );
        }
    });
    Some(())
}

#[test]
fn userid_is_logged_from_the_clients_ident_server() {
    if !is_root() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("USERID needs root (an ident server on port 113): CI runs as root");
        }
        eprintln!("skipping: USERID needs root (an ident server on port 113)");
        return;
    }
    let Some(binary) = xinetd() else {
        return;
    };
    if ident_server("127.0.0.7", "alice").is_none() {
        eprintln!("skipping: 127.0.0.7:113 is taken");
        return;
    }
    let (probe, port) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let dir = Dir::new("xinetd-userid");
    // libwrap decides here, for both (a name no rule file names): ours
    // asks ident in its access check's child.
    let conf = dir.create(
        "xinetd.conf",
        &format!(
            "defaults\n{{\n\tlog_type = FILE {}\n}}\n{}service identsvc\n{{\n\ttype = UNLISTED\n\tport = {port}\n\tbind = 127.0.0.1\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/echo\n\tserver_args = hi\n\tlibwrap = inetd-test-identsvc\n\tlog_on_success = USERID HOST\n}}\n",
            dir.join("services.log").display(),
            internal("echo", probe, "")
        ),
    );
    let run = |log: &dyn Fn() -> String| {
        wait_ready(probe, log);
        let outcome = tcp("127.0.0.7", &format!("127.0.0.1:{port}"), b"", 64);
        wait_until("a USERID line", || log().contains("USERID: identsvc"));
        (outcome, userid(&log(), "identsvc"))
    };
    let theirs = {
        let _xinetd = start_xinetd(&binary, &dir, &conf);
        run(&|| xinetd_log(&dir))
    };
    let ours = {
        let d = Daemon::start_with(
            "xinetd-userid-ours",
            "",
            &["--xinetd", conf.to_str().unwrap()],
        );
        run(&|| d.log_text())
    };
    eprintln!("xinetd: {theirs:?}\nours: {ours:?}");
    assert_eq!(theirs, ours);
    assert_eq!(
        ours,
        (Outcome::Answer(b"hi\n".to_vec()), Some("alice".to_string()))
    );
}

/// A client of a running program (`/bin/cat`), kept open across a reload.
fn held(source: &str, port: u16) -> TcpStream {
    let mut stream = connect_from(source, &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(
        exchange(&mut stream, b"a", 0),
        Outcome::Answer(b"a".to_vec())
    );
    stream
}

/// Whether the program still answers its client, or its connection ended.
fn still_served(stream: &mut TcpStream) -> Outcome {
    exchange(stream, b"b", 0)
}

fn reconfigured(probe: u16, [gone, kept, narrowed]: [u16; 3], after: bool) -> String {
    let cat = |name: &str, port: u16, extra: &str| {
        external(name, port, &format!("server = /bin/cat\n{extra}"))
    };
    let mut text = String::from("defaults\n{\n\tinstances = 50\n}\n");
    text += &internal("echo", probe, "");
    if !after {
        text += &cat("gone", gone, "");
    }
    text += &cat("kept", kept, "");
    text += &cat(
        "narrowed",
        narrowed,
        if after {
            "only_from = 127.0.0.2"
        } else {
            "only_from = 127.0.0.0/8"
        },
    );
    text
}

/// Where the reload differs on purpose.
const RELOAD_DIFFERENCES: &[(&str, &str, &str, &str)] = &[(
    "a child whose client only_from no longer lists",
    "answer \"b\"",
    "closed",
    "xinetd.8 says its SIGHUP checks running servers' clients again (\"there will be no running servers that can accept packets from addresses that do not meet the access control criteria\"); 2.3.15's readjust() no longer does: here it is done",
)];

#[test]
fn sighup_stops_the_children_a_reload_ended_as_xinetd_does() {
    let Some(binary) = xinetd() else {
        return;
    };
    let probe = free_port("127.0.0.1");
    let ports = [
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
    ];
    let [gone, kept, narrowed] = ports;
    let dir = Dir::new("xinetd-hard-reload");
    let conf = dir.create("xinetd.conf", &reconfigured(probe, ports, false));
    let run = |log: &dyn Fn() -> String, hup: &dyn Fn()| -> Vec<(String, Outcome)> {
        wait_ready(probe, log);
        let mut clients = [
            ("a child of a removed service", held("127.0.0.1", gone)),
            ("a child of a kept service", held("127.0.0.1", kept)),
            (
                "a child whose client only_from no longer lists",
                held("127.0.0.1", narrowed),
            ),
            (
                "a child whose client only_from still lists",
                held("127.0.0.2", narrowed),
            ),
        ];
        fs::write(&conf, reconfigured(probe, ports, true)).unwrap();
        hup();
        // The removed service's child ending says the reload is done.
        let deadline = Instant::now() + crate::util::TIMEOUT;
        let mut outcomes = vec![];
        let mut first = loop {
            let outcome = still_served(&mut clients[0].1);
            if outcome != Outcome::Answer(b"b".to_vec()) || Instant::now() > deadline {
                break Some(outcome);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        for (label, stream) in &mut clients {
            let outcome = first.take().unwrap_or_else(|| still_served(stream));
            outcomes.push((label.to_string(), outcome));
        }
        outcomes
    };
    let theirs = {
        let xinetd = start_xinetd(&binary, &dir, &conf);
        run(&|| xinetd_log(&dir), &|| {
            // SAFETY: kill(2) on the xinetd this test started.
            unsafe { libc::kill(xinetd.child.id() as i32, libc::SIGHUP) };
        })
    };
    fs::write(&conf, reconfigured(probe, ports, false)).unwrap();
    let ours = {
        let d = Daemon::start_with(
            "xinetd-hard-reload-ours",
            "",
            &["--xinetd", conf.to_str().unwrap()],
        );
        run(&|| d.log_text(), &|| d.signal(libc::SIGHUP))
    };
    compare(&theirs, &ours, RELOAD_DIFFERENCES);
    let got: Vec<String> = ours.iter().map(|o| o.1.to_string()).collect();
    assert_eq!(got, ["closed", "answer \"b\"", "closed", "answer \"b\""]);
}
