//! Logging to syslog (facility daemon, tag `inetd[pid]`) or to stderr.
//!
//! The syslog socket is non-blocking: when syslogd is slow the message is
//! dropped rather than stalling the loop. After an error the connection is
//! made again, since the syslog crate never reconnects by itself (a
//! restarted syslogd would otherwise lose every later message).

use std::collections::HashMap;
use std::fmt::Display;
use std::io::Write;
use std::time::{Duration, Instant};

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

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
    Syslog(Box<Syslog>),
}

struct Syslog {
    daemon: Option<Logger<LoggerBackend, Formatter3164>>,
    /// Facility auth, for access refusals (as tcpd logs them).
    auth: Option<Logger<LoggerBackend, Formatter3164>>,
    /// The tag of syslog lines.
    tag: String,
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

    /// Logs to syslog as `tag[pid]`.
    pub fn syslog(tag: &str) -> Log {
        Log {
            sink: Sink::Syslog(Box::new(Syslog {
                daemon: connect(Facility::LOG_DAEMON, tag),
                auth: None,
                tag: tag.to_string(),
            })),
            verbose: false,
            limited: HashMap::new(),
        }
    }

    /// Logs an access decision to facility auth at syslog `priority`
    /// (LOG_EMERG to LOG_DEBUG), as tcpd does.
    pub fn auth(&mut self, priority: i32, msg: impl Display) {
        let level = match priority {
            i32::MIN..=3 => Level::Err,
            4 => Level::Warning,
            5 => Level::Notice,
            6 => Level::Info,
            _ => Level::Debug,
        };
        match &mut self.sink {
            Sink::Stderr => self.log(level, msg),
            Sink::Syslog(syslog) => {
                let Syslog { auth, tag, .. } = &mut **syslog;
                if auth.as_mut().is_some_and(|l| send(l, level, &msg)) {
                    return;
                }
                *auth = connect(Facility::LOG_AUTH, tag);
                if let Some(l) = auth.as_mut() {
                    send(l, level, &msg);
                }
            }
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
                let _ = writeln!(std::io::stderr(), "inetd[{}]: {msg}", std::process::id());
            }
            Sink::Syslog(syslog) => {
                let Syslog { daemon, tag, .. } = &mut **syslog;
                if daemon.as_mut().is_some_and(|l| send(l, level, &msg)) {
                    return;
                }
                *daemon = connect(Facility::LOG_DAEMON, tag);
                if let Some(l) = daemon.as_mut() {
                    send(l, level, &msg);
                }
            }
        }
    }
}

fn connect(facility: Facility, tag: &str) -> Option<Logger<LoggerBackend, Formatter3164>> {
    let formatter = Formatter3164 {
        facility,
        hostname: None,
        process: tag.into(),
        pid: std::process::id(),
    };
    let logger = syslog::unix(formatter).ok()?;
    match &logger.backend {
        LoggerBackend::Unix(socket) => socket.set_nonblocking(true).ok()?,
        LoggerBackend::UnixStream(stream) => stream.get_ref().set_nonblocking(true).ok()?,
        _ => {}
    }
    Some(logger)
}

/// Whether the message went out (a full socket buffer counts: the message is dropped).
fn send(
    logger: &mut Logger<LoggerBackend, Formatter3164>,
    level: Level,
    msg: &impl Display,
) -> bool {
    let result = match level {
        Level::Err => logger.err(msg),
        Level::Warning => logger.warning(msg),
        Level::Notice => logger.notice(msg),
        Level::Info => logger.info(msg),
        Level::Debug => logger.debug(msg),
    };
    match result {
        Ok(()) => true,
        Err(syslog::Error::Io(e) | syslog::Error::Write(e)) => {
            e.kind() == std::io::ErrorKind::WouldBlock
        }
        Err(_) => false,
    }
}
