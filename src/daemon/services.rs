//! The service table: what each configuration line serves (its program,
//! prepared for exec, its access name, its limits) and its accounting
//! (children or connections, access checks, spawn rate, failures,
//! per-client counts). A service has an id of its own, so that a child or
//! connection of a removed service is never counted against a later one
//! in the same slot. It owns no socket: the listener at its slot does, if
//! any.

use super::*;

/// A service the daemon serves.
pub(super) struct Served {
    pub(super) service: Service,
    /// Unique for the daemon's lifetime: slots are reused.
    pub(super) id: u64,
    /// `service/protocol`, for log lines.
    pub(super) label: Rc<str>,
    /// Shared by the services that start the same program alike.
    pub(super) exec: Option<Rc<Exec>>,
    /// Whether inetd checks hosts.allow/hosts.deny for this service (see
    /// [`Served::access_name`]).
    pub(super) checks_access: bool,
    pub(super) spawns: RateWindow,
    pub(super) failures: FailureStreak,
    /// Live children, or open builtin connections.
    pub(super) active: u32,
    /// Children of `active` still deciding access (see [`Deciding`]).
    pub(super) deciding: u32,
    /// Children started and builtin connections served, since it was
    /// loaded (for the state dump).
    pub(super) started: u64,
    /// Clients refused by a limit or by the access rules in the daemon.
    pub(super) refused: u64,
    /// Per-client counts, when the service limits clients: boxed, since
    /// most services never make one (8 bytes each instead of 56).
    pub(super) clients: Option<Box<ClientTable>>,
    /// Its banner files' contents; `None` when it has no banners (most
    /// services: boxed, 8 bytes instead of 48).
    pub(super) banners: Option<Box<LoadedBanners>>,
    /// Its connections against `cps`; made at the first one (boxed too:
    /// only xinetd's services have a `cps`).
    pub(super) connection_rate: Option<Box<ConnectionRate>>,
    /// Until when a service without a listener (tcpmux) refuses what comes,
    /// as a listener's pause would (see `listeners.rs`).
    pub(super) paused_until: Option<Instant>,
    /// The peers of a UDP `nowait` service that have a child (see
    /// `per_peer.rs`); made at the first one (boxed: 8 bytes instead of 72).
    pub(super) peers: Option<Box<Peers>>,
}

/// A service's connections against its `cps` (xinetd's rate limit).
#[derive(Default)]
pub(super) struct ConnectionRate {
    /// Connections this second.
    pub(super) per_second: RateWindow,
    /// Past `cps`: every connection is refused until then.
    pub(super) refusing_until: Option<Instant>,
}

/// The label of the service at `slot`, for the log lines of its listener
/// (a function of the table, so that it can be called while a listener
/// is borrowed).
pub(super) fn label_at(services: &[Option<Served>], slot: usize) -> Rc<str> {
    services
        .get(slot)
        .and_then(Option::as_ref)
        .map_or_else(|| "".into(), |s| s.label.clone())
}

/// A service's limits after its own suffixes override the daemon's
/// defaults; 0 means none.
#[derive(Clone, Copy, Debug)]
pub(super) struct ServiceLimits {
    pub(super) spawns_per_minute: u32,
    pub(super) max_active: u32,
    pub(super) connections_per_client: u32,
    pub(super) children_per_client: u32,
    /// NetBSD's `0` limits: what arrives is dropped, nothing is started.
    pub(super) starts_nothing: bool,
}

impl ServiceLimits {
    pub(super) fn new(service: &Service, defaults: &cli::Limits) -> ServiceLimits {
        // Builtin and redirected connections are held by the daemon itself: one client
        // must not take them all, even when no `-s` is given.
        let children_per_client = match service.program {
            Program::Builtin(_) | Program::Redirect(_) if defaults.children_per_client == 0 => {
                defaults.builtins_per_client
            }
            _ => defaults.children_per_client,
        };
        let service = &service.limits;
        ServiceLimits {
            spawns_per_minute: service.max_per_minute.unwrap_or(defaults.spawns_per_minute),
            max_active: service.max_child.unwrap_or(defaults.children_per_service),
            connections_per_client: service
                .max_conn_per_ip_per_minute
                .unwrap_or(defaults.connections_per_client),
            children_per_client: service.max_child_per_ip.unwrap_or(children_per_client),
            starts_nothing: service.starts_nothing,
        }
    }

    pub(super) fn limits_clients(&self) -> bool {
        self.connections_per_client > 0 || self.children_per_client > 0
    }
}

impl Served {
    /// External stream `nowait` services get a fresh connection per child;
    /// every other external service gets the listening socket itself
    /// (builtins never do, whatever a dialect says of `wait`).
    pub(super) fn hands_over_socket(&self) -> bool {
        // A builtin has no process to hand it to: the loop serves it.
        matches!(self.service.program, Program::External(_))
            && (self.service.socket_type == SocketType::Dgram || self.service.wait)
    }

    /// Its connections are accepted in blocking mode: they go to a program
    /// (or its access check) and never to the daemon's loop, so the child
    /// need not clear `O_NONBLOCK`. Not a tcpmux service's: the
    /// multiplexer's loop read their request line first.
    pub(super) fn accepts_blocking(&self) -> bool {
        matches!(self.service.program, Program::External(_))
            && !matches!(self.service.listen, Listen::Tcpmux { .. })
            && !self.hands_over_socket()
    }

    /// The name matched against hosts.allow/hosts.deny daemon patterns;
    /// `None` when inetd does not check them for this service.
    pub(super) fn access_name(&self) -> Option<&str> {
        self.checks_access.then(|| self.service.access_name())
    }

    /// Its limits, under the daemon's `defaults`: worked out when asked
    /// (a few comparisons) rather than kept in every service.
    pub(super) fn limits(&self, defaults: &cli::Limits) -> ServiceLimits {
        ServiceLimits::new(&self.service, defaults)
    }

    /// Its peers with a child, made at the first.
    pub(super) fn peers_mut(&mut self) -> &mut Peers {
        self.peers.get_or_insert_with(Box::default)
    }

    /// Counts one child or connection of `client` ended.
    pub(super) fn release(&mut self, client: Option<IpAddr>, now: Instant) {
        self.active = self.active.saturating_sub(1);
        self.release_client(client, now);
    }

    pub(super) fn release_client(&mut self, client: Option<IpAddr>, now: Instant) {
        if let (Some(table), Some(client)) = (self.clients.as_mut(), client) {
            table.release(client, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// What every configured service costs the daemon in its tables, as
    /// measured on a 64-bit target (issue 18): a field added to these
    /// types should be rare or boxed, not carried by every plain line.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_service_stays_small() {
        assert!(
            size_of::<Option<Served>>() <= 368,
            "{}",
            size_of::<Served>()
        );
        assert!(size_of::<Service>() <= 208, "{}", size_of::<Service>());
        assert!(
            size_of::<Option<Listener>>() <= 72,
            "{}",
            size_of::<Listener>()
        );
        assert!(size_of::<Exec>() <= 64, "{}", size_of::<Exec>());
    }
}
