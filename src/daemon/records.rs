//! xinetd's log lines, for services that ask for them (`log_on_success`,
//! `log_on_failure`): `START`, `EXIT` and `FAIL`, each with the fields
//! asked for, in xinetd's wording (`pid=`, `from=`, `status=`,
//! `duration=N(sec)`, `in=`/`out=` bytes of a redirect). The client's
//! address is formatted by `log.rs`'s escaping like every other line.

use super::*;
use crate::config::LogFields;

/// What ended, for an `EXIT` line.
pub(super) struct Ended {
    pub(super) pid: Option<pid_t>,
    /// A child's wait status; none for a connection the loop served.
    pub(super) status: Option<libc::c_int>,
    pub(super) started: Instant,
    /// Bytes from and to the client, for a redirect.
    pub(super) traffic: Option<(u64, u64)>,
}

impl Daemon {
    fn fields(&self, slot: usize) -> Option<(LogFields, String)> {
        let served = self.services.get(slot)?.as_ref()?;
        let fields = served.service.log;
        let service = &served.service;
        let name = service.log_name.as_ref().unwrap_or(&service.name);
        (fields != LogFields::default()).then(|| (fields, name.clone()))
    }

    /// `START: service [pid=N] [from=ADDRESS]`.
    pub(super) fn record_start(&mut self, slot: usize, pid: Option<pid_t>, peer: Option<&Peer>) {
        let Some((fields, name)) = self.fields(slot) else {
            return;
        };
        if fields.on_success == 0 {
            return;
        }
        let mut line = format!("START: {name}");
        if fields.on_success & LogFields::PID != 0 {
            line.push_str(&format!(" pid={}", pid.unwrap_or(0)));
        }
        if let (true, Some(peer)) = (fields.on_success & LogFields::HOST != 0, peer) {
            line.push_str(&format!(" from={}", peer_text(peer)));
        }
        self.log.info(line);
    }

    /// `EXIT: service [status=N|signal=N] [pid=N] [duration=N(sec)] [in=N(bytes) out=N(bytes)]`.
    pub(super) fn record_exit(&mut self, slot: usize, ended: &Ended) {
        let Some((fields, name)) = self.fields(slot) else {
            return;
        };
        let wanted = fields.on_success
            & (LogFields::EXIT | LogFields::PID | LogFields::DURATION | LogFields::TRAFFIC);
        if wanted == 0 {
            return;
        }
        let mut line = format!("EXIT: {name}");
        if let (true, Some(status)) = (wanted & LogFields::EXIT != 0, ended.status) {
            if libc::WIFSIGNALED(status) {
                line.push_str(&format!(" signal={}", libc::WTERMSIG(status)));
            } else {
                line.push_str(&format!(" status={}", libc::WEXITSTATUS(status)));
            }
        }
        if wanted & LogFields::PID != 0 {
            line.push_str(&format!(" pid={}", ended.pid.unwrap_or(0)));
        }
        if wanted & LogFields::DURATION != 0 {
            let secs = self.now.saturating_duration_since(ended.started).as_secs();
            line.push_str(&format!(" duration={secs}(sec)"));
        }
        if let (true, Some((from_client, to_client))) =
            (wanted & LogFields::TRAFFIC != 0, ended.traffic)
        {
            line.push_str(&format!(" in={from_client}(bytes) out={to_client}(bytes)"));
        }
        self.log.info(line);
    }

    /// `FAIL: service reason [from=ADDRESS]`.
    pub(super) fn record_failure(&mut self, slot: usize, reason: &str, peer: Option<&Peer>) {
        let Some((fields, name)) = self.fields(slot) else {
            return;
        };
        if fields.on_failure == 0 {
            return;
        }
        let mut line = format!("FAIL: {name} {reason}");
        if let (true, Some(peer)) = (fields.on_failure & LogFields::HOST != 0, peer) {
            line.push_str(&format!(" from={}", peer_text(peer)));
        }
        self.log.info(line);
    }
}

fn peer_text(peer: &Peer) -> String {
    match peer {
        Peer::Inet(addr) => limits::client_key(addr.ip(), 128).to_string(),
        Peer::Local => "local".to_string(),
    }
}
