//! xinetd's log lines, for services that ask for them (`log_on_success`,
//! `log_on_failure`): `START`, `EXIT` and `FAIL`, each with the fields
//! asked for, in xinetd's wording (`pid=`, `from=`, `status=`,
//! `duration=N(sec)`, `in=`/`out=` bytes of a redirect), where the
//! service's `log_type` says: inetd's log, syslog at a facility and level,
//! or a file of its own (appended to, opened without following a link,
//! regular files only; past its soft limit one warning, past its hard one
//! nothing more), each line escaped as `log.rs` escapes.

use super::*;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use crate::config::{LogFields, LogTarget};

/// What ended, for an `EXIT` line.
pub(super) struct Ended {
    pub(super) pid: Option<pid_t>,
    /// A child's wait status; none for a connection the loop served.
    pub(super) status: Option<libc::c_int>,
    pub(super) started: Instant,
    /// Bytes from and to the client, for a redirect.
    pub(super) traffic: Option<(u64, u64)>,
}

/// A service's own log file, open (see [`LogTarget::File`]).
pub(super) struct RecordFile {
    file: std::fs::File,
    size: u64,
    warned: bool,
}

/// Opens (creating) `path` for appending: never through a link, and only
/// a regular file (a FIFO would block the loop).
fn open_record_file(path: &Path) -> io::Result<RecordFile> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(RecordFile {
        file,
        size: meta.size(),
        warned: false,
    })
}

/// xinetd's timestamp of a file line: `YY/MM/DD@HH:MM:SS`, local time.
fn file_timestamp() -> String {
    let mut buf = [0u8; 32];
    // SAFETY: localtime_r and strftime write only into the buffers given,
    // whose sizes are passed; the format is NUL-terminated.
    let n = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%y/%m/%d@%H:%M:%S".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

impl Daemon {
    /// Writes one record where the service's `log_type` says.
    fn emit(&mut self, slot: usize, line: String) {
        let target = self.services[slot]
            .as_ref()
            .map(|s| s.service.extras.log_target.clone());
        match target {
            None | Some(LogTarget::Daemon) => self.log.info(line),
            Some(LogTarget::Syslog(priority)) => self.log.auth(priority, line),
            Some(LogTarget::File { path, soft, hard }) => {
                self.write_record(&path, (soft, hard), &line)
            }
        }
    }

    fn write_record(&mut self, path: &Path, (soft, hard): (Option<u64>, Option<u64>), line: &str) {
        if !self.record_files.contains_key(path) {
            match open_record_file(path) {
                Ok(file) => {
                    self.record_files.insert(path.to_path_buf(), file);
                }
                Err(e) => {
                    let msg = format!("{}: cannot log to it: {e}", path.display());
                    self.log.limited("record file", Level::Err, msg);
                    return;
                }
            }
        }
        let Some(record) = self.record_files.get_mut(path) else {
            return;
        };
        let mut bytes = format!("{}: ", file_timestamp()).into_bytes();
        crate::log::push_escaped(&mut bytes, &line);
        bytes.push(b'\n');
        let size = record.size + bytes.len() as u64;
        if hard.is_some_and(|hard| size > hard) {
            return;
        }
        if record.file.write_all(&bytes).is_ok() {
            record.size = size;
        }
        if soft.is_some_and(|soft| size > soft) && !record.warned {
            record.warned = true;
            let msg = format!(
                "{}: past its soft limit of {} bytes",
                path.display(),
                soft.unwrap_or(0)
            );
            self.log.warn(msg);
        }
    }

    fn fields(&self, slot: usize) -> Option<(LogFields, String)> {
        let served = self.services.get(slot)?.as_ref()?;
        let fields = served.service.extras.log;
        let service = &served.service;
        let name = service.extras.log_name.as_deref().unwrap_or(&service.name);
        (fields != LogFields::default()).then(|| (fields, name.to_string()))
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
        self.emit(slot, line);
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
        self.emit(slot, line);
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
        self.emit(slot, line);
    }
}

fn peer_text(peer: &Peer) -> String {
    match peer {
        Peer::Inet(addr) => limits::client_key(addr.ip(), 128).to_string(),
        Peer::Local => "local".to_string(),
    }
}
