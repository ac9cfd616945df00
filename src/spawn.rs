//! Starting a service program: the only module with `unsafe` process code.
//!
//! Everything the child needs (path, argv, envp, groups) is prepared in an
//! [`Exec`] when the configuration is loaded. Spawning is then a single
//! `clone(CLONE_VM | CLONE_VFORK)`: the child shares the parent's memory, runs
//! on its own small stack (mapped once, with a guard page below it), makes
//! only syscalls (credentials through the raw calls, not glibc's), and
//! either execs or `_exit`s
//! with 127. Nothing allocates in between. Because the parent is suspended
//! until then, an exec failure is known before `spawn` returns.
//!
//! Signals cost the child nothing: the daemon runs with an empty mask and
//! ignores no signal ([`reset_inherited_signals`]; SIGPIPE is caught, see
//! `signals.rs`), so the child inherits the empty mask and `execve` puts
//! every caught signal back to its default. A signal that reaches the
//! child before its exec runs the daemon's handler on the child's stack,
//! which tells it by [`on_child_stack`] and does what the default would
//! ([`default_action_in_child`]) instead of the daemon's work.

use std::ffi::CString;
use std::hash::{Hash, Hasher};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use libc::{c_char, c_int, c_void, gid_t, pid_t, uid_t};

/// The child stack of the [`Spawner`] last made, `[low, high)`, for the
/// signal handler to tell where it runs (see [`on_child_stack`]).
static CHILD_STACK_LOW: AtomicUsize = AtomicUsize::new(0);
static CHILD_STACK_HIGH: AtomicUsize = AtomicUsize::new(0);

/// The descriptor of a passed listening socket (systemd's
/// `SD_LISTEN_FDS_START`).
pub const LISTEN_FD: RawFd = 3;

/// Room for the child's pid in `LISTEN_PID=`: a 64-bit number's digits.
const PID_DIGITS: usize = 20;

/// The child runs only a few syscalls before exec: 64 KiB is ample.
const CHILD_STACK_SIZE: usize = 64 * 1024;
/// The 32-bit-id credential calls: on 32-bit x86 and ARM the plain
/// numbers take 16-bit ids.
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups32;
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
const SYS_SETRESGID: libc::c_long = libc::SYS_setresgid32;
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
const SYS_SETRESUID: libc::c_long = libc::SYS_setresuid32;
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups;
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
const SYS_SETRESGID: libc::c_long = libc::SYS_setresgid;
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
const SYS_SETRESUID: libc::c_long = libc::SYS_setresuid;

/// Below the stack, one inaccessible page: an overflow faults in the child
/// instead of writing over the parent's memory.
const GUARD_SIZE: usize = 4096;

/// The environment of the programs: its strings and their pointer array,
/// built once and shared by every [`Exec`] (one block for all services).
pub struct Environment {
    // The pointer array points into these strings; they are never mutated.
    entries: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl Environment {
    /// `entries`: `NAME=value` strings.
    pub fn new(entries: Vec<CString>) -> Rc<Environment> {
        let ptrs = null_terminated(&entries);
        Rc::new(Environment { entries, ptrs })
    }

    /// This environment with `added` entries (`NAME=value`), which replace
    /// those of the same names (a program reading the first match would
    /// not see them otherwise); itself, shared, when there are none.
    pub fn with(self: &Rc<Self>, added: &[String]) -> Rc<Environment> {
        if added.is_empty() {
            return Rc::clone(self);
        }
        let name = |entry: &[u8]| entry.split(|&b| b == b'=').next().map(<[u8]>::to_vec);
        let names: Vec<Vec<u8>> = added.iter().filter_map(|e| name(e.as_bytes())).collect();
        let kept = self
            .entries
            .iter()
            .filter(|e| name(e.as_bytes()).map_or(true, |n| !names.contains(&n)))
            .cloned();
        let added = added.iter().filter_map(|e| CString::new(e.as_str()).ok());
        Environment::new(kept.chain(added).collect())
    }
}

/// A program ready to be started: C strings and pointer arrays built once.
/// Every external service keeps one: its strings are one block, and what
/// most programs do not have (credentials to switch to, settings) takes no
/// room.
pub struct Exec {
    /// The path, then each argument, each ending in its NUL. Never mutated:
    /// `argv_ptrs` points into it.
    strings: Box<[u8]>,
    /// The arguments in `strings`, then a null.
    argv_ptrs: Box<[*const c_char]>,
    env: Rc<Environment>,
    /// `None`: run as the daemon's own user (inetd not running as root,
    /// or a root service that keeps inetd's groups).
    credentials: Option<Box<Credentials>>,
    /// Leave the daemon's fd 2 in place (for inetd's own `--tcpd` modes
    /// when the daemon logs to stderr; they put the socket there themselves).
    keep_stderr: bool,
    /// `None`: none to apply (the defaults).
    settings: Option<Box<ChildSettings>>,
}

/// What the child switches to: uid, gid and supplementary groups.
type Credentials = (uid_t, gid_t, Box<[gid_t]>);

/// A service's process settings in the form the child applies them:
/// `nice(2)`, `umask(2)` and `setrlimit(2)` arguments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChildSettings {
    pub nice: Option<c_int>,
    pub umask: Option<libc::mode_t>,
    pub rlimits: Vec<(c_int, libc::rlimit)>,
}

impl ChildSettings {
    pub fn of(process: &crate::config::ProcessSettings) -> ChildSettings {
        let limit = |value: Option<u64>| {
            value.map_or(libc::RLIM_INFINITY, |v| {
                libc::rlim_t::try_from(v).unwrap_or(libc::RLIM_INFINITY)
            })
        };
        ChildSettings {
            nice: process.nice,
            umask: process.umask.map(|m| m as libc::mode_t),
            rlimits: process
                .rlimits
                .iter()
                .map(|(which, value)| {
                    let limit = limit(*value);
                    (
                        which.resource(),
                        libc::rlimit {
                            rlim_cur: limit,
                            rlim_max: limit,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl Exec {
    /// Prepares `path` with `argv` and the shared `env`. The child switches
    /// to `switch_to` (uid, gid, groups) only when the daemon is root.
    pub fn new(
        path: &Path,
        argv: &[String],
        env: &Rc<Environment>,
        switch_to: Option<(u32, u32, &[u32])>,
    ) -> io::Result<Exec> {
        let path = path.as_os_str().as_bytes();
        let size = path.len() + 1 + argv.iter().map(|a| a.len() + 1).sum::<usize>();
        let mut strings = Vec::with_capacity(size);
        let mut starts = Vec::with_capacity(argv.len());
        for (i, string) in std::iter::once(path)
            .chain(argv.iter().map(|a| a.as_bytes()))
            .enumerate()
        {
            if string.contains(&0) {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"));
            }
            if i > 0 {
                starts.push(strings.len());
            }
            strings.extend_from_slice(string);
            strings.push(0);
        }
        // Exactly `size`: no reallocation, and no spare room kept.
        let strings = strings.into_boxed_slice();
        let base = strings.as_ptr();
        let argv_ptrs = starts
            .into_iter()
            .map(|at| base.wrapping_add(at).cast::<c_char>())
            .chain(std::iter::once(ptr::null()))
            .collect();
        // The daemon's user does not change: asked once, not per service.
        static ROOT: OnceLock<bool> = OnceLock::new();
        // SAFETY: geteuid has no preconditions.
        let root = *ROOT.get_or_init(|| unsafe { libc::geteuid() } == 0);
        let credentials = switch_to
            .filter(|_| root)
            .map(|(uid, gid, groups)| Box::new((uid, gid, groups.into())));
        Ok(Exec {
            strings,
            argv_ptrs,
            env: Rc::clone(env),
            credentials,
            keep_stderr: false,
            settings: None,
        })
    }

    /// The child also applies `settings` before exec.
    pub fn with_settings(mut self, settings: ChildSettings) -> Exec {
        self.settings = (settings != ChildSettings::default()).then(|| Box::new(settings));
        self
    }

    /// The child keeps the daemon's stderr as its fd 2.
    pub fn keep_stderr(mut self) -> Exec {
        self.keep_stderr = true;
        self
    }
}

/// Two are equal when they start the same process in the same way: an
/// [`Interner`](crate::keyhash::Interner) of them shares one among the
/// services whose programs start alike (the many lines of a configuration
/// that run one program as one user).
impl PartialEq for Exec {
    fn eq(&self, other: &Exec) -> bool {
        self.strings == other.strings
            && Rc::ptr_eq(&self.env, &other.env)
            && self.credentials == other.credentials
            && self.keep_stderr == other.keep_stderr
            && self.settings == other.settings
    }
}

impl Eq for Exec {}

impl Hash for Exec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.strings.hash(state);
    }
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect()
}

/// What a child gets beyond its socket on fds 0-2, decided per spawn.
#[derive(Clone, Copy, Default)]
pub struct Handoff<'a> {
    /// The socket is in blocking mode already (a connection accepted so):
    /// the child leaves its file status flags alone.
    pub blocking: bool,
    /// `NAME=value` entries added to the program's environment (the
    /// client's addresses, UCSPI style).
    pub env: &'a [String],
    /// systemd-style socket passing: the socket also on [`LISTEN_FD`], with
    /// `LISTEN_FDS=1`, `LISTEN_FDNAMES` set to this name and `LISTEN_PID`
    /// to the child's own pid (written by the child, which alone knows it).
    pub listen_fds: Option<&'a str>,
}

/// The environment of one spawn when a [`Handoff`] adds to the prepared
/// one: built in the parent, in buffers kept from spawn to spawn.
#[derive(Default)]
struct HandoffEnv {
    text: Vec<u8>,
    /// Where each entry starts in `text`.
    starts: Vec<usize>,
    ptrs: Vec<*const c_char>,
}

impl HandoffEnv {
    /// The pointer array for `exec`'s environment plus `handoff`'s, and
    /// where in it the child writes its pid (null when not asked).
    fn build(&mut self, exec: &Exec, handoff: &Handoff) -> (*const *const c_char, *mut u8) {
        self.text.clear();
        self.starts.clear();
        fn push(env: &mut HandoffEnv, parts: &[&[u8]]) {
            env.starts.push(env.text.len());
            for part in parts {
                env.text.extend_from_slice(part);
            }
            env.text.push(0);
        }
        for entry in handoff.env.iter().filter(|e| !e.as_bytes().contains(&0)) {
            push(self, &[entry.as_bytes()]);
        }
        let mut pid_at = None;
        if let Some(name) = handoff.listen_fds {
            // A name may not hold the list separator, nor end the string.
            let name: Vec<u8> = name
                .bytes()
                .map(|b| if b == b':' || b == 0 { b'_' } else { b })
                .collect();
            push(self, &[b"LISTEN_FDS=1"]);
            push(self, &[b"LISTEN_FDNAMES=", &name]);
            pid_at = Some(self.text.len() + b"LISTEN_PID=".len());
            push(self, &[b"LISTEN_PID=", &[b'0'; PID_DIGITS]]);
        }
        // The text no longer moves: point into it.
        self.ptrs.clear();
        let prepared = &exec.env.ptrs;
        self.ptrs.extend_from_slice(&prepared[..prepared.len() - 1]);
        let base = self.text.as_ptr();
        self.ptrs.extend(
            self.starts
                .iter()
                .map(|&at| base.wrapping_add(at).cast::<c_char>()),
        );
        self.ptrs.push(ptr::null());
        let pid_slot = pid_at.map_or(ptr::null_mut(), |at| {
            self.text.as_mut_ptr().wrapping_add(at)
        });
        (self.ptrs.as_ptr(), pid_slot)
    }
}

/// What the child reports back through shared memory when it fails.
struct ChildContext<'a> {
    exec: &'a Exec,
    /// The environment to exec with: the prepared one, or a handoff's.
    envp: *const *const c_char,
    /// Where the child writes its pid (`PID_DIGITS` bytes then the NUL
    /// ending the entry); null when not asked.
    pid_slot: *mut u8,
    /// Also put the socket on [`LISTEN_FD`].
    listen_fd: bool,
    socket: RawFd,
    /// Clear `O_NONBLOCK` on the socket (see [`Handoff::blocking`]).
    make_blocking: bool,
    /// Put on fd 3 for the `--tcpd` mode, which closes it when its access
    /// decision is over (see `tcpd/`); -1 for none.
    decision_pipe: RawFd,
    /// The descriptor limit inetd was started with (it raises its own).
    nofile: Option<&'a libc::rlimit>,
    /// Consume one datagram on failure, so a failing `wait` dgram service
    /// does not leave it to re-trigger the listener forever.
    drain_datagram: bool,
    failed_step: &'static str,
    errno: c_int,
}

/// The reusable child stack and the spawning entry point.
pub struct Spawner {
    stack: ChildStack,
    nofile: Option<libc::rlimit>,
    handoff_env: HandoffEnv,
}

/// The child's stack: a mapping of its own, its lowest page inaccessible.
struct ChildStack {
    base: *mut c_void,
}

impl ChildStack {
    fn map() -> io::Result<ChildStack> {
        // SAFETY: a fresh anonymous mapping, then a change of protection
        // within it; nothing else refers to it.
        unsafe {
            let base = libc::mmap(
                ptr::null_mut(),
                GUARD_SIZE + CHILD_STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            if libc::mprotect(base, GUARD_SIZE, libc::PROT_NONE) < 0 {
                let e = io::Error::last_os_error();
                libc::munmap(base, GUARD_SIZE + CHILD_STACK_SIZE);
                return Err(e);
            }
            let low = base as usize;
            CHILD_STACK_LOW.store(low, Ordering::Relaxed);
            CHILD_STACK_HIGH.store(low + GUARD_SIZE + CHILD_STACK_SIZE, Ordering::Relaxed);
            Ok(ChildStack { base })
        }
    }

    /// The initial stack pointer: the top, 16-byte aligned (page aligned, so it is).
    fn top(&self) -> *mut c_void {
        self.base.wrapping_byte_add(GUARD_SIZE + CHILD_STACK_SIZE)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, used by no child any more
        // (each spawn waits until its child has exec'd or exited).
        unsafe {
            libc::munmap(self.base, GUARD_SIZE + CHILD_STACK_SIZE);
        }
    }
}

/// A child that could not exec; it has already exited with status 127.
#[derive(Debug)]
pub struct SpawnError {
    /// The child to reap, when one was created.
    pub pid: Option<pid_t>,
    pub step: &'static str,
    pub error: io::Error,
}

impl Spawner {
    /// `nofile`: the RLIMIT_NOFILE to give children, when the daemon
    /// changed its own.
    pub fn new(nofile: Option<libc::rlimit>) -> io::Result<Spawner> {
        Ok(Spawner {
            stack: ChildStack::map()?,
            nofile,
            handoff_env: HandoffEnv::default(),
        })
    }

    /// Starts `exec` with `socket` on fds 0, 1 and 2 (in blocking mode), in
    /// a new session, as the configured user, given what `handoff` adds.
    /// The child has the caller's signal mask, and after exec the default
    /// for every signal the caller catches; the daemon's mask is empty and
    /// it ignores none (see the module's opening). Returns the child's pid.
    /// `decision_pipe`, only for inetd's own `--tcpd` mode, goes on fd 3
    /// (that mode moves a passed socket there itself).
    pub fn spawn(
        &mut self,
        exec: &Exec,
        socket: RawFd,
        decision_pipe: Option<RawFd>,
        drain_datagram: bool,
        handoff: Handoff,
    ) -> Result<pid_t, SpawnError> {
        let (envp, pid_slot) = if handoff.env.is_empty() && handoff.listen_fds.is_none() {
            (exec.env.ptrs.as_ptr(), ptr::null_mut())
        } else {
            self.handoff_env.build(exec, &handoff)
        };
        let mut ctx = ChildContext {
            exec,
            envp,
            pid_slot,
            listen_fd: handoff.listen_fds.is_some() && decision_pipe.is_none(),
            socket,
            make_blocking: !handoff.blocking,
            decision_pipe: decision_pipe.unwrap_or(-1),
            nofile: self.nofile.as_ref(),
            drain_datagram,
            failed_step: "",
            errno: 0,
        };
        let top = self.stack.top();
        // SAFETY: the child only reads `ctx` and writes its two error
        // fields (and the pid slot), and we are suspended (CLONE_VFORK)
        // until it has exec'd or exited, so nothing else touches them. A
        // handler of ours that runs in the child does none of the daemon's
        // work there (see `on_child_stack`).
        let pid = unsafe {
            libc::clone(
                child_main,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &mut ctx as *mut ChildContext as *mut c_void,
            )
        };
        if pid < 0 {
            return Err(SpawnError {
                pid: None,
                step: "clone",
                error: io::Error::last_os_error(),
            });
        }
        if ctx.errno != 0 {
            return Err(SpawnError {
                pid: Some(pid),
                step: ctx.failed_step,
                error: io::Error::from_raw_os_error(ctx.errno),
            });
        }
        Ok(pid)
    }
}

/// The child, between clone and exec: syscalls only, no allocation.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildContext` the parent passed to clone; the
    // parent is suspended until we exec or exit.
    let ctx = unsafe { &mut *(arg as *mut ChildContext) };
    let step = unsafe { child_setup(ctx) };
    ctx.failed_step = step;
    ctx.errno = io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO);
    // SAFETY: plain syscalls; the socket stays open until exec succeeds.
    unsafe {
        if ctx.drain_datagram {
            let mut byte = 0u8;
            libc::recv(
                ctx.socket,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_DONTWAIT,
            );
        }
        libc::_exit(127)
    }
}

/// Returns the name of the step that failed (errno tells why); on success
/// it does not return at all.
unsafe fn child_setup(ctx: &ChildContext) -> &'static str {
    let sock = ctx.socket;
    // The daemon keeps 0-2 open, so the socket is never one of them; dup2
    // clears close-on-exec on the copies, every other fd is close-on-exec.
    let last = if ctx.exec.keep_stderr { 2 } else { 3 };
    for fd in 0..last {
        if libc::dup2(sock, fd) < 0 {
            return "dup2";
        }
    }
    if ctx.decision_pipe >= 0 && libc::dup2(ctx.decision_pipe, 3) < 0 {
        return "dup2";
    }
    if ctx.listen_fd {
        // dup2 onto itself would leave close-on-exec set.
        let passed = if sock == LISTEN_FD {
            libc::fcntl(LISTEN_FD, libc::F_SETFD, 0)
        } else {
            libc::dup2(sock, LISTEN_FD)
        };
        if passed < 0 {
            return "dup2";
        }
    }
    if !ctx.pid_slot.is_null() {
        write_pid(ctx.pid_slot, libc::syscall(libc::SYS_getpid) as u64);
    }
    // O_NONBLOCK lives on the shared open file description: services expect blocking I/O.
    if ctx.make_blocking {
        let flags = libc::fcntl(0, libc::F_GETFL);
        if flags < 0 || libc::fcntl(0, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return "fcntl";
        }
    }
    if libc::setsid() < 0 {
        return "setsid";
    }
    if let Some(limit) = ctx.nofile {
        if libc::setrlimit(libc::RLIMIT_NOFILE, limit) < 0 {
            return "setrlimit";
        }
    }
    // The service's own, while still privileged (a hard limit may rise).
    if let Some(settings) = &ctx.exec.settings {
        for (resource, limit) in &settings.rlimits {
            if libc::setrlimit(*resource as _, limit) < 0 {
                return "setrlimit";
            }
        }
        if let Some(increment) = settings.nice {
            // nice(2) may return -1 on success: errno tells.
            *libc::__errno_location() = 0;
            if libc::nice(increment) == -1 && *libc::__errno_location() != 0 {
                return "nice";
            }
        }
        if let Some(mask) = settings.umask {
            libc::umask(mask);
        }
    }
    // The raw system calls: glibc's wrappers would, were the daemon ever
    // to have threads, signal each of them to change its credentials too
    // (taking locks in memory this child shares with the parent).
    if let Some((uid, gid, groups)) = ctx.exec.credentials.as_deref() {
        if libc::syscall(SYS_SETGROUPS, groups.len(), groups.as_ptr()) < 0 {
            return "setgroups";
        }
        if libc::syscall(SYS_SETRESGID, *gid, *gid, *gid) < 0 {
            return "setresgid";
        }
        if libc::syscall(SYS_SETRESUID, *uid, *uid, *uid) < 0 {
            return "setresuid";
        }
    }
    // The mask is the daemon's (empty), and exec resets every caught signal.
    libc::execve(
        ctx.exec.strings.as_ptr().cast::<c_char>(),
        ctx.exec.argv_ptrs.as_ptr(),
        ctx.envp,
    );
    "execve"
}

/// Whether `addr`, the address of a local of the caller, lies on the
/// child stack: a signal handler that finds itself there runs in a spawned
/// child before its exec (on the daemon's memory), not in the daemon.
pub fn on_child_stack(addr: usize) -> bool {
    (CHILD_STACK_LOW.load(Ordering::Relaxed)..CHILD_STACK_HIGH.load(Ordering::Relaxed))
        .contains(&addr)
}

/// In a spawned child before its exec, what the default disposition of
/// `sig` would have done: nothing for SIGCHLD, else the end of the child,
/// by that signal (it is re-sent with the default in place, and arrives
/// when the handler returns). Raw system calls: glibc's `raise` would name
/// the daemon's thread, whose thread data the child shares.
///
/// # Safety
/// Only in a handler that [`on_child_stack`] placed in the child.
pub unsafe fn default_action_in_child(sig: c_int) {
    if sig == libc::SIGCHLD {
        return;
    }
    libc::signal(sig, libc::SIG_DFL);
    libc::syscall(libc::SYS_kill, libc::syscall(libc::SYS_getpid), sig);
}

/// Writes `pid` in decimal at `slot` ([`PID_DIGITS`] bytes), ended by a
/// NUL: in the child, so by hand and without allocating.
unsafe fn write_pid(slot: *mut u8, mut pid: u64) {
    let mut digits = [0u8; PID_DIGITS];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (pid % 10) as u8;
        n += 1;
        pid /= 10;
        if pid == 0 || n == PID_DIGITS {
            break;
        }
    }
    for i in 0..n {
        *slot.add(i) = digits[n - 1 - i];
    }
    *slot.add(n) = 0;
}

/// The soft descriptor limit now in force.
pub fn nofile_limit() -> u64 {
    // SAFETY: getrlimit writes only the struct passed.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) < 0 {
            return 1024;
        }
        limit.rlim_cur
    }
}

/// Raises the soft descriptor limit to the hard one, for the daemon's many
/// sockets; returns the old limit, for children, when it changed.
pub fn raise_nofile_limit() -> Option<libc::rlimit> {
    // SAFETY: getrlimit/setrlimit write only the structs passed.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) < 0 || limit.rlim_cur >= limit.rlim_max
        {
            return None;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        (libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0).then_some(limit)
    }
}

/// Puts every signal back to its default and empties the signal mask, so
/// that dispositions and blocked signals inherited from whoever started
/// inetd (an ignored SIGHUP from nohup, say) do not leak into services,
/// which inherit the daemon's mask. Called once at startup, before the
/// daemon sets its own.
pub fn reset_inherited_signals() {
    // SAFETY: an empty mask, set for this (the only) thread.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, ptr::null_mut());
    }
    // The kernel's sigset size: 8 bytes, 16 on MIPS.
    let sigset_bytes = ((libc::SIGRTMAX() + 1) / 8) as usize;
    for sig in 1..libc::SIGRTMIN() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting a default disposition has no memory-safety conditions.
        unsafe {
            if libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR {
                // glibc refuses to touch its internal signals (32, 33), yet
                // its posix_spawn leaves them ignored in the programs it
                // starts. An all-zero kernel sigaction is SIG_DFL with no
                // flags and an empty mask, whatever the architecture's layout.
                let action = [0u64; 8];
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    action.as_ptr(),
                    ptr::null_mut::<c_void>(),
                    sigset_bytes,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProcessSettings, Rlimit};

    #[test]
    fn programs_that_start_alike_share_one_exec() {
        let env = Environment::new(vec![CString::new("PATH=/bin").unwrap()]);
        let exec = |path: &str, argv: &[&str], user: Option<(u32, u32, &[u32])>| {
            let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
            Exec::new(Path::new(path), &argv, &env, user).unwrap()
        };
        let mut execs = crate::keyhash::Interner::default();
        let mut share = |exec| execs.share(Rc::new(exec));
        let first = share(exec("/bin/cat", &["cat"], None));
        let same = share(exec("/bin/cat", &["cat"], None));
        assert!(Rc::ptr_eq(&first, &same));
        let others = [
            share(exec("/bin/cat", &["cat", "-u"], None)),
            share(exec("/bin/cat", &["ca", "t"], None)),
            share(exec("/bin/cat", &["cat"], None).keep_stderr()),
            share(
                exec("/bin/cat", &["cat"], None).with_settings(ChildSettings {
                    nice: Some(1),
                    ..ChildSettings::default()
                }),
            ),
            share(
                Exec::new(
                    Path::new("/bin/cat"),
                    &["cat".to_string()],
                    &env.with(&["A=1".to_string()]),
                    None,
                )
                .unwrap(),
            ),
        ];
        for (i, other) in others.iter().enumerate() {
            assert!(!Rc::ptr_eq(&first, other), "{i}");
        }
        // Credentials count only when inetd runs as root.
        let nobody = share(exec("/bin/cat", &["cat"], Some((65534, 65534, &[]))));
        let root = unsafe { libc::geteuid() } == 0;
        assert_eq!(Rc::ptr_eq(&first, &nobody), !root);
    }

    #[test]
    fn settings_become_the_calls_arguments() {
        let settings = ChildSettings::of(&ProcessSettings {
            nice: Some(5),
            umask: Some(0o027),
            rlimits: vec![(Rlimit::Cpu, Some(10)), (Rlimit::Files, None)],
            env: Vec::new(),
            env_alone: false,
        });
        assert_eq!((settings.nice, settings.umask), (Some(5), Some(0o027)));
        assert_eq!(settings.rlimits[0].0, libc::RLIMIT_CPU as c_int);
        assert_eq!(
            (
                settings.rlimits[0].1.rlim_cur,
                settings.rlimits[0].1.rlim_max
            ),
            (10, 10)
        );
        assert_eq!(settings.rlimits[1].0, libc::RLIMIT_NOFILE as c_int);
        assert_eq!(settings.rlimits[1].1.rlim_cur, libc::RLIM_INFINITY);
    }

    #[test]
    fn a_handler_tells_the_child_stack_from_the_daemons() {
        let spawner = Spawner::new(None).unwrap();
        let top = spawner.stack.top() as usize;
        let low = spawner.stack.base as usize;
        assert!(on_child_stack(top - 1));
        assert!(on_child_stack(low));
        assert!(!on_child_stack(top));
        assert!(!on_child_stack(low - 1));
        let here = 0u8;
        assert!(!on_child_stack(
            std::hint::black_box(&here) as *const u8 as usize
        ));
    }
}
