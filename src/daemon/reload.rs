//! Applying a configuration: matching the new services against the
//! running listeners (linear, by key), preparing their programs, and the
//! SIGHUP reload that refuses a file with bad lines.

use super::*;

impl Daemon {
    /// Replaces the running services with `services`. Listeners whose
    /// (address or path, socket type) is unchanged keep their socket, state
    /// and counts; the rest are closed or opened.
    pub(super) fn apply(&mut self, services: Vec<Service>) {
        let mut old: Vec<Option<Listener>> = std::mem::take(&mut self.listeners);
        // One lookup per new service, so a reload is linear in its size.
        let mut by_key: HashMap<(Listen, SocketType), usize> = old
            .iter()
            .enumerate()
            .filter_map(|(slot, l)| {
                let (listen, socket_type) = l.as_ref()?.key();
                Some(((listen.clone(), socket_type), slot))
            })
            .collect();
        let mut fresh: Vec<Service> = Vec::new();
        for service in services {
            match by_key.remove(&(service.listen.clone(), service.socket_type)) {
                Some(slot) => {
                    let Some(exec) = self.prepare_exec(&service) else {
                        continue;
                    };
                    let mut listener = old[slot].take().expect("each slot is keyed once");
                    listener.access_name = self.checked_name(&service);
                    listener.label = label(&service);
                    listener.limits = ServiceLimits::new(&service, &self.opts.limits);
                    listener.service = service;
                    listener.exec = exec;
                    self.put_listener(slot, listener);
                }
                None => fresh.push(service),
            }
        }
        for listener in old.into_iter().flatten() {
            self.close_listener(listener);
        }
        let mut free_slot = 0;
        for service in fresh {
            let Some(exec) = self.prepare_exec(&service) else {
                continue;
            };
            let id = self.next_listener_id;
            self.next_listener_id += 1;
            let listener = Listener {
                label: label(&service),
                limits: ServiceLimits::new(&service, &self.opts.limits),
                access_name: self.checked_name(&service),
                service,
                id,
                exec,
                socket: None,
                state: State::Unbound(Instant::now()),
                bind_failures: 0,
                spawns: RateWindow::default(),
                failures: FailureStreak::default(),
                active: 0,
                deciding: 0,
                clients: None,
            };
            // Slots below `free_slot` are taken: the scan is linear in all.
            while self.listeners.get(free_slot).is_some_and(Option::is_some) {
                free_slot += 1;
            }
            let slot = free_slot;
            self.put_listener(slot, listener);
            self.bind(slot);
        }
        self.listeners.shrink_to_fit();
        // The parse left its garbage at the top of the heap: give it back
        // rather than hold it for the daemon's lifetime.
        // SAFETY: malloc_trim only returns free memory to the kernel.
        unsafe { libc::malloc_trim(0) };
        self.internal_dgram_ports = self
            .listeners
            .iter()
            .flatten()
            .filter_map(|l| match (&l.service.program, &l.service.listen) {
                (Program::Builtin(_), Listen::Inet { addr, .. })
                    if l.service.socket_type == SocketType::Dgram =>
                {
                    Some(addr.port())
                }
                _ => None,
            })
            .collect();
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
    }
}
