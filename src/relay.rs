//! `internal redirect`: a TCP connection forwarded to another address by
//! the loop itself, as xinetd's `redirect` does but without a process per
//! connection. A [`Relay`] is two non-blocking streams and, for each
//! direction, the bytes the receiving side could not take yet.
//!
//! Bytes are read into the daemon's shared scratch buffer and written on at
//! once; only what the receiver refuses is kept, at most one read's worth
//! ([`CHUNK`]) per direction, and while it waits nothing more is read from
//! the sender: back-pressure reaches the sender through its own socket
//! buffer. An idle relay holds no buffer. A half-close is passed on: the
//! sender's end of stream becomes a `shutdown(Write)` of the receiver once
//! what was kept has gone, and the other direction goes on until its own
//! end. No I/O beyond the two sockets it is given.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

/// The most read from one side at a time, and so the most kept for it.
pub const CHUNK: usize = 16 * 1024;

/// One direction: what the receiver has not taken yet, and the ends.
#[derive(Default)]
struct Pipe {
    pending: Vec<u8>,
    /// Bytes read from the sender.
    moved: u64,
    /// The sender's end of stream was read.
    eof: bool,
    /// ... and passed on to the receiver.
    shut: bool,
}

/// A forwarded connection.
pub struct Relay {
    pub client: TcpStream,
    /// Connecting until [`Relay::drive`] sees it connected.
    pub target: TcpStream,
    connected: bool,
    up: Pipe,
    down: Pipe,
}

/// What [`Relay::drive`] left.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Waiting for readiness.
    Idle,
    /// The budget ran out with work left: drive it again soon.
    Busy,
    /// Both directions ended, or one side failed: close both.
    Closed,
    /// The target could not be reached.
    Unreachable(io::ErrorKind),
}

impl Relay {
    /// `target` is a non-blocking connect under way.
    pub fn new(client: TcpStream, target: TcpStream) -> Relay {
        Relay {
            client,
            target,
            connected: false,
            up: Pipe::default(),
            down: Pipe::default(),
        }
    }

    pub fn connected(&self) -> bool {
        self.connected
    }

    /// Bytes read from the client and from the target so far.
    pub fn traffic(&self) -> (u64, u64) {
        (self.up.moved, self.down.moved)
    }

    /// Bytes kept for receivers that have not taken them yet.
    pub fn held(&self) -> usize {
        self.up.pending.len() + self.down.pending.len()
    }

    /// Moves what can be moved, up to about `budget` bytes, through
    /// `scratch` (at least [`CHUNK`] bytes).
    pub fn drive(&mut self, scratch: &mut [u8], budget: usize) -> Step {
        if !self.connected {
            match self.target.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return Step::Unreachable(e.kind()),
            }
            match self.target.peer_addr() {
                Ok(_) => self.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Idle,
                Err(e) => return Step::Unreachable(e.kind()),
            }
        }
        let scratch = &mut scratch[..CHUNK];
        let mut moved = 0;
        loop {
            let up = pump(&mut self.client, &mut self.target, &mut self.up, scratch);
            let down = pump(&mut self.target, &mut self.client, &mut self.down, scratch);
            let (Ok(up), Ok(down)) = (up, down) else {
                return Step::Closed;
            };
            if self.up.shut && self.down.shut {
                return Step::Closed;
            }
            if up + down == 0 {
                return Step::Idle;
            }
            moved += up + down;
            if moved >= budget {
                return Step::Busy;
            }
        }
    }
}

/// One round for one direction; how much happened (bytes, or 1 for an end
/// seen or passed on). Reading stops while the receiver holds back.
fn pump(
    from: &mut TcpStream,
    to: &mut TcpStream,
    pipe: &mut Pipe,
    scratch: &mut [u8],
) -> io::Result<usize> {
    let mut done = 0;
    if !pipe.pending.is_empty() {
        let n = written(to.write(&pipe.pending))?;
        pipe.pending.drain(..n);
        done += n;
        if !pipe.pending.is_empty() {
            return Ok(done);
        }
        // Nothing held while idle.
        pipe.pending = Vec::new();
    }
    if !pipe.eof {
        match from.read(scratch) {
            Ok(0) => {
                pipe.eof = true;
                done += 1;
            }
            Ok(n) => {
                pipe.moved += n as u64;
                let sent = written(to.write(&scratch[..n]))?;
                pipe.pending.extend_from_slice(&scratch[sent..n]);
                done += n;
            }
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
    }
    if pipe.eof && pipe.pending.is_empty() && !pipe.shut {
        // The receiver may have gone already; the other direction decides.
        let _ = to.shutdown(Shutdown::Write);
        pipe.shut = true;
        done += 1;
    }
    Ok(done)
}

/// Bytes a write took; none when the receiver is full.
fn written(result: io::Result<usize>) -> io::Result<usize> {
    match result {
        Ok(n) => Ok(n),
        Err(e) if would_block(&e) => Ok(0),
        Err(e) => Err(e),
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::time::{Duration, Instant};

    /// A relay between a client and a server of the test's own, all on loopback.
    fn relay() -> (StdStream, Relay, StdStream) {
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let back = TcpListener::bind("127.0.0.1:0").unwrap();
        let user = StdStream::connect(front.local_addr().unwrap()).unwrap();
        let (accepted, _) = front.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let target = TcpStream::connect(back.local_addr().unwrap()).unwrap();
        let (server, _) = back.accept().unwrap();
        (
            user,
            Relay::new(TcpStream::from_std(accepted), target),
            server,
        )
    }

    /// Drives until `done` or a second has passed.
    fn drive_until(relay: &mut Relay, mut done: impl FnMut(&Relay, &Step) -> bool) -> Step {
        let mut scratch = vec![0; CHUNK];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let step = relay.drive(&mut scratch, 1 << 20);
            if done(relay, &step) || Instant::now() > deadline {
                return step;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn bytes_go_both_ways_and_half_closes_are_passed_on() {
        let (mut user, mut relay, mut server) = relay();
        user.write_all(b"request").unwrap();
        user.shutdown(Shutdown::Write).unwrap();
        drive_until(&mut relay, |r, _| r.up.shut);
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"request", "the client's end reached the server");
        // The other direction still works after the client's half-close.
        server.write_all(b"reply").unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            drive_until(&mut relay, |_, s| *s == Step::Closed),
            Step::Closed
        );
        let mut got = Vec::new();
        user.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"reply");
    }

    #[test]
    fn a_receiver_that_does_not_read_stops_the_reading() {
        let (mut user, mut relay, _server) = relay();
        user.set_nonblocking(true).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        // Fill everything: the server never reads.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match user.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut scratch = vec![0; CHUNK];
                    if relay.drive(&mut scratch, 1 << 20) == Step::Idle
                        && user.write(&chunk).is_err()
                    {
                        break;
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(sent > 0);
        assert!(relay.held() <= CHUNK, "held {}", relay.held());
    }

    #[test]
    fn a_refused_target_is_unreachable() {
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = closed.local_addr().unwrap();
        drop(closed);
        let _user = StdStream::connect(front.local_addr().unwrap()).unwrap();
        let (accepted, _) = front.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let target = TcpStream::connect(dead).unwrap();
        let mut relay = Relay::new(TcpStream::from_std(accepted), target);
        let step = drive_until(&mut relay, |_, s| matches!(s, Step::Unreachable(_)));
        assert_eq!(step, Step::Unreachable(io::ErrorKind::ConnectionRefused));
    }
}
