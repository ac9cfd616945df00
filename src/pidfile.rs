//! The pid file: locked at startup so a second inetd refuses to run, and
//! written once the sockets are bound.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct Pidfile {
    path: PathBuf,
    file: File,
}

impl Pidfile {
    /// Opens and locks `path`. The error says which of the two failed (and
    /// who holds the lock), but not the path: callers name the file.
    pub fn lock(path: &Path) -> io::Result<Pidfile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open pid file: {e}")))?;
        // SAFETY: flock on a descriptor we own. The lock belongs to the open
        // file description, so it survives the fork of daemonizing.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                let pid = std::fs::read_to_string(path).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "cannot lock pid file: another inetd is running (pid {})",
                    pid.trim()
                )));
            }
            return Err(io::Error::new(
                err.kind(),
                format!("cannot lock pid file: {err}"),
            ));
        }
        Ok(Pidfile {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn write_pid(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file
            .write_all(format!("{}\n", std::process::id()).as_bytes())
    }

    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
