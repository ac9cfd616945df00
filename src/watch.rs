//! Tells the daemon when the access rule files may have changed, so that it
//! need not stat them for every connection.
//!
//! One inotify instance watches each file (following a symlink) and its
//! directory (editors replace a file by renaming another over it; a missing
//! file may be created). Any event there only marks the rules as possibly
//! changed: the daemon then compares the files' stamps, as it would without
//! a watch.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// Reads of pending events per wake-up; events only set a flag.
const DRAIN_READS: usize = 16;

pub struct RuleWatch {
    inotify: Inotify,
}

impl RuleWatch {
    /// Watches `files` and their directories; `None` when a directory
    /// cannot be watched (the daemon then stats the files instead).
    pub fn new<'a>(files: impl Iterator<Item = &'a Path>) -> Option<RuleWatch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
        let file_events = AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        let dir_events = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_CLOSE_WRITE;
        for file in files {
            let dir = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            inotify.add_watch(dir, dir_events).ok()?;
            // A missing file is seen through its directory.
            let _ = inotify.add_watch(file, file_events);
        }
        Some(RuleWatch { inotify })
    }

    pub fn fd(&self) -> RawFd {
        self.inotify.as_fd().as_raw_fd()
    }

    /// Consumes pending events; whether there were any.
    pub fn drain(&self) -> bool {
        let mut any = false;
        for _ in 0..DRAIN_READS {
            match self.inotify.read_events() {
                Ok(events) if !events.is_empty() => any = true,
                _ => break,
            }
        }
        any
    }
}
