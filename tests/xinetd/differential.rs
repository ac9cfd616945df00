//! The same xinetd configuration (a main file and an includedir) given to
//! Debian's xinetd 2.3.15 and to ours, the same client operations run
//! against each in turn on loopback, the outcomes compared. xinetd is
//! unpacked from its package (`apt-get download xinetd`, `dpkg -x`, once,
//! into cargo's test temp dir, or `$XINETD` names a binary) and run in
//! the foreground on its own file and pid file, never as a system
//! service. Every service says NOLIBWRAP, so that the machine's
//! hosts.allow never decides for xinetd.
//!
//! Where we differ on purpose, [`DIFFERENCES`] says how and why, and both
//! sides' outcomes are checked against it. What `runtime.rs` shares with
//! this file is here: the outcomes, the client operations, starting
//! xinetd, and [`compare`].

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::util::{connect_from, current_user, free_port, is_root, Daemon, Dir};

/// What a client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Bytes came back (normalized for the clock services).
    Answer(Vec<u8>),
    /// Accepted, then closed with nothing sent.
    Closed,
    /// Nothing listens there.
    Refused,
    /// Nothing came back in time.
    Silent,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Answer(bytes) => write!(f, "answer {:?}", String::from_utf8_lossy(bytes)),
            Outcome::Closed => f.write_str("closed"),
            Outcome::Refused => f.write_str("refused"),
            Outcome::Silent => f.write_str("silent"),
        }
    }
}

/// Compares the outcomes of the same operations, xinetd's and ours, by
/// label: equal, or as `differences` (label, xinetd's, ours, why) says
/// they differ on purpose. The report is printed; a `!!` line fails.
pub(super) fn compare(
    theirs: &[(String, Outcome)],
    ours: &[(String, Outcome)],
    differences: &[(&str, &str, &str, &str)],
) {
    let mut report = Vec::new();
    for ((label, theirs), (_, ours)) in theirs.iter().zip(ours) {
        let expected = differences.iter().find(|d| d.0 == label);
        let fine = match expected {
            Some((_, xinetd, here, _)) => {
                theirs.to_string() == *xinetd && ours.to_string() == *here
            }
            None => theirs == ours,
        };
        report.push(format!(
            "{} {label}: xinetd {theirs}, ours {ours}{}",
            if fine { "  " } else { "!!" },
            expected.map_or(String::new(), |d| format!(" (on purpose: {})", d.3))
        ));
    }
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(!report.contains("!!"), "outcomes differ:\n{report}");
}

/// How long a client waits for an answer that may not come.
pub(super) const PATIENCE: Duration = Duration::from_millis(1500);

/// The xinetd binary, unpacked once per test run.
pub(super) fn xinetd() -> Option<PathBuf> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("XINETD") {
            return Some(PathBuf::from(path));
        }
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xinetd-deb");
        let binary = root.join("usr/sbin/xinetd");
        if binary.exists() {
            return Some(binary);
        }
        let download = root.with_extension("download");
        let _ = fs::remove_dir_all(&download);
        fs::create_dir_all(&download).ok()?;
        let ok = |c: &mut Command| c.stdout(Stdio::null()).status().is_ok_and(|s| s.success());
        if !ok(Command::new("apt-get")
            .args(["download", "-q", "xinetd"])
            .current_dir(&download))
        {
            return None;
        }
        let deb = fs::read_dir(&download)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))?;
        ok(Command::new("dpkg").arg("-x").arg(&deb).arg(&root)).then_some(binary)
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "xinetd could not be unpacked (apt-get download xinetd; dpkg -x): CI must have it"
            );
        }
        eprintln!("skipping: xinetd could not be unpacked (apt-get download xinetd)");
    }
    found.clone()
}

/// The ports of the configuration, one per service.
struct Ports {
    probe: u16,
    echo: u16,
    dual: u16,
    off: u16,
    dotted: u16,
    tilde: u16,
    daytime: u16,
    time: u16,
    chargen: u16,
    discard: u16,
    args: u16,
    named: u16,
    named_late: u16,
    bound: u16,
    only: u16,
    overlap: u16,
    instances: u16,
    per_source: u16,
    who: u16,
}

impl Ports {
    fn new() -> Ports {
        let p = || free_port("127.0.0.1");
        Ports {
            probe: p(),
            echo: p(),
            dual: p(),
            off: p(),
            dotted: p(),
            tilde: p(),
            daytime: p(),
            time: p(),
            chargen: p(),
            discard: p(),
            args: p(),
            named: p(),
            named_late: p(),
            bound: p(),
            only: p(),
            overlap: p(),
            instances: p(),
            per_source: p(),
            who: p(),
        }
    }
}

/// One UNLISTED service block on `port`: `type` and `flags` (each one
/// line: a second would be ignored) with NOLIBWRAP; the flags line stands
/// where `body` says FLAGS, else last. It binds 127.0.0.1 unless `body`
/// binds elsewhere or says NOBIND (every address: a port other tests may
/// hold on one address is then taken, so only one service does that).
fn block(name: &str, port: u16, types: &str, flags: &str, body: &str) -> String {
    let body = if body.contains("NOBIND") {
        body.replace("\nNOBIND", "")
    } else if body.contains("bind =") {
        body.to_string()
    } else {
        format!("{body}\nbind = 127.0.0.1")
    };
    let flags = format!("flags = NOLIBWRAP {flags}");
    let body = if body.contains("FLAGS") {
        body.replace("FLAGS", &flags)
    } else {
        format!("{body}\n{flags}")
    };
    let body = body.replace('\n', "\n\t");
    format!("service {name}\n{{\n\ttype = UNLISTED {types}\n\tport = {port}\n\t{body}\n}}\n")
}

/// Writes the configuration into `dir`; returns the main file.
fn write_config(dir: &Dir, p: &Ports) -> PathBuf {
    let user = current_user();
    // As root, the service runs as nobody:nogroup; otherwise as ourselves
    // (xinetd's setuid to another user would fail).
    let who = if is_root() {
        "user = nobody\ngroup = nogroup".to_string()
    } else {
        format!("user = {user}")
    };
    let internal = |name: &str, port: u16, kind: &str, extra: &str| {
        let wait = if kind == "dgram" { "yes" } else { "no" };
        block(
            name,
            port,
            "INTERNAL",
            "",
            &format!("socket_type = {kind}\nwait = {wait}{extra}"),
        )
    };
    let external = |name: &str, port: u16, flags: &str, rest: &str| {
        block(
            name,
            port,
            "",
            flags,
            &format!("socket_type = stream\nprotocol = tcp\nwait = no\nuser = {user}\n{rest}"),
        )
    };
    let d = dir.join("xinetd.d");
    fs::create_dir(&d).unwrap();
    let files = [
        ("probe", internal("echo", p.probe, "stream", "")),
        (
            "echo",
            internal("echo", p.echo, "stream", "")
                + &internal("echo", p.echo, "dgram", "\nid = echo-dgram")
                + &internal("echo", p.dual, "stream", "\nid = echo-dual\nNOBIND"),
        ),
        ("off", internal("echo", p.off, "stream", "\ndisable = yes")),
        ("dotted.conf", internal("echo", p.dotted, "stream", "")),
        ("tilde~", internal("echo", p.tilde, "stream", "")),
        (
            "daytime",
            internal("daytime", p.daytime, "stream", "")
                + &internal("daytime", p.daytime, "dgram", "\nid = daytime-dgram"),
        ),
        (
            "time",
            internal("time", p.time, "stream", "")
                + &internal("time", p.time, "dgram", "\nid = time-dgram"),
        ),
        ("chargen", internal("chargen", p.chargen, "stream", "")),
        ("discard", internal("discard", p.discard, "stream", "")),
        (
            "args",
            external(
                "args",
                p.args,
                "",
                "server = /bin/echo\nserver_args = one two",
            ),
        ),
        (
            "named",
            external(
                "named",
                p.named,
                "NAMEINARGS",
                "FLAGS\nserver = /bin/echo\nserver_args = argv0 three",
            ),
        ),
        (
            "namedlate",
            external(
                "namedlate",
                p.named_late,
                "NAMEINARGS",
                "server = /bin/echo\nserver_args = argv0 four",
            ),
        ),
        (
            "bound",
            internal("echo", p.bound, "stream", "\nbind = 127.0.0.2"),
        ),
        (
            "only",
            internal(
                "echo",
                p.only,
                "stream",
                "\nonly_from = 127.0.0.2 127.0.0.4/32 10.0.0.0\nno_access = 127.0.0.3",
            ),
        ),
        (
            "overlap",
            internal(
                "echo",
                p.overlap,
                "stream",
                "\nonly_from = 127.0.0.5\nno_access = 127.0.0.0/8",
            ),
        ),
        (
            "instances",
            external(
                "instances",
                p.instances,
                "",
                "server = /bin/cat\ninstances = 1",
            ),
        ),
        (
            "persource",
            external(
                "persource",
                p.per_source,
                "",
                "server = /bin/cat\nper_source = 1",
            ),
        ),
        (
            "who",
            block(
                "who",
                p.who,
                "",
                "",
                &format!("socket_type = stream\nwait = no\n{who}\nserver = /usr/bin/id"),
            ),
        ),
    ];
    for (name, text) in files {
        fs::write(d.join(name), text).unwrap();
    }
    dir.create(
        "xinetd.conf",
        &format!(
            "defaults\n{{\n\tinstances = 50\n}}\n\nincludedir {}\n",
            d.display()
        ),
    )
}

/// One TCP exchange from `source`: send, half-close, read up to `limit` bytes.
pub(super) fn tcp(source: &str, addr: &str, send: &[u8], limit: usize) -> Outcome {
    let mut stream = match connect_from(source, addr) {
        Ok(stream) => stream,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(e) => panic!("connect {addr} from {source}: {e}"),
    };
    exchange(&mut stream, send, limit)
}

pub(super) fn exchange(stream: &mut TcpStream, send: &[u8], limit: usize) -> Outcome {
    let _ = stream.write_all(send);
    if limit > 0 {
        let _ = stream.shutdown(Shutdown::Write);
    }
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.len() < limit.max(1) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // A signal to the test process cut the read short (see
            // `util::retrying`): no outcome of the daemon's.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return if got.is_empty() {
                    Outcome::Silent
                } else {
                    Outcome::Answer(got)
                };
            }
            Err(_) => break,
        }
    }
    got.truncate(limit.max(1));
    if got.is_empty() {
        Outcome::Closed
    } else {
        Outcome::Answer(got)
    }
}

fn udp(addr: &str, send: &[u8]) -> Outcome {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket.send_to(send, addr).unwrap();
    let mut buf = vec![0; 2048];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => Outcome::Answer(buf[..n].to_vec()),
        Err(_) => Outcome::Silent,
    }
}

/// A clock's answer, as its shape: a daytime line, or 4 bytes of RFC 868
/// time within a minute of ours.
fn clock(outcome: Outcome, rfc868: bool) -> Outcome {
    let Outcome::Answer(bytes) = outcome else {
        return outcome;
    };
    let ok = if rfc868 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 2_208_988_800;
        bytes.len() == 4
            && (u64::from(u32::from_be_bytes(bytes[..4].try_into().unwrap())) as i64
                - (now as u32) as i64)
                .abs()
                < 60
    } else {
        !bytes.is_empty() && bytes.ends_with(b"\n") && bytes.iter().all(|b| b.is_ascii())
    };
    Outcome::Answer(if ok { b"<the time>".to_vec() } else { bytes })
}

/// chargen's first line, as its shape: 72 characters of the printable
/// ring and CRLF, and where the ring starts.
fn ring(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Answer(line)
            if line.len() == 74
                && line.ends_with(b"\r\n")
                && line[..72]
                    .windows(2)
                    .all(|w| w[1] == w[0] + 1 || (w[0] == b'~' && w[1] == b' ')) =>
        {
            Outcome::Answer(format!("72 from {:?}", line[0] as char).into_bytes())
        }
        other => other,
    }
}

/// Every operation, labelled, against a daemon serving the configuration.
fn operations(p: &Ports) -> Vec<(String, Outcome)> {
    let at = |port: u16| format!("127.0.0.1:{port}");
    let mut out = vec![
        (
            "echo over TCP".to_string(),
            tcp("127.0.0.1", &at(p.echo), b"hello", 64),
        ),
        ("echo over UDP".to_string(), udp(&at(p.echo), b"ping")),
        (
            "echo over TCP to [::1] (dual stack by default)".to_string(),
            {
                match TcpStream::connect(format!("[::1]:{}", p.dual)) {
                    Ok(mut s) => exchange(&mut s, b"six", 64),
                    Err(_) => Outcome::Refused,
                }
            },
        ),
        (
            "disable = yes".to_string(),
            tcp("127.0.0.1", &at(p.off), b"x", 8),
        ),
        (
            "includedir skips dotted.conf".to_string(),
            tcp("127.0.0.1", &at(p.dotted), b"x", 8),
        ),
        (
            "includedir skips tilde~".to_string(),
            tcp("127.0.0.1", &at(p.tilde), b"x", 8),
        ),
        (
            "daytime over TCP".to_string(),
            clock(tcp("127.0.0.1", &at(p.daytime), b"", 256), false),
        ),
        (
            "daytime over UDP".to_string(),
            clock(udp(&at(p.daytime), b"?"), false),
        ),
        (
            "time over TCP".to_string(),
            clock(tcp("127.0.0.1", &at(p.time), b"", 16), true),
        ),
        (
            "time over UDP".to_string(),
            clock(udp(&at(p.time), b"?"), true),
        ),
        (
            "chargen's first line".to_string(),
            ring(tcp("127.0.0.1", &at(p.chargen), b"", 74)),
        ),
        (
            "discard".to_string(),
            tcp("127.0.0.1", &at(p.discard), b"gone", 8),
        ),
        (
            "server_args".to_string(),
            tcp("127.0.0.1", &at(p.args), b"", 64),
        ),
        (
            "NAMEINARGS before server_args".to_string(),
            tcp("127.0.0.1", &at(p.named), b"", 64),
        ),
        (
            "NAMEINARGS after server_args".to_string(),
            tcp("127.0.0.1", &at(p.named_late), b"", 64),
        ),
        (
            "bind = 127.0.0.2, on 127.0.0.2".to_string(),
            tcp("127.0.0.1", &format!("127.0.0.2:{}", p.bound), b"b", 8),
        ),
        (
            "bind = 127.0.0.2, on 127.0.0.1".to_string(),
            tcp("127.0.0.1", &at(p.bound), b"b", 8),
        ),
        (
            "who the program runs as".to_string(),
            tcp("127.0.0.1", &at(p.who), b"", 512),
        ),
    ];
    for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        out.push((
            format!("only_from/no_access, from {source}"),
            tcp(source, &at(p.only), b"o", 8),
        ));
    }
    for source in ["127.0.0.5", "127.0.0.6"] {
        out.push((
            format!("only_from in no_access, from {source}"),
            tcp(source, &at(p.overlap), b"v", 8),
        ));
    }
    // instances = 1: a second connection while the first is served.
    let mut first = connect_from("127.0.0.1", &at(p.instances)).unwrap();
    let held = exchange(&mut first, b"1", 0);
    out.push(("instances = 1, the first".to_string(), held));
    out.push((
        "instances = 1, a second meanwhile".to_string(),
        tcp("127.0.0.1", &at(p.instances), b"2", 8),
    ));
    drop(first);
    // per_source = 1: the same client again, then another one.
    let mut first = connect_from("127.0.0.1", &at(p.per_source)).unwrap();
    out.push((
        "per_source = 1, the first".to_string(),
        exchange(&mut first, b"1", 0),
    ));
    out.push((
        "per_source = 1, the same client again".to_string(),
        tcp("127.0.0.1", &at(p.per_source), b"2", 8),
    ));
    out.push((
        "per_source = 1, another client".to_string(),
        tcp("127.0.0.2", &at(p.per_source), b"3", 8),
    ));
    drop(first);
    out
}

/// Where we differ on purpose: the operation, xinetd's outcome, ours, why.
const DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "chargen's first line",
        "answer \"72 from '!'\"",
        "answer \"72 from ' '\"",
        "the builtin is the BSD inetds' chargen, whose ring starts at the space; xinetd's starts at '!', as RFC 864's example",
    ),
    (
        "NAMEINARGS after server_args",
        "answer \"\\n\"",
        "answer \"four\\n\"",
        "xinetd reads NAMEINARGS only when flags comes before server_args (its program gets no argv); the order does not matter here",
    ),
    (
        "only_from in no_access, from 127.0.0.5",
        "closed",
        "answer \"v\"",
        "both lists match: xinetd refuses (\"match equally\"), here the more specific (only_from's 127.0.0.5) wins, as xinetd.conf(5) says; -t warns",
    ),
    (
        "instances = 1, a second meanwhile",
        "closed",
        "silent",
        "xinetd accepts the extra connection and closes it; here it waits in the backlog until the first ends, like every capped service",
    ),
];

/// Starts xinetd on `conf` in the foreground, its pid file and log
/// (`xinetd.log`) in `dir`; stopped when dropped.
pub(super) fn start_xinetd(binary: &Path, dir: &Dir, conf: &Path) -> Daemon {
    let child = Command::new(binary)
        .arg("-dontfork")
        .arg("-f")
        .arg(conf)
        .arg("-pidfile")
        .arg(dir.join("xinetd.pid"))
        .arg("-filelog")
        .arg(dir.join("xinetd.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start xinetd");
    Daemon::adopt(child)
}

fn run_xinetd(binary: &Path, dir: &Dir, conf: &Path, p: &Ports) -> Vec<(String, Outcome)> {
    let _xinetd = start_xinetd(binary, dir, conf);
    let log = dir.join("xinetd.log");
    wait_ready(p.probe, &|| fs::read_to_string(&log).unwrap_or_default());
    operations(p)
}

/// A daemon is ready once its probe echoes: its loop runs, every socket
/// is bound. `log` says what went wrong when it never does.
pub(super) fn wait_ready(probe: u16, log: &dyn Fn() -> String) {
    let deadline = std::time::Instant::now() + crate::util::TIMEOUT;
    while tcp("127.0.0.1", &format!("127.0.0.1:{probe}"), b"up", 2)
        != Outcome::Answer(b"up".to_vec())
    {
        if std::time::Instant::now() > deadline {
            panic!("the probe service never echoed:\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_same_files_serve_the_same_as_xinetd() {
    let Some(binary) = xinetd() else {
        return;
    };
    let p = Ports::new();
    let dir = Dir::new("xinetd-differential");
    let conf = write_config(&dir, &p);
    let theirs = run_xinetd(&binary, &dir, &conf, &p);
    let ours = {
        let d = Daemon::start_with(
            "xinetd-differential-ours",
            "",
            &["--xinetd", conf.to_str().unwrap()],
        );
        wait_ready(p.probe, &|| d.log_text());
        operations(&p)
    };
    compare(&theirs, &ours, DIFFERENCES);
    // The operations meant something: a few outcomes pinned.
    let outcome = |label: &str| ours.iter().find(|o| o.0 == label).unwrap().1.clone();
    assert_eq!(outcome("echo over TCP"), Outcome::Answer(b"hello".to_vec()));
    assert_eq!(outcome("includedir skips dotted.conf"), Outcome::Refused);
    assert_eq!(
        outcome("server_args"),
        Outcome::Answer(b"one two\n".to_vec())
    );
    assert_eq!(
        outcome("only_from/no_access, from 127.0.0.1"),
        Outcome::Closed
    );
    assert_eq!(
        outcome("only_from/no_access, from 127.0.0.4"),
        Outcome::Answer(b"o".to_vec())
    );
}
