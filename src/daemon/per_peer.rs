//! UDP `nowait` services, served as busybox serves them: a child per
//! peer. The listening socket, holding the peer's first datagram, goes to
//! the peer's child connected to the peer (`listener::hand_to_peer`), and
//! a fresh socket bound to the same address (SO_REUSEPORT) listens in its
//! place. The kernel then sends the peer's later datagrams to its child's
//! socket and everyone else's to the listener, so several peers are served
//! at once. Each child goes through the one pipeline of `intake.rs`
//! (per-client limits, access, rate, caps) like any other.

use super::*;

/// Whether `service` gets a child per peer: an external program on a UDP
/// `nowait` line. (A unix datagram sender has no address to connect to:
/// such a line is served as `wait`.)
pub(super) fn serves_peers(service: &Service) -> bool {
    service.socket_type == SocketType::Dgram
        && !service.wait
        && matches!(service.program, Program::External { .. })
        && matches!(service.listen, Listen::Inet { .. })
}

/// The peers of a service that have a child, bounded by its children.
#[derive(Default)]
pub(super) struct Peers(HashSet<SocketAddr>);

impl Peers {
    pub(super) fn child_ended(&mut self, peer: Option<&Peer>) {
        if let Some(Peer::Inet(addr)) = peer {
            self.0.remove(addr);
        }
    }
}

impl Daemon {
    /// The sender of the datagram waiting on a UDP `nowait` listener,
    /// looked at without taking it; `None` when none waits.
    pub(super) fn peer_waiting(&mut self, slot: usize) -> Option<SocketAddr> {
        let Some(Socket::Udp(udp)) = self.listeners[slot].as_ref()?.socket.as_ref() else {
            return None;
        };
        // An error an earlier datagram queued (ICMP) is reported once.
        for _ in 0..2 {
            match udp.peek_from(&mut [0u8; 1]) {
                Ok((_, sender)) => return Some(sender),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => continue,
            }
        }
        None
    }

    /// Starts `sender`'s child on the listening socket, connected to it,
    /// and listens on a fresh socket. `client` is what the per-client
    /// limits counted it under.
    pub(super) fn start_for_peer(
        &mut self,
        slot: usize,
        sender: SocketAddr,
        client: Option<IpAddr>,
        checked: bool,
    ) -> Flow {
        let has_child = self.services[slot]
            .as_ref()
            .is_some_and(|s| s.peers.0.contains(&sender));
        if has_child {
            // Sent before its child's socket was connected: from now on
            // the kernel gives the peer's datagrams to that socket.
            self.release_client(slot, client);
            self.drain_failed_datagram(slot);
            return Flow::Next;
        }
        let Some(listener) = self.listeners[slot].as_mut() else {
            return Flow::Stop;
        };
        // The address as bound: an RPC service's port was anonymous.
        let listen = match (&listener.listen, &listener.socket) {
            (Listen::Inet { v6only, .. }, Some(Socket::Udp(udp))) => match udp.local_addr() {
                Ok(addr) => Listen::Inet {
                    addr,
                    v6only: *v6only,
                },
                Err(_) => return Flow::Stop,
            },
            _ => return Flow::Stop,
        };
        let fresh = match listener::open_shared_udp(&listen) {
            Ok(fresh) => fresh,
            Err(e) => {
                // A socket kept from a `wait` line does not share its port
                // (or descriptors ran out): serve this peer as `wait` does.
                let label = listener.label.clone();
                self.log.limited(
                    "udp nowait",
                    Level::Warning,
                    format!("{label}: cannot open a socket for the next peer ({e}): serving {sender} as wait"),
                );
                self.release_client(slot, client);
                return self.hand_over(slot, Some(sender), checked);
            }
        };
        let Some(mut taken) = listener.socket.replace(fresh) else {
            return Flow::Stop;
        };
        let _ = taken.deregister(self.poll.registry());
        let token = Key::Listener(slot).token();
        if let Some(Err(e)) = listener
            .socket
            .as_mut()
            .map(|s| s.register(self.poll.registry(), token))
        {
            let label = listener.label.clone();
            self.log.err(format!("{label}: register: {e}"));
            listener.state = State::Paused(self.now + RESOURCE_PAUSE, Pause::Resources);
            self.resources_paused = true;
        }
        let Socket::Udp(udp) = &taken else {
            return Flow::Stop;
        };
        let for_peer = listener::hand_to_peer(udp, sender, &mut self.scratch);
        if !matches!(for_peer, Ok(true)) {
            // Nothing of the peer's is left for a program: it sends again.
            self.release_client(slot, client);
            return Flow::Next;
        }
        let run = if checked { Run::Checked } else { Run::Program };
        let spawned = self.spawn(
            slot,
            taken.raw_fd(),
            Some(Peer::Inet(sender)),
            client,
            run,
            None,
        );
        // The child has its copy: the socket is the peer's, not ours.
        drop(taken);
        if spawned.is_ok() {
            if let Some(served) = self.services[slot].as_mut() {
                served.peers.0.insert(sender);
            }
        }
        self.after_spawn(slot, client, spawned)
    }
}
