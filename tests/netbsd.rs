//! What NetBSD's own inetd tests (tests/usr.sbin/inetd) check, with tests
//! of our own: t_inetd's rate limits (`service_max` and `ip_max` on
//! datagram and stream services, `wait` and `nowait`, and their `0`, which
//! starts nothing) and t_accept_max (`accept_max` on a unix socket: the
//! third client waits until the first is done), with configurations in
//! NetBSD's key-values and positional syntax, and its other forms through a
//! running daemon.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::util::{
    children_of, current_user, example, free_port, inetd, wait_until, Daemon, Dir, TIMEOUT,
};

/// How long a request that must go unanswered is given (t_inetd: 1 s).
const NO_ANSWER: Duration = Duration::from_secs(1);

/// Whether one datagram to 127.0.0.1:`port` is answered.
fn udp_answered(port: u16) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(NO_ANSWER)).unwrap();
    socket.send_to(b"test", ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 64];
    matches!(socket.recv_from(&mut buf), Ok((4, _))) && &buf[..4] == b"test"
}

/// Whether a TCP request to 127.0.0.1:`port` is echoed (not closed,
/// reset, or left waiting).
fn tcp_answered(port: u16) -> bool {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(NO_ANSWER)).unwrap();
    stream.write_all(b"test").unwrap();
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(4))
}

/// A directory with the test server in it, named as NetBSD's test names
/// it: its configurations run it by a relative path.
fn with_server(name: &str) -> Dir {
    let dir = Dir::new(name);
    std::fs::copy(example("echo_once"), dir.join("test_server")).expect("copy the test server");
    dir
}

#[test]
fn rate_limits_in_key_values_syntax() {
    let user = current_user();
    let dir = with_server("netbsd-ratelimit");
    // Ports of our own; otherwise NetBSD's inetd_ratelimit.conf.
    let ports: Vec<u16> = (0..8).map(|_| free_port("127.0.0.1")).collect();
    let definition = |port: u16, protocol: &str, wait: &str, limits: &str, args: &str| {
        format!(
            "{port} on\n\tprotocol = {protocol},\n\twait = {wait},\n\tuser = {user},\n{limits}\texec = test_server,\n\targs = test_server {args};\n\n"
        )
    };
    let config = [
        "127.0.0.1:\n\n#DGRAM WAIT SERVICE\n".to_string(),
        definition(
            ports[0],
            "udp",
            "yes",
            "\tservice_max = 5,\n\tip_max = 3,\n",
            "dgram wait",
        ),
        definition(ports[1], "udp", "yes", "\tip_max = 0,\n", "dgram wait"),
        definition(ports[2], "udp", "yes", "\tservice_max = 2,\n", "dgram wait"),
        definition(ports[3], "udp", "yes", "\tservice_max = 0,\n", "dgram wait"),
        "#STREAM WAIT SERVICE\n".to_string(),
        definition(
            ports[2],
            "tcp",
            "yes",
            "\tservice_max = 2,\n",
            "stream wait",
        ),
        definition(
            ports[3],
            "tcp",
            "yes",
            "\tservice_max = 0,\n",
            "stream wait",
        ),
        "#STREAM NOWAIT SERVICE\n".to_string(),
        definition(
            ports[4],
            "tcp",
            "no",
            "\tservice_max = 5,\n\tip_max = 3,\n",
            "stream nowait",
        ),
        definition(ports[5], "tcp", "no", "\tip_max = 0,\n", "stream nowait"),
        definition(
            ports[6],
            "tcp",
            "no",
            "\tservice_max = 2,\n",
            "stream nowait",
        ),
        definition(
            ports[7],
            "tcp",
            "no",
            "\tservice_max = 0,\n",
            "stream nowait",
        ),
    ]
    .concat();
    let _inetd = Daemon::start_in(dir, &config, &[]);

    // dgram wait, ip_max 3: three answers, then none.
    for _ in 0..3 {
        assert!(udp_answered(ports[0]));
    }
    assert!(!udp_answered(ports[0]));
    // ip_max 0: none.
    assert!(!udp_answered(ports[1]));
    // service_max 2: two answers, then none.
    assert!(udp_answered(ports[2]));
    assert!(udp_answered(ports[2]));
    assert!(!udp_answered(ports[2]));
    // service_max 0: none.
    assert!(!udp_answered(ports[3]));

    // stream wait, service_max 2 and 0.
    assert!(tcp_answered(ports[2]));
    assert!(tcp_answered(ports[2]));
    assert!(!tcp_answered(ports[2]));
    assert!(!tcp_answered(ports[3]));

    // stream nowait, ip_max 3 and 0, service_max 2 and 0.
    for _ in 0..3 {
        assert!(tcp_answered(ports[4]));
    }
    assert!(!tcp_answered(ports[4]));
    assert!(!tcp_answered(ports[5]));
    assert!(tcp_answered(ports[6]));
    assert!(tcp_answered(ports[6]));
    assert!(!tcp_answered(ports[6]));
    assert!(!tcp_answered(ports[7]));
}

#[test]
fn rate_limits_in_positional_syntax() {
    // NetBSD's `:max` and FreeBSD's per-client rate in the same file:
    // wait:2 is service_max, /0/3 the per-client rate (ip_max), :0 nothing.
    let user = current_user();
    let dir = with_server("netbsd-ratelimit-positional");
    let ports: Vec<u16> = (0..4).map(|_| free_port("127.0.0.1")).collect();
    let config = format!(
        "127.0.0.1:\n\
         {} dgram udp wait/0/3 {user} test_server test_server dgram wait\n\
         {} dgram udp wait:2 {user} test_server test_server dgram wait\n\
         {} stream tcp nowait:0 {user} test_server test_server stream nowait\n\
         {} stream tcp nowait:2 {user} test_server test_server stream nowait\n",
        ports[0], ports[1], ports[2], ports[3]
    );
    let _inetd = Daemon::start_in(dir, &config, &[]);
    for _ in 0..3 {
        assert!(udp_answered(ports[0]));
    }
    assert!(!udp_answered(ports[0]));
    assert!(udp_answered(ports[1]));
    assert!(udp_answered(ports[1]));
    assert!(!udp_answered(ports[1]));
    assert!(!tcp_answered(ports[2]));
    assert!(tcp_answered(ports[3]));
    assert!(tcp_answered(ports[3]));
    assert!(!tcp_answered(ports[3]));
}

/// The service of the accept_max test: it reads its client's number,
/// says it started (a file), and waits until the test opens its FIFO.
const ACCEPT_MAX_SERVER: &str = "#!/bin/sh\ncd \"$1\" || exit 1\nIFS= read -r client\n: > \"started.$client\"\n: < \"release.$client\"\n";

fn accept_max(name: &str, config: impl Fn(&Path, &str) -> String) {
    let dir = Dir::new(name);
    let script = dir.create("run", ACCEPT_MAX_SERVER);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    for client in 1..=3 {
        let fifo = dir.join(&format!("release.{client}"));
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }
    let files = dir.path.clone();
    let socket = files.join("sock");
    let inetd = Daemon::start_in(dir, &config(&files, &current_user()), &[]);
    let started = |client: u32| files.join(format!("started.{client}")).exists();
    let connect = |client: u32| {
        let mut stream = UnixStream::connect(&socket).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        writeln!(stream, "{client}").unwrap();
        stream
    };
    let release = |client: u32| {
        std::fs::write(files.join(format!("release.{client}")), "").expect("open the FIFO");
    };
    let ended = |mut stream: UnixStream| {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("the service ends");
    };
    let first = connect(1);
    wait_until("client 1 served", || started(1));
    let second = connect(2);
    wait_until("client 2 served", || started(2));
    let third = connect(3);
    // At accept_max, the third waits: no third child in a second.
    std::thread::sleep(NO_ANSWER);
    assert!(!started(3), "a third client was served at accept_max 2");
    assert_eq!(children_of(inetd.pid()).len(), 2);
    // The first ends: the third is served at once.
    release(1);
    wait_until("client 3 served", || started(3));
    ended(first);
    release(2);
    release(3);
    ended(second);
    ended(third);
    wait_until("no children", || children_of(inetd.pid()).is_empty());
}

#[test]
fn accept_max_on_a_unix_socket_in_positional_syntax() {
    accept_max("netbsd-accept-max-positional", |dir, user| {
        let dir = dir.display();
        format!("{dir}/sock stream,2 unix nowait {user} {dir}/run run {dir}\n")
    });
}

#[test]
fn accept_max_on_a_unix_socket_in_key_values_syntax() {
    accept_max("netbsd-accept-max-keys", |dir, user| {
        let dir = dir.display();
        format!(
            "{dir}/sock on\n\tsocktype = stream,\n\tprotocol = unix,\n\taccept_max = 2,\n\twait = no,\n\tuser = {user},\n\texec = {dir}/run,\n\targs = run \"{dir}\";\n"
        )
    });
}

#[test]
fn socket_options_reach_the_listening_socket() {
    let user = current_user();
    let server = example("echo_once");
    let server = server.display();
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let config = format!(
        "127.0.0.1:{a} stream:dataready tcp,sndbuf=64k,rcvbuf=96k wait {user} {server} echo_once sockopts\n\
         {b} on bind = 127.0.0.1, protocol = tcp, wait = yes, user = {user}, exec = {server},\n\
         \targs = echo_once sockopts, sndbuf = 32k;\n"
    );
    let _inetd = Daemon::start("netbsd-sockopts", &config);
    let report = |port: u16| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        // A dataready listener accepts once data comes.
        stream.write_all(b"x").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    let value = |text: &str, key: &str| -> i64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text:?}"))
    };
    let text = report(a);
    // Linux doubles what it is given (within net.core.[wr]mem_max).
    assert!(value(&text, "sndbuf") >= 64 * 1024, "{text}");
    assert!(value(&text, "rcvbuf") >= 96 * 1024, "{text}");
    assert!(value(&text, "defer_accept") > 0, "{text}");
    let text = report(b);
    assert!(value(&text, "sndbuf") >= 32 * 1024, "{text}");
    assert_eq!(value(&text, "defer_accept"), 0, "{text}");
}

#[test]
fn includes_relative_paths_and_quoted_arguments_in_a_running_daemon() {
    let user = current_user();
    let dir = with_server("netbsd-include");
    std::fs::create_dir(dir.join("inetd.d")).unwrap();
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    dir.create(
        "inetd.d/a.conf",
        &format!("{a} stream tcp nowait {user} test_server test_server \"stream\" 'nowait'\n"),
    );
    dir.create(
        "inetd.d/b.conf",
        &format!("{b} on protocol = udp, wait = yes, user = {user}, exec = test_server,\n\targs = test_server dgram wait;\n"),
    );
    dir.create("inetd.d/c.txt", "not included\n");
    let inetd = Daemon::start_in(dir, "127.0.0.1:\n.include inetd.d/*.conf\n", &[]);
    assert!(tcp_answered(a));
    assert!(udp_answered(b));
    assert!(!inetd.log_text().contains("not included"));
    inetd.wait_for_log("is a relative path");
}

#[test]
fn the_dump_shows_every_form() {
    let dir = Dir::new("netbsd-dump");
    std::fs::create_dir(dir.join("inetd.d")).unwrap();
    dir.create(
        "inetd.d/x.conf",
        "7302 stream tcp/ttcp nowait root /bin/cat\n",
    );
    let conf = dir.create(
        "inetd.conf",
        "127.0.0.1:\n\
         #@ ipsec in bypass\n\
         7300 stream,4:dataready tcp,sndbuf=1m,rcvbuf=8k nowait:20 root /bin/sh sh -c \"exec cat\"\n\
         7301 on protocol = udp, wait = yes, user = root, ip_max = 3, service_max = 0, exec = rel/prog;\n\
         .include inetd.d/*.conf\n\
         7300 stream tcp nowait root /bin/cat\n\
         7303 off protocol = tcp, user = root;\n",
    );
    let output = inetd()
        .args(["-tt", conf.to_str().unwrap()])
        .current_dir(&dir.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let root = "user=root uid=0 gid=0 group=- groups=-";
    let cwd = dir.path.display();
    assert_eq!(
        lines,
        [
            format!("127.0.0.1:7301 udp4 dgram wait rate=- child=- ip-rate=3 ip-child=- {root} starts=none exec={cwd}/rel/prog argv=prog"),
            format!("127.0.0.1:7302 tcp4 stream nowait rate=- child=- ip-rate=- ip-child=- {root} exec=/bin/cat argv=cat"),
            format!("127.0.0.1:7300 tcp4 stream nowait rate=- child=- ip-rate=- ip-child=- {root} exec=/bin/cat argv=cat"),
        ]
    );
    let path = conf.display();
    let messages: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        messages,
        [
            format!("{path}:2: warning: \"ipsec in bypass\" ignored (the lines after it are served without it), not supported: IPsec policies"),
            format!("{path}:4: warning: server program \"rel/prog\" is a relative path: {cwd}/rel/prog is run"),
            format!("{}/inetd.d/x.conf:1: warning: tcp/ttcp served as tcp: T/TCP is gone from every kernel", dir.path.display()),
            format!("{path}:6: warning: listener 127.0.0.1:7300 stream of line 3 replaced: the later line wins"),
        ]
    );
    // Line 3 alone shows its extras.
    let alone = dir.create("alone.conf", "127.0.0.1:7300 stream,4:dataready tcp,sndbuf=1m,rcvbuf=8k nowait:20 root /bin/sh sh -c \"exec cat\"\n");
    let output = inetd()
        .args(["-tt", alone.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("127.0.0.1:7300 tcp4 stream nowait rate=20 child=4 ip-rate=- ip-child=- {root} sndbuf=1048576 rcvbuf=8192 defer-accept=30 exec=/bin/sh argv=sh -c \"exec cat\"\n")
    );
}

#[test]
fn dual_stack_tcp_serves_both_families() {
    if std::net::TcpListener::bind(("::1", 0)).is_err() {
        eprintln!("skipping: no IPv6 loopback");
        return;
    }
    // Free in both families: the daemon binds the dual-stack [::].
    let port = free_port("::");
    let _inetd = Daemon::start_with(
        "netbsd-dual-stack",
        &format!(
            "{port} stream tcp nowait {} internal daytime\n",
            current_user()
        ),
        &["--dual-stack"],
    );
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let mut stream = TcpStream::connect(&addr).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        assert!(text.ends_with("\r\n"), "{addr}: {text:?}");
    }
}

#[test]
fn other_forms_through_a_running_daemon() {
    let user = current_user();
    let dir = Dir::new("netbsd-forms");
    let sock = dir.join("echo");
    let (a, b, c) = (
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
    );
    let config = format!(
        "127.0.0.1:\n\
         {sock} stream unix nowait {user} internal\n\
         {a} stream tcp/ttcp nowait {user} /bin/sh sh -c \"echo 'two words'\"\n\
         {b} stream tcp nowait {user} internal daytime\n\
         {b} stream tcp nowait {user} /bin/echo echo \"the later line\"\n\
         {c} off protocol = tcp, user = {user};\n",
        sock = sock.display()
    );
    let inetd = Daemon::start_in(dir, &config, &[]);
    // FreeBSD: a unix socket's builtin named by its path.
    let mut stream = UnixStream::connect(&sock).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(b"ping\n").unwrap();
    let mut echoed = [0u8; 5];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"ping\n");
    let answer = |port: u16| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    // tcp/ttcp as tcp; a quoted argument is one argument.
    assert_eq!(answer(a), "two words\n");
    // The later line wins.
    assert_eq!(answer(b), "the later line\n");
    inetd.wait_for_log("replaced: the later line wins");
    // An `off` definition serves nothing.
    assert!(TcpStream::connect(("127.0.0.1", c)).is_err());
}

#[test]
fn a_reload_reads_the_included_files_again() {
    let user = current_user();
    let dir = Dir::new("netbsd-include-reload");
    std::fs::create_dir(dir.join("inetd.d")).unwrap();
    let included = dir.join("inetd.d/x.conf");
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let line = |port: u16, text: &str| {
        format!("127.0.0.1:{port} stream tcp nowait {user} /bin/echo echo {text}\n")
    };
    std::fs::write(&included, line(a, "first")).unwrap();
    let config = ".include inetd.d/*.conf\n";
    let inetd = Daemon::start_in(dir, config, &[]);
    let answer = |port: u16| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    assert_eq!(answer(a), "first\n");
    std::fs::write(&included, line(b, "second")).unwrap();
    inetd.reload(config);
    assert_eq!(answer(b), "second\n");
    assert!(TcpStream::connect(("127.0.0.1", a)).is_err());
}
