//! The pid file: locked at startup so a second inetd refuses to run, and
//! written once the sockets are bound.
//!
//! Only a regular file of inetd's own user with no other hard link is
//! taken, opened without following a symbolic link: otherwise whoever can
//! write to its directory could have root's inetd overwrite any file with
//! its pid. It is removed at exit only if the path still names that file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub struct Pidfile {
    path: PathBuf,
    file: File,
    /// (device, inode) of the file we locked.
    identity: (u64, u64),
}

impl Pidfile {
    /// Opens and locks `path`. Fails with a clear message when another
    /// process holds the lock, or when the path is not a plain file of ours;
    /// the message says which step failed, not the path: callers name the file.
    pub fn lock(path: &Path) -> io::Result<Pidfile> {
        let context = |e: io::Error| io::Error::new(e.kind(), format!("cannot open pid file: {e}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            // O_NONBLOCK: a FIFO is refused below, not waited on.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => io::Error::other("is a symbolic link"),
                _ => e,
            })
            .map_err(context)?;
        let meta = file.metadata().map_err(context)?;
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let refusal = if !meta.file_type().is_file() {
            Some("not a regular file".to_string())
        } else if meta.uid() != euid {
            Some(format!(
                "owned by uid {}, not by inetd's uid {euid}",
                meta.uid()
            ))
        } else if meta.nlink() > 1 {
            Some(format!("has {} hard links", meta.nlink()))
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Err(context(io::Error::other(reason)));
        }
        // SAFETY: flock on a descriptor we own. The lock belongs to the open
        // file description, so it survives the fork of daemonizing.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                let mut pid = String::new();
                let _ = (&file).take(32).read_to_string(&mut pid);
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
            identity: (meta.dev(), meta.ino()),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write_pid(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file
            .write_all(format!("{}\n", std::process::id()).as_bytes())
    }

    /// Removes the pid file, unless the path now names another file.
    pub fn remove(self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
