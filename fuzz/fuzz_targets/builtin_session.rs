//! The builtin TCP session state machine (`builtins::Connection`) over UNIX
//! socket pairs, two connections sharing one small unsent pool, driven by
//! the input: each byte pair is an operation on one connection's peer
//! (write a chunk, read some or all, shut its writing side) or a `drive`
//! with some budget. Promises checked: no panic; echo returns exactly the
//! bytes sent, in order; what echo holds unsent never exceeds the pool;
//! discard answers nothing; chargen sends its rotating table; daytime and
//! time close at once; and once the peers read everything, every echo
//! connection gets all its bytes back (no pool leak starves it).
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Once;

use inetd::builtins::{chargen_line, Connection, Progress, Stream, UnsentPool};
use inetd::config::Builtin;
use libfuzzer_sys::fuzz_target;
use mio::net::UnixStream;

const SERVICES: [Builtin; 6] = [
    Builtin::Echo,
    Builtin::Echo,
    Builtin::Discard,
    Builtin::Chargen,
    Builtin::Daytime,
    Builtin::Time,
];

/// The most bytes a peer sends.
const MAX_SENT: usize = 16 * 1024;

static IGNORE_SIGPIPE: Once = Once::new();

/// Bytes waiting to be read on `fd` (FIONREAD).
fn queued(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to a valid pointer.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD");
    n as usize
}

/// A small send buffer, so that writes stop soon.
fn small_send_buffer(fd: RawFd) {
    let size: libc::c_int = 4096;
    // SAFETY: SO_SNDBUF takes one int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

struct Session {
    connection: Option<Connection>,
    service: Builtin,
    peer: UnixStream,
    peer_shut: bool,
    sent: Vec<u8>,
    /// Bytes the peer read, each checked as it came.
    received: usize,
}

impl Session {
    fn new(service: Builtin) -> Session {
        let (ours, peer) = UnixStream::pair().expect("socketpair");
        small_send_buffer(ours.as_raw_fd());
        small_send_buffer(peer.as_raw_fd());
        Session {
            connection: Some(Connection::new(Stream::Unix(ours), service)),
            service,
            peer,
            peer_shut: false,
            sent: Vec::new(),
            received: 0,
        }
    }

    fn peer_write(&mut self, len: usize) {
        // A few socket buffers' worth exercises every state; more only slows
        // the run (echo makes a system call or two per scratch buffer).
        let len = len.min(MAX_SENT.saturating_sub(self.sent.len()));
        if self.peer_shut || len == 0 {
            return;
        }
        let chunk: Vec<u8> = (self.sent.len()..self.sent.len() + len)
            .map(|i| (i % 251) as u8)
            .collect();
        match self.peer.write(&chunk) {
            Ok(n) => self.sent.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            // The connection closed its end.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {}
            Err(e) => panic!("peer write: {e}"),
        }
    }

    fn peer_read(&mut self, len: usize, chargen: &[u8]) {
        let mut buf = vec![0; len];
        loop {
            match self.peer.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => self.check(&buf[..n], chargen),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                Err(e) => panic!("peer read: {e}"),
            }
            if len < 65536 {
                return;
            }
        }
    }

    fn drive(&mut self, scratch: &mut [u8], budget: usize, pool: &mut UnsentPool) {
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        let progress = connection.drive(scratch, budget, pool);
        if matches!(self.service, Builtin::Daytime | Builtin::Time) {
            assert_eq!(progress, Progress::Closed);
        }
        if progress == Progress::Closed {
            pool.release(connection);
            self.connection = None;
        }
    }

    /// Echo bytes the connection holds: sent, less what came back and what
    /// the two socket buffers hold.
    fn unsent(&self) -> usize {
        let Some(connection) = &self.connection else {
            return 0;
        };
        if self.service != Builtin::Echo {
            return 0;
        }
        let in_flight = queued(connection.stream.raw_fd()) + queued(self.peer.as_raw_fd());
        let unsent = (self.sent.len() - self.received).checked_sub(in_flight);
        unsent.expect("more bytes in flight than were sent")
    }

    fn check(&mut self, chunk: &[u8], chargen: &[u8]) {
        let start = self.received;
        self.received += chunk.len();
        match self.service {
            Builtin::Echo => assert!(
                self.sent.get(start..self.received) == Some(chunk),
                "echo returned other bytes than were sent"
            ),
            Builtin::Chargen => {
                let expected = (start..self.received).map(|i| chargen[i % chargen.len()]);
                assert!(
                    expected.eq(chunk.iter().copied()),
                    "chargen stream out of order"
                );
            }
            _ => panic!("{:?} answered", self.service),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [pool_size, scratch_len, a, b, ops @ ..] = data else {
        return;
    };
    // The fuzzer's own main does not ignore SIGPIPE as a Rust main does;
    // a peer writing to a closed connection must get EPIPE instead.
    // SAFETY: setting a signal's disposition to ignore.
    IGNORE_SIGPIPE.call_once(|| unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    });
    let pool_size = usize::from(*pool_size) * 64;
    let mut pool = UnsentPool::new(pool_size);
    let mut scratch = vec![0; 64 + usize::from(*scratch_len) * 256];
    let chargen: Vec<u8> = (0..95).flat_map(|n| chargen_line(n).to_vec()).collect();
    let mut sessions = [
        Session::new(SERVICES[usize::from(*a) % SERVICES.len()]),
        Session::new(SERVICES[usize::from(*b) % SERVICES.len()]),
    ];
    for op in ops.chunks(2) {
        let (code, arg) = (op[0], usize::from(op.get(1).copied().unwrap_or(0)));
        let session = &mut sessions[usize::from(code & 1)];
        match (code >> 1) % 5 {
            0 => session.peer_write(1 + arg * 32),
            1 => session.peer_read(1 + arg * 32, &chargen),
            2 => session.peer_read(65536, &chargen),
            3 => session.drive(&mut scratch, arg * 256, &mut pool),
            _ => {
                if arg == 0 {
                    session
                        .peer
                        .shutdown(std::net::Shutdown::Write)
                        .expect("shutdown");
                    session.peer_shut = true;
                }
            }
        }
        let unsent: usize = sessions.iter().map(Session::unsent).sum();
        assert!(
            unsent <= pool_size,
            "{unsent} bytes unsent, pool of {pool_size}"
        );
    }
    // The peers take everything: echo must give every byte back.
    if pool_size == 0 {
        return;
    }
    for _ in 0..10_000 {
        for session in &mut sessions {
            session.drive(&mut scratch, 1 << 20, &mut pool);
            session.peer_read(65536, &chargen);
        }
        let done = sessions.iter().all(|s| {
            s.service != Builtin::Echo || s.connection.is_none() || s.received == s.sent.len()
        });
        if done {
            return;
        }
    }
    panic!("echo never gave all its bytes back: pool leak or lost bytes");
});
