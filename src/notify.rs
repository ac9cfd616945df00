//! Readiness for supervisors: systemd's sd_notify protocol, spoken without
//! libsystemd (one datagram per state change to `$NOTIFY_SOCKET`), and s6's
//! readiness descriptor (`-N FD`: a newline once the sockets are bound).
//!
//! Nothing here blocks: the notify socket is non-blocking (a full queue
//! drops the message, as sd_notify's own callers treat it: advisory), and
//! the readiness descriptor is written once with `O_NONBLOCK`. Errors are
//! returned for the caller to log; none is fatal.

use std::env;
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The systemd notify socket, when inetd was started with one.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (honoured only when
    /// `WATCHDOG_PID`, if set, is this process) and removes them, along
    /// with `WATCHDOG_PID`, from the environment, so that no service
    /// started with `-E` talks to systemd in inetd's name. Call it while
    /// the process has one thread (at startup), as `env::remove_var` needs.
    pub fn from_env() -> Notifier {
        let socket = env::var_os("NOTIFY_SOCKET");
        let watchdog_usec = env::var("WATCHDOG_USEC").ok();
        let watchdog_pid = env::var("WATCHDOG_PID").ok();
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            env::remove_var(name);
        }
        let ours = watchdog_pid.map_or(true, |pid| pid.trim() == std::process::id().to_string());
        let watchdog = watchdog_usec
            .filter(|_| ours)
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|&usec| usec > 0)
            .map(Duration::from_micros);
        Notifier::new(socket, watchdog)
    }

    /// A notifier for `socket` (a path, or `@name` in the abstract namespace);
    /// none when `socket` is unset, empty or cannot be opened.
    pub fn new(socket: Option<OsString>, watchdog: Option<Duration>) -> Notifier {
        let target = socket.and_then(|path| {
            let addr = socket_addr(path.as_bytes())?;
            let sock = UnixDatagram::unbound().ok()?;
            sock.set_nonblocking(true).ok()?;
            Some((sock, addr))
        });
        Notifier { target, watchdog }
    }

    /// Whether a notify socket was given (systemd is listening).
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Every listener has been tried (bound, or waiting to be retried).
    pub fn ready(&self) -> io::Result<()> {
        self.send("READY=1")
    }

    /// A detached daemon tells its new pid, so that systemd follows it.
    pub fn mainpid(&self, pid: u32) -> io::Result<()> {
        self.send(&format!("MAINPID={pid}"))
    }

    /// A reload begins; `ready()` ends it. Carries the monotonic clock,
    /// which `Type=notify-reload` requires.
    pub fn reloading(&self) -> io::Result<()> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let usec = now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1000;
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"))
    }

    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    /// The keep-alive ping; send it every [`Notifier::watchdog_interval`].
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }

    /// Half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises; none
    /// without a watchdog or without a notify socket to ping.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.filter(|_| self.is_enabled()).map(|d| d / 2)
    }

    fn send(&self, message: &str) -> io::Result<()> {
        match &self.target {
            Some((sock, addr)) => sock.send_to_addr(message.as_bytes(), addr).map(drop),
            None => Ok(()),
        }
    }
}

/// `@name` is the abstract namespace (sd_notify's convention), anything
/// else a path.
fn socket_addr(path: &[u8]) -> Option<SocketAddr> {
    match path {
        [] => None,
        [b'@', name @ ..] => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name).ok()
        }
        _ => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path)).ok(),
    }
}

/// s6's readiness notification: `-N FD` names a descriptor inetd writes a
/// newline to, then closes, once its sockets are bound.
#[derive(Debug)]
pub struct ReadinessFd(OwnedFd);

impl ReadinessFd {
    /// Takes ownership of `fd` (it must be open), marked close-on-exec so
    /// no service inherits it, and non-blocking so the write never waits.
    pub fn take(fd: RawFd) -> io::Result<ReadinessFd> {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
        // SAFETY: F_GETFD only asks whether `fd` is open; nothing is borrowed.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is open and handed to inetd for this alone (-N).
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        let flags = OFlag::from_bits_truncate(fcntl(&owned, FcntlArg::F_GETFL)?);
        fcntl(&owned, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(ReadinessFd(owned))
    }

    /// Writes the newline and closes the descriptor.
    pub fn signal(self) -> io::Result<()> {
        std::fs::File::from(self.0).write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("a notify message");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn listener(name: &str) -> (UnixDatagram, std::path::PathBuf) {
        let path = env::temp_dir().join(format!("inetd-notify-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind notify socket");
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (sock, path)
    }

    #[test]
    fn messages_reach_a_path_socket_in_order() {
        let (sock, path) = listener("path");
        let notifier = Notifier::new(Some(path.clone().into()), None);
        assert!(notifier.is_enabled());
        notifier.ready().unwrap();
        notifier.reloading().unwrap();
        notifier.ready().unwrap();
        notifier.mainpid(42).unwrap();
        notifier.watchdog().unwrap();
        notifier.stopping().unwrap();
        assert_eq!(receive(&sock), "READY=1");
        let reloading = receive(&sock);
        assert!(
            reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
            "{reloading:?}"
        );
        let usec = reloading.rsplit('=').next().unwrap();
        assert!(usec.parse::<u64>().is_ok_and(|u| u > 0), "{reloading:?}");
        assert_eq!(receive(&sock), "READY=1");
        assert_eq!(receive(&sock), "MAINPID=42");
        assert_eq!(receive(&sock), "WATCHDOG=1");
        assert_eq!(receive(&sock), "STOPPING=1");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("inetd-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let notifier = Notifier::new(Some(format!("@{name}").into()), None);
        notifier.ready().unwrap();
        assert_eq!(receive(&sock), "READY=1");
    }

    #[test]
    fn without_a_socket_nothing_is_sent_and_nothing_fails() {
        for socket in [None, Some(OsString::new())] {
            let notifier = Notifier::new(socket, Some(Duration::from_secs(10)));
            assert!(!notifier.is_enabled());
            assert!(notifier.ready().is_ok() && notifier.stopping().is_ok());
            assert_eq!(notifier.watchdog_interval(), None);
        }
    }

    #[test]
    fn a_listener_that_went_away_is_an_error_not_a_hang() {
        let (sock, path) = listener("gone");
        drop(sock);
        let _ = std::fs::remove_file(&path);
        let notifier = Notifier::new(Some(path.into()), None);
        assert!(notifier.ready().is_err());
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        let (_sock, path) = listener("full");
        let notifier = Notifier::new(Some(path.clone().into()), None);
        let started = std::time::Instant::now();
        let failed = (0..100_000).any(|_| notifier.watchdog().is_err());
        assert!(failed, "the receive queue never filled");
        assert!(started.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn watchdog_interval_is_half() {
        let (_sock, path) = listener("watchdog");
        let notifier = Notifier::new(Some(path.clone().into()), Some(Duration::from_secs(30)));
        assert_eq!(notifier.watchdog_interval(), Some(Duration::from_secs(15)));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn readiness_fd_writes_one_newline_and_closes() {
        let (read, write) = nix::unistd::pipe().unwrap();
        use std::os::fd::IntoRawFd;
        let ready = ReadinessFd::take(write.into_raw_fd()).unwrap();
        ready.signal().unwrap();
        let mut out = String::new();
        use std::io::Read;
        // EOF after the newline: the write end was closed.
        std::fs::File::from(read).read_to_string(&mut out).unwrap();
        assert_eq!(out, "\n");
        assert!(ReadinessFd::take(1_000_000).is_err());
    }
}
