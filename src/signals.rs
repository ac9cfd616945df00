//! Signals reach the event loop through a self-pipe: the handler only writes
//! the signal number to a non-blocking pipe, the loop does the work.
//!
//! The daemon ignores no signal, so that its children need not reset any
//! (see `spawn.rs`): SIGPIPE is caught by a handler that does nothing, so
//! a write to a closed peer fails with EPIPE as if it were ignored, and
//! exec puts it back to the default.

use std::io::{self, Read};
use std::sync::atomic::{AtomicI32, Ordering};

use libc::c_int;
use mio::unix::pipe;

/// The pipe's write end, for the handler.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

const CAUGHT: [c_int; 6] = [
    libc::SIGPIPE,
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGUSR1,
];

extern "C" fn on_signal(sig: c_int) {
    let here = 0u8;
    if crate::spawn::on_child_stack(std::hint::black_box(&here) as *const u8 as usize) {
        // SAFETY: in a spawned child before its exec, as checked.
        unsafe { crate::spawn::default_action_in_child(sig) };
        return;
    }
    if sig == libc::SIGPIPE {
        return;
    }
    // SAFETY: write(2) and errno access are async-signal-safe; errno is
    // restored so the interrupted code does not see our write's result.
    unsafe {
        let errno = *libc::__errno_location();
        let byte = sig as u8;
        libc::write(
            WRITE_FD.load(Ordering::Relaxed),
            (&byte as *const u8).cast(),
            1,
        );
        *libc::__errno_location() = errno;
    }
}

/// Which signals arrived since the last [`SignalPipe::take`].
#[derive(Default, Debug)]
pub struct Pending {
    pub child: bool,
    pub reload: bool,
    /// SIGUSR1: log the daemon's state.
    pub dump: bool,
    pub terminate: bool,
}

pub struct SignalPipe {
    // Kept open for the handler.
    _sender: pipe::Sender,
    pub receiver: pipe::Receiver,
}

impl SignalPipe {
    /// Installs the handlers for SIGCHLD, SIGHUP, SIGTERM, SIGINT and
    /// SIGUSR1, and the one for SIGPIPE that does nothing (writes to a
    /// closed peer fail with EPIPE instead).
    pub fn install() -> io::Result<SignalPipe> {
        let (sender, receiver) = pipe::new()?;
        use std::os::fd::AsRawFd;
        WRITE_FD.store(sender.as_raw_fd(), Ordering::Relaxed);
        for sig in CAUGHT {
            // SAFETY: the handler is async-signal-safe (see on_signal).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(sig, &action, std::ptr::null_mut()) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(SignalPipe {
            _sender: sender,
            receiver,
        })
    }

    /// Drains the pipe and reports what arrived.
    pub fn take(&mut self) -> Pending {
        let mut pending = Pending::default();
        let mut buf = [0u8; 64];
        loop {
            match self.receiver.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let drained = n < buf.len();
                    for &sig in &buf[..n] {
                        match c_int::from(sig) {
                            libc::SIGCHLD => pending.child = true,
                            libc::SIGHUP => pending.reload = true,
                            libc::SIGUSR1 => pending.dump = true,
                            _ => pending.terminate = true,
                        }
                    }
                    // A short read emptied the pipe: no need to see EAGAIN.
                    if drained {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        pending
    }
}
