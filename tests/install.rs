//! Installing and supervising inetd: `make install`, the man pages, the
//! static build's gated features, and every init system that can run here
//! (sd_notify against a socket the test opens, the LSB init script, runit, s6,
//! OpenRC).

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("run command");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// Every file under `root`, relative to it, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn make_install_and_uninstall_with_destdir() {
    if !require("make") {
        return;
    }
    let dir = Dir::new("make-install");
    let dest = dir.join("root");
    let bin = format!("BIN={}", inetd_bin().display());
    let destdir = format!("DESTDIR={}", dest.display());
    run(Command::new("make").arg("-C").arg(repo()).args([
        "install",
        "PREFIX=/usr",
        &destdir,
        &bin,
    ]));
    assert_eq!(
        tree(&dest),
        [
            "usr/sbin/inetd",
            "usr/share/doc/inetd/LICENSE",
            "usr/share/doc/inetd/README.md",
            "usr/share/doc/inetd/inetd.conf.sample",
            "usr/share/man/man5/inetd.conf.5",
            "usr/share/man/man8/inetd.8",
        ]
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| fs::metadata(dest.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("usr/sbin/inetd"), 0o755);
    assert_eq!(mode("usr/share/man/man8/inetd.8"), 0o644);
    let installed = dest.join("usr/sbin/inetd");
    let version = run(Command::new(&installed).arg("-V"));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("inetd "));
    run(Command::new("make")
        .arg("-C")
        .arg(repo())
        .args(["uninstall", "PREFIX=/usr", &destdir]));
    assert_eq!(tree(&dest), Vec::<String>::new());
}

#[test]
fn man_pages_are_lint_clean() {
    if !require("mandoc") {
        return;
    }
    for page in ["man/inetd.8", "man/inetd.conf.5"] {
        let output = Command::new("mandoc")
            .args(["-Tlint", "-Wwarning"])
            .arg(repo().join(page))
            .output()
            .expect("run mandoc");
        assert!(
            output.status.success() && output.stdout.is_empty(),
            "{page}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The options `cli::parse` accepts, read from its source: the `'x' =>`
/// arms of the short flags and the `"name" =>` arms of the long options.
fn accepted_options() -> Vec<String> {
    let source = fs::read_to_string(repo().join("src/cli.rs")).expect("read src/cli.rs");
    let parse = source
        .split("pub fn parse<")
        .nth(1)
        .and_then(|rest| rest.split("\nfn ").next())
        .expect("cli::parse in src/cli.rs");
    let mut options = Vec::new();
    for line in parse.lines().map(str::trim) {
        let Some((arm, _)) = line.split_once(" =>") else {
            continue;
        };
        for pattern in arm.split(" | ") {
            if let Some(name) = pattern.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                if !name.is_empty() {
                    options.push(format!("--{name}"));
                }
            } else if let Some(flag) = pattern
                .strip_prefix('\'')
                .and_then(|p| p.strip_suffix('\''))
            {
                options.push(format!("-{flag}"));
            }
        }
    }
    options.sort();
    options.dedup();
    options
}

#[test]
fn every_option_is_in_the_man_page_and_the_help() {
    let options = accepted_options();
    for known in ["-d", "-N", "-R", "--max-children", "--match", "--help"] {
        assert!(
            options.iter().any(|o| o == known),
            "{known} not found in {options:?}"
        );
    }
    let page = fs::read_to_string(repo().join("man/inetd.8")).expect("read man/inetd.8");
    // mdoc writes -x as `Fl x` and --name as `Fl Fl name`.
    let in_page = |option: &str| {
        let mdoc = match option.strip_prefix("--") {
            Some(long) => format!("Fl Fl {long}"),
            None => format!("Fl {}", &option[1..]),
        };
        page.lines().any(|line| {
            line.split(" Ns ")
                .any(|part| part.contains(&format!("{mdoc} ")) || part.ends_with(&mdoc))
        })
    };
    let help = inetd().arg("-h").output().expect("run inetd -h");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let in_help = |option: &str| {
        help.split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '|' | '='))
            .any(|word| word == option)
    };
    let missing: Vec<String> = options
        .iter()
        .filter_map(|o| match (in_page(o), in_help(o)) {
            (true, true) => None,
            (page, help) => Some(format!("{o} (inetd.8: {page}, -h: {help})")),
        })
        .collect();
    assert!(
        missing.is_empty(),
        "options not documented: {missing:?}\n{help}"
    );
}

/// Whether the binary under test is linked with glibc (its symbol versions).
fn is_glibc_build() -> bool {
    let bin = fs::read(inetd_bin()).expect("read the inetd binary");
    bin.windows(6).any(|w| w == b"GLIBC_")
}

/// On musl (no innetgr) an `@group` never matches, and --check-hosts says
/// so; with glibc it is a valid pattern.
#[test]
fn netgroups_where_unsupported_are_reported_by_check_hosts() {
    let dir = Dir::new("netgroups");
    let allow = dir.create("hosts.allow", "in.fingerd: @trusted\n");
    let deny = dir.create("hosts.deny", "");
    let conf = dir.create("inetd.conf", "");
    let output = inetd()
        .arg("--check-hosts")
        .arg("--allow")
        .arg(&allow)
        .arg("--deny")
        .arg(&deny)
        .arg(&conf)
        .output()
        .expect("run inetd --check-hosts");
    let out = String::from_utf8_lossy(&output.stdout);
    if is_glibc_build() {
        assert!(!out.contains("@trusted"), "{out}");
    } else {
        let expected = format!(
            "{}:1: @trusted: netgroups are not supported by this build",
            allow.display()
        );
        assert!(out.contains(&expected), "{out}");
        assert_eq!(output.status.code(), Some(1));
    }
}

#[test]
fn netgroups_where_unsupported_are_logged_when_the_rules_load() {
    let port = free_port("127.0.0.1");
    let daemon = Daemon::start("netgroups-load", &echo_line(port));
    daemon.write_rules("hosts.allow", "echo: @trusted\n");
    // The rules are read again when a connection needs them; the client
    // is in no netgroup, so it is served either way.
    let mut stream = connect(&format!("127.0.0.1:{port}"));
    use std::io::{Read, Write};
    stream.write_all(b"x").unwrap();
    let mut reply = [0u8; 1];
    stream.read_exact(&mut reply).unwrap();
    let warning = "@trusted: netgroups are not supported by this build";
    if is_glibc_build() {
        assert!(!daemon.log_text().contains(warning));
    } else {
        daemon.wait_for_log(warning);
    }
}

// ---- sd_notify ------------------------------------------------------------

/// A notify socket the test listens on, as systemd's.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn new(dir: &Dir) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        NotifySocket { socket, path }
    }

    /// The next message, within [`TIMEOUT`].
    fn next(&self) -> String {
        self.next_within(TIMEOUT)
            .unwrap_or_else(|| panic!("no notify message within {TIMEOUT:?}"))
    }

    fn next_within(&self, wait: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

fn spawn_notified(dir: &Dir, notify: &NotifySocket, conf: &Path, args: &[&str]) -> Daemon {
    let child = inetd()
        .args(args)
        .arg("--allow")
        .arg(dir.join("hosts.allow"))
        .arg("--deny")
        .arg(dir.join("hosts.deny"))
        .arg(conf)
        .env("NOTIFY_SOCKET", &notify.path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .expect("start inetd");
    Daemon::adopt(child)
}

#[test]
fn sd_notify_ready_reloading_stopping_in_order() {
    let dir = Dir::new("notify");
    let notify = NotifySocket::new(&dir);
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let conf = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{a} stream tcp nowait root internal echo\n"),
    );
    let daemon = spawn_notified(&dir, &notify, &conf, &["-d"]);
    assert_eq!(notify.next(), "READY=1");
    // READY=1 comes after the listeners are bound.
    connect(&format!("127.0.0.1:{a}"));
    let with_b = format!(
        "127.0.0.1:{a} stream tcp nowait root internal echo\n\
         127.0.0.1:{b} stream tcp nowait root internal echo\n"
    );
    fs::write(&conf, with_b).unwrap();
    daemon.signal(libc::SIGHUP);
    let reloading = notify.next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    assert_eq!(notify.next(), "READY=1");
    connect(&format!("127.0.0.1:{b}"));
    daemon.signal(libc::SIGTERM);
    assert_eq!(notify.next(), "STOPPING=1");
}

#[test]
fn sd_notify_watchdog_at_half_the_interval() {
    let dir = Dir::new("watchdog");
    let notify = NotifySocket::new(&dir);
    let port = free_port("127.0.0.1");
    let conf = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait root internal echo\n"),
    );
    let child = inetd()
        .args(["-d", "--allow"])
        .arg(dir.join("hosts.allow"))
        .arg("--deny")
        .arg(dir.join("hosts.deny"))
        .arg(&conf)
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start inetd");
    let _daemon = Daemon::adopt(child);
    assert_eq!(notify.next(), "READY=1");
    let mut pings = Vec::new();
    while pings.len() < 3 {
        assert_eq!(notify.next(), "WATCHDOG=1");
        pings.push(Instant::now());
    }
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        // Half of 400 ms, give or take a loaded machine's scheduling.
        assert!(
            gap >= Duration::from_millis(150) && gap < Duration::from_millis(400),
            "{gap:?}"
        );
    }
}

// NOTIFY_SOCKET and WATCHDOG_* are removed from the
// environment at startup (Notifier::from_env), so no service sees them.
#[test]
fn sd_notify_variables_do_not_reach_services() {
    let dir = Dir::new("notify-env");
    let notify = NotifySocket::new(&dir);
    let port = free_port("127.0.0.1");
    let conf = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait root /usr/bin/env env\n"),
    );
    let _daemon = spawn_notified(&dir, &notify, &conf, &["-d", "-E"]);
    assert_eq!(notify.next(), "READY=1");
    let env = String::from_utf8(read_all(connect(&format!("127.0.0.1:{port}")))).unwrap();
    assert!(env.contains("PATH="), "{env}");
    assert!(!env.contains("NOTIFY_SOCKET"), "{env}");
}

/// Kills the daemon whose pid is in `pidfile` on drop (a detached inetd is
/// no child of the test).
struct PidfileGuard(PathBuf);

impl PidfileGuard {
    fn pid(&self) -> Option<i32> {
        fs::read_to_string(&self.0).ok()?.trim().parse().ok()
    }
}

impl Drop for PidfileGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on the inetd this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

#[test]
fn sd_notify_mainpid_when_detached() {
    let dir = Dir::new("notify-detached");
    let notify = NotifySocket::new(&dir);
    let port = free_port("127.0.0.1");
    let conf = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait root internal echo\n"),
    );
    let pidfile = dir.join("inetd.pid");
    let guard = PidfileGuard(pidfile.clone());
    let mut parent = spawn_notified(&dir, &notify, &conf, &["-p", pidfile.to_str().unwrap()]);
    let _ = parent.child.wait();
    let mainpid = notify.next();
    assert_eq!(notify.next(), "READY=1");
    wait_until("the pid file", || guard.pid().is_some());
    assert_eq!(mainpid, format!("MAINPID={}", guard.pid().unwrap()));
}

#[test]
fn readiness_fd_gets_a_newline_once_bound() {
    if !require("sh") {
        return;
    }
    let dir = Dir::new("readiness-fd");
    let port = free_port("127.0.0.1");
    let conf = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait root internal echo\n"),
    );
    // fd 3 is the pipe to the test; inetd's stdout goes nowhere.
    let child = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" -f -e -N 3 --allow \"$1\" --deny \"$2\" \"$3\" 3>&1 1>/dev/null")
        .arg(inetd_bin())
        .arg(dir.join("hosts.allow"))
        .arg(dir.join("hosts.deny"))
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start inetd");
    let mut daemon = Daemon::adopt(child);
    let stdout = daemon.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = reader.read_line(&mut line).map(|_| line.clone());
        let mut rest = String::new();
        let eof = reader.read_line(&mut rest).map(|n| n == 0);
        let _ = tx.send((first, eof));
    });
    let (first, eof) = rx
        .recv_timeout(TIMEOUT)
        .expect("readiness within the timeout");
    assert_eq!(first.unwrap(), "\n");
    assert!(eof.unwrap(), "fd 3 is closed after the newline");
    connect(&format!("127.0.0.1:{port}"));
}

// ---- init systems -------------------------------------------------------

fn echo_line(port: u16) -> String {
    format!("127.0.0.1:{port} stream tcp nowait root internal echo\n")
}

fn serves(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A copy of a contrib/ service directory, with a `conf` pointing the run
/// script at the binary and configuration under test.
fn service_dir(dir: &Dir, contrib: &str, conf: &Path) -> PathBuf {
    let dest = dir.join("svc");
    run(Command::new("cp")
        .arg("-R")
        .arg(repo().join(contrib))
        .arg(&dest));
    let allow = dir.join("hosts.allow");
    let deny = dir.join("hosts.deny");
    fs::write(
        dest.join("conf"),
        format!(
            "INETD='{}'\nINETD_CONF='{}'\nINETD_OPTS='--allow {} --deny {}'\n",
            inetd_bin().display(),
            conf.display(),
            allow.display(),
            deny.display()
        ),
    )
    .unwrap();
    dest
}

#[test]
fn runit_starts_reloads_and_stops_inetd() {
    if !is_root() {
        eprintln!("skipping: runit's supervisor runs services as root here");
        return;
    }
    if !require("runsv") || !require("sv") || !require("svlogd") {
        return;
    }
    let dir = Dir::new("runit");
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let conf = dir.create("inetd.conf", &echo_line(a));
    let svc = service_dir(&dir, "contrib/runit/inetd", &conf);
    let logdir = dir.join("log");
    fs::write(
        svc.join("log/conf"),
        format!("LOGDIR='{}'\n", logdir.display()),
    )
    .unwrap();
    let runsv = Daemon::adopt(
        Command::new("runsv")
            .arg(&svc)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start runsv"),
    );
    let log = || fs::read_to_string(logdir.join("current")).unwrap_or_default();
    wait_until("inetd under runsv to serve", || serves(a));
    wait_until("svlogd to log inetd's ready line", || {
        log().contains("ready: 1 services")
    });
    fs::write(&conf, format!("{}{}", echo_line(a), echo_line(b))).unwrap();
    run(Command::new("sv").arg("hup").arg(&svc));
    wait_until("the reload through sv hup", || serves(b));
    // sv -w waits for the service to be down.
    run(Command::new("sv").args(["-w", "10", "down"]).arg(&svc));
    assert!(!serves(a) && !serves(b));
    let status = run(Command::new("sv").arg("status").arg(&svc));
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.starts_with("down:"), "{status}");
    run(Command::new("sv").arg("exit").arg(&svc));
    drop(runsv);
}

fn s6_service(dir: &Dir, conf: &Path) -> (PathBuf, Daemon) {
    let svc = service_dir(dir, "contrib/s6/inetd", conf);
    let supervise = Daemon::adopt(
        Command::new("s6-supervise")
            .arg(&svc)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("s6.log")).unwrap())
            .spawn()
            .expect("start s6-supervise"),
    );
    // s6-svwait reads the state s6-supervise writes once it runs.
    wait_until("s6-supervise to write its state", || {
        svc.join("supervise/status").exists()
    });
    (svc, supervise)
}

#[test]
fn s6_starts_reloads_and_stops_inetd() {
    if !is_root() {
        eprintln!("skipping: s6's supervisor runs services as root here");
        return;
    }
    if !require("s6-supervise") || !require("s6-svc") || !require("s6-svwait") {
        return;
    }
    let dir = Dir::new("s6");
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let conf = dir.create("inetd.conf", &echo_line(a));
    let (svc, supervise) = s6_service(&dir, &conf);
    wait_until("inetd under s6-supervise to serve", || serves(a));
    fs::write(&conf, format!("{}{}", echo_line(a), echo_line(b))).unwrap();
    run(Command::new("s6-svc").arg("-h").arg(&svc));
    wait_until("the reload through s6-svc -h", || serves(b));
    run(Command::new("s6-svc").arg("-d").arg(&svc));
    run(Command::new("s6-svwait")
        .args(["-D", "-t", "10000"])
        .arg(&svc));
    assert!(!serves(a) && !serves(b));
    run(Command::new("s6-svc").arg("-x").arg(&svc));
    drop(supervise);
}

#[test]
fn s6_readiness_comes_after_the_sockets_are_bound() {
    if !is_root() {
        eprintln!("skipping: s6's supervisor runs services as root here");
        return;
    }
    if !require("s6-supervise") || !require("s6-svwait") {
        return;
    }
    let dir = Dir::new("s6-ready");
    let port = free_port("127.0.0.1");
    let conf = dir.create("inetd.conf", &echo_line(port));
    let (svc, supervise) = s6_service(&dir, &conf);
    run(Command::new("s6-svwait")
        .args(["-U", "-t", "10000"])
        .arg(&svc));
    assert!(serves(port));
    run(Command::new("s6-svc").arg("-xd").arg(&svc));
    drop(supervise);
}

/// Runs contrib/debian/inetd.init ACTION in a mount namespace whose
/// /etc/default holds only the test's `inetd` file, so the script finds
/// the test's binary, configuration and pid file, and the host's own
/// /etc/default, /etc/init.d and system inetd are never touched.
fn init_script(dir: &Dir, action: &str) -> Output {
    Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs tmpfs /etc/default && cp \"$0\" /etc/default/inetd && exec sh \"$1\" \"$2\"",
        ])
        .arg(dir.join("defaults"))
        .arg(dir.join("inetd"))
        .arg(action)
        .stdin(Stdio::null())
        .output()
        .expect("run the init script")
}

#[test]
fn lsb_init_script_start_reload_restart_stop_status() {
    if !is_root() {
        eprintln!("skipping: the init script test needs a mount namespace (root)");
        return;
    }
    for tool in ["unshare", "mount", "start-stop-daemon"] {
        if !require(tool) {
            return;
        }
    }
    if !Path::new("/lib/lsb/init-functions").exists() {
        eprintln!("skipping: no /lib/lsb/init-functions");
        return;
    }
    let dir = Dir::new("lsb-init");
    // Named inetd, as update-inetd and the LSB functions expect.
    fs::copy(repo().join("contrib/debian/inetd.init"), dir.join("inetd")).unwrap();
    let conf = dir.create(
        "inetd.conf",
        "# nothing enabled yet\n#echo stream tcp nowait root internal\n",
    );
    let pidfile = dir.join("inetd.pid");
    let guard = PidfileGuard(pidfile.clone());
    dir.create(
        "defaults",
        &format!(
            "DAEMON='{}'\nPIDFILE='{}'\nINETD_CONF='{}'\nINETD_OPTS='-l --allow {} --deny {}'\n",
            inetd_bin().display(),
            pidfile.display(),
            conf.display(),
            dir.join("hosts.allow").display(),
            dir.join("hosts.deny").display()
        ),
    );
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let start = init_script(&dir, "start");
    assert!(start.status.success(), "{}", text(&start));
    assert!(
        text(&start).contains("no services enabled"),
        "{}",
        text(&start)
    );
    assert!(!pidfile.exists());

    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    fs::write(&conf, echo_line(a)).unwrap();
    let start = init_script(&dir, "start");
    assert!(start.status.success(), "{}", text(&start));
    wait_until("the started inetd to serve", || {
        guard.pid().is_some() && serves(a)
    });
    let first = guard.pid().unwrap();
    let status = init_script(&dir, "status");
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    // A second start leaves the running one alone.
    assert!(init_script(&dir, "start").status.success());
    assert_eq!(guard.pid(), Some(first));

    fs::write(&conf, format!("{}{}", echo_line(a), echo_line(b))).unwrap();
    assert!(init_script(&dir, "reload").status.success());
    wait_until("the reload", || serves(b));
    fs::write(&conf, echo_line(a)).unwrap();
    assert!(init_script(&dir, "force-reload").status.success());
    wait_until("the force-reload", || !serves(b));
    assert_eq!(guard.pid(), Some(first), "a reload keeps the daemon");

    let restart = init_script(&dir, "restart");
    assert!(restart.status.success(), "{}", text(&restart));
    wait_until("the restarted inetd", || {
        guard.pid().is_some_and(|pid| pid != first) && serves(a)
    });

    let stop = init_script(&dir, "stop");
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(!serves(a));
    assert!(!pidfile.exists(), "inetd removes its pid file at exit");
    let status = init_script(&dir, "status");
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));
    // force-reload of a stopped daemon starts it (update-inetd relies on it).
    assert!(init_script(&dir, "force-reload").status.success());
    wait_until("force-reload to start inetd", || {
        guard.pid().is_some() && serves(a)
    });
    assert!(init_script(&dir, "stop").status.success());
}

/// Kills a daemon by pid on drop.
struct PidGuard(i32);

impl Drop for PidGuard {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the inetd this test started.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

/// Debian's update-inetd edits the file, then sends SIGHUP to the pid in
/// /run/inetd.pid (which the init script's start wrote): the new service
/// serves. Run in a mount namespace with /run and /etc/default of its own.
#[test]
fn update_inetd_reloads_the_daemon_the_init_script_started() {
    if !is_root() {
        eprintln!("skipping: the update-inetd test needs a mount namespace (root)");
        return;
    }
    for tool in ["unshare", "mount", "start-stop-daemon", "update-inetd"] {
        if !require(tool) {
            return;
        }
    }
    let dir = Dir::new("update-inetd");
    fs::copy(repo().join("contrib/debian/inetd.init"), dir.join("inetd")).unwrap();
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let conf = dir.create("inetd.conf", &echo_line(a));
    dir.create(
        "defaults",
        &format!(
            "DAEMON='{}'\nPIDFILE=/run/inetd.pid\nINETD_CONF='{}'\nINETD_OPTS='--allow {} --deny {}'\n",
            inetd_bin().display(),
            conf.display(),
            dir.join("hosts.allow").display(),
            dir.join("hosts.deny").display()
        ),
    );
    let script = "set -e
        mount -t tmpfs tmpfs /etc/default
        mount -t tmpfs tmpfs /run
        cp \"$0\" /etc/default/inetd
        sh \"$1\" start >&2
        i=0
        while [ ! -s /run/inetd.pid ]; do
            i=$((i + 1)); [ $i -lt 1000 ] || exit 1; sleep 0.01
        done
        cat /run/inetd.pid
        update-inetd --file \"$2\" --add \"$3\" >&2";
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .arg(dir.join("defaults"))
        .arg(dir.join("inetd"))
        .arg(&conf)
        .arg(echo_line(b).trim_end())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .expect("run the init script and update-inetd");
    let pid: Option<i32> = String::from_utf8_lossy(&output.stdout).trim().parse().ok();
    let _guard = pid.map(PidGuard);
    assert!(
        output.status.success() && pid.is_some(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(fs::read_to_string(&conf)
        .unwrap()
        .contains(&format!(":{b} ")));
    wait_until("the service update-inetd added", || serves(b));
    assert!(serves(a));
}

/// Runs contrib/openrc/inetd.initd ACTION through its own `#!/sbin/openrc-run`
/// line, in a mount namespace whose /run is the test's `run` directory:
/// OpenRC's state (/run/openrc) and the pid file persist from one action
/// to the next there, and the machine's own /run/openrc is never touched.
/// `-D` (--nodeps): no booted OpenRC provides `net` here.
fn openrc_service(dir: &Dir, action: &str) -> Output {
    Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --bind \"$0\" /run && exec \"$1\" -D \"$2\"",
        ])
        .arg(dir.join("run"))
        .arg(dir.join("init.d/inetd"))
        .arg(action)
        .stdin(Stdio::null())
        .output()
        .expect("run the OpenRC service")
}

#[test]
fn openrc_starts_reloads_and_stops_inetd() {
    if !is_root() {
        eprintln!("skipping: the OpenRC test needs a mount namespace (root)");
        return;
    }
    for tool in ["unshare", "mount", "openrc-run"] {
        if !require(tool) {
            return;
        }
    }
    let dir = Dir::new("openrc");
    // OpenRC's layout: the script in init.d/, its options in ../conf.d/.
    for sub in ["init.d", "conf.d"] {
        fs::create_dir(dir.join(sub)).unwrap();
    }
    let script = fs::read_to_string(repo().join("contrib/openrc/inetd.initd")).unwrap();
    let script = script.replace("/usr/sbin/inetd", &inetd_bin().display().to_string());
    let service = dir.create("init.d/inetd", &script);
    run(Command::new("chmod").arg("755").arg(&service));
    let (a, b) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let conf = dir.create("inetd.conf", &echo_line(a));
    dir.create(
        "conf.d/inetd",
        &format!(
            "INETD_CONF='{}'\nINETD_OPTS='--allow {} --deny {}'\n",
            conf.display(),
            dir.join("hosts.allow").display(),
            dir.join("hosts.deny").display()
        ),
    );
    // The state directory `openrc` creates at boot; softlevel says it did.
    let state = dir.join("run/openrc");
    for sub in [
        "daemons",
        "exclusive",
        "failed",
        "hotplugged",
        "inactive",
        "options",
        "scheduled",
        "started",
        "starting",
        "stopping",
        "tmp",
        "wasinactive",
    ] {
        fs::create_dir_all(state.join(sub)).unwrap();
    }
    fs::write(state.join("softlevel"), "").unwrap();
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let pidfile = dir.join("run/inetd.pid");
    let pid = || -> Option<i32> { fs::read_to_string(&pidfile).ok()?.trim().parse().ok() };

    let start = openrc_service(&dir, "start");
    let _guard = pid().map(PidGuard);
    assert!(start.status.success(), "{}", text(&start));
    wait_until("inetd started by OpenRC to serve", || serves(a));
    let first = pid().expect("OpenRC wrote the pid file");
    let status = openrc_service(&dir, "status");
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));

    fs::write(&conf, format!("{}{}", echo_line(a), echo_line(b))).unwrap();
    let reload = openrc_service(&dir, "reload");
    assert!(reload.status.success(), "{}", text(&reload));
    wait_until("the reload through OpenRC", || serves(b));
    assert_eq!(pid(), Some(first), "a reload keeps the daemon");
    // reload checks the file first and leaves the daemon alone when it is wrong.
    fs::write(&conf, "echo stream tcp nowait\n").unwrap();
    let reload = openrc_service(&dir, "reload");
    assert!(!reload.status.success(), "{}", text(&reload));
    assert!(serves(a) && serves(b));

    let stop = openrc_service(&dir, "stop");
    assert!(stop.status.success(), "{}", text(&stop));
    wait_until("inetd stopped by OpenRC", || !serves(a) && !serves(b));
    let status = openrc_service(&dir, "status");
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));
}

/// The shell scripts under contrib/, the one no test can run here (procd)
/// included. SC2034 (a variable set but not used) is how
/// OpenRC and procd scripts are configured.
#[test]
fn contrib_scripts_pass_shellcheck() {
    if !require("shellcheck") {
        return;
    }
    let scripts = [
        "contrib/build-static.sh",
        "contrib/debian/inetd.init",
        "contrib/openrc/inetd.initd",
        "contrib/openwrt/files/inetd.init",
        "contrib/runit/inetd/run",
        "contrib/runit/inetd/log/run",
        "contrib/s6/inetd/run",
    ];
    run(Command::new("shellcheck")
        .args(["-s", "sh", "-S", "warning", "-e", "SC2034"])
        .current_dir(repo())
        .args(scripts));
}

/// systemd's own check of the unit, with ExecStart pointing at the binary
/// under test (verify wants the program to exist).
#[test]
fn systemd_unit_verifies() {
    if !require("systemd-analyze") {
        return;
    }
    let dir = Dir::new("systemd-unit");
    let unit = fs::read_to_string(repo().join("contrib/systemd/inetd.service")).unwrap();
    assert!(
        unit.contains("Type=notify\n") && unit.contains("ExecReload=/bin/kill -HUP $MAINPID\n")
    );
    let unit = unit.replace("/usr/sbin/inetd", &inetd_bin().display().to_string());
    let path = dir.create("inetd.service", &unit);
    let output = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path));
    let complaints = String::from_utf8_lossy(&output.stderr);
    assert!(complaints.trim().is_empty(), "{complaints}");
}
