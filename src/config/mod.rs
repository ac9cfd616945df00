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
//! feature not served here (RPC, tcpmux), which is skipped. A warning never
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

pub use crate::builtins::Builtin;
use crate::resolve::Resolver;
pub use gates::Gates;
pub use sources::Source;

/// One listener and what to run on it. A config line with a comma list of
/// bind addresses yields one `Service` per address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Where the line was defined, for log messages.
    pub file: String,
    pub line: usize,
    /// The service field as written (`echo`, `8080`, `/run/foo.sock`).
    pub name: String,
    /// The protocol field as written (`tcp6`, `udp46`, `unix`).
    pub protocol: String,
    pub listen: Listen,
    pub socket_type: SocketType,
    /// `wait`: the listening socket itself goes to one child at a time.
    pub wait: bool,
    pub limits: Limits,
    pub user: Credentials,
    pub program: Program,
    /// xinetd's per-service gates (address lists, NOLIBWRAP, max_load);
    /// the default, from inetd.conf, gates nothing.
    pub gates: Gates,
}

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
}

/// Who the child runs as, fully resolved at load time so that spawning
/// never consults the user database.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// `argv[0]` exactly as written, or the program's basename when the line has no arguments.
    External {
        path: PathBuf,
        argv: Vec<String>,
    },
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
    pub fn access_name(&self) -> String {
        if let Some(name) = &self.gates.wrap_name {
            return name.clone();
        }
        match &self.program {
            Program::Builtin(builtin) => builtin.name().to_string(),
            Program::External { argv, .. } => {
                let argv0 = argv.first().map_or("", String::as_str);
                argv0.rsplit('/').next().unwrap_or(argv0).to_string()
            }
        }
    }

    /// The normalized one-line form printed by `inetd -tt`, fields separated by
    /// single spaces, none of them empty:
    ///
    /// `ADDRESS FAMILY SOCKTYPE wait|nowait rate=N child=N ip-rate=N ip-child=N
    /// user=NAME uid=N gid=N group=NAME groups=N,N [socket-owner=UID:GID
    /// socket-mode=MODE] PROGRAM`
    ///
    /// where FAMILY is tcp4, udp4, tcp6, udp6 (IPv6 only), tcp46, udp46 (dual
    /// stack) or unix, an absent limit or group is `-` (and the socket
    /// owner of a unix line without an owner prefix: inetd's own), MODE is
    /// four octal digits, and PROGRAM is
    /// `internal=NAME` or `exec=PATH argv=ARGV0 ARGS...` (argv runs to the end of the line).
    /// A service with [`Gates`] (from the xinetd dialect) has them before
    /// PROGRAM: `only-from=NET,NET` (`only-from=none`: nobody),
    /// `no-access=NET,NET`, `no-wrap`, `wrap-name=NAME`, `max-load=LOAD`,
    /// each only when set.
    pub fn dump_line(&self) -> String {
        let limit = |l: Option<u32>| l.map_or_else(|| "-".to_string(), |n| n.to_string());
        let groups = self
            .user
            .groups
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>();
        let program = match &self.program {
            Program::Builtin(builtin) => format!("internal={}", builtin.name()),
            Program::External { path, argv } => {
                format!("exec={} argv={}", path.display(), argv.join(" "))
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
            Listen::Inet { .. } => String::new(),
        };
        let gates = self.gates.dump_fields();
        format!(
            "{} {} {} {} rate={} child={} ip-rate={} ip-child={} user={} uid={} gid={} group={} groups={}{socket}{gates} {}",
            self.listen,
            self.family_name(),
            self.socket_type,
            if self.wait { "wait" } else { "nowait" },
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

    /// The protocol in normalized form: `tcp4`, `udp6`, `tcp46`, `unix`...
    pub fn family_name(&self) -> &'static str {
        let (tcp, udp) = match &self.listen {
            Listen::Unix { .. } => return "unix",
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

/// Reads and parses every source (see [`sources`]). Bytes that are not
/// UTF-8 reject the entry holding them (comments may hold anything).
pub fn load(
    sources: &[Source],
    resolver: &dyn Resolver,
) -> io::Result<(Vec<Service>, Vec<ConfigError>)> {
    sources::load(sources, resolver)
}

impl Service {
    /// A root service of `program` on `listen` (stream, `nowait`, no
    /// limits), for the unit tests of what consumes services.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str, listen: Listen, program: Program) -> Service {
        Service {
            file: "inetd.conf".to_string(),
            line: 1,
            name: name.to_string(),
            protocol: "tcp".to_string(),
            listen,
            socket_type: SocketType::Stream,
            wait: false,
            limits: Limits::default(),
            user: Credentials {
                user: "root".to_string(),
                uid: 0,
                gid: 0,
                group: None,
                groups: Vec::new(),
            },
            program,
            gates: Gates::default(),
        }
    }
}
