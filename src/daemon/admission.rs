//! Admission, as pure logic: whether one more connection, child or access
//! check of a service fits under the caps (its own, the daemon's, the
//! descriptor limit), and the load average check. No I/O, no logging, no
//! state: the caller (`intake.rs`) counts, logs, waits or pauses.

/// Descriptors the daemon keeps free beyond its listeners, connections and
/// decision pipes: stdio, poll, the signal pipe, inotify, /dev/null,
/// syslog, the pid file, and the transient ones (an accepted socket, a
/// pipe being made, a file a reload reads).
pub(super) const FD_RESERVE: usize = 24;

/// Clients tracked per service with per-client limits.
pub(super) const CLIENT_TABLE_CAPACITY: usize = 4096;

/// What one more of a service would hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A child running the service's program, with the connection.
    Program,
    /// A builtin connection the daemon holds (echo, discard, chargen).
    Session,
    /// A redirected connection: the client's and the target's sockets.
    Relay,
    /// A builtin answer given at once (daytime, time): it holds nothing.
    Answer,
    /// An access check in a child: its pipe, and for a builtin the
    /// connection that waits for the verdict.
    Check,
}

/// What is in use, in the daemon and in the service.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counts {
    pub(super) children: usize,
    pub(super) sessions: usize,
    /// Descriptors held for listeners, connections and decision pipes.
    pub(super) fds: usize,
    pub(super) checks: u32,
    pub(super) service_active: u32,
    pub(super) service_checks: u32,
}

/// The caps; 0 means none.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Caps {
    pub(super) children: u32,
    pub(super) sessions: u32,
    pub(super) fds: usize,
    /// Checks in all.
    pub(super) checks: u32,
    pub(super) service_active: u32,
    pub(super) service_checks: u32,
}

/// The cap one more would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Full {
    /// What the descriptor table holds, less [`FD_RESERVE`].
    Descriptors,
    /// Children, or builtin and redirected connections, of all services.
    Daemon,
    /// The service's own cap (`-c`, `/max-child`).
    Service,
    /// Access checks, of the service or in all.
    Checks,
}

/// Whether one more `kind` fits. A service at its cap of checks takes no
/// connection at all: which clients need a check is known only after
/// accepting, and one slow resolver must not take other services' slots.
pub(super) fn room(kind: Kind, counts: &Counts, caps: &Caps) -> Result<(), Full> {
    let over = |used: usize, cap: u32| cap > 0 && used >= cap as usize;
    let fds = match kind {
        Kind::Session => 1,
        Kind::Check | Kind::Relay => 2,
        // Passed on at once: within the reserve.
        Kind::Program | Kind::Answer => 0,
    };
    if fds > 0 && counts.fds + fds + FD_RESERVE > caps.fds {
        return Err(Full::Descriptors);
    }
    let daemon = match kind {
        Kind::Program | Kind::Check => over(counts.children, caps.children),
        Kind::Session | Kind::Relay => over(counts.sessions, caps.sessions),
        Kind::Answer => false,
    };
    if daemon {
        return Err(Full::Daemon);
    }
    if kind != Kind::Answer && over(counts.service_active as usize, caps.service_active) {
        return Err(Full::Service);
    }
    if over(counts.service_checks as usize, caps.service_checks)
        || (kind == Kind::Check && over(counts.checks as usize, caps.checks))
    {
        return Err(Full::Checks);
    }
    Ok(())
}

/// The 1-minute load average in `/proc/loadavg`'s text, when above `max`.
pub(super) fn load_above(loadavg: &str, max: f64) -> Option<f64> {
    let load: f64 = loadavg.split_whitespace().next()?.parse().ok()?;
    (load > max).then_some(load)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Caps = Caps {
        children: 10,
        sessions: 20,
        fds: 100,
        checks: 5,
        service_active: 4,
        service_checks: 3,
    };

    fn counts() -> Counts {
        Counts::default()
    }

    #[test]
    fn each_kind_meets_its_own_caps() {
        let busy = Counts {
            children: 10,
            ..counts()
        };
        assert_eq!(room(Kind::Program, &busy, &CAPS), Err(Full::Daemon));
        assert_eq!(room(Kind::Check, &busy, &CAPS), Err(Full::Daemon));
        // Children do not limit builtin connections, nor answers.
        assert_eq!(room(Kind::Session, &busy, &CAPS), Ok(()));
        assert_eq!(room(Kind::Answer, &busy, &CAPS), Ok(()));
        let sessions = Counts {
            sessions: 20,
            ..counts()
        };
        assert_eq!(room(Kind::Session, &sessions, &CAPS), Err(Full::Daemon));
        assert_eq!(room(Kind::Program, &sessions, &CAPS), Ok(()));
        let service = Counts {
            service_active: 4,
            ..counts()
        };
        for kind in [Kind::Program, Kind::Session, Kind::Check] {
            assert_eq!(room(kind, &service, &CAPS), Err(Full::Service), "{kind:?}");
        }
        assert_eq!(room(Kind::Answer, &service, &CAPS), Ok(()));
    }

    #[test]
    fn descriptors_keep_a_reserve() {
        let held = Counts {
            fds: 100 - FD_RESERVE - 1,
            ..counts()
        };
        assert_eq!(room(Kind::Session, &held, &CAPS), Ok(()));
        assert_eq!(room(Kind::Check, &held, &CAPS), Err(Full::Descriptors));
        // What is passed on at once needs only the reserve.
        let full = Counts {
            fds: 100,
            ..counts()
        };
        assert_eq!(room(Kind::Program, &full, &CAPS), Ok(()));
        assert_eq!(room(Kind::Session, &full, &CAPS), Err(Full::Descriptors));
    }

    #[test]
    fn checks_are_capped_per_service_for_everything_and_in_all_for_checks() {
        let service = Counts {
            service_checks: 3,
            ..counts()
        };
        for kind in [Kind::Program, Kind::Session, Kind::Answer, Kind::Check] {
            assert_eq!(room(kind, &service, &CAPS), Err(Full::Checks), "{kind:?}");
        }
        let all = Counts {
            checks: 5,
            ..counts()
        };
        assert_eq!(room(Kind::Check, &all, &CAPS), Err(Full::Checks));
        assert_eq!(room(Kind::Program, &all, &CAPS), Ok(()));
        let none = Caps {
            children: 0,
            sessions: 0,
            checks: 0,
            service_active: 0,
            service_checks: 0,
            ..CAPS
        };
        let many = Counts {
            children: 1 << 20,
            sessions: 1 << 20,
            checks: 1 << 20,
            service_active: 1 << 20,
            service_checks: 1 << 20,
            fds: 0,
        };
        for kind in [Kind::Program, Kind::Session, Kind::Answer, Kind::Check] {
            assert_eq!(room(kind, &many, &none), Ok(()), "0 means no cap");
        }
    }

    #[test]
    fn the_load_average_is_read_from_its_first_field() {
        assert_eq!(load_above("9.50 9.50 9.50 1/100 1\n", 2.0), Some(9.5));
        assert_eq!(load_above("0.50 9.50 9.50 1/100 1\n", 2.0), None);
        assert_eq!(load_above("", 2.0), None);
        assert_eq!(load_above("garbage", 2.0), None);
    }
}
