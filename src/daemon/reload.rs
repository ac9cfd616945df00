//! Applying a configuration: matching the new services against the
//! running listeners (linear, by key), preparing their programs, and the
//! SIGHUP reload that refuses a file with bad lines.

use super::*;

/// What a new configuration does to the running listeners: which keep
/// their socket (and state and counts) and take a new service, which are
/// closed, and which services need a listener of their own.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Plan {
    pub(super) keep: Vec<(usize, Service)>,
    pub(super) close: Vec<usize>,
    pub(super) open: Vec<Service>,
}

/// Matches `services` against the `running` listeners (slot and key): a
/// listener whose (address or path, socket type) is unchanged keeps its
/// socket. Pure, and linear: one map lookup per service.
pub(super) fn plan(
    running: impl IntoIterator<Item = (usize, (Listen, SocketType))>,
    services: Vec<Service>,
) -> Plan {
    let mut by_key: HashMap<(Listen, SocketType), usize> =
        running.into_iter().map(|(slot, key)| (key, slot)).collect();
    let mut plan = Plan::default();
    for service in services {
        match by_key.remove(&(service.listen.clone(), service.socket_type)) {
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
        let running: Vec<_> = self
            .listeners
            .iter()
            .enumerate()
            .filter_map(|(slot, l)| {
                let l = l.as_ref()?;
                Some((slot, (l.listen.clone(), l.socket_type)))
            })
            .collect();
        let plan = plan(running, services);
        let mut close = plan.close;
        for (slot, service) in plan.keep {
            let Some(exec) = self.prepare_exec(&service) else {
                // Its program cannot run: the service goes.
                close.push(slot);
                continue;
            };
            let access_name = self.checked_name(&service);
            let limits = ServiceLimits::new(&service, &self.opts.limits);
            let label = label(&service);
            if let Some(listener) = self.listeners[slot].as_mut() {
                listener.label = label.clone();
            }
            // Its counts stay: its children and connections are still its own.
            let Some(served) = self.services[slot].as_mut() else {
                continue;
            };
            served.access_name = access_name;
            served.label = label;
            served.limits = limits;
            served.service = service;
            served.exec = exec;
        }
        for slot in close {
            self.services[slot] = None;
            if let Some(listener) = self.listeners[slot].take() {
                self.close_listener(listener);
            }
        }
        let mut free_slot = 0;
        for service in plan.open {
            let Some(exec) = self.prepare_exec(&service) else {
                continue;
            };
            let id = self.next_service_id;
            self.next_service_id += 1;
            let listener = Listener::new(&service, self.now);
            let served = Served {
                // One label for both, shared.
                label: listener.label.clone(),
                limits: ServiceLimits::new(&service, &self.opts.limits),
                access_name: self.checked_name(&service),
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
            };
            // Slots below `free_slot` are taken: the scan is linear in all.
            while self.services.get(free_slot).is_some_and(Option::is_some) {
                free_slot += 1;
            }
            let slot = free_slot;
            self.put(slot, served, listener);
            self.bind(slot);
        }
        while self.services.last().is_some_and(Option::is_none) {
            self.services.pop();
        }
        self.listeners.truncate(self.services.len());
        self.services.shrink_to_fit();
        self.listeners.shrink_to_fit();
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

    /// Puts a service and its listener at `slot`.
    fn put(&mut self, slot: usize, served: Served, listener: Listener) {
        if slot >= self.services.len() {
            self.services.resize_with(slot + 1, || None);
        }
        if slot >= self.listeners.len() {
            self.listeners.resize_with(slot + 1, || None);
        }
        self.services[slot] = Some(served);
        self.listeners[slot] = Some(listener);
    }

    /// The access name of a service whose access inetd checks: not with
    /// `--no-wrap`, nor when the program is tcpd, which checks the rules
    /// itself (checking them twice would run `spawn` and send banners twice).
    pub(super) fn checked_name(&self, service: &Service) -> Option<String> {
        let tcpd = matches!(&service.program,
            Program::External { path, .. } if path.file_name().is_some_and(|n| n == "tcpd"));
        (self.opts.wrap && !tcpd).then(|| service.access_name())
    }

    /// `Some(None)` for builtins, `None` when the program cannot be prepared.
    pub(super) fn prepare_exec(&mut self, service: &Service) -> Option<Option<Exec>> {
        let Program::External { path, argv } = &service.program else {
            return Some(None);
        };
        match Exec::new(path, argv, &self.env, service.user.switch()) {
            Ok(exec) => Some(Some(exec)),
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

    pub(super) fn reload(&mut self) {
        let _ = self.notifier.reloading();
        self.log.info("SIGHUP: reloading configuration");
        match load(&self.opts.config.clone(), &mut self.log) {
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
                self.opts.config.display()
            )),
            Err(e) => self.log.err(format!(
                "{}: {e}: configuration not reloaded: the old one keeps serving",
                self.opts.config.display()
            )),
        }
        // Whatever the outcome, the configuration in force serves.
        let _ = self.notifier.ready();
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

    fn key(s: &Service) -> (Listen, SocketType) {
        (s.listen.clone(), s.socket_type)
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
