//! What inetd says, and where: startup errors name the file and the action,
//! unsupported features are warnings that a reload judges as startup does,
//! and a detached daemon keeps stderr only when asked to (`-e`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{
    connect, current_user, free_port, inetd, inetd_bin, read_all, wait_until, Daemon, Dir,
};

fn stderr_of(command: &mut Command) -> (Option<i32>, String) {
    let out = command.output().expect("run inetd");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_pid_file_directory_is_named() {
    let dir = Dir::new("msg-pidfile");
    let config = dir.create("inetd.conf", "");
    let (code, err) = stderr_of(
        inetd()
            .arg("-f")
            .arg("-p")
            .arg("/nonexistent/x.pid")
            .arg(&config),
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err,
        "inetd: /nonexistent/x.pid: cannot open pid file: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_locked_pid_file_is_named() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "msg-locked",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    let (code, err) = stderr_of(inetd().arg("-f").arg("-p").arg(&d.pidfile).arg(&d.config));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err,
        format!(
            "inetd: {}: cannot lock pid file: another inetd is running (pid {})\n",
            d.pidfile.display(),
            d.pid()
        )
    );
}

#[test]
fn an_unreadable_configuration_is_named() {
    let dir = Dir::new("msg-noconf");
    let missing = dir.join("inetd.conf");
    let expected = format!(
        "inetd: {}: cannot read configuration: No such file or directory (os error 2)\n",
        missing.display()
    );
    let (code, err) = stderr_of(inetd().arg("-f").arg(&missing));
    assert_eq!((code, err), (Some(1), expected.clone()));
    let (code, err) = stderr_of(inetd().arg("-t").arg(&missing));
    assert_eq!((code, err), (Some(1), expected));
}

/// Item 16: startup warns of a line of a feature not served here (an IPsec
/// policy, ignored); a reload must judge the same file the same way and
/// apply the changed good line. (RPC lines, once such lines, are served:
/// see `rpc.rs`, which runs them where no system rpcbind is reached.)
#[test]
fn unsupported_lines_do_not_block_a_reload() {
    let [before, after] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let config = |port: u16| {
        format!("#@ ipsec in esp/transport//require\n127.0.0.1:{port} stream tcp nowait {user} internal time\n")
    };
    let d = Daemon::start("msg-rpc-reload", &config(before));
    d.reload(&config(after));
    let log = d.log_text();
    assert!(!log.contains("not reloaded"), "{log}");
    assert_eq!(
        log.matches("not supported: IPsec policies").count(),
        2,
        "{log}"
    );
    assert_eq!(read_all(connect(&format!("127.0.0.1:{after}"))).len(), 4);
}

/// The pid of a detached daemon, once it has written its pid file.
fn detached_pid(pidfile: &Path) -> i32 {
    let mut pid = 0;
    wait_until("the pid file", || {
        pid = fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    pid
}

/// A detached daemon this test started, killed by pid on drop.
struct Detached(i32);

impl Drop for Detached {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the daemon this test started (it has no children).
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

#[test]
fn a_detached_daemon_closes_inherited_descriptors() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let dir = Dir::new("msg-inherited");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    let pidfile = dir.join("inetd.pid");
    let marker = dir.create("inherited", "");
    // The shell leaves fd 7 open, without close-on-exec, for inetd.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg("exec 7>>\"$1\"; shift; exec \"$@\"")
        .arg("sh")
        .arg(&marker)
        .arg(inetd_bin())
        .arg("-p")
        .arg(&pidfile)
        .arg(&config)
        .status()
        .unwrap();
    assert!(status.success());
    let daemon = Detached(detached_pid(&pidfile));
    assert_eq!(read_all(connect(&format!("127.0.0.1:{port}"))).len(), 4);
    let open: Vec<PathBuf> = fs::read_dir(format!("/proc/{}/fd", daemon.0))
        .unwrap()
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .collect();
    assert!(!open.contains(&marker), "{open:?}");
}

/// `-e` without `-d` or `-f`: the detached daemon keeps logging to the
/// stderr it was started with, as busybox inetd does.
#[test]
fn a_detached_daemon_with_e_keeps_stderr() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let dir = Dir::new("msg-detach-e");
    let config = dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    let pidfile = dir.join("inetd.pid");
    let log = dir.join("stderr.log");
    let status = inetd()
        .arg("-e")
        .arg("-p")
        .arg(&pidfile)
        .arg(&config)
        .stderr(fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let daemon = Detached(detached_pid(&pidfile));
    // SAFETY: kill(2) on the daemon this test started.
    unsafe {
        libc::kill(daemon.0, libc::SIGHUP);
    }
    let text = || fs::read_to_string(&log).unwrap_or_default();
    wait_until("the reload on the inherited stderr", || {
        text().contains("reloaded")
    });
    assert!(!text().contains("not reloaded"), "{}", text());
}

/// A detached daemon runs in `/`: relative paths given at startup must
/// still name the same files at a reload and at exit.
#[test]
fn a_detached_daemon_keeps_relative_paths() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let dir = Dir::new("msg-relative");
    dir.create(
        "inetd.conf",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
    );
    let log = dir.join("stderr.log");
    let status = inetd()
        .current_dir(&dir.path)
        .args(["-e", "-p", "inetd.pid", "inetd.conf"])
        .stderr(fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let pidfile = dir.join("inetd.pid");
    let daemon = Detached(detached_pid(&pidfile));
    // SAFETY: kill(2) on the daemon this test started.
    unsafe {
        libc::kill(daemon.0, libc::SIGHUP);
    }
    let text = || fs::read_to_string(&log).unwrap_or_default();
    wait_until("the reload", || text().contains("reloaded"));
    assert!(!text().contains("not reloaded"), "{}", text());
    // SAFETY: as above.
    unsafe {
        libc::kill(daemon.0, libc::SIGTERM);
    }
    wait_until("the pid file to be removed", || !pidfile.exists());
}
