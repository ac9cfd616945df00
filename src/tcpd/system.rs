//! The lookup the `--tcpd` child decides with: it asks the system and
//! may block, each name lookup in a process of its own with a deadline.

use std::ffi::CStr;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::hosts::nss::{account_exists, in_netgroup};
use crate::hosts::{Account, Lookup, WouldBlock};

use super::ident;

/// The system's databases: reverse DNS verified forward (tcpd's PARANOID
/// check), RFC 931, netgroups, passwd and group, /bin/sh and files.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn host_name(&mut self, addr: IpAddr) -> Result<Option<String>, WouldBlock> {
        Ok(verified_name(addr))
    }

    fn user(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        timeout: u32,
    ) -> Result<Option<String>, WouldBlock> {
        Ok(ident::rfc931(client, server, timeout).ok().flatten())
    }

    fn in_netgroup(&mut self, netgroup: &str, host: &str) -> Result<bool, WouldBlock> {
        Ok(in_netgroup(netgroup, host))
    }

    fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, WouldBlock> {
        Ok(account_exists(kind, name))
    }

    fn run_command(&mut self, command: &str) -> Result<bool, WouldBlock> {
        Ok(run_command(command))
    }

    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Ok(crate::files::read_regular(path.as_ref()))
    }
}

fn run_command(command: &str) -> bool {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// How long one resolver call (the reverse or the forward lookup) may take
/// before the name counts as unknown. getnameinfo and getaddrinfo cannot be
/// interrupted, so each runs in a process of its own, killed when late (a
/// thread would do, but costs the binary 50 KiB). Ten seconds is glibc's
/// default for a name server that never answers (5 s, 2 tries), so a dead
/// first name server still lets the second one answer in time.
const NAME_LOOKUP_DEADLINE: Duration = Duration::from_secs(10);

/// Reverse lookup, then forward lookup of that name must list the address.
/// An IPv4-mapped address (a client of a dual-stack socket) is looked up as
/// the IPv4 address it is.
fn verified_name(addr: IpAddr) -> Option<String> {
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    };
    let name = within_deadline(|| reverse_name(addr).unwrap_or_default())
        .filter(|name| !name.is_empty())?;
    // One address a line.
    let forward = within_deadline(|| {
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 0))
            .map(|addrs| addrs.map(|a| format!("{}\n", a.ip())).collect())
            .unwrap_or_default()
    })
    .unwrap_or_default();
    let forward: Vec<IpAddr> = forward.lines().filter_map(|l| l.parse().ok()).collect();
    Some(if forward.contains(&addr) {
        name
    } else {
        "paranoid".to_string()
    })
}

/// `lookup`'s answer, or `None` when it is not there within
/// [`NAME_LOOKUP_DEADLINE`] (or no process could be started for it).
fn within_deadline(lookup: impl FnOnce() -> String) -> Option<String> {
    let (read, write) = nix::unistd::pipe().ok()?;
    // SAFETY: this process (a `--tcpd` child) has a single thread, so the
    // forked copy may do anything the original could.
    let pid = match unsafe { nix::unistd::fork() }.ok()? {
        nix::unistd::ForkResult::Child => {
            drop(read);
            let _ = std::fs::File::from(write).write_all(lookup().as_bytes());
            // SAFETY: ends the copy without running the original's exit handlers.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(write);
    let answer = read_until(
        std::fs::File::from(read),
        Instant::now() + NAME_LOOKUP_DEADLINE,
    );
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
    answer
}

/// Everything `pipe` gives until it is closed, or `None` at `deadline`.
fn read_until(mut pipe: std::fs::File, deadline: Instant) -> Option<String> {
    use std::os::fd::AsRawFd;
    let mut answer = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready =
            unsafe { libc::poll(&mut fds, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if ready == 0 {
            return None;
        }
        if ready < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        let mut buf = [0; 4096];
        match pipe.read(&mut buf) {
            Ok(0) => return String::from_utf8(answer).ok(),
            Ok(n) if answer.len() + n <= 1 << 16 => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return None,
        }
    }
}

/// The name the address maps back to (getnameinfo, NI_NAMEREQD).
fn reverse_name(addr: IpAddr) -> Option<String> {
    let mut host = [0 as libc::c_char; 1025];
    let rc = with_sockaddr(addr, |sa, len| {
        // SAFETY: a valid sockaddr and an output buffer of the given sizes.
        unsafe {
            libc::getnameinfo(
                sa,
                len,
                host.as_mut_ptr(),
                host.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                libc::NI_NAMEREQD,
            )
        }
    });
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo wrote a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(host.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// Calls `f` with `addr` as a C socket address.
fn with_sockaddr<T>(
    addr: IpAddr,
    f: impl FnOnce(*const libc::sockaddr, libc::socklen_t) -> T,
) -> T {
    match addr {
        IpAddr::V4(v4) => {
            // SAFETY: all-zero is a valid sockaddr_in.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from(v4).to_be();
            f(
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of_val(&sa) as libc::socklen_t,
            )
        }
        IpAddr::V6(v6) => {
            // SAFETY: all-zero is a valid sockaddr_in6.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = v6.octets();
            f(
                (&sa as *const libc::sockaddr_in6).cast(),
                std::mem::size_of_val(&sa) as libc::socklen_t,
            )
        }
    }
}
