//! Opening the listening sockets of services: TCP, UDP and UNIX, stream and
//! datagram, IPv4 and IPv6 (with IPV6_V6ONLY always set explicitly). Every
//! socket is non-blocking and close-on-exec.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use mio::event::Source;
use mio::net::{TcpListener, UdpSocket, UnixDatagram, UnixListener};
use mio::{Interest, Registry, Token};
use nix::sys::socket::{
    self, setsockopt, sockopt, AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn,
    SockaddrIn6, UnixAddr,
};

use crate::config::{Listen, SocketType};

pub enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
    UnixStream(UnixListener),
    UnixDgram(UnixDatagram),
}

impl Socket {
    pub fn raw_fd(&self) -> RawFd {
        match self {
            Socket::Tcp(s) => s.as_raw_fd(),
            Socket::Udp(s) => s.as_raw_fd(),
            Socket::UnixStream(s) => s.as_raw_fd(),
            Socket::UnixDgram(s) => s.as_raw_fd(),
        }
    }

    fn source(&mut self) -> &mut dyn Source {
        match self {
            Socket::Tcp(s) => s,
            Socket::Udp(s) => s,
            Socket::UnixStream(s) => s,
            Socket::UnixDgram(s) => s,
        }
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(self.source(), token, Interest::READABLE)
    }

    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        registry.deregister(self.source())
    }

    /// Consumes one pending datagram, if any, without blocking.
    pub fn drain_datagram(&self) {
        let mut byte = 0u8;
        // SAFETY: recv into a one-byte buffer we own.
        unsafe {
            libc::recv(
                self.raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_DONTWAIT,
            );
        }
    }

    /// Puts the socket back in non-blocking mode after a `wait` child,
    /// which shares its open file description, made it blocking.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        set_nonblocking(self.raw_fd())
    }
}

/// Sets O_NONBLOCK again on a socket whose open file description a child
/// shared (children get blocking sockets).
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Opens, binds and (for streams) listens.
pub fn open(listen: &Listen, socket_type: SocketType, backlog: i32) -> io::Result<Socket> {
    let sock_type = match socket_type {
        SocketType::Stream => SockType::Stream,
        SocketType::Dgram => SockType::Datagram,
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = match listen {
        Listen::Inet { addr, v6only } => {
            let family = match addr {
                SocketAddr::V4(_) => AddressFamily::Inet,
                SocketAddr::V6(_) => AddressFamily::Inet6,
            };
            let protocol = match socket_type {
                SocketType::Stream => SockProtocol::Tcp,
                SocketType::Dgram => SockProtocol::Udp,
            };
            let fd = socket::socket(family, sock_type, flags, protocol)?;
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
            match addr {
                SocketAddr::V4(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn::from(*a))?,
                SocketAddr::V6(a) => {
                    setsockopt(&fd, sockopt::Ipv6V6Only, v6only)?;
                    socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(*a))?
                }
            }
            fd
        }
        Listen::Unix(path) => {
            remove_stale_socket(path);
            let fd = socket::socket(AddressFamily::Unix, sock_type, flags, None)?;
            socket::bind(fd.as_raw_fd(), &UnixAddr::new(path.as_path())?)?;
            fd
        }
    };
    if socket_type == SocketType::Stream {
        socket::listen(
            &fd,
            socket::Backlog::new(backlog).unwrap_or(socket::Backlog::MAXCONN),
        )?;
    }
    Ok(wrap(fd, listen, socket_type))
}

fn wrap(fd: OwnedFd, listen: &Listen, socket_type: SocketType) -> Socket {
    match (listen, socket_type) {
        (Listen::Inet { .. }, SocketType::Stream) => {
            Socket::Tcp(TcpListener::from_std(std::net::TcpListener::from(fd)))
        }
        (Listen::Inet { .. }, SocketType::Dgram) => {
            Socket::Udp(UdpSocket::from_std(std::net::UdpSocket::from(fd)))
        }
        (Listen::Unix(_), SocketType::Stream) => Socket::UnixStream(UnixListener::from_std(
            std::os::unix::net::UnixListener::from(fd),
        )),
        (Listen::Unix(_), SocketType::Dgram) => Socket::UnixDgram(UnixDatagram::from_std(
            std::os::unix::net::UnixDatagram::from(fd),
        )),
    }
}

/// A socket file left by an earlier run would make bind fail; anything
/// that is not a socket is left alone (bind then reports the problem).
fn remove_stale_socket(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}
