//! hosts.allow / hosts.deny through the daemon: every connection and every
//! builtin datagram is checked; options run in a child.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use crate::util::*;

/// An external service whose access name is `greeter` (argv[0]'s basename).
pub fn greeter(port: u16) -> String {
    let user = current_user();
    format!("127.0.0.1:{port} stream tcp nowait {user} /bin/echo /usr/sbin/greeter hi\n")
}

#[test]
fn tcp_clients_are_allowed_and_denied() {
    let [port, time] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let d = Daemon::start(
        "access-tcp",
        &format!(
            "{}127.0.0.1:{time} stream tcp nowait {user} internal time\n",
            greeter(port)
        ),
    );
    d.write_rules("hosts.deny", "greeter, time: 127.0.0.2\n");
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()), b"hi\n");
    assert_eq!(read_all(connect_from("127.0.0.2", &addr).unwrap()), b"");
    d.wait_for_log(&format!("{port}/tcp: refused connect from 127.0.0.2"));
    let time_addr = format!("127.0.0.1:{time}");
    assert_eq!(
        read_all(connect_from("127.0.0.1", &time_addr).unwrap()).len(),
        4
    );
    assert_eq!(
        read_all(connect_from("127.0.0.2", &time_addr).unwrap()).len(),
        0
    );
    // The rules are read again when they change, in place or replaced.
    d.write_rules("hosts.deny", "ALL: ALL\n");
    assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()), b"");
    d.replace_rules("hosts.deny", "");
    assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()), b"hi\n");
    d.replace_rules("hosts.deny", "greeter: 127.0.0.1\n");
    assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()), b"");
}

#[test]
fn udp_builtin_datagrams_are_checked() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "access-udp",
        &format!("127.0.0.1:{port} dgram udp wait {user} internal echo\n"),
    );
    d.write_rules("hosts.allow", "echo: 127.0.0.1\n");
    d.write_rules("hosts.deny", "echo: ALL\n");
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(udp_request(&addr, b"allowed"), b"allowed");
    let denied = UdpSocket::bind("127.0.0.2:0").unwrap();
    denied
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    denied.send_to(b"denied", &addr).unwrap();
    assert!(
        denied.recv_from(&mut [0; 16]).is_err(),
        "denied client answered"
    );
}

#[test]
fn ipv6_clients() {
    let [v6, v4] = [free_port("::1"), free_port("127.0.0.1")];
    let user = current_user();
    let d = Daemon::start(
        "access-v6",
        &format!(
            "[::1]:{v6} stream tcp6 nowait {user} internal time\n\
             127.0.0.1:{v4} stream tcp nowait {user} internal time\n"
        ),
    );
    d.write_rules("hosts.allow", "time: [::1]\n");
    d.write_rules("hosts.deny", "ALL: ALL\n");
    assert_eq!(read_all(connect(&format!("[::1]:{v6}"))).len(), 4);
    assert_eq!(read_all(connect(&format!("127.0.0.1:{v4}"))).len(), 0);
}

#[test]
fn twist_replaces_the_service() {
    let [port, echo] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let d = Daemon::start(
        "access-twist",
        &format!(
            "{}127.0.0.1:{echo} stream tcp nowait {user} internal echo\n",
            greeter(port)
        ),
    );
    d.write_rules(
        "hosts.allow",
        "greeter: 127.0.0.1: twist /bin/echo twisted %a %d\n\
         echo: 127.0.0.1: twist /bin/echo builtin %d\n",
    );
    assert_eq!(
        read_all(connect(&format!("127.0.0.1:{port}"))),
        b"twisted 127.0.0.1 greeter\n"
    );
    // A builtin's twist runs instead of the builtin.
    assert_eq!(
        read_all(connect(&format!("127.0.0.1:{echo}"))),
        b"builtin echo\n"
    );
}

#[test]
fn spawn_runs_beside_the_service() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start("access-spawn", &greeter(port));
    let out = Dir::new("spawn-out");
    let file = out.join("spawned");
    std::fs::set_permissions(
        &out.path,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    d.write_rules(
        "hosts.allow",
        &format!(
            "greeter: ALL: spawn /bin/echo %a %d %c >> {}\n",
            file.display()
        ),
    );
    assert_eq!(read_all(connect(&format!("127.0.0.1:{port}"))), b"hi\n");
    wait_until("the spawned command", || {
        std::fs::read_to_string(&file).is_ok_and(|s| s == "127.0.0.1 greeter 127.0.0.1\n")
    });
}

#[test]
fn banners_come_before_the_service() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start("access-banners", &greeter(port));
    let banners = Dir::new("banners");
    banners.create("greeter", "Welcome, %a\n");
    d.write_rules(
        "hosts.allow",
        &format!("greeter: ALL: banners {}\n", banners.path.display()),
    );
    let got = String::from_utf8(read_all(connect(&format!("127.0.0.1:{port}")))).unwrap();
    assert_eq!(got, "Welcome, 127.0.0.1\r\nhi\n");
}

/// A rule that needs an ident lookup, with an ident server that never
/// answers: the lookup waits in a child while everything else is served.
#[test]
fn a_slow_lookup_does_not_stall_other_services() {
    if !is_root() {
        eprintln!("skipping: the fake ident server needs port 113");
        return;
    }
    let [port, time] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    // A silent ident server on 127.0.0.4:113, the address the client uses.
    let ident = TcpListener::bind("127.0.0.4:113").unwrap();
    let d = Daemon::start(
        "access-slow",
        &format!(
            "{}127.0.0.1:{time} stream tcp nowait {user} internal time\n",
            greeter(port)
        ),
    );
    d.write_rules("hosts.allow", "greeter: ALL: rfc931 3\n");
    let started = Instant::now();
    let mut slow = connect_from("127.0.0.4", &format!("127.0.0.1:{port}")).unwrap();
    let (_held, _) = ident.accept().unwrap();
    // The lookup is under way: other services answer at once.
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(read_all(connect(&format!("127.0.0.1:{time}"))).len(), 4);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "time took {:?}",
            t.elapsed()
        );
    }
    let mut reply = Vec::new();
    slow.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"hi\n");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the lookup did not wait"
    );
}

/// A name-based rule for a UDP builtin: the parent cannot look names up,
/// so a child decides while the datagram waits.
#[test]
fn udp_builtin_with_a_name_based_rule() {
    if !is_root() {
        // Daemon::start keeps name lookups on the machine only as root.
        eprintln!("skipping: 127.0.0.2's name would be asked of the system's name server");
        return;
    }
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "access-udp-name",
        &format!("127.0.0.1:{port} dgram udp wait {user} internal echo\n"),
    );
    // 127.0.0.1 is localhost in /etc/hosts; 127.0.0.2 has no name.
    d.write_rules("hosts.allow", "echo: localhost\n");
    d.write_rules("hosts.deny", "echo: ALL\n");
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(udp_request(&addr, b"by name"), b"by name");
    let denied = UdpSocket::bind("127.0.0.2:0").unwrap();
    denied
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    denied.send_to(b"nameless", &addr).unwrap();
    assert!(
        denied.recv_from(&mut [0; 16]).is_err(),
        "nameless client answered"
    );
}

/// A refused datagram for a `wait` UDP service is consumed: no program
/// starts for it, and the next (allowed) datagram starts one.
#[test]
fn refused_wait_datagram_is_consumed() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "access-wait-udp",
        &format!("127.0.0.1:{port} dgram udp wait {user} /bin/false udpsvc\n"),
    );
    d.write_rules("hosts.deny", "udpsvc: 127.0.0.2\n");
    let addr = format!("127.0.0.1:{port}");
    let refused = UdpSocket::bind("127.0.0.2:0").unwrap();
    refused.send_to(b"refused", &addr).unwrap();
    d.wait_for_log("refused connect from 127.0.0.2");
    // Nothing waits on the socket now: nothing is started for nothing.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!d.log_text().contains("started pid"), "{}", d.log_text());
    let allowed = UdpSocket::bind("127.0.0.1:0").unwrap();
    allowed.send_to(b"allowed", &addr).unwrap();
    d.wait_for_log("exited with status 1");
    assert_eq!(
        d.log_text().matches("started pid").count(),
        1,
        "{}",
        d.log_text()
    );
}

/// A line whose program is tcpd (Debian's usual form) is left to tcpd: the
/// rules are checked once, so a `spawn` option runs once. `--no-wrap`
/// turns inetd's own checking off. The rule files are the test's own,
/// bind-mounted over /etc/hosts.* in a private mount namespace, since tcpd
/// reads only those.
#[test]
fn tcpd_lines_are_checked_once_and_no_wrap_checks_nothing() {
    if !is_root() || !require("unshare") || !require("tcpd") {
        eprintln!("skipping: tcpd's own rule files can be replaced only as root");
        return;
    }
    let tcpd = find_in_path("tcpd").expect("required above");
    let [wrapped, plain] = [0; 2].map(|_| free_port("127.0.0.1"));
    let dir = Dir::new("tcpd-once");
    let mark = dir.join("spawned");
    let allow = dir.create(
        "hosts.allow",
        &format!("echo: ALL: spawn (/bin/echo %d >> {})\n", mark.display()),
    );
    let deny = dir.create("hosts.deny", "ALL: ALL\n");
    let start = |name: &str, extra: &[&str]| {
        let config = dir.create(
            &format!("{name}.conf"),
            &format!(
                "127.0.0.1:{wrapped} stream tcp nowait root {} /bin/echo hi\n\
                 127.0.0.1:{plain} stream tcp nowait root /usr/bin/printf printf ho\n",
                tcpd.display()
            ),
        );
        let pidfile = dir.join(&format!("{name}.pid"));
        let script = "mount --bind \"$0\" /etc/hosts.allow && mount --bind \"$1\" \
                      /etc/hosts.deny && shift && exec \"$@\"";
        let daemon = Daemon::adopt(
            std::process::Command::new("unshare")
                .args(["-m", "sh", "-c", script])
                .arg(&allow)
                .arg(&deny)
                .arg(inetd_bin())
                .arg("-d")
                .args(extra)
                .arg("-p")
                .arg(&pidfile)
                .arg(&config)
                .stderr(std::fs::File::create(dir.join(&format!("{name}.log"))).unwrap())
                .spawn()
                .unwrap(),
        );
        daemon.wait_for_pidfile(&pidfile);
        daemon
    };
    {
        let _d = start("wrapped", &[]);
        assert_eq!(read_all(connect(&format!("127.0.0.1:{wrapped}"))), b"hi\n");
        wait_until("tcpd's spawn", || mark.exists());
        // `printf` is checked by inetd itself: denied.
        assert_eq!(read_all(connect(&format!("127.0.0.1:{plain}"))), b"");
    }
    let spawned = std::fs::read_to_string(&mark).unwrap();
    assert_eq!(spawned, "echo\n", "the rules were checked more than once");
    std::fs::remove_file(&mark).unwrap();
    let _d = start("no-wrap", &["--no-wrap"]);
    assert_eq!(read_all(connect(&format!("127.0.0.1:{plain}"))), b"ho");
}

/// Access checks that run in a child (here a `spawn` option that takes two
/// seconds, as a slow resolver would) are bounded per client and per
/// service, and count as children: other services are served meanwhile.
#[test]
fn access_checks_in_children_are_bounded() {
    let [echo, other] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let d = Daemon::start_with(
        "decisions",
        &format!(
            "127.0.0.1:{echo} stream tcp nowait {user} internal echo\n{}",
            greeter(other)
        ),
        &["--max-decisions", "3", "--decisions-per-client", "2"],
    );
    d.write_rules("hosts.allow", "echo: ALL: spawn (/bin/sleep 2)\n");
    let echo_addr = format!("127.0.0.1:{echo}");
    let mut first: Vec<_> = (0..5)
        .map(|_| connect_from("127.0.0.1", &echo_addr).unwrap())
        .collect();
    // Two checks for 127.0.0.1; the other three are refused at once.
    let mut refused = 0;
    for c in &mut first {
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        refused += usize::from(matches!(c.read(&mut [0; 1]), Ok(0)));
    }
    assert_eq!(refused, 3);
    assert_eq!(children_of(d.pid()).len(), 2);
    d.wait_for_log("refused connection from 127.0.0.1: too many access checks under way");
    // A third client check fills the service's cap; a fourth waits.
    let mut third = connect_from("127.0.0.2", &echo_addr).unwrap();
    let mut waiting = connect_from("127.0.0.3", &echo_addr).unwrap();
    wait_until("the third check", || children_of(d.pid()).len() == 3);
    assert!(!answers_within(&mut waiting, Duration::from_millis(300)));
    assert_eq!(children_of(d.pid()).len(), 3);
    // Another service needs no check and is served at once.
    assert_eq!(read_all(connect(&format!("127.0.0.1:{other}"))), b"hi\n");
    // When the checks end, the held connections are served, the waiting one too.
    for stream in [&mut third, &mut waiting] {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        std::io::Write::write_all(stream, b"x").unwrap();
        let mut got = [0; 1];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"x");
    }
}

/// A program started after an access check in a child holds no check:
/// the check ends when the program is executed, so one check at a time
/// still serves any number of long connections.
#[test]
fn an_access_check_ends_when_the_program_starts() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start_with(
        "decision-ends",
        &format!("127.0.0.1:{port} stream tcp nowait {user} /bin/cat cat\n"),
        &["--max-decisions", "1"],
    );
    d.write_rules("hosts.allow", "cat: ALL: spawn (/bin/true)\n");
    let addr = format!("127.0.0.1:{port}");
    let mut held: Vec<_> = (0..3).map(|_| connect(&addr)).collect();
    for (i, stream) in held.iter_mut().enumerate() {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let line = format!("line {i}\n");
        std::io::Write::write_all(stream, line.as_bytes()).unwrap();
        let mut got = vec![0; line.len()];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(got, line.as_bytes());
    }
}

/// A host list that names itself (three times here) is not read again
/// inside itself, so a client it does not list costs the daemon almost
/// nothing; before, that was 3^16 evaluations per connection, in the
/// parent. libwrap, where it ends at all (few descriptors: it reopens the
/// file at every level until open fails), decides the same.
#[test]
fn a_self_referencing_host_list_is_cheap() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start("access-self-list", &greeter(port));
    let lists = Dir::new("self-list");
    let list = lists.join("self");
    let me = list.display();
    std::fs::write(&list, format!("{me} {me} {me} 127.0.0.1\n")).unwrap();
    d.write_rules("hosts.allow", &format!("greeter: {me}\n"));
    d.write_rules("hosts.deny", "ALL: ALL\n");
    let addr = format!("127.0.0.1:{port}");
    let before = cpu_ticks(d.pid());
    assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()), b"hi\n");
    assert_eq!(read_all(connect_from("127.0.0.2", &addr).unwrap()), b"");
    let ticks = cpu_ticks(d.pid()) - before;
    // Clock ticks are 10 ms: well under half a second for both decisions.
    assert!(ticks < 50, "the daemon spent {ticks} ticks deciding");
}

/// An access check in a child is a spawn like any other: `-R` counts it.
#[test]
fn access_checks_in_children_count_against_the_spawn_rate() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start_with(
        "decision-rate",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
        &["-R", "2"],
    );
    d.write_rules("hosts.allow", "time: ALL: spawn (/bin/true)\n");
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..2 {
        assert_eq!(read_all(connect(&addr)).len(), 4);
    }
    assert_eq!(read_all(connect(&addr)), b"");
    d.wait_for_log("server failing (looping), service paused");
}
