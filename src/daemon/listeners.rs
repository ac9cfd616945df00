//! The listener table: sockets and their states (listening, handed to a
//! `wait` child, waiting to bind, paused), binding with back-off, pausing
//! and resuming. A listener at slot `i` is the socket of the service at
//! slot `i` (`services.rs`); a service may have none. It knows nothing of
//! services' programs, children, sessions or access rules: others tell it
//! when to pause or wake.

use super::*;
use crate::config::SocketOptions;

/// How long a listener that could not be bound waits before trying again;
/// the wait doubles with each failure up to `BIND_RETRY_MAX`.
pub(super) const BIND_RETRY: Duration = Duration::from_secs(5);

pub(super) const BIND_RETRY_MAX: Duration = Duration::from_secs(60);

/// A listening socket: what to bind, and its state.
pub(super) struct Listener {
    pub(super) listen: Listen,
    pub(super) socket_type: SocketType,
    /// Set when the socket is opened (a reload keeps an open socket as it is).
    pub(super) options: SocketOptions,
    /// `service/protocol` of the service that owns it, for log lines.
    pub(super) label: Rc<str>,
    pub(super) socket: Option<Socket>,
    pub(super) state: State,
    /// Failed binds in a row (see [`Daemon::bind`]).
    pub(super) bind_failures: u32,
    /// A UDP `nowait` listener, bound to share its port with its
    /// children's sockets (see `per_peer.rs`).
    pub(super) per_peer: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Listening,
    /// A `wait` child owns the socket; it is not polled until the child exits.
    Waiting(pid_t),
    /// Not bound yet (address missing, port in use): try again at this time.
    Unbound(Instant),
    /// Not polled until then (see [`Pause`]).
    Paused(Instant, Pause),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pause {
    /// Spawning faster than its rate limit: the retry time.
    Looping,
    /// Out of descriptors or processes, or the load is too high: a short
    /// pause, ended early when a child exits or a connection closes.
    Resources,
}

impl Listener {
    /// A listener for `service`'s address (or path) and socket type, not
    /// bound yet.
    pub(super) fn new(service: &Service, label: Rc<str>, now: Instant) -> Listener {
        Listener {
            listen: service.listen.clone(),
            socket_type: service.socket_type,
            options: service.extras.socket_options,
            label,
            socket: None,
            state: State::Unbound(now),
            bind_failures: 0,
            per_peer: serves_peers(service),
        }
    }
}

impl Daemon {
    /// The socket options of the listener at `slot` (none when it has no listener).
    pub(super) fn listener_options(&self, slot: usize) -> config::SocketOptions {
        self.listeners[slot]
            .as_ref()
            .map(|l| l.options)
            .unwrap_or_default()
    }

    pub(super) fn close_listener(&mut self, mut listener: Listener) {
        self.rpc_closed(&listener);
        if let Some(socket) = &mut listener.socket {
            if listener.state == State::Listening {
                let _ = socket.deregister(self.poll.registry());
            }
        }
        // A unix socket's file goes with it, if it is still ours.
        drop(listener.socket.take());
        self.log.info(format!("{}: removed", listener.label));
    }

    pub(super) fn bind(&mut self, slot: usize) {
        let backlog = self.opts.backlog;
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        let opened = if listener.per_peer {
            listener::open_shared_udp(&listener.listen, &listener.options)
        } else {
            listener::open(
                &listener.listen,
                listener.socket_type,
                backlog,
                &listener.options,
            )
        };
        match opened {
            Ok(mut socket) => {
                if let Err(e) = socket.register(self.poll.registry(), Key::Listener(slot).token()) {
                    self.log.err(format!("{}: register: {e}", listener.label));
                    listener.state = State::Unbound(self.now + BIND_RETRY);
                    return;
                }
                listener.socket = Some(socket);
                listener.state = State::Listening;
                let failures = std::mem::take(&mut listener.bind_failures);
                let msg = format!(
                    "{}: listening on {}",
                    listener.label,
                    describe(&listener.listen)
                );
                if failures == 0 {
                    self.log.debug(msg);
                } else {
                    self.log
                        .info(format!("{msg} after {failures} failed attempts"));
                }
                self.rpc_bound(slot);
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
                        describe(&listener.listen),
                        retry.as_secs()
                    ));
                }
                listener.state = State::Unbound(self.now + retry);
            }
        }
    }

    /// Listeners with a socket, and those still waiting to bind one.
    pub(super) fn count_bound(&self) -> (usize, usize) {
        let listeners = self.listeners.iter().flatten();
        let unbound = listeners
            .clone()
            .filter(|l| matches!(l.state, State::Unbound(_)))
            .count();
        (listeners.count() - unbound, unbound)
    }

    /// Stops polling the listener until `until` (the socket stays bound, so
    /// no other program can take the port).
    pub(super) fn pause(&mut self, slot: usize, until: Instant, why: Pause) {
        let Some(listener) = self.listeners.get_mut(slot).and_then(Option::as_mut) else {
            // A service with no socket (tcpmux) refuses until then.
            if let Some(served) = self.services.get_mut(slot).and_then(Option::as_mut) {
                served.paused_until = Some(until);
            }
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
    pub(super) fn resume(&mut self, slot: usize) {
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
                listener.state = State::Paused(self.now + RESOURCE_PAUSE, Pause::Resources);
                self.resources_paused = true;
            }
        }
    }

    /// A child exited or a connection closed: listeners waiting for room
    /// try again, and so do those paused for lack of descriptors.
    pub(super) fn wake_blocked(&mut self) {
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
}
