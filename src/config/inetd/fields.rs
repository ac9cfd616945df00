//! The fields of one entry, each read on its own: the service and its
//! `host:` prefix, the socket type, the protocol and its family, the
//! wait field and its limits, the program and its argv (and what exec
//! would refuse). Pure functions over strings.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use super::{owner, Extras, Skip};
use crate::config::*;
use crate::resolve::Resolver;

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
    pub(super) args: Vec<&'e str>,
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
    let (owner, hosts, service) = split_service(first)?;
    Ok(Fields {
        owner,
        hosts,
        service,
        socket_type,
        protocol,
        wait,
        user,
        program,
        args: args.to_vec(),
    })
}

/// The first field: `[:user:group:mode:]/path` or `[hosts:]service`, split.
pub(super) fn split_service(first: &str) -> Result<(Option<&str>, Option<&str>, &str), String> {
    let (owner, first) = match owner::split_prefix(first) {
        Some((owner, path)) => (Some(owner), path),
        None => (None, first),
    };
    // A unix socket path may hold colons; anything else splits at the last one.
    let (hosts, service) = match first.rsplit_once(':') {
        Some((hosts, service)) if !first.starts_with('/') => (Some(hosts), service),
        _ => (None, first),
    };
    if service.is_empty() {
        return Err(format!("missing service name in {}", shown(first)));
    }
    Ok((owner, hosts, service))
}

/// NetBSD's extras of the positional fields, split off their plain form:
/// `stream,N` (concurrent connections), `stream:FILTER[,ARG]` (an accept
/// filter), `PROTOCOL,sndbuf=N,rcvbuf=N` (socket buffers, with `k` or `m`),
/// `faith/` (refused); and FreeBSD's `tcp/ttcp`, served as plain TCP.
pub(super) fn netbsd_extras<'e>(
    mut fields: Fields<'e>,
    warnings: &mut Vec<String>,
) -> Result<(Fields<'e>, Extras), String> {
    let mut extras = Extras::default();
    let (socket_type, filter) = match fields.socket_type.split_once(':') {
        Some((socket_type, filter)) => (socket_type, Some(filter)),
        None => (fields.socket_type, None),
    };
    let socket_type = match socket_type.split_once(',') {
        Some(("stream", max)) => {
            extras.accept_max = Some(count(max).ok_or_else(|| {
                format!(
                    "bad connection limit {} in {}",
                    shown(max),
                    shown(fields.socket_type)
                )
            })?);
            "stream"
        }
        Some(_) => {
            return Err(format!(
                "a connection limit ({}) is for stream sockets only",
                shown(fields.socket_type)
            ))
        }
        None => socket_type,
    };
    if let Some(filter) = filter {
        if socket_type != "stream" {
            return Err(format!(
                "an accept filter ({}) is for stream sockets only",
                shown(fields.socket_type)
            ));
        }
        let (name, arg) = match filter.split_once(',') {
            Some((name, arg)) => (name, Some(arg)),
            None => (filter, None),
        };
        extras.socket_options.defer_accept = Some(accept_filter(name, arg)?);
    }
    fields.socket_type = socket_type;
    if let Some(rest) = fields.protocol.strip_prefix("faith/") {
        return Err(format!(
            "protocol faith/{} is not supported: FAITH (IPv6 to IPv4 translation) is a KAME relay Linux does not have",
            shown(rest).trim_matches('"')
        ));
    }
    let (protocol, buffers) = match fields.protocol.split_once(',') {
        Some((protocol, buffers)) => (protocol, Some(buffers)),
        None => (fields.protocol, None),
    };
    if let Some(buffers) = buffers {
        if buffers.split(',').count() > 2 {
            return Err(format!(
                "too many buffer sizes in {}",
                shown(fields.protocol)
            ));
        }
        for option in buffers.split(',') {
            let (name, size) = option.split_once('=').ok_or_else(|| {
                format!(
                    "bad buffer size option {} (expected sndbuf=SIZE or rcvbuf=SIZE)",
                    shown(option)
                )
            })?;
            let size = buffer_size(size).filter(|&n| n > 0).ok_or_else(|| {
                format!(
                    "bad buffer size {} in {}",
                    shown(size),
                    shown(fields.protocol)
                )
            })?;
            match name {
                "sndbuf" => extras.socket_options.send_buffer = Some(size),
                "rcvbuf" => extras.socket_options.receive_buffer = Some(size),
                _ => {
                    return Err(format!(
                        "unknown buffer size option {} (expected sndbuf or rcvbuf)",
                        shown(name)
                    ))
                }
            }
        }
    }
    fields.protocol = match protocol.strip_suffix("/ttcp") {
        Some(tcp @ ("tcp" | "tcp4" | "tcp6" | "tcp46")) => {
            warnings.push(format!(
                "{protocol} served as {tcp}: T/TCP is gone from every kernel"
            ));
            tcp
        }
        _ => protocol,
    };
    Ok((fields, extras))
}

/// An accept filter: NetBSD's and FreeBSD's `dataready` is Linux's
/// TCP_DEFER_ACCEPT (its argument, ours, the seconds to wait for data).
pub(super) fn accept_filter(name: &str, arg: Option<&str>) -> Result<u32, String> {
    if name != "dataready" {
        return Err(format!(
            "accept filter {} is not supported (only dataready, as TCP_DEFER_ACCEPT)",
            shown(name)
        ));
    }
    match arg {
        None => Ok(DEFAULT_DEFER_ACCEPT_SECS),
        Some(arg) => count(arg)
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("bad dataready time {} (seconds, at least 1)", shown(arg))),
    }
}

/// A decimal count, digits only.
pub(super) fn count(text: &str) -> Option<u32> {
    Some(text)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// A buffer size: a count, possibly followed by `k` (KiB) or `m` (MiB), at
/// most what setsockopt takes.
pub(super) fn buffer_size(text: &str) -> Option<u32> {
    let (digits, unit) = match text.strip_suffix('k') {
        Some(digits) => (digits, 1 << 10),
        None => match text.strip_suffix('m') {
            Some(digits) => (digits, 1 << 20),
            None => (text, 1),
        },
    };
    count(digits)
        .and_then(|n| n.checked_mul(unit))
        .filter(|&n| n <= i32::MAX as u32)
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

/// A `tcpmux/NAME` or `tcpmux/+NAME` service field: a service reached
/// through the tcpmux builtin, stream and TCP, with no host of its own.
/// `None` for any other service field.
pub(super) fn tcpmux_listen(
    fields: &Fields,
    socket_type: SocketType,
    family: Family,
) -> Result<Option<Listen>, String> {
    let Some(name) = fields.service.strip_prefix("tcpmux/") else {
        return Ok(None);
    };
    let (name, plus) = match name.strip_prefix('+') {
        Some(name) => (name, true),
        None => (name, false),
    };
    if name.is_empty() {
        return Err(format!(
            "missing tcpmux service name in {}",
            shown(fields.service)
        ));
    }
    if family == Family::Unix || socket_type != SocketType::Stream {
        return Err("tcpmux services need socket type stream and a tcp protocol".to_string());
    }
    if let Some(hosts) = fields.hosts {
        return Err(format!(
            "a tcpmux service takes no host address ({}): it is reached through tcpmux",
            shown(hosts)
        ));
    }
    if name.len() + 2 > crate::builtins::tcpmux::MAX_LINE {
        return Err(format!(
            "tcpmux service name {} is longer than {} bytes",
            shown(name),
            crate::builtins::tcpmux::MAX_LINE - 2
        ));
    }
    Ok(Some(Listen::Tcpmux {
        name: name.to_string(),
        plus,
    }))
}

/// A tcpmux service is `nowait` (it has no socket to hand over), and not
/// the multiplexer itself.
pub(super) fn check_tcpmux_service(wait: bool, program: &Program) -> Result<(), String> {
    if wait {
        return Err("tcpmux services are nowait: they have no socket of their own".to_string());
    }
    if *program == Program::Builtin(Builtin::Tcpmux) {
        return Err("a tcpmux service cannot be tcpmux itself".to_string());
    }
    Ok(())
}

/// The options of a builtin that takes some (auth), checked: one not
/// served here skips the line with a warning, as an unsupported feature.
pub(super) fn builtin_options(
    fields: &Fields,
    program: &Program,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, Skip> {
    let Program::Builtin(builtin) = program else {
        return Ok(Vec::new());
    };
    if !builtin.takes_options() {
        return Ok(Vec::new());
    }
    let args: Vec<String> = fields.args.iter().skip(1).map(|a| a.to_string()).collect();
    match crate::builtins::ident::Options::parse(&args) {
        Ok((_, ignored)) => {
            warnings.extend(ignored);
            Ok(args)
        }
        Err(option) => Err(Skip::Unsupported(format!(
            "{} skipped, not supported: {option}",
            shown(fields.service)
        ))),
    }
}

/// A builtin that serves streams only (tcpmux, auth) on a dgram line.
pub(super) fn check_builtin_kind(program: &Program, socket_type: SocketType) -> Result<(), String> {
    match program {
        Program::Builtin(builtin)
            if socket_type == SocketType::Dgram && !builtin.serves_datagrams() =>
        {
            Err(format!("builtin {} serves streams only", builtin.name()))
        }
        _ => Ok(()),
    }
}

/// The most versions one RPC line registers: each is a registration kept
/// and checked with rpcbind (Debian's `rstatd/1-5` has five).
pub(super) const MAX_RPC_VERSIONS: u32 = 64;

/// An RPC service field: `program/version` or `program/low-high`, the
/// program a name in /etc/rpc or a number.
pub(super) fn parse_rpc(service: &str, resolver: &dyn Resolver) -> Result<Rpc, String> {
    let Some((name, versions)) = service.split_once('/') else {
        return Err(format!(
            "RPC service {} needs its versions: name/version or name/low-high",
            shown(service)
        ));
    };
    let number = |field: &str| -> Option<u32> {
        Some(field)
            .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok()
    };
    let program = if name.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        number(name).ok_or_else(|| format!("bad RPC program number {}", shown(name)))?
    } else {
        resolver
            .rpc(name)
            .ok_or_else(|| format!("unknown RPC program {} (not in /etc/rpc)", shown(name)))?
    };
    let bad_versions = || format!("bad RPC versions {}", shown(versions));
    let (low, high) = match versions.split_once('-') {
        Some((low, high)) => (number(low), number(high)),
        None => (number(versions), number(versions)),
    };
    let (Some(low), Some(high)) = (low, high) else {
        return Err(bad_versions());
    };
    if low > high {
        return Err(bad_versions());
    }
    if high - low >= MAX_RPC_VERSIONS {
        return Err(format!(
            "RPC versions {} are too many: at most {MAX_RPC_VERSIONS}",
            shown(versions)
        ));
    }
    Ok(Rpc { program, low, high })
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

/// What the program is given beyond its socket, from our flags after a
/// comma in the wait field (`nowait,env`, `wait,listen-fds`): no BSD
/// uses a comma there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct WaitFlags {
    /// `env`: the client's addresses in the environment (UCSPI).
    pub(super) environment: bool,
    /// `listen-fds`: the socket also on fd 3, systemd-style.
    pub(super) listen_fds: bool,
}

/// Splits the wait field into its BSD part and our flags.
pub(super) fn split_wait_flags(field: &str) -> Result<(&str, WaitFlags), String> {
    let mut parts = field.split(',');
    let head = parts.next().unwrap_or_default();
    let mut flags = WaitFlags::default();
    for flag in parts {
        match flag {
            "env" => flags.environment = true,
            "listen-fds" => flags.listen_fds = true,
            _ => {
                return Err(format!(
                    "unknown flag {} in {}: expected env or listen-fds",
                    shown(flag),
                    shown(field)
                ))
            }
        }
    }
    Ok((head, flags))
}

/// `wait` or `nowait`, then the OpenBSD/busybox `.max` (or NetBSD's
/// `:max`, where `:0` starts nothing) and the FreeBSD
/// `/max-child/max-connections-per-ip-per-minute/max-child-per-ip`, in that order.
pub(super) fn parse_wait(field: &str) -> Result<(bool, Limits), String> {
    let (head, freebsd) = match field.split_once('/') {
        Some((head, tail)) => (head, Some(tail)),
        None => (field, None),
    };
    let (mode, rate, netbsd) = match head.split_once(':') {
        Some((mode, rate)) => (mode, Some(rate), true),
        None => match head.split_once('.') {
            Some((mode, rate)) => (mode, Some(rate), false),
            None => (head, None, false),
        },
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
    if netbsd && limits.max_per_minute == Some(0) {
        limits.max_per_minute = None;
        limits.starts_nothing = true;
    }
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

/// `internal` (a builtin chosen by the service name, or the last part of a
/// unix socket's path, or by the name after `internal`, which lets
/// builtins listen on any port or path) or an
/// absolute path and its argv.
pub(super) fn parse_program(
    fields: &Fields,
    family: Family,
    arg_max: usize,
    working_dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<Program, String> {
    if fields.program == "internal" {
        let (name, ignored) = match &fields.args[..] {
            [name, ignored @ ..] => (*name, ignored),
            // FreeBSD: a unix socket's builtin is named by the path's last part.
            [] if family == Family::Unix => {
                let base = fields.service.rsplit('/').next().unwrap_or(fields.service);
                (base, &fields.args[..])
            }
            [] => (fields.service, &fields.args[..]),
        };
        let builtin = Builtin::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = crate::builtins::TABLE.iter().map(|s| s.name).collect();
            format!(
                "no builtin service {} (there are {})",
                shown(name),
                names.join(", ")
            )
        })?;
        if !ignored.is_empty() && !builtin.takes_options() {
            warnings.push(format!("arguments after internal {name} are ignored"));
        }
        return Ok(Program::Builtin(builtin));
    }
    let path = match (fields.program.starts_with('/'), working_dir) {
        (true, _) => PathBuf::from(fields.program),
        (false, Some(dir)) if !fields.program.is_empty() => {
            // As GNU inetutils and the BSDs run it: from inetd's directory.
            let path = dir.join(fields.program);
            warnings.push(format!(
                "server program {} is a relative path: {} is run",
                shown(fields.program),
                path.display()
            ));
            path
        }
        _ => {
            return Err(format!(
                "server program {} is not an absolute path",
                shown(fields.program)
            ))
        }
    };
    let argv = if fields.args.is_empty() {
        let name = Path::new(fields.program)
            .file_name()
            .and_then(OsStr::to_str);
        vec![name.unwrap_or(fields.program).to_string()]
    } else {
        fields.args.iter().map(|arg| arg.to_string()).collect()
    };
    check_exec_size(&path.to_string_lossy(), &argv, arg_max)?;
    Ok(Program::external(path, argv))
}

/// `internal redirect HOST:PORT` (or `[IPV6]:PORT`): where a redirect
/// service forwards its connections. A host name is looked up at load, in
/// `/etc/hosts` only (the daemon never asks DNS); the first address wins.
pub(super) fn parse_redirect(
    fields: &Fields,
    family: Family,
    resolver: &dyn crate::resolve::Resolver,
) -> Result<SocketAddr, String> {
    let [_, target, rest @ ..] = &fields.args[..] else {
        return Err("internal redirect needs HOST:PORT".to_string());
    };
    if !rest.is_empty() {
        return Err(format!(
            "internal redirect takes one HOST:PORT, not {}",
            rest.len() + 1
        ));
    }
    if family == Family::Unix {
        return Err("redirect forwards TCP connections, not a unix socket's".to_string());
    }
    if let Ok(addr) = target.parse::<SocketAddr>() {
        if addr.port() != 0 {
            return Ok(addr);
        }
    }
    let bad = || format!("bad redirect target {}: expected HOST:PORT", shown(target));
    let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .or_else(|| resolver.port(port, "tcp"))
        .ok_or_else(bad)?;
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => *resolver
            .host(host)
            .first()
            .ok_or_else(|| format!("redirect host {} is not in /etc/hosts", shown(host)))?,
    };
    Ok(SocketAddr::new(ip, port))
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
