//! What arrives on a listener, and the one pipeline it goes through:
//! [`Daemon::start`] takes every accepted connection, builtin datagram and
//! `wait` socket through the per-client limits, then access, then to a
//! program, a builtin session or answer, a reply, or an access check in a
//! child while it waits. The order of the checks reads top to bottom there.
//! The gates around it (room, load, rate, per-client) log, wait and pause;
//! what they decide on is `admission.rs`'s and `limits.rs`'s pure logic.

use super::*;

/// Connections accepted (or datagrams read) per listener per turn, so that
/// one busy service cannot starve the others.
pub(super) const ACCEPT_BATCH: usize = 64;

/// Datagrams kept while a child decides access for their sender.
pub(super) const MAX_PARKED_DATAGRAMS: usize = 16;

/// A connection the loop serves itself (a builtin's, a redirect's) waiting
/// for a `--tcpd` child's access verdict.
pub(super) struct Parked {
    pub(super) stream: Stream,
    pub(super) client: Option<IpAddr>,
}

/// A datagram to a builtin, kept while a `--tcpd-datagram` child decides.
pub(super) struct ParkedDatagram {
    pub(super) service: Builtin,
    pub(super) peer: SocketAddr,
    pub(super) data: Vec<u8>,
}

/// What arrived on a listener.
enum Arrival {
    /// An accepted connection.
    Connection(Stream, Peer),
    /// A datagram to a builtin, in `scratch[..len]`.
    Datagram(SocketAddr, usize),
    /// A `wait` service's listening socket, with the sender of the datagram
    /// waiting on it (none for a stream socket: no client until it accepts).
    Socket(Option<SocketAddr>),
    /// A datagram waiting for a UDP `nowait` service, from this peer, and
    /// the socket it waits on (see `per_peer.rs`).
    Peer(SocketAddr, Waits),
}

/// Whether the listener's loop goes on after an arrival.
#[derive(PartialEq, Eq)]
pub(super) enum Flow {
    Next,
    Stop,
}

impl Daemon {
    /// A listener is readable: take what arrived, up to [`ACCEPT_BATCH`],
    /// while the service has room.
    pub(super) fn on_listener(&mut self, slot: usize) {
        let listening = self.listeners.get(slot).and_then(Option::as_ref);
        if !listening.is_some_and(|l| l.state == State::Listening) {
            return;
        }
        let Some(served) = self.services.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let (program, socket_type) = (&served.service.program, served.service.socket_type);
        let kind = kind_of(program);
        let datagrams = matches!(program, Program::Builtin(_)) && socket_type == SocketType::Dgram;
        let per_peer = serves_peers(&served.service);
        let waits = !datagrams && !per_peer && served.hands_over_socket();
        // -L holds programs back; a service's own max_load (xinetd's) holds
        // back whatever it serves.
        let load_gated = kind == Kind::Program || served.service.extras.gates.max_load.is_some();
        for _ in 0..ACCEPT_BATCH {
            // A builtin's datagrams are limited by the reply budgets.
            if (!datagrams && !self.has_room(slot, kind)) || (load_gated && !self.load_allows(slot))
            {
                return;
            }
            let arrival = if per_peer {
                self.peer_waiting(slot)
                    .map(|(peer, waits)| Arrival::Peer(peer, waits))
            } else if waits {
                self.waiting(slot)
            } else if datagrams {
                self.receive(slot)
            } else {
                self.accept(slot)
                    .map(|(stream, peer)| Arrival::Connection(stream, peer))
            };
            let Some(arrival) = arrival else {
                return;
            };
            if self.start(slot, arrival) == Flow::Stop || waits {
                return;
            }
        }
        self.ready.push_back(Key::Listener(slot).token());
    }

    /// A tcpmux client named the service at `slot`, which has no listener:
    /// the gates a listener has (room, pause, load), then the pipeline, as
    /// for a connection accepted on a socket of its own.
    pub(super) fn start_tcpmux(&mut self, slot: usize, mut stream: Stream) {
        let Some(served) = self.services[slot].as_ref() else {
            return;
        };
        let kind = kind_of(&served.service.program);
        let paused = served.paused_until.is_some_and(|until| until > self.now);
        if paused
            || !self.has_room(slot, kind)
            || (kind == Kind::Program && !self.load_allows(slot))
        {
            let _ = stream.write(builtins::tcpmux::BUSY);
            return;
        }
        let peer = match &stream {
            Stream::Tcp(tcp) => match tcp.peer_addr() {
                Ok(addr) => Peer::Inet(addr),
                Err(_) => return,
            },
            Stream::Unix(_) => Peer::Local,
        };
        if self.opts.log_connections {
            if let Some(label) = self.services[slot].as_ref().map(|s| s.label.clone()) {
                self.log
                    .info(format!("{label}: connection from {peer} through tcpmux"));
            }
        }
        self.start(slot, Arrival::Connection(stream, peer));
    }

    /// The pipeline: the service's conditions, per-client limits, access,
    /// then what serves it.
    fn start(&mut self, slot: usize, mut arrival: Arrival) -> Flow {
        if self.services[slot]
            .as_ref()
            .is_some_and(|s| s.limits(&self.opts.limits).starts_nothing)
        {
            return self.drop_unstarted(slot, arrival);
        }
        if let Arrival::Connection(stream, _) = &mut arrival {
            self.send_banner(slot, stream, Banner::Every);
        }
        if !matches!(arrival, Arrival::Datagram(..)) {
            if let Err(closed) = self.conditions_allow(slot) {
                self.log_closed(slot, &arrival, closed);
                let reason = match closed {
                    Closed::Hours => "time",
                    Closed::Rate => "cps",
                };
                return self.refuse(slot, arrival, None, reason);
            }
        }
        // Spawning is counted against the rate as it is decided, so a
        // program's or a check's child is counted once.
        let client = match &arrival {
            Arrival::Connection(_, peer) => match self.admit_client(slot, peer) {
                Ok(client) => client,
                Err(_) => return self.refuse(slot, arrival, None, "per_source_limit"),
            },
            Arrival::Datagram(peer, _) => {
                // Never a reflector: no answer to another builtin's port or
                // to impossible sources, and a bounded rate per source and in all.
                let key = limits::client_key(peer.ip(), 128);
                if !limits::may_answer(*peer, &self.internal_dgram_ports)
                    || !self.replies.allow(key, self.now)
                {
                    return Flow::Next;
                }
                None
            }
            Arrival::Socket(Some(sender)) => {
                if !self.admit_sender(slot, *sender) {
                    // As a refusal: the datagram is consumed.
                    return self.refuse(slot, arrival, None, "per_source_limit");
                }
                None
            }
            Arrival::Socket(None) => None,
            Arrival::Peer(sender, _) => match self.admit_client(slot, &Peer::Inet(*sender)) {
                Ok(client) => client,
                Err(_) => return self.refuse(slot, arrival, None, "per_source_limit"),
            },
        };
        // xinetd's FAIL reason for its address lists is `address`.
        if !self.gates_admit(slot, &arrival) {
            return self.refuse(slot, arrival, client, "address");
        }
        let access = match &arrival {
            Arrival::Connection(stream, peer) => self.stream_access(slot, stream, peer),
            Arrival::Datagram(peer, _) => self.datagram_access(slot, *peer),
            Arrival::Socket(Some(sender)) | Arrival::Peer(sender, _) => {
                self.datagram_access(slot, *sender)
            }
            Arrival::Socket(None) => Access::Granted,
        };
        if access == Access::Denied {
            return self.refuse(slot, arrival, client, "libwrap");
        }
        let checked = access == Access::InChild;
        if (checked || self.runs_program(slot)) && !self.rate_allows(slot) {
            self.release_client(slot, client);
            return Flow::Stop;
        }
        if let Arrival::Connection(stream, _) = &mut arrival {
            // A child that decides gives these itself, on a grant.
            if !checked {
                self.tcpmux_go(slot, stream);
                self.send_banner(slot, stream, Banner::Success);
            }
        }
        let program = self.services[slot].as_ref().map(|l| &l.service.program);
        let builtin = match program {
            Some(Program::Builtin(service)) => Some(*service),
            _ => None,
        };
        // Served by the loop itself: a builtin, or a redirect.
        let inline = matches!(program, Some(Program::Builtin(_) | Program::Redirect(_)));
        match arrival {
            Arrival::Connection(stream, peer) if !inline => {
                let run = if checked { Run::Checked } else { Run::Program };
                let spawned = self.spawn(slot, stream.raw_fd(), Some(peer), client, run, None);
                self.after_spawn(slot, client, spawned)
            }
            Arrival::Socket(sender) => self.hand_over(slot, sender, checked),
            Arrival::Peer(sender, waits) => {
                self.start_for_peer(slot, (sender, waits), client, checked)
            }
            Arrival::Connection(stream, peer) if checked => {
                let fd = stream.raw_fd();
                let waiting = Waiting::Connection(Parked { stream, client });
                let spawned = self.spawn(slot, fd, Some(peer), None, Run::Checked, Some(waiting));
                self.after_spawn(slot, client, spawned)
            }
            Arrival::Connection(stream, _) => {
                self.serve_connection(slot, stream, client);
                Flow::Next
            }
            Arrival::Datagram(peer, len) => {
                match builtin {
                    Some(service) if checked => self.park_datagram(slot, service, peer, len),
                    Some(service) => {
                        self.record_start(slot, None, Some(&Peer::Inet(peer)));
                        let n = self.replies_sent[service as usize];
                        let reply = builtins::datagram_reply(service, &self.scratch[..len], n);
                        send_reply(self.socket(slot), reply, peer);
                        self.count_reply(service);
                    }
                    None => {}
                }
                Flow::Next
            }
        }
    }

    /// Refuses what arrived: a connection gets the fail banner and is
    /// closed; a `wait` socket's datagram is consumed, and the next one
    /// looked at.
    /// `reason` is xinetd's word for it, in a `FAIL` line.
    fn refuse(
        &mut self,
        slot: usize,
        arrival: Arrival,
        client: Option<IpAddr>,
        reason: &str,
    ) -> Flow {
        self.count_refusal(slot);
        self.release_client(slot, client);
        let peer = match &arrival {
            Arrival::Connection(_, peer) => Some(match peer {
                Peer::Inet(addr) => Peer::Inet(*addr),
                Peer::Local => Peer::Local,
            }),
            Arrival::Socket(Some(sender))
            | Arrival::Datagram(sender, _)
            | Arrival::Peer(sender, _) => Some(Peer::Inet(*sender)),
            Arrival::Socket(None) => None,
        };
        self.record_failure(slot, reason, peer.as_ref());
        match arrival {
            Arrival::Connection(mut stream, _) => self.send_banner(slot, &mut stream, Banner::Fail),
            Arrival::Socket(Some(_)) => {
                self.drain_failed_datagram(slot);
                self.ready.push_back(Key::Listener(slot).token());
            }
            // A `wait` stream socket keeps its connection: look again later.
            Arrival::Socket(None) => self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources),
            Arrival::Peer(sender, waits) => self.refuse_peer(slot, sender, waits),
            Arrival::Datagram(..) => {}
        }
        Flow::Next
    }

    fn log_closed(&mut self, slot: usize, arrival: &Arrival, closed: Closed) {
        let Some(served) = self.services[slot].as_ref() else {
            return;
        };
        let label = served.label.clone();
        let from = match arrival {
            Arrival::Connection(_, peer) => format!(" from {peer}"),
            Arrival::Socket(Some(sender)) | Arrival::Peer(sender, _) => format!(" from {sender}"),
            _ => String::new(),
        };
        let why = match closed {
            Closed::Hours => "outside its access times",
            Closed::Rate => "too many connections per second (cps)",
        };
        self.log.limited(
            "conditions",
            Level::Warning,
            format!("{label}: refused connection{from}: {why}"),
        );
    }

    fn count_refusal(&mut self, slot: usize) {
        if let Some(served) = self.services[slot].as_mut() {
            served.refused += 1;
        }
    }

    /// `tcpmux/+NAME`: the positive reply is inetd's, before the service
    /// starts. The client has sent only its line and nothing was written:
    /// the send buffer takes these few bytes at once.
    fn tcpmux_go(&self, slot: usize, stream: &mut Stream) {
        let plus = self.services[slot]
            .as_ref()
            .is_some_and(|s| matches!(s.service.listen, Listen::Tcpmux { plus: true, .. }));
        if plus {
            let _ = stream.write(builtins::tcpmux::GO);
        }
    }

    /// NetBSD's `0` limits: what arrived is dropped (a connection closed,
    /// a datagram consumed) and the next one looked at: by the listener's
    /// loop, or for a `wait` socket, whose loop stops, on the next turn.
    fn drop_unstarted(&mut self, slot: usize, arrival: Arrival) -> Flow {
        let again = match arrival {
            Arrival::Connection(..) | Arrival::Datagram(..) => false,
            Arrival::Peer(sender, waits) => {
                self.refuse_peer(slot, sender, waits);
                false
            }
            Arrival::Socket(_) => {
                let stream = self
                    .socket(slot)
                    .is_some_and(|s| matches!(s, Socket::Tcp(_) | Socket::UnixStream(_)));
                if stream {
                    self.accept(slot).is_some()
                } else {
                    self.socket(slot).is_some_and(Socket::drain_datagram)
                }
            }
        };
        if let Some(label) = self.services[slot].as_ref().map(|s| s.label.clone()) {
            self.log.limited(
                "starts nothing",
                Level::Notice,
                format!("{label}: a limit of 0 starts nothing: dropped"),
            );
        }
        if again {
            self.ready.push_back(Key::Listener(slot).token());
        }
        Flow::Next
    }

    /// NetBSD's `ip_max` on a `wait` datagram service: the sender of the
    /// datagram that would start it counts against the per-client rate (it
    /// holds no child of its own: the one child serves every sender).
    fn admit_sender(&mut self, slot: usize, sender: SocketAddr) -> bool {
        let limited = self.services[slot]
            .as_ref()
            .is_some_and(|s| s.service.limits.max_conn_per_ip_per_minute.is_some());
        if !limited {
            return true;
        }
        match self.admit_client(slot, &Peer::Inet(sender)) {
            Ok(client) => {
                self.release_client(slot, client);
                true
            }
            Err(_) => false,
        }
    }

    /// The service's own address lists (xinetd's `only_from` and
    /// `no_access`), decided from the client's address alone. A `wait`
    /// stream socket has no client until its program accepts: not checked.
    fn gates_admit(&mut self, slot: usize, arrival: &Arrival) -> bool {
        let client = match arrival {
            Arrival::Connection(_, Peer::Inet(addr)) => *addr,
            Arrival::Datagram(addr, _) | Arrival::Socket(Some(addr)) => *addr,
            _ => return true,
        };
        let Some(served) = self.services[slot].as_ref() else {
            return false;
        };
        let gates = &served.service.extras.gates;
        if !gates.lists_addresses() || gates.admits(client.ip()) {
            return true;
        }
        let label = served.label.clone();
        self.log.limited(
            "only_from",
            Level::Warning,
            format!("{label}: refused {client}: only_from/no_access"),
        );
        false
    }

    /// Whether the listener's service starts a program for what arrives.
    fn runs_program(&self, slot: usize) -> bool {
        self.services[slot]
            .as_ref()
            .is_some_and(|l| matches!(l.service.program, Program::External(_)))
    }

    /// What a failed spawn means for the listener's loop.
    pub(super) fn after_spawn<T>(
        &mut self,
        slot: usize,
        client: Option<IpAddr>,
        spawned: Result<T, NoChild>,
    ) -> Flow {
        match spawned {
            Ok(_) => Flow::Next,
            Err(NoChild::Refused) => {
                self.count_refusal(slot);
                self.release_client(slot, client);
                Flow::Next
            }
            Err(NoChild::Failed) => {
                self.release_client(slot, client);
                self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources);
                Flow::Stop
            }
        }
    }

    /// Hands the listening socket itself to a child and stops polling it.
    pub(super) fn hand_over(
        &mut self,
        slot: usize,
        sender: Option<SocketAddr>,
        checked: bool,
    ) -> Flow {
        let Some(socket) = self.listeners[slot]
            .as_mut()
            .and_then(|l| l.socket.as_mut())
        else {
            return Flow::Stop;
        };
        let _ = socket.deregister(self.poll.registry());
        let fd = socket.raw_fd();
        let run = if checked { Run::Checked } else { Run::Program };
        match self.spawn(slot, fd, sender.map(Peer::Inet), None, run, None) {
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
        Flow::Stop
    }

    /// Accepts one connection; `None` when there is none or accepting failed.
    fn accept(&mut self, slot: usize) -> Option<(Stream, Peer)> {
        let listener = self.listeners[slot].as_ref()?;
        // A program's connection never meets the loop: accepted blocking.
        let blocking = self.services[slot]
            .as_ref()
            .is_some_and(Served::accepts_blocking);
        let accepted = match listener.socket.as_ref()? {
            Socket::Tcp(s) if blocking => {
                listener::accept_tcp_blocking(s).map(|(s, a)| (Stream::Tcp(s), Peer::Inet(a)))
            }
            Socket::UnixStream(s) if blocking => {
                listener::accept_unix_blocking(s).map(|s| (Stream::Unix(s), Peer::Local))
            }
            Socket::Tcp(s) => s.accept().map(|(s, a)| (Stream::Tcp(s), Peer::Inet(a))),
            Socket::UnixStream(s) => s.accept().map(|(s, _)| (Stream::Unix(s), Peer::Local)),
            Socket::Udp(_) | Socket::UnixDgram(_) => return None,
        };
        match accepted {
            Ok((stream, peer)) => {
                if self.opts.log_connections {
                    let label = label_at(&self.services, slot);
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
                let label = label_at(&self.services, slot);
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

    /// Reads one datagram for a builtin into `scratch`; `None` when there is
    /// none (or an error an earlier reply queued, ICMP).
    fn receive(&mut self, slot: usize) -> Option<Arrival> {
        loop {
            let socket = self.listeners[slot].as_ref()?.socket.as_ref()?;
            let received = match socket {
                Socket::Udp(s) => s.recv_from(&mut self.scratch).map(|(n, a)| (n, Some(a))),
                Socket::UnixDgram(s) => s.recv_from(&mut self.scratch).map(|(n, _)| (n, None)),
                _ => return None,
            };
            match received {
                // Only UDP datagrams have a sender to answer.
                Ok((n, Some(peer))) => return Some(Arrival::Datagram(peer, n)),
                Ok((_, None)) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
        }
    }

    /// A `wait` listener's socket, to hand over: for UDP with the sender of
    /// the datagram waiting on it, looked at without taking it. `None` when
    /// no datagram waits (a wake-up of the ready queue after the last one
    /// was refused, say): nothing is started for nothing.
    fn waiting(&mut self, slot: usize) -> Option<Arrival> {
        let Some(Socket::Udp(udp)) = self.listeners[slot].as_ref()?.socket.as_ref() else {
            return Some(Arrival::Socket(None));
        };
        // An error an earlier datagram queued (ICMP) is reported once.
        for _ in 0..2 {
            match udp.peek_from(&mut [0u8; 1]) {
                Ok((_, sender)) => return Some(Arrival::Socket(Some(sender))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => continue,
            }
        }
        None
    }

    /// Serves a connection the loop serves itself, by the service's program:
    /// a session, the answer at once (daytime, time) or a relay. Its `START`
    /// record has no pid, as xinetd's for what it serves in-process.
    fn serve_connection(&mut self, slot: usize, mut stream: Stream, client: Option<IpAddr>) {
        let peer = client.map(|ip| Peer::Inet(SocketAddr::new(ip, 0)));
        self.record_start(slot, None, peer.as_ref());
        let program = self.services[slot]
            .as_ref()
            .map(|l| l.service.program.clone());
        match program {
            Some(Program::Builtin(service)) => match service.answer() {
                Some(answer) => {
                    // A fresh connection's send buffer is empty: these short
                    // answers are written whole, without waiting.
                    let _ = stream.write(&answer());
                    self.release_client(slot, client);
                }
                None => self.open_session(slot, stream, service, client),
            },
            Some(Program::Redirect(target)) => self.open_relay(slot, stream, *target, client),
            _ => self.release_client(slot, client),
        }
    }

    /// The `--tcpd` child granted access: serve the connection.
    pub(super) fn serve_parked(&mut self, slot: usize, parked: Parked) {
        let Parked { stream, client } = parked;
        if listener::set_nonblocking(stream.raw_fd()).is_err() {
            self.release_client(slot, client);
            return;
        }
        self.serve_connection(slot, stream, client);
    }

    /// Keeps the datagram in `scratch[..len]` and starts a child that
    /// decides access for its sender; the reply goes out on a grant.
    fn park_datagram(&mut self, slot: usize, service: Builtin, peer: SocketAddr, len: usize) {
        let Some(served) = self.services[slot].as_ref() else {
            return;
        };
        // The address the socket is bound to, as getsockname would say.
        let Listen::Inet { addr: server, .. } = served.service.listen else {
            return;
        };
        if self.children.waiting_datagrams() >= MAX_PARKED_DATAGRAMS {
            let label = served.label.clone();
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
        let waiting = Waiting::Datagram(ParkedDatagram {
            service,
            peer,
            data: self.scratch[..len].to_vec(),
        });
        let _ = self.spawn(slot, fd, Some(Peer::Inet(peer)), None, run, Some(waiting));
    }

    /// Sends the reply to a datagram whose sender was granted access.
    pub(super) fn answer_parked(&mut self, slot: usize, parked: ParkedDatagram) {
        self.record_start(slot, None, Some(&Peer::Inet(parked.peer)));
        let n = self.replies_sent[parked.service as usize];
        let reply = builtins::datagram_reply(parked.service, &parked.data, n);
        send_reply(self.socket(slot), reply, parked.peer);
        self.count_reply(parked.service);
    }

    fn socket(&self, slot: usize) -> Option<&Socket> {
        self.listeners[slot].as_ref()?.socket.as_ref()
    }

    /// Each builtin's replies are counted: chargen's rotate through its lines.
    fn count_reply(&mut self, service: Builtin) {
        let sent = &mut self.replies_sent[service as usize];
        *sent = sent.wrapping_add(1);
    }

    // The gates: they decide with admission.rs and limits.rs, and log,
    // wait or pause here.

    /// The counts and caps admission decides on, for `listener`.
    pub(super) fn usage(&self, listener: &Served) -> (Counts, Caps) {
        let limits = &self.opts.limits;
        let checks = self.decisions.total();
        let counts = Counts {
            children: self.children.len(),
            sessions: self.sessions.len() + self.relays.len(),
            fds: self.listeners.len()
                + self.sessions.len()
                + 2 * self.relays.len()
                + self.children.waiting_connections()
                + checks as usize
                + listener.peers.as_ref().map_or(0, |p| p.reserved_sockets()),
            checks,
            service_active: listener.active,
            service_checks: listener.deciding,
        };
        let caps = Caps {
            children: limits.max_children,
            sessions: limits.max_builtins,
            fds: self.fd_limit,
            // At most half the children, so that services needing no
            // lookup always have room.
            checks: limits.max_children.div_ceil(2),
            service_active: listener.limits(limits).max_active,
            service_checks: limits.decisions_per_service,
        };
        (counts, caps)
    }

    /// Whether the listener may take one more `kind` now; when not, it
    /// waits (it is tried again as soon as something ends) and says so.
    fn has_room(&mut self, slot: usize, kind: Kind) -> bool {
        let Some(served) = self.services[slot].as_ref() else {
            return false;
        };
        let (counts, caps) = self.usage(served);
        let Err(full) = admission::room(kind, &counts, &caps) else {
            return true;
        };
        if !self.blocked.contains(&slot) {
            self.blocked.push(slot);
        }
        let label = served.label.clone();
        let limit = match full {
            Full::Descriptors => format!("the descriptor limit ({})", self.fd_limit),
            _ => "its limit of concurrent children or connections".to_string(),
        };
        self.log.limited(
            "at capacity",
            Level::Notice,
            format!("{label}: at {limit}, waiting"),
        );
        false
    }

    /// The load average check of `-L`; pauses the served briefly when high.
    fn load_allows(&mut self, slot: usize) -> bool {
        // A service's own max_load (xinetd's) before the daemon's -L.
        let own = self.services[slot]
            .as_ref()
            .and_then(|s| s.service.extras.gates.max_load)
            .map(|hundredths| f64::from(hundredths) / 100.0);
        let Some(max) = own.or(self.opts.limits.max_load) else {
            return true;
        };
        // procfs, read each time: a few cheap syscalls, and only with -L.
        let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let Some(load) = admission::load_above(&text, max) else {
            return true;
        };
        if let Some(label) = self.services[slot].as_ref().map(|l| l.label.clone()) {
            self.log.limited(
                "load",
                Level::Notice,
                format!("{label}: load average {load:.2} above {max}, not starting servers"),
            );
        }
        self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources);
        false
    }

    /// Counts one spawn against the service's rate; when over it, the
    /// service is paused for the retry time, as the BSD inetds do.
    fn rate_allows(&mut self, slot: usize) -> bool {
        let now = self.now;
        let Some(served) = self.services[slot].as_mut() else {
            return false;
        };
        let limit = served.limits(&self.opts.limits).spawns_per_minute;
        if limit == 0 || served.spawns.allow(now, limit, limits::MINUTE) {
            return true;
        }
        // Counting starts afresh when the service resumes.
        served.spawns = RateWindow::default();
        let retry = self.opts.limits.retry_time;
        self.log.err(format!(
            "{} server failing (looping), service paused for {} s",
            served.label,
            retry.as_secs()
        ));
        self.pause(slot, now + retry, Pause::Looping);
        false
    }

    /// Counts a connection from `peer` against the per-client limits.
    /// Returns the key it is counted under, or `Err` when it must be refused.
    fn admit_client(&mut self, slot: usize, peer: &Peer) -> Result<Option<IpAddr>, Refusal> {
        let (Some(listener), Peer::Inet(addr)) = (self.services[slot].as_mut(), peer) else {
            return Ok(None);
        };
        let limits = listener.limits(&self.opts.limits);
        if !limits.limits_clients() {
            return Ok(None);
        }
        let key = limits::client_key(addr.ip(), self.opts.limits.v6_prefix);
        // Room for every client a builtin may hold a connection for.
        let capacity = match listener.service.program {
            Program::Builtin(_) | Program::Redirect(_) => {
                CLIENT_TABLE_CAPACITY.max(self.opts.limits.max_builtins as usize)
            }
            Program::External(_) => CLIENT_TABLE_CAPACITY,
        };
        let table = listener
            .clients
            .get_or_insert_with(|| Box::new(ClientTable::new(capacity)));
        let nonzero = |n: u32| (n > 0).then_some(n);
        match table.admit(
            key,
            self.now,
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

    pub(super) fn release_client(&mut self, slot: usize, client: Option<IpAddr>) {
        if let Some(served) = self.services[slot].as_mut() {
            served.release_client(client, self.now);
        }
    }
}

/// What one more connection of a service with this program holds.
fn kind_of(program: &Program) -> Kind {
    match program {
        Program::Builtin(builtin) if builtin.answer().is_some() => Kind::Answer,
        Program::Builtin(_) => Kind::Session,
        Program::Redirect(_) => Kind::Relay,
        Program::External(_) => Kind::Program,
    }
}

fn send_reply(socket: Option<&Socket>, reply: Option<builtins::Reply>, peer: SocketAddr) {
    if let (Some(reply), Some(Socket::Udp(udp))) = (reply, socket) {
        // A reply that does not fit the send buffer is dropped, as UDP may.
        let _ = udp.send_to(reply.bytes(), peer);
    }
}
