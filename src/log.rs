//! Logging to syslog (facility daemon, tag `inetd[pid]`) or to stderr.
//!
//! Lines go to the local syslog daemon in the format glibc's syslog(3)
//! writes (RFC 3164: `<PRI>Mmm dd hh:mm:ss tag[pid]: message`) over a
//! non-blocking socket: when syslogd is slow the message is dropped rather
//! than stalling the loop. After an error the socket is connected again, so
//! a restarted syslogd gets every later message.
//!
//! Every message is escaped where its line is written, whatever its
//! source: a byte outside printable ASCII becomes `\xNN`, and a backslash
//! `\\`, so client-supplied text (ident replies, host names, expansions)
//! can neither forge a record nor reach a terminal raw.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

pub struct Log {
    sink: Sink,
    verbose: bool,
    /// Per kind of per-event message: how many went out and how many were
    /// held back in the current window.
    limited: HashMap<&'static str, Window>,
}

/// Per-event messages of one kind allowed in each window.
const LIMITED_LINES: u32 = 5;
const LIMITED_WINDOW: Duration = Duration::from_secs(10);

struct Window {
    start: Instant,
    sent: u32,
    suppressed: u64,
    level: Level,
}

enum Sink {
    Stderr,
    /// A descriptor the daemon's stderr was passed on as, with a tag.
    File(std::fs::File, String),
    Syslog(Box<Syslog>),
}

/// Where syslog(3) sends its lines.
const SYSLOG_PATH: &str = "/dev/log";
/// The longest line sent; a longer message is cut. RFC 3164 allows 1024
/// bytes, and syslog daemons accept at least this much.
const MAX_SYSLOG_LINE: usize = 2048;
const LOG_DAEMON: u8 = 3 << 3;
const LOG_AUTH: u8 = 4 << 3;

/// A tcpd priority as the syslog PRI: facility auth unless it names
/// another, as syslog(3) under openlog(LOG_AUTH) treats it (kern, 0, is
/// no facility there either).
fn facility_and_level(priority: i32) -> u8 {
    let level = (priority & 7) as u8;
    match priority >> 3 {
        facility @ 1..=23 => (facility as u8) << 3 | level,
        _ => LOG_AUTH | level,
    }
}

struct Syslog {
    socket: Option<SyslogSocket>,
    /// `name[pid]`, the tag of every line.
    tag: String,
    /// The line being written, kept to reuse its allocation.
    line: Vec<u8>,
}

struct SyslogSocket {
    fd: OwnedFd,
    /// Stream sockets (some syslog-ng setups) need each line terminated.
    stream: bool,
}

impl Log {
    /// Logs to stderr; `verbose` keeps debug messages.
    pub fn stderr(verbose: bool) -> Log {
        Log {
            sink: Sink::Stderr,
            verbose,
            limited: HashMap::new(),
        }
    }

    /// Logs to `file` (a `--tcpd` child's copy of the daemon's stderr) as
    /// `tag[pid]: message`, the form of the child's syslog lines.
    pub fn file(file: std::fs::File, tag: &str) -> Log {
        Log {
            sink: Sink::File(file, format!("{tag}[{}]", std::process::id())),
            verbose: false,
            limited: HashMap::new(),
        }
    }

    /// Logs to syslog as `tag[pid]`.
    pub fn syslog(tag: &str) -> Log {
        Log {
            sink: Sink::Syslog(Box::new(Syslog {
                socket: None,
                tag: format!("{tag}[{}]", std::process::id()),
                line: Vec::new(),
            })),
            verbose: false,
            limited: HashMap::new(),
        }
    }

    /// Logs an access decision at syslog `priority`, as tcpd does: a
    /// level (LOG_EMERG to LOG_DEBUG) goes to facility auth, a
    /// `facility | level` (a rule's `severity local0.notice`) to its own.
    pub fn auth(&mut self, priority: i32, msg: impl Display) {
        match &mut self.sink {
            Sink::Stderr | Sink::File(..) => {
                let level = match priority & 7 {
                    i32::MIN..=3 => Level::Err,
                    4 => Level::Warning,
                    5 => Level::Notice,
                    6 => Level::Info,
                    _ => Level::Debug,
                };
                self.log(level, msg)
            }
            Sink::Syslog(syslog) => syslog.send(facility_and_level(priority), &msg),
        }
    }

    pub fn err(&mut self, msg: impl Display) {
        self.log(Level::Err, msg)
    }

    pub fn warn(&mut self, msg: impl Display) {
        self.log(Level::Warning, msg)
    }

    pub fn info(&mut self, msg: impl Display) {
        self.log(Level::Info, msg)
    }

    pub fn debug(&mut self, msg: impl Display) {
        self.log(Level::Debug, msg)
    }

    /// Logs a message that a flood could repeat once per connection or
    /// datagram: at most a few lines of each `kind` per window, then one
    /// line with the count of those held back.
    pub fn limited(&mut self, kind: &'static str, level: Level, msg: impl Display) {
        if self.admit(kind, level) {
            self.log(level, msg);
        }
    }

    /// [`Log::auth`], limited like [`Log::limited`].
    pub fn auth_limited(&mut self, kind: &'static str, priority: i32, msg: impl Display) {
        if self.admit(kind, Level::Notice) {
            self.auth(priority, msg);
        }
    }

    /// Whether one more message of `kind` goes out in the current window.
    fn admit(&mut self, kind: &'static str, level: Level) -> bool {
        let now = Instant::now();
        self.flush_window(kind, now);
        let window = self.limited.entry(kind).or_insert(Window {
            start: now,
            sent: 0,
            suppressed: 0,
            level,
        });
        if window.sent < LIMITED_LINES {
            window.sent += 1;
            true
        } else {
            window.suppressed += 1;
            false
        }
    }

    /// Reports what the finished windows held back; called from the loop.
    pub fn tick(&mut self) {
        if self.limited.is_empty() {
            return;
        }
        let now = Instant::now();
        let kinds: Vec<&'static str> = self.limited.keys().copied().collect();
        for kind in kinds {
            self.flush_window(kind, now);
        }
    }

    /// When the next window ends, if a flood is being counted.
    pub fn next_tick(&self) -> Option<Instant> {
        self.limited
            .values()
            .map(|w| w.start + LIMITED_WINDOW)
            .min()
    }

    fn flush_window(&mut self, kind: &'static str, now: Instant) {
        let Some(window) = self.limited.get(kind) else {
            return;
        };
        if now.saturating_duration_since(window.start) < LIMITED_WINDOW {
            return;
        }
        let (suppressed, level) = (window.suppressed, window.level);
        self.limited.remove(kind);
        if suppressed > 0 {
            self.log(
                level,
                format!(
                    "{kind}: {suppressed} more such messages in the last {} s",
                    LIMITED_WINDOW.as_secs()
                ),
            );
        }
    }

    pub fn log(&mut self, level: Level, msg: impl Display) {
        if level == Level::Debug && !self.verbose {
            return;
        }
        match &mut self.sink {
            Sink::Stderr => {
                let line = escaped_line(&format!("inetd[{}]", std::process::id()), &msg);
                // One write per line, so concurrent writers do not interleave.
                let _ = std::io::stderr().write_all(&line);
            }
            Sink::File(file, tag) => {
                let _ = file.write_all(&escaped_line(tag, &msg));
            }
            Sink::Syslog(syslog) => syslog.send(LOG_DAEMON | level.severity(), &msg),
        }
    }
}

impl Level {
    /// The syslog(3) severity.
    fn severity(self) -> u8 {
        match self {
            Level::Err => 3,
            Level::Warning => 4,
            Level::Notice => 5,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }
}

impl Syslog {
    /// Sends one line at `priority` (facility | severity), connecting
    /// first if needed; a failed send is tried once more on a new socket.
    fn send(&mut self, priority: u8, msg: &impl Display) {
        self.format(priority, msg);
        for _ in 0..2 {
            if self.socket.is_none() {
                self.socket = connect();
            }
            let Some(socket) = &self.socket else { return };
            if socket.send(&self.line) {
                return;
            }
            self.socket = None;
        }
    }

    /// Puts the NUL-terminated line for `msg` in `self.line`.
    fn format(&mut self, priority: u8, msg: &impl Display) {
        self.line.clear();
        let _ = write!(self.line, "<{priority}>");
        push_timestamp(&mut self.line);
        let _ = write!(self.line, "{}: ", self.tag);
        push_escaped(&mut self.line, msg);
        self.line.truncate(MAX_SYSLOG_LINE);
        self.line.push(0);
    }
}

impl SyslogSocket {
    /// Sends a NUL-terminated `line`, with its NUL only on a stream.
    /// Whether the socket is still usable: a full buffer drops the line
    /// but keeps the socket.
    fn send(&self, line: &[u8]) -> bool {
        let line = if self.stream {
            line
        } else {
            &line[..line.len() - 1]
        };
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        match socket::send(self.fd.as_raw_fd(), line, flags) {
            // A partly written stream line would garble the next one.
            Ok(n) => n == line.len() || !self.stream,
            Err(nix::errno::Errno::EAGAIN) => !self.stream,
            Err(_) => false,
        }
    }
}

/// `tag: msg` escaped, and a newline.
fn escaped_line(tag: &str, msg: &impl Display) -> Vec<u8> {
    let mut line = format!("{tag}: ").into_bytes();
    push_escaped(&mut line, msg);
    line.push(b'\n');
    line
}

/// Appends `msg` with every byte outside printable ASCII as `\xNN` and
/// `\` as `\\`: no control byte (NUL, CR, LF, ESC) or non-ASCII byte
/// reaches syslogd or a terminal.
pub(crate) fn push_escaped(line: &mut Vec<u8>, msg: &impl Display) {
    struct Escaper<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for Escaper<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for &b in s.as_bytes() {
                match b {
                    b'\\' => self.0.extend_from_slice(b"\\\\"),
                    b' '..=b'~' => self.0.push(b),
                    _ => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
                        self.0.extend_from_slice(&[b'\\', b'x', hex[0], hex[1]]);
                    }
                }
            }
            Ok(())
        }
    }
    let _ = std::fmt::Write::write_fmt(&mut Escaper(line), format_args!("{msg}"));
}

/// Connects to syslogd's socket, a datagram socket or else a stream one,
/// without blocking.
fn connect() -> Option<SyslogSocket> {
    let addr = UnixAddr::new(SYSLOG_PATH).ok()?;
    for stream in [false, true] {
        let kind = if stream {
            SockType::Stream
        } else {
            SockType::Datagram
        };
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let fd = socket::socket(AddressFamily::Unix, kind, flags, None).ok()?;
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => return Some(SyslogSocket { fd, stream }),
            Err(nix::errno::Errno::EPROTOTYPE) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Appends the local time as `Mmm dd hh:mm:ss ` (strftime `%b %e %T`, in
/// the C locale as inetd never calls setlocale), as syslog(3) does.
fn push_timestamp(line: &mut Vec<u8>) {
    let mut buf = [0u8; 32];
    // SAFETY: localtime_r and strftime write only into the buffers given,
    // whose sizes are passed; the format is NUL-terminated.
    let n = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return;
        }
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%b %e %T ".as_ptr(),
            &tm,
        )
    };
    line.extend_from_slice(&buf[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_severity_keeps_its_facility() {
        assert_eq!(facility_and_level(libc::LOG_WARNING), 36);
        assert_eq!(facility_and_level(libc::LOG_LOCAL0 | libc::LOG_NOTICE), 133);
        assert_eq!(facility_and_level(libc::LOG_MAIL | libc::LOG_ERR), 19);
        assert_eq!(facility_and_level(-1), 39);
    }

    #[test]
    fn messages_are_escaped() {
        let mut line = Vec::new();
        push_escaped(&mut line, &"a\r\n\0\x1b[2J\\ é <34>x");
        assert_eq!(line, b"a\\x0d\\x0a\\x00\\x1b[2J\\\\ \\xc3\\xa9 <34>x");
    }

    #[test]
    fn syslog_lines_carry_no_control_bytes() {
        let mut syslog = Syslog {
            socket: None,
            tag: "t[1]".to_string(),
            line: Vec::new(),
        };
        syslog.format(LOG_AUTH | 4, &"x\nsshd[1]: Accepted\0");
        let line = &syslog.line[..syslog.line.len() - 1];
        assert!(
            line.ends_with(b"t[1]: x\\x0asshd[1]: Accepted\\x00"),
            "{line:?}"
        );
        assert!(line.iter().all(|b| (b' '..=b'~').contains(b)));
    }
}
