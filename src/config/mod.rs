//! What a configuration means: [`Service`], the contract between the
//! dialects that read configuration files and the daemon that serves them.
//! Everything in it is resolved (addresses, uids, gids, groups), so the
//! daemon never consults a database per connection.
//!
//! A dialect is a pure function from text to services plus `file:line:
//! reason` diagnostics: [`inetd`] reads `inetd.conf`, [`xinetd`] xinetd's
//! files; [`sources`] reads the files and directories of the command line. A rejected line never
//! takes the rest of the file down: it is reported and skipped. Warnings
//! are [`ConfigError`]s of [`Severity::Warning`]: something accepted but
//! ignored (a FreeBSD login class, an IPsec policy), or a valid line of a
//! feature not served here, which is skipped. A warning never
//! rejects a line, so it never refuses a reload or fails `-t`: the same
//! file is judged the same way at startup and at every reload.

pub mod gates;
pub mod inetd;
pub mod sources;
pub mod xinetd;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use crate::builtins::Builtin;
use crate::resolve::Resolver;
pub use gates::Gates;
pub use sources::Source;

/// One listener and what to run on it. A config line with a comma list of
/// bind addresses yields one `Service` per address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Where the line was defined, for log messages: one string shared by
    /// the services of a file.
    pub file: Rc<str>,
    pub line: usize,
    /// The service field as written (`echo`, `8080`, `/run/foo.sock`).
    pub name: Box<str>,
    /// The protocol field as written (`tcp6`, `udp46`, `unix`), shared by
    /// the services of a file that write it alike.
    pub protocol: Rc<str>,
    pub listen: Listen,
    pub socket_type: SocketType,
    /// `wait`: the listening socket itself goes to one child at a time.
    pub wait: bool,
    pub limits: Limits,
    /// The client's and server's addresses in the program's environment
    /// (UCSPI's `TCPREMOTEIP`...; see `daemon/`).
    pub environment: bool,
    /// A `wait` service's socket also on fd 3, with `LISTEN_FDS`,
    /// `LISTEN_PID` and `LISTEN_FDNAMES` (systemd's socket passing).
    pub listen_fds: bool,
    /// Shared by the services of one user field of a file: a dialect
    /// resolves each field once.
    pub user: Rc<Credentials>,
    pub program: Program,
    /// A Sun RPC service (`rpc/udp`...): its socket is bound to an
    /// anonymous port (the listen address's port is 0), which the daemon
    /// registers with rpcbind for each version.
    pub rpc: Option<Rpc>,
    /// A reload that removes the service or changes who may reach it
    /// stops its running children and connections (xinetd's hard
    /// reconfiguration: set by the xinetd dialect; for inetd.conf
    /// services, `--hard-reload`).
    pub hard_reload: bool,
    /// What the line says beyond a plain inetd.conf line's fields.
    pub extras: Extras,
}

/// A service's [`ExtraSettings`], stored only when some differ from the
/// defaults: a plain inetd.conf line has none, and they are most of a
/// `Service`'s size. Reads as the settings themselves (the defaults when
/// none are stored); made from them with `into()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras(Option<Box<ExtraSettings>>);

/// What an xinetd entry, a NetBSD line or an auth builtin's options may
/// add to a service; all empty for a plain inetd.conf line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraSettings {
    /// The words after `internal NAME` of a builtin that takes options
    /// (auth's, checked at load); empty otherwise.
    pub builtin_args: Vec<String>,
    /// What the program's process is given beyond its credentials.
    pub process: ProcessSettings,
    /// xinetd's `access_times`: the times of day it serves, in minutes
    /// after local midnight, both ends included; empty: always.
    pub access_times: Vec<TimeWindow>,
    /// Files written to each TCP client (xinetd's `banner`,
    /// `banner_success`, `banner_fail`).
    pub banners: Banners,
    /// What is logged of each start, exit and refusal (xinetd's
    /// `log_on_success`, `log_on_failure`); none: inetd's own lines.
    pub log: LogFields,
    /// Where those records go (xinetd's `log_type`).
    pub log_target: LogTarget,
    /// What xinetd's log lines (`START:`, `EXIT:`, `FAIL:`, `USERID:`)
    /// name the service by: its `id` when it has one, else `name`.
    pub log_name: Option<String>,
    /// Options of the listening socket (NetBSD's buffer sizes and accept
    /// filter), set when it is opened.
    pub socket_options: SocketOptions,
    /// xinetd's per-service gates (address lists, NOLIBWRAP, max_load);
    /// the default, from inetd.conf, gates nothing.
    pub gates: Gates,
}

/// What [`Extras`] reads as when none are stored: [`ExtraSettings`]'s
/// defaults, written out because a `static` cannot call `default()`.
static NO_EXTRAS: ExtraSettings = ExtraSettings {
    builtin_args: Vec::new(),
    process: ProcessSettings {
        nice: None,
        umask: None,
        rlimits: Vec::new(),
        env: Vec::new(),
        env_alone: false,
    },
    access_times: Vec::new(),
    banners: Banners {
        every: None,
        success: None,
        fail: None,
    },
    log: LogFields {
        on_success: 0,
        on_failure: 0,
    },
    log_target: LogTarget::Daemon,
    log_name: None,
    socket_options: SocketOptions {
        send_buffer: None,
        receive_buffer: None,
        defer_accept: None,
    },
    gates: Gates {
        only_from: None,
        no_access: Vec::new(),
        no_wrap: false,
        wrap_name: None,
        max_load: None,
    },
};

impl std::ops::Deref for Extras {
    type Target = ExtraSettings;

    fn deref(&self) -> &ExtraSettings {
        self.0.as_deref().unwrap_or(&NO_EXTRAS)
    }
}

impl From<ExtraSettings> for Extras {
    fn from(settings: ExtraSettings) -> Extras {
        Extras((settings != NO_EXTRAS).then(|| Box::new(settings)))
    }
}

/// The program number and version range of an RPC service line
/// (`rstatd/1-5`, `100001/2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rpc {
    pub program: u32,
    pub low: u32,
    pub high: u32,
}

impl Rpc {
    pub fn versions(&self) -> std::ops::RangeInclusive<u32> {
        self.low..=self.high
    }
}

/// Where a service's records (see [`LogFields`]) go: xinetd's `log_type`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LogTarget {
    /// Where inetd logs.
    #[default]
    Daemon,
    /// syslog, at this `facility | level` priority.
    Syslog(i32),
    /// A file of its own, appended to: past `soft` bytes one warning in
    /// inetd's log, past `hard` nothing more is written.
    File {
        path: PathBuf,
        soft: Option<u64>,
        hard: Option<u64>,
    },
}

impl LogTarget {
    /// The dump's form: `syslog=PRIORITY` or `file=PATH[,SOFT[,HARD]]`;
    /// `None` for inetd's own log.
    pub fn dump_field(&self) -> Option<String> {
        match self {
            LogTarget::Daemon => None,
            LogTarget::Syslog(priority) => Some(format!("log-type=syslog:{priority}")),
            LogTarget::File { path, soft, hard } => {
                let mut field = format!("log-type=file:{}", path.display());
                for limit in [soft, hard].into_iter().flatten() {
                    field.push_str(&format!(",{limit}"));
                }
                Some(field)
            }
        }
    }
}

/// xinetd's log fields: which lines are written and what they carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogFields {
    /// `log_on_success`: of [`LogFields::PID`], `HOST`, `USERID`, `EXIT`,
    /// `DURATION`, `TRAFFIC`.
    pub on_success: u8,
    /// `log_on_failure`: of `HOST`, `USERID`, `ATTEMPT`.
    pub on_failure: u8,
}

impl LogFields {
    pub const PID: u8 = 1;
    pub const HOST: u8 = 2;
    pub const USERID: u8 = 4;
    pub const EXIT: u8 = 8;
    pub const DURATION: u8 = 16;
    pub const TRAFFIC: u8 = 32;
    pub const ATTEMPT: u8 = 64;

    /// Each field with its xinetd name.
    pub const NAMES: [(&'static str, u8); 7] = [
        ("PID", Self::PID),
        ("HOST", Self::HOST),
        ("USERID", Self::USERID),
        ("EXIT", Self::EXIT),
        ("DURATION", Self::DURATION),
        ("TRAFFIC", Self::TRAFFIC),
        ("ATTEMPT", Self::ATTEMPT),
    ];

    /// The field of an xinetd name.
    pub fn from_name(name: &str) -> Option<u8> {
        Self::NAMES
            .iter()
            .find(|(flag, _)| *flag == name)
            .map(|(_, bit)| *bit)
    }
}

/// A time-of-day window, `start` to `end` minutes after midnight, both
/// included; a window whose end comes before its start runs over midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: u16,
    pub end: u16,
}

impl TimeWindow {
    /// Whether `minute` (after midnight) is inside.
    pub fn contains(self, minute: u16) -> bool {
        if self.start <= self.end {
            (self.start..=self.end).contains(&minute)
        } else {
            minute >= self.start || minute <= self.end
        }
    }
}

/// Banner files, read when the configuration is loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Banners {
    /// Written to every connection, before anything is decided.
    pub every: Option<PathBuf>,
    /// Written when the connection is served.
    pub success: Option<PathBuf>,
    /// Written when it is refused, before it is closed.
    pub fail: Option<PathBuf>,
}

/// Settings of the program's process, applied in the child before exec
/// (xinetd's `nice`, `umask`, `rlimit_*`, `env` and `passenv`). Empty by
/// default: the child then inherits inetd's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessSettings {
    /// Added to the niceness (`nice(2)`), -20 to 19.
    pub nice: Option<i32>,
    pub umask: Option<u32>,
    /// Each limit, soft and hard alike; `None` is unlimited.
    pub rlimits: Vec<(Rlimit, Option<u64>)>,
    /// `NAME=value` entries added to the program's environment.
    pub env: Vec<String>,
    /// The program's environment is `env` alone, not inetd's with `env`
    /// (xinetd's `passenv`, whose variables `env` then holds).
    pub env_alone: bool,
}

/// The resource limits a service may set (xinetd's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rlimit {
    /// `rlimit_as`: address space, bytes.
    As,
    /// `rlimit_cpu`: seconds.
    Cpu,
    /// `rlimit_data`: bytes.
    Data,
    /// `rlimit_rss`: bytes.
    Rss,
    /// `rlimit_stack`: bytes.
    Stack,
    /// `rlimit_files`: descriptors.
    Files,
}

impl Rlimit {
    /// xinetd's name after `rlimit_`.
    pub fn name(self) -> &'static str {
        match self {
            Rlimit::As => "as",
            Rlimit::Cpu => "cpu",
            Rlimit::Data => "data",
            Rlimit::Rss => "rss",
            Rlimit::Stack => "stack",
            Rlimit::Files => "files",
        }
    }

    /// The `RLIMIT_*` number.
    pub fn resource(self) -> i32 {
        (match self {
            Rlimit::As => libc::RLIMIT_AS,
            Rlimit::Cpu => libc::RLIMIT_CPU,
            Rlimit::Data => libc::RLIMIT_DATA,
            Rlimit::Rss => libc::RLIMIT_RSS,
            Rlimit::Stack => libc::RLIMIT_STACK,
            Rlimit::Files => libc::RLIMIT_NOFILE,
        }) as i32
    }
}

/// What is set on a listening socket beyond its address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SocketOptions {
    /// `SO_SNDBUF` in bytes (NetBSD's `sndbuf`).
    pub send_buffer: Option<u32>,
    /// `SO_RCVBUF` in bytes (NetBSD's `rcvbuf`, `recvbuf`).
    pub receive_buffer: Option<u32>,
    /// `TCP_DEFER_ACCEPT` in seconds: NetBSD's `dataready` accept filter,
    /// a connection is accepted once it has data (or the time has passed).
    pub defer_accept: Option<u32>,
}

/// How long a `dataready` connection may stay silent before it is accepted
/// anyway, when the filter names no time: what FreeBSD's accf_data waits
/// for has no bound, Linux's needs one.
pub const DEFAULT_DEFER_ACCEPT_SECS: u32 = 30;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Listen {
    /// `v6only` is meaningful for IPv6 addresses only: true for `tcp6`/`udp6`,
    /// false for the dual-stack `tcp46`/`udp46`.
    Inet {
        addr: SocketAddr,
        v6only: bool,
    },
    Unix {
        path: PathBuf,
        perms: SocketPerms,
    },
    /// A `tcpmux/NAME` service (RFC 1078): no socket of its own, reached
    /// through the tcpmux builtin by `name` (matched without regard to
    /// case); `plus` (`tcpmux/+NAME`): inetd gives the positive reply
    /// before the program starts.
    Tcpmux {
        name: String,
        plus: bool,
    },
}

/// The owner and mode of a UNIX socket's file, from FreeBSD's
/// `:user:group:mode:` prefix of the path; without it, inetd's own user
/// and group and [`DEFAULT_SOCKET_MODE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketPerms {
    /// (uid, gid); `None`: inetd's own.
    pub owner: Option<(u32, u32)>,
    pub mode: u32,
}

/// Only the socket's owner may connect (connecting needs write
/// permission): what FreeBSD's default of 0200 allows, in the usual form.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketType {
    Stream,
    Dgram,
}

/// The optional limits of the wait/nowait field. Parsed here, enforced by the daemon.
/// `None` means not given (the daemon's default applies); `Some(0)` is kept
/// as written and means no limit, as in the BSDs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// OpenBSD/busybox `.max`: spawns per minute.
    pub max_per_minute: Option<u32>,
    /// FreeBSD `/max-child`.
    pub max_child: Option<u32>,
    /// FreeBSD `/max-child/max-connections-per-ip-per-minute`.
    pub max_conn_per_ip_per_minute: Option<u32>,
    /// FreeBSD `/max-child/max-conn-per-ip/max-child-per-ip`.
    pub max_child_per_ip: Option<u32>,
    /// xinetd's `cps = RATE WAIT`: past RATE connections in a second, the
    /// service refuses every connection for WAIT seconds.
    pub cps: Option<(u32, u32)>,
    /// NetBSD's `0` for `service_max`, `ip_max` or `accept_max` (and the
    /// `:0` and `,0` of its positional lines): the service starts nothing,
    /// what arrives is dropped.
    pub starts_nothing: bool,
}

/// Who the child runs as, fully resolved at load time so that spawning
/// never consults the user database.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// The group name when one was given (`user:group` or `user.group`).
    pub group: Option<String>,
    /// Supplementary groups of the user (as initgroups would set them);
    /// not looked up when [`Credentials::switch`] is `None`.
    pub groups: Vec<u32>,
}

impl Credentials {
    /// What the child switches to when inetd runs as root: uid, gid and
    /// groups. `None` for `root` with no group given: such a program keeps
    /// inetd's own credentials, as in the BSD inetds and busybox (which
    /// call initgroups only for other users). Looking root's groups up
    /// would also load NSS modules (libnss_systemd: 500 KiB) into the
    /// daemon for good.
    pub fn switch(&self) -> Option<(u32, u32, &[u32])> {
        (self.uid != 0 || self.group.is_some()).then_some((self.uid, self.gid, &self.groups))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    Builtin(Builtin),
    /// `internal redirect HOST:PORT`: each connection forwarded there by
    /// the daemon itself (see `relay.rs`). Boxed: few lines are one.
    Redirect(Box<SocketAddr>),
    /// A program: shared by the services of a file that run it alike.
    External(Rc<Command>),
}

/// A program and its arguments.
#[derive(Clone, Debug)]
pub struct Command {
    pub path: PathBuf,
    /// `argv[0]` exactly as written, or the program's basename when the
    /// line has no arguments.
    pub argv: Vec<String>,
}

/// Equal as written, byte for byte: `Path`'s own comparison and hash go
/// component by component, several times slower, and interning compares
/// every line's program.
impl PartialEq for Command {
    fn eq(&self, other: &Command) -> bool {
        self.path.as_os_str() == other.path.as_os_str() && self.argv == other.argv
    }
}

impl Eq for Command {}

impl std::hash::Hash for Command {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.path.as_os_str().hash(state);
        self.argv.hash(state);
    }
}

impl Command {
    /// Whether the program is tcp_wrappers' `tcpd`, which checks the
    /// access rules itself.
    pub fn runs_tcpd(&self) -> bool {
        self.path.file_name().is_some_and(|n| n == "tcpd")
    }
}

impl Program {
    /// An external program (not yet shared with any other service).
    pub fn external(path: PathBuf, argv: Vec<String>) -> Program {
        Program::External(Rc::new(Command { path, argv }))
    }
}

/// A rejected line, or a warning about one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub severity: Severity,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The line is bad: skipped at startup, refuses a reload, fails `-t`.
    Error,
    /// Something ignored or not served here; the rest of the file applies.
    Warning,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        // Line 0: about the file or directory as a whole.
        match self.line {
            0 => write!(f, "{}: {severity}{}", self.file, self.reason),
            line => write!(f, "{}:{line}: {severity}{}", self.file, self.reason),
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Inet { addr, .. } => write!(f, "{addr}"),
            Listen::Unix { path, .. } => write!(f, "{}", path.display()),
            Listen::Tcpmux { name, plus } => {
                write!(f, "tcpmux/{}{name}", if *plus { "+" } else { "" })
            }
        }
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SocketType::Stream => "stream",
            SocketType::Dgram => "dgram",
        })
    }
}

impl ConfigError {
    /// A warning rejects nothing: see [`Severity::Warning`].
    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }
}

impl Service {
    /// The name hosts.allow/hosts.deny daemon patterns are matched against,
    /// what tcpd would see when run from inetd: the builtin's name, or the
    /// basename of argv[0] (for a tcpd line, the program tcpd execs), or
    /// the name xinetd's `libwrap` gives. The daemon, `--check-hosts` and
    /// `--match` all take it from here.
    pub fn access_name(&self) -> &str {
        match &self.extras.gates.wrap_name {
            Some(name) => name,
            None => self.program_name(),
        }
    }

    /// The access name the program gives, whatever xinetd's `libwrap`
    /// says (see [`Service::access_name`]).
    pub fn program_name(&self) -> &str {
        match &self.program {
            Program::Builtin(builtin) => builtin.name(),
            // As xinetd names a redirect service to libwrap: by the service.
            Program::Redirect(_) => &self.name,
            Program::External(command) => {
                let argv0 = command.argv.first().map_or("", String::as_str);
                argv0.rsplit('/').next().unwrap_or(argv0)
            }
        }
    }

    /// The normalized one-line form printed by `inetd -tt`, fields separated by
    /// single spaces, none of them empty:
    ///
    /// `ADDRESS FAMILY SOCKTYPE WAIT rate=N child=N ip-rate=N ip-child=N
    /// user=NAME uid=N gid=N group=NAME groups=N,N [socket-owner=UID:GID
    /// socket-mode=MODE] [rpc-program=N rpc-versions=LOW-HIGH] PROGRAM`
    ///
    /// where ADDRESS is `tcpmux/NAME` or `tcpmux/+NAME` for a service
    /// reached through tcpmux, FAMILY is tcp4, udp4, tcp6, udp6 (IPv6
    /// only), tcp46, udp46 (dual stack), unix or tcpmux, an absent limit or group is `-` (and the socket
    /// owner of a unix line without an owner prefix: inetd's own), MODE is
    /// four octal digits, WAIT is `wait` or `nowait` with the line's
    /// `,env` and `,listen-fds` flags, the bracketed fields after it
    /// appear only when set, an RPC service's ADDRESS has port 0 (inetd
    /// binds an anonymous port and registers it with rpcbind), and PROGRAM
    /// is `internal=NAME [OPTIONS...]`, `redirect=ADDRESS:PORT` or
    /// `exec=PATH argv=ARGV0 ARGS...` (the options and argv run to the end
    /// of the line; an argument holding a blank, a quote or a backslash, or
    /// empty, is shown in double quotes with `\` before a quote or
    /// backslash).
    /// A service with [`Gates`] (from the xinetd dialect) has them before
    /// PROGRAM: `only-from=NET,NET` (`only-from=none`: nobody),
    /// `no-access=NET,NET`, `no-wrap`, `wrap-name=NAME`, `max-load=LOAD`,
    /// each only when set; then xinetd's runtime settings, also only when
    /// set (see [`Service::runtime_fields`]).
    pub fn dump_line(&self) -> String {
        let limit = |l: Option<u32>| l.map_or_else(|| "-".to_string(), |n| n.to_string());
        let groups = self
            .user
            .groups
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>();
        let program = match &self.program {
            Program::Builtin(builtin) => {
                let mut program = format!("internal={}", builtin.name());
                for arg in &self.extras.builtin_args {
                    program.push(' ');
                    program.push_str(arg);
                }
                program
            }
            Program::Redirect(target) => format!("redirect={target}"),
            Program::External(command) => {
                let argv = command
                    .argv
                    .iter()
                    .map(|arg| shown_arg(arg))
                    .collect::<Vec<_>>();
                format!("exec={} argv={}", command.path.display(), argv.join(" "))
            }
        };
        let socket = match &self.listen {
            Listen::Unix { perms, .. } => format!(
                " socket-owner={} socket-mode={:04o}",
                perms
                    .owner
                    .map_or_else(|| "-".to_string(), |(uid, gid)| format!("{uid}:{gid}")),
                perms.mode
            ),
            Listen::Inet { .. } | Listen::Tcpmux { .. } => String::new(),
        };
        let mut options = String::new();
        let opts = &self.extras.socket_options;
        for (name, value) in [
            ("sndbuf", opts.send_buffer),
            ("rcvbuf", opts.receive_buffer),
            ("defer-accept", opts.defer_accept),
        ] {
            if let Some(value) = value {
                options.push_str(&format!(" {name}={value}"));
            }
        }
        if self.limits.starts_nothing {
            options.push_str(" starts=none");
        }
        if let Some(rpc) = self.rpc {
            options.push_str(&format!(
                " rpc-program={} rpc-versions={}-{}",
                rpc.program, rpc.low, rpc.high
            ));
        }
        options.push_str(&self.extras.gates.dump_fields());
        options.push_str(&self.runtime_fields());
        format!(
            "{} {} {} {} rate={} child={} ip-rate={} ip-child={} user={} uid={} gid={} group={} groups={}{socket}{options} {}",
            self.listen,
            self.family_name(),
            self.socket_type,
            self.wait_flags(),
            limit(self.limits.max_per_minute),
            limit(self.limits.max_child),
            limit(self.limits.max_conn_per_ip_per_minute),
            limit(self.limits.max_child_per_ip),
            self.user.user,
            self.user.uid,
            self.user.gid,
            self.user.group.as_deref().unwrap_or("-"),
            if groups.is_empty() { "-".to_string() } else { groups.join(",") },
            program,
        )
    }

    /// The dump's fields of xinetd's runtime settings, each after a space:
    /// `access-times=HH:MM-HH:MM,...`, `cps=RATE/WAIT`, `banner=PATH`,
    /// `banner-success=PATH`, `banner-fail=PATH`, `nice=N`, `umask=OOO`,
    /// `rlimit-NAME=N|unlimited`, `env=NAME=VALUE` (one each),
    /// `env-alone`, `log-success=FLAG,...`, `log-failure=FLAG,...`,
    /// `log-type=syslog:PRIORITY` or `log-type=file:PATH[,SOFT[,HARD]]`,
    /// `hard-reload`, `log-name=ID`.
    fn runtime_fields(&self) -> String {
        let mut out = String::new();
        if !self.extras.access_times.is_empty() {
            let windows: Vec<String> = self
                .extras
                .access_times
                .iter()
                .map(|w| {
                    format!(
                        "{:02}:{:02}-{:02}:{:02}",
                        w.start / 60,
                        w.start % 60,
                        w.end / 60,
                        w.end % 60
                    )
                })
                .collect();
            out.push_str(&format!(" access-times={}", windows.join(",")));
        }
        if let Some((rate, wait)) = self.limits.cps {
            out.push_str(&format!(" cps={rate}/{wait}"));
        }
        for (name, path) in [
            ("banner", &self.extras.banners.every),
            ("banner-success", &self.extras.banners.success),
            ("banner-fail", &self.extras.banners.fail),
        ] {
            if let Some(path) = path {
                out.push_str(&format!(" {name}={}", shown_arg(&path.to_string_lossy())));
            }
        }
        let process = &self.extras.process;
        if let Some(nice) = process.nice {
            out.push_str(&format!(" nice={nice}"));
        }
        if let Some(umask) = process.umask {
            out.push_str(&format!(" umask={umask:03o}"));
        }
        for (resource, limit) in &process.rlimits {
            let limit = limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
            out.push_str(&format!(" rlimit-{}={limit}", resource.name()));
        }
        for entry in &process.env {
            out.push_str(&format!(" env={}", shown_arg(entry)));
        }
        if process.env_alone {
            out.push_str(" env-alone");
        }
        for (name, bits) in [
            ("log-success", self.extras.log.on_success),
            ("log-failure", self.extras.log.on_failure),
        ] {
            if bits != 0 {
                let flags: Vec<&str> = LogFields::NAMES
                    .iter()
                    .filter(|(_, bit)| bits & bit != 0)
                    .map(|(flag, _)| *flag)
                    .collect();
                out.push_str(&format!(" {name}={}", flags.join(",")));
            }
        }
        if let Some(field) = self.extras.log_target.dump_field() {
            out.push(' ');
            out.push_str(&field);
        }
        if self.hard_reload {
            out.push_str(" hard-reload");
        }
        if let Some(name) = &self.extras.log_name {
            out.push_str(&format!(" log-name={}", shown_arg(name)));
        }
        out
    }

    /// `wait` or `nowait`, then the flags, as an inetd.conf line writes them.
    fn wait_flags(&self) -> String {
        let mut field = if self.wait { "wait" } else { "nowait" }.to_string();
        if self.environment {
            field.push_str(",env");
        }
        if self.listen_fds {
            field.push_str(",listen-fds");
        }
        field
    }

    /// The protocol in normalized form: `tcp4`, `udp6`, `tcp46`, `unix`,
    /// `tcpmux` (a service reached through the multiplexer, on whichever
    /// address it listens)...
    pub fn family_name(&self) -> &'static str {
        let (tcp, udp) = match &self.listen {
            Listen::Unix { .. } => return "unix",
            Listen::Tcpmux { .. } => return "tcpmux",
            Listen::Inet {
                addr: SocketAddr::V4(_),
                ..
            } => ("tcp4", "udp4"),
            Listen::Inet { v6only: true, .. } => ("tcp6", "udp6"),
            Listen::Inet { .. } => ("tcp46", "udp46"),
        };
        match self.socket_type {
            SocketType::Stream => tcp,
            SocketType::Dgram => udp,
        }
    }
}

/// An argument as the dump shows it: as it is, or quoted when it would
/// not read back as one word.
fn shown_arg(arg: &str) -> std::borrow::Cow<'_, str> {
    if !arg.is_empty()
        && !arg.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '\'')
    {
        return arg.into();
    }
    let escaped: String = arg
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"").into()
}

/// Reads and parses every source (see [`sources`]) and the files they
/// include. Bytes that are not UTF-8 reject the entry holding them
/// (comments may hold anything). Relative program paths are resolved
/// against inetd's working directory unless `options` names another.
pub fn load(
    sources: &[Source],
    resolver: &dyn Resolver,
    options: &inetd::Options,
) -> io::Result<(Vec<Service>, Vec<ConfigError>)> {
    let mut options = options.clone();
    if options.working_dir.is_none() {
        options.working_dir = std::env::current_dir().ok();
    }
    sources::load(sources, resolver, &options)
}

impl Service {
    /// A root service of `program` on `listen` (stream, `nowait`, no
    /// limits), for the unit tests of what consumes services.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str, listen: Listen, program: Program) -> Service {
        Service {
            file: "inetd.conf".into(),
            line: 1,
            name: name.into(),
            protocol: "tcp".into(),
            listen,
            socket_type: SocketType::Stream,
            wait: false,
            limits: Limits::default(),
            environment: false,
            listen_fds: false,
            user: Rc::new(Credentials {
                user: "root".to_string(),
                uid: 0,
                gid: 0,
                group: None,
                groups: Vec::new(),
            }),
            program,
            rpc: None,
            hard_reload: false,
            extras: Extras::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_store_only_what_differs_from_the_defaults() {
        let none: Extras = ExtraSettings::default().into();
        assert!(none.0.is_none());
        // What a service without extras reads is the defaults.
        assert_eq!(*none, ExtraSettings::default());
        let named: Extras = ExtraSettings {
            log_name: Some("ftp".to_string()),
            ..ExtraSettings::default()
        }
        .into();
        assert_eq!(named.log_name.as_deref(), Some("ftp"));
        assert_eq!(named.gates, Gates::default());
    }
}
