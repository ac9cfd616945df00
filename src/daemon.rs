//! The daemon: one single-threaded mio loop over every listening socket,
//! the builtin connections and the signal pipe.
//!
//! Tokens: listener slot `i` is `2i`, builtin connection slot `j` is `2j+1`,
//! and the signal pipe has its own token. Work that a budget cut short goes
//! on a ready queue and continues on the next turn, after other events.

use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use libc::pid_t;
use mio::{Events, Poll, Token};

use crate::builtins::{self, Connection, Progress, Stream};
use crate::cli::Options;
use crate::config::{self, Builtin, Listen, Program, Service, SocketType};
use crate::listener::{self, Socket};
use crate::log::Log;
use crate::pidfile::Pidfile;
use crate::resolve::SystemResolver;
use crate::signals::SignalPipe;
use crate::spawn::{self, Exec, Spawner};

const DEFAULT_PIDFILE: &str = "/var/run/inetd.pid";
/// The environment of services unless `-E` is given.
const SERVICE_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);
/// Connections accepted (or datagrams read) per listener per turn, so that
/// one busy service cannot starve the others.
const ACCEPT_BATCH: usize = 64;
/// Bytes one builtin connection may move per turn.
const CONNECTION_BUDGET: usize = 128 * 1024;
/// How long a listener that could not be bound waits before trying again.
const BIND_RETRY: Duration = Duration::from_secs(5);

pub fn run(opts: Options) -> i32 {
    prepare_descriptors();
    let to_stderr = opts.debug || opts.log_stderr;
    let mut log = if to_stderr {
        Log::stderr(opts.debug)
    } else {
        Log::syslog()
    };
    let services = match load(&opts.config, &mut log) {
        Ok(services) => services,
        Err(e) => {
            let msg = format!("{}: {e}", opts.config.display());
            eprintln!("inetd: {msg}");
            log.err(msg);
            return 1;
        }
    };
    let detach = !opts.debug && !opts.foreground;
    let pidfile_path = opts
        .pidfile
        .clone()
        .or_else(|| detach.then(|| PathBuf::from(DEFAULT_PIDFILE)));
    let pidfile = match pidfile_path.as_deref().map(Pidfile::lock).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("inetd: {e}");
            log.err(e);
            return 1;
        }
    };
    if detach {
        if let Err(e) = nix::unistd::daemon(false, false) {
            eprintln!("inetd: cannot detach: {e}");
            return 1;
        }
        if !to_stderr {
            // The pid in the syslog tag changed.
            log = Log::syslog();
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

/// Reads and parses the configuration, logging every rejected line and
/// warning. Returns the services and the number of rejected lines.
fn load(path: &Path, log: &mut Log) -> io::Result<(Vec<Service>, usize)> {
    let (services, errors) = config::load(path, &SystemResolver)?;
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

/// Keeps fds 0-2 open (on /dev/null) so no socket ever lands there, and
/// marks every inherited descriptor above them close-on-exec so none leaks
/// into services.
fn prepare_descriptors() {
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
            // SAFETY: setting FD_CLOEXEC on a descriptor that may or may not
            // still be open (read_dir's own one is gone) is harmless.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
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
    socket: Option<Socket>,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Listening,
    /// A `wait` child owns the socket; it is not polled until the child exits.
    Waiting(pid_t),
    /// Not bound yet (address missing, port in use): try again at this time.
    Unbound(Instant),
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
}

struct Child {
    listener: (usize, u64),
    label: Rc<str>,
    /// Already logged when spawn returned.
    exec_failed: bool,
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
    connections: Vec<Option<Connection>>,
    free_connections: Vec<usize>,
    children: HashMap<pid_t, Child>,
    ready: VecDeque<Token>,
    scratch: Vec<u8>,
    chargen_requests: usize,
    terminate: bool,
}

impl Daemon {
    fn new(opts: Options, log: Log, pidfile: Option<Pidfile>) -> io::Result<Daemon> {
        spawn::reset_inherited_signals();
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
        Ok(Daemon {
            opts,
            log,
            pidfile,
            poll,
            signals,
            spawner: Spawner::new(),
            env,
            listeners: Vec::new(),
            next_listener_id: 0,
            connections: Vec::new(),
            free_connections: Vec::new(),
            children: HashMap::new(),
            ready: VecDeque::new(),
            scratch: vec![0; 64 * 1024],
            chargen_requests: 0,
            terminate: false,
        })
    }

    fn run(&mut self, (services, _): (Vec<Service>, usize)) -> i32 {
        self.apply(services);
        if let Some(pidfile) = &mut self.pidfile {
            if let Err(e) = pidfile.write_pid() {
                self.log.err(format!("cannot write pid file: {e}"));
            }
        }
        let serving = self.listeners.iter().flatten().count();
        self.log.info(format!("ready: {serving} services"));
        let mut events = Events::with_capacity(256);
        while !self.terminate {
            let timeout = if self.ready.is_empty() {
                self.next_retry()
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
            for event in events.iter() {
                self.dispatch(event.token());
            }
            for _ in 0..self.ready.len() {
                if let Some(token) = self.ready.pop_front() {
                    self.dispatch(token);
                }
            }
            self.retry_binds();
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
        } else if token.0 % 2 == 0 {
            self.on_listener(token.0 / 2);
        } else {
            self.on_connection(token.0 / 2);
        }
    }

    // ---- configuration: apply, reload, shutdown ----

    /// Replaces the running services with `services`. Listeners whose
    /// (address or path, socket type) is unchanged keep their socket and
    /// state; the rest are closed or opened.
    fn apply(&mut self, services: Vec<Service>) {
        let mut old: Vec<Option<Listener>> = std::mem::take(&mut self.listeners);
        let mut fresh: Vec<Service> = Vec::new();
        for service in services {
            let kept = old.iter().position(|l| {
                l.as_ref()
                    .is_some_and(|l| l.key() == (&service.listen, service.socket_type))
            });
            match kept {
                Some(slot) => {
                    let Some(exec) = self.prepare_exec(&service) else {
                        continue;
                    };
                    let mut listener = old[slot].take().expect("position found it");
                    listener.label = label(&service);
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
        for service in fresh {
            let Some(exec) = self.prepare_exec(&service) else {
                continue;
            };
            let id = self.next_listener_id;
            self.next_listener_id += 1;
            let listener = Listener {
                label: label(&service),
                service,
                id,
                exec,
                socket: None,
                state: State::Unbound(Instant::now()),
            };
            let slot = self
                .listeners
                .iter()
                .position(Option::is_none)
                .unwrap_or(self.listeners.len());
            self.put_listener(slot, listener);
            self.bind(slot);
        }
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
        let user = &service.user;
        match Exec::new(path, argv, &self.env, user.uid, user.gid, &user.groups) {
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

    fn close_listener(&mut self, mut listener: Listener) {
        if let Some(socket) = &mut listener.socket {
            if listener.state == State::Listening {
                let _ = socket.deregister(self.poll.registry());
            }
        }
        drop(listener.socket.take());
        if let Listen::Unix(path) = &listener.service.listen {
            let _ = std::fs::remove_file(path);
        }
        self.log.info(format!("{}: removed", listener.label));
    }

    fn reload(&mut self) {
        self.log.info("SIGHUP: reloading configuration");
        match load(&self.opts.config.clone(), &mut self.log) {
            Ok((services, 0)) => {
                self.apply(services);
                let serving = self.listeners.iter().flatten().count();
                self.log.info(format!("reloaded: {serving} services"));
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

    // ---- binding ----

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
                if let Err(e) = socket.register(self.poll.registry(), listener_token(slot)) {
                    self.log.err(format!("{}: register: {e}", listener.label));
                    listener.state = State::Unbound(Instant::now() + BIND_RETRY);
                    return;
                }
                listener.socket = Some(socket);
                listener.state = State::Listening;
                self.log.debug(format!(
                    "{}: listening on {}",
                    listener.label,
                    describe(&listener.service.listen)
                ));
            }
            Err(e) => {
                self.log.err(format!(
                    "{}: cannot bind {}: {e}; retrying every {} s",
                    listener.label,
                    describe(&listener.service.listen),
                    BIND_RETRY.as_secs()
                ));
                listener.state = State::Unbound(Instant::now() + BIND_RETRY);
            }
        }
    }

    fn next_retry(&self) -> Option<Instant> {
        self.listeners
            .iter()
            .flatten()
            .filter_map(|l| match l.state {
                State::Unbound(at) => Some(at),
                _ => None,
            })
            .min()
    }

    fn retry_binds(&mut self) {
        let now = Instant::now();
        for slot in 0..self.listeners.len() {
            let due = self.listeners[slot]
                .as_ref()
                .is_some_and(|l| matches!(l.state, State::Unbound(at) if at <= now));
            if due {
                self.bind(slot);
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

    /// Accepts up to a batch of connections; `None` when the backlog is empty.
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
            Err(e) => {
                let label = listener.label.clone();
                self.log.err(format!("{label}: accept: {e}"));
                None
            }
        }
    }

    fn accept_and_spawn(&mut self, slot: usize) {
        for _ in 0..ACCEPT_BATCH {
            let Some((stream, _peer)) = self.accept(slot) else {
                return;
            };
            self.spawn(slot, stream.raw_fd());
        }
        self.ready.push_back(listener_token(slot));
    }

    /// Hands the listening socket itself to a child and stops polling it.
    fn spawn_waiting(&mut self, slot: usize) {
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        let Some(socket) = listener.socket.as_mut() else {
            return;
        };
        let _ = socket.deregister(self.poll.registry());
        let fd = socket.raw_fd();
        match self.spawn(slot, fd) {
            Some(pid) => {
                if let Some(listener) = self.listeners[slot].as_mut() {
                    listener.state = State::Waiting(pid);
                }
            }
            None => self.resume(slot),
        }
    }

    /// Starts the listener's program on `fd`. Returns the child's pid, also
    /// when exec failed (the child exits 127 and is reaped as usual).
    fn spawn(&mut self, slot: usize, fd: std::os::fd::RawFd) -> Option<pid_t> {
        let listener = self.listeners[slot].as_ref()?;
        let exec = listener.exec.as_ref()?;
        let drain = listener.service.socket_type == SocketType::Dgram;
        let child = |exec_failed| Child {
            listener: (slot, listener.id),
            label: listener.label.clone(),
            exec_failed,
        };
        match self.spawner.spawn(exec, fd, drain) {
            Ok(pid) => {
                self.children.insert(pid, child(false));
                self.log
                    .debug(format!("{}: started pid {pid}", listener.label));
                Some(pid)
            }
            Err(e) => {
                let program = match &listener.service.program {
                    Program::External { path, .. } => path.display().to_string(),
                    Program::Builtin(_) => String::new(),
                };
                let msg = format!("{}: {program}: {}: {}", listener.label, e.step, e.error);
                let pid = e.pid;
                if let Some(pid) = pid {
                    self.children.insert(pid, child(true));
                }
                self.log.err(msg);
                pid
            }
        }
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

    fn resume(&mut self, slot: usize) {
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        let Some(socket) = listener.socket.as_mut() else {
            return;
        };
        let restored = socket
            .set_nonblocking()
            .and_then(|()| socket.register(self.poll.registry(), listener_token(slot)));
        match restored {
            Ok(()) => listener.state = State::Listening,
            Err(e) => {
                let label = listener.label.clone();
                self.log
                    .err(format!("{label}: cannot resume listening: {e}"));
            }
        }
    }

    // ---- builtins ----

    fn accept_builtin(&mut self, slot: usize, service: Builtin) {
        for _ in 0..ACCEPT_BATCH {
            let Some((mut stream, _peer)) = self.accept(slot) else {
                return;
            };
            // A fresh connection's send buffer is empty: these short
            // answers are written whole, without waiting.
            match service {
                Builtin::Daytime => {
                    let _ = stream.write(&builtins::daytime());
                }
                Builtin::Time => {
                    let _ = stream.write(&builtins::time());
                }
                _ => self.add_connection(stream, service),
            }
        }
        self.ready.push_back(listener_token(slot));
    }

    fn add_connection(&mut self, mut stream: Stream, service: Builtin) {
        let index = self
            .free_connections
            .pop()
            .unwrap_or(self.connections.len());
        let registered = self.poll.registry().register(
            stream.source(),
            connection_token(index),
            Connection::interest(service),
        );
        if let Err(e) = registered {
            self.log.err(format!("register connection: {e}"));
            if index < self.connections.len() {
                self.free_connections.push(index);
            }
            return;
        }
        let connection = Connection::new(stream, service);
        if index == self.connections.len() {
            self.connections.push(Some(connection));
        } else {
            self.connections[index] = Some(connection);
        }
    }

    fn on_connection(&mut self, index: usize) {
        let Some(connection) = self.connections.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        match connection.drive(&mut self.scratch, CONNECTION_BUDGET) {
            Progress::Idle => {}
            Progress::Busy => self.ready.push_back(connection_token(index)),
            Progress::Closed => {
                if let Some(mut connection) = self.connections[index].take() {
                    let _ = self.poll.registry().deregister(connection.stream.source());
                    self.free_connections.push(index);
                }
            }
        }
    }

    fn serve_datagrams(&mut self, slot: usize, service: Builtin) {
        let Some(socket) = self.listeners[slot]
            .as_ref()
            .and_then(|l| l.socket.as_ref())
        else {
            return;
        };
        for _ in 0..ACCEPT_BATCH {
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
            let reply =
                builtins::datagram_reply(service, &self.scratch[..n], self.chargen_requests);
            if service == Builtin::Chargen {
                self.chargen_requests = self.chargen_requests.wrapping_add(1);
            }
            if let (Some(reply), Socket::Udp(s), Some(peer)) = (reply, socket, peer) {
                // A reply that does not fit the send buffer is dropped, as UDP may.
                let _ = s.send_to(reply.bytes(), peer);
            }
        }
        self.ready.push_back(listener_token(slot));
    }

    // ---- children ----

    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes only `status`.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            let Some(child) = self.children.remove(&pid) else {
                continue;
            };
            let failed = !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            if !child.exec_failed {
                if libc::WIFSIGNALED(status) {
                    self.log.warn(format!(
                        "{}: pid {pid} killed by signal {}",
                        child.label,
                        libc::WTERMSIG(status)
                    ));
                } else if failed {
                    self.log.warn(format!(
                        "{}: pid {pid} exited with status {}",
                        child.label,
                        libc::WEXITSTATUS(status)
                    ));
                } else {
                    self.log.debug(format!("{}: pid {pid} exited", child.label));
                }
            }
            let (slot, id) = child.listener;
            let waiting = self
                .listeners
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|l| l.id == id && l.state == State::Waiting(pid));
            if waiting {
                if failed {
                    self.drain_failed_datagram(slot);
                }
                self.resume(slot);
            }
        }
    }
}

fn listener_token(slot: usize) -> Token {
    Token(slot * 2)
}

fn connection_token(index: usize) -> Token {
    Token(index * 2 + 1)
}

fn label(service: &Service) -> Rc<str> {
    format!("{}/{}", service.name, service.protocol).into()
}

fn describe(listen: &Listen) -> String {
    match listen {
        Listen::Inet { addr, .. } => addr.to_string(),
        Listen::Unix(path) => path.display().to_string(),
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
