//! Carrying out a decided rule's options in the child process, where
//! blocking is allowed.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::hosts::{Outcome, RuleOption};

/// Carries out the options. `twist` replaces the process (the service does
/// not run) unless `builtin`: the daemon serves builtins itself, so there
/// the command runs to its end and the builtin is then not served.
pub fn carry_out(outcome: &Outcome, socket: BorrowedFd, builtin: bool) -> io::Result<()> {
    if !builtin {
        return apply_options(&outcome.options, socket);
    }
    let others: Vec<RuleOption> = outcome
        .options
        .iter()
        .filter(|o| !matches!(o, RuleOption::Twist(_)))
        .cloned()
        .collect();
    apply_options(&others, socket)?;
    if let Some(command) = outcome.twist() {
        let stdio = || socket.try_clone_to_owned().map(Stdio::from);
        Command::new("/bin/sh")
            .args(["-c", command])
            .stdin(stdio()?)
            .stdout(stdio()?)
            .stderr(stdio()?)
            .status()?;
    }
    Ok(())
}

/// Applies `options` in order for the connection `socket`. Returns when the
/// service should run; a `twist` execs its command and returns only on error.
fn apply_options(options: &[RuleOption], socket: BorrowedFd) -> io::Result<()> {
    for option in options {
        match option {
            RuleOption::Spawn(command) => {
                // libwrap waits for the command, with stdio on /dev/null.
                shell(command)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()?;
            }
            RuleOption::Twist(command) => {
                let stdio = || socket.try_clone_to_owned().map(Stdio::from);
                let err = shell(command)
                    .stdin(stdio()?)
                    .stdout(stdio()?)
                    .stderr(stdio()?)
                    .exec();
                return Err(err);
            }
            RuleOption::Setenv(name, value) => setenv(name, value)?,
            RuleOption::Umask(mask) => {
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(*mask));
            }
            RuleOption::Nice(n) => {
                // SAFETY: nice() only changes this process's priority.
                unsafe { libc::nice(*n) };
            }
            RuleOption::Keepalive => set_socket_option(socket, libc::SO_KEEPALIVE, 1)?,
            RuleOption::Linger(secs) => {
                let linger = libc::linger {
                    l_onoff: i32::from(*secs != 0),
                    l_linger: *secs,
                };
                setsockopt(socket, libc::SO_LINGER, &linger)?;
            }
            RuleOption::Banners(text) => {
                let mut out = std::fs::File::from(socket.try_clone_to_owned()?);
                out.write_all(text)?;
            }
            RuleOption::Rfc931(_)
            | RuleOption::User(_)
            | RuleOption::Group(_)
            | RuleOption::Severity(_)
            | RuleOption::Aclexec(_) => {}
        }
    }
    Ok(())
}

/// setenv(3) that fails, where std's would panic, on a name or value it
/// cannot take (a NUL byte, `=` in the name, an empty name).
fn setenv(name: &str, value: &str) -> io::Result<()> {
    if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("setenv {name:?}: not a variable name and value"),
        ));
    }
    // SAFETY: this process (a `--tcpd` child) has a single thread.
    unsafe { std::env::set_var(name, value) };
    Ok(())
}

fn shell(command: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

fn set_socket_option(socket: BorrowedFd, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    setsockopt(socket, name, &value)
}

fn setsockopt<T>(socket: BorrowedFd, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
