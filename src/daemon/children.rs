//! Children: the one place that starts a process (through `spawn.rs`)
//! and counts it, and reaping, which gives back what each child held and
//! tells a looping service from a busy one.

use super::*;

use crate::keyhash::KeyMap;

/// A child and what it is for.
pub(super) struct Child {
    /// The slot and id of the service it counts against.
    pub(super) service: (usize, u64),
    pub(super) label: Rc<str>,
    /// Already logged when spawn returned.
    pub(super) exec_failed: bool,
    /// Started in the `--tcpd` mode: a quick non-zero exit may be a refusal.
    pub(super) checked: bool,
    pub(super) peer: Option<Peer>,
    /// The key this child is counted under in its listener's client table.
    pub(super) client: Option<IpAddr>,
    pub(super) started: Instant,
    /// While a `--tcpd` child decides access.
    pub(super) deciding: Option<Deciding>,
    /// What waits for a `--tcpd` child's verdict, for a builtin.
    pub(super) verdict_for: Option<Waiting>,
}

/// What waits for an access verdict while a child decides.
pub(super) enum Waiting {
    /// A builtin connection (see `intake.rs`).
    Connection(Parked),
    /// A datagram to a builtin.
    Datagram(ParkedDatagram),
}

/// The children, by pid: one table for every child, whatever it is for,
/// with the counts admission reads.
#[derive(Default)]
pub(super) struct Children {
    /// Pids are the kernel's: [`KeyMap`] (three lookups per child: insert,
    /// the decision's end, removal).
    by_pid: KeyMap<pid_t, Child>,
    /// Children a builtin connection waits for (each holds a descriptor).
    connections: usize,
    /// Children a datagram waits for.
    datagrams: usize,
}

impl Children {
    pub(super) fn insert(&mut self, pid: pid_t, child: Child) {
        match child.verdict_for {
            Some(Waiting::Connection(_)) => self.connections += 1,
            Some(Waiting::Datagram(_)) => self.datagrams += 1,
            None => {}
        }
        if let Some(old) = self.by_pid.insert(pid, child) {
            self.forget(&old);
        }
    }

    pub(super) fn remove(&mut self, pid: pid_t) -> Option<Child> {
        let child = self.by_pid.remove(&pid)?;
        self.forget(&child);
        Some(child)
    }

    fn forget(&mut self, child: &Child) {
        match child.verdict_for {
            Some(Waiting::Connection(_)) => self.connections -= 1,
            Some(Waiting::Datagram(_)) => self.datagrams -= 1,
            None => {}
        }
    }

    pub(super) fn get_mut(&mut self, pid: pid_t) -> Option<&mut Child> {
        self.by_pid.get_mut(&pid)
    }

    pub(super) fn len(&self) -> usize {
        self.by_pid.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&pid_t, &Child)> {
        self.by_pid.iter()
    }

    /// Builtin connections held while a child decides.
    pub(super) fn waiting_connections(&self) -> usize {
        self.connections
    }

    /// Datagrams kept while a child decides.
    pub(super) fn waiting_datagrams(&self) -> usize {
        self.datagrams
    }
}

/// A `--tcpd` child's access decision under way: it holds the write end of
/// this pipe on its fd 3, closed when it execs the program (or a twist) or
/// exits, which ends the decision.
pub(super) struct Deciding {
    pub(super) pipe: std::os::fd::OwnedFd,
    /// The key it is counted under in the daemon's decision table.
    pub(super) client: Option<IpAddr>,
}

/// What [`Daemon::spawn`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Run {
    /// The service's program.
    Program,
    /// The `--tcpd` mode, which decides access, then execs the program
    /// (or, for a builtin, exits with the verdict).
    Checked,
    /// The `--tcpd-datagram` mode: the verdict for a datagram a builtin
    /// has read, to this server address.
    CheckDatagram(SocketAddr),
}

/// Why [`Daemon::spawn`] started no child.
pub(super) enum NoChild {
    /// Too many access decisions under way (logged): refuse the client.
    Refused,
    /// No process could be created: pause the listener briefly.
    Failed,
}

pub(super) fn describe_exit(status: libc::c_int) -> String {
    if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    }
}

impl Daemon {
    /// Starts the listener's program on `fd` (or the `--tcpd` mode that
    /// decides access first, see [`Run`]) and counts the child. Returns its
    /// pid, also when exec failed (the child exits 127 and is reaped as
    /// usual).
    pub(super) fn spawn(
        &mut self,
        slot: usize,
        fd: std::os::fd::RawFd,
        peer: Option<Peer>,
        client: Option<IpAddr>,
        run: Run,
        verdict_for: Option<Waiting>,
    ) -> Result<pid_t, NoChild> {
        let checked = run != Run::Program;
        let exec = match run {
            Run::Program => None,
            Run::Checked => Some(self.checked_exec(slot).ok_or(NoChild::Failed)?),
            Run::CheckDatagram(server) => {
                let client = match &peer {
                    Some(Peer::Inet(addr)) => *addr,
                    _ => return Err(NoChild::Failed),
                };
                Some(
                    self.datagram_check_exec(slot, client, server)
                        .ok_or(NoChild::Failed)?,
                )
            }
        };
        let deciding = if checked {
            let ip = match &peer {
                Some(Peer::Inet(addr)) => Some(addr.ip()),
                _ => None,
            };
            Some(self.begin_decision(slot, ip).ok_or(NoChild::Refused)?)
        } else {
            None
        };
        let served = self.services[slot].as_mut().ok_or(NoChild::Failed)?;
        let exec = match &exec {
            Some(exec) => exec,
            None => served.exec.as_ref().ok_or(NoChild::Failed)?,
        };
        // A failing `wait` dgram program consumes the datagram it was for.
        let drain = served.service.socket_type == SocketType::Dgram
            && !matches!(run, Run::CheckDatagram(_));
        let write_end = deciding.as_ref().map(|(_, write)| write.as_raw_fd());
        let passing = Passing::of(&served.service, &self.opts);
        let env = if passing.environment {
            handoff::client_env(fd, peer.as_ref(), served.service.socket_type)
        } else {
            Vec::new()
        };
        let handoff = Handoff {
            blocking: served.accepts_blocking(),
            env: &env,
            listen_fds: passing.listen_fds.then_some(&*served.service.name),
        };
        let result = self.spawner.spawn(exec, fd, write_end, drain, handoff);
        let label = served.label.clone();
        let (pid, exec_failed) = match result {
            Ok(pid) => (pid, false),
            Err(e) => {
                let program = match &served.service.program {
                    Program::External(command) => command.path.display().to_string(),
                    Program::Builtin(_) | Program::Redirect(_) => String::new(),
                };
                let msg = format!("{label}: {program}: {}: {}", e.step, e.error);
                self.log.limited("spawn", Level::Err, msg);
                match e.pid {
                    Some(pid) => (pid, true),
                    None => {
                        if let Some((deciding, _)) = deciding {
                            self.decisions.release(deciding.client);
                        }
                        return Err(NoChild::Failed);
                    }
                }
            }
        };
        served.active += 1;
        served.started += 1;
        let service_id = (slot, served.id);
        // The child has its copy of the write end (or has exited): only its
        // closing it must end the decision.
        let deciding = deciding.map(|(deciding, _write)| {
            // Unwatched, the decision ends when the child is reaped.
            let _ = self.poll.registry().register(
                &mut SourceFd(&deciding.pipe.as_raw_fd()),
                Key::Decision(pid).token(),
                mio::Interest::READABLE,
            );
            served.deciding += 1;
            deciding
        });
        if verdict_for.is_none() && !matches!(run, Run::CheckDatagram(_)) {
            self.record_start(slot, Some(pid), peer.as_ref());
        }
        self.children.insert(
            pid,
            Child {
                service: service_id,
                label: label.clone(),
                exec_failed,
                checked,
                peer,
                client,
                started: self.now,
                deciding,
                verdict_for,
            },
        );
        self.log.debug(format_args!("{label}: started pid {pid}"));
        Ok(pid)
    }

    /// A `wait` dgram child that failed may not have read the datagram that
    /// started it; left there, it would start the next child at once, and
    /// so on forever. Consume one (the rate limit bounds what is left).
    pub(super) fn drain_failed_datagram(&mut self, slot: usize) {
        let socket_type = self.services[slot].as_ref().map(|s| s.service.socket_type);
        if let (Some(SocketType::Dgram), Some(listener)) = (socket_type, &self.listeners[slot]) {
            if let Some(socket) = &listener.socket {
                let _ = socket.drain_datagram();
            }
        }
    }

    pub(super) fn reap(&mut self) {
        let mut reaped = false;
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes only `status`.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            self.end_decision(pid);
            let Some(mut child) = self.children.remove(pid) else {
                continue;
            };
            reaped = true;
            let verdict_for = child.verdict_for.take();
            if verdict_for.is_none() {
                self.log_exit(pid, status, &child);
            }
            let (slot, id) = child.service;
            let Some(served) = self.services.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if served.id != id {
                continue;
            }
            served.release(child.client, self.now);
            if let Some(peers) = served.peers.as_mut() {
                peers.child_ended(child.peer.as_ref());
            }
            let granted = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == tcpd::GRANTED;
            match verdict_for {
                Some(Waiting::Datagram(parked)) if granted => self.answer_parked(slot, parked),
                Some(Waiting::Connection(parked)) if granted => self.serve_parked(slot, parked),
                Some(Waiting::Connection(parked)) => self.release_client(slot, parked.client),
                Some(Waiting::Datagram(_)) => {}
                None => {
                    let ended = Ended {
                        pid: Some(pid),
                        status: Some(status),
                        started: child.started,
                        traffic: None,
                    };
                    self.record_exit(slot, &ended);
                    self.after_exit(slot, pid, status, &child);
                }
            }
            // Every child of ours is in the table: with none left, another
            // waitpid would only say so (a stray zombie, inherited with
            // inetd's process, waits for the next SIGCHLD).
            if self.children.is_empty() {
                break;
            }
        }
        if reaped {
            self.wake_blocked();
        }
    }

    /// A service's child ended: is the service looping, and does its
    /// `wait` socket come back?
    fn after_exit(&mut self, slot: usize, pid: pid_t, status: libc::c_int, child: &Child) {
        let now = self.now;
        let failed = !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        let Some(served) = self.services[slot].as_mut() else {
            return;
        };
        let quick_failure = child.exec_failed
            || (now.saturating_duration_since(child.started) < limits::QUICK_EXIT
                && if child.checked {
                    // Not a refusal: the program could not be executed.
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 127
                } else {
                    failed
                });
        let looping = served.failures.looping(quick_failure, now);
        let waiting = self.listeners[slot]
            .as_ref()
            .is_some_and(|l| l.state == State::Waiting(pid));
        if waiting && failed {
            self.drain_failed_datagram(slot);
        }
        if looping {
            self.pause_looping(slot, status);
        } else if waiting {
            self.resume(slot);
        }
    }

    pub(super) fn log_exit(&mut self, pid: pid_t, status: libc::c_int, child: &Child) {
        let failed = !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        if self.opts.log_connections {
            let how = describe_exit(status);
            let peer = child
                .peer
                .as_ref()
                .map_or(String::new(), |p| format!(" from {p}"));
            let secs = child.started.elapsed().as_secs_f64();
            self.log.info(format!(
                "{}: pid {pid}{peer} {how} after {secs:.3} s",
                child.label
            ));
        } else if failed && !child.exec_failed {
            let how = describe_exit(status);
            self.log.limited(
                "child exit",
                Level::Warning,
                format!("{}: pid {pid} {how}", child.label),
            );
        } else {
            self.log
                .debug(format_args!("{}: pid {pid} exited", child.label));
        }
    }

    /// Pauses a service whose children fail at once, one after the other,
    /// for the retry time: one line says so, with the count.
    pub(super) fn pause_looping(&mut self, slot: usize, status: libc::c_int) {
        let Some(served) = self.services[slot].as_mut() else {
            return;
        };
        let failures = std::mem::take(&mut served.failures).count();
        let retry = self.opts.limits.retry_time;
        self.log.err(format!(
            "{} server failing (looping): {failures} children in a row failed at once, \
             the last {}; service paused for {} s",
            served.label,
            describe_exit(status),
            retry.as_secs()
        ));
        self.pause(slot, self.now + retry, Pause::Looping);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(verdict_for: Option<Waiting>) -> Child {
        Child {
            service: (0, 0),
            label: "test/tcp".into(),
            exec_failed: false,
            checked: verdict_for.is_some(),
            peer: None,
            client: None,
            started: Instant::now(),
            deciding: None,
            verdict_for,
        }
    }

    fn connection() -> Waiting {
        let (stream, _peer) = mio::net::UnixStream::pair().unwrap();
        Waiting::Connection(Parked {
            stream: Stream::Unix(stream),
            client: None,
        })
    }

    fn datagram() -> Waiting {
        Waiting::Datagram(ParkedDatagram {
            service: Builtin::Echo,
            peer: "127.0.0.1:9".parse().unwrap(),
            data: b"ping".to_vec(),
        })
    }

    #[test]
    fn the_table_counts_what_waits_for_a_verdict() {
        let mut children = Children::default();
        children.insert(10, child(None));
        children.insert(11, child(Some(connection())));
        children.insert(12, child(Some(datagram())));
        children.insert(13, child(Some(datagram())));
        assert_eq!(children.len(), 4);
        assert_eq!(children.waiting_connections(), 1);
        assert_eq!(children.waiting_datagrams(), 2);
        // What the child was for comes back with it.
        let reaped = children.remove(11).unwrap();
        assert!(matches!(reaped.verdict_for, Some(Waiting::Connection(_))));
        assert_eq!(children.waiting_connections(), 0);
        assert!(children.remove(11).is_none(), "reaped once");
        children.remove(12);
        assert_eq!(children.waiting_datagrams(), 1);
        // A pid the kernel reuses replaces what it was.
        children.insert(13, child(None));
        assert_eq!((children.len(), children.waiting_datagrams()), (2, 0));
    }
}
