//! Sun RPC services: each version of a bound RPC listener is registered
//! with rpcbind on 127.0.0.1:111 (the calls of `crate::rpc`, over one
//! non-blocking UDP socket), unregistered when the listener closes (a
//! reload, or exit), and registered again when rpcbind has lost it. Calls
//! are retried on the loop's timers; nothing waits for rpcbind, except the
//! exit, which gives the last unregistrations a second at most.
//!
//! rpcbind restarting loses every registration: every [`CHECK_EVERY`],
//! one DUMP lists what rpcbind holds, and what it lacks is set again. (A
//! lookup per version would not do: rpcbind answers a lookup of a missing
//! version with the port of any version of the program it has, and looks
//! up only the transport the lookup came by. SET cannot tell either: it
//! answers true for a mapping it already has.)

use std::net::{Ipv4Addr, SocketAddrV4};

use super::*;
use crate::config::Rpc;
use crate::rpc::{self as xdr, Call, Listed, Mapping, Netid};

pub(super) const RPC_TOKEN: Token = Token(usize::MAX - 3);

/// How often every mapping is set again.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(5);

/// An unanswered call is sent again after this, up to [`TRIES`] times in
/// all; a SET given up on goes again at the next check.
const RETRY: Duration = Duration::from_secs(1);
const TRIES: u32 = 3;

/// Calls without an answer yet, at most: more wait for the next check.
const MAX_IN_FLIGHT: usize = 4096;

/// Replies read per wake-up.
const REPLY_BATCH: usize = 64;

/// How long the exit waits for rpcbind to answer the last unregistrations.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// The registrations of the daemon's RPC listeners and the calls under way.
#[derive(Default)]
pub(super) struct Registrar {
    /// Made when the first RPC listener is bound.
    socket: Option<mio::net::UdpSocket>,
    wanted: Vec<Wanted>,
    in_flight: Vec<InFlight>,
    next_xid: u32,
    next_check: Option<Instant>,
    /// The last datagram to rpcbind came back refused: nothing listens.
    unreachable: bool,
}

/// A mapping the daemon serves.
struct Wanted {
    mapping: Mapping,
    label: Rc<str>,
    state: Registration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Registration {
    /// Not answered yet.
    Pending,
    /// rpcbind took it: missing from a later list, it was lost.
    Registered,
    /// rpcbind has the version on another port, another program's.
    Taken,
}

/// What rpcbind answered, read from the reply of the call it answers.
enum Answer {
    Done(bool),
    Table(Vec<Listed>),
    /// Rejected, not run, or not understood.
    Refused,
}

struct InFlight {
    xid: u32,
    call: Call,
    sent: Instant,
    tries: u32,
}

/// The transports an RPC socket's mappings name: an IPv6 socket that also
/// takes IPv4 (`rpc/udp46`) is registered for both.
fn netids(listen: &Listen, socket_type: SocketType) -> &'static [Netid] {
    let dual = matches!(listen, Listen::Inet { addr, v6only: false } if addr.is_ipv6());
    let v6 = matches!(listen, Listen::Inet { addr, .. } if addr.is_ipv6());
    match (socket_type, v6, dual) {
        (SocketType::Stream, _, true) => &[Netid::Tcp, Netid::Tcp6],
        (SocketType::Dgram, _, true) => &[Netid::Udp, Netid::Udp6],
        (SocketType::Stream, true, _) => &[Netid::Tcp6],
        (SocketType::Dgram, true, _) => &[Netid::Udp6],
        (SocketType::Stream, false, _) => &[Netid::Tcp],
        (SocketType::Dgram, false, _) => &[Netid::Udp],
    }
}

/// The mappings of one bound RPC socket.
fn mappings(rpc: Rpc, listen: &Listen, socket_type: SocketType, bound: SocketAddr) -> Vec<Mapping> {
    let mut out = Vec::new();
    for &netid in netids(listen, socket_type) {
        for version in rpc.versions() {
            out.push(Mapping {
                program: rpc.program,
                version,
                netid,
                addr: bound.ip(),
                port: bound.port(),
            });
        }
    }
    out
}

fn local_addr(socket: &Socket) -> Option<SocketAddr> {
    match socket {
        Socket::Tcp(s) => s.local_addr().ok(),
        Socket::Udp(s) => s.local_addr().ok(),
        _ => None,
    }
}

/// The portmapper's UNSET removes a version on both `tcp` and `udp`: a
/// mapping it took along with another.
fn unset_also_removes(unset: &Mapping, other: &Mapping) -> bool {
    let v4 = |m: &Mapping| matches!(m.netid, Netid::Tcp | Netid::Udp);
    other.program == unset.program && other.version == unset.version && v4(unset) && v4(other)
}

/// A mapping, for log lines.
fn describe_mapping(m: &Mapping) -> String {
    format!(
        "RPC program {} version {} on {} port {}",
        m.program,
        m.version,
        m.netid.name(),
        m.port
    )
}

impl Registrar {
    /// The call a reply answers (no longer in flight) and what it says;
    /// `None` for a datagram that answers nothing of ours.
    fn match_reply(&mut self, bytes: &[u8]) -> Option<(Call, Answer)> {
        let (xid, result) = xdr::decode(bytes)?;
        let at = self.in_flight.iter().position(|c| c.xid == xid)?;
        let call = self.in_flight.swap_remove(at).call;
        let answer = match (&call, result) {
            (Call::Dump, Some(result)) => xdr::table(result).map(Answer::Table),
            (_, Some(result)) => xdr::boolean(result).map(Answer::Done),
            (_, None) => None,
        };
        Some((call, answer.unwrap_or(Answer::Refused)))
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let retry = self.in_flight.iter().map(|c| c.sent + RETRY).min();
        let check = self.next_check.filter(|_| !self.wanted.is_empty());
        retry.into_iter().chain(check).min()
    }

    fn xid(&mut self) -> u32 {
        if self.next_xid == 0 {
            // Distinct from a previous inetd's, whose late replies may come.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            self.next_xid = std::process::id().rotate_left(16) ^ nanos | 1;
        }
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        self.next_xid
    }

    /// Sends `call`, keeping it until answered or given up on (see
    /// [`Daemon::rpc_timers`]); past [`MAX_IN_FLIGHT`], a SET waits for the
    /// next check.
    fn send(&mut self, call: Call, now: Instant) {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            return;
        }
        let xid = self.xid();
        self.transmit(xid, &call);
        self.in_flight.push(InFlight {
            xid,
            call,
            sent: now,
            tries: 1,
        });
    }

    /// One datagram; one that cannot go now goes again after [`RETRY`].
    fn transmit(&self, xid: u32, call: &Call) {
        if let Some(socket) = &self.socket {
            let _ = socket.send(&xdr::encode(xid, call));
        }
    }
}

impl Daemon {
    /// A listener was bound: register its versions, if it is an RPC
    /// service's (after unsetting what a previous inetd may have left,
    /// as FreeBSD's does).
    pub(super) fn rpc_bound(&mut self, slot: usize) {
        let Some(served) = self.services.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let Some(rpc) = served.service.rpc else {
            return;
        };
        let label = served.label.clone();
        let Some(listener) = self.listeners[slot].as_ref() else {
            return;
        };
        let Some(bound) = listener.socket.as_ref().and_then(local_addr) else {
            return;
        };
        let service = &served.service;
        let mappings = mappings(rpc, &service.listen, service.socket_type, bound);
        if self.rpc.socket.is_none() {
            match self.rpcbind_socket() {
                Ok(socket) => self.rpc.socket = Some(socket),
                Err(e) => self.log.limited(
                    "rpcbind",
                    Level::Err,
                    format!("{label}: cannot open a socket to rpcbind: {e}; registering at the next check"),
                ),
            }
        }
        let versions = if rpc.low == rpc.high {
            format!("version {}", rpc.low)
        } else {
            format!("versions {}-{}", rpc.low, rpc.high)
        };
        self.log.info(format!(
            "{label}: RPC program {} {versions} on port {}: registering with rpcbind",
            rpc.program,
            bound.port()
        ));
        let now = self.now;
        for mapping in mappings {
            self.rpc.send(Call::Unset(mapping), now);
            self.rpc.send(Call::Set(mapping), now);
            self.rpc.wanted.push(Wanted {
                mapping,
                label: label.clone(),
                state: Registration::Pending,
            });
        }
        self.rpc.next_check.get_or_insert(now + CHECK_EVERY);
    }

    /// A non-blocking UDP socket connected to rpcbind, polled for replies.
    fn rpcbind_socket(&mut self) -> io::Result<mio::net::UdpSocket> {
        let mut socket =
            mio::net::UdpSocket::bind(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))?;
        socket.connect(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::LOCALHOST,
            xdr::RPCBIND_PORT,
        )))?;
        self.poll
            .registry()
            .register(&mut socket, RPC_TOKEN, mio::Interest::READABLE)?;
        Ok(socket)
    }

    /// The listener at `slot` is closing: unregister its mappings, if it
    /// has any.
    pub(super) fn rpc_closed(&mut self, slot: usize) {
        let (Some(listener), Some(served)) = (
            self.listeners.get(slot).and_then(Option::as_ref),
            self.services.get(slot).and_then(Option::as_ref),
        ) else {
            return;
        };
        let Some(bound) = listener.socket.as_ref().and_then(local_addr) else {
            return;
        };
        let transports = netids(&served.service.listen, served.service.socket_type);
        let (gone, kept): (Vec<Wanted>, Vec<Wanted>) = std::mem::take(&mut self.rpc.wanted)
            .into_iter()
            .partition(|w| w.mapping.port == bound.port() && transports.contains(&w.mapping.netid));
        self.rpc.wanted = kept;
        // Its calls under way are moot.
        self.rpc
            .in_flight
            .retain(|c| !gone.iter().any(|w| Some(&w.mapping) == c.call.mapping()));
        if let Some(first) = gone.first() {
            self.log.info(format!(
                "{}: unregistering RPC program {} from rpcbind",
                first.label, first.mapping.program
            ));
        }
        for wanted in gone {
            self.rpc.send(Call::Unset(wanted.mapping), self.now);
        }
    }

    /// rpcbind answered (or an error came back).
    pub(super) fn on_rpc_readable(&mut self) {
        for _ in 0..REPLY_BATCH {
            let Some(socket) = &self.rpc.socket else {
                return;
            };
            match socket.recv(&mut self.scratch) {
                Ok(n) => {
                    self.rpc.unreachable = false;
                    if let Some((call, answer)) = self.rpc.match_reply(&self.scratch[..n]) {
                        self.rpc_answer(call, answer);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.rpc.unreachable = true;
                    self.log.limited(
                        "rpcbind",
                        Level::Warning,
                        "rpcbind is not running on 127.0.0.1:111: RPC services wait for it"
                            .to_string(),
                    );
                }
                Err(_) => {}
            }
        }
        // More replies than a turn reads: the rest on the next one.
        self.ready.push_back(RPC_TOKEN);
    }

    fn rpc_answer(&mut self, call: Call, answer: Answer) {
        match (call, answer) {
            (Call::Set(mapping), Answer::Done(added)) => {
                let Some(wanted) = self.rpc.wanted.iter_mut().find(|w| w.mapping == mapping) else {
                    return;
                };
                let (before, label) = (wanted.state, wanted.label.clone());
                wanted.state = if added {
                    Registration::Registered
                } else {
                    Registration::Taken
                };
                let what = describe_mapping(&mapping);
                match (added, before) {
                    (true, _) => self.log.debug(format_args!("{label}: registered {what}")),
                    (false, Registration::Taken) => {}
                    (false, _) => self.log.warn(format!(
                        "{label}: rpcbind refused {what}: another program has registered the version"
                    )),
                }
            }
            (Call::Unset(unset), Answer::Done(_)) => {
                // What the portmapper removed along with it goes back.
                let again: Vec<Mapping> = self
                    .rpc
                    .wanted
                    .iter()
                    .filter(|w| unset_also_removes(&unset, &w.mapping))
                    .map(|w| w.mapping)
                    .collect();
                for mapping in again {
                    self.rpc.send(Call::Set(mapping), self.now);
                }
            }
            (Call::Dump, Answer::Table(listed)) => self.rpc_check(&listed),
            (call, _) => self.log.limited(
                "rpcbind",
                Level::Warning,
                match call.mapping() {
                    Some(m) => format!(
                        "rpcbind refused to {} RPC program {} version {}",
                        if matches!(call, Call::Set(_)) {
                            "register"
                        } else {
                            "unregister"
                        },
                        m.program,
                        m.version
                    ),
                    None => "rpcbind refused to list its registrations".to_string(),
                },
            ),
        }
    }

    /// rpcbind's list came: set again what it lacks.
    fn rpc_check(&mut self, listed: &[Listed]) {
        let now = self.now;
        let mut lost = Vec::new();
        let mut due = Vec::new();
        for wanted in &mut self.rpc.wanted {
            let busy = self
                .rpc
                .in_flight
                .iter()
                .any(|c| c.call.mapping() == Some(&wanted.mapping));
            if busy || listed.iter().any(|l| l.is(&wanted.mapping)) {
                continue;
            }
            if wanted.state == Registration::Registered {
                lost.push((wanted.label.clone(), describe_mapping(&wanted.mapping)));
                wanted.state = Registration::Pending;
            }
            due.push(wanted.mapping);
        }
        for (label, what) in lost {
            self.log.info(format!(
                "{label}: rpcbind had lost {what} (restarted?): registering again"
            ));
        }
        for mapping in due {
            self.rpc.send(Call::Set(mapping), now);
        }
    }

    /// Retries, and the periodic check.
    pub(super) fn rpc_timers(&mut self) {
        let now = self.now;
        let rpc = &mut self.rpc;
        let mut given_up = false;
        rpc.in_flight.retain_mut(|call| {
            if call.sent + RETRY > now {
                return true;
            }
            if call.tries >= TRIES {
                given_up = true;
                return false;
            }
            call.tries += 1;
            call.sent = now;
            if let Some(socket) = &rpc.socket {
                let _ = socket.send(&xdr::encode(call.xid, &call.call));
            }
            true
        });
        if given_up {
            self.log.limited(
                "rpcbind",
                Level::Warning,
                "rpcbind does not answer on 127.0.0.1:111: RPC registrations are tried again later"
                    .to_string(),
            );
        }
        if self.rpc.wanted.is_empty() {
            self.rpc.next_check = None;
        }
        if self.rpc.next_check.is_some_and(|at| at <= now) {
            self.rpc.next_check = Some(now + CHECK_EVERY);
            if self.rpc.socket.is_none() {
                match self.rpcbind_socket() {
                    Ok(socket) => self.rpc.socket = Some(socket),
                    Err(_) => return,
                }
            }
            if !self.rpc.in_flight.iter().any(|c| c.call == Call::Dump) {
                self.rpc.send(Call::Dump, now);
            }
        }
    }

    /// At exit, after the listeners closed: wait a little for rpcbind to
    /// take the unregistrations (sent again once), so no client is sent to
    /// a port nobody holds.
    pub(super) fn rpc_flush(&mut self) {
        if self.rpc.socket.is_none() {
            return;
        }
        let mut events = Events::with_capacity(16);
        let deadline = Instant::now() + EXIT_WAIT;
        let mut resent = false;
        while !self.rpc.in_flight.is_empty() {
            let now = Instant::now();
            // Nobody to tell, or no time left.
            if now >= deadline || self.rpc.unreachable {
                return;
            }
            if !resent && now + EXIT_WAIT / 2 >= deadline {
                resent = true;
                for call in &self.rpc.in_flight {
                    self.rpc.transmit(call.xid, &call.call);
                }
            }
            let wait = deadline.saturating_duration_since(now).min(EXIT_WAIT / 4);
            // The loop's own poll: the listeners are gone, and nothing
            // else is served any more.
            let _ = self.poll.poll(&mut events, Some(wait));
            self.now = Instant::now();
            self.on_rpc_readable();
            // Only unregistrations are waited for.
            self.rpc
                .in_flight
                .retain(|c| matches!(c.call, Call::Unset(_)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(addr: &str, v6only: bool) -> Listen {
        Listen::Inet {
            addr: addr.parse().unwrap(),
            v6only,
        }
    }

    #[test]
    fn each_version_on_each_transport() {
        let rpc = Rpc {
            program: 100001,
            low: 1,
            high: 3,
        };
        let bound = "0.0.0.0:700".parse().unwrap();
        let all = mappings(rpc, &listen("0.0.0.0:0", false), SocketType::Dgram, bound);
        let versions: Vec<(u32, Netid, u16)> =
            all.iter().map(|m| (m.version, m.netid, m.port)).collect();
        assert_eq!(
            versions,
            [
                (1, Netid::Udp, 700),
                (2, Netid::Udp, 700),
                (3, Netid::Udp, 700)
            ]
        );
        let dual = listen("[::]:0", false);
        assert_eq!(netids(&dual, SocketType::Stream), [Netid::Tcp, Netid::Tcp6]);
        assert_eq!(
            netids(&listen("[::]:0", true), SocketType::Dgram),
            [Netid::Udp6]
        );
        assert_eq!(
            netids(&listen("127.0.0.1:0", false), SocketType::Stream),
            [Netid::Tcp]
        );
    }

    #[test]
    fn the_portmapper_unsets_both_ipv4_transports() {
        let m = |version, netid| Mapping {
            program: 7,
            version,
            netid,
            addr: "0.0.0.0".parse().unwrap(),
            port: 1,
        };
        assert!(unset_also_removes(&m(1, Netid::Tcp), &m(1, Netid::Udp)));
        assert!(!unset_also_removes(&m(1, Netid::Tcp), &m(2, Netid::Udp)));
        assert!(!unset_also_removes(&m(1, Netid::Tcp6), &m(1, Netid::Udp6)));
        assert!(!unset_also_removes(&m(1, Netid::Tcp), &m(1, Netid::Tcp6)));
    }
}
