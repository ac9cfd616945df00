//! Opening the listening sockets of services: TCP, UDP and UNIX, stream and
//! datagram, IPv4 and IPv6 (with IPV6_V6ONLY always set explicitly). Every
//! socket is non-blocking and close-on-exec.
//!
//! A UNIX socket's path is only ever unlinked when it is the socket inetd
//! bound there (same device and inode, checked without following a
//! symbolic link), or a stale socket nobody accepts on. Anything else at
//! the path is a bind error, left alone.

use std::ffi::CString;
use std::io;
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{TcpListener, UdpSocket, UnixDatagram, UnixListener};
use mio::{Interest, Registry, Token};
use nix::sys::socket::{
    self, setsockopt, sockopt, AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn,
    SockaddrIn6, UnixAddr,
};

use crate::config::{Listen, SocketOptions, SocketPerms, SocketType};

pub enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
    UnixStream(Bound<UnixListener>),
    UnixDgram(Bound<UnixDatagram>),
}

/// A UNIX socket with the file inetd bound it to, which is unlinked when
/// the socket is dropped, if the path still names that file.
pub struct Bound<S> {
    socket: S,
    /// Boxed: most sockets are not UNIX ones, and every listener has room
    /// for a `Socket`.
    _file: Box<SocketFile>,
}

impl<S> Deref for Bound<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.socket
    }
}

impl<S> DerefMut for Bound<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.socket
    }
}

/// The file a bind created: its path and (device, inode).
struct SocketFile {
    path: PathBuf,
    identity: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Someone who can write the directory may have put another file
        // there since: only our own socket goes.
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && (m.dev(), m.ino()) == self.identity);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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
            Socket::UnixStream(s) => &mut s.socket,
            Socket::UnixDgram(s) => &mut s.socket,
        }
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(self.source(), token, Interest::READABLE)
    }

    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        registry.deregister(self.source())
    }

    /// Consumes one pending datagram, if any, without blocking; whether
    /// there was one.
    pub fn drain_datagram(&self) -> bool {
        drain_one(self.raw_fd())
    }

    /// Puts the socket back in non-blocking mode after a `wait` child,
    /// which shares its open file description, made it blocking.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        set_nonblocking(self.raw_fd())
    }
}

/// Accepts a connection in blocking mode, for a program: std's accept is
/// accept4 with close-on-exec alone, where mio's would set O_NONBLOCK that
/// the child would have to clear again. `WouldBlock` when none waits (the
/// listener itself stays non-blocking).
pub fn accept_tcp_blocking(
    listener: &TcpListener,
) -> io::Result<(mio::net::TcpStream, SocketAddr)> {
    // SAFETY: a view of the listener's descriptor, never closed through it.
    let view =
        ManuallyDrop::new(unsafe { std::net::TcpListener::from_raw_fd(listener.as_raw_fd()) });
    let (stream, peer) = view.accept()?;
    Ok((mio::net::TcpStream::from_std(stream), peer))
}

/// [`accept_tcp_blocking`] for a UNIX stream socket.
pub fn accept_unix_blocking(listener: &UnixListener) -> io::Result<mio::net::UnixStream> {
    // SAFETY: a view of the listener's descriptor, never closed through it.
    let view = ManuallyDrop::new(unsafe {
        std::os::unix::net::UnixListener::from_raw_fd(listener.as_raw_fd())
    });
    let (stream, _) = view.accept()?;
    Ok(mio::net::UnixStream::from_std(stream))
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

/// Opens, binds and (for streams) listens, with `options` set before the
/// bind (a TCP receive buffer must be, for the window scale it announces).
pub fn open(
    listen: &Listen,
    socket_type: SocketType,
    backlog: i32,
    options: &SocketOptions,
) -> io::Result<Socket> {
    open_with(listen, socket_type, backlog, options, false)
}

/// A UDP socket for a `nowait` service (see [`hand_to_peer`]): bound with
/// SO_REUSEPORT, so that the sockets handed to children, each connected
/// to its peer, and the next listener share the address. Linux lets only
/// sockets of the same effective user join, so no other user can take the
/// port's datagrams.
pub fn open_shared_udp(listen: &Listen, options: &SocketOptions) -> io::Result<Socket> {
    open_with(listen, SocketType::Dgram, 0, options, true)
}

fn open_with(
    listen: &Listen,
    socket_type: SocketType,
    backlog: i32,
    options: &SocketOptions,
    reuse_port: bool,
) -> io::Result<Socket> {
    let sock_type = match socket_type {
        SocketType::Stream => SockType::Stream,
        SocketType::Dgram => SockType::Datagram,
    };
    let (addr, v6only) = match listen {
        Listen::Inet { addr, v6only } => (addr, v6only),
        Listen::Unix { path, perms } => return open_unix(path, perms, sock_type, backlog, options),
        Listen::Tcpmux { .. } => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a tcpmux service has no socket of its own",
            ))
        }
    };
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let protocol = match socket_type {
        SocketType::Stream => SockProtocol::Tcp,
        SocketType::Dgram => SockProtocol::Udp,
    };
    let fd = socket::socket(family, sock_type, FLAGS, protocol)?;
    // TCP, so a restarted inetd binds despite connections in TIME_WAIT.
    // Never UDP: there it would let any local user bind the same port and
    // take the datagrams.
    if socket_type == SocketType::Stream {
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    set_options(&fd, options)?;
    if reuse_port {
        setsockopt(&fd, sockopt::ReusePort, &true)?;
    }
    match addr {
        SocketAddr::V4(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn::from(*a))?,
        SocketAddr::V6(a) => {
            setsockopt(&fd, sockopt::Ipv6V6Only, v6only)?;
            socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(*a))?
        }
    }
    if socket_type == SocketType::Stream {
        listen_on(&fd, backlog)?;
        return Ok(Socket::Tcp(TcpListener::from_std(fd.into())));
    }
    Ok(Socket::Udp(UdpSocket::from_std(fd.into())))
}

/// How many queued datagrams [`hand_to_peer`] looks at: more than a
/// listener takes in one turn.
const PEER_WALK: usize = 128;

/// What [`hand_to_peer`] left in the socket and took out of it.
pub struct Handed {
    /// Some of the peer's datagrams are left for its program.
    pub for_peer: bool,
    /// The senders of the datagrams consumed (the peer's own among them
    /// when nothing is left for it), in order, repeats included.
    pub consumed: Vec<SocketAddr>,
}

/// Busybox's `nowait` UDP: the listening socket, with the peer's first
/// datagram in its queue, becomes the peer's own: connected to it, so
/// that the kernel sends it the peer's next datagrams (a connected socket
/// wins over the unconnected listener that replaces it). Datagrams of other
/// peers queued before the connect would reach the peer's program too:
/// they are consumed, with whatever of the peer's came before them; their
/// senders are returned (they send again).
pub fn hand_to_peer(
    socket: &UdpSocket,
    peer: SocketAddr,
    scratch: &mut [u8],
) -> io::Result<Handed> {
    socket.connect(peer)?;
    let fd = socket.as_raw_fd();
    // With a peek offset, each MSG_PEEK returns the next datagram.
    set_peek_offset(fd, 0)?;
    let mut queued = 0;
    let mut foreign_up_to = 0;
    while queued < PEER_WALK {
        match socket.peek_from(scratch) {
            Ok((_, from)) => {
                queued += 1;
                if from != peer {
                    foreign_up_to = queued;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    set_peek_offset(fd, -1)?;
    let mut consumed = Vec::with_capacity(foreign_up_to);
    for _ in 0..foreign_up_to {
        match socket.recv_from(&mut scratch[..1]) {
            Ok((_, from)) => consumed.push(from),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    Ok(Handed {
        for_peer: queued > foreign_up_to,
        consumed,
    })
}

fn set_peek_offset(fd: RawFd, offset: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt with an int we own, on a descriptor the caller owns.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEEK_OFF,
            (&offset as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Consumes one pending datagram, if any, without blocking.
fn drain_one(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: recv into a one-byte buffer we own.
    let received = unsafe { libc::recv(fd, (&mut byte as *mut u8).cast(), 1, libc::MSG_DONTWAIT) };
    received >= 0
}

const FLAGS: SockFlag = SockFlag::SOCK_NONBLOCK.union(SockFlag::SOCK_CLOEXEC);

/// NetBSD's buffer sizes and `dataready` filter. Linux doubles a buffer
/// size it is given (for its bookkeeping) and caps it at
/// net.core.wmem_max / rmem_max, as it caps NetBSD's at sb_max.
fn set_options(fd: &OwnedFd, options: &SocketOptions) -> io::Result<()> {
    let size = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    if let Some(n) = options.send_buffer {
        setsockopt(fd, sockopt::SndBuf, &size(n))?;
    }
    if let Some(n) = options.receive_buffer {
        setsockopt(fd, sockopt::RcvBuf, &size(n))?;
    }
    if let Some(secs) = options.defer_accept {
        let secs = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
        // SAFETY: setsockopt with a pointer to an int we own, and its size.
        let set = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                (&secs as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if set < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn listen_on(fd: &OwnedFd, backlog: i32) -> io::Result<()> {
    socket::listen(
        fd,
        socket::Backlog::new(backlog).unwrap_or(socket::Backlog::MAXCONN),
    )?;
    Ok(())
}

/// A UNIX socket at `path` with the owner and mode asked for. The file is
/// created inaccessible (umask 0777; the daemon has one thread), then
/// given its owner, then its mode, through a descriptor of the file
/// itself, so no symbolic link put there meanwhile is followed.
fn open_unix(
    path: &Path,
    perms: &SocketPerms,
    sock_type: SockType,
    backlog: i32,
    options: &SocketOptions,
) -> io::Result<Socket> {
    remove_stale_socket(path, sock_type)?;
    let fd = socket::socket(AddressFamily::Unix, sock_type, FLAGS, None)?;
    set_options(&fd, options)?;
    let addr = UnixAddr::new(path)?;
    // SAFETY: umask only swaps the process's file creation mask.
    let old_mask = unsafe { libc::umask(0o777) };
    let bound = socket::bind(fd.as_raw_fd(), &addr);
    // SAFETY: as above.
    unsafe { libc::umask(old_mask) };
    bound?;
    let node = open_node(path)?;
    let stat = nix::sys::stat::fstat(&node)?;
    let is_socket = stat.st_mode & libc::S_IFMT == libc::S_IFSOCK;
    // SAFETY: geteuid has no preconditions.
    if !is_socket || stat.st_uid != unsafe { libc::geteuid() } {
        return Err(io::Error::other("the path was replaced while binding"));
    }
    // From here the file is ours: an error below unlinks it.
    let file = Box::new(SocketFile {
        path: path.to_path_buf(),
        identity: (stat.st_dev, stat.st_ino),
    });
    if let Some((uid, gid)) = perms.owner {
        // SAFETY: fchownat on a descriptor we own with an empty C string.
        if unsafe {
            libc::fchownat(
                node.as_raw_fd(),
                c"".as_ptr(),
                uid,
                gid,
                libc::AT_EMPTY_PATH,
            )
        } < 0
        {
            return Err(with_context("chown", io::Error::last_os_error()));
        }
    }
    // chmod through /proc reaches the very file the descriptor holds.
    let proc_path =
        CString::new(format!("/proc/self/fd/{}", node.as_raw_fd())).expect("no NUL in a number");
    // SAFETY: chmod with a valid C string.
    if unsafe { libc::chmod(proc_path.as_ptr(), perms.mode) } < 0 {
        return Err(with_context("chmod", io::Error::last_os_error()));
    }
    if sock_type == SockType::Stream {
        listen_on(&fd, backlog)?;
        let socket = UnixListener::from_std(fd.into());
        return Ok(Socket::UnixStream(Bound {
            socket,
            _file: file,
        }));
    }
    let socket = UnixDatagram::from_std(fd.into());
    Ok(Socket::UnixDgram(Bound {
        socket,
        _file: file,
    }))
}

fn with_context(step: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{step}: {e}"))
}

/// A descriptor of the file at `path` itself (O_PATH), not following a
/// symbolic link.
fn open_node(path: &Path) -> io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: open with a valid C string; the descriptor is ours.
    unsafe {
        let fd = libc::open(
            c_path.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Makes room at `path` for a bind: nothing there, or a socket nobody
/// accepts on (left by an inetd that died), which is unlinked. A socket in
/// use, or anything that is not a socket, is an error, and left alone.
fn remove_stale_socket(path: &Path, sock_type: SockType) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket (left alone)",
        ));
    }
    // A non-blocking connect answers at once: refused when nobody holds
    // the socket any more.
    let probe = socket::socket(AddressFamily::Unix, sock_type, FLAGS, None)?;
    match socket::connect(probe.as_raw_fd(), &UnixAddr::new(path)?) {
        Err(nix::errno::Errno::ECONNREFUSED) => {}
        Ok(()) | Err(nix::errno::Errno::EAGAIN) => {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another process listens on the socket (left alone)",
            ))
        }
        Err(e) => {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("cannot tell whether the socket there is in use: {e} (left alone)"),
            ))
        }
    }
    // Only if it is still the file we probed.
    let same = std::fs::symlink_metadata(path)
        .is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()));
    if same {
        std::fs::remove_file(path)?;
    }
    Ok(())
}
