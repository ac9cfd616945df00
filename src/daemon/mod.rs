//! The daemon: one single-threaded mio loop over every listening socket,
//! the builtin connections and the signal pipe.
//!
//! Tokens (see [`Key`]): listener slots, builtin connection slots, the
//! decision pipes of `--tcpd` children and the two sides of each relay are
//! told apart by their residue mod 4; the signal pipe and rule watch have tokens of their own. Work
//! that a budget cut short goes on a ready queue and continues on the next
//! turn, after other events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::CString;
use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use libc::pid_t;
use mio::unix::SourceFd;
use mio::{Events, Poll, Token};

use crate::builtins::{self, Connection, Progress, Stream, UnsentPool};
use crate::cli::{self, Options};
use crate::config::{self, Builtin, Listen, Program, Service, SocketType};
use crate::hosts::{Decision, NoLookup, Request, RuleOption, Rules};
use crate::limits::{
    self, ClientTable, DecisionTable, FailureStreak, RateWindow, Refusal, ReplyLimiter,
};
use crate::listener::{self, Socket};
use crate::log::{Level, Log};
use crate::notify::{Notifier, ReadinessFd};
use crate::pidfile::Pidfile;
use crate::resident::LazyPages;
use crate::resolve::SystemResolver;
use crate::signals::SignalPipe;
use crate::spawn::{self, ChildSettings, Environment, Exec, Handoff, Spawner};
use crate::tcpd;
use crate::watch::RuleWatch;

mod access;
mod admission;
mod children;
mod conditions;
mod dump;
mod handoff;
mod intake;
mod listeners;
mod per_peer;
mod records;
mod relays;
mod reload;
mod rpc;
mod services;
mod sessions;
mod slots;
mod startup;

use access::*;
use admission::{Caps, Counts, Full, Kind, CLIENT_TABLE_CAPACITY};
use children::*;
use conditions::{local_minute, open_at, Banner, Closed, LoadedBanners};
use handoff::Passing;
use intake::*;
use listeners::*;
use per_peer::*;
use records::{Ended, RecordFile};
use relays::*;
use rpc::{Registrar, RPC_TOKEN};
use services::*;
use sessions::*;
use slots::Slots;
pub use startup::run;
use startup::{load, watch_rules};

const DEFAULT_PIDFILE: &str = "/var/run/inetd.pid";

/// The environment of services unless `-E` is given.
const SERVICE_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);

const RULE_WATCH_TOKEN: Token = Token(usize::MAX - 2);

/// How long a listener waits after running out of descriptors or processes.
const RESOURCE_PAUSE: Duration = Duration::from_secs(1);

/// Sources tracked by the builtin UDP reply limiter.
const REPLY_SOURCES: usize = 4096;

struct Daemon {
    opts: Options,
    log: Log,
    pidfile: Option<Pidfile>,
    poll: Poll,
    signals: SignalPipe,
    spawner: Spawner,
    /// The programs' environment, one block shared by every `Exec`.
    env: Rc<Environment>,
    /// The services by slot, and the listening socket of each that has one
    /// at the same slot.
    services: Vec<Option<Served>>,
    listeners: Vec<Option<Listener>>,
    next_service_id: u64,
    /// Builtin connections (see `sessions.rs`).
    sessions: Slots<Session>,
    /// What echo connections may still keep unsent, all together.
    unsent: UnsentPool,
    /// Sessions waiting for room in `unsent`.
    starved: Vec<usize>,
    /// Services' own log files, opened at their first record (see
    /// `records.rs`); closed at a reload, so a rotated file is let go.
    record_files: HashMap<PathBuf, RecordFile>,
    /// Redirected connections (see `relays.rs`).
    relays: Slots<RelaySlot>,
    children: Children,
    /// The access decisions under way in children, per client and in all.
    decisions: DecisionTable,
    /// fds 0-2 of `--tcpd-datagram` children.
    dev_null: std::fs::File,
    rules: Rules,
    /// Tells when the rule files may have changed (see `watch.rs`).
    rule_watch: Option<RuleWatch>,
    /// Whether the rule files may have changed since they were last
    /// compared with the loaded rules: set by the watch, or at every loop
    /// turn when there is none (once a turn sees an edit before the next
    /// wake-up, and a busy turn's connections share one stat per file).
    rules_dirty: bool,
    ready: VecDeque<Token>,
    /// Listeners at a cap of children or connections, to try again when one ends.
    blocked: Vec<usize>,
    /// Some listener is paused for lack of resources (saves a scan per exit).
    resources_paused: bool,
    replies: ReplyLimiter,
    /// Ports of the builtin dgram services: never answer a datagram from one.
    internal_dgram_ports: Vec<u16>,
    next_idle_sweep: Instant,
    /// For one read: a datagram, a session's or a relay's chunk; its
    /// pages resident only once used.
    scratch: LazyPages,
    /// Datagram replies sent, per builtin (see `builtins::Spec::datagram`).
    replies_sent: [usize; builtins::TABLE.len()],
    /// The names auth answers with, from /etc/passwd, read at each load
    /// that has an auth service (see `builtins/ident.rs`).
    user_names: builtins::ident::UserNames,
    /// RLIMIT_NOFILE: what the daemon admits must fit (see [`FD_RESERVE`]).
    fd_limit: usize,
    /// The time of this loop turn: one clock read per wake-up.
    now: Instant,
    /// The supervisor told of readiness, reloads and stopping (sd_notify).
    notifier: Notifier,
    /// `-N FD`: told once, when the sockets are first bound.
    readiness: Option<ReadinessFd>,
    /// When the supervisor's watchdog is next told all is well.
    next_watchdog: Option<Instant>,
    /// RPC services' registrations with rpcbind (see `rpc.rs`).
    rpc: Registrar,
    /// After a load: the code only loading ran leaves the resident set at
    /// the loop's first idle turn, or at this time if it is never idle
    /// (see `resident.rs`). Unmapping takes a fifth of a millisecond: what
    /// came meanwhile (the first clients, a new service's) is served first.
    shed_loading_code_by: Option<Instant>,
    terminate: bool,
}

/// How long after a load a loop never idle keeps the loading's code mapped.
const SHED_AT_THE_LATEST: Duration = Duration::from_secs(1);

impl Daemon {
    fn run(&mut self, (services, _): (Vec<Service>, usize)) -> i32 {
        self.apply(services);
        if let Some(pidfile) = &mut self.pidfile {
            if let Err(e) = pidfile.write_pid() {
                let path = pidfile.path().display();
                self.log.err(format!("{path}: cannot write pid file: {e}"));
            }
        }
        let (bound, unbound) = self.count_bound();
        self.log.info(if unbound == 0 {
            format!("ready: {bound} services")
        } else {
            format!("ready: {bound} services, {unbound} not bound yet")
        });
        let _ = self.notifier.ready();
        if let Some(readiness) = self.readiness.take() {
            if let Err(e) = readiness.signal() {
                self.log
                    .err(format!("-N: cannot write the readiness newline: {e}"));
            }
        }
        self.loaded();
        let mut events = Events::with_capacity(256);
        while !self.terminate {
            let timeout = if self.ready.is_empty() && self.shed_loading_code_by.is_none() {
                self.next_deadline()
                    .map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.log.err(format!("poll: {e}"));
                    return 1;
                }
            }
            self.now = Instant::now();
            self.shed_loading_code_when_due(events.is_empty() && self.ready.is_empty());
            // Before this wake-up's connections: may the rules have changed?
            self.rules_dirty |= match &self.rule_watch {
                None => true,
                Some(watch) => {
                    events.iter().any(|e| e.token() == RULE_WATCH_TOKEN) && watch.drain()
                }
            };
            for event in events.iter() {
                self.dispatch(event.token());
            }
            for _ in 0..self.ready.len() {
                if let Some(token) = self.ready.pop_front() {
                    self.dispatch(token);
                }
            }
            self.run_timers();
        }
        self.shutdown();
        0
    }

    fn dispatch(&mut self, token: Token) {
        if token == SIGNAL_TOKEN {
            let pending = self.signals.take();
            if pending.child {
                self.reap();
            }
            if pending.reload {
                self.reload();
            }
            if pending.dump {
                self.dump_state();
            }
            if pending.terminate {
                self.terminate = true;
            }
        } else if token == RULE_WATCH_TOKEN {
            // Read at the start of the turn.
        } else if token == RPC_TOKEN {
            self.on_rpc_readable();
        } else {
            match Key::of(token) {
                Key::Listener(slot) => self.on_listener(slot),
                Key::Session(index) => self.on_session(index),
                Key::Relay(n) => self.on_relay(n),
                Key::Decision(pid) => self.end_decision(pid),
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let listeners = self
            .listeners
            .iter()
            .flatten()
            .filter_map(|l| match l.state {
                State::Unbound(at) | State::Paused(at, _) => Some(at),
                _ => None,
            });
        let sweep = (self.sessions.len() + self.relays.len() > 0).then_some(self.next_idle_sweep);
        listeners
            .chain(sweep)
            .chain(self.log.next_tick())
            .chain(self.next_watchdog)
            .chain(self.rpc.next_deadline())
            .min()
    }

    fn run_timers(&mut self) {
        let now = self.now;
        for slot in 0..self.listeners.len() {
            match self.listeners[slot].as_ref().map(|l| l.state) {
                Some(State::Unbound(at)) if at <= now => self.bind(slot),
                Some(State::Paused(until, _)) if until <= now => self.resume(slot),
                _ => {}
            }
        }
        if self.sessions.len() + self.relays.len() > 0 && self.next_idle_sweep <= now {
            self.close_stale_relays(now);
            self.close_idle_sessions(now);
        }
        if let (Some(at), Some(every)) = (self.next_watchdog, self.notifier.watchdog_interval()) {
            if at <= now {
                let _ = self.notifier.watchdog();
                self.next_watchdog = Some(now + every);
            }
        }
        self.rpc_timers();
        self.log.tick();
    }

    fn shutdown(&mut self) {
        let _ = self.notifier.stopping();
        self.log.info("terminating");
        for slot in 0..self.listeners.len() {
            self.close_listener(slot);
        }
        self.rpc_flush();
        if let Some(pidfile) = self.pidfile.take() {
            pidfile.remove();
        }
    }
}

/// What a mio token stands for (besides the signal pipe and rule watch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// A listener's slot.
    Listener(usize),
    /// A builtin connection's slot.
    Session(usize),
    /// The decision pipe of the `--tcpd` child with this pid.
    Decision(pid_t),
    /// A relay's side: relay `n / 2`, its client (even) or target (odd).
    Relay(usize),
}

impl Key {
    fn token(self) -> Token {
        match self {
            Key::Listener(slot) => Token(slot * 4),
            Key::Session(index) => Token(index * 4 + 1),
            Key::Decision(pid) => Token(pid as usize * 4 + 2),
            Key::Relay(n) => Token(n * 4 + 3),
        }
    }

    fn of(token: Token) -> Key {
        let n = token.0 / 4;
        match token.0 % 4 {
            0 => Key::Listener(n),
            1 => Key::Session(n),
            2 => Key::Decision(n as pid_t),
            _ => Key::Relay(n),
        }
    }
}

fn label(service: &Service) -> Rc<str> {
    [&*service.name, "/", &*service.protocol].concat().into()
}

fn describe(listen: &Listen) -> Described<'_> {
    Described(listen)
}

/// Where a service listens, for log lines: formatted only when a line is
/// written (a debug line is not, unless `-d`).
struct Described<'a>(&'a Listen);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0 {
            Listen::Inet { addr, .. } => addr.fmt(f),
            Listen::Unix { path, .. } => path.display().fmt(f),
            tcpmux @ Listen::Tcpmux { .. } => tcpmux.fmt(f),
        }
    }
}

/// A client, for log lines.
enum Peer {
    Inet(SocketAddr),
    Local,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Inet(addr) => write!(f, "{addr}"),
            Peer::Local => f.write_str("local socket"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_their_token() {
        let keys = [
            Key::Listener(0),
            Key::Listener(7),
            Key::Session(0),
            Key::Session(123_456),
            Key::Decision(1),
            Key::Decision(4_194_304),
            Key::Relay(0),
            Key::Relay(9),
        ];
        for key in keys {
            assert_eq!(Key::of(key.token()), key);
        }
        // Distinct keys, distinct tokens.
        let tokens: std::collections::HashSet<Token> = keys.iter().map(|k| k.token()).collect();
        assert_eq!(tokens.len(), keys.len());
        for special in [SIGNAL_TOKEN, RULE_WATCH_TOKEN, RPC_TOKEN] {
            assert!(!tokens.contains(&special));
        }
    }
}
