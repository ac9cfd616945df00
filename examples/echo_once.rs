//! A service that answers one request and exits, the kind NetBSD's inetd
//! rate-limit tests start: `echo_once dgram wait` reads one datagram from
//! the socket on fd 0 and sends it back to its sender; `echo_once stream
//! wait` accepts one connection on it and echoes what it reads first;
//! `echo_once stream nowait` does that on the connection it was given.
//! `echo_once sockopts` accepts one connection on the listening socket it
//! was given, reads what comes first and writes the socket's options: `sndbuf=N rcvbuf=N
//! defer_accept=N` (what getsockopt says; Linux reports buffers doubled).

use std::io::{Read, Write};
use std::mem::size_of;
use std::net::{TcpStream, UdpSocket};
use std::os::fd::FromRawFd;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        ["dgram", _] => {
            // SAFETY: fd 0 is the socket inetd gave us; we own it now.
            let socket = unsafe { UdpSocket::from_raw_fd(0) };
            let mut buf = [0u8; 2048];
            if let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let _ = socket.send_to(&buf[..n], peer);
            }
        }
        ["stream", "wait"] => {
            if let Some(stream) = accept_one() {
                echo(stream);
            }
        }
        ["stream", "nowait"] => {
            // SAFETY: as above.
            echo(unsafe { TcpStream::from_raw_fd(0) });
        }
        ["sockopts"] => {
            let report = format!(
                "sndbuf={} rcvbuf={} defer_accept={}\n",
                option(libc::SOL_SOCKET, libc::SO_SNDBUF),
                option(libc::SOL_SOCKET, libc::SO_RCVBUF),
                option(libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT),
            );
            if let Some(mut stream) = accept_one() {
                // What the client sent first is read, so closing resets nothing.
                let _ = stream.read(&mut [0u8; 64]);
                let _ = stream.write_all(report.as_bytes());
            }
        }
        _ => {
            eprintln!("usage: echo_once dgram wait | stream wait | stream nowait | sockopts");
            std::process::exit(2);
        }
    }
}

/// One connection from the listening socket on fd 0.
fn accept_one() -> Option<TcpStream> {
    // SAFETY: accept on fd 0, the listening socket inetd gave us.
    let fd = unsafe { libc::accept(0, std::ptr::null_mut(), std::ptr::null_mut()) };
    // SAFETY: a descriptor accept just returned, ours.
    (fd >= 0).then(|| unsafe { TcpStream::from_raw_fd(fd) })
}

fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 2048];
    if let Ok(n) = stream.read(&mut buf) {
        let _ = stream.write_all(&buf[..n]);
    }
}

/// An int option of fd 0.
fn option(level: libc::c_int, name: libc::c_int) -> libc::c_int {
    let mut value: libc::c_int = -1;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into an int we own, with its size.
    unsafe {
        libc::getsockopt(
            0,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        );
    }
    value
}
