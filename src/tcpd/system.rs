//! The lookups the `--tcpd` child decides with, and `inetd --match`
//! explains with: they ask the system and may block, each name lookup in
//! a process of its own with a deadline. The name verification itself is
//! [`crate::hosts::verify`], shared with every other lookup.

use std::ffi::{CStr, CString};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::socket::{SockaddrLike, SockaddrStorage};

use crate::hosts::nss::{account_exists, in_netgroup};
use crate::hosts::verify::{verified_name, Family, Forward, Resolver};
use crate::hosts::{Account, Lookup, WouldBlock};

use super::{ident, inet};

/// The system's databases: names through [`SystemResolver`], verified as
/// libwrap does, RFC 931, netgroups, passwd and group, /bin/sh and files.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn host_name(
        &mut self,
        addr: SocketAddr,
        warnings: &mut Vec<String>,
    ) -> Result<Option<String>, WouldBlock> {
        Ok(verified_name(&mut SystemResolver, addr, warnings))
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

    fn run_command(&mut self, command: &str) -> Result<i32, WouldBlock> {
        Ok(run_command(command))
    }

    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Ok(crate::files::read_regular(path.as_ref()))
    }
}

/// The command's exit status; 1 when it could not run or was killed.
fn run_command(command: &str) -> i32 {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_or(1, |s| s.code().unwrap_or(1))
}

/// How long one resolver call (the reverse or the forward lookup) may take
/// before it counts as failed. getnameinfo and getaddrinfo cannot be
/// interrupted, so each runs in a process of its own, killed when late (a
/// thread would do, but costs the binary 50 KiB). Ten seconds is glibc's
/// default for a name server that never answers (5 s, 2 tries), so a dead
/// first name server still lets the second one answer in time.
const NAME_LOOKUP_DEADLINE: Duration = Duration::from_secs(10);

/// The system's resolver (NSS: /etc/hosts, DNS...), each call that may
/// ask a name server in a process of its own under [`NAME_LOOKUP_DEADLINE`].
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn reverse(&mut self, addr: SocketAddr) -> Option<String> {
        within_deadline(|| reverse_name(addr).map(String::into_bytes))
            .map(|name| String::from_utf8_lossy(&name).into_owned())
    }

    fn is_numeric(&mut self, name: &str, family: Family) -> bool {
        getaddrinfo(name, family, libc::AI_NUMERICHOST).is_some()
    }

    fn forward(&mut self, name: &str, family: Family) -> Option<Forward> {
        let encoded =
            within_deadline(|| getaddrinfo(name, family, libc::AI_CANONNAME).map(|f| encode(&f)))?;
        decode(&encoded)
    }
}

/// getaddrinfo(AI_PASSIVE | `flags`, SOCK_STREAM) in `family`, as libwrap asks it.
fn getaddrinfo(name: &str, family: Family, flags: libc::c_int) -> Option<Forward> {
    let name = CString::new(name).ok()?;
    // SAFETY: all-zero is a valid addrinfo hint.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = match family {
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
        Family::Any => libc::AF_UNSPEC,
    };
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_PASSIVE | flags;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: a NUL-terminated name, valid hints, and an out pointer.
    if unsafe { libc::getaddrinfo(name.as_ptr(), std::ptr::null(), &hints, &mut list) } != 0 {
        return None;
    }
    let mut forward = Forward::default();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: a node of the list getaddrinfo returned, freed below.
        let ai = unsafe { &*entry };
        if entry == list && !ai.ai_canonname.is_null() {
            // SAFETY: getaddrinfo's NUL-terminated canonical name.
            let canonical = unsafe { CStr::from_ptr(ai.ai_canonname) };
            forward.canonical = Some(canonical.to_string_lossy().into_owned());
        }
        // SAFETY: ai_addr points to ai_addrlen bytes of a socket address.
        let addr = unsafe { SockaddrStorage::from_raw(ai.ai_addr, Some(ai.ai_addrlen)) };
        forward.addrs.extend(addr.as_ref().and_then(inet));
        entry = ai.ai_next;
    }
    // SAFETY: the list getaddrinfo returned, freed once.
    unsafe { libc::freeaddrinfo(list) };
    Some(forward)
}

/// A [`Forward`] through the pipe: NUL-separated fields (no C string holds
/// a NUL), the canonical name first, behind a mark for whether there is one.
fn encode(forward: &Forward) -> Vec<u8> {
    let mut out = match &forward.canonical {
        Some(name) => format!("+{name}"),
        None => "-".to_string(),
    };
    for addr in &forward.addrs {
        out.push('\0');
        out.push_str(&addr.to_string());
    }
    out.into_bytes()
}

fn decode(bytes: &[u8]) -> Option<Forward> {
    let text = String::from_utf8_lossy(bytes);
    let mut fields = text.split('\0');
    let head = fields.next()?;
    let canonical = head.strip_prefix('+').map(str::to_string);
    let addrs = fields.filter_map(|a| a.parse().ok()).collect();
    Some(Forward { canonical, addrs })
}

/// `lookup`'s answer, or `None` when it has none, is not there within
/// [`NAME_LOOKUP_DEADLINE`], or no process could be started for it.
fn within_deadline(lookup: impl FnOnce() -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let (read, write) = nix::unistd::pipe().ok()?;
    // SAFETY: this process (a `--tcpd` child, or `inetd --match`) has a
    // single thread, so the forked copy may do anything the original could.
    let pid = match unsafe { nix::unistd::fork() }.ok()? {
        nix::unistd::ForkResult::Child => {
            drop(read);
            // A mark first: an empty pipe is no answer.
            if let Some(answer) = lookup() {
                let mut pipe = std::fs::File::from(write);
                let _ = pipe.write_all(b"+").and_then(|()| pipe.write_all(&answer));
            }
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
    answer?.strip_prefix(b"+").map(<[u8]>::to_vec)
}

/// Everything `pipe` gives until it is closed, or `None` at `deadline`.
fn read_until(mut pipe: std::fs::File, deadline: Instant) -> Option<Vec<u8>> {
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
            Ok(0) => return Some(answer),
            Ok(n) if answer.len() + n <= 1 << 16 => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return None,
        }
    }
}

/// The name the address maps back to (getnameinfo, NI_NAMEREQD).
fn reverse_name(addr: SocketAddr) -> Option<String> {
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
    addr: SocketAddr,
    f: impl FnOnce(*const libc::sockaddr, libc::socklen_t) -> T,
) -> T {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: all-zero is a valid sockaddr_in.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = v4.port().to_be();
            sa.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            f(
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of_val(&sa) as libc::socklen_t,
            )
        }
        SocketAddr::V6(v6) => {
            // SAFETY: all-zero is a valid sockaddr_in6.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_port = v6.port().to_be();
            sa.sin6_addr.s6_addr = v6.ip().octets();
            sa.sin6_scope_id = v6.scope_id();
            f(
                (&sa as *const libc::sockaddr_in6).cast(),
                std::mem::size_of_val(&sa) as libc::socklen_t,
            )
        }
    }
}
