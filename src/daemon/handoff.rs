//! What a program learns beyond the socket on its fds 0-2: its client's
//! and server's addresses in the environment (UCSPI's names, as tcpserver,
//! s6-tcpserver and GNU inetutils' `--environment` set them, plus xinetd's
//! `REMOTE_HOST`), and, for a `wait` service, the socket on fd 3 the way
//! systemd passes it. What to pass is decided here; `spawn.rs` puts it in
//! place in the child.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{BorrowedFd, RawFd};

use nix::sys::socket::{self, sockopt, SockaddrStorage};

use super::*;
use crate::limits::client_key;

/// What the service's program is given, by its line and the daemon's options.
pub(super) struct Passing {
    pub(super) environment: bool,
    pub(super) listen_fds: bool,
}

impl Passing {
    pub(super) fn of(service: &Service, opts: &Options) -> Passing {
        let program = matches!(service.program, Program::External(_));
        Passing {
            environment: program && (service.environment || opts.environment),
            listen_fds: program && service.wait && (service.listen_fds || opts.listen_fds),
        }
    }
}

/// Whether `name` is one this room sets: inetd's own environment (`-E`)
/// must not pass an older value (inetd's own `LISTEN_FDS`, when a
/// supervisor passed it sockets) where a program would read it first.
pub(super) fn sets(name: &[u8]) -> bool {
    const EXACT: [&[u8]; 5] = [
        b"PROTO",
        b"REMOTE_HOST",
        b"LISTEN_FDS",
        b"LISTEN_PID",
        b"LISTEN_FDNAMES",
    ];
    const PREFIXES: [&[u8]; 5] = [
        b"TCPREMOTE",
        b"TCPLOCAL",
        b"UDPREMOTE",
        b"UDPLOCAL",
        b"UNIXREMOTE",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The UCSPI entries for a client at `remote` of a server at `local`:
/// `PROTO=TCP` (or `UDP`) and `TCPREMOTEIP`, `TCPREMOTEPORT`,
/// `TCPLOCALIP`, `TCPLOCALPORT` (`UDP...` for a datagram), and
/// `REMOTE_HOST`. An IPv4-mapped address is shown as the IPv4 address it
/// is, as the access rules and the log see it. No names: they would need
/// a lookup.
pub(super) fn inet_env(proto: &str, remote: SocketAddr, local: SocketAddr) -> Vec<String> {
    let ip = |addr: SocketAddr| -> IpAddr { client_key(addr.ip(), 128) };
    vec![
        format!("PROTO={proto}"),
        format!("{proto}REMOTEIP={}", ip(remote)),
        format!("{proto}REMOTEPORT={}", remote.port()),
        format!("{proto}LOCALIP={}", ip(local)),
        format!("{proto}LOCALPORT={}", local.port()),
        format!("REMOTE_HOST={}", ip(remote)),
    ]
}

/// ucspi-unix's entries for a peer of a UNIX stream socket, from its
/// credentials as the kernel took them at connect.
pub(super) fn unix_env(pid: i32, uid: u32, gid: u32) -> Vec<String> {
    vec![
        "PROTO=UNIX".to_string(),
        format!("UNIXREMOTEPID={pid}"),
        format!("UNIXREMOTEEUID={uid}"),
        format!("UNIXREMOTEEGID={gid}"),
    ]
}

/// The environment entries for the client of `fd` (a connection, or a
/// `wait` datagram socket whose waiting datagram came from `peer`); none
/// when its addresses cannot be told (a `wait` stream socket has no client
/// yet).
pub(super) fn client_env(fd: RawFd, peer: Option<&Peer>, socket_type: SocketType) -> Vec<String> {
    let proto = match socket_type {
        SocketType::Stream => "TCP",
        SocketType::Dgram => "UDP",
    };
    // SAFETY: `fd` is the daemon's open socket for the whole call.
    let socket_fd = unsafe { BorrowedFd::borrow_raw(fd) };
    match peer {
        Some(Peer::Inet(remote)) => match local_addr(fd) {
            Some(local) => inet_env(proto, *remote, local),
            None => Vec::new(),
        },
        Some(Peer::Local) => match socket::getsockopt(&socket_fd, sockopt::PeerCredentials) {
            Ok(cred) => unix_env(cred.pid(), cred.uid(), cred.gid()),
            Err(_) => vec!["PROTO=UNIX".to_string()],
        },
        None => Vec::new(),
    }
}

fn local_addr(fd: RawFd) -> Option<SocketAddr> {
    let addr = socket::getsockname::<SockaddrStorage>(fd).ok()?;
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::from(std::net::SocketAddrV4::from(*v4)));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ucspi_names_for_tcp_and_udp() {
        let env = inet_env(
            "TCP",
            "192.0.2.7:40000".parse().unwrap(),
            "10.0.0.1:7".parse().unwrap(),
        );
        assert_eq!(
            env,
            [
                "PROTO=TCP",
                "TCPREMOTEIP=192.0.2.7",
                "TCPREMOTEPORT=40000",
                "TCPLOCALIP=10.0.0.1",
                "TCPLOCALPORT=7",
                "REMOTE_HOST=192.0.2.7",
            ]
        );
        let env = inet_env(
            "UDP",
            "[2001:db8::5]:53".parse().unwrap(),
            "[::]:5353".parse().unwrap(),
        );
        assert_eq!(env[1], "UDPREMOTEIP=2001:db8::5");
        assert_eq!(env[3], "UDPLOCALIP=::");
    }

    #[test]
    fn inetds_own_values_of_these_names_are_not_passed_on() {
        for name in [
            "PROTO",
            "TCPREMOTEIP",
            "UDPLOCALPORT",
            "UNIXREMOTEEUID",
            "LISTEN_FDS",
            "LISTEN_PID",
            "LISTEN_FDNAMES",
            "REMOTE_HOST",
        ] {
            assert!(sets(name.as_bytes()), "{name}");
        }
        for name in ["PATH", "TCPDUMP", "PROTOCOL", "LISTEN", "HOME"] {
            assert!(!sets(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn a_mapped_client_is_shown_as_ipv4() {
        let env = inet_env(
            "TCP",
            "[::ffff:127.0.0.1]:1234".parse().unwrap(),
            "[::ffff:127.0.0.2]:80".parse().unwrap(),
        );
        assert_eq!(env[1], "TCPREMOTEIP=127.0.0.1");
        assert_eq!(env[3], "TCPLOCALIP=127.0.0.2");
    }
}
