//! UDP `nowait` services, served as busybox serves them: a child per
//! peer. The listening socket, holding the peer's first datagram, goes to
//! the peer's child connected to the peer (`listener::hand_to_peer`), and
//! a fresh socket bound to the same address (SO_REUSEPORT) listens in its
//! place. The kernel then sends the peer's later datagrams to its child's
//! socket and everyone else's to the listener, so several peers are served
//! at once. Other peers' datagrams queued behind the first one are dropped,
//! and each of their senders gets a socket connected to it, reserved for
//! its next datagram (see [`Peers`]). Each child goes through the one
//! pipeline of `intake.rs` (per-client limits, access, rate, caps) like
//! any other; reserved sockets are bounded in number and time.

use super::*;

/// Whether `service` gets a child per peer: an external program on a UDP
/// `nowait` line. (A unix datagram sender has no address to connect to:
/// such a line is served as `wait`.)
pub(super) fn serves_peers(service: &Service) -> bool {
    service.socket_type == SocketType::Dgram
        && !service.wait
        && matches!(service.program, Program::External(_))
        && matches!(service.listen, Listen::Inet { .. })
}

/// Peers whose datagrams were dropped, waiting on sockets of their own, at
/// most.
const MAX_RESERVED: usize = 64;

/// How long such a socket waits for its peer's next datagram.
const RESERVATION: Duration = Duration::from_secs(10);

/// The peers of a service that have a child, bounded by its children, and
/// those waiting for one.
#[derive(Default)]
pub(super) struct Peers {
    with_child: HashSet<SocketAddr>,
    /// A datagram queued behind another peer's cannot reach its program
    /// (only the peer at the head gets the socket): it is dropped, and a
    /// socket connected to its sender takes the sender's next datagram,
    /// which then starts the sender's program first in its queue. So a
    /// burst of new peers is served by their second datagrams, not one
    /// peer a round.
    reserved: Vec<Reserved>,
}

struct Reserved {
    peer: SocketAddr,
    socket: Socket,
    since: Instant,
}

/// Which socket a peer's datagram waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waits {
    /// The listener's.
    Listener,
    /// A socket connected to the peer (see [`Peers::reserved`]).
    Reserved,
}

impl Peers {
    pub(super) fn child_ended(&mut self, peer: Option<&Peer>) {
        if let Some(Peer::Inet(addr)) = peer {
            self.with_child.remove(addr);
        }
    }

    /// Descriptors the reserved sockets hold (admission counts them).
    pub(super) fn reserved_sockets(&self) -> usize {
        self.reserved.len()
    }

    fn known(&self, peer: &SocketAddr) -> bool {
        self.with_child.contains(peer) || self.reserved.iter().any(|r| r.peer == *peer)
    }

    fn take_reserved(&mut self, peer: SocketAddr) -> Option<Socket> {
        let at = self.reserved.iter().position(|r| r.peer == peer)?;
        Some(self.reserved.swap_remove(at).socket)
    }
}

impl Daemon {
    /// The next peer whose datagram waits on a UDP `nowait` service's
    /// sockets: a reserved one first, then the listener's; looked at
    /// without taking it.
    pub(super) fn peer_waiting(&mut self, slot: usize) -> Option<(SocketAddr, Waits)> {
        if let Some(peer) = self.reserved_waiting(slot) {
            return Some((peer, Waits::Reserved));
        }
        let Some(Socket::Udp(udp)) = self.listeners[slot].as_ref()?.socket.as_ref() else {
            return None;
        };
        // An error an earlier datagram queued (ICMP) is reported once.
        for _ in 0..2 {
            match udp.peek_from(&mut [0u8; 1]) {
                Ok((_, sender)) => return Some((sender, Waits::Listener)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => continue,
            }
        }
        None
    }

    /// A reserved socket that has its peer's datagram; expired ones go.
    fn reserved_waiting(&mut self, slot: usize) -> Option<SocketAddr> {
        let now = self.now;
        let peers = self.services.get_mut(slot)?.as_mut()?.peers.as_mut()?;
        let registry = self.poll.registry();
        peers.reserved.retain_mut(|r| {
            let fresh = now.saturating_duration_since(r.since) < RESERVATION;
            if !fresh {
                let _ = r.socket.deregister(registry);
            }
            fresh
        });
        peers.reserved.iter().find_map(|r| match &r.socket {
            Socket::Udp(udp) if udp.peek(&mut [0u8; 1]).is_ok() => Some(r.peer),
            _ => None,
        })
    }

    /// A refused peer's datagram is consumed (a reserved socket goes with it).
    pub(super) fn refuse_peer(&mut self, slot: usize, peer: SocketAddr, waits: Waits) {
        match waits {
            Waits::Listener => self.drain_failed_datagram(slot),
            Waits::Reserved => {
                if let Some(mut socket) = self
                    .services
                    .get_mut(slot)
                    .and_then(Option::as_mut)
                    .and_then(|s| s.peers.as_mut()?.take_reserved(peer))
                {
                    let _ = socket.deregister(self.poll.registry());
                }
            }
        }
    }

    /// Starts `sender`'s child on the socket its datagram waits on,
    /// connected to it; a listener's socket is replaced by a fresh one.
    /// `client` is what the per-client limits counted it under.
    pub(super) fn start_for_peer(
        &mut self,
        slot: usize,
        (sender, waits): (SocketAddr, Waits),
        client: Option<IpAddr>,
        checked: bool,
    ) -> Flow {
        let known = self.services[slot]
            .as_ref()
            .and_then(|s| s.peers.as_ref())
            .is_some_and(|p| p.known(&sender));
        if waits == Waits::Listener && known {
            // Sent before its own socket was connected: from now on the
            // kernel gives the peer's datagrams to that socket.
            self.release_client(slot, client);
            self.drain_failed_datagram(slot);
            return Flow::Next;
        }
        let (Some(listener), Some(served)) =
            (self.listeners[slot].as_ref(), self.services[slot].as_ref())
        else {
            return Flow::Stop;
        };
        // The address as bound: an RPC service's port was anonymous.
        let listen = match (&served.service.listen, &listener.socket) {
            (Listen::Inet { v6only, .. }, Some(Socket::Udp(udp))) => match udp.local_addr() {
                Ok(addr) => Listen::Inet {
                    addr,
                    v6only: *v6only,
                },
                Err(_) => return Flow::Stop,
            },
            _ => return Flow::Stop,
        };
        let taken = match waits {
            Waits::Reserved => self.services[slot]
                .as_mut()
                .and_then(|s| s.peers.as_mut()?.take_reserved(sender)),
            Waits::Listener => {
                match self.replace_listener(slot, &listen, sender, client, checked) {
                    Ok(taken) => taken,
                    Err(flow) => return flow,
                }
            }
        };
        let Some(mut taken) = taken else {
            self.release_client(slot, client);
            return Flow::Next;
        };
        let _ = taken.deregister(self.poll.registry());
        let Socket::Udp(udp) = &taken else {
            return Flow::Stop;
        };
        let handed = listener::hand_to_peer(udp, sender, &mut self.scratch);
        let Ok(handed) = handed else {
            self.release_client(slot, client);
            return Flow::Next;
        };
        // The peer keeps its socket when some of its datagrams are left:
        // a reservation too would be a second socket connected to it.
        let mut dropped = handed.consumed;
        dropped.retain(|peer| *peer != sender);
        if !handed.for_peer {
            // Nothing of the peer's is left for a program: the socket goes
            // before the peer's reservation is connected.
            drop(taken);
            dropped.push(sender);
            self.reserve(slot, &listen, dropped);
            self.release_client(slot, client);
            return Flow::Next;
        }
        self.reserve(slot, &listen, dropped);
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
                served.peers_mut().with_child.insert(sender);
            }
        }
        self.after_spawn(slot, client, spawned)
    }

    /// Puts a fresh socket in the listener's place and returns the old one
    /// (`None`: there was none); `Err` with the flow to return when the
    /// listener was handed over as a `wait` one's instead.
    fn replace_listener(
        &mut self,
        slot: usize,
        listen: &Listen,
        sender: SocketAddr,
        client: Option<IpAddr>,
        checked: bool,
    ) -> Result<Option<Socket>, Flow> {
        let options = self.listener_options(slot);
        let fresh = match listener::open_shared_udp(listen, &options) {
            Ok(fresh) => fresh,
            Err(e) => {
                // Out of descriptors, say: serve this peer as `wait` does.
                let label = self.services[slot]
                    .as_ref()
                    .map_or_else(|| "".into(), |s| s.label.clone());
                self.log.limited(
                    "udp nowait",
                    Level::Warning,
                    format!("{label}: cannot open a socket for the next peer ({e}): serving {sender} as wait"),
                );
                self.release_client(slot, client);
                return Err(self.hand_over(slot, Some(sender), checked));
            }
        };
        let Some(listener) = self.listeners[slot].as_mut() else {
            return Ok(None);
        };
        let taken = listener.socket.replace(fresh);
        let token = Key::Listener(slot).token();
        if let Some(Err(e)) = listener
            .socket
            .as_mut()
            .map(|s| s.register(self.poll.registry(), token))
        {
            let label = label_at(&self.services, slot);
            self.log.err(format!("{label}: register: {e}"));
            listener.state = State::Paused(self.now + RESOURCE_PAUSE, Pause::Resources);
            self.resources_paused = true;
        }
        Ok(taken)
    }

    /// Gives each peer whose datagram was dropped a socket of its own for
    /// its next one (see [`Peers::reserved`]), within [`MAX_RESERVED`].
    fn reserve(&mut self, slot: usize, listen: &Listen, peers: Vec<SocketAddr>) {
        let now = self.now;
        let token = Key::Listener(slot).token();
        for peer in peers {
            let Some(served) = self.services[slot].as_ref() else {
                return;
            };
            // Only with room for a descriptor under the limit's reserve.
            let (counts, caps) = self.usage(served);
            if counts.fds + 1 + admission::FD_RESERVE > caps.fds {
                return;
            }
            let full_or_known = served
                .peers
                .as_ref()
                .is_some_and(|p| p.reserved.len() >= MAX_RESERVED || p.known(&peer));
            if full_or_known {
                continue;
            }
            let options = self.listener_options(slot);
            let Ok(mut socket) = listener::open_shared_udp(listen, &options) else {
                return;
            };
            let connected = match &socket {
                Socket::Udp(udp) => udp.connect(peer).is_ok(),
                _ => false,
            };
            if !connected || socket.register(self.poll.registry(), token).is_err() {
                continue;
            }
            let Some(served) = self.services[slot].as_mut() else {
                return;
            };
            served.peers_mut().reserved.push(Reserved {
                peer,
                socket,
                since: now,
            });
        }
    }
}
