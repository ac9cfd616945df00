//! A builtin TCP connection: a small state machine driven by readiness
//! events. It holds no buffer while idle: echo keeps only the bytes the peer
//! has not yet taken (at most one read's worth, then it stops reading:
//! back-pressure), from a pool all echo connections share, and chargen
//! writes straight from its constant table. A builtin that reads a request
//! line (tcpmux) looks at what waits in the socket without taking it until
//! the line is whole, then takes exactly the line: the kernel holds the
//! partial line, and what the client sent after it stays for the program.

use std::io::{self, IoSlice, Read, Write};

use mio::net::{TcpStream, UnixStream};
use mio::Interest;

use super::replies::{CHARGEN, CHARGEN_PERIOD};
use super::{Builtin, OnStream};

/// An accepted stream, TCP or UNIX.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the loop should do with a connection after driving it.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Wait for the next readiness event.
    Idle,
    /// The work budget ran out with work left: call again on the next turn.
    Busy,
    /// The unsent pool is empty: call again once another connection has
    /// given some back (its readiness may not come again).
    Starved,
    Closed,
    /// The request line of a builtin that reads one: the daemon answers it.
    Line(Line),
}

/// A request line, as [`OnStream::Line`] reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line without its LF (and CR before it), taken from the socket.
    Complete(Vec<u8>),
    /// No LF within the bound (what was looked at is taken and dropped).
    TooLong,
}

/// What all echo connections together may hold of bytes their peers have
/// not taken yet: without it, each stalled reader could hold a whole read
/// (64 KiB), a gigabyte at the default caps.
pub const UNSENT_POOL: usize = 4 * 1024 * 1024;

/// The bytes echo connections may still take for unsent data.
#[derive(Debug)]
pub struct UnsentPool {
    available: usize,
}

impl UnsentPool {
    pub fn new(size: usize) -> UnsentPool {
        UnsentPool { available: size }
    }

    pub fn is_empty(&self) -> bool {
        self.available == 0
    }

    /// Gives back what a closing connection held.
    pub fn release(&mut self, connection: &Connection) {
        self.available += connection.unsent.capacity();
    }
}

/// A builtin TCP connection.
pub struct Connection {
    pub stream: Stream,
    pub service: Builtin,
    /// Echo bytes read but not yet written back.
    unsent: Vec<u8>,
    /// Chargen's position in its repeating stream.
    chargen_pos: usize,
    /// Writing the rest of its answer (in `unsent`), then closing.
    finishing: bool,
}

impl Connection {
    pub fn new(stream: Stream, service: Builtin) -> Connection {
        Connection {
            stream,
            service,
            unsent: Vec::new(),
            chargen_pos: 0,
            finishing: false,
        }
    }

    /// The readiness a connection of this kind waits for.
    pub fn interest(service: Builtin) -> Interest {
        match service.spec().stream {
            OnStream::Echo => Interest::READABLE | Interest::WRITABLE,
            OnStream::Chargen => Interest::WRITABLE,
            OnStream::Discard | OnStream::Answer(_) | OnStream::Line { .. } => Interest::READABLE,
        }
    }

    /// Does as much work as the socket allows, up to `budget` bytes.
    /// `scratch` is the loop's shared read buffer, `pool` what echo may
    /// keep unsent.
    pub fn drive(&mut self, scratch: &mut [u8], budget: usize, pool: &mut UnsentPool) -> Progress {
        let result = match self.service.spec().stream {
            _ if self.finishing => self.finish(),
            OnStream::Echo => self.echo(scratch, budget, pool),
            OnStream::Discard => self.discard(scratch, budget),
            OnStream::Chargen => self.chargen(budget),
            OnStream::Line { max, .. } => self.line(scratch, max),
            // Answered at accept: never a session.
            OnStream::Answer(_) => Ok(Progress::Closed),
        };
        match result {
            Ok(progress) => progress,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Progress::Idle,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Progress::Busy,
            Err(_) => Progress::Closed,
        }
    }

    fn echo(
        &mut self,
        scratch: &mut [u8],
        mut budget: usize,
        pool: &mut UnsentPool,
    ) -> io::Result<Progress> {
        loop {
            while !self.unsent.is_empty() {
                let n = self.stream.write(&self.unsent)?;
                if n == 0 {
                    return Ok(Progress::Closed);
                }
                self.unsent.drain(..n);
            }
            // Give the memory back: an idle connection holds no buffer.
            pool.available += self.unsent.capacity();
            self.unsent = Vec::new();
            if budget == 0 {
                return Ok(Progress::Busy);
            }
            // Read no more than the pool could keep if none of it is sent.
            let len = scratch.len().min(budget).min(pool.available);
            if len == 0 {
                return Ok(Progress::Starved);
            }
            let n = self.stream.read(&mut scratch[..len])?;
            if n == 0 {
                return Ok(Progress::Closed);
            }
            budget -= n;
            let written = match self.stream.write(&scratch[..n]) {
                Ok(w) => w,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            // Counted by what is allocated, which draining does not shrink.
            self.unsent.reserve_exact(n - written);
            self.unsent.extend_from_slice(&scratch[written..n]);
            pool.available = pool.available.saturating_sub(self.unsent.capacity());
        }
    }

    /// Writes `answer` and closes, or, when the send buffer does not take
    /// it whole (a long tcpmux `HELP`), keeps the rest from `pool` and
    /// writes it as the socket becomes writable: `Idle`, and the caller
    /// waits for [`Interest::WRITABLE`]. With no room in the pool the
    /// answer is cut.
    pub fn answer(&mut self, answer: &[u8], pool: &mut UnsentPool) -> Progress {
        let written = loop {
            match self.stream.write(answer) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 0,
                Err(_) => return Progress::Closed,
            }
        };
        let rest = &answer[written..];
        if rest.is_empty() || rest.len() > pool.available {
            return Progress::Closed;
        }
        self.unsent.reserve_exact(rest.len());
        self.unsent.extend_from_slice(rest);
        pool.available = pool.available.saturating_sub(self.unsent.capacity());
        self.finishing = true;
        Progress::Idle
    }

    /// The rest of an answer; what it held goes back to the pool when the
    /// connection is closed.
    fn finish(&mut self) -> io::Result<Progress> {
        while !self.unsent.is_empty() {
            let n = self.stream.write(&self.unsent)?;
            if n == 0 {
                break;
            }
            self.unsent.drain(..n);
        }
        Ok(Progress::Closed)
    }

    /// Looks at what waits without taking it; once it holds a LF within
    /// `max` bytes, takes exactly the line.
    fn line(&mut self, scratch: &mut [u8], max: usize) -> io::Result<Progress> {
        let len = max.min(scratch.len());
        let window = &mut scratch[..len];
        let fd = self.stream.raw_fd();
        let n = nix::sys::socket::recv(fd, window, nix::sys::socket::MsgFlags::MSG_PEEK)?;
        if n == 0 {
            return Ok(Progress::Closed);
        }
        let Some(end) = window[..n].iter().position(|&b| b == b'\n') else {
            if n < window.len() {
                // More may come: the next arrival is a new readiness event.
                return Ok(Progress::Idle);
            }
            // Taken, so that the refusal is not lost in a reset for
            // unread bytes when the connection closes.
            let _ = self.stream.read(window);
            return Ok(Progress::Line(Line::TooLong));
        };
        // The bytes are there: this read returns them at once.
        let mut taken = 0;
        while taken <= end {
            match self.stream.read(&mut window[taken..=end]) {
                Ok(0) => return Ok(Progress::Closed),
                Ok(k) => taken += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let line = &window[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Ok(Progress::Line(Line::Complete(line.to_vec())))
    }

    fn discard(&mut self, scratch: &mut [u8], mut budget: usize) -> io::Result<Progress> {
        while budget > 0 {
            let len = scratch.len().min(budget);
            let n = self.stream.read(&mut scratch[..len])?;
            if n == 0 {
                return Ok(Progress::Closed);
            }
            budget -= n;
        }
        Ok(Progress::Busy)
    }

    fn chargen(&mut self, mut budget: usize) -> io::Result<Progress> {
        while budget > 0 {
            let head = &CHARGEN[self.chargen_pos..];
            let slices = [
                IoSlice::new(head),
                IoSlice::new(&CHARGEN),
                IoSlice::new(&CHARGEN),
                IoSlice::new(&CHARGEN),
            ];
            let n = self.stream.write_vectored(&slices)?;
            if n == 0 {
                return Ok(Progress::Closed);
            }
            self.chargen_pos = (self.chargen_pos + n) % CHARGEN_PERIOD;
            budget = budget.saturating_sub(n);
        }
        Ok(Progress::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive_line(connection: &mut Connection) -> Progress {
        let mut scratch = vec![0u8; 64 * 1024];
        connection.drive(&mut scratch, 1024, &mut UnsentPool::new(0))
    }

    #[test]
    fn a_request_line_is_taken_whole_and_alone() {
        let (ours, mut client) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let stream = Stream::Unix(UnixStream::from_std(ours));
        let mut connection = Connection::new(stream, Builtin::Tcpmux);
        assert_eq!(drive_line(&mut connection), Progress::Idle);
        // A partial line stays in the socket.
        client.write_all(b"na").unwrap();
        assert_eq!(drive_line(&mut connection), Progress::Idle);
        client.write_all(b"me\r\nrest").unwrap();
        assert_eq!(
            drive_line(&mut connection),
            Progress::Line(Line::Complete(b"name".to_vec()))
        );
        // What followed the line is still there for whoever reads next.
        let mut rest = [0u8; 8];
        let n = connection.stream.read(&mut rest).unwrap();
        assert_eq!(&rest[..n], b"rest");
        // No LF within the bound: too long, whatever comes later.
        client
            .write_all(&[b'x'; super::super::tcpmux::MAX_LINE])
            .unwrap();
        assert_eq!(drive_line(&mut connection), Progress::Line(Line::TooLong));
        drop(client);
        assert_eq!(drive_line(&mut connection), Progress::Closed);
    }

    #[test]
    fn a_long_answer_is_finished_as_the_client_reads() {
        let (ours, client) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut connection =
            Connection::new(Stream::Unix(UnixStream::from_std(ours)), Builtin::Tcpmux);
        let answer = vec![b'n'; 4 * 1024 * 1024];
        let mut pool = UnsentPool::new(UNSENT_POOL);
        assert_eq!(connection.answer(&answer, &mut pool), Progress::Idle);
        assert!(pool.available < UNSENT_POOL);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let _ = (&client).read_to_end(&mut got);
            got.len()
        });
        let mut scratch = vec![0u8; 1024];
        while connection.drive(&mut scratch, 1024, &mut pool) != Progress::Closed {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        pool.release(&connection);
        drop(connection);
        assert_eq!(reader.join().unwrap(), answer.len());
        assert_eq!(pool.available, UNSENT_POOL);
        // No room in the pool: the answer is cut, nothing is held.
        let (ours, _client) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut connection =
            Connection::new(Stream::Unix(UnixStream::from_std(ours)), Builtin::Tcpmux);
        assert_eq!(
            connection.answer(&answer, &mut UnsentPool::new(0)),
            Progress::Closed
        );
    }
}
