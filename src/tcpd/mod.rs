//! `inetd --tcpd ALLOW DENY DAEMON [PROGRAM ARGV0 ARGS...]`: what tcpd does
//! once inetd has started it, for the connections whose access decision the
//! daemon cannot make without blocking (a host name, an ident user, a
//! netgroup) or whose rule has options that run commands or wait.
//!
//! The daemon starts this mode of its own binary in the child, through the
//! same allocation-free spawn as any service, with the connection on fds 0-2
//! and the service's user already set. Here, in a process of its own,
//! blocking is fine. Granted: carry out the options, then exec PROGRAM (or,
//! with no PROGRAM, for a builtin, exit 0 so that the daemon serves it).
//! Denied: carry out the options, log the refusal, exit 1.
//!
//! `inetd --tcpd-datagram CLIENT SERVER ALLOW DENY DAEMON` gives the verdict
//! for a datagram a builtin has already read (fds 0-2 are /dev/null).
//!
//! Either mode logs to syslog, or with [`LOG_STDERR`] first, when the daemon
//! logs to stderr, to the daemon's stderr, which it then finds on fd 2 (fd 0
//! is copied there at once, so the program never sees the daemon's stderr).

mod apply;
mod ident;
pub mod system;

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::sys::socket::{self, SockaddrLike, SockaddrStorage};

use crate::hosts::{Decision, Request, Rules};
use crate::log::Log;

use apply::carry_out;
use system::SystemLookup;

/// The exit status that tells the daemon to serve a builtin.
pub const GRANTED: i32 = 0;
pub const DENIED: i32 = 1;
/// The descriptor the daemon watches while this mode decides.
pub const DECISION_PIPE: i32 = 3;
/// The most a decision may take, whatever it waits for: name lookups
/// have their own deadline and ident its timeout, but netgroups, accounts
/// (NSS may ask a network service) and `aclexec` commands have none.
const DECISION_DEADLINE_SECS: u32 = 120;
/// The flag that says fd 2 is the daemon's stderr and the log goes there.
pub const LOG_STDERR: &str = "--log-stderr";
/// The flag (after [`LOG_STDERR`]) of a `tcpmux/+` service: on a grant,
/// inetd's positive reply goes to the client first, before the options
/// (banners) and the program, and a refused client never sees it.
pub const TCPMUX_GO: &str = "--tcpmux-go";
/// `--banners SUCCESS FAIL`: the service's banner files for the verdict
/// (`-` for none), written to the client (xinetd's `banner_success`,
/// `banner_fail`).
pub const BANNERS: &str = "--banners";
/// The most of a banner file written.
const BANNER_MAX: usize = 64 * 1024;
/// `--userid SERVICE`: ask the client's ident server who it is and log
/// `USERID: SERVICE USER`, as xinetd's `USERID` log field does.
pub const USERID: &str = "--userid";
/// How long the ident server has to answer for `USERID`.
const USERID_TIMEOUT_SECS: u32 = 10;

/// `datagram`: the `--tcpd-datagram` form, with the addresses given.
pub fn run(args: &[String], datagram: bool) -> i32 {
    // fd 3 is the daemon's decision pipe: closing it (at the exec of the
    // program, of a twist, or at exit) tells the daemon the decision is
    // over. Nothing started from here may inherit it.
    // SAFETY: setting a flag on a descriptor that may not be open.
    unsafe { libc::fcntl(DECISION_PIPE, libc::F_SETFD, libc::FD_CLOEXEC) };
    let mut args = args;
    let (mut log_stderr, mut tcpmux_go) = (None, false);
    let (mut banners, mut userid) = (["-", "-"], None);
    loop {
        match args {
            [flag, rest @ ..] if flag == LOG_STDERR => {
                log_stderr = take_stderr();
                args = rest;
            }
            [flag, rest @ ..] if flag == TCPMUX_GO => {
                tcpmux_go = true;
                args = rest;
            }
            [flag, success, fail, rest @ ..] if flag == BANNERS => {
                banners = [success.as_str(), fail.as_str()];
                args = rest;
            }
            [flag, service, rest @ ..] if flag == USERID => {
                userid = Some(service.as_str());
                args = rest;
            }
            _ => break,
        }
    }
    let [success_banner, fail_banner] = banners;
    let (endpoints, args) = match (datagram, args) {
        (true, [client, server, rest @ ..]) => (client.parse().ok().zip(server.parse().ok()), rest),
        (true, _) => (None, args),
        (false, _) => (socket_endpoints(), args),
    };
    let [allow, deny, daemon, program @ ..] = args else {
        eprintln!("inetd: --tcpd needs ALLOW DENY DAEMON [PROGRAM ARGV...]");
        return 2;
    };
    let mut log = match log_stderr {
        Some(file) => Log::file(file, daemon),
        None => Log::syslog(daemon),
    };
    let Some((client, server)) = endpoints else {
        log.err("cannot tell the client's address");
        return DENIED;
    };
    let rules = Rules::load(Path::new(allow), Path::new(deny));
    let request = Request {
        daemon,
        client,
        server,
        pid: Some(std::process::id()),
    };
    // SAFETY: fd 0 is the connection (or the datagram socket) for as long
    // as this process runs.
    let socket = unsafe { BorrowedFd::borrow_raw(0) };
    // SAFETY: alarm has no preconditions; SIGALRM has its default action
    // (the spawn resets it), so a decision stuck past the deadline ends the
    // process, which the daemon takes as a refusal.
    unsafe { libc::alarm(DECISION_DEADLINE_SECS) };
    let decision = rules.decide(&request, &mut SystemLookup);
    if let Some(service) = userid {
        if let Ok(Some(user)) = ident::rfc931(client, server, USERID_TIMEOUT_SECS) {
            log.info(format!("USERID: {service} {user}"));
        }
    }
    // SAFETY: as above; the alarm must not survive into the options or exec.
    unsafe { libc::alarm(0) };
    // What libwrap's tcpd_warn() and tcpd_jump() log: unverified names,
    // bad options; and, as its twist does, what replaces the service.
    if let Decision::Granted(outcome) | Decision::Denied(outcome) = &decision {
        for warning in &outcome.warnings {
            // tcpd_warn(): facility auth, LOG_WARNING.
            log.auth(libc::LOG_WARNING, warning);
        }
        if let Some(command) = outcome.twist() {
            let message = twist_message(outcome, command);
            log.auth(outcome.deny_severity(), message);
        }
    }
    match decision {
        Decision::Granted(outcome) => {
            if tcpmux_go {
                let _ = nix::unistd::write(socket, crate::builtins::tcpmux::GO);
            }
            if let Err(e) = carry_out(&outcome, socket, program.is_empty()) {
                log.err(format!("options: {e}"));
                return DENIED;
            }
            if outcome.twist().is_some() {
                // A builtin's twist ran instead of the service.
                return DENIED;
            }
            write_banner(success_banner);
            match program {
                [] => GRANTED,
                [path, argv0, args @ ..] => {
                    if std::env::var_os("LISTEN_FDS").is_some() {
                        // The daemon passes a `wait` service's socket on fd
                        // 3, where the decision pipe was: the decision is
                        // over now.
                        // SAFETY: dup2 onto a descriptor of this process.
                        unsafe { libc::dup2(0, DECISION_PIPE) };
                    }
                    let e = Command::new(path).arg0(argv0).args(args).exec();
                    log.err(format!("{path}: {e}"));
                    127
                }
                [path] => {
                    log.err(format!("{path}: no argv[0]"));
                    127
                }
            }
        }
        Decision::Denied(outcome) => {
            // libwrap carries out the matched rule's options on a refusal too.
            let _ = carry_out(&outcome, socket, program.is_empty());
            log.auth(outcome.deny_severity(), outcome.refused_message());
            write_banner(fail_banner);
            DENIED
        }
        Decision::NeedsLookup(need) => {
            log.err(format!("cannot decide access: {need:?} unavailable"));
            DENIED
        }
    }
}

/// Writes a banner file (`-`: none) to the client on fd 0.
fn write_banner(path: &str) {
    if path == "-" {
        return;
    }
    let Ok(mut bytes) = crate::files::read_regular(Path::new(path)) else {
        return;
    };
    bytes.truncate(BANNER_MAX);
    // SAFETY: fd 0 is the connection for as long as this process runs;
    // ManuallyDrop leaves it open.
    let mut client = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
    let _ = client.write_all(&bytes);
}

/// The line libwrap's twist logs before it runs the command.
pub fn twist_message(outcome: &crate::hosts::Outcome, command: &str) -> String {
    format!("twist {} to {command}", outcome.client)
}

/// Takes the daemon's stderr off fd 2 (onto a close-on-exec descriptor)
/// and puts fd 0 there in its place.
fn take_stderr() -> Option<File> {
    let stderr = std::io::stderr().as_fd().try_clone_to_owned().ok();
    // SAFETY: dup2 on descriptors this process owns; fd 0 is the socket (or /dev/null).
    unsafe { libc::dup2(0, 2) };
    stderr.map(File::from)
}

/// The client and server addresses of the connection on fd 0, or for a
/// datagram socket the sender of the datagram waiting there.
fn socket_endpoints() -> Option<(SocketAddr, SocketAddr)> {
    let server = inet(&socket::getsockname::<SockaddrStorage>(0).ok()?)?;
    let client = match socket::getpeername::<SockaddrStorage>(0) {
        Ok(peer) => inet(&peer)?,
        Err(_) => datagram_sender()?,
    };
    Some((client, server))
}

fn datagram_sender() -> Option<SocketAddr> {
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let mut byte = 0u8;
    // SAFETY: recvfrom writes at most `len` bytes of address into `storage`
    // and one byte into `byte`; MSG_PEEK leaves the datagram for the service.
    let n = unsafe {
        libc::recvfrom(
            0,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if n < 0 {
        return None;
    }
    // SAFETY: the kernel filled `len` bytes of a valid socket address.
    let addr = unsafe {
        SockaddrStorage::from_raw(
            (&storage as *const libc::sockaddr_storage).cast(),
            Some(len),
        )
    }?;
    inet(&addr)
}

fn inet(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}
