//! The state dump on SIGUSR1 (as xinetd has): every service with its
//! listener's state and its counters, then every child with its pid,
//! client and age, to the log. Bounded by what the daemon holds: one line
//! per service and per child. It reads the tables; it changes nothing.

use super::*;

impl Daemon {
    pub(super) fn dump_state(&mut self) {
        let now = self.now;
        let services = self.services.iter().flatten().count();
        self.log.info(format!(
            "state: {services} services, {} children ({} deciding access), {} builtin connections, \
             {} redirected ({} bytes held)",
            self.children.len(),
            self.decisions.total(),
            self.sessions.len(),
            self.relays.len(),
            self.relay_bytes_held(),
        ));
        let mut lines = Vec::with_capacity(services);
        for (slot, served) in self.services.iter().enumerate() {
            let Some(served) = served else { continue };
            let listener = self.listeners.get(slot).and_then(Option::as_ref);
            let state = listener.map_or_else(
                || "no socket of its own".to_string(),
                |l| describe_state(l, now),
            );
            lines.push(format!(
                "state: {} {}: {state}; active {}, deciding {}, started {}, refused {}, failures in a row {}",
                served.label,
                describe(&served.service.listen),
                served.active,
                served.deciding,
                served.started,
                served.refused,
                served.failures.count(),
            ));
        }
        let mut children: Vec<_> = self.children.iter().collect();
        children.sort_unstable_by_key(|(pid, _)| **pid);
        for (pid, child) in children {
            let client = child
                .peer
                .as_ref()
                .map_or(String::new(), |p| format!(" for {p}"));
            let what = match (&child.verdict_for, child.deciding.is_some()) {
                (Some(_), _) => ", deciding access for a builtin",
                (None, true) => ", deciding access",
                (None, false) => "",
            };
            let age = now.saturating_duration_since(child.started).as_secs_f64();
            lines.push(format!(
                "state: {} pid {pid}{client}, age {age:.1} s{what}",
                child.label
            ));
        }
        for line in lines {
            self.log.info(line);
        }
    }
}

/// A listener's state, as the dump says it.
fn describe_state(listener: &Listener, now: Instant) -> String {
    let until = |at: Instant| at.saturating_duration_since(now).as_secs();
    match listener.state {
        State::Listening => "serving".to_string(),
        State::Waiting(pid) => format!("serving, socket handed to pid {pid}"),
        State::Unbound(at) => format!(
            "bind pending, next try in {} s ({} failed)",
            until(at),
            listener.bind_failures
        ),
        State::Paused(at, Pause::Looping) => {
            format!(
                "paused (its children failed at once, looping) for {} s more",
                until(at)
            )
        }
        State::Paused(at, Pause::Resources) => {
            format!(
                "paused (out of resources, or the load is high) for {} s more",
                until(at)
            )
        }
    }
}
