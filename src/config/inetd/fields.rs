//! The fields of one entry, each read on its own: the service and its
//! `host:` prefix, the socket type, the protocol and its family, the
//! wait field and its limits, the program and its argv (and what exec
//! would refuse). Pure functions over strings.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::owner;
use crate::config::*;

/// Room kept in an exec's ARG_MAX for what the parser does not see: the
/// environment (`PATH` alone, unless `-E`), and the words the `--tcpd`
/// wrapper puts before the program (its mode, addresses, the rule files).
pub(super) const EXEC_RESERVE: usize = 16 * 1024;

/// Linux's MAX_ARG_STRLEN: execve refuses any one string (with its NUL) longer.
pub(super) const MAX_ARG_STRLEN: usize = 32 * 4096;

/// The address family a protocol binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    V4,
    /// IPv6 only (`tcp6`, `udp6`).
    V6,
    /// An IPv6 socket that also takes IPv4 (`tcp46`, `udp46`).
    Dual,
    Unix,
}

impl Family {
    pub(super) fn fits(self, ip: IpAddr) -> bool {
        match self {
            Family::V4 => ip.is_ipv4(),
            Family::V6 | Family::Dual => ip.is_ipv6(),
            Family::Unix => false,
        }
    }

    pub(super) fn wildcard(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    pub(super) fn ip_version(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            _ => "IPv6",
        }
    }
}

/// The fields of an entry, named.
pub(super) struct Fields<'e> {
    /// FreeBSD's `user:group:mode` before a unix socket's path.
    pub(super) owner: Option<&'e str>,
    pub(super) hosts: Option<&'e str>,
    pub(super) service: &'e str,
    pub(super) socket_type: &'e str,
    pub(super) protocol: &'e str,
    pub(super) wait: &'e str,
    pub(super) user: &'e str,
    pub(super) program: &'e str,
    pub(super) args: &'e [&'e str],
}

/// Names the fields of an entry, splitting `host:` off the service.
pub(super) fn split_fields<'e>(fields: &'e [&'e str]) -> Result<Fields<'e>, String> {
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

pub(super) fn parse_socket_type(field: &str) -> Result<SocketType, String> {
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
pub(super) fn parse_protocol(field: &str, socket_type: SocketType) -> Result<Family, String> {
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
pub(super) fn unsupported(
    fields: &Fields,
    socket_type: SocketType,
) -> Result<Option<String>, String> {
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
pub(super) fn unix_path(service: &str) -> Result<PathBuf, String> {
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
pub(super) fn parse_wait(field: &str) -> Result<(bool, Limits), String> {
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
pub(super) fn parse_program(
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
pub(crate) fn check_exec_size(path: &str, argv: &[String], arg_max: usize) -> Result<(), String> {
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
pub(super) fn shown(field: &str) -> String {
    const MAX_CHARS: usize = 40;
    let cut: String = field.chars().take(MAX_CHARS).collect();
    let more = if field.chars().nth(MAX_CHARS).is_some() {
        "..."
    } else {
        ""
    };
    format!("\"{}\"{more}", cut.escape_debug())
}
