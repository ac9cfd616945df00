//! Builtin TCP sessions: the table of open connections, driving them on
//! readiness within a budget, the shared unsent pool, the idle sweep and
//! the deadline of a request line, and answering the request line of the
//! builtins that read one: tcpmux hands its connection to the service the
//! client named (`intake.rs`).

use super::*;
use crate::builtins::{ident, tcpmux, Line};

/// Bytes one builtin connection may move per turn.
pub(super) const CONNECTION_BUDGET: usize = 128 * 1024;

/// A builtin TCP connection and what the daemon counts it against.
pub(super) struct Session {
    pub(super) connection: Connection,
    /// The slot and id of the service it counts against.
    pub(super) service: (usize, u64),
    pub(super) client: Option<IpAddr>,
    pub(super) started: Instant,
    pub(super) last_active: Instant,
    /// When a builtin that reads a request line gives up on it.
    pub(super) deadline: Option<Instant>,
}

impl Session {
    /// The client, for log lines.
    fn peer(&self) -> Peer {
        match &self.connection.stream {
            Stream::Tcp(tcp) => tcp.peer_addr().map_or(Peer::Local, Peer::Inet),
            Stream::Unix(_) => Peer::Local,
        }
    }
}

impl Daemon {
    pub(super) fn open_session(
        &mut self,
        slot: usize,
        mut stream: Stream,
        service: Builtin,
        client: Option<IpAddr>,
    ) {
        let Some(served) = self.services[slot].as_mut() else {
            return;
        };
        let index = self.sessions.next();
        let registered = self.poll.registry().register(
            stream.source(),
            Key::Session(index).token(),
            Connection::interest(service),
        );
        if let Err(e) = registered {
            self.connection_unpolled(slot, client, &e);
            return;
        }
        served.active += 1;
        served.started += 1;
        // auth's -t sets its own; an idle connection is closed after the
        // idle timeout anyway.
        let deadline = match service {
            Builtin::Auth => ident::Options::parse(&served.service.extras.builtin_args)
                .ok()
                .map(|(options, _)| options.deadline()),
            _ => service.line_deadline(),
        };
        let deadline = deadline.map(|d| self.now + d.min(self.opts.limits.idle_timeout));
        let session = Session {
            connection: Connection::new(stream, service),
            service: (slot, served.id),
            client,
            started: self.now,
            last_active: self.now,
            deadline,
        };
        let inserted = self.sessions.insert(session);
        debug_assert_eq!(inserted, index, "registered under another slot");
    }

    pub(super) fn on_session(&mut self, index: usize) {
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        session.last_active = self.now;
        match session
            .connection
            .drive(&mut self.scratch, CONNECTION_BUDGET, &mut self.unsent)
        {
            Progress::Idle => {}
            Progress::Busy => self.ready.push_back(Key::Session(index).token()),
            Progress::Starved => self.starved.push(index),
            Progress::Closed => self.close_session(index),
            Progress::Line(line) => self.on_request(index, line),
        }
        self.feed_starved();
    }

    /// The request line of a builtin that reads one.
    fn on_request(&mut self, index: usize, line: Line) {
        let Some(session) = self.sessions.get(index) else {
            return;
        };
        match session.connection.service {
            Builtin::Tcpmux => self.on_tcpmux(index, line),
            Builtin::Auth => self.on_ident(index, line),
            // No other builtin reads a line.
            _ => self.close_session(index),
        }
    }

    /// RFC 1413: the owner of the connection the client asks about, from
    /// the kernel's socket tables, inline (see `builtins/ident.rs`).
    fn on_ident(&mut self, index: usize, line: Line) {
        let Some(session) = self.sessions.get(index) else {
            return;
        };
        let args = self.services[session.service.0]
            .as_ref()
            .map_or(&[][..], |s| &s.service.extras.builtin_args[..]);
        // Checked at load: a line with options it cannot serve is skipped.
        let options = ident::Options::parse(args).map_or_else(|_| Default::default(), |o| o.0);
        let endpoints = match &session.connection.stream {
            Stream::Tcp(tcp) => tcp.local_addr().ok().zip(tcp.peer_addr().ok()),
            Stream::Unix(_) => None,
        };
        let os = options.os.clone().unwrap_or_else(ident::system_name);
        let scratch = &mut self.scratch;
        let mut owner = |local, remote| ident::socket_owner(local, remote, scratch);
        let line = match &line {
            Line::Complete(line) => Some(&line[..]),
            Line::TooLong => None,
        };
        let reply = ident::answer(
            line,
            ident::Context {
                options: &options,
                endpoints,
                owner: &mut owner,
                users: &self.user_names,
                os: &os,
                random: &mut ident::random_name,
            },
        );
        self.answer_and_close(index, &reply);
    }

    /// RFC 1078: `HELP` lists the tcpmux services; a name hands the
    /// connection to its service, with what the client sent after the line
    /// still in the socket; anything else is refused.
    fn on_tcpmux(&mut self, index: usize, line: Line) {
        // The tcpmux services by slot, in the order of the file.
        let names = self.services.iter().enumerate().filter_map(|(slot, s)| {
            match &s.as_ref()?.service.listen {
                Listen::Tcpmux { name, .. } => Some((slot, name.as_str())),
                _ => None,
            }
        });
        let requested = match &line {
            Line::Complete(line) => tcpmux::Request::of(line),
            // No name is empty.
            Line::TooLong => tcpmux::Request::Service(b""),
        };
        let target = match requested {
            tcpmux::Request::Help => {
                let help = tcpmux::help(names.map(|(_, name)| name));
                self.answer_and_close(index, &help);
                return;
            }
            tcpmux::Request::Service(requested) => names
                .into_iter()
                .find(|(_, name)| tcpmux::names(requested, name))
                .map(|(slot, _)| slot),
        };
        let Some(target) = target else {
            if let Some(session) = self.sessions.get(index) {
                let peer = session.peer();
                let label = self.services[session.service.0]
                    .as_ref()
                    .map_or_else(|| "tcpmux".into(), |s| s.label.clone());
                let what = match &line {
                    Line::Complete(name) => format!("\"{}\"", String::from_utf8_lossy(name)),
                    Line::TooLong => "a name too long".to_string(),
                };
                self.log.limited(
                    "tcpmux",
                    Level::Notice,
                    format!("{label}: {peer} asked for {what}: no such service"),
                );
            }
            self.answer_and_close(index, tcpmux::NOT_AVAILABLE);
            return;
        };
        if let Some(stream) = self.end_session(index) {
            self.start_tcpmux(target, stream);
        }
    }

    /// Writes an answer and closes; what the send buffer does not take at
    /// once (a long `HELP`) is written as the client reads, within the
    /// unsent pool and the idle timeout.
    fn answer_and_close(&mut self, index: usize, answer: &[u8]) {
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        if session.connection.answer(answer, &mut self.unsent) == Progress::Closed {
            self.close_session(index);
            return;
        }
        session.deadline = None;
        let waiting = self.poll.registry().reregister(
            session.connection.stream.source(),
            Key::Session(index).token(),
            mio::Interest::WRITABLE,
        );
        if waiting.is_err() {
            self.close_session(index);
        }
    }

    /// Sessions that found the unsent pool empty go on when some is back.
    pub(super) fn feed_starved(&mut self) {
        if !self.unsent.is_empty() {
            for index in self.starved.drain(..) {
                self.ready.push_back(Key::Session(index).token());
            }
        }
    }

    pub(super) fn close_session(&mut self, index: usize) {
        drop(self.end_session(index));
    }

    /// Ends a session, gives back what it held and counted, and returns its
    /// connection (no longer polled), for another to serve.
    pub(super) fn end_session(&mut self, index: usize) -> Option<Stream> {
        let mut session = self.sessions.remove(index)?;
        let _ = self
            .poll
            .registry()
            .deregister(session.connection.stream.source());
        self.unsent.release(&session.connection);
        self.feed_starved();
        self.connection_ended(session.service, session.client, session.started, None);
        Some(session.connection.stream)
    }

    /// A builtin connection or a relay the poll did not take is dropped,
    /// its client's count given back (the service's own was not raised
    /// yet) and logged.
    pub(super) fn connection_unpolled(
        &mut self,
        slot: usize,
        client: Option<IpAddr>,
        e: &io::Error,
    ) {
        if let Some(served) = self.services[slot].as_mut() {
            served.release_client(client, self.now);
        }
        self.log
            .limited("register", Level::Err, format!("register connection: {e}"));
    }

    /// A builtin connection or a relay ended: the service it counted
    /// against, if still in the table, takes back its count and its
    /// client's, and writes the `EXIT` line it asks for; a listener waiting
    /// for room may go on.
    pub(super) fn connection_ended(
        &mut self,
        (slot, id): (usize, u64),
        client: Option<IpAddr>,
        started: Instant,
        traffic: Option<(u64, u64)>,
    ) {
        if let Some(served) = self.services.get_mut(slot).and_then(Option::as_mut) {
            if served.id == id {
                served.release(client, self.now);
                let ended = Ended {
                    pid: None,
                    status: None,
                    started,
                    traffic,
                };
                self.record_exit(slot, &ended);
            }
        }
        self.wake_blocked();
    }

    /// Closes the sessions idle for the idle timeout, and those whose
    /// request line did not come in time.
    pub(super) fn close_idle_sessions(&mut self, now: Instant) {
        let timeout = self.opts.limits.idle_timeout;
        let idle: Vec<usize> = self
            .sessions
            .iter()
            .filter_map(|(i, s)| {
                let late = s.deadline.is_some_and(|at| at <= now);
                (late || now.saturating_duration_since(s.last_active) >= timeout).then_some(i)
            })
            .collect();
        for index in idle {
            if let Some(session) = self.sessions.get(index) {
                if session.deadline.is_some_and(|at| at <= now) {
                    let peer = session.peer();
                    let service = session.connection.service.name();
                    self.log.limited(
                        "request deadline",
                        Level::Notice,
                        format!(
                            "{service}: closed the connection from {peer}: no request line in time"
                        ),
                    );
                }
            }
            self.close_session(index);
        }
        self.next_idle_sweep =
            now + (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    }
}
