//! The `inetd.conf` language: text in, services and `file:line: reason` errors out.
//!
//! The parser is a pure function. All it learns about the system (service
//! names, users, groups, host names) it asks a [`Resolver`], which tests replace.
//!
//! A rejected line never takes the rest of the file down: it is reported and
//! skipped. Warnings are [`ConfigError`]s of [`Severity::Warning`]: something
//! accepted but ignored (a FreeBSD login class, an IPsec policy), or a valid
//! line of a feature not served here (RPC, tcpmux), which is skipped. A
//! warning never rejects a line, so it never refuses a reload or fails `-t`:
//! the same file is judged the same way at startup and at every reload.

mod entries;
mod owner;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub use crate::builtins::Builtin;
use crate::resolve::Resolver;
use entries::{entries, ipsec_policies, Entry};

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
        write!(f, "{}:{}: {severity}{}", self.file, self.line, self.reason)
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
    /// basename of argv[0] (for a tcpd line, the program tcpd execs). The
    /// daemon, `--check-hosts` and `--match` all take it from here.
    pub fn access_name(&self) -> String {
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
        format!(
            "{} {} {} {} rate={} child={} ip-rate={} ip-child={} user={} uid={} gid={} group={} groups={}{socket} {}",
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

/// Reads and parses a configuration file. Bytes that are not UTF-8 reject
/// the entry holding them (comments may hold anything).
pub fn load(path: &Path, resolver: &dyn Resolver) -> io::Result<(Vec<Service>, Vec<ConfigError>)> {
    let bytes = crate::files::read_regular(path)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(parse(&text, &path.to_string_lossy(), resolver))
}

/// Parses the text of one configuration file.
pub fn parse(text: &str, file: &str, resolver: &dyn Resolver) -> (Vec<Service>, Vec<ConfigError>) {
    let mut parser = Parser {
        file,
        resolver,
        default_host: None,
        listeners: HashMap::new(),
        services: Vec::new(),
        errors: Vec::new(),
    };
    for entry in entries(text) {
        parser.entry(&entry);
    }
    for (line, policy) in ipsec_policies(text) {
        parser.report(
            line,
            Severity::Warning,
            format!(
                "{} ignored (the lines after it are served without it), not supported: IPsec policies",
                shown(policy)
            ),
        );
    }
    // In file order; a line's own messages keep theirs (the sort is stable).
    parser.errors.sort_by_key(|e| e.line);
    (parser.services, parser.errors)
}

/// Why an entry yields no service.
enum Skip {
    /// A bad line.
    Rejected(String),
    /// A valid line of a feature not served here: a warning.
    Unsupported(String),
}

impl From<String> for Skip {
    fn from(reason: String) -> Skip {
        Skip::Rejected(reason)
    }
}

/// Room kept in an exec's ARG_MAX for what the parser does not see: the
/// environment (`PATH` alone, unless `-E`), and the words the `--tcpd`
/// wrapper puts before the program (its mode, addresses, the rule files).
const EXEC_RESERVE: usize = 16 * 1024;

/// Linux's MAX_ARG_STRLEN: execve refuses any one string (with its NUL) longer.
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// The address family a protocol binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    /// IPv6 only (`tcp6`, `udp6`).
    V6,
    /// An IPv6 socket that also takes IPv4 (`tcp46`, `udp46`).
    Dual,
    Unix,
}

impl Family {
    fn fits(self, ip: IpAddr) -> bool {
        match self {
            Family::V4 => ip.is_ipv4(),
            Family::V6 | Family::Dual => ip.is_ipv6(),
            Family::Unix => false,
        }
    }

    fn wildcard(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    fn ip_version(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            _ => "IPv6",
        }
    }
}

/// What makes two listeners collide. A unix path is taken whatever the socket type.
#[derive(Debug, PartialEq, Eq, Hash)]
enum ListenerKey {
    Inet(SocketAddr, SocketType),
    Unix(PathBuf),
}

impl ListenerKey {
    fn new(listen: &Listen, socket_type: SocketType) -> ListenerKey {
        match listen {
            Listen::Inet { addr, .. } => ListenerKey::Inet(*addr, socket_type),
            Listen::Unix { path, .. } => ListenerKey::Unix(path.clone()),
        }
    }
}

/// The host list of a `host:` line and where it was set.
struct DefaultHost {
    hosts: String,
    line: usize,
}

struct Parser<'a> {
    file: &'a str,
    resolver: &'a dyn Resolver,
    /// Set by a `host:` line; `None` is the wildcard.
    default_host: Option<DefaultHost>,
    /// Every accepted listener and the line that defined it.
    listeners: HashMap<ListenerKey, usize>,
    services: Vec<Service>,
    errors: Vec<ConfigError>,
}

/// The fields of an entry, named.
struct Fields<'e> {
    /// FreeBSD's `user:group:mode` before a unix socket's path.
    owner: Option<&'e str>,
    hosts: Option<&'e str>,
    service: &'e str,
    socket_type: &'e str,
    protocol: &'e str,
    wait: &'e str,
    user: &'e str,
    program: &'e str,
    args: &'e [&'e str],
}

impl Parser<'_> {
    fn entry(&mut self, entry: &Entry) {
        if let [only] = entry.fields[..] {
            if let Some(hosts) = only.strip_suffix(':').filter(|_| !only.starts_with('/')) {
                self.set_default_host(hosts, entry.line);
                return;
            }
        }
        let mut warnings = Vec::new();
        match self.services(entry, &mut warnings) {
            Ok(services) => {
                self.services.extend(services);
                for warning in warnings {
                    self.report(entry.line, Severity::Warning, warning);
                }
            }
            Err(Skip::Rejected(reason)) => self.report(entry.line, Severity::Error, reason),
            Err(Skip::Unsupported(reason)) => self.report(entry.line, Severity::Warning, reason),
        }
    }

    fn report(&mut self, line: usize, severity: Severity, reason: String) {
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            line,
            severity,
            reason,
        });
    }

    /// A `host:` line. A bad host is reported here and kept, so that the
    /// lines after it fail too rather than listen on every address.
    fn set_default_host(&mut self, hosts: &str, line: usize) {
        if hosts == "*" {
            self.default_host = None;
            return;
        }
        // Which family the host must have depends on the lines that use it.
        let bad = hosts.split(',').find_map(|host| {
            let v4 = self.host_addr(host, Family::V4, "");
            v4.or_else(|_| self.host_addr(host, Family::V6, "")).err()
        });
        if let Some(reason) = bad {
            self.report(line, Severity::Error, format!("default host: {reason}"));
        }
        self.default_host = Some(DefaultHost {
            hosts: hosts.to_string(),
            line,
        });
    }

    /// The services of one entry (one per bind address), or why it has none.
    fn services(
        &mut self,
        entry: &Entry,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Service>, Skip> {
        let fields = split_fields(&entry.fields)?;
        let socket_type = parse_socket_type(fields.socket_type)?;
        if let Some(feature) = unsupported(&fields, socket_type)? {
            return Err(Skip::Unsupported(format!(
                "{} skipped, not supported: {feature}",
                shown(fields.service)
            )));
        }
        let family = parse_protocol(fields.protocol, socket_type)?;
        let listens = self.listens(&fields, socket_type, family)?;
        let (wait, limits) = parse_wait(fields.wait)?;
        let user = self.credentials(fields.user, warnings)?;
        let program = parse_program(&fields, family, self.resolver.arg_max(), warnings)?;
        self.claim(&listens, socket_type, entry.line)?;
        Ok(listens
            .into_iter()
            .map(|listen| Service {
                file: self.file.to_string(),
                line: entry.line,
                name: fields.service.to_string(),
                protocol: fields.protocol.to_string(),
                listen,
                socket_type,
                wait,
                limits,
                user: user.clone(),
                program: program.clone(),
            })
            .collect())
    }

    /// Where the entry listens: a unix path, or one address per host of the
    /// entry's host list (or the default host).
    fn listens(
        &self,
        fields: &Fields,
        socket_type: SocketType,
        family: Family,
    ) -> Result<Vec<Listen>, String> {
        if family == Family::Unix {
            if let Some(hosts) = fields.hosts {
                return Err(format!(
                    "a unix socket takes no host address ({})",
                    shown(hosts)
                ));
            }
            let path = unix_path(fields.service)?;
            let perms = owner::socket_perms(fields.owner, self.resolver)?;
            return Ok(vec![Listen::Unix { path, perms }]);
        }
        if let Some(owner) = fields.owner {
            return Err(format!(
                "an owner prefix ({}) is for unix sockets only",
                shown(owner)
            ));
        }
        let port = self.port(fields.service, socket_type)?;
        let (hosts, default_line) = match (fields.hosts, &self.default_host) {
            (Some(hosts), _) => (hosts, None),
            (None, Some(default)) => (default.hosts.as_str(), Some(default.line)),
            (None, None) => ("*", None),
        };
        hosts
            .split(',')
            .map(|host| {
                let ip =
                    self.host_addr(host, family, fields.protocol).map_err(
                        |e| match default_line {
                            Some(line) => format!("{e} (default host set at line {line})"),
                            None => e,
                        },
                    )?;
                Ok(Listen::Inet {
                    addr: SocketAddr::new(ip, port),
                    v6only: family == Family::V6,
                })
            })
            .collect()
    }

    /// The port of a decimal number or a service name.
    fn port(&self, service: &str, socket_type: SocketType) -> Result<u16, String> {
        if service.starts_with('/') {
            return Err(format!(
                "service {} is a path: that needs protocol unix",
                shown(service)
            ));
        }
        if service.bytes().all(|b| b.is_ascii_digit()) {
            return service
                .parse()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| format!("bad port number {}", shown(service)));
        }
        let proto = match socket_type {
            SocketType::Stream => "tcp",
            SocketType::Dgram => "udp",
        };
        self.resolver
            .port(service, proto)
            .ok_or_else(|| format!("unknown service {} for {proto}", shown(service)))
    }

    /// The address of one host: `*`, an IP address (IPv6 possibly in
    /// brackets) or a host name, which must have an address of `family`.
    fn host_addr(&self, host: &str, family: Family, protocol: &str) -> Result<IpAddr, String> {
        let wrong_family = || {
            let protocol = if protocol.is_empty() {
                String::new()
            } else {
                format!(" for {protocol}")
            };
            format!(
                "host {} has no {} address{protocol}",
                shown(host),
                family.ip_version()
            )
        };
        if host.is_empty() {
            return Err("empty host address".to_string());
        }
        if host == "*" {
            return Ok(family.wildcard());
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return match inner.parse::<Ipv6Addr>() {
                Ok(ip) if family.fits(IpAddr::V6(ip)) => Ok(IpAddr::V6(ip)),
                Ok(_) => Err(wrong_family()),
                Err(_) => Err(format!("bad IPv6 address {}", shown(host))),
            };
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return if family.fits(ip) {
                Ok(ip)
            } else {
                Err(wrong_family())
            };
        }
        if host.contains(['[', ']', ':']) {
            return Err(format!("bad address {}", shown(host)));
        }
        let addrs = self.resolver.host(host);
        match addrs.iter().find(|&&ip| family.fits(ip)) {
            Some(&ip) => Ok(ip),
            None if addrs.is_empty() => Err(format!(
                "unknown host {} (host names are looked up in /etc/hosts only)",
                shown(host)
            )),
            None => Err(wrong_family()),
        }
    }

    /// `user`, `user:group` or `user.group`, then an optional `/login-class`.
    fn credentials(&self, field: &str, warnings: &mut Vec<String>) -> Result<Credentials, String> {
        let (spec, class) = match field.split_once('/') {
            Some((spec, class)) => (spec, Some(class)),
            None => (field, None),
        };
        if let Some(class) = class {
            warnings.push(format!(
                "{} ignored, not supported: login classes",
                shown(class)
            ));
        }
        let (name, group) = match spec.split_once(':') {
            Some((name, group)) => (name, Some(group)),
            // User names may contain dots: a known name wins over `user.group`.
            None if self.resolver.user(spec).is_some() => (spec, None),
            None => match spec.split_once('.') {
                Some((name, group)) => (name, Some(group)),
                None => (spec, None),
            },
        };
        if name.is_empty() {
            return Err(format!("missing user name in {}", shown(field)));
        }
        let user = self
            .resolver
            .user(name)
            .ok_or_else(|| format!("unknown user {}", shown(name)))?;
        let gid = match group {
            None => user.gid,
            Some("") => return Err(format!("missing group name in {}", shown(field))),
            Some(group) => self
                .resolver
                .group(group)
                .ok_or_else(|| format!("unknown group {}", shown(group)))?,
        };
        Ok(Credentials {
            user: name.to_string(),
            uid: user.uid,
            gid,
            group: group.map(str::to_string),
            groups: if user.uid == 0 && group.is_none() {
                Vec::new()
            } else {
                self.resolver.groups(name, gid)
            },
        })
    }

    /// Records the listeners of an entry, unless one is already taken.
    fn claim(
        &mut self,
        listens: &[Listen],
        socket_type: SocketType,
        line: usize,
    ) -> Result<(), String> {
        let mut this_line = HashSet::new();
        for listen in listens {
            let key = ListenerKey::new(listen, socket_type);
            if let Some(first) = self.listeners.get(&key) {
                return Err(format!(
                    "duplicate listener {listen} {socket_type}: first defined at line {first}"
                ));
            }
            if !this_line.insert(key) {
                return Err(format!(
                    "duplicate listener {listen} {socket_type} on this line"
                ));
            }
        }
        self.listeners
            .extend(this_line.into_iter().map(|key| (key, line)));
        Ok(())
    }
}

/// Names the fields of an entry, splitting `host:` off the service.
fn split_fields<'e>(fields: &'e [&'e str]) -> Result<Fields<'e>, String> {
    if let Some(field) = fields.iter().find(|f| f.contains('\0')) {
        return Err(format!("NUL byte in {}", shown(field)));
    }
    if fields
        .iter()
        .any(|f| f.contains(char::REPLACEMENT_CHARACTER))
    {
        return Err("not valid UTF-8".to_string());
    }
    let [first, socket_type, protocol, wait, user, program, args @ ..] = fields else {
        return Err(format!(
            "too few fields ({}): expected [host:]service socket-type protocol wait|nowait user server-program [args]",
            fields.len()
        ));
    };
    let (owner, first) = match owner::split_prefix(first) {
        Some((owner, path)) => (Some(owner), path),
        None => (None, *first),
    };
    // A unix socket path may hold colons; anything else splits at the last one.
    let (hosts, service) = match first.rsplit_once(':') {
        Some((hosts, service)) if !first.starts_with('/') => (Some(hosts), service),
        _ => (None, first),
    };
    if service.is_empty() {
        return Err(format!("missing service name in {}", shown(first)));
    }
    Ok(Fields {
        owner,
        hosts,
        service,
        socket_type,
        protocol,
        wait,
        user,
        program,
        args,
    })
}

fn parse_socket_type(field: &str) -> Result<SocketType, String> {
    match field {
        "stream" => Ok(SocketType::Stream),
        "dgram" => Ok(SocketType::Dgram),
        "raw" | "rdm" | "seqpacket" => Err(format!("socket type {field} is not supported")),
        _ => Err(format!(
            "unknown socket type {} (expected stream or dgram)",
            shown(field)
        )),
    }
}

/// The family of a protocol, which must fit the socket type (`unix` fits both).
fn parse_protocol(field: &str, socket_type: SocketType) -> Result<Family, String> {
    let (wants, family) = match field {
        "tcp" | "tcp4" => (Some(SocketType::Stream), Family::V4),
        "udp" | "udp4" => (Some(SocketType::Dgram), Family::V4),
        "tcp6" => (Some(SocketType::Stream), Family::V6),
        "udp6" => (Some(SocketType::Dgram), Family::V6),
        "tcp46" => (Some(SocketType::Stream), Family::Dual),
        "udp46" => (Some(SocketType::Dgram), Family::Dual),
        "unix" => (None, Family::Unix),
        _ => {
            return Err(format!(
            "unknown protocol {} (expected tcp, udp, tcp4, udp4, tcp6, udp6, tcp46, udp46 or unix)",
            shown(field)
        ))
        }
    };
    match wants {
        Some(wanted) if wanted != socket_type => Err(format!(
            "protocol {field} does not fit socket type {socket_type}"
        )),
        _ => Ok(family),
    }
}

/// The feature a valid line of another inetd asks for that is not served
/// here: Sun RPC (`rpc/udp`), tcpmux (RFC 1078) services and builtin, and
/// FreeBSD's ident builtin. A line that would be bad for those inetds too
/// (a protocol that does not fit, no tcpmux name) is rejected.
fn unsupported(fields: &Fields, socket_type: SocketType) -> Result<Option<String>, String> {
    if let Some(protocol) = fields.protocol.strip_prefix("rpc/") {
        if parse_protocol(protocol, socket_type)? == Family::Unix {
            return Err(format!("bad RPC protocol {}", shown(fields.protocol)));
        }
        return Ok(Some(format!("RPC services ({})", shown(fields.protocol))));
    }
    if let Some(name) = fields.service.strip_prefix("tcpmux/") {
        if name.strip_prefix('+').unwrap_or(name).is_empty() {
            return Err(format!(
                "missing tcpmux service name in {}",
                shown(fields.service)
            ));
        }
        if parse_protocol(fields.protocol, socket_type)? == Family::Unix
            || socket_type != SocketType::Stream
        {
            return Err("tcpmux services need socket type stream and a tcp protocol".to_string());
        }
        return Ok(Some("tcpmux services".to_string()));
    }
    if fields.program == "internal" {
        match fields.args.first().copied().unwrap_or(fields.service) {
            "tcpmux" => return Ok(Some("builtin tcpmux".to_string())),
            "auth" => return Ok(Some("builtin auth (ident)".to_string())),
            _ => {}
        }
    }
    Ok(None)
}

/// A unix socket's path: absolute, and short enough for a socket address.
fn unix_path(service: &str) -> Result<PathBuf, String> {
    if !service.starts_with('/') {
        return Err(format!(
            "a unix socket service must be an absolute path, not {}",
            shown(service)
        ));
    }
    std::os::unix::net::SocketAddr::from_pathname(service)
        .map_err(|_| format!("unix socket path {} is too long", shown(service)))?;
    Ok(PathBuf::from(service))
}

/// `wait` or `nowait`, then the OpenBSD/busybox `.max` and the FreeBSD
/// `/max-child/max-connections-per-ip-per-minute/max-child-per-ip`, in that order.
fn parse_wait(field: &str) -> Result<(bool, Limits), String> {
    let (head, freebsd) = match field.split_once('/') {
        Some((head, tail)) => (head, Some(tail)),
        None => (field, None),
    };
    let (mode, rate) = match head.split_once('.') {
        Some((mode, rate)) => (mode, Some(rate)),
        None => (head, None),
    };
    let wait = match mode {
        "wait" => true,
        "nowait" => false,
        _ => return Err(format!("expected wait or nowait, not {}", shown(field))),
    };
    let limit = |number: &str| -> Result<u32, String> {
        // Digits only: `parse` alone would take a sign.
        Some(number)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("bad limit {} in {}", shown(number), shown(field)))
    };
    let mut limits = Limits {
        max_per_minute: rate.map(limit).transpose()?,
        ..Limits::default()
    };
    if let Some(freebsd) = freebsd {
        if freebsd.split('/').count() > 3 {
            return Err(format!(
                "too many limits in {}: at most max-child/max-connections-per-ip-per-minute/max-child-per-ip",
                shown(field)
            ));
        }
        let mut values = freebsd.split('/');
        limits.max_child = values.next().map(limit).transpose()?;
        limits.max_conn_per_ip_per_minute = values.next().map(limit).transpose()?;
        limits.max_child_per_ip = values.next().map(limit).transpose()?;
    }
    Ok((wait, limits))
}

/// `internal` (a builtin chosen by the service name, or by the name after
/// `internal`, which lets builtins listen on any port or a unix socket) or an
/// absolute path and its argv.
fn parse_program(
    fields: &Fields,
    family: Family,
    arg_max: usize,
    warnings: &mut Vec<String>,
) -> Result<Program, String> {
    if fields.program == "internal" {
        let (name, ignored) = match fields.args {
            [name, ignored @ ..] => (*name, ignored),
            [] if family == Family::Unix => {
                return Err("a builtin on a unix socket needs its name after internal".to_string())
            }
            [] => (fields.service, fields.args),
        };
        let builtin = Builtin::from_name(name).ok_or_else(|| {
            format!(
                "no builtin service {} (there are echo, discard, chargen, daytime and time)",
                shown(name)
            )
        })?;
        if !ignored.is_empty() {
            warnings.push(format!("arguments after internal {name} are ignored"));
        }
        return Ok(Program::Builtin(builtin));
    }
    if !fields.program.starts_with('/') {
        return Err(format!(
            "server program {} is not an absolute path",
            shown(fields.program)
        ));
    }
    let argv = if fields.args.is_empty() {
        let name = Path::new(fields.program)
            .file_name()
            .and_then(OsStr::to_str);
        vec![name.unwrap_or(fields.program).to_string()]
    } else {
        fields.args.iter().map(|arg| arg.to_string()).collect()
    };
    check_exec_size(fields.program, &argv, arg_max)?;
    Ok(Program::External {
        path: PathBuf::from(fields.program),
        argv,
    })
}

/// Rejects what execve would refuse with E2BIG at every spawn: one string
/// over MAX_ARG_STRLEN, or more than `arg_max` for the strings and their
/// pointers together, counting the program path (the `--tcpd` wrapper
/// passes it as an argument) and [`EXEC_RESERVE`].
fn check_exec_size(path: &str, argv: &[String], arg_max: usize) -> Result<(), String> {
    if let Some((i, arg)) = argv
        .iter()
        .enumerate()
        .find(|(_, arg)| arg.len() >= MAX_ARG_STRLEN)
    {
        return Err(format!(
            "argv[{i}] is {} bytes long: exec takes at most {}",
            arg.len(),
            MAX_ARG_STRLEN - 1
        ));
    }
    let strings: usize = argv.iter().map(|arg| arg.len() + 1).sum::<usize>() + path.len() + 1;
    let pointers = (argv.len() + 2) * std::mem::size_of::<usize>();
    let total = strings + pointers;
    if total + EXEC_RESERVE > arg_max {
        return Err(format!(
            "arguments take {total} bytes: exec takes at most {arg_max} with the environment"
        ));
    }
    Ok(())
}

/// A field quoted for a message: escaped (it may hold control characters)
/// and cut short (it may be a megabyte long).
fn shown(field: &str) -> String {
    const MAX_CHARS: usize = 40;
    let cut: String = field.chars().take(MAX_CHARS).collect();
    let more = if field.chars().nth(MAX_CHARS).is_some() {
        "..."
    } else {
        ""
    };
    format!("\"{}\"{more}", cut.escape_debug())
}
