//! Builtin TCP sessions: the table of open connections, driving them on
//! readiness within a budget, the shared unsent pool, and the idle sweep.

use super::*;

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
            served.release(client, self.now);
            self.log
                .limited("register", Level::Err, format!("register connection: {e}"));
            return;
        }
        served.active += 1;
        served.started += 1;
        let session = Session {
            connection: Connection::new(stream, service),
            service: (slot, served.id),
            client,
            started: self.now,
            last_active: self.now,
        };
        if index == self.sessions.len() {
            self.sessions.push(Some(session));
        } else {
            self.sessions[index] = Some(session);
        }
        self.open_sessions += 1;
    }

    pub(super) fn on_session(&mut self, index: usize) {
        let Some(session) = self.sessions.get_mut(index).and_then(Option::as_mut) else {
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
        }
        self.feed_starved();
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
        let (slot, id) = session.service;
        if let Some(served) = self.services.get_mut(slot).and_then(Option::as_mut) {
            if served.id == id {
                served.release(session.client, self.now);
                let ended = Ended {
                    pid: None,
                    status: None,
                    started: session.started,
                    traffic: None,
                };
                self.record_exit(slot, &ended);
            }
        }
        self.wake_blocked();
    }

    pub(super) fn close_idle_sessions(&mut self, now: Instant) {
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
}
