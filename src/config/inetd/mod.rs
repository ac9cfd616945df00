//! The `inetd.conf` dialect, as the BSD inetds and busybox write it: text
//! in, [`Service`]s and `file:line: reason` diagnostics out. A pure
//! function: all it learns about the system (service names, users, groups,
//! host names) it asks a [`Resolver`], which tests replace.

mod entries;
mod fields;
mod owner;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use super::*;
use crate::resolve::Resolver;
use entries::{entries, ipsec_policies, Entry};
use fields::*;

/// What exec would refuse, for the other dialect's programs too.
pub(crate) use fields::check_exec_size;

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
                gates: Gates::default(),
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
