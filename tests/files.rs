//! What the daemon does with files and paths: UNIX socket paths (never
//! deleting what it did not create, their owner and mode), the pid file,
//! configuration and rule files that are not regular files, the UDP port
//! sharing, and the spawn child's stack and credential calls.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// Waits for `child` to exit within [`TIMEOUT`]; kills it and panics otherwise.
fn exit_status(child: &mut Daemon, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            panic!("{what}: still running after {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `command` to its end, bounded in time (and in memory, so that a
/// reader of /dev/zero dies rather than take the machine's memory);
/// returns its status and stderr.
fn run_bounded(mut command: Command, what: &str) -> (std::process::ExitStatus, String) {
    let err = Dir::new("bounded");
    let err_path = err.join("stderr");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path).unwrap());
    limit_memory(&mut command);
    let mut child = Daemon::adopt(command.spawn().unwrap());
    let status = exit_status(&mut child, what);
    (status, fs::read_to_string(&err_path).unwrap_or_default())
}

/// An address-space limit of 1 GiB for the child.
fn limit_memory(command: &mut Command) {
    // SAFETY: setrlimit(2) in the child before exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
}

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

/// `inetd -d` with the rule files and pid file given, stderr to `log`.
fn daemon_command(dir: &Dir, allow: &Path, deny: &Path, config: &Path) -> Command {
    let mut command = inetd();
    command
        .arg("-d")
        .arg("-p")
        .arg(dir.join("inetd.pid"))
        .arg("--allow")
        .arg(allow)
        .arg("--deny")
        .arg(deny)
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("stderr.log")).unwrap());
    command
}

/// Stops a daemon with SIGTERM and checks it exits promptly and cleanly.
fn terminate(daemon: &mut Daemon) {
    daemon.signal(libc::SIGTERM);
    let status = exit_status(daemon, "inetd after SIGTERM");
    assert!(status.success(), "{status}");
}

/// Whether `listener` (non-blocking) has a connection waiting.
fn has_connection(listener: &UnixListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    listener.accept().is_ok()
}

fn daytime_answers(port: u16) -> bool {
    !read_all(connect(&format!("127.0.0.1:{port}"))).is_empty()
}

// ---- item 9: UNIX socket paths ----

#[test]
fn a_live_socket_of_another_process_is_not_taken_over() {
    let dir = Dir::new("unix-live");
    let path = dir.join("svc.sock");
    let theirs = UnixListener::bind(&path).unwrap();
    let user = current_user();
    let mut d = Daemon::start(
        "unix-live",
        &format!(
            "{} stream unix nowait {user} internal echo\n",
            path.display()
        ),
    );
    d.wait_for_log(&format!("cannot bind {}", path.display()));
    let _client = UnixStream::connect(&path).unwrap();
    assert!(
        has_connection(&theirs),
        "the path no longer leads to its owner"
    );
    d.signal(libc::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    let _client = UnixStream::connect(&path).expect("the other socket's path was removed");
    assert!(has_connection(&theirs));
}

#[test]
fn a_stale_socket_is_replaced() {
    let dir = Dir::new("unix-stale");
    let path = dir.join("svc.sock");
    drop(UnixListener::bind(&path).unwrap());
    let user = current_user();
    let _d = Daemon::start(
        "unix-stale",
        &format!(
            "{} stream unix nowait {user} internal echo\n",
            path.display()
        ),
    );
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(b"hi").unwrap();
    let mut reply = [0; 2];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hi");
}

#[test]
fn what_is_not_its_socket_is_never_deleted() {
    let dir = Dir::new("unix-files");
    let file = dir.create("file.sock", "a file\n");
    let target = dir.create("target", "the target\n");
    let link = dir.join("link.sock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let dangling = dir.join("dangling.sock");
    std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
    let user = current_user();
    let config: String = [&file, &link, &dangling]
        .iter()
        .map(|p| format!("{} stream unix nowait {user} internal echo\n", p.display()))
        .collect();
    let mut d = Daemon::start("unix-files", &config);
    for path in [&file, &link, &dangling] {
        d.wait_for_log(&format!("cannot bind {}", path.display()));
    }
    d.signal(libc::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    assert_eq!(fs::read_to_string(&file).unwrap(), "a file\n");
    assert_eq!(fs::read_link(&link).unwrap(), target);
    assert_eq!(fs::read_to_string(&target).unwrap(), "the target\n");
    assert!(
        fs::symlink_metadata(&dangling).is_ok(),
        "dangling link deleted"
    );
    assert!(
        !dir.join("nowhere").exists(),
        "a socket made through a link"
    );
}

#[test]
fn reload_and_exit_leave_a_replaced_path_alone() {
    let dir = Dir::new("unix-replaced");
    let [first, second] = ["first.sock", "second.sock"].map(|n| dir.join(n));
    let user = current_user();
    let line = |p: &Path| format!("{} stream unix nowait {user} internal echo\n", p.display());
    let mut d = Daemon::start("unix-replaced", &(line(&first) + &line(&second)));
    assert!(fs::metadata(&first).unwrap().file_type().is_socket());
    // Someone replaces both paths while inetd serves them.
    fs::remove_file(&first).unwrap();
    let theirs = UnixListener::bind(&first).unwrap();
    fs::remove_file(&second).unwrap();
    fs::write(&second, "not a socket\n").unwrap();
    // A reload that drops the first service.
    d.reload(&line(&second));
    let _client = UnixStream::connect(&first).expect("reload removed another's socket");
    assert!(has_connection(&theirs));
    d.signal(libc::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    assert_eq!(fs::read_to_string(&second).unwrap(), "not a socket\n");
}

// ---- item 10: socket owner and mode ----

#[test]
fn unix_sockets_get_a_safe_mode_whatever_the_umask() {
    let dir = Dir::new("unix-umask");
    let path = dir.join("svc.sock");
    let user = current_user();
    let config = dir.create(
        "inetd.conf",
        &format!(
            "{} stream unix nowait {user} internal echo\n",
            path.display()
        ),
    );
    let mut command = daemon_command(
        &dir,
        &dir.join("hosts.allow"),
        &dir.join("hosts.deny"),
        &config,
    );
    // SAFETY: umask(2) in the child before exec.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let daemon = Daemon::adopt(command.spawn().unwrap());
    daemon.wait_for_pidfile(&dir.join("inetd.pid"));
    let meta = fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    // SAFETY: geteuid has no preconditions.
    assert_eq!(meta.uid(), unsafe { libc::geteuid() });
}

#[test]
fn the_owner_prefix_sets_owner_group_and_mode() {
    if !is_root() || !require("socat") {
        eprintln!("skipping: giving a socket away needs root");
        return;
    }
    let nogroup = nix::unistd::Group::from_name("nogroup")
        .unwrap()
        .expect("group nogroup")
        .gid
        .as_raw();
    let dir = Dir::new("unix-owner");
    fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("svc.sock");
    let line = format!(
        ":nobody:nogroup:0660:{} stream unix nowait root internal echo\n",
        path.display()
    );
    let config = dir.create("inetd.conf", &line);
    let dump = inetd().arg("-tt").arg(&config).output().unwrap();
    assert!(dump.status.success(), "{dump:?}");
    let dump = String::from_utf8(dump.stdout).unwrap();
    assert!(
        dump.starts_with(&format!("{} unix stream nowait ", path.display())),
        "{dump}"
    );
    assert!(
        dump.contains(&format!(" socket-owner=65534:{nogroup} socket-mode=0660 ")),
        "{dump}"
    );
    let mut d = Daemon::start("unix-owner", &line);
    let meta = fs::symlink_metadata(&path).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777),
        (65534, nogroup, 0o660)
    );
    // nobody may now connect.
    let out = Command::new("socat")
        .args(["-T5", "-", &format!("UNIX-CONNECT:{}", path.display())])
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"as nobody\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.stdout, b"as nobody\n", "{out:?}");
    d.signal(libc::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "its own socket is removed"
    );
}

// ---- item 11: the pid file ----

#[test]
fn the_pid_file_must_be_a_plain_file_of_its_own() {
    let dir = Dir::new("pidfile");
    let port = free_port("127.0.0.1");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n"),
    );
    let precious = dir.create("precious", "precious\n");
    let symlink = dir.join("symlink.pid");
    std::os::unix::fs::symlink(&precious, &symlink).unwrap();
    let hardlink = dir.join("hardlink.pid");
    fs::hard_link(&precious, &hardlink).unwrap();
    let fifo = dir.join("fifo.pid");
    mkfifo(&fifo);
    let directory = dir.join("directory.pid");
    fs::create_dir(&directory).unwrap();
    let mut refused = vec![
        (symlink, "symlink"),
        (hardlink, "hard link"),
        (fifo, "FIFO"),
        (directory, "directory"),
    ];
    if is_root() {
        let foreign = dir.create("foreign.pid", "12345\n");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        refused.push((foreign, "another user's file"));
    } else {
        eprintln!("skipping the foreign-owner case: chown needs root");
    }
    for (pidfile, what) in refused {
        let mut command = inetd();
        command.arg("-d").arg("-p").arg(&pidfile).arg(&config);
        let (status, err) = run_bounded(command, what);
        assert_eq!(status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains(&pidfile.display().to_string()),
            "{what}: {err}"
        );
        assert_eq!(
            fs::read_to_string(&precious).unwrap(),
            "precious\n",
            "{what}"
        );
    }
    // A plain file of its own is taken, and removed at exit.
    let pidfile = dir.create("good.pid", "");
    let mut command = inetd();
    command
        .arg("-d")
        .arg("-p")
        .arg(&pidfile)
        .arg(&config)
        .stderr(Stdio::null());
    let mut daemon = Daemon::adopt(command.spawn().unwrap());
    daemon.wait_for_pidfile(&pidfile);
    terminate(&mut daemon);
    assert!(!pidfile.exists());
}

#[test]
fn a_replaced_pid_file_is_not_removed() {
    let port = free_port("127.0.0.1");
    let mut d = Daemon::start(
        "pidfile-replaced",
        &format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n"),
    );
    fs::remove_file(&d.pidfile).unwrap();
    fs::write(&d.pidfile, "someone else's\n").unwrap();
    d.signal(libc::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    assert_eq!(fs::read_to_string(&d.pidfile).unwrap(), "someone else's\n");
}

// ---- item 12: files that are not regular files ----

#[test]
fn a_fifo_or_device_as_config_is_an_error() {
    let dir = Dir::new("config-fifo");
    let fifo = dir.join("inetd.conf");
    mkfifo(&fifo);
    for config in [fifo.as_path(), Path::new("/dev/zero")] {
        let mut command = inetd();
        command.arg("-t").arg(config);
        let (status, err) = run_bounded(command, "inetd -t");
        assert_eq!(status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "{}: cannot read configuration: not a regular file",
                config.display()
            )),
            "{err}"
        );
    }
}

#[test]
fn a_fifo_as_config_at_reload_keeps_the_old_one_serving() {
    let port = free_port("127.0.0.1");
    let mut d = Daemon::start(
        "config-fifo-reload",
        &format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n"),
    );
    let fifo = d.config.with_extension("fifo");
    mkfifo(&fifo);
    fs::rename(&fifo, &d.config).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_for_log("not a regular file (a FIFO): configuration not reloaded");
    assert!(daytime_answers(port));
    let started = Instant::now();
    d.signal(libc::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    assert!(started.elapsed() < TIMEOUT);
}

#[test]
fn a_fifo_as_rule_file_does_not_stop_the_daemon() {
    let dir = Dir::new("rules-fifo");
    let port = free_port("127.0.0.1");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n"),
    );
    let allow = dir.join("hosts.allow");
    mkfifo(&allow);
    let mut daemon = Daemon::adopt(
        daemon_command(&dir, &allow, &dir.join("hosts.deny"), &config)
            .spawn()
            .unwrap(),
    );
    daemon.wait_for_pidfile(&dir.join("inetd.pid"));
    // A fault in hosts.allow is no match there, and there is no hosts.deny.
    assert!(daytime_answers(port));
    terminate(&mut daemon);
}

#[test]
fn a_fifo_replacing_a_rule_file_or_as_host_list_keeps_it_serving() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start(
        "rules-fifo-later",
        &format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n"),
    );
    let dir = d.config.parent().unwrap().to_path_buf();
    assert!(daytime_answers(port));
    // hosts.deny becomes a FIFO: a fault there denies.
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    fs::rename(&fifo, dir.join("hosts.deny")).unwrap();
    wait_until("the FIFO to be read as a fault", || !daytime_answers(port));
    fs::write(dir.join("hosts.deny.new"), "").unwrap();
    fs::rename(dir.join("hosts.deny.new"), dir.join("hosts.deny")).unwrap();
    wait_until("a regular hosts.deny again", || daytime_answers(port));
    // A host list that is a FIFO: no match there, so the deny rule applies.
    let list = dir.join("list");
    mkfifo(&list);
    d.write_rules("hosts.allow", &format!("daytime: {}\n", list.display()));
    d.write_rules("hosts.deny", "daytime: ALL\n");
    wait_until("the host list to be read as a fault", || {
        !daytime_answers(port)
    });
    let mut d = d;
    let started = Instant::now();
    d.signal(libc::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    assert!(started.elapsed() < TIMEOUT);
}

/// A banner file that is a FIFO, read by the access check's child: it
/// is skipped at once, as a missing banner is, instead of waiting for a
/// writer.
#[test]
fn a_fifo_as_banner_file_is_skipped() {
    let port = free_port("127.0.0.1");
    let d = Daemon::start(
        "banner-fifo",
        &format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n"),
    );
    let banners = d.config.parent().unwrap().join("banners");
    fs::create_dir(&banners).unwrap();
    mkfifo(&banners.join("daytime"));
    d.write_rules(
        "hosts.allow",
        &format!("daytime: ALL: banners {}\n", banners.display()),
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    let closed = stream.read_to_end(&mut reply).is_ok();
    assert!(closed && reply.len() == 26, "not served at once: {reply:?}");
}

#[test]
fn dev_zero_as_rule_file_is_an_error() {
    let dir = Dir::new("rules-zero");
    let port = free_port("127.0.0.1");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait root internal daytime\n"),
    );
    let mut command = daemon_command(
        &dir,
        &dir.join("hosts.allow"),
        Path::new("/dev/zero"),
        &config,
    );
    limit_memory(&mut command);
    let mut daemon = Daemon::adopt(command.spawn().unwrap());
    daemon.wait_for_pidfile(&dir.join("inetd.pid"));
    // A fault in hosts.deny denies.
    assert!(!daytime_answers(port));
    // Without reading /dev/zero until the memory limit.
    let status = fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    assert!(peak_kib < 256 * 1024, "VmPeak {peak_kib} kB");
    terminate(&mut daemon);
}

// ---- item 13: UDP port sharing ----

#[test]
fn a_udp_port_cannot_be_shared_with_the_daemon() {
    use nix::sys::socket::{self, setsockopt, sockopt, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;
    let port = free_port("127.0.0.1");
    let _d = Daemon::start(
        "udp-reuse",
        &format!(
            "127.0.0.1:{port} dgram udp wait root internal daytime\n\
             127.0.0.1:{port} stream tcp nowait root internal daytime\n"
        ),
    );
    let thief = socket::socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    setsockopt(&thief, sockopt::ReuseAddr, &true).unwrap();
    let addr: std::net::SocketAddrV4 = format!("127.0.0.1:{port}").parse().unwrap();
    let bound = socket::bind(thief.as_raw_fd(), &socket::SockaddrIn::from(addr));
    assert_eq!(bound, Err(nix::errno::Errno::EADDRINUSE));
    // TCP keeps SO_REUSEADDR: a restart binds at once despite TIME_WAIT.
    assert!(daytime_answers(port));
}

// ---- item 21: the spawn child's stack and credentials ----

/// The child stack: an anonymous read-write mapping of at least 64 KiB (the
/// kernel may merge it with a neighbour) with an inaccessible page right
/// below it. Before, the stack was 64 KiB of the heap, with no guard.
#[test]
fn the_spawn_stack_has_a_guard_page() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "spawn-stack",
        &format!("127.0.0.1:{port} stream tcp nowait {user} /bin/echo echo hi\n"),
    );
    assert_eq!(read_all(connect(&format!("127.0.0.1:{port}"))), b"hi\n");
    let maps = fs::read_to_string(format!("/proc/{}/maps", d.pid())).unwrap();
    // start, end, permissions, whether anonymous.
    let regions: Vec<(u64, u64, &str, bool)> = maps
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (start, end) = fields.first()?.split_once('-')?;
            Some((
                u64::from_str_radix(start, 16).ok()?,
                u64::from_str_radix(end, 16).ok()?,
                *fields.get(1)?,
                fields.len() == 5,
            ))
        })
        .collect();
    let guarded = regions.windows(2).any(|pair| {
        let (guard, stack) = (pair[0], pair[1]);
        guard.3
            && stack.3
            && guard.2 == "---p"
            && stack.2 == "rw-p"
            && guard.1 == stack.0
            && guard.1 - guard.0 == 4096
            && stack.1 - stack.0 >= 64 * 1024
    });
    assert!(guarded, "no guarded 64 KiB stack in\n{maps}");
}

/// The child switches credentials with the raw setgroups/setresgid/
/// setresuid system calls, not glibc's setuid family (which would signal
/// every thread of the daemon's process, sharing its memory).
#[test]
fn children_switch_credentials_with_raw_system_calls() {
    if !is_root() || !require("strace") {
        eprintln!("skipping: switching users needs root");
        return;
    }
    let dir = Dir::new("spawn-creds");
    let port = free_port("127.0.0.1");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait nobody /bin/echo echo hi\n"),
    );
    let trace = dir.join("trace");
    let pidfile = dir.join("inetd.pid");
    let mut command = Command::new("strace");
    command
        .args(["-D", "-f", "-qq", "-e", "trace=%creds", "-o"])
        .arg(&trace)
        .arg(inetd_bin())
        .arg("-d")
        .arg("-p")
        .arg(&pidfile)
        .arg("--allow")
        .arg(dir.join("hosts.allow"))
        .arg("--deny")
        .arg(dir.join("hosts.deny"))
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut daemon = Daemon::adopt(command.spawn().unwrap());
    daemon.wait_for_pidfile(&pidfile);
    assert_eq!(read_all(connect(&format!("127.0.0.1:{port}"))), b"hi\n");
    terminate(&mut daemon);
    let trace = fs::read_to_string(&trace).unwrap();
    for call in [
        "setgroups(1, [65534])",
        "setresgid(65534, 65534, 65534)",
        "setresuid(65534, 65534, 65534)",
    ] {
        let done = trace
            .lines()
            .any(|line| line.contains(call) && line.ends_with("= 0"));
        assert!(done, "no {call} in\n{trace}");
    }
    assert!(!trace.contains("setuid("), "{trace}");
    assert!(!trace.contains("setgid("), "{trace}");
}
