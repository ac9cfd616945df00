//! The builtin services (RFCs 862-868), served inline by the event loop.
//!
//! A TCP connection is a small state machine driven by readiness events. It
//! holds no buffer while idle: echo keeps only the bytes the peer has not yet
//! taken (at most one read's worth, then it stops reading: back-pressure),
//! from a pool all echo connections share, and chargen writes straight from a
//! constant table.

use std::io::{self, IoSlice, Read, Write};

use mio::net::{TcpStream, UnixStream};
use mio::Interest;

use crate::config::Builtin;

/// One chargen line: 72 printable characters and CRLF.
const LINE_LEN: usize = 74;
/// The 95 printable ASCII characters, 0x20 to 0x7E.
const PRINTABLE: usize = 95;
/// Line `n` starts one character after line `n - 1`, so the stream repeats
/// after 95 lines.
const CHARGEN_PERIOD: usize = LINE_LEN * PRINTABLE;

static CHARGEN: [u8; CHARGEN_PERIOD] = chargen_table();

const fn chargen_table() -> [u8; CHARGEN_PERIOD] {
    let mut table = [0u8; CHARGEN_PERIOD];
    let mut line = 0;
    while line < PRINTABLE {
        let mut col = 0;
        while col < 72 {
            table[line * LINE_LEN + col] = b' ' + ((line + col) % PRINTABLE) as u8;
            col += 1;
        }
        table[line * LINE_LEN + 72] = b'\r';
        table[line * LINE_LEN + 73] = b'\n';
        line += 1;
    }
    table
}

/// The chargen line for UDP request number `n` (one line per datagram).
pub fn chargen_line(n: usize) -> &'static [u8] {
    let start = (n % PRINTABLE) * LINE_LEN;
    &CHARGEN[start..start + LINE_LEN]
}

/// RFC 867: the local time as `ctime(3)` writes it, with CRLF.
pub fn daytime() -> Vec<u8> {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: localtime_r writes only into `tm`.
    let tm = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        tm
    };
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}\r\n",
        DAYS[tm.tm_wday.rem_euclid(7) as usize],
        MONTHS[tm.tm_mon.rem_euclid(12) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
    .into_bytes()
}

/// RFC 868: seconds since 1900-01-01 as a 32-bit big-endian number.
pub fn time() -> [u8; 4] {
    const UNIX_TO_1900: u64 = 2_208_988_800;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The protocol's counter wraps in 2036; truncation is the standard behaviour.
    ((unix + UNIX_TO_1900) as u32).to_be_bytes()
}

/// The reply to one UDP datagram, if any. `n` counts chargen requests.
pub fn datagram_reply<'a>(service: Builtin, request: &'a [u8], n: usize) -> Option<Reply<'a>> {
    match service {
        Builtin::Echo => Some(Reply::Borrowed(request)),
        Builtin::Discard => None,
        Builtin::Chargen => Some(Reply::Borrowed(chargen_line(n))),
        Builtin::Daytime => Some(Reply::Owned(daytime())),
        Builtin::Time => Some(Reply::Owned(time().to_vec())),
    }
}

pub enum Reply<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Reply<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Reply::Borrowed(b) => b,
            Reply::Owned(v) => v,
        }
    }
}

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
}

impl Connection {
    pub fn new(stream: Stream, service: Builtin) -> Connection {
        Connection {
            stream,
            service,
            unsent: Vec::new(),
            chargen_pos: 0,
        }
    }

    /// The readiness a connection of this kind waits for.
    pub fn interest(service: Builtin) -> Interest {
        match service {
            Builtin::Echo => Interest::READABLE | Interest::WRITABLE,
            Builtin::Chargen => Interest::WRITABLE,
            _ => Interest::READABLE,
        }
    }

    /// Does as much work as the socket allows, up to `budget` bytes.
    /// `scratch` is the loop's shared read buffer, `pool` what echo may
    /// keep unsent.
    pub fn drive(&mut self, scratch: &mut [u8], budget: usize, pool: &mut UnsentPool) -> Progress {
        let result = match self.service {
            Builtin::Echo => self.echo(scratch, budget, pool),
            Builtin::Discard => self.discard(scratch, budget),
            Builtin::Chargen => self.chargen(budget),
            // Daytime and time answer at accept and never get here.
            Builtin::Daytime | Builtin::Time => Ok(Progress::Closed),
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

    #[test]
    fn chargen_lines_rotate_through_printable_ascii() {
        let first = chargen_line(0);
        assert_eq!(first.len(), 74);
        assert_eq!(&first[..5], b" !\"#$");
        assert_eq!(&first[72..], b"\r\n");
        assert_eq!(&chargen_line(1)[..3], b"!\"#");
        assert_eq!(chargen_line(95), first);
        assert!(CHARGEN
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) || b == b'\r' || b == b'\n'));
        // The last line wraps around the printable set.
        assert_eq!(chargen_line(94)[0], b'~');
        assert_eq!(chargen_line(94)[1], b' ');
    }

    #[test]
    fn daytime_is_ctime_shaped() {
        let text = String::from_utf8(daytime()).unwrap();
        assert_eq!(text.len(), 26, "{text:?}");
        assert!(text.ends_with("\r\n"));
        assert_eq!(&text[13..14], ":");
    }

    #[test]
    fn time_counts_from_1900() {
        let secs = u32::from_be_bytes(time());
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let expected = (unix + 2_208_988_800) as u32;
        assert!(secs.wrapping_sub(expected) <= 1);
    }
}
