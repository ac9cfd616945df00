//! The `inetd.conf` dialect, as the BSD inetds, busybox and GNU inetutils
//! write it (NetBSD's key-values definitions and `.include` among it):
//! text in, [`Service`]s and `file:line: reason` diagnostics out. A pure
//! function: all it learns about the system (service names, users, groups,
//! host names) it asks a [`Resolver`], and the files an `.include` names
//! it asks [`Includes`]; tests replace both.

mod entries;
mod fields;
mod include;
mod keyvalues;
mod owner;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
mod v2;

use crate::keyhash::{Interner, KeyMap};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use super::*;
use crate::resolve::Resolver;
use entries::{ipsec_policies, items, Entry, Item};
use fields::*;
pub use include::FileIncludes;

/// What exec would refuse, for the other dialect's programs too.
pub(crate) use fields::check_exec_size;

/// Choices of the loader that the text does not make.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Debian's meaning of `tcp` and `udp` (openbsd-inetd since
    /// 0.20221205): IPv4 and IPv6 (`tcp46`, `udp46`) on a wildcard or IPv6
    /// address. Off: IPv4, as in the BSDs.
    pub dual_stack: bool,
    /// inetd's working directory, against which relative program paths
    /// are resolved (with a warning); `None`: they are rejected.
    pub working_dir: Option<PathBuf>,
}

/// What `.include` reads: the loader reads the file system (through
/// `files.rs`), tests give a table. The parser stays pure.
pub trait Includes {
    /// The files `pattern` names (relative to the directory of `from`),
    /// in order, as messages show them; or why the pattern cannot be
    /// expanded.
    fn files(&self, pattern: &str, from: &str) -> Result<Vec<String>, String>;

    /// The text of one of them (read when it is parsed: one at a time).
    fn read(&self, file: &str) -> Result<String, String>;

    /// Whether two names are the same file (for telling a loop).
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

/// For a text read on its own: `.include` is an error.
pub struct NoIncludes;

impl Includes for NoIncludes {
    fn files(&self, _pattern: &str, _from: &str) -> Result<Vec<String>, String> {
        Err(".include is read only when inetd reads a file".to_string())
    }

    fn read(&self, _file: &str) -> Result<String, String> {
        Err(".include is read only when inetd reads a file".to_string())
    }
}

/// How deep `.include`s may nest, and how many files one load reads.
const MAX_INCLUDE_DEPTH: usize = 8;
const MAX_INCLUDED_FILES: usize = 256;

/// Parses the text of one configuration file, with the default options
/// and no `.include`.
pub fn parse(text: &str, file: &str, resolver: &dyn Resolver) -> (Vec<Service>, Vec<ConfigError>) {
    parse_with(text, file, resolver, &Options::default(), &NoIncludes)
}

/// Parses the text of one configuration file and the files it includes.
pub fn parse_with(
    text: &str,
    file: &str,
    resolver: &dyn Resolver,
    options: &Options,
    includes: &dyn Includes,
) -> (Vec<Service>, Vec<ConfigError>) {
    let mut parser = Parser {
        file: file.into(),
        resolver,
        options,
        includes,
        default_host: None,
        listeners: KeyMap::default(),
        // A service a line, mostly: growing by doubling would copy every
        // service again and again (bounded: a file of empty lines must not
        // reserve much).
        services: Vec::with_capacity(text.lines().count().min(MAX_RESERVED_SERVICES)),
        errors: Vec::new(),
        stack: vec![file.to_string()],
        included: 0,
        users: KeyMap::default(),
        protocols: Interner::default(),
        programs: Interner::default(),
    };
    parser.text(text);
    (
        parser.services.into_iter().flatten().collect(),
        parser.errors,
    )
}

/// At most this many services are reserved room for before a file is read.
const MAX_RESERVED_SERVICES: usize = 4096;

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

/// What makes two listeners collide. A unix path is taken whatever the
/// socket type. An RPC program has one port per protocol in rpcbind,
/// whatever address its socket is bound to.
#[derive(Debug, PartialEq, Eq, Hash)]
enum ListenerKey {
    Inet(SocketAddr, SocketType),
    Unix(PathBuf),
    /// tcpmux names are matched without regard to case.
    Tcpmux(String),
    /// Program, socket type, IPv6.
    Rpc(u32, SocketType, bool),
}

impl ListenerKey {
    fn new(listen: &Listen, socket_type: SocketType, rpc: Option<Rpc>) -> ListenerKey {
        match (listen, rpc) {
            (Listen::Inet { addr, .. }, Some(rpc)) => {
                ListenerKey::Rpc(rpc.program, socket_type, addr.is_ipv6())
            }
            (Listen::Inet { addr, .. }, None) => ListenerKey::Inet(*addr, socket_type),
            (Listen::Unix { path, .. }, _) => ListenerKey::Unix(path.clone()),
            (Listen::Tcpmux { name, .. }, _) => ListenerKey::Tcpmux(name.to_ascii_lowercase()),
        }
    }

    /// The listener, for a message.
    fn describe(&self, listen: &Listen, socket_type: SocketType) -> String {
        match self {
            ListenerKey::Rpc(program, ..) => format!(
                "RPC program {program} {socket_type} on {}",
                listen_family(listen)
            ),
            _ => format!("listener {listen} {socket_type}"),
        }
    }
}

fn listen_family(listen: &Listen) -> &'static str {
    match listen {
        Listen::Inet { addr, .. } if addr.is_ipv6() => "IPv6",
        _ => "IPv4",
    }
}

/// The host list of a `host:` line and where it was set.
struct DefaultHost {
    hosts: String,
    line: usize,
}

struct Parser<'a> {
    /// The file being read (an included one while it is), shared by its
    /// services.
    file: Rc<str>,
    resolver: &'a dyn Resolver,
    options: &'a Options,
    includes: &'a dyn Includes,
    /// Set by a `host:` line; `None` is the wildcard.
    default_host: Option<DefaultHost>,
    /// Every accepted listener: where it was defined and its services'
    /// places in `services`.
    listeners: KeyMap<ListenerKey, Claim>,
    /// In order; `None` where a later line took the listener.
    services: Vec<Option<Service>>,
    errors: Vec<ConfigError>,
    /// The files being read, outermost first: an `.include` of one of
    /// them is a loop.
    stack: Vec<String>,
    /// Files included so far.
    included: usize,
    /// The credentials of each user field read so far (see
    /// [`Parser::credentials`]).
    users: KeyMap<String, Rc<Credentials>>,
    /// The protocol fields read so far, each shared by its services.
    protocols: Interner<str>,
    /// The programs of the file's lines, each held once.
    programs: Interner<Command>,
}

/// A listener taken by a line.
struct Claim {
    file: Rc<str>,
    line: usize,
    service: usize,
}

/// What a line of a dialect says beyond the plain form of its fields:
/// NetBSD's extras, and what its key-values definitions give directly.
#[derive(Default)]
struct Extras {
    /// The family, when the protocol alone does not say it.
    family: Option<Family>,
    /// Wait mode and limits, when not read from the wait field.
    wait: Option<(bool, Limits)>,
    /// NetBSD's `stream,N`: concurrent connections.
    accept_max: Option<u32>,
    socket_options: SocketOptions,
}

impl Parser<'_> {
    /// The items of one file's text, `.include`s read where they stand.
    fn text(&mut self, text: &str) {
        let mut policies = ipsec_policies(text).into_iter().peekable();
        for item in items(text) {
            let line = match &item {
                Item::Entry(entry) => entry.line,
                Item::Definition(definition) => definition.line,
                Item::Include { line, .. } | Item::Bad { line, .. } => *line,
            };
            while let Some((at, policy)) = policies.next_if(|(at, _)| *at < line) {
                self.ipsec_policy(at, policy);
            }
            match item {
                Item::Entry(entry) => self.entry(&entry),
                Item::Definition(definition) => self.definition(&definition),
                Item::Include { line, pattern } => self.include(line, &pattern),
                Item::Bad { line, reason } => self.report(line, Severity::Error, reason),
            }
        }
        for (at, policy) in policies {
            self.ipsec_policy(at, policy);
        }
    }

    fn ipsec_policy(&mut self, line: usize, policy: &str) {
        self.report(
            line,
            Severity::Warning,
            format!(
                "{} ignored (the lines after it are served without it), not supported: IPsec policies",
                shown(policy)
            ),
        );
    }

    fn entry(&mut self, entry: &Entry) {
        if let Some(reason) = &entry.error {
            self.report(entry.line, Severity::Error, reason.clone());
            return;
        }
        let fields: Vec<&str> = entry.fields.iter().map(String::as_str).collect();
        if let [only] = fields[..] {
            if let Some(hosts) = only.strip_suffix(':').filter(|_| !only.starts_with('/')) {
                self.set_default_host(hosts, entry.line);
                return;
            }
        }
        let mut warnings = Vec::new();
        let services = split_fields(&fields)
            .and_then(|fields| netbsd_extras(fields, &mut warnings))
            .map_err(Skip::Rejected)
            .and_then(|(fields, extras)| self.services(&fields, extras, entry.line, &mut warnings));
        self.outcome(entry.line, services, warnings);
    }

    /// A key-values definition (`v2.rs` reads its keys).
    fn definition(&mut self, definition: &keyvalues::Definition) {
        let mut warnings = Vec::new();
        let services = v2::spec(definition, &mut warnings).and_then(|spec| {
            let fields = spec.fields();
            if !definition.enabled {
                return Ok(Vec::new());
            }
            let extras = self.v2_extras(&spec, &fields)?;
            self.services(&fields, extras, definition.line, &mut warnings)
        });
        self.outcome(definition.line, services, warnings);
    }

    fn outcome(
        &mut self,
        line: usize,
        services: Result<Vec<Service>, Skip>,
        warnings: Vec<String>,
    ) {
        match services {
            Ok(services) => {
                for warning in warnings {
                    self.report(line, Severity::Warning, warning);
                }
                self.add(services);
            }
            Err(Skip::Rejected(reason)) => self.report(line, Severity::Error, reason),
            Err(Skip::Unsupported(reason)) => self.report(line, Severity::Warning, reason),
        }
    }

    /// `.include PATTERN`: each file it names, read as if its text stood
    /// here, with the default host of this point (restored after).
    fn include(&mut self, line: usize, pattern: &str) {
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            let reason = format!(
                ".include {} nests too deep (at most {MAX_INCLUDE_DEPTH} levels)",
                shown(pattern)
            );
            self.report(line, Severity::Error, reason);
            return;
        }
        let files = match self.includes.files(pattern, &self.file) {
            Ok(files) => files,
            Err(reason) => {
                self.report(
                    line,
                    Severity::Error,
                    format!(".include {}: {reason}", shown(pattern)),
                );
                return;
            }
        };
        for included in files {
            if self.stack.iter().any(|f| self.includes.same(f, &included)) {
                let reason = format!(
                    "{} not included again: it would include itself",
                    shown(&included)
                );
                self.report(line, Severity::Warning, reason);
                continue;
            }
            if self.included >= MAX_INCLUDED_FILES {
                let reason = format!(
                    "{} not included: at most {MAX_INCLUDED_FILES} files are",
                    shown(&included)
                );
                self.report(line, Severity::Error, reason);
                return;
            }
            self.included += 1;
            let text = match self.includes.read(&included) {
                Ok(text) => text,
                Err(reason) => {
                    self.report(
                        line,
                        Severity::Error,
                        format!("{}: {reason}", shown(&included)),
                    );
                    continue;
                }
            };
            let outer = std::mem::replace(&mut self.file, included.as_str().into());
            self.stack.push(included);
            let default_host = self.default_host.as_ref().map(|d| DefaultHost {
                hosts: d.hosts.clone(),
                line: d.line,
            });
            self.text(&text);
            self.default_host = default_host;
            self.stack.pop();
            self.file = outer;
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

    /// The services of one line or definition (one per bind address), or
    /// why it has none.
    fn services(
        &mut self,
        fields: &Fields,
        extras: Extras,
        line: usize,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Service>, Skip> {
        let socket_type = parse_socket_type(fields.socket_type)?;
        // Debian's `tcp` and `udp`: both families where the host allows.
        let rpc_protocol = fields.protocol.strip_prefix("rpc/");
        let protocol = rpc_protocol.unwrap_or(fields.protocol);
        let both =
            extras.family.is_none() && self.options.dual_stack && matches!(protocol, "tcp" | "udp");
        let family = match extras.family {
            Some(family) => family,
            None if both => Family::Dual,
            None => parse_protocol(protocol, socket_type)?,
        };
        let rpc = match rpc_protocol {
            Some(_) if family == Family::Unix => {
                return Err(format!("bad RPC protocol {}", shown(fields.protocol)).into())
            }
            Some(_) => Some(parse_rpc(fields.service, self.resolver)?),
            None => None,
        };
        let listens = self.listens(fields, socket_type, family, both, rpc.is_some())?;
        let (wait_field, flags) = split_wait_flags(fields.wait)?;
        let (wait, mut limits) = match extras.wait {
            Some(given) => given,
            None => parse_wait(wait_field)?,
        };
        match extras.accept_max {
            Some(0) => limits.starts_nothing = true,
            Some(max) => limits.max_child = Some(max),
            None => {}
        }
        let user = self.credentials(fields.user, warnings)?;
        if rpc.is_some() && fields.program == "internal" {
            return Err("an RPC service needs a program, not internal"
                .to_string()
                .into());
        }
        let working_dir = self.options.working_dir.as_deref();
        let program = match (fields.program, fields.args.first().copied()) {
            ("internal", Some("redirect")) => {
                if socket_type != SocketType::Stream || wait {
                    return Err("redirect is for stream nowait services".to_string().into());
                }
                Program::Redirect(Box::new(parse_redirect(fields, family, self.resolver)?))
            }
            _ => match parse_program(
                fields,
                family,
                self.resolver.arg_max(),
                working_dir,
                warnings,
            )? {
                Program::External(command) => Program::External(self.programs.share(command)),
                program => program,
            },
        };
        check_builtin_kind(&program, socket_type)?;
        if let [Listen::Tcpmux { .. }] = listens[..] {
            check_tcpmux_service(wait, &program)?;
        }
        let builtin_args = builtin_options(fields, &program, warnings)?;
        let builtin = !matches!(program, Program::External(_));
        // The loop serves each connection of a builtin: it has no process
        // to hand a listening socket to.
        let wait = if builtin && wait && socket_type == SocketType::Stream {
            warnings.push("a stream builtin is served nowait: wait ignored".to_string());
            false
        } else {
            wait
        };
        if builtin && (flags.environment || flags.listen_fds) {
            warnings.push("env and listen-fds are for programs, not builtins: ignored".to_string());
        } else if flags.listen_fds && !wait {
            warnings.push("listen-fds is for wait services: ignored".to_string());
        }
        let filtered = extras.socket_options.defer_accept.is_some();
        if filtered && (socket_type != SocketType::Stream || family == Family::Unix) {
            return Err(Skip::Rejected(
                "an accept filter is for TCP stream sockets only".to_string(),
            ));
        }
        drop_inapplicable_limits(&mut limits, socket_type, wait, family, &program, warnings);
        self.claim(&listens, socket_type, rpc, line, warnings)?;
        let protocol = self.protocols.share(fields.protocol.into());
        Ok(listens
            .into_iter()
            .map(|listen| Service {
                file: self.file.clone(),
                line,
                name: fields.service.into(),
                protocol: Rc::clone(&protocol),
                listen,
                socket_type,
                wait,
                limits,
                environment: flags.environment && !builtin,
                listen_fds: flags.listen_fds && wait && !builtin,
                user: user.clone(),
                program: program.clone(),
                rpc,
                hard_reload: false,
                extras: ExtraSettings {
                    builtin_args: builtin_args.clone(),
                    socket_options: extras.socket_options,
                    ..ExtraSettings::default()
                }
                .into(),
            })
            .collect())
    }

    /// The family of a definition whose protocol is plain `tcp` or `udp`:
    /// NetBSD takes it from the bind address, which must be an IPv4 or an
    /// IPv6 address then.
    fn v2_extras(&self, spec: &v2::Spec, fields: &Fields) -> Result<Extras, Skip> {
        let family = if matches!(fields.protocol, "tcp" | "udp") {
            let hosts = match (fields.hosts, &self.default_host) {
                (Some(hosts), _) => hosts,
                (None, Some(default)) => default.hosts.as_str(),
                (None, None) => "*",
            };
            let literal = |host: &str| {
                let inner = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
                inner.unwrap_or(host).parse::<IpAddr>().ok()
            };
            let ips: Option<Vec<IpAddr>> = hosts.split(',').map(literal).collect();
            match ips.as_deref() {
                Some(ips) if ips.iter().all(IpAddr::is_ipv4) => Some(Family::V4),
                Some(ips) if ips.iter().all(IpAddr::is_ipv6) => Some(Family::V6),
                _ => {
                    return Err(Skip::Rejected(format!(
                        "protocol {} with address {}: the family is not known (give {}4 or {}6, or an IP address)",
                        fields.protocol,
                        shown(hosts),
                        fields.protocol,
                        fields.protocol
                    )))
                }
            }
        } else {
            None
        };
        Ok(Extras {
            family,
            wait: Some((spec.wait, spec.limits)),
            accept_max: None,
            socket_options: spec.socket_options,
        })
    }

    /// Adds a line's services, which [`Parser::claim`] placed.
    fn add(&mut self, services: Vec<Service>) {
        self.services.extend(services.into_iter().map(Some));
    }

    /// Where the entry listens: a unix path, or one address per host of the
    /// entry's host list (or the default host); an RPC service on an
    /// anonymous port.
    fn listens(
        &self,
        fields: &Fields,
        socket_type: SocketType,
        family: Family,
        v4_too: bool,
        rpc: bool,
    ) -> Result<Vec<Listen>, String> {
        if let Some(listen) = tcpmux_listen(fields, socket_type, family)? {
            return Ok(vec![listen]);
        }
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
        let port = if rpc {
            0
        } else {
            self.port(fields.service, socket_type)?
        };
        let (hosts, default_line) = match (fields.hosts, &self.default_host) {
            (Some(hosts), _) => (hosts, None),
            (None, Some(default)) => (default.hosts.as_str(), Some(default.line)),
            (None, None) => ("*", None),
        };
        hosts
            .split(',')
            .map(|host| {
                // Debian's `tcp`: an IPv4 host keeps IPv4.
                let v4 = (v4_too && host != "*")
                    .then(|| self.host_addr(host, Family::V4, fields.protocol).ok())
                    .flatten();
                let ip = match v4 {
                    Some(ip) => ip,
                    None => self.host_addr(host, family, fields.protocol).map_err(|e| {
                        match default_line {
                            Some(line) => format!("{e} (default host set at line {line})"),
                            None => e,
                        }
                    })?,
                };
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
    /// Each is resolved once: the services of the same one share it.
    fn credentials(
        &mut self,
        field: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Rc<Credentials>, String> {
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
        if let Some(known) = self.users.get(spec) {
            return Ok(Rc::clone(known));
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
        let credentials = Rc::new(Credentials {
            user: name.to_string(),
            uid: user.uid,
            gid,
            group: group.map(str::to_string),
            groups: if user.uid == 0 && group.is_none() {
                Vec::new()
            } else {
                self.resolver.groups(name, gid)
            },
        });
        self.users.insert(spec.to_string(), Rc::clone(&credentials));
        Ok(credentials)
    }

    /// Records the listeners of a line. One the line names twice rejects
    /// it; one an earlier line took goes to this line, as in the BSDs.
    fn claim(
        &mut self,
        listens: &[Listen],
        socket_type: SocketType,
        rpc: Option<Rpc>,
        line: usize,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let mut this_line = Vec::with_capacity(listens.len());
        for listen in listens {
            let key = ListenerKey::new(listen, socket_type, rpc);
            if this_line.contains(&key) {
                return Err(format!(
                    "duplicate {} on this line",
                    key.describe(listen, socket_type)
                ));
            }
            this_line.push(key);
        }
        let first = self.services.len();
        for (i, (key, listen)) in this_line.into_iter().zip(listens).enumerate() {
            let claim = Claim {
                file: self.file.clone(),
                line,
                service: first + i,
            };
            if let Some(earlier) = self.listeners.insert(key, claim) {
                self.services[earlier.service] = None;
                let place = if earlier.file == self.file {
                    format!("line {}", earlier.line)
                } else {
                    format!("{}:{}", earlier.file, earlier.line)
                };
                warnings.push(format!(
                    "listener {listen} {socket_type} of {place} replaced: the later line wins"
                ));
            }
        }
        Ok(())
    }
}

/// Per-client limits where a service has no clients to count them by are
/// dropped, with a warning, rather than kept as if they applied.
fn drop_inapplicable_limits(
    limits: &mut Limits,
    socket_type: SocketType,
    wait: bool,
    family: Family,
    program: &Program,
    warnings: &mut Vec<String>,
) {
    let why = match (socket_type, wait, program) {
        _ if family == Family::Unix => Some("a unix socket has no client address"),
        (SocketType::Dgram, _, Program::Builtin(_)) => {
            Some("builtin datagrams are limited by --udp-source-rate")
        }
        (SocketType::Stream, true, _) => {
            Some("a stream wait service accepts its connections itself")
        }
        _ => None,
    };
    let mut drop = |limit: &mut Option<u32>, name: &str, why: &str| {
        if limit.take().is_some() {
            warnings.push(format!("{name} ignored: {why}"));
        }
    };
    if let Some(why) = why {
        drop(
            &mut limits.max_conn_per_ip_per_minute,
            "the per-client rate",
            why,
        );
        drop(
            &mut limits.max_child_per_ip,
            "the per-client child limit",
            why,
        );
    } else if socket_type == SocketType::Dgram && wait {
        let why = "the one child of a dgram wait service serves every sender";
        drop(
            &mut limits.max_child_per_ip,
            "the per-client child limit",
            why,
        );
    }
}
