//! The listener table: sockets and their states (listening, handed to a
//! `wait` child, waiting to bind, paused), binding with back-off, pausing
//! and resuming. A listener at slot `i` is the socket of the service at
//! slot `i` (`services.rs`), whose address, socket type and label it
//! binds and logs by (a reload keeps a listener only for a service of the
//! same address and type); a service may have none. It knows nothing of
//! services' programs, children, sessions or access rules: others tell it
//! when to pause or wake.

use super::*;
use crate::config::SocketOptions;

/// How long a listener that could not be bound waits before trying again;
/// the wait doubles with each failure up to `BIND_RETRY_MAX`.
pub(super) const BIND_RETRY: Duration = Duration::from_secs(5);

pub(super) const BIND_RETRY_MAX: Duration = Duration::from_secs(60);

/// A listening socket and its state; what it binds is its service's.
pub(super) struct Listener {
    /// Set when the socket is opened (a reload keeps an open socket as it
    /// is); `None`: the defaults (most services: boxed, 8 bytes instead of 24).
    options: Option<Box<SocketOptions>>,
    pub(super) socket: Option<Socket>,
    pub(super) state: State,
    /// Failed binds in a row (see [`Daemon::bind`]).
    pub(super) bind_failures: u32,
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
    /// A listener for `service`, not bound yet.
    pub(super) fn new(service: &Service, now: Instant) -> Listener {
        Listener {
            options: (service.extras.socket_options != SocketOptions::default())
                .then(|| Box::new(service.extras.socket_options)),
            socket: None,
            state: State::Unbound(now),
            bind_failures: 0,
        }
    }

    /// The options its socket is opened with.
    pub(super) fn options(&self) -> SocketOptions {
        self.options.as_deref().copied().unwrap_or_default()
    }
}

impl Daemon {
    /// The socket options of the listener at `slot` (none when it has no listener).
    pub(super) fn listener_options(&self, slot: usize) -> config::SocketOptions {
        self.listeners[slot]
            .as_ref()
            .map_or_else(SocketOptions::default, Listener::options)
    }

    /// Closes the listener at `slot`, before its service goes (whose
    /// address and label it is closed by).
    pub(super) fn close_listener(&mut self, slot: usize) {
        self.rpc_closed(slot);
        let Some(mut listener) = self.listeners[slot].take() else {
            return;
        };
        if let Some(socket) = &mut listener.socket {
            if listener.state == State::Listening {
                let _ = socket.deregister(self.poll.registry());
            }
        }
        // A unix socket's file goes with it, if it is still ours.
        drop(listener.socket.take());
        if let Some(served) = self.services[slot].as_ref() {
            self.log.info(format!("{}: removed", served.label));
        }
    }

    pub(super) fn bind(&mut self, slot: usize) {
        let backlog = self.opts.backlog;
        let (Some(listener), Some(served)) = (
            self.listeners[slot].as_mut(),
            self.services.get(slot).and_then(Option::as_ref),
        ) else {
            return;
        };
        let (service, label) = (&served.service, &served.label);
        let options = listener.options();
        let opened = if serves_peers(service) {
            listener::open_shared_udp(&service.listen, &options)
        } else {
            listener::open(&service.listen, service.socket_type, backlog, &options)
        };
        match opened {
            Ok(mut socket) => {
                if let Err(e) = socket.register(self.poll.registry(), Key::Listener(slot).token()) {
                    self.log.err(format!("{label}: register: {e}"));
                    listener.state = State::Unbound(self.now + BIND_RETRY);
                    return;
                }
                listener.socket = Some(socket);
                listener.state = State::Listening;
                let failures = std::mem::take(&mut listener.bind_failures);
                let place = describe(&service.listen);
                match failures {
                    0 => self
                        .log
                        .debug(format_args!("{label}: listening on {place}")),
                    _ => self.log.info(format_args!(
                        "{label}: listening on {place} after {failures} failed attempts"
                    )),
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
                        "{label}: cannot bind {}: {e}{again}; retrying in {} s",
                        describe(&service.listen),
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
                let label = label_at(&self.services, slot);
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
