//! Applying a configuration: matching the new services against the
//! running listeners (linear, by key), preparing their programs, and the
//! SIGHUP reload that refuses a file with bad lines.

use super::*;
use crate::keyhash::Interner;
use crate::keyhash::KeyMap;

/// What a new configuration does to the running listeners: which keep
/// their socket (and state and counts) and take a new service, which are
/// closed, and which services need a listener of their own.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Plan {
    pub(super) keep: Vec<(usize, Service)>,
    pub(super) close: Vec<usize>,
    pub(super) open: Vec<Service>,
}

/// What a listener is matched by across a reload: its address or path,
/// its socket type, for an RPC service (whose port is anonymous) its
/// program and versions, and whether it shares its port with a child per
/// peer (a UDP `nowait` socket is bound to, see `per_peer.rs`).
pub(super) type ListenKey = (Listen, SocketType, Option<config::Rpc>, bool);

fn key_of(service: &Service) -> ListenKey {
    (
        service.listen.clone(),
        service.socket_type,
        service.rpc,
        serves_peers(service),
    )
}

/// Matches `services` against the `running` listeners (slot and key): a
/// listener whose key is unchanged keeps its socket. Pure, and linear: one
/// map lookup per service.
pub(super) fn plan(
    running: impl IntoIterator<Item = (usize, ListenKey)>,
    services: Vec<Service>,
) -> Plan {
    let mut by_key: KeyMap<ListenKey, usize> =
        running.into_iter().map(|(slot, key)| (key, slot)).collect();
    let mut plan = Plan::default();
    for service in services {
        match by_key.remove(&key_of(&service)) {
            Some(slot) => plan.keep.push((slot, service)),
            None => plan.open.push(service),
        }
    }
    plan.close = by_key.into_values().collect();
    plan.close.sort_unstable();
    plan
}

impl Daemon {
    /// Replaces the running services with `services` (see [`plan`]).
    pub(super) fn apply(&mut self, services: Vec<Service>) {
        // By service: a tcpmux service has no listener.
        let running: Vec<_> = self
            .services
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| Some((slot, key_of(&s.as_ref()?.service))))
            .collect();
        let plan = plan(running, services);
        let mut close = plan.close;
        let mut kept = Vec::new();
        let mut execs = Interner::default();
        for (slot, service) in plan.keep {
            let Some(exec) = self.prepare_exec(&service, &mut execs) else {
                // Its program cannot run: the service goes.
                close.push(slot);
                continue;
            };
            let checks_access = self.checks_access(&service);
            let label = label(&service);
            let banners = self.load_banners(&service);
            // Its counts stay: its children and connections are still its own.
            let Some(served) = self.services[slot].as_mut() else {
                continue;
            };
            served.checks_access = checks_access;
            served.label = label;
            served.service = service;
            served.exec = exec;
            served.banners = banners;
            kept.push(slot);
        }
        // Hard reconfiguration, for the services that ask for it (the
        // xinetd dialect's) or all of them (`--hard-reload`).
        let hard = |served: &Served| self.opts.hard_reload || served.service.hard_reload;
        let removed: Vec<(usize, u64)> = close
            .iter()
            .filter_map(|&slot| {
                let served = self.services[slot].as_ref()?;
                hard(served).then_some((slot, served.id))
            })
            .collect();
        let mut checked = vec![false; self.services.len()];
        for &slot in &kept {
            checked[slot] = self.services[slot].as_ref().is_some_and(hard);
        }
        if !removed.is_empty() || checked.contains(&true) {
            self.stop_what_reload_ended(&removed, &checked);
        }
        for slot in close {
            self.close_listener(slot);
            self.services[slot] = None;
        }
        // Room for them all at once: growing one slot at a time would
        // leave the smaller tables' memory behind, in pieces.
        self.services.reserve(plan.open.len());
        self.listeners.reserve(plan.open.len());
        let mut free_slot = 0;
        for service in plan.open {
            let Some(exec) = self.prepare_exec(&service, &mut execs) else {
                continue;
            };
            let id = self.next_service_id;
            self.next_service_id += 1;
            let label = label(&service);
            // A tcpmux service is reached through tcpmux: no socket.
            let listener = match service.listen {
                Listen::Tcpmux { .. } => None,
                _ => Some(Listener::new(&service, self.now)),
            };
            let served = Served {
                banners: self.load_banners(&service),
                connection_rate: None,
                label,
                checks_access: self.checks_access(&service),
                service,
                id,
                exec,
                spawns: RateWindow::default(),
                failures: FailureStreak::default(),
                active: 0,
                deciding: 0,
                started: 0,
                refused: 0,
                clients: None,
                paused_until: None,
                peers: None,
            };
            // Slots below `free_slot` are taken: the scan is linear in all.
            while self.services.get(free_slot).is_some_and(Option::is_some) {
                free_slot += 1;
            }
            let slot = free_slot;
            let binds = listener.is_some();
            self.put(slot, served, listener);
            if binds {
                self.bind(slot);
            }
        }
        while self.services.last().is_some_and(Option::is_none) {
            self.services.pop();
        }
        self.listeners.truncate(self.services.len());
        self.services.shrink_to_fit();
        self.listeners.shrink_to_fit();
        self.prepare_auth();
        // The parse left its garbage at the top of the heap: give it back
        // rather than hold it for the daemon's lifetime.
        crate::trim_heap();
        self.internal_dgram_ports = self
            .services
            .iter()
            .flatten()
            .filter_map(|s| match (&s.service.program, &s.service.listen) {
                (Program::Builtin(_), Listen::Inet { addr, .. })
                    if s.service.socket_type == SocketType::Dgram =>
                {
                    Some(addr.port())
                }
                _ => None,
            })
            .collect();
    }

    /// What auth's real answers need, at each load that has such a
    /// service: the kernel's sock_diag ready (see `ident::warm_up`), and
    /// the user names, from /etc/passwd (a regular file, through
    /// `files.rs`), never NSS, which may block.
    fn prepare_auth(&mut self) {
        let real = |want_names: bool| {
            self.services.iter().flatten().any(|s| {
                s.service.program == Program::Builtin(Builtin::Auth)
                    && builtins::ident::Options::parse(&s.service.extras.builtin_args)
                        .is_ok_and(|(o, _)| o.real && !o.random && (!want_names || !o.numeric))
            })
        };
        self.user_names = builtins::ident::UserNames::default();
        if real(false) {
            builtins::ident::warm_up();
        }
        if !real(true) {
            return;
        }
        match crate::files::read_regular(Path::new("/etc/passwd")) {
            Ok(bytes) => {
                self.user_names =
                    builtins::ident::UserNames::parse(&String::from_utf8_lossy(&bytes));
            }
            Err(e) => self
                .log
                .warn(format!("/etc/passwd: {e}: auth answers with uids")),
        }
    }

    /// Puts a service and its listener at `slot`.
    fn put(&mut self, slot: usize, served: Served, listener: Option<Listener>) {
        if slot >= self.services.len() {
            self.services.resize_with(slot + 1, || None);
        }
        if slot >= self.listeners.len() {
            self.listeners.resize_with(slot + 1, || None);
        }
        self.services[slot] = Some(served);
        self.listeners[slot] = listener;
    }

    /// Whether inetd checks a service's access: not with `--no-wrap` or
    /// the service's NOLIBWRAP (xinetd's), nor when the program is tcpd,
    /// which checks the rules itself (checking them twice would run
    /// `spawn` and send banners twice).
    pub(super) fn checks_access(&self, service: &Service) -> bool {
        let tcpd = matches!(&service.program, Program::External(command) if command.runs_tcpd());
        self.opts.wrap && !service.extras.gates.no_wrap && !tcpd
    }

    /// `Some(None)` for builtins, `None` when the program cannot be prepared.
    pub(super) fn prepare_exec(
        &mut self,
        service: &Service,
        execs: &mut Interner<Exec>,
    ) -> Option<Option<Rc<Exec>>> {
        let Program::External(command) = &service.program else {
            return Some(None);
        };
        let config::Command { path, argv } = &**command;
        match Exec::new(
            path,
            argv,
            &self.service_env(service),
            service.user.switch(),
        ) {
            Ok(exec) => {
                let exec = exec.with_settings(ChildSettings::of(&service.extras.process));
                Some(Some(execs.share(Rc::new(exec))))
            }
            Err(e) => {
                self.log.err(format!(
                    "{}:{}: {}: {e}",
                    service.file,
                    service.line,
                    path.display()
                ));
                None
            }
        }
    }

    /// xinetd's hard reconfiguration: the children and connections of
    /// `removed` services are stopped, and so are the children of the
    /// `checked` slots (kept services) whose client the service's own
    /// `only_from`/`no_access` or the access rules, as they are now,
    /// refuse (decided without lookups; a client whose verdict would need
    /// one is left alone), or whose `access_times` no longer hold now, as
    /// xinetd.8 describes its SIGHUP. Each is logged.
    fn stop_what_reload_ended(&mut self, removed: &[(usize, u64)], checked: &[bool]) {
        let rules_apply = self.rules_apply();
        let minute = local_minute();
        let mut stop = Vec::new();
        for (&pid, child) in self.children.iter() {
            if child.deciding.is_some() || child.verdict_for.is_some() {
                continue;
            }
            if removed.contains(&child.service) {
                stop.push((
                    pid,
                    child.label.clone(),
                    "its service was removed".to_string(),
                ));
                continue;
            }
            let (slot, id) = child.service;
            let (Some(Peer::Inet(client)), true) =
                (&child.peer, checked.get(slot).copied().unwrap_or(false))
            else {
                continue;
            };
            let Some(served) = self.services[slot].as_ref().filter(|s| s.id == id) else {
                continue;
            };
            let gates = &served.service.extras.gates;
            if gates.lists_addresses() && !gates.admits(client.ip()) {
                let why = format!("its client {client} no longer passes only_from/no_access");
                stop.push((pid, child.label.clone(), why));
                continue;
            }
            if !open_at(&served.service.extras.access_times, minute) {
                let why = "its service is outside its access times now".to_string();
                stop.push((pid, child.label.clone(), why));
                continue;
            }
            let (true, Some(daemon), Listen::Inet { addr: server, .. }) =
                (rules_apply, served.access_name(), &served.service.listen)
            else {
                continue;
            };
            let request = Request {
                daemon,
                client: *client,
                server: *server,
                pid: None,
            };
            if let Decision::Denied(_) = self.rules.decide(&request, &mut NoLookup) {
                let why = format!("its client {client} is no longer allowed");
                stop.push((pid, child.label.clone(), why));
            }
        }
        for (pid, label, why) in stop {
            // SAFETY: kill(2) on a child of ours not reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            self.log.info(format!("{label}: pid {pid} stopped: {why}"));
        }
        // Builtin and redirected connections: those of removed services,
        // and those whose client the service's own lists now refuse.
        let ended = |service: (usize, u64), client: Option<IpAddr>| -> Option<&'static str> {
            if removed.contains(&service) {
                return Some("its service was removed");
            }
            let (slot, id) = service;
            let served = self.services[slot]
                .as_ref()
                .filter(|s| s.id == id && checked.get(slot).copied().unwrap_or(false))?;
            let gates = &served.service.extras.gates;
            (gates.lists_addresses() && client.is_some_and(|ip| !gates.admits(ip)))
                .then_some("its client no longer passes only_from/no_access")
        };
        let sessions: Vec<(usize, &'static str)> = self
            .sessions
            .iter()
            .filter_map(|(i, s)| Some((i, ended(s.service, s.client)?)))
            .collect();
        let relays: Vec<(usize, &'static str)> = self
            .relays
            .iter()
            .filter_map(|(i, r)| Some((i, ended(r.service, r.client)?)))
            .collect();
        for (index, why) in sessions {
            if let Some(label) = self.label_of(self.sessions.get(index).map(|s| s.service)) {
                self.log.info(format!("{label}: connection closed: {why}"));
            }
            self.close_session(index);
        }
        for (index, why) in relays {
            if let Some(label) = self.label_of(self.relays.get(index).map(|r| r.service)) {
                self.log
                    .info(format!("{label}: redirected connection closed: {why}"));
            }
            self.close_relay(index);
        }
    }

    /// The label of the service a connection counts against, while that
    /// service is in the table.
    fn label_of(&self, service: Option<(usize, u64)>) -> Option<String> {
        let (slot, id) = service?;
        let served = self.services.get(slot)?.as_ref().filter(|s| s.id == id)?;
        Some(served.label.to_string())
    }

    pub(super) fn reload(&mut self) {
        let _ = self.notifier.reloading();
        self.log.info("SIGHUP: reloading configuration");
        // Reopened at their next record: a rotated file is let go.
        self.record_files.clear();
        match load(&self.opts, &mut self.log) {
            Ok((services, 0)) => {
                self.apply(services);
                let (bound, unbound) = self.count_bound();
                self.log.info(if unbound == 0 {
                    format!("reloaded: {bound} services")
                } else {
                    format!("reloaded: {bound} services, {unbound} not bound yet")
                });
            }
            Ok((_, errors)) => self.log.err(format!(
                "{}: {errors} bad lines, configuration not reloaded: the old one keeps serving",
                config::sources::describe(&self.opts.sources)
            )),
            Err(e) => self.log.err(format!(
                "{e}: configuration not reloaded: the old one keeps serving"
            )),
        }
        self.loaded();
        // Whatever the outcome, the configuration in force serves.
        let _ = self.notifier.ready();
    }

    /// A load is over: the code only it ran is to leave the resident set
    /// once the loop is idle.
    pub(super) fn loaded(&mut self) {
        self.shed_loading_code_by = Some(Instant::now() + SHED_AT_THE_LATEST);
    }

    /// The code only loading ran leaves the daemon's resident set (see
    /// `resident.rs`), at the first idle turn (`idle`) after a load or when
    /// the loop has been busy for [`SHED_AT_THE_LATEST`].
    pub(super) fn shed_loading_code_when_due(&mut self, idle: bool) {
        if !self
            .shed_loading_code_by
            .is_some_and(|by| idle || self.now >= by)
        {
            return;
        }
        self.shed_loading_code_by = None;
        match crate::resident::shed_loaded_code() {
            Ok(()) => self.log.debug("loading's code unmapped"),
            Err(e) => self.log.debug(format!("cannot unmap loading's code: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(listen: &str, socket_type: SocketType) -> Service {
        let inet = Listen::Inet {
            addr: listen.parse().unwrap(),
            v6only: false,
        };
        Service {
            socket_type,
            ..Service::for_test(listen, inet, Program::Builtin(Builtin::Echo))
        }
    }

    fn key(s: &Service) -> ListenKey {
        key_of(s)
    }

    #[test]
    fn unchanged_listeners_keep_their_slot_the_rest_close_or_open() {
        let a = service("127.0.0.1:7", SocketType::Stream);
        let b = service("127.0.0.1:9", SocketType::Stream);
        let c = service("127.0.0.1:13", SocketType::Stream);
        // Same address and port, another socket type: another listener.
        let a_dgram = service("127.0.0.1:7", SocketType::Dgram);
        let running = [(0, key(&a)), (3, key(&b))];
        let plan = plan(running, vec![c.clone(), a.clone(), a_dgram.clone()]);
        assert_eq!(plan.keep, vec![(0, a)]);
        assert_eq!(plan.close, vec![3]);
        assert_eq!(plan.open, vec![c, a_dgram]);
    }

    #[test]
    fn rpc_services_on_one_anonymous_address_keep_their_own_listeners() {
        let rpc = |program, high| Service {
            rpc: Some(config::Rpc {
                program,
                low: 1,
                high,
            }),
            ..service("0.0.0.0:0", SocketType::Dgram)
        };
        let (a, b) = (rpc(100001, 5), rpc(100002, 2));
        let running = [(0, key(&a)), (1, key(&b))];
        let same = plan(running.clone(), vec![b.clone(), a.clone()]);
        assert_eq!(same.keep, vec![(1, b.clone()), (0, a.clone())]);
        // Other versions: another registration, another listener.
        let changed = plan(running, vec![rpc(100001, 3), b.clone()]);
        assert_eq!(changed.keep, vec![(1, b)]);
        assert_eq!(changed.close, vec![0]);
        assert_eq!(changed.open, vec![rpc(100001, 3)]);
    }

    #[test]
    fn a_udp_line_turned_nowait_gets_a_socket_that_shares_its_port() {
        let external = Program::external("/bin/cat".into(), vec!["cat".into()]);
        let udp = |wait| Service {
            wait,
            program: external.clone(),
            ..service("127.0.0.1:69", SocketType::Dgram)
        };
        let running = [(0, key(&udp(true)))];
        let changed = plan(running.clone(), vec![udp(false)]);
        assert_eq!((changed.close, changed.open), (vec![0], vec![udp(false)]));
        assert_eq!(plan(running, vec![udp(true)]).keep, vec![(0, udp(true))]);
    }

    #[test]
    fn a_reload_of_many_services_in_any_order_keeps_them_all() {
        let services: Vec<Service> = (1..2000)
            .map(|port| service(&format!("127.0.0.1:{port}"), SocketType::Stream))
            .collect();
        let running: Vec<_> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (i, key(s)))
            .collect();
        let plan = plan(running, services.into_iter().rev().collect());
        assert_eq!(plan.keep.len(), 1999);
        assert!(plan.keep.iter().all(|(slot, s)| s.listen
            == Listen::Inet {
                addr: format!("127.0.0.1:{}", slot + 1).parse().unwrap(),
                v6only: false
            }));
        assert!(plan.close.is_empty() && plan.open.is_empty());
    }
}
