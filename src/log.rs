//! Logging to syslog (facility daemon, tag `inetd[pid]`) or to stderr.
//!
//! The syslog socket is non-blocking: when syslogd is slow the message is
//! dropped rather than stalling the loop. After an error the connection is
//! made again, since the syslog crate never reconnects by itself (a
//! restarted syslogd would otherwise lose every later message).

use std::fmt::Display;
use std::io::Write;

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Err,
    Warning,
    Info,
    Debug,
}

pub struct Log {
    sink: Sink,
    verbose: bool,
}

enum Sink {
    Stderr,
    Syslog(Option<Logger<LoggerBackend, Formatter3164>>),
}

impl Log {
    /// Logs to stderr; `verbose` keeps debug messages.
    pub fn stderr(verbose: bool) -> Log {
        Log {
            sink: Sink::Stderr,
            verbose,
        }
    }

    pub fn syslog() -> Log {
        Log {
            sink: Sink::Syslog(connect()),
            verbose: false,
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

    pub fn log(&mut self, level: Level, msg: impl Display) {
        if level == Level::Debug && !self.verbose {
            return;
        }
        match &mut self.sink {
            Sink::Stderr => {
                let _ = writeln!(std::io::stderr(), "inetd[{}]: {msg}", std::process::id());
            }
            Sink::Syslog(logger) => {
                if logger.as_mut().is_some_and(|l| send(l, level, &msg)) {
                    return;
                }
                *logger = connect();
                if let Some(l) = logger.as_mut() {
                    send(l, level, &msg);
                }
            }
        }
    }
}

fn connect() -> Option<Logger<LoggerBackend, Formatter3164>> {
    let formatter = Formatter3164 {
        facility: Facility::LOG_DAEMON,
        hostname: None,
        process: "inetd".into(),
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
