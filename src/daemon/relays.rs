//! Redirected connections (`internal redirect`): the table of relays,
//! connecting each to its target without blocking, driving them on
//! readiness within a budget, and closing them when done, when the target
//! cannot be reached in time, or when idle. Each holds two descriptors
//! and counts as a builtin connection against the caps.

use super::*;
use crate::relay::{self, Relay, Step};

/// Bytes one relay may move per turn.
const RELAY_BUDGET: usize = 256 * 1024;

/// How long a target may take to accept the connection.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A redirected connection and what the daemon counts it against.
pub(super) struct RelaySlot {
    relay: Relay,
    target: SocketAddr,
    /// The slot and id of the service it counts against.
    pub(super) service: (usize, u64),
    label: Rc<str>,
    pub(super) client: Option<IpAddr>,
    started: Instant,
    last_active: Instant,
}

/// A relay's side, told apart in its token.
const CLIENT: usize = 0;
const TARGET: usize = 1;

impl Daemon {
    pub(super) fn open_relay(
        &mut self,
        slot: usize,
        stream: Stream,
        target: SocketAddr,
        client: Option<IpAddr>,
    ) {
        let Stream::Tcp(mut client_stream) = stream else {
            self.release_client(slot, client);
            return;
        };
        let Some(served) = self.services[slot].as_mut() else {
            return;
        };
        let label = served.label.clone();
        let mut target_stream = match mio::net::TcpStream::connect(target) {
            Ok(stream) => stream,
            Err(e) => {
                // Not counted yet: only its client's count goes back.
                served.release_client(client, self.now);
                self.log.limited(
                    "redirect",
                    Level::Err,
                    format!("{label}: {target}: cannot connect: {e}"),
                );
                return;
            }
        };
        let index = self.relays.next();
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        let registry = self.poll.registry();
        let registered = registry
            .register(
                &mut client_stream,
                Key::Relay(index * 2 + CLIENT).token(),
                interest,
            )
            .and_then(|()| {
                registry.register(
                    &mut target_stream,
                    Key::Relay(index * 2 + TARGET).token(),
                    interest,
                )
            });
        if let Err(e) = registered {
            let _ = registry.deregister(&mut client_stream);
            self.connection_unpolled(slot, client, &e);
            return;
        }
        served.active += 1;
        served.started += 1;
        let relay = RelaySlot {
            relay: Relay::new(client_stream, target_stream),
            target,
            service: (slot, served.id),
            label,
            client,
            started: self.now,
            last_active: self.now,
        };
        let inserted = self.relays.insert(relay);
        debug_assert_eq!(inserted, index, "registered under another slot");
    }

    /// Either side of relay `n / 2` is ready.
    pub(super) fn on_relay(&mut self, n: usize) {
        let index = n / 2;
        let Some(slot) = self.relays.get_mut(index) else {
            return;
        };
        slot.last_active = self.now;
        match slot.relay.drive(&mut self.scratch, RELAY_BUDGET) {
            Step::Idle => {}
            Step::Busy => self.ready.push_back(Key::Relay(n).token()),
            Step::Closed => self.close_relay(index),
            Step::Unreachable(kind) => {
                let msg = format!(
                    "{}: {}: cannot connect: {}",
                    slot.label,
                    slot.target,
                    io::Error::from(kind)
                );
                self.log.limited("redirect", Level::Err, msg);
                self.close_relay(index);
            }
        }
    }

    pub(super) fn close_relay(&mut self, index: usize) {
        let Some(mut slot) = self.relays.remove(index) else {
            return;
        };
        let registry = self.poll.registry();
        let _ = registry.deregister(&mut slot.relay.client);
        let _ = registry.deregister(&mut slot.relay.target);
        let traffic = Some(slot.relay.traffic());
        self.connection_ended(slot.service, slot.client, slot.started, traffic);
    }

    /// Closes relays whose target did not answer in [`CONNECT_TIMEOUT`],
    /// and those idle for the idle timeout.
    pub(super) fn close_stale_relays(&mut self, now: Instant) {
        let idle = self.opts.limits.idle_timeout;
        let stale: Vec<(usize, bool)> = self
            .relays
            .iter()
            .filter_map(|(i, r)| {
                let unconnected = !r.relay.connected()
                    && now.saturating_duration_since(r.started) >= CONNECT_TIMEOUT;
                let quiet = now.saturating_duration_since(r.last_active) >= idle;
                (unconnected || quiet).then_some((i, unconnected))
            })
            .collect();
        for (index, unconnected) in stale {
            if unconnected {
                if let Some(r) = self.relays.get(index) {
                    let msg = format!("{}: {}: cannot connect: timed out", r.label, r.target);
                    self.log.limited("redirect", Level::Err, msg);
                }
            }
            self.close_relay(index);
        }
    }

    /// What the relays hold for receivers that have not taken it yet.
    pub(super) fn relay_bytes_held(&self) -> usize {
        self.relays.iter().map(|(_, r)| r.relay.held()).sum()
    }
}

/// The scratch buffer must take one relay read.
const _: () = assert!(relay::CHUNK <= 64 * 1024);
