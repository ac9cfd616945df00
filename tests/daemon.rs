//! The daemon around external programs: spawning, wait services, reload,
//! signals, the pid file.

use std::fs;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use crate::util::*;

/// `key: value` lines of the probe's report.
fn report_field(report: &str, key: &str) -> String {
    report
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in report:\n{report}"))
        .to_string()
}

fn probe_report(addr: &str) -> String {
    String::from_utf8(read_all(connect(addr))).unwrap()
}

#[test]
fn external_service_gets_a_clean_process() {
    let [port, status_port] = [0; 2].map(|_| free_port("127.0.0.1"));
    let probe = example("probe");
    let user = current_user();
    let _d = Daemon::start(
        "probe",
        &format!(
            "127.0.0.1:{port} stream tcp nowait {user} {} my-argv0 one two\n\
             127.0.0.1:{status_port} stream tcp nowait {user} /bin/cat cat /proc/self/status\n",
            probe.display()
        ),
    );
    // Signals: nothing blocked, nothing ignored (SIGPIPE included).
    let status = String::from_utf8(read_all(connect(&format!("127.0.0.1:{status_port}")))).unwrap();
    assert!(status.contains("SigBlk:\t0000000000000000\n"), "{status}");
    assert!(status.contains("SigIgn:\t0000000000000000\n"), "{status}");
    assert!(status.contains("SigCgt:\t0000000000000000\n"), "{status}");

    let report = probe_report(&format!("127.0.0.1:{port}"));
    assert_eq!(report_field(&report, "argv"), "my-argv0 one two");
    assert_eq!(report_field(&report, "fds"), "0 1 2");
    assert_eq!(
        report_field(&report, "nonblocking"),
        "[false, false, false]"
    );
    // A new session: the probe leads it.
    assert_eq!(report_field(&report, "sid"), report_field(&report, "pid"));
    assert_eq!(
        report_field(&report, "env"),
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    let uid = unsafe { libc::getuid() }.to_string();
    assert!(report_field(&report, "uid").starts_with(&uid));
}

/// Children inherit the daemon's signal mask and rely on it being empty
/// (they reset nothing themselves): a mask and an ignored signal inherited
/// from whoever started inetd reach no service.
#[test]
fn a_mask_inherited_by_the_daemon_reaches_no_service() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let dir = Dir::new("inherited-mask");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait {user} /bin/cat cat /proc/self/status\n"),
    );
    let pidfile = dir.join("inetd.pid");
    let mut command = inetd();
    command.arg("-d").arg("-p").arg(&pidfile).arg(&config);
    command.stderr(std::process::Stdio::null());
    // SAFETY: sigprocmask and signal(2) in the child before exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            let mut blocked: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut blocked);
            libc::sigaddset(&mut blocked, libc::SIGUSR2);
            libc::sigaddset(&mut blocked, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut());
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let daemon = Daemon::adopt(command.spawn().unwrap());
    daemon.wait_for_pidfile(&pidfile);
    let status = String::from_utf8(read_all(connect(&format!("127.0.0.1:{port}")))).unwrap();
    assert!(status.contains("SigBlk:\t0000000000000000\n"), "{status}");
    assert!(status.contains("SigIgn:\t0000000000000000\n"), "{status}");
    assert!(status.contains("SigCgt:\t0000000000000000\n"), "{status}");
}

#[test]
fn argv0_defaults_to_the_program_basename() {
    let port = free_port("127.0.0.1");
    let probe = example("probe");
    let user = current_user();
    let _d = Daemon::start(
        "argv0",
        &format!(
            "127.0.0.1:{port} stream tcp nowait {user} {}\n",
            probe.display()
        ),
    );
    let report = probe_report(&format!("127.0.0.1:{port}"));
    assert_eq!(report_field(&report, "argv"), "probe");
}

#[test]
fn keep_environment_with_dash_e() {
    let port = free_port("127.0.0.1");
    let probe = example("probe");
    let user = current_user();
    let _d = Daemon::start_with(
        "keepenv",
        &format!(
            "127.0.0.1:{port} stream tcp nowait {user} {} probe\n",
            probe.display()
        ),
        &["-E"],
    );
    let report = probe_report(&format!("127.0.0.1:{port}"));
    assert!(report_field(&report, "env").contains("CARGO_PKG_NAME=inetd"));
}

#[test]
fn services_run_as_the_configured_user() {
    if !is_root() {
        eprintln!("skipping: switching users needs root");
        return;
    }
    let port = free_port("127.0.0.1");
    let probe = example("probe");
    let _d = Daemon::start(
        "nobody",
        &format!(
            "127.0.0.1:{port} stream tcp nowait nobody {} probe\n",
            probe.display()
        ),
    );
    let report = probe_report(&format!("127.0.0.1:{port}"));
    let nobody = |flag: &str| {
        let out = std::process::Command::new("id")
            .args([flag, "nobody"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let uid = nobody("-u");
    let gid = nobody("-g");
    assert_eq!(
        report_field(&report, "uid"),
        format!("{uid} {uid} {uid} {uid}")
    );
    assert_eq!(
        report_field(&report, "gid"),
        format!("{gid} {gid} {gid} {gid}")
    );
    let mut groups: Vec<String> = report_field(&report, "groups")
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut expected: Vec<String> = nobody("-G").split_whitespace().map(String::from).collect();
    groups.sort();
    expected.sort();
    assert_eq!(groups, expected);
}

/// `root` keeps inetd's own credentials, as in the BSD inetds and busybox;
/// `root:group` switches group and supplementary groups.
#[test]
fn root_keeps_the_daemons_groups() {
    if !is_root() {
        eprintln!("skipping: switching groups needs root");
        return;
    }
    let [kept, switched] = [0; 2].map(|_| free_port("127.0.0.1"));
    let probe = example("probe");
    let dir = Dir::new("rootgroups");
    let config = dir.create(
        "inetd.conf",
        &format!(
            "127.0.0.1:{kept} stream tcp nowait root {probe} probe\n\
             127.0.0.1:{switched} stream tcp nowait root:daemon {probe} probe\n",
            probe = probe.display()
        ),
    );
    let pidfile = dir.join("inetd.pid");
    let mut command = inetd();
    command.arg("-d").arg("-p").arg(&pidfile).arg(&config);
    command.stderr(std::process::Stdio::null());
    // SAFETY: setgroups(2) in the child before exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            let groups = [4242];
            libc::setgroups(1, groups.as_ptr());
            Ok(())
        });
    }
    let daemon = Daemon::adopt(command.spawn().unwrap());
    daemon.wait_for_pidfile(&pidfile);
    let report = probe_report(&format!("127.0.0.1:{kept}"));
    assert_eq!(report_field(&report, "groups"), "4242");
    let report = probe_report(&format!("127.0.0.1:{switched}"));
    let daemon_gid = String::from_utf8(
        std::process::Command::new("getent")
            .args(["group", "daemon"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let daemon_gid = daemon_gid.split(':').nth(2).unwrap();
    assert!(
        report_field(&report, "gid").starts_with(daemon_gid),
        "{report}"
    );
    let groups = report_field(&report, "groups");
    assert!(!groups.contains("4242"), "{report}");
    assert!(groups.split(' ').any(|g| g == daemon_gid), "{report}");
}

/// A `wait` stream service gets the listening socket and accepts itself.
#[test]
fn wait_stream_service() {
    if !require("python3") {
        return;
    }
    let port = free_port("127.0.0.1");
    let script = "import socket\n\
                  s = socket.socket(fileno=0)\n\
                  for _ in range(2):\n    c, _ = s.accept()\n    c.sendall(b'accepted by the service\\n')\n    c.close()\n";
    let dir = Dir::new("waitstream-script");
    let path = dir.create("serve.py", script);
    let python = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    let python = String::from_utf8_lossy(&python.stdout).trim().to_string();
    let user = current_user();
    let _d = Daemon::start(
        "waitstream",
        &format!(
            "127.0.0.1:{port} stream tcp wait {user} {python} python3 {}\n",
            path.display()
        ),
    );
    // The service serves two clients, exits, and inetd takes the socket back.
    for _ in 0..3 {
        assert_eq!(
            read_all(connect(&format!("127.0.0.1:{port}"))),
            b"accepted by the service\n"
        );
    }
}

/// A `wait` dgram service: in.tftpd behind inetd, fetched with tftp.
#[test]
fn wait_dgram_service_tftp() {
    if !require("tftp") || !require("in.tftpd") {
        return;
    }
    if !is_root() {
        eprintln!("skipping: in.tftpd needs root to drop privileges");
        return;
    }
    let port = free_port("127.0.0.1");
    let root = Dir::new("tftproot");
    fs::set_permissions(
        &root.path,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let content: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let file = root.create("hello.txt", &content);
    fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let tftpd = std::process::Command::new("sh")
        .args(["-c", "command -v in.tftpd"])
        .output()
        .unwrap();
    let tftpd = String::from_utf8_lossy(&tftpd.stdout).trim().to_string();
    // -t 1: in.tftpd exits one second after its transfer, handing the socket back.
    let d = Daemon::start(
        "tftp",
        &format!(
            "127.0.0.1:{port} dgram udp wait root {tftpd} in.tftpd -t 1 -s {}\n",
            root.path.display()
        ),
    );
    let out_dir = Dir::new("tftpout");
    // Twice, each time by a new in.tftpd: inetd must take the socket back.
    for round in 1..=2 {
        let target = out_dir.join(&format!("got{round}.txt"));
        let status = std::process::Command::new("tftp")
            .args([
                "-m",
                "binary",
                "127.0.0.1",
                &port.to_string(),
                "-c",
                "get",
                "hello.txt",
            ])
            .arg(&target)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(fs::read_to_string(&target).unwrap(), content);
        wait_until("in.tftpd to exit", || {
            d.log_text().matches("exited").count() == round
        });
    }
    assert_eq!(d.log_text().matches("started pid").count(), 2);
}

#[test]
fn unix_socket_service() {
    let dir = Dir::new("unixsvc");
    let path = dir.join("echo.sock");
    let user = current_user();
    let d = Daemon::start(
        "unix",
        &format!(
            "{} stream unix nowait {user} /bin/cat cat\n",
            path.display()
        ),
    );
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(b"through a unix socket\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"through a unix socket\n");
    // SIGTERM removes the socket path and the pid file.
    d.signal(libc::SIGTERM);
    let mut d = d;
    let status = d.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!path.exists(), "unix socket path left behind");
    assert!(!d.pidfile.exists(), "pid file left behind");
}

#[test]
fn socat_unix_client() {
    if !require("socat") {
        return;
    }
    let dir = Dir::new("unixsocat");
    let path = dir.join("svc.sock");
    let user = current_user();
    let _d = Daemon::start(
        "unixsocat",
        &format!(
            "{} stream unix nowait {user} internal echo\n",
            path.display()
        ),
    );
    let mut child = std::process::Command::new("socat")
        .args(["-T5", "-", &format!("UNIX-CONNECT:{}", path.display())])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"socat says hi\n")
        .unwrap();
    assert_eq!(child.wait_with_output().unwrap().stdout, b"socat says hi\n");
}

/// The inode of the listening TCP socket on `port` (from /proc/net/tcp).
fn listening_inode(pid: i32, port: u16) -> Option<String> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        (local_port == port && f.get(3) == Some(&"0A")).then(|| f[9].to_string())
    })?;
    // It must be inetd's own socket.
    let owned = fs::read_dir(format!("/proc/{pid}/fd")).ok()?.any(|e| {
        e.ok()
            .and_then(|e| fs::read_link(e.path()).ok())
            .is_some_and(|t| t.to_string_lossy() == format!("socket:[{inode}]"))
    });
    owned.then_some(inode)
}

#[test]
fn sighup_adds_removes_and_changes_services() {
    let user = current_user();
    let probe = example("probe");
    let [kept, removed, added] = [0; 3].map(|_| free_port("127.0.0.1"));
    let before = format!(
        "127.0.0.1:{kept} stream tcp nowait {user} {p} before\n\
         127.0.0.1:{removed} stream tcp nowait {user} internal daytime\n",
        p = probe.display()
    );
    let d = Daemon::start("reload", &before);
    let kept_addr = format!("127.0.0.1:{kept}");
    assert_eq!(report_field(&probe_report(&kept_addr), "argv"), "before");
    let inode = listening_inode(d.pid(), kept).expect("listening socket");

    // A connection held open across the reload.
    let echo_port = free_port("127.0.0.1");
    let with_echo =
        format!("{before}127.0.0.1:{echo_port} stream tcp nowait {user} internal echo\n");
    d.reload(&with_echo);
    let mut held = connect(&format!("127.0.0.1:{echo_port}"));
    held.write_all(b"before reload\n").unwrap();
    let mut buf = [0; 14];
    held.read_exact(&mut buf).unwrap();

    let after = format!(
        "127.0.0.1:{kept} stream tcp nowait {user} {p} after\n\
         127.0.0.1:{added} stream tcp nowait {user} internal time\n\
         127.0.0.1:{echo_port} stream tcp nowait {user} internal echo\n",
        p = probe.display()
    );
    d.reload(&after);
    assert_eq!(report_field(&probe_report(&kept_addr), "argv"), "after");
    assert_eq!(
        listening_inode(d.pid(), kept),
        Some(inode),
        "socket was reopened"
    );
    assert_eq!(read_all(connect(&format!("127.0.0.1:{added}"))).len(), 4);
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{removed}")).is_err(),
        "removed service still answers"
    );
    held.write_all(b"after reload!\n").unwrap();
    held.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"after reload!\n");
}

#[test]
fn broken_config_on_reload_keeps_serving() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "broken",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    d.reload(&format!(
        "127.0.0.1:{port} stream tcp nowait {user} internal time\nthis line is broken\n"
    ));
    assert!(d.log_text().contains("not reloaded"));
    assert_eq!(read_all(connect(&format!("127.0.0.1:{port}"))).len(), 4);
    fs::remove_file(&d.config).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_for_log("No such file");
    assert_eq!(read_all(connect(&format!("127.0.0.1:{port}"))).len(), 4);
}

/// Children of `pid` that are zombies.
fn zombies(pid: i32) -> usize {
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.first() == Some(&"Z") && f.get(1) == Some(&pid.to_string().as_str())
        })
        .count()
}

#[test]
fn many_short_connections_leave_no_zombies() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "zombies",
        &format!("127.0.0.1:{port} stream tcp nowait {user} /bin/true true\n"),
    );
    for _ in 0..500 {
        let _ = read_all(connect(&format!("127.0.0.1:{port}")));
    }
    wait_until("every child reaped", || zombies(d.pid()) == 0);
    // Still serving afterwards.
    let _ = read_all(connect(&format!("127.0.0.1:{port}")));
}

#[test]
fn second_instance_is_refused() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "second",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    let out = inetd()
        .arg("-d")
        .arg("-p")
        .arg(&d.pidfile)
        .arg(&d.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another inetd is running"), "{err}");
    assert!(err.contains(&d.pid().to_string()), "{err}");
}

#[test]
fn missing_program_is_logged_and_others_keep_serving() {
    let [bad, good] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let d = Daemon::start(
        "missing",
        &format!(
            "127.0.0.1:{bad} stream tcp nowait {user} /nonexistent/program program\n\
             127.0.0.1:{good} stream tcp nowait {user} internal time\n"
        ),
    );
    let mut s = connect(&format!("127.0.0.1:{bad}"));
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty());
    d.wait_for_log("/nonexistent/program: execve: No such file or directory");
    assert_eq!(read_all(connect(&format!("127.0.0.1:{good}"))).len(), 4);
}

/// A `wait` dgram service that fails without reading its datagram runs once
/// per datagram, not forever.
#[test]
fn failing_wait_dgram_service_does_not_loop() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "dgramfail",
        &format!("127.0.0.1:{port} dgram udp wait {user} /bin/false false\n"),
    );
    let failures = || d.log_text().matches("exited with status 1").count();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for expected in 1..=2 {
        socket.send_to(b"x", format!("127.0.0.1:{port}")).unwrap();
        wait_until("the failing child", || failures() >= expected);
    }
    // Give a loop the time to show itself.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(failures(), 2, "{}", d.log_text());
}

/// Without -d or -f inetd detaches: the command returns, the daemon serves.
#[test]
fn detaches_into_the_background() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let dir = Dir::new("detach");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    let pidfile = dir.join("inetd.pid");
    let status = inetd()
        .arg("-p")
        .arg(&pidfile)
        .arg(&config)
        .status()
        .unwrap();
    assert!(status.success());
    let mut pid = 0;
    wait_until("the pid file", || {
        pid = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    let reply = read_all(connect(&format!("127.0.0.1:{port}")));
    // SAFETY: kill(2) on the daemon this test started.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    wait_until("the detached daemon to exit", || !pidfile.exists());
    assert_eq!(reply.len(), 4);
}

/// A port that is taken at startup is bound as soon as it is free.
#[test]
fn bind_failure_is_retried() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let d = Daemon::start(
        "rebind",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    d.wait_for_log("cannot bind 127.0.0.1");
    drop(squatter);
    d.wait_for_log(&format!("listening on 127.0.0.1:{port}"));
    assert_eq!(read_all(connect(&format!("127.0.0.1:{port}"))).len(), 4);
}

/// Without `-d` or `-e`, lines go to /dev/log in syslog(3)'s format:
/// daemon facility for the daemon's own messages, auth for refusals. The
/// daemon reconnects when syslogd's socket is replaced, and falls back to a
/// stream socket. /dev is a directory of the test's in a private mount
/// namespace, so the machine's syslog is not involved.
#[test]
fn logs_to_syslog_and_reconnects() {
    use std::os::unix::net::{UnixDatagram, UnixListener};
    if !is_root() || !require("unshare") {
        eprintln!("skipping: a private /dev/log needs root");
        return;
    }
    let port = free_port("127.0.0.1");
    let dir = Dir::new("syslog");
    let dev = dir.join("dev");
    fs::create_dir(&dev).unwrap();
    fs::write(dev.join("null"), "").unwrap();
    let log_path = dev.join("log");
    let syslogd = UnixDatagram::bind(&log_path).unwrap();
    syslogd.set_read_timeout(Some(TIMEOUT)).unwrap();
    // The first line that contains `text`.
    let receive = |socket: &UnixDatagram, text: &str| loop {
        let mut buf = [0; 4096];
        let n = socket.recv(&mut buf).expect("a syslog line");
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains(text) {
            break line;
        }
    };
    let good = format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n");
    let config = dir.create("inetd.conf", &format!("{good}bad line\n"));
    fs::write(dir.join("hosts.deny"), "ALL: ALL\n").unwrap();
    let pidfile = dir.join("inetd.pid");
    let script = "mount --bind /dev/null \"$0/null\" && mount --rbind \"$0\" /dev && exec \"$@\"";
    let daemon = Daemon::adopt(
        std::process::Command::new("unshare")
            .args(["-m", "sh", "-c", script])
            .arg(&dev)
            .arg(inetd_bin())
            .arg("-f")
            .arg("-p")
            .arg(&pidfile)
            .arg("--allow")
            .arg(dir.join("hosts.allow"))
            .arg("--deny")
            .arg(dir.join("hosts.deny"))
            .arg(&config)
            .spawn()
            .unwrap(),
    );
    let tag = format!("inetd[{}]: ", daemon.pid());
    // <daemon.err>Mmm dd hh:mm:ss inetd[pid]: file:line: reason
    let line = receive(&syslogd, "inetd.conf:2: ");
    assert!(line.starts_with("<27>"), "{line:?}");
    assert_eq!(line.find(&tag), Some(20), "{line:?}");
    daemon.wait_for_pidfile(&pidfile);

    // A refusal: facility auth, at tcpd's warning severity.
    let _ = read_all(connect(&format!("127.0.0.1:{port}")));
    let line = receive(&syslogd, "refused");
    assert!(line.starts_with("<36>"), "{line:?}");

    // syslogd restarts: a new socket at the same path.
    drop(syslogd);
    fs::remove_file(&log_path).unwrap();
    let syslogd = UnixDatagram::bind(&log_path).unwrap();
    syslogd.set_read_timeout(Some(TIMEOUT)).unwrap();
    fs::write(&config, "another bad line\n").unwrap();
    daemon.signal(libc::SIGHUP);
    let line = receive(&syslogd, "inetd.conf:1: ");
    assert!(line.starts_with("<27>"), "{line:?}");
    // The reload's last line: none is pending when the socket goes away.
    receive(&syslogd, "not reloaded");

    // Now a stream socket: each line ends in a NUL.
    drop(syslogd);
    fs::remove_file(&log_path).unwrap();
    let syslogd = UnixListener::bind(&log_path).unwrap();
    fs::write(&config, &good).unwrap();
    daemon.signal(libc::SIGHUP);
    syslogd.set_nonblocking(true).unwrap();
    let mut accepted = None;
    wait_until("a stream connection", || {
        accepted = syslogd.accept().ok();
        accepted.is_some()
    });
    let (mut stream, _) = accepted.unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut text = Vec::new();
    let mut byte = [0];
    while text.iter().filter(|&&b| b == 0).count() < 2 {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "{text:?}");
        text.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.starts_with("<30>") && text.contains("reloaded: 1 services\0"),
        "{text:?}"
    );
}

/// Matching the new configuration against the running services is linear:
/// the same services listed in the reverse order (the worst case of a
/// search per service) reload about as fast as in their own order.
#[test]
fn reload_time_does_not_depend_on_the_order_of_services() {
    const SERVICES: usize = 4000;
    let dir = Dir::new("reload-order");
    let lines: Vec<String> = (0..SERVICES)
        .map(|i| {
            let path = dir.join(&format!("s{i}"));
            format!("{} stream unix nowait root internal echo\n", path.display())
        })
        .collect();
    let forward: String = lines.concat();
    let reversed: String = lines.iter().rev().map(String::as_str).collect();
    let d = Daemon::start("reload-order-daemon", &forward);
    // The daemon's own CPU time, in clock ticks: what another tenant of
    // the machine does moves it far less than the wall clock.
    let cpu_of_reload = |config: &str| {
        let before = cpu_ticks(d.pid());
        d.reload(config);
        cpu_ticks(d.pid()) - before
    };
    // The first reload of each order warms up; the second counts.
    let (_, forward_cpu) = (cpu_of_reload(&forward), cpu_of_reload(&forward));
    let (_, reversed_cpu) = (cpu_of_reload(&reversed), cpu_of_reload(&reversed));
    let reloads = d.log_text();
    assert_eq!(
        reloads
            .matches(&format!("reloaded: {SERVICES} services"))
            .count(),
        4,
        "{}",
        reloads.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
    // About 10 and 15 ticks here; a search per service would add 8 million
    // comparisons of listeners.
    assert!(
        reversed_cpu <= forward_cpu * 3 + 5,
        "reversed order took {reversed_cpu} ticks of CPU, own order {forward_cpu}"
    );
}

/// A port that stays taken is retried ever less often and logged only at
/// the 1st, 2nd, 4th... failure; `ready:` counts only the bound services.
#[test]
fn bind_failures_back_off_and_ready_counts_bound_services() {
    let [taken, free] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", taken)).unwrap();
    let d = Daemon::start(
        "bind-backoff",
        &format!(
            "127.0.0.1:{taken} stream tcp nowait {user} internal time\n\
             127.0.0.1:{free} stream tcp nowait {user} internal time\n"
        ),
    );
    d.wait_for_log("ready: 1 services, 1 not bound yet");
    d.wait_for_log("(failed 2 times); retrying in 10 s");
    let log = d.log_text();
    assert_eq!(log.matches("cannot bind").count(), 2, "{log}");
    assert!(log.contains("retrying in 5 s"), "{log}");
}
