//! The lookup a child uses: it asks the system and may block.

use std::ffi::CStr;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::lookup::{account_exists, in_netgroup};
use super::{Account, Lookup, WouldBlock};

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
        Ok(rfc931(client, server, timeout).ok().flatten())
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
        Ok(std::fs::read(path))
    }
}

pub(super) fn run_command(command: &str) -> bool {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reverse lookup, then forward lookup of that name must list the address.
fn verified_name(addr: IpAddr) -> Option<String> {
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
    let name = unsafe { CStr::from_ptr(host.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let forward = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 0));
    let verified = forward.is_ok_and(|mut addrs| addrs.any(|a| a.ip() == addr));
    Some(if verified {
        name
    } else {
        "paranoid".to_string()
    })
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

/// An RFC 931 (ident) query to the client.
fn rfc931(client: SocketAddr, server: SocketAddr, timeout: u32) -> io::Result<Option<String>> {
    let timeout = Duration::from_secs(u64::from(timeout.max(1)));
    let mut stream = TcpStream::connect_timeout(&SocketAddr::new(client.ip(), 113), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "{},{}\r\n", client.port(), server.port())?;
    let mut reply = String::new();
    BufReader::new(stream).take_line(&mut reply)?;
    // "cport , sport : USERID : os : user"
    let mut fields = reply.splitn(4, ':');
    let (_, kind, _, user) = (fields.next(), fields.next(), fields.next(), fields.next());
    if kind.map(str::trim) != Some("USERID") {
        return Ok(None);
    }
    Ok(user.map(|u| u.trim().to_string()).filter(|u| !u.is_empty()))
}

trait TakeLine {
    fn take_line(&mut self, out: &mut String) -> io::Result<()>;
}

impl<R: io::Read> TakeLine for BufReader<R> {
    fn take_line(&mut self, out: &mut String) -> io::Result<()> {
        let mut line = Vec::new();
        io::Read::take(self, 1024).read_until(b'\n', &mut line)?;
        *out = String::from_utf8_lossy(&line).into_owned();
        Ok(())
    }
}
