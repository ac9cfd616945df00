//! What arrives on a listener: accepted connections and datagrams, taken
//! through admission and access, then to a program, a builtin session, a
//! reply, or an access check in a child while they wait.

use super::*;

/// Connections accepted (or datagrams read) per listener per turn, so that
/// one busy service cannot starve the others.
pub(super) const ACCEPT_BATCH: usize = 64;

/// Datagrams kept while a child decides access for their sender.
pub(super) const MAX_PARKED_DATAGRAMS: usize = 16;

/// A builtin connection waiting for a `--tcpd` child's access verdict.
pub(super) struct Parked {
    pub(super) stream: Stream,
    pub(super) service: Builtin,
    pub(super) client: Option<IpAddr>,
}

/// A datagram to a builtin, kept while a `--tcpd-datagram` child decides.
pub(super) struct ParkedDatagram {
    pub(super) service: Builtin,
    pub(super) peer: SocketAddr,
    pub(super) data: Vec<u8>,
}

impl Daemon {
    pub(super) fn on_listener(&mut self, slot: usize) {
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
    pub(super) fn accept(&mut self, slot: usize) -> Option<(Stream, Peer)> {
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
                self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources);
                None
            }
        }
    }

    pub(super) fn accept_and_spawn(&mut self, slot: usize) {
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
                    self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources);
                    return;
                }
            }
        }
        self.ready.push_back(Key::Listener(slot).token());
    }

    /// Hands the listening socket itself to a child and stops polling it.
    /// A datagram service's access is checked against the sender of the
    /// waiting datagram (a stream `wait` service has no client yet).
    pub(super) fn spawn_waiting(&mut self, slot: usize) {
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
                self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources);
            }
        }
    }

    pub(super) fn accept_builtin(&mut self, slot: usize, service: Builtin) {
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
    pub(super) fn park(
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
                self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources);
            }
        }
    }

    /// The `--tcpd` child granted access: serve the builtin connection.
    pub(super) fn serve_parked(&mut self, slot: usize, parked: Parked) {
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

    pub(super) fn serve_datagrams(&mut self, slot: usize, service: Builtin) {
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
                    .allow(limits::client_key(peer.ip(), 128), self.now)
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
    pub(super) fn park_datagram(
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

    /// Sends the reply to a datagram whose sender was granted access.
    pub(super) fn answer_parked(&mut self, slot: usize, parked: ParkedDatagram) {
        let reply = builtins::datagram_reply(parked.service, &parked.data, self.chargen_requests);
        let socket = self.listeners[slot]
            .as_ref()
            .and_then(|l| l.socket.as_ref());
        if let (Some(reply), Some(Socket::Udp(udp))) = (reply, socket) {
            let _ = udp.send_to(reply.bytes(), parked.peer);
        }
    }
}
