//! Admission: whether a service may take one more connection, child or
//! access check (its caps, the daemon's, the descriptor limit, the load,
//! the spawn rate, the per-client limits). It starts nothing.

use super::*;

/// Descriptors the daemon keeps free beyond its listeners, connections and
/// decision pipes: stdio, poll, the signal pipe, inotify, /dev/null,
/// syslog, the pid file, and the transient ones (an accepted socket, a
/// pipe being made, a file a reload reads).
pub(super) const FD_RESERVE: usize = 24;

/// Clients tracked per service with per-client limits.
pub(super) const CLIENT_TABLE_CAPACITY: usize = 4096;

impl Daemon {
    /// Whether the listener may start one more child or connection now:
    /// its own cap, the daemon-wide cap for its kind, and its cap of access
    /// checks. When not, it is tried again as soon as one ends. `holds`: a
    /// connection would be held (not a daytime or time answer, which holds
    /// nothing, so only the cap of access checks applies to it).
    pub(super) fn has_room(&mut self, slot: usize, holds: bool) -> bool {
        let Some(listener) = self.listeners[slot].as_ref() else {
            return false;
        };
        let limits = &self.opts.limits;
        let (in_use, cap) = match listener.service.program {
            Program::Builtin(_) if !holds => (0, 0),
            Program::Builtin(_) => (self.open_sessions, limits.max_builtins),
            Program::External { .. } => (self.children.len(), limits.max_children),
        };
        let own_cap = if holds { listener.limits.max_active } else { 0 };
        // A held connection keeps its descriptor; the others' accepted
        // socket is passed on at once, within the reserve.
        let holds_fd = holds && matches!(listener.service.program, Program::Builtin(_));
        let full = if holds_fd && !self.fd_room(1) {
            Some(format!("the descriptor limit ({})", self.fd_limit))
        } else if (cap > 0 && in_use >= cap as usize)
            || (own_cap > 0 && listener.active >= own_cap)
            || !self.decision_room(listener)
        {
            Some("its limit of concurrent children or connections".to_string())
        } else {
            None
        };
        let Some(limit) = full else {
            return true;
        };
        if !self.blocked.contains(&slot) {
            self.blocked.push(slot);
        }
        let label = listener.label.clone();
        self.log.limited(
            "at capacity",
            Level::Notice,
            format!("{label}: at {limit}, waiting"),
        );
        false
    }

    /// Whether `more` descriptors fit beside those the daemon holds for its
    /// listeners, connections and decisions, keeping [`FD_RESERVE`] free:
    /// so that no client can make accept, spawn or a reload fail for lack
    /// of descriptors.
    pub(super) fn fd_room(&self, more: usize) -> bool {
        let held = self.listeners.len()
            + self.open_sessions
            + self.parked.len()
            + self.decisions.total() as usize;
        held + more + FD_RESERVE <= self.fd_limit
    }

    /// Whether the listener's service may start one more access check in a
    /// child. At its cap it waits, like at a cap of children, even for
    /// clients that would need none: which ones do is known only after
    /// accepting, and one slow resolver must not take other services' slots.
    pub(super) fn decision_room(&self, listener: &Listener) -> bool {
        let cap = self.opts.limits.decisions_per_service;
        cap == 0 || listener.deciding < cap
    }

    /// Room for one more child of the listener's service: under its own
    /// cap and the daemon-wide one. Every child counts, whatever it is for.
    pub(super) fn child_room(&self, slot: usize) -> bool {
        let Some(listener) = self.listeners[slot].as_ref() else {
            return false;
        };
        let (cap, own_cap) = (self.opts.limits.max_children, listener.limits.max_active);
        (cap == 0 || self.children.len() < cap as usize)
            && (own_cap == 0 || listener.active < own_cap)
    }

    /// The load average check of `-L`; pauses the listener briefly when high.
    pub(super) fn load_allows(&mut self, slot: usize) -> bool {
        let Some(max) = self.opts.limits.max_load else {
            return true;
        };
        // procfs, read each time: a few cheap syscalls, and only with -L.
        let load: Option<f64> = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok());
        let Some(load) = load.filter(|&load| load > max) else {
            return true;
        };
        if let Some(label) = self.listeners[slot].as_ref().map(|l| l.label.clone()) {
            self.log.limited(
                "load",
                Level::Notice,
                format!("{label}: load average {load:.2} above {max}, not starting servers"),
            );
        }
        self.pause(slot, self.now + RESOURCE_PAUSE, Pause::Resources);
        false
    }

    /// Pauses a service whose children fail at once, one after the other,
    /// for the retry time: one line says so, with the count.
    pub(super) fn pause_looping(&mut self, slot: usize, status: libc::c_int) {
        let Some(listener) = self.listeners[slot].as_mut() else {
            return;
        };
        let failures = std::mem::take(&mut listener.failures).count();
        let retry = self.opts.limits.retry_time;
        self.log.err(format!(
            "{} server failing (looping): {failures} children in a row failed at once, \
             the last {}; service paused for {} s",
            listener.label,
            describe_exit(status),
            retry.as_secs()
        ));
        self.pause(slot, self.now + retry, Pause::Looping);
    }

    /// Counts one spawn against the service's rate; when over it, the
    /// service is paused for the retry time, as the BSD inetds do.
    pub(super) fn rate_allows(&mut self, slot: usize) -> bool {
        let now = self.now;
        let Some(listener) = self.listeners[slot].as_mut() else {
            return false;
        };
        let limit = listener.limits.spawns_per_minute;
        if limit == 0 || listener.spawns.allow(now, limit, limits::MINUTE) {
            return true;
        }
        // Counting starts afresh when the service resumes.
        listener.spawns = RateWindow::default();
        let retry = self.opts.limits.retry_time;
        self.log.err(format!(
            "{} server failing (looping), service paused for {} s",
            listener.label,
            retry.as_secs()
        ));
        self.pause(slot, now + retry, Pause::Looping);
        false
    }

    /// Counts a connection from `peer` against the per-client limits.
    /// Returns the key it is counted under, or `Err` when it must be refused.
    pub(super) fn admit_client(
        &mut self,
        slot: usize,
        peer: &Peer,
    ) -> Result<Option<IpAddr>, Refusal> {
        let (Some(listener), Peer::Inet(addr)) = (self.listeners[slot].as_mut(), peer) else {
            return Ok(None);
        };
        let limits = listener.limits;
        if !limits.limits_clients() {
            return Ok(None);
        }
        let key = limits::client_key(addr.ip(), self.opts.limits.v6_prefix);
        // Room for every client a builtin may hold a connection for.
        let capacity = match listener.service.program {
            Program::Builtin(_) => {
                CLIENT_TABLE_CAPACITY.max(self.opts.limits.max_builtins as usize)
            }
            Program::External { .. } => CLIENT_TABLE_CAPACITY,
        };
        let table = listener
            .clients
            .get_or_insert_with(|| ClientTable::new(capacity));
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
        if let Some(listener) = self.listeners[slot].as_mut() {
            listener.release_client(client, self.now);
        }
    }
}
