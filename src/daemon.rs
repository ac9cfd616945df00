//! The daemon: one single-threaded mio loop over every listening socket,
//! the builtin connections and the signal pipe.
//!
//! Tokens (see [`Key`]): listener slots, builtin connection slots and the
//! decision pipes of `--tcpd` children are told apart by their residue
//! mod 3; the signal pipe and rule watch have tokens of their own. Work
//! that a budget cut short goes on a ready queue and continues on the next
//! turn, after other events.

use std::collections::{HashMap, VecDeque};
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
use crate::pidfile::Pidfile;
use crate::resolve::SystemResolver;
use crate::signals::SignalPipe;
use crate::spawn::{self, Exec, Spawner};
use crate::tcpd;
use crate::watch::RuleWatch;

const DEFAULT_PIDFILE: &str = "/var/run/inetd.pid";
/// The environment of services unless `-E` is given.
const SERVICE_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);
const RULE_WATCH_TOKEN: Token = Token(usize::MAX - 2);
/// Connections accepted (or datagrams read) per listener per turn, so that
/// one busy service cannot starve the others.
const ACCEPT_BATCH: usize = 64;
/// Bytes one builtin connection may move per turn.
const CONNECTION_BUDGET: usize = 128 * 1024;
/// How long a listener that could not be bound waits before trying again;
/// the wait doubles with each failure up to `BIND_RETRY_MAX`.
const BIND_RETRY: Duration = Duration::from_secs(5);
const BIND_RETRY_MAX: Duration = Duration::from_secs(60);
/// How long a listener waits after running out of descriptors or processes.
const RESOURCE_PAUSE: Duration = Duration::from_secs(1);
/// Clients tracked per service with per-client limits.
const CLIENT_TABLE_CAPACITY: usize = 4096;
/// Sources tracked by the builtin UDP reply limiter.
const REPLY_SOURCES: usize = 4096;
/// Descriptors the daemon keeps free beyond its listeners, connections and
/// decision pipes: stdio, poll, the signal pipe, inotify, /dev/null,
/// syslog, the pid file, and the transient ones (an accepted socket, a
/// pipe being made, a file a reload reads).
const FD_RESERVE: usize = 24;
/// Datagrams kept while a child decides access for their sender.
const MAX_PARKED_DATAGRAMS: usize = 16;

pub fn run(opts: Options) -> i32 {
    let detach = !opts.debug && !opts.foreground;
    prepare_descriptors(detach);
    let to_stderr = opts.debug || opts.log_stderr;
    let mut log = if to_stderr {
        Log::stderr(opts.debug)
    } else {
        Log::syslog("inetd")
    };
    let services = match load(&opts.config, &mut log) {
        Ok(services) => services,
        Err(e) => {
            let msg = format!("{}: cannot read configuration: {e}", opts.config.display());
            eprintln!("inetd: {msg}");
            log.err(msg);
            return 1;
        }
    };
    let pidfile_path = opts
        .pidfile
        .clone()
        .or_else(|| detach.then(|| PathBuf::from(DEFAULT_PIDFILE)));
    let pidfile = match pidfile_path.as_deref().map(Pidfile::lock).transpose() {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("{}: {e}", pidfile_path.unwrap_or_default().display());
            eprintln!("inetd: {msg}");
            log.err(msg);
            return 1;
        }
    };
    if detach {
        if let Err(e) = detach_from_terminal(opts.log_stderr) {
            eprintln!("inetd: cannot detach: {e}");
            return 1;
        }
        if !to_stderr {
            // The pid in the syslog tag changed.
            log = Log::syslog("inetd");
        }
    }
    match Daemon::new(opts, log, pidfile) {
        Ok(mut daemon) => daemon.run(services),
        Err(e) => {
            eprintln!("inetd: {e}");
            1
        }
    }
}

/// Watches the rule files, registered with the loop; `None` (the files are
/// then stat'ed once per loop turn) when inotify is not available.
fn watch_rules(poll: &Poll, rules: &Rules) -> Option<RuleWatch> {
    let watch = RuleWatch::new(rules.files())?;
    poll.registry()
        .register(
            &mut SourceFd(&watch.fd()),
            RULE_WATCH_TOKEN,
            mio::Interest::READABLE,
        )
        .ok()?;
    Some(watch)
}

/// Reads and parses the configuration, logging every rejected line and
/// warning. Returns the services and the number of rejected lines.
fn load(path: &Path, log: &mut Log) -> io::Result<(Vec<Service>, usize)> {
    let (services, errors) = config::load(path, &SystemResolver::default())?;
    let mut rejected = 0;
    for e in &errors {
        if e.is_warning() {
            log.warn(e);
        } else {
            rejected += 1;
            log.err(e);
        }
    }
    Ok((services, rejected))
}

/// daemon(3), but with `-e` stderr stays where it was (as busybox inetd
/// keeps it), so that `inetd -e 2>>FILE` logs to FILE.
fn detach_from_terminal(keep_stderr: bool) -> io::Result<()> {
    nix::unistd::daemon(false, true)?;
    let dev_null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&dev_null)?;
    nix::unistd::dup2_stdout(&dev_null)?;
    if !keep_stderr {
        nix::unistd::dup2_stderr(&dev_null)?;
    }
    Ok(())
}

/// Keeps fds 0-2 open (on /dev/null) so no socket ever lands there, and
/// marks every inherited descriptor above them close-on-exec so none leaks
/// into services; a daemon that detaches closes them instead, as the
/// classic inetds do, so it holds no pipe or file of whoever started it.
fn prepare_descriptors(close_inherited: bool) {
    for fd in 0..3 {
        // SAFETY: fcntl(F_GETFD) only queries; open returns a new descriptor.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: nothing of ours is open yet but read_dir's own
            // descriptor, which is gone: these are all inherited, and
            // closing or marking one that is not open is harmless.
            unsafe {
                if close_inherited {
                    libc::close(fd);
                } else {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
        }
    }
}

/// A listener and its service.
struct Listener {
    service: Service,
    /// Unique for the daemon's lifetime: slots are reused, children and
    /// connections must not be confused with a later listener's.
    id: u64,
    /// `service/protocol`, for log lines.
    label: Rc<str>,
    exec: Option<Exec>,
    /// The name matched against hosts.allow/hosts.deny daemon patterns;
    /// `None` when inetd does not check them for this service.
    access_name: Option<String>,
    socket: Option<Socket>,
    state: State,
    /// Failed binds in a row (see [`Daemon::bind`]).
    bind_failures: u32,
    limits: ServiceLimits,
    spawns: RateWindow,
    failures: FailureStreak,
    /// Live children, or open builtin connections.
    active: u32,
    /// Children of `active` still deciding access (see [`Deciding`]).
    deciding: u32,
    /// Per-client counts, when the service limits clients.
    clients: Option<ClientTable>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Listening,
    /// A `wait` child owns the socket; it is not polled until the child exits.
    Waiting(pid_t),
    /// Not bound yet (address missing, port in use): try again at this time.
    Unbound(Instant),
    /// Not polled until then (see [`Pause`]).
    Paused(Instant, Pause),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pause {
    /// Spawning faster than its rate limit: the retry time.
    Looping,
    /// Out of descriptors or processes, or the load is too high: a short
    /// pause, ended early when a child exits or a connection closes.
    Resources,
}

/// A service's limits after its own suffixes override the daemon's
/// defaults; 0 means none.
#[derive(Clone, Copy, Debug)]
struct ServiceLimits {
    spawns_per_minute: u32,
    max_active: u32,
    connections_per_client: u32,
    children_per_client: u32,
}

impl ServiceLimits {
    fn new(service: &Service, defaults: &cli::Limits) -> ServiceLimits {
        // Builtin connections are held by the daemon itself: one client
        // must not take them all, even when no `-s` is given.
        let children_per_client = match service.program {
            Program::Builtin(_) if defaults.children_per_client == 0 => {
                defaults.builtins_per_client
            }
            _ => defaults.children_per_client,
        };
        let service = &service.limits;
        ServiceLimits {
            spawns_per_minute: service.max_per_minute.unwrap_or(defaults.spawns_per_minute),
            max_active: service.max_child.unwrap_or(defaults.children_per_service),
            connections_per_client: service
                .max_conn_per_ip_per_minute
                .unwrap_or(defaults.connections_per_client),
            children_per_client: service.max_child_per_ip.unwrap_or(children_per_client),
        }
    }

    fn limits_clients(&self) -> bool {
        self.connections_per_client > 0 || self.children_per_client > 0
    }
}

impl Listener {
    fn key(&self) -> (&Listen, SocketType) {
        (&self.service.listen, self.service.socket_type)
    }

    /// External stream `nowait` services get a fresh connection per child;
    /// every other external service gets the listening socket itself.
    fn hands_over_socket(&self) -> bool {
        self.service.socket_type == SocketType::Dgram || self.service.wait
    }

    /// Counts one child or connection of `client` ended.
    fn release(&mut self, client: Option<IpAddr>, now: Instant) {
        self.active = self.active.saturating_sub(1);
        self.release_client(client, now);
    }

    fn release_client(&mut self, client: Option<IpAddr>, now: Instant) {
        if let (Some(table), Some(client)) = (self.clients.as_mut(), client) {
            table.release(client, now);
        }
    }
}

struct Child {
    listener: (usize, u64),
    label: Rc<str>,
    /// Already logged when spawn returned.
    exec_failed: bool,
    /// Started in the `--tcpd` mode: a quick non-zero exit may be a refusal.
    checked: bool,
    peer: Option<Peer>,
    /// The key this child is counted under in its listener's client table.
    client: Option<IpAddr>,
    started: Instant,
    /// While a `--tcpd` child decides access.
    deciding: Option<Deciding>,
}

/// A `--tcpd` child's access decision under way: it holds the write end of
/// this pipe on its fd 3, closed when it execs the program (or a twist) or
/// exits, which ends the decision.
struct Deciding {
    pipe: std::os::fd::OwnedFd,
    /// The key it is counted under in the daemon's decision table.
    client: Option<IpAddr>,
}

/// What [`Daemon::spawn`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    /// The service's program.
    Program,
    /// The `--tcpd` mode, which decides access, then execs the program
    /// (or, for a builtin, exits with the verdict).
    Checked,
    /// The `--tcpd-datagram` mode: the verdict for a datagram a builtin
    /// has read, to this server address.
    CheckDatagram(SocketAddr),
}

/// Why [`Daemon::spawn`] started no child.
enum NoChild {
    /// Too many access decisions under way (logged): refuse the client.
    Refused,
    /// No process could be created: pause the listener briefly.
    Failed,
}

/// A builtin TCP connection and what the daemon counts it against.
struct Session {
    connection: Connection,
    listener: (usize, u64),
    client: Option<IpAddr>,
    last_active: Instant,
}

/// A builtin connection waiting for a `--tcpd` child's access verdict.
struct Parked {
    stream: Stream,
    service: Builtin,
    client: Option<IpAddr>,
}

/// A datagram to a builtin, kept while a `--tcpd-datagram` child decides.
struct ParkedDatagram {
    service: Builtin,
    peer: SocketAddr,
    data: Vec<u8>,
}

/// What the parent decided about a client.
enum Access {
    Granted,
    Denied,
    /// A lookup or an option needs a child: run the `--tcpd` mode.
    InChild,
}

struct Daemon {
    opts: Options,
    log: Log,
    pidfile: Option<Pidfile>,
    poll: Poll,
    signals: SignalPipe,
    spawner: Spawner,
    env: Vec<CString>,
    listeners: Vec<Option<Listener>>,
    next_listener_id: u64,
    sessions: Vec<Option<Session>>,
    free_sessions: Vec<usize>,
    open_sessions: usize,
    /// What echo connections may still keep unsent, all together.
    unsent: UnsentPool,
    /// Sessions waiting for room in `unsent`.
    starved: Vec<usize>,
    children: HashMap<pid_t, Child>,
    /// The access decisions under way in children, per client and in all.
    decisions: DecisionTable,
    /// Builtin connections whose access check runs in a child, by its pid.
    parked: HashMap<pid_t, Parked>,
    parked_datagrams: HashMap<pid_t, ParkedDatagram>,
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
    scratch: Vec<u8>,
    chargen_requests: usize,
    /// RLIMIT_NOFILE: what the daemon admits must fit (see [`FD_RESERVE`]).
    fd_limit: usize,
    terminate: bool,
}

impl Daemon {
    fn new(opts: Options, log: Log, pidfile: Option<Pidfile>) -> io::Result<Daemon> {
        spawn::reset_inherited_signals();
        let nofile = spawn::raise_nofile_limit();
        let fd_limit = usize::try_from(spawn::nofile_limit()).unwrap_or(usize::MAX);
        let mut signals = SignalPipe::install()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut signals.receiver, SIGNAL_TOKEN, mio::Interest::READABLE)?;
        let env = if opts.keep_env {
            std::env::vars_os()
                .filter_map(|(k, v)| {
                    let mut entry = k.as_bytes().to_vec();
                    entry.push(b'=');
                    entry.extend_from_slice(v.as_bytes());
                    CString::new(entry).ok()
                })
                .collect()
        } else {
            vec![CString::new(SERVICE_PATH).expect("no NUL")]
        };
        let now = Instant::now();
        let replies = ReplyLimiter::new(
            now,
            opts.limits.udp_source_rate,
            opts.limits.udp_rate,
            REPLY_SOURCES,
        );
        let rules = Rules::load(&opts.hosts_allow, &opts.hosts_deny);
        let rule_watch = watch_rules(&poll, &rules);
        // Close-on-exec, as std opens every file.
        let dev_null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        Ok(Daemon {
            rules,
            rule_watch,
            rules_dirty: true,
            parked: HashMap::new(),
            parked_datagrams: HashMap::new(),
            dev_null,
            opts,
            log,
            pidfile,
            poll,
            signals,
            spawner: Spawner::new(nofile)?,
            env,
            listeners: Vec::new(),
            next_listener_id: 0,
            sessions: Vec::new(),
            free_sessions: Vec::new(),
            open_sessions: 0,
            unsent: UnsentPool::new(builtins::UNSENT_POOL),
            starved: Vec::new(),
            children: HashMap::new(),
            decisions: DecisionTable::default(),
            ready: VecDeque::new(),
            blocked: Vec::new(),
            resources_paused: false,
            replies,
            internal_dgram_ports: Vec::new(),
            next_idle_sweep: now,
            scratch: vec![0; 64 * 1024],
            chargen_requests: 0,
            fd_limit,
            terminate: false,
        })
    }

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
        let mut events = Events::with_capacity(256);
        while !self.terminate {
            let timeout = if self.ready.is_empty() {
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
            if pending.terminate {
                self.terminate = true;
            }
        } else if token == RULE_WATCH_TOKEN {
            // Read at the start of the turn.
        } else {
            match Key::of(token) {
                Key::Listener(slot) => self.on_listener(slot),
                Key::Session(index) => self.on_session(index),
                Key::Decision(pid) => self.end_decision(pid),
            }
        }
    }

    // ---- timers ----

    fn next_deadline(&self) -> Option<Instant> {
        let listeners = self
            .listeners
            .iter()
            .flatten()
            .filter_map(|l| match l.state {
                State::Unbound(at) | State::Paused(at, _) => Some(at),
                _ => None,
            });
        let sweep = (self.open_sessions > 0).then_some(self.next_idle_sweep);
        listeners.chain(sweep).chain(self.log.next_tick()).min()
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        for slot in 0..self.listeners.len() {
            match self.listeners[slot].as_ref().map(|l| l.state) {
                Some(State::Unbound(at)) if at <= now => self.bind(slot),
                Some(State::Paused(until, _)) if until <= now => self.resume(slot),
                _ => {}
            }
        }
        if self.open_sessions > 0 && self.next_idle_sweep <= now {
            self.close_idle_sessions(now);
        }
        self.log.tick();
    }

    // ---- configuration: apply, reload, shutdown ----

    /// Replaces the running services with `services`. Listeners whose
    /// (address or path, socket type) is unchanged keep their socket, state
    /// and counts; the rest are closed or opened.
    fn apply(&mut self, services: Vec<Service>) {
        let mut old: Vec<Option<Listener>> = std::mem::take(&mut self.listeners);
        // One lookup per new service, so a reload is linear in its size.
        let mut by_key: HashMap<(Listen, SocketType), usize> = old
            .iter()
            .enumerate()
            .filter_map(|(slot, l)| {
                let (listen, socket_type) = l.as_ref()?.key();
                Some(((listen.clone(), socket_type), slot))
            })
            .collect();
        let mut fresh: Vec<Service> = Vec::new();
        for service in services {
            match by_key.remove(&(service.listen.clone(), service.socket_type)) {
                Some(slot) => {
                    let Some(exec) = self.prepare_exec(&service) else {
                        continue;
                    };
                    let mut listener = old[slot].take().expect("each slot is keyed once");
                    listener.access_name = self.checked_name(&service);
                    listener.label = label(&service);
                    listener.limits = ServiceLimits::new(&service, &self.opts.limits);
                    listener.service = service;
                    listener.exec = exec;
                    self.put_listener(slot, listener);
                }
                None => fresh.push(service),
            }
        }
        for listener in old.into_iter().flatten() {
            self.close_listener(listener);
        }
        let mut free_slot = 0;
        for service in fresh {
            let Some(exec) = self.prepare_exec(&service) else {
                continue;
            };
            let id = self.next_listener_id;
            self.next_listener_id += 1;
            let listener = Listener {
                label: label(&service),
                limits: ServiceLimits::new(&service, &self.opts.limits),
                access_name: self.checked_name(&service),
                service,
                id,
                exec,
                socket: None,
                state: State::Unbound(Instant::now()),
                bind_failures: 0,
                spawns: RateWindow::default(),
                failures: FailureStreak::default(),
                active: 0,
                deciding: 0,
                clients: None,
            };
            // Slots below `free_slot` are taken: the scan is linear in all.
            while self.listeners.get(free_slot).is_some_and(Option::is_some) {
                free_slot += 1;
            }
            let slot = free_slot;
            self.put_listener(slot, listener);
            self.bind(slot);
        }
        self.listeners.shrink_to_fit();
        // The parse left its garbage at the top of the heap: give it back
        // rather than hold it for the daemon's lifetime.
        // SAFETY: malloc_trim only returns free memory to the kernel.
        unsafe { libc::malloc_trim(0) };
        self.internal_dgram_ports = self
            .listeners
            .iter()
            .flatten()
            .filter_map(|l| match (&l.service.program, &l.service.listen) {
                (Program::Builtin(_), Listen::Inet { addr, .. })
                    if l.service.socket_type == SocketType::Dgram =>
                {
                    Some(addr.port())
                }
                _ => None,
            })
            .collect();
    }

    /// The access name of a service whose access inetd checks: not with
    /// `--no-wrap`, nor when the program is tcpd, which checks the rules
    /// itself (checking them twice would run `spawn` and send banners twice).
    fn checked_name(&self, service: &Service) -> Option<String> {
        let tcpd = matches!(&service.program,
            Program::External { path, .. } if path.file_name().is_some_and(|n| n == "tcpd"));
        (self.opts.wrap && !tcpd).then(|| service.access_name())
    }

    fn put_listener(&mut self, slot: usize, listener: Listener) {
        if slot >= self.listeners.len() {
            self.listeners.resize_with(slot + 1, || None);
        }
        self.listeners[slot] = Some(listener);
    }

    /// `Some(None)` for builtins, `None` when the program cannot be prepared.
    fn prepare_exec(&mut self, service: &Service) -> Option<Option<Exec>> {
        let Program::External { path, argv } = &service.program else {
            return Some(None);
        };
        match Exec::new(path, argv, &self.env, service.user.switch()) {
            Ok(exec) => Some(Some(exec)),
            Err(e) => {
                self.log.err(format!(
                    "{}:{}: {}: {e}",
                    service.file,
                    service.line,
                    path.display()
                ));
                None
            }
        }
    }

    /// The access-control name of a service (what tcpd would see: the
    /// basename of argv[0], or the builtin's name) and the `--tcpd` child
    /// that checks it when the parent cannot.
    /// inetd's `--tcpd` mode in front of the listener's program (or, for a
    /// builtin, alone), for an access decision that must be made in a child.
    /// Built when needed rather than kept: most services never need it.
    fn checked_exec(&self, slot: usize) -> Option<Exec> {
        let listener = self.listeners[slot].as_ref()?;
        let mut program = Vec::new();
        if let Program::External { path, argv } = &listener.service.program {
            program.push(path.to_string_lossy().into_owned());
            program.extend(argv.iter().cloned());
        }
        let user = &listener.service.user;
        let name = listener.access_name.as_deref()?;
        self.tcpd_exec("--tcpd", &[], name, &program, user).ok()
    }

    /// inetd's `--tcpd-datagram` mode, for the verdict on a datagram from
    /// `client` that a builtin has already read.
    fn datagram_check_exec(
        &self,
        slot: usize,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Option<Exec> {
        let listener = self.listeners[slot].as_ref()?;
        let name = listener.access_name.as_deref()?;
        let addresses = [client.to_string(), server.to_string()];
        let user = &listener.service.user;
        self.tcpd_exec("--tcpd-datagram", &addresses, name, &[], user)
            .ok()
    }

    /// inetd itself in one of its tcpd modes (see `tcpd.rs`), as `user`:
    /// `inetd MODE [ADDRESSES] ALLOW DENY NAME [PROGRAM ARGV...]`.
    fn tcpd_exec(
        &self,
        mode: &str,
        addresses: &[String],
        name: &str,
        program: &[String],
        user: &config::Credentials,
    ) -> io::Result<Exec> {
        let mut argv = vec!["inetd".to_string(), mode.to_string()];
        // The child logs where the daemon does (see tcpd.rs).
        let to_stderr = self.opts.debug || self.opts.log_stderr;
        if to_stderr {
            argv.push(tcpd::LOG_STDERR.to_string());
        }
        argv.extend(addresses.iter().cloned());
        argv.push(self.opts.hosts_allow.to_string_lossy().into_owned());
        argv.push(self.opts.hosts_deny.to_string_lossy().into_owned());
        argv.push(name.to_string());
        argv.extend(program.iter().cloned());
        let exec = Exec::new(Path::new("/proc/self/exe"), &argv, &self.env, user.switch())?;
        Ok(if to_stderr { exec.keep_stderr() } else { exec })
    }

    /// Reloads the rule files if they changed; false when they grant
    /// everything (no files, say), so no address need even be looked at.
    fn rules_apply(&mut self) -> bool {
        if self.rules_dirty {
            self.rules_dirty = false;
            if self.rules.is_stale() {
                self.rules = Rules::load(&self.opts.hosts_allow, &self.opts.hosts_deny);
                // The files may be new inodes, and the host lists other files.
                if let Some(old) = self.rule_watch.take() {
                    let _ = self.poll.registry().deregister(&mut SourceFd(&old.fd()));
                }
                self.rule_watch = watch_rules(&self.poll, &self.rules);
                // An edit between the load and the new watch made no event:
                // compare the stamps once more at the next check.
                self.rules_dirty = true;
            }
        }
        !self.rules.grants_all()
    }

    /// Decides access in the parent, without blocking: with no lookups, and
    /// only when the matched rule has no option that must run in a child.
    /// A refusal decided here is logged like tcpd's.
    fn check_access(&mut self, slot: usize, client: SocketAddr, server: SocketAddr) -> Access {
        let Some(listener) = self.listeners[slot].as_ref() else {
            return Access::Denied;
        };
        let Some(daemon) = &listener.access_name else {
            return Access::Granted;
        };
        let request = Request {
            daemon,
            client,
            server,
            pid: None,
        };
        match self.rules.decide(&request, &mut NoLookup) {
            Decision::Granted(outcome) if !outcome.options.iter().any(runs_in_child) => {
                Access::Granted
            }
            Decision::Denied(outcome) if !outcome.options.iter().any(runs_in_child) => {
                let label = listener.label.clone();
                self.log.auth_limited(
                    "refused",
                    outcome.deny_severity(),
                    format!("{label}: {}", outcome.refused_message()),
                );
                Access::Denied
            }
            _ => Access::InChild,
        }
    }

    fn close_listener(&mut self, mut listener: Listener) {
        if let Some(socket) = &mut listener.socket {
            if listener.state == State::Listening {
                let _ = socket.deregister(self.poll.registry());
            }
        }
        // A unix socket's file goes with it, if it is still ours.
        drop(listener.socket.take());
        self.log.info(format!("{}: removed", listener.label));
    }

    fn reload(&mut self) {
        self.log.info("SIGHUP: reloading configuration");
        match load(&self.opts.config.clone(), &mut self.log) {
            Ok((services, 0)) => {
                self.apply(services);
                let (bound, unbound) = self.count_bound();
                self.log.info(if unbound == 0 {
                    format!("reloaded: {bound} services")
                } else {
                    format!("reloaded: {bound} services, {unbound} not bound yet")
                });
            }
            Ok((_, errors)) => self.log.err(format!(
                "{}: {errors} bad lines, configuration not reloaded: the old one keeps serving",
                self.opts.config.display()
            )),
            Err(e) => self.log.err(format!(
                "{}: {e}: configuration not reloaded: the old one keeps serving",
                self.opts.config.display()
            )),
        }
    }

    fn shutdown(&mut self) {
        self.log.info("terminating");
        for listener in std::mem::take(&mut self.listeners).into_iter().flatten() {
            self.close_listener(listener);
        }
        if let Some(pidfile) = self.pidfile.take() {
            pidfile.remove();
        }
    }

    // ---- binding, pausing, resuming ----

    fn bind(&mut self, slot: usize) {
        let backlog = self.opts.backlog;
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        match listener::open(
            &listener.service.listen,
            listener.service.socket_type,
            backlog,
        ) {
            Ok(mut socket) => {
                if let Err(e) = socket.register(self.poll.registry(), Key::Listener(slot).token()) {
                    self.log.err(format!("{}: register: {e}", listener.label));
                    listener.state = State::Unbound(Instant::now() + BIND_RETRY);
                    return;
                }
                listener.socket = Some(socket);
                listener.state = State::Listening;
                let failures = std::mem::take(&mut listener.bind_failures);
                let msg = format!(
                    "{}: listening on {}",
                    listener.label,
                    describe(&listener.service.listen)
                );
                if failures == 0 {
                    self.log.debug(msg);
                } else {
                    self.log
                        .info(format!("{msg} after {failures} failed attempts"));
                }
            }
            Err(e) => {
                // A port that stays taken is retried ever less often, and
                // logged at the 1st, 2nd, 4th, 8th... failure, not forever.
                listener.bind_failures = listener.bind_failures.saturating_add(1);
                let failures = listener.bind_failures;
                let retry = BIND_RETRY
                    .saturating_mul(1 << (failures - 1).min(8))
                    .min(BIND_RETRY_MAX);
                if failures.is_power_of_two() {
                    let again = if failures == 1 {
                        String::new()
                    } else {
                        format!(" (failed {failures} times)")
                    };
                    self.log.err(format!(
                        "{}: cannot bind {}: {e}{again}; retrying in {} s",
                        listener.label,
                        describe(&listener.service.listen),
                        retry.as_secs()
                    ));
                }
                listener.state = State::Unbound(Instant::now() + retry);
            }
        }
    }

    /// Listeners with a socket, and those still waiting to bind one.
    fn count_bound(&self) -> (usize, usize) {
        let listeners = self.listeners.iter().flatten();
        let unbound = listeners
            .clone()
            .filter(|l| matches!(l.state, State::Unbound(_)))
            .count();
        (listeners.count() - unbound, unbound)
    }

    /// Stops polling the listener until `until` (the socket stays bound, so
    /// no other program can take the port).
    fn pause(&mut self, slot: usize, until: Instant, why: Pause) {
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        if let Some(socket) = listener.socket.as_mut() {
            let _ = socket.deregister(self.poll.registry());
        }
        listener.state = State::Paused(until, why);
        self.resources_paused |= why == Pause::Resources;
    }

    /// Polls the listener again; registering reports what is already
    /// pending, so no connection or datagram waits for the next one.
    fn resume(&mut self, slot: usize) {
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        let Some(socket) = listener.socket.as_mut() else {
            return;
        };
        let restored = socket
            .set_nonblocking()
            .and_then(|()| socket.register(self.poll.registry(), Key::Listener(slot).token()));
        match restored {
            Ok(()) => listener.state = State::Listening,
            Err(e) => {
                let label = listener.label.clone();
                self.log
                    .err(format!("{label}: cannot resume listening: {e}"));
                listener.state = State::Paused(Instant::now() + RESOURCE_PAUSE, Pause::Resources);
                self.resources_paused = true;
            }
        }
    }

    /// A child exited or a connection closed: listeners waiting for room
    /// try again, and so do those paused for lack of descriptors.
    fn wake_blocked(&mut self) {
        for slot in self.blocked.drain(..) {
            self.ready.push_back(Key::Listener(slot).token());
        }
        if !std::mem::take(&mut self.resources_paused) {
            return;
        }
        for slot in 0..self.listeners.len() {
            let paused = self.listeners[slot]
                .as_ref()
                .is_some_and(|l| matches!(l.state, State::Paused(_, Pause::Resources)));
            if paused {
                self.resume(slot);
            }
        }
    }

    // ---- admission ----

    /// Whether the listener may start one more child or connection now:
    /// its own cap, the daemon-wide cap for its kind, and its cap of access
    /// checks. When not, it is tried again as soon as one ends. `holds`: a
    /// connection would be held (not a daytime or time answer, which holds
    /// nothing, so only the cap of access checks applies to it).
    fn has_room(&mut self, slot: usize, holds: bool) -> bool {
        let Some(listener) = self.listeners[slot].as_ref() else {
            return false;
        };
        let limits = &self.opts.limits;
        let (in_use, cap) = match listener.service.program {
            Program::Builtin(_) if !holds => (0, 0),
            Program::Builtin(_) => (self.open_sessions, limits.max_builtins),
            Program::External { .. } => (self.children.len(), limits.max_children),
        };
        let own_cap = if holds { listener.limits.max_active } else { 0 };
        // A held connection keeps its descriptor; the others' accepted
        // socket is passed on at once, within the reserve.
        let holds_fd = holds && matches!(listener.service.program, Program::Builtin(_));
        let full = if holds_fd && !self.fd_room(1) {
            Some(format!("the descriptor limit ({})", self.fd_limit))
        } else if (cap > 0 && in_use >= cap as usize)
            || (own_cap > 0 && listener.active >= own_cap)
            || !self.decision_room(listener)
        {
            Some("its limit of concurrent children or connections".to_string())
        } else {
            None
        };
        let Some(limit) = full else {
            return true;
        };
        if !self.blocked.contains(&slot) {
            self.blocked.push(slot);
        }
        let label = listener.label.clone();
        self.log.limited(
            "at capacity",
            Level::Notice,
            format!("{label}: at {limit}, waiting"),
        );
        false
    }

    /// Whether `more` descriptors fit beside those the daemon holds for its
    /// listeners, connections and decisions, keeping [`FD_RESERVE`] free:
    /// so that no client can make accept, spawn or a reload fail for lack
    /// of descriptors.
    fn fd_room(&self, more: usize) -> bool {
        let held = self.listeners.len()
            + self.open_sessions
            + self.parked.len()
            + self.decisions.total() as usize;
        held + more + FD_RESERVE <= self.fd_limit
    }

    /// Whether the listener's service may start one more access check in a
    /// child. At its cap it waits, like at a cap of children, even for
    /// clients that would need none: which ones do is known only after
    /// accepting, and one slow resolver must not take other services' slots.
    fn decision_room(&self, listener: &Listener) -> bool {
        let cap = self.opts.limits.decisions_per_service;
        cap == 0 || listener.deciding < cap
    }

    /// The load average check of `-L`; pauses the listener briefly when high.
    fn load_allows(&mut self, slot: usize) -> bool {
        let Some(max) = self.opts.limits.max_load else {
            return true;
        };
        // procfs, read each time: a few cheap syscalls, and only with -L.
        let load: Option<f64> = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok());
        let Some(load) = load.filter(|&load| load > max) else {
            return true;
        };
        if let Some(label) = self.listeners[slot].as_ref().map(|l| l.label.clone()) {
            self.log.limited(
                "load",
                Level::Notice,
                format!("{label}: load average {load:.2} above {max}, not starting servers"),
            );
        }
        self.pause(slot, Instant::now() + RESOURCE_PAUSE, Pause::Resources);
        false
    }

    /// Pauses a service whose children fail at once, one after the other,
    /// for the retry time: one line says so, with the count.
    fn pause_looping(&mut self, slot: usize, status: libc::c_int) {
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        let failures = std::mem::take(&mut listener.failures).count();
        let retry = self.opts.limits.retry_time;
        self.log.err(format!(
            "{} server failing (looping): {failures} children in a row failed at once, \
             the last {}; service paused for {} s",
            listener.label,
            describe_exit(status),
            retry.as_secs()
        ));
        self.pause(slot, Instant::now() + retry, Pause::Looping);
    }

    /// Counts one spawn against the service's rate; when over it, the
    /// service is paused for the retry time, as the BSD inetds do.
    fn rate_allows(&mut self, slot: usize) -> bool {
        let now = Instant::now();
        let Some(listener) = self.listeners[slot].as_mut() else {
            return false;
        };
        let limit = listener.limits.spawns_per_minute;
        if limit == 0 || listener.spawns.allow(now, limit, limits::MINUTE) {
            return true;
        }
        // Counting starts afresh when the service resumes.
        listener.spawns = RateWindow::default();
        let retry = self.opts.limits.retry_time;
        self.log.err(format!(
            "{} server failing (looping), service paused for {} s",
            listener.label,
            retry.as_secs()
        ));
        self.pause(slot, now + retry, Pause::Looping);
        false
    }

    /// Counts a connection from `peer` against the per-client limits.
    /// Returns the key it is counted under, or `Err` when it must be refused.
    fn admit_client(&mut self, slot: usize, peer: &Peer) -> Result<Option<IpAddr>, Refusal> {
        let (Some(listener), Peer::Inet(addr)) = (self.listeners[slot].as_mut(), peer) else {
            return Ok(None);
        };
        let limits = listener.limits;
        if !limits.limits_clients() {
            return Ok(None);
        }
        let key = limits::client_key(addr.ip(), self.opts.limits.v6_prefix);
        // Room for every client a builtin may hold a connection for.
        let capacity = match listener.service.program {
            Program::Builtin(_) => {
                CLIENT_TABLE_CAPACITY.max(self.opts.limits.max_builtins as usize)
            }
            Program::External { .. } => CLIENT_TABLE_CAPACITY,
        };
        let table = listener
            .clients
            .get_or_insert_with(|| ClientTable::new(capacity));
        let nonzero = |n: u32| (n > 0).then_some(n);
        match table.admit(
            key,
            Instant::now(),
            nonzero(limits.connections_per_client),
            nonzero(limits.children_per_client),
        ) {
            Ok(()) => Ok(Some(key)),
            Err(refusal) => {
                let label = listener.label.clone();
                let why = match refusal {
                    Refusal::Rate => "too many connections per minute",
                    Refusal::Children => "too many concurrent connections",
                    Refusal::Full => "too many clients",
                };
                self.log.limited(
                    "client limit",
                    Level::Warning,
                    format!("{label}: refused connection from {addr}: {why}"),
                );
                Err(refusal)
            }
        }
    }

    // ---- listeners ----

    fn on_listener(&mut self, slot: usize) {
        let Some(listener) = self.listeners.get(slot).and_then(Option::as_ref) else {
            return;
        };
        if listener.state != State::Listening {
            return;
        }
        match (&listener.service.program, listener.service.socket_type) {
            (Program::Builtin(service), SocketType::Stream) => self.accept_builtin(slot, *service),
            (Program::Builtin(service), SocketType::Dgram) => self.serve_datagrams(slot, *service),
            (Program::External { .. }, _) if listener.hands_over_socket() => {
                self.spawn_waiting(slot)
            }
            (Program::External { .. }, _) => self.accept_and_spawn(slot),
        }
    }

    /// Accepts one connection; `None` when there is none or accepting failed.
    fn accept(&mut self, slot: usize) -> Option<(Stream, Peer)> {
        let listener = self.listeners[slot].as_ref()?;
        let accepted = match listener.socket.as_ref()? {
            Socket::Tcp(s) => s.accept().map(|(s, a)| (Stream::Tcp(s), Peer::Inet(a))),
            Socket::UnixStream(s) => s.accept().map(|(s, _)| (Stream::Unix(s), Peer::Local)),
            Socket::Udp(_) | Socket::UnixDgram(_) => return None,
        };
        match accepted {
            Ok((stream, peer)) => {
                if self.opts.log_connections {
                    let label = listener.label.clone();
                    self.log.info(format!("{label}: connection from {peer}"));
                }
                Some((stream, peer))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {
                // The client gave up; try the next one.
                self.ready.push_back(Key::Listener(slot).token());
                None
            }
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: the pending
                // connection stays in the backlog. The listener is edge
                // triggered, so pause it rather than spin, until a
                // descriptor is freed or a short time has passed.
                let label = listener.label.clone();
                self.log.limited(
                    "accept",
                    Level::Err,
                    format!("{label}: accept: {e}; pausing briefly"),
                );
                self.pause(slot, Instant::now() + RESOURCE_PAUSE, Pause::Resources);
                None
            }
        }
    }

    fn accept_and_spawn(&mut self, slot: usize) {
        for _ in 0..ACCEPT_BATCH {
            if !self.has_room(slot, true) || !self.load_allows(slot) {
                return;
            }
            let Some((stream, peer)) = self.accept(slot) else {
                return;
            };
            if !self.rate_allows(slot) {
                return;
            }
            let Ok(client) = self.admit_client(slot, &peer) else {
                continue;
            };
            let run = match self.stream_access(slot, &stream, &peer) {
                Access::Granted => Run::Program,
                Access::InChild => Run::Checked,
                Access::Denied => {
                    self.release_client(slot, client);
                    continue;
                }
            };
            match self.spawn(slot, stream.raw_fd(), Some(peer), client, run) {
                Ok(_) => {}
                Err(NoChild::Refused) => self.release_client(slot, client),
                Err(NoChild::Failed) => {
                    self.release_client(slot, client);
                    self.pause(slot, Instant::now() + RESOURCE_PAUSE, Pause::Resources);
                    return;
                }
            }
        }
        self.ready.push_back(Key::Listener(slot).token());
    }

    /// Hands the listening socket itself to a child and stops polling it.
    /// A datagram service's access is checked against the sender of the
    /// waiting datagram (a stream `wait` service has no client yet).
    fn spawn_waiting(&mut self, slot: usize) {
        if !self.has_room(slot, true) || !self.load_allows(slot) || !self.rate_allows(slot) {
            return;
        }
        let (run, peer) = match self.datagram_access(slot) {
            None => (Run::Program, None),
            Some((Access::Granted, sender)) => (Run::Program, Some(Peer::Inet(sender))),
            Some((Access::InChild, sender)) => (Run::Checked, Some(Peer::Inet(sender))),
            Some((Access::Denied, _)) => {
                // Refused: the datagram is consumed, and the next one looked at.
                self.drain_failed_datagram(slot);
                self.ready.push_back(Key::Listener(slot).token());
                return;
            }
        };
        let Some(socket) = self.listeners[slot]
            .as_mut()
            .and_then(|l| l.socket.as_mut())
        else {
            return;
        };
        let _ = socket.deregister(self.poll.registry());
        let fd = socket.raw_fd();
        match self.spawn(slot, fd, peer, None, run) {
            Ok(pid) => {
                if let Some(listener) = self.listeners[slot].as_mut() {
                    listener.state = State::Waiting(pid);
                }
            }
            Err(NoChild::Refused) => {
                // As a refusal: the datagram is consumed.
                self.drain_failed_datagram(slot);
                self.resume(slot);
            }
            Err(NoChild::Failed) => {
                self.drain_failed_datagram(slot);
                self.pause(slot, Instant::now() + RESOURCE_PAUSE, Pause::Resources);
            }
        }
    }

    /// Access for the sender of the datagram waiting on a UDP listener, and
    /// that sender; `None` when there is no such datagram or it is not a UDP
    /// socket.
    fn datagram_access(&mut self, slot: usize) -> Option<(Access, SocketAddr)> {
        if !self.rules_apply() {
            return None;
        }
        let Some(Socket::Udp(udp)) = self.listeners[slot].as_ref()?.socket.as_ref() else {
            return None;
        };
        let (_, client) = udp.peek_from(&mut [0u8; 1]).ok()?;
        let server = udp.local_addr().ok()?;
        Some((self.check_access(slot, client, server), client))
    }

    /// Access for an accepted connection (UNIX sockets have no address to check).
    fn stream_access(&mut self, slot: usize, stream: &Stream, peer: &Peer) -> Access {
        if !self.rules_apply() {
            return Access::Granted;
        }
        match (stream, peer) {
            (Stream::Tcp(tcp), Peer::Inet(client)) => match tcp.local_addr() {
                Ok(server) => self.check_access(slot, *client, server),
                Err(_) => Access::Denied,
            },
            _ => Access::Granted,
        }
    }

    fn release_client(&mut self, slot: usize, client: Option<IpAddr>) {
        if let Some(listener) = self.listeners[slot].as_mut() {
            listener.release_client(client, Instant::now());
        }
    }

    /// Starts the listener's program on `fd` (or the `--tcpd` mode that
    /// decides access first, see [`Run`]) and counts the child. Returns its
    /// pid, also when exec failed (the child exits 127 and is reaped as
    /// usual).
    fn spawn(
        &mut self,
        slot: usize,
        fd: std::os::fd::RawFd,
        peer: Option<Peer>,
        client: Option<IpAddr>,
        run: Run,
    ) -> Result<pid_t, NoChild> {
        let checked = run != Run::Program;
        let exec = match run {
            Run::Program => None,
            Run::Checked => Some(self.checked_exec(slot).ok_or(NoChild::Failed)?),
            Run::CheckDatagram(server) => {
                let client = match &peer {
                    Some(Peer::Inet(addr)) => *addr,
                    _ => return Err(NoChild::Failed),
                };
                Some(
                    self.datagram_check_exec(slot, client, server)
                        .ok_or(NoChild::Failed)?,
                )
            }
        };
        let deciding = if checked {
            let ip = match &peer {
                Some(Peer::Inet(addr)) => Some(addr.ip()),
                _ => None,
            };
            Some(self.begin_decision(slot, ip).ok_or(NoChild::Refused)?)
        } else {
            None
        };
        let listener = self.listeners[slot].as_mut().ok_or(NoChild::Failed)?;
        let exec = match &exec {
            Some(exec) => exec,
            None => listener.exec.as_ref().ok_or(NoChild::Failed)?,
        };
        // A failing `wait` dgram program consumes the datagram it was for.
        let drain = listener.service.socket_type == SocketType::Dgram
            && !matches!(run, Run::CheckDatagram(_));
        let write_end = deciding.as_ref().map(|(_, write)| write.as_raw_fd());
        let result = self.spawner.spawn(exec, fd, write_end, drain);
        let label = listener.label.clone();
        let (pid, exec_failed) = match result {
            Ok(pid) => (pid, false),
            Err(e) => {
                let program = match &listener.service.program {
                    Program::External { path, .. } => path.display().to_string(),
                    Program::Builtin(_) => String::new(),
                };
                let msg = format!("{label}: {program}: {}: {}", e.step, e.error);
                self.log.limited("spawn", Level::Err, msg);
                match e.pid {
                    Some(pid) => (pid, true),
                    None => {
                        if let Some((deciding, _)) = deciding {
                            self.decisions.release(deciding.client);
                        }
                        return Err(NoChild::Failed);
                    }
                }
            }
        };
        listener.active += 1;
        let listener_id = (slot, listener.id);
        // The child has its copy of the write end (or has exited): only its
        // closing it must end the decision.
        let deciding = deciding.map(|(deciding, _write)| {
            // Unwatched, the decision ends when the child is reaped.
            let _ = self.poll.registry().register(
                &mut SourceFd(&deciding.pipe.as_raw_fd()),
                Key::Decision(pid).token(),
                mio::Interest::READABLE,
            );
            listener.deciding += 1;
            deciding
        });
        self.children.insert(
            pid,
            Child {
                listener: listener_id,
                label: label.clone(),
                exec_failed,
                checked,
                peer,
                client,
                started: Instant::now(),
                deciding,
            },
        );
        self.log.debug(format_args!("{label}: started pid {pid}"));
        Ok(pid)
    }

    /// Admits one more access decision in a child for a client of the
    /// listener's service, with the pipe that tells when it is over (read
    /// end kept, write end for the child). `None`, logged, when the
    /// service, the client or the daemon already has as many as allowed.
    fn begin_decision(
        &mut self,
        slot: usize,
        ip: Option<IpAddr>,
    ) -> Option<(Deciding, std::os::fd::OwnedFd)> {
        let limits = &self.opts.limits;
        let listener = self.listeners[slot].as_ref()?;
        let key = ip.map(|ip| limits::client_key(ip, limits.v6_prefix));
        let service_full =
            limits.decisions_per_service > 0 && listener.deciding >= limits.decisions_per_service;
        // Its pipe, and the connection a builtin holds meanwhile.
        if service_full
            || !self.fd_room(2)
            || !self
                .decisions
                .admit(key, limits.decisions_per_client, self.max_decisions())
        {
            let label = listener.label.clone();
            let client = ip.map_or(String::new(), |ip| format!(" from {ip}"));
            self.log.limited(
                "decisions",
                Level::Warning,
                format!("{label}: refused connection{client}: too many access checks under way"),
            );
            return None;
        }
        let flags = nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK;
        match nix::unistd::pipe2(flags) {
            Ok((read, write)) => Some((
                Deciding {
                    pipe: read,
                    client: key,
                },
                write,
            )),
            Err(e) => {
                self.decisions.release(key);
                self.log
                    .limited("pipe", Level::Err, format!("decision pipe: {e}"));
                None
            }
        }
    }

    /// Decisions in children of all services together: at most half the
    /// children, so that services needing no lookup always have room.
    fn max_decisions(&self) -> u32 {
        self.opts.limits.max_children.div_ceil(2)
    }

    /// A `--tcpd` child's decision is over (its pipe closed, or it was
    /// reaped): its client and its service may start another.
    fn end_decision(&mut self, pid: pid_t) {
        let Some(child) = self.children.get_mut(&pid) else {
            return;
        };
        let Some(deciding) = child.deciding.take() else {
            return;
        };
        let (slot, id) = child.listener;
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&deciding.pipe.as_raw_fd()));
        self.decisions.release(deciding.client);
        if let Some(listener) = self.listeners.get_mut(slot).and_then(Option::as_mut) {
            if listener.id == id {
                listener.deciding = listener.deciding.saturating_sub(1);
            }
        }
        self.wake_blocked();
    }

    /// A `wait` dgram child that failed may not have read the datagram that
    /// started it; left there, it would start the next child at once, and
    /// so on forever. Consume one (the rate limit bounds what is left).
    fn drain_failed_datagram(&mut self, slot: usize) {
        if let Some(listener) = self.listeners[slot].as_ref() {
            if let (SocketType::Dgram, Some(socket)) =
                (listener.service.socket_type, &listener.socket)
            {
                socket.drain_datagram();
            }
        }
    }

    // ---- builtins ----

    fn accept_builtin(&mut self, slot: usize, service: Builtin) {
        // Daytime and time answer at once and hold nothing: only the cap of
        // access checks applies (and, for one that runs, the child caps).
        let holds_connection = !matches!(service, Builtin::Daytime | Builtin::Time);
        for _ in 0..ACCEPT_BATCH {
            if !self.has_room(slot, holds_connection) {
                return;
            }
            let Some((mut stream, peer)) = self.accept(slot) else {
                return;
            };
            let Ok(client) = self.admit_client(slot, &peer) else {
                continue;
            };
            match self.stream_access(slot, &stream, &peer) {
                Access::Granted => {}
                Access::Denied => {
                    self.release_client(slot, client);
                    continue;
                }
                Access::InChild => {
                    self.park(slot, stream, service, peer, client);
                    continue;
                }
            }
            if holds_connection {
                self.open_session(slot, stream, service, client);
                continue;
            }
            // A fresh connection's send buffer is empty: these short
            // answers are written whole, without waiting.
            let _ = match service {
                Builtin::Daytime => stream.write(&builtins::daytime()),
                _ => stream.write(&builtins::time()),
            };
            self.release_client(slot, client);
        }
        self.ready.push_back(Key::Listener(slot).token());
    }

    /// Starts the `--tcpd` child on a builtin connection, which waits for
    /// its verdict (see [`Daemon::serve_parked`]).
    fn park(
        &mut self,
        slot: usize,
        stream: Stream,
        service: Builtin,
        peer: Peer,
        client: Option<IpAddr>,
    ) {
        if !self.rate_allows(slot) {
            self.release_client(slot, client);
            return;
        }
        if !self.child_room(slot) {
            // The connection is already accepted: refuse it rather than hold it.
            if let Some(label) = self.listeners[slot].as_ref().map(|l| l.label.clone()) {
                self.log.limited(
                    "at capacity",
                    Level::Notice,
                    format!("{label}: refused connection from {peer}: no room for an access check"),
                );
            }
            self.release_client(slot, client);
            return;
        }
        match self.spawn(slot, stream.raw_fd(), Some(peer), None, Run::Checked) {
            Ok(pid) => {
                self.parked.insert(
                    pid,
                    Parked {
                        stream,
                        service,
                        client,
                    },
                );
            }
            Err(NoChild::Refused) => self.release_client(slot, client),
            Err(NoChild::Failed) => {
                self.release_client(slot, client);
                self.pause(slot, Instant::now() + RESOURCE_PAUSE, Pause::Resources);
            }
        }
    }

    /// The `--tcpd` child granted access: serve the builtin connection.
    fn serve_parked(&mut self, slot: usize, parked: Parked) {
        let Parked {
            mut stream,
            service,
            client,
        } = parked;
        if listener::set_nonblocking(stream.raw_fd()).is_err() {
            self.release_client(slot, client);
            return;
        }
        match service {
            Builtin::Daytime | Builtin::Time => {
                let _ = match service {
                    Builtin::Daytime => stream.write(&builtins::daytime()),
                    _ => stream.write(&builtins::time()),
                };
                self.release_client(slot, client);
            }
            _ => self.open_session(slot, stream, service, client),
        }
    }

    fn open_session(
        &mut self,
        slot: usize,
        mut stream: Stream,
        service: Builtin,
        client: Option<IpAddr>,
    ) {
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        let index = self.free_sessions.pop().unwrap_or(self.sessions.len());
        let registered = self.poll.registry().register(
            stream.source(),
            Key::Session(index).token(),
            Connection::interest(service),
        );
        if let Err(e) = registered {
            if index < self.sessions.len() {
                self.free_sessions.push(index);
            }
            listener.release(client, Instant::now());
            self.log
                .limited("register", Level::Err, format!("register connection: {e}"));
            return;
        }
        listener.active += 1;
        let session = Session {
            connection: Connection::new(stream, service),
            listener: (slot, listener.id),
            client,
            last_active: Instant::now(),
        };
        if index == self.sessions.len() {
            self.sessions.push(Some(session));
        } else {
            self.sessions[index] = Some(session);
        }
        self.open_sessions += 1;
    }

    fn on_session(&mut self, index: usize) {
        let Some(session) = self.sessions.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        session.last_active = Instant::now();
        match session
            .connection
            .drive(&mut self.scratch, CONNECTION_BUDGET, &mut self.unsent)
        {
            Progress::Idle => {}
            Progress::Busy => self.ready.push_back(Key::Session(index).token()),
            Progress::Starved => self.starved.push(index),
            Progress::Closed => self.close_session(index),
        }
        self.feed_starved();
    }

    /// Sessions that found the unsent pool empty go on when some is back.
    fn feed_starved(&mut self) {
        if !self.unsent.is_empty() {
            for index in self.starved.drain(..) {
                self.ready.push_back(Key::Session(index).token());
            }
        }
    }

    fn close_session(&mut self, index: usize) {
        let Some(mut session) = self.sessions[index].take() else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(session.connection.stream.source());
        self.free_sessions.push(index);
        self.open_sessions -= 1;
        self.unsent.release(&session.connection);
        self.feed_starved();
        let (slot, id) = session.listener;
        if let Some(listener) = self.listeners.get_mut(slot).and_then(Option::as_mut) {
            if listener.id == id {
                listener.release(session.client, Instant::now());
            }
        }
        self.wake_blocked();
    }

    fn close_idle_sessions(&mut self, now: Instant) {
        let timeout = self.opts.limits.idle_timeout;
        let idle: Vec<usize> = self
            .sessions
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let s = s.as_ref()?;
                (now.saturating_duration_since(s.last_active) >= timeout).then_some(i)
            })
            .collect();
        for index in idle {
            self.close_session(index);
        }
        self.next_idle_sweep =
            now + (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    }

    fn serve_datagrams(&mut self, slot: usize, service: Builtin) {
        for _ in 0..ACCEPT_BATCH {
            let Some(socket) = self.listeners[slot]
                .as_ref()
                .and_then(|l| l.socket.as_ref())
            else {
                return;
            };
            let received = match socket {
                Socket::Udp(s) => s.recv_from(&mut self.scratch).map(|(n, a)| (n, Some(a))),
                Socket::UnixDgram(s) => s.recv_from(&mut self.scratch).map(|(n, _)| (n, None)),
                _ => return,
            };
            let (n, peer) = match received {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock, or an error queued by an earlier reply (ICMP).
                Err(_) => return,
            };
            let Some(peer) = peer else {
                continue;
            };
            // Never a reflector: no answer to another builtin's port or to
            // impossible sources, and a bounded rate per source and in all.
            if !limits::may_answer(peer, &self.internal_dgram_ports)
                || !self
                    .replies
                    .allow(limits::client_key(peer.ip(), 128), Instant::now())
            {
                continue;
            }
            if self.rules_apply() {
                // The address the socket is bound to, as getsockname would say.
                let server = match self.listeners[slot].as_ref().map(|l| &l.service.listen) {
                    Some(Listen::Inet { addr, .. }) => *addr,
                    _ => continue,
                };
                match self.check_access(slot, peer, server) {
                    Access::Granted => {}
                    Access::Denied => continue,
                    Access::InChild => {
                        self.park_datagram(slot, service, peer, server, n);
                        continue;
                    }
                }
            }
            let reply =
                builtins::datagram_reply(service, &self.scratch[..n], self.chargen_requests);
            if service == Builtin::Chargen {
                self.chargen_requests = self.chargen_requests.wrapping_add(1);
            }
            let socket = self.listeners[slot]
                .as_ref()
                .and_then(|l| l.socket.as_ref());
            if let (Some(reply), Some(Socket::Udp(udp))) = (reply, socket) {
                // A reply that does not fit the send buffer is dropped, as UDP may.
                let _ = udp.send_to(reply.bytes(), peer);
            }
        }
        self.ready.push_back(Key::Listener(slot).token());
    }

    /// Keeps the datagram in `scratch[..len]` and starts a child that
    /// decides access for its sender; the reply goes out on a grant.
    fn park_datagram(
        &mut self,
        slot: usize,
        service: Builtin,
        peer: SocketAddr,
        server: SocketAddr,
        len: usize,
    ) {
        let Some(label) = self.listeners[slot].as_ref().map(|l| l.label.clone()) else {
            return;
        };
        if !self.rate_allows(slot) {
            return;
        }
        if self.parked_datagrams.len() >= MAX_PARKED_DATAGRAMS || !self.child_room(slot) {
            self.log.limited(
                "udp access",
                Level::Warning,
                format!(
                    "{label}: dropped a datagram from {peer}: too many access checks under way"
                ),
            );
            return;
        }
        let fd = self.dev_null.as_raw_fd();
        let run = Run::CheckDatagram(server);
        if let Ok(pid) = self.spawn(slot, fd, Some(Peer::Inet(peer)), None, run) {
            let data = self.scratch[..len].to_vec();
            self.parked_datagrams.insert(
                pid,
                ParkedDatagram {
                    service,
                    peer,
                    data,
                },
            );
        }
    }

    /// Room for one more child of the listener's service: under its own
    /// cap and the daemon-wide one. Every child counts, whatever it is for.
    fn child_room(&self, slot: usize) -> bool {
        let Some(listener) = self.listeners[slot].as_ref() else {
            return false;
        };
        let (cap, own_cap) = (self.opts.limits.max_children, listener.limits.max_active);
        (cap == 0 || self.children.len() < cap as usize)
            && (own_cap == 0 || listener.active < own_cap)
    }

    /// Sends the reply to a datagram whose sender was granted access.
    fn answer_parked(&mut self, slot: usize, parked: ParkedDatagram) {
        let reply = builtins::datagram_reply(parked.service, &parked.data, self.chargen_requests);
        let socket = self.listeners[slot]
            .as_ref()
            .and_then(|l| l.socket.as_ref());
        if let (Some(reply), Some(Socket::Udp(udp))) = (reply, socket) {
            let _ = udp.send_to(reply.bytes(), parked.peer);
        }
    }

    // ---- children ----

    fn reap(&mut self) {
        let mut reaped = false;
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes only `status`.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            self.end_decision(pid);
            let Some(child) = self.children.remove(&pid) else {
                continue;
            };
            reaped = true;
            let parked = self.parked.remove(&pid);
            let parked_datagram = self.parked_datagrams.remove(&pid);
            if parked.is_none() && parked_datagram.is_none() {
                self.log_exit(pid, status, &child);
            }
            let now = Instant::now();
            let failed = !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            let (slot, id) = child.listener;
            let Some(listener) = self.listeners.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if listener.id != id {
                continue;
            }
            listener.release(child.client, now);
            let granted = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == tcpd::GRANTED;
            if let Some(parked) = parked_datagram {
                if granted {
                    self.answer_parked(slot, parked);
                }
                continue;
            }
            if let Some(parked) = parked {
                if granted {
                    self.serve_parked(slot, parked);
                } else {
                    self.release_client(slot, parked.client);
                }
                continue;
            }
            let quick_failure = child.exec_failed
                || (now.saturating_duration_since(child.started) < limits::QUICK_EXIT
                    && if child.checked {
                        // Not a refusal: the program could not be executed.
                        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 127
                    } else {
                        failed
                    });
            let looping = listener.failures.looping(quick_failure, now);
            let waiting = listener.state == State::Waiting(pid);
            if waiting && failed {
                self.drain_failed_datagram(slot);
            }
            if looping {
                self.pause_looping(slot, status);
            } else if waiting {
                self.resume(slot);
            }
        }
        if reaped {
            self.wake_blocked();
        }
    }

    fn log_exit(&mut self, pid: pid_t, status: libc::c_int, child: &Child) {
        let how = describe_exit(status);
        let failed = !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        if self.opts.log_connections {
            let peer = child
                .peer
                .as_ref()
                .map_or(String::new(), |p| format!(" from {p}"));
            let secs = child.started.elapsed().as_secs_f64();
            self.log.info(format!(
                "{}: pid {pid}{peer} {how} after {secs:.3} s",
                child.label
            ));
        } else if failed && !child.exec_failed {
            self.log.limited(
                "child exit",
                Level::Warning,
                format!("{}: pid {pid} {how}", child.label),
            );
        } else {
            self.log
                .debug(format_args!("{}: pid {pid} exited", child.label));
        }
    }
}

/// Options the parent cannot carry out: they run commands, wait, or change
/// the process or socket. (Severity only sets the log level; user and group
/// are checked only; rfc931 and aclexec are done while deciding.)
fn runs_in_child(option: &RuleOption) -> bool {
    !matches!(
        option,
        RuleOption::Severity(_)
            | RuleOption::User(_)
            | RuleOption::Group(_)
            | RuleOption::Rfc931(_)
            | RuleOption::Aclexec(_)
    )
}

fn describe_exit(status: libc::c_int) -> String {
    if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("exited with status {}", libc::WEXITSTATUS(status))
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
}

impl Key {
    fn token(self) -> Token {
        match self {
            Key::Listener(slot) => Token(slot * 3),
            Key::Session(index) => Token(index * 3 + 1),
            Key::Decision(pid) => Token(pid as usize * 3 + 2),
        }
    }

    fn of(token: Token) -> Key {
        let n = token.0 / 3;
        match token.0 % 3 {
            0 => Key::Listener(n),
            1 => Key::Session(n),
            _ => Key::Decision(n as pid_t),
        }
    }
}

fn label(service: &Service) -> Rc<str> {
    format!("{}/{}", service.name, service.protocol).into()
}

fn describe(listen: &Listen) -> String {
    match listen {
        Listen::Inet { addr, .. } => addr.to_string(),
        Listen::Unix { path, .. } => path.display().to_string(),
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
