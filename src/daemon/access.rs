//! Access control in the daemon: deciding without lookups where it can,
//! else preparing the `--tcpd` child that decides, and the bookkeeping of
//! the decisions under way (per service, per client, in all). It never
//! looks anything up itself.

use super::*;

/// What the parent decided about a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    Granted,
    Denied,
    /// A lookup or an option needs a child: run the `--tcpd` mode.
    InChild,
}

/// Options the parent cannot carry out: they run commands, wait, or change
/// the process or socket. (Severity only sets the log level; user and group
/// are checked only; rfc931 and aclexec are done while deciding.)
pub(super) fn runs_in_child(option: &RuleOption) -> bool {
    !matches!(
        option,
        RuleOption::Severity(_)
            | RuleOption::User(_)
            | RuleOption::Group(_)
            | RuleOption::Rfc931(_)
            | RuleOption::Aclexec(_)
    )
}

impl Daemon {
    /// The access-control name of a service (what tcpd would see: the
    /// basename of argv[0], or the builtin's name) and the `--tcpd` child
    /// that checks it when the parent cannot.
    /// inetd's `--tcpd` mode in front of the listener's program (or, for a
    /// builtin, alone), for an access decision that must be made in a child.
    /// Built when needed rather than kept: most services never need it.
    pub(super) fn checked_exec(&self, slot: usize) -> Option<Exec> {
        let served = self.services[slot].as_ref()?;
        let mut program = Vec::new();
        if let Program::External(command) = &served.service.program {
            program.push(command.path.to_string_lossy().into_owned());
            program.extend(command.argv.iter().cloned());
        }
        let name = served.access_name()?;
        // A `tcpmux/+` service's `+Go` is the child's to give, on a grant.
        let flags = match served.service.listen {
            Listen::Tcpmux { plus: true, .. } => vec![tcpd::TCPMUX_GO.to_string()],
            _ => Vec::new(),
        };
        let exec = self
            .tcpd_exec("--tcpd", &flags, name, &program, &served.service)
            .ok()?;
        // The checked program runs in this process after the check.
        Some(exec.with_settings(ChildSettings::of(&served.service.extras.process)))
    }

    /// inetd's `--tcpd-datagram` mode, for the verdict on a datagram from
    /// `client` that a builtin has already read.
    pub(super) fn datagram_check_exec(
        &self,
        slot: usize,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Option<Exec> {
        let served = self.services[slot].as_ref()?;
        let name = served.access_name()?;
        let addresses = [client.to_string(), server.to_string()];
        self.tcpd_exec("--tcpd-datagram", &addresses, name, &[], &served.service)
            .ok()
    }

    /// inetd itself in one of its tcpd modes (see `tcpd/`), as the
    /// service's user and with its environment:
    /// `inetd MODE [ADDRESSES | --tcpmux-go] ALLOW DENY NAME [PROGRAM ARGV...]`.
    pub(super) fn tcpd_exec(
        &self,
        mode: &str,
        addresses: &[String],
        name: &str,
        program: &[String],
        service: &Service,
    ) -> io::Result<Exec> {
        let mut argv = vec!["inetd".to_string(), mode.to_string()];
        // The child logs where the daemon does (see `tcpd/`).
        let to_stderr = self.opts.debug || self.opts.log_stderr;
        if to_stderr {
            argv.push(tcpd::LOG_STDERR.to_string());
        }
        // It asks who the client is, for the log.
        let log = service.extras.log;
        if (log.on_success | log.on_failure) & config::LogFields::USERID != 0 {
            argv.push(tcpd::USERID.to_string());
            argv.push(
                service
                    .extras
                    .log_name
                    .as_deref()
                    .unwrap_or(&service.name)
                    .to_string(),
            );
        }
        // It writes the verdict's banner itself.
        let banners = &service.extras.banners;
        if banners.success.is_some() || banners.fail.is_some() {
            let path = |p: &Option<PathBuf>| {
                p.as_ref()
                    .map_or("-".to_string(), |p| p.to_string_lossy().into_owned())
            };
            argv.push(tcpd::BANNERS.to_string());
            argv.push(path(&banners.success));
            argv.push(path(&banners.fail));
        }
        argv.extend(addresses.iter().cloned());
        argv.push(self.opts.hosts_allow.to_string_lossy().into_owned());
        argv.push(self.opts.hosts_deny.to_string_lossy().into_owned());
        argv.push(name.to_string());
        argv.extend(program.iter().cloned());
        let env = self.service_env(service);
        let exec = Exec::new(
            Path::new("/proc/self/exe"),
            &argv,
            &env,
            service.user.switch(),
        )?;
        Ok(if to_stderr { exec.keep_stderr() } else { exec })
    }

    /// The daemon's environment for programs with the service's own
    /// entries (see [`Environment::with`]); or, with `env_alone`, the
    /// service's entries only (xinetd's `passenv`, resolved at load).
    pub(super) fn service_env(&self, service: &Service) -> Rc<Environment> {
        let own = &service.extras.process.env;
        if service.extras.process.env_alone {
            return Environment::new(
                own.iter()
                    .filter_map(|e| CString::new(e.as_str()).ok())
                    .collect(),
            );
        }
        self.env.with(own)
    }

    /// Reloads the rule files if they changed; false when they grant
    /// everything (no files, say), so no address need even be looked at.
    pub(super) fn rules_apply(&mut self) -> bool {
        if self.rules_dirty {
            self.rules_dirty = false;
            if self.rules.is_stale() {
                self.rules = Rules::load(&self.opts.hosts_allow, &self.opts.hosts_deny);
                for warning in self.rules.load_warnings() {
                    self.log.warn(warning);
                }
                // The files may be new inodes, and the host lists other files.
                if let Some(old) = self.rule_watch.take() {
                    let _ = self.poll.registry().deregister(&mut SourceFd(&old.fd()));
                }
                self.rule_watch = watch_rules(&self.poll, &self.rules);
                // An edit between the load and the new watch made no event:
                // compare the stamps once more at the next check.
                self.rules_dirty = true;
            }
        }
        !self.rules.grants_all()
    }

    /// Decides access in the parent, without blocking: with no lookups, and
    /// only when the matched rule has no option that must run in a child.
    /// A refusal decided here is logged like tcpd's.
    pub(super) fn check_access(
        &mut self,
        slot: usize,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Access {
        let Some(served) = self.services[slot].as_ref() else {
            return Access::Denied;
        };
        let Some(daemon) = served.access_name() else {
            return Access::Granted;
        };
        let request = Request {
            daemon,
            client,
            server,
            pid: None,
        };
        match self.rules.decide(&request, &mut NoLookup) {
            Decision::Granted(outcome) if !outcome.options.iter().any(runs_in_child) => {
                Access::Granted
            }
            Decision::Denied(outcome) if !outcome.options.iter().any(runs_in_child) => {
                let label = served.label.clone();
                self.log.auth_limited(
                    "refused",
                    outcome.deny_severity(),
                    format!("{label}: {}", outcome.refused_message()),
                );
                Access::Denied
            }
            _ => Access::InChild,
        }
    }

    /// Access for the sender of a datagram to the served's UDP socket.
    pub(super) fn datagram_access(&mut self, slot: usize, sender: SocketAddr) -> Access {
        if !self.rules_apply() {
            return Access::Granted;
        }
        // The address the socket is bound to, as getsockname would say.
        match self.services[slot].as_ref().map(|l| &l.service.listen) {
            Some(Listen::Inet { addr, .. }) => {
                let server = *addr;
                self.check_access(slot, sender, server)
            }
            _ => Access::Denied,
        }
    }

    /// Access for an accepted connection (UNIX sockets have no address to
    /// check). A service that logs its clients' ident user is decided in
    /// a child, which asks (the daemon never does).
    pub(super) fn stream_access(&mut self, slot: usize, stream: &Stream, peer: &Peer) -> Access {
        // (Only where inetd checks access: the child is its access check.)
        let wants_userid = self.services[slot].as_ref().is_some_and(|s| {
            let log = s.service.extras.log;
            s.checks_access && (log.on_success | log.on_failure) & config::LogFields::USERID != 0
        });
        if wants_userid && matches!(peer, Peer::Inet(_)) {
            return Access::InChild;
        }
        if !self.rules_apply() {
            return Access::Granted;
        }
        match (stream, peer) {
            (Stream::Tcp(tcp), Peer::Inet(client)) => match tcp.local_addr() {
                Ok(server) => self.check_access(slot, *client, server),
                Err(_) => Access::Denied,
            },
            _ => Access::Granted,
        }
    }

    /// Admits one more access decision in a child for a client of the
    /// listener's service, with the pipe that tells when it is over (read
    /// end kept, write end for the child). `None`, logged, when the
    /// service, the client or the daemon already has as many as allowed.
    pub(super) fn begin_decision(
        &mut self,
        slot: usize,
        ip: Option<IpAddr>,
    ) -> Option<(Deciding, std::os::fd::OwnedFd)> {
        let served = self.services[slot].as_ref()?;
        let (counts, caps) = self.usage(served);
        let limits = &self.opts.limits;
        let key = ip.map(|ip| limits::client_key(ip, limits.v6_prefix));
        // A check is a child: the child caps apply, and its own.
        if admission::room(Kind::Check, &counts, &caps).is_err()
            || !self.decisions.admit(key, limits.decisions_per_client, 0)
        {
            let label = served.label.clone();
            let client = ip.map_or(String::new(), |ip| format!(" from {ip}"));
            self.log.limited(
                "decisions",
                Level::Warning,
                format!("{label}: refused connection{client}: too many access checks under way"),
            );
            return None;
        }
        let flags = nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK;
        match nix::unistd::pipe2(flags) {
            Ok((read, write)) => Some((
                Deciding {
                    pipe: read,
                    client: key,
                },
                write,
            )),
            Err(e) => {
                self.decisions.release(key);
                self.log
                    .limited("pipe", Level::Err, format!("decision pipe: {e}"));
                None
            }
        }
    }

    /// A `--tcpd` child's decision is over (its pipe closed, or it was
    /// reaped): its client and its service may start another.
    pub(super) fn end_decision(&mut self, pid: pid_t) {
        let Some(child) = self.children.get_mut(pid) else {
            return;
        };
        let Some(deciding) = child.deciding.take() else {
            return;
        };
        let (slot, id) = child.service;
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&deciding.pipe.as_raw_fd()));
        self.decisions.release(deciding.client);
        if let Some(served) = self.services.get_mut(slot).and_then(Option::as_mut) {
            if served.id == id {
                served.deciding = served.deciding.saturating_sub(1);
            }
        }
        self.wake_blocked();
    }
}
