//! From blocks to services, as xinetd's `get_service_entry`,
//! `service_fill` and `check_entry` do: the lists of `defaults` (address
//! lists, log flags, passenv) and its banners are copied into a service
//! when its block begins (so `+=` adds to them), the other defaults
//! (instances, per_source, bind, groups, max_load, v6only, umask, cps)
//! fill what the service leaves unset once everything is read, `enabled`
//! and `disabled` pick by id, and then the whole entry is checked. A service that cannot be served here is skipped with a
//! warning that says why; a bad one with an error.

use crate::keyhash::{Interner, KeyMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::addresses::{self, Form};
use super::attributes::{self, Count, Outcome, Spec};
use super::blocks::Block;
use super::shown;
use crate::config::gates::{Gates, Net};
use crate::config::*;
use crate::resolve::Resolver;

/// One `service` block and what became of it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub file: String,
    pub line: usize,
    pub name: String,
    /// `id`, or the name.
    pub id: String,
    /// Its attributes, the defaults' filled in.
    pub spec: Spec,
    /// The service it makes (one, as xinetd binds one socket a service).
    pub service: Result<Service, Skip>,
}

/// Why a service block serves nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// `disable = yes`, or left out by `enabled`/`disabled`: as meant.
    Disabled,
    /// Valid for xinetd, not served here (a warning).
    Unsupported(String),
    /// A bad entry (an error), at this line.
    Bad(usize, String),
}

/// The services of `blocks` (each with its file, in reading order).
pub fn build(
    blocks: &[(String, Block)],
    resolver: &dyn Resolver,
) -> (Vec<Entry>, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let mut report = |file: &str, line: usize, severity: Severity, reason: String| {
        errors.push(ConfigError {
            file: file.to_string(),
            line,
            severity,
            reason,
        })
    };
    let mut defaults = Spec::default();
    let mut defaults_seen_in: Vec<&str> = Vec::new();
    let mut read: Vec<(&str, &Block, Result<Spec, Skip>)> = Vec::new();
    for (file, block) in blocks {
        let Some(name) = &block.name else {
            if defaults_seen_in.contains(&file.as_str()) {
                let reason =
                    "a second defaults block in this file is ignored, as xinetd ignores it";
                report(file, block.line, Severity::Error, reason.to_string());
                continue;
            }
            defaults_seen_in.push(file);
            for attr in &block.attrs {
                let inert_before = defaults.inert.len();
                match attributes::apply(&mut defaults, attr, true) {
                    Outcome::Applied if defaults.inert.len() > inert_before => {
                        report(file, attr.line, Severity::Warning, inert(&attr.name))
                    }
                    Outcome::Applied => {}
                    Outcome::Ignored(reason) => report(file, attr.line, Severity::Warning, reason),
                    Outcome::Bad(reason) => report(file, attr.line, Severity::Error, reason),
                }
            }
            continue;
        };
        let mut spec = Spec {
            only_from: defaults.only_from.clone(),
            no_access: defaults.no_access.clone(),
            log_on_success: defaults.log_on_success.clone(),
            log_on_failure: defaults.log_on_failure.clone(),
            log_type: defaults.log_type.clone(),
            passenv: defaults.passenv.clone(),
            banner: defaults.banner.clone(),
            banner_success: defaults.banner_success.clone(),
            banner_fail: defaults.banner_fail.clone(),
            ..Spec::default()
        };
        let mut outcome = Ok(());
        let mut warnings = Vec::new();
        for attr in &block.attrs {
            match attributes::apply(&mut spec, attr, false) {
                Outcome::Applied => {}
                Outcome::Ignored(reason) => warnings.push((attr.line, reason)),
                Outcome::Bad(reason) => {
                    outcome = Err(Skip::Bad(
                        attr.line,
                        format!("service {}: {reason}", shown(name)),
                    ));
                    break;
                }
            }
            // xinetd reads no further once a service is disabled.
            if attr.name == "disable" && spec.disable == Some(true) {
                outcome = Err(Skip::Disabled);
                break;
            }
        }
        if outcome != Err(Skip::Disabled) {
            for (line, reason) in warnings {
                report(file, line, Severity::Warning, reason);
            }
        }
        read.push((file, block, outcome.map(|()| spec)));
    }
    let mut listeners: KeyMap<(Listen, SocketType), (String, usize)> = KeyMap::default();
    let mut shared = Shared::default();
    let mut entries = Vec::new();
    for (file, block, spec) in read {
        let name = block.name.clone().unwrap_or_default();
        let (spec, made) = match spec {
            Ok(spec) => {
                let mut warnings = Vec::new();
                let mut made = service(
                    &name,
                    &spec,
                    &defaults,
                    (file, block.line),
                    resolver,
                    &mut shared,
                    &mut warnings,
                );
                if let Ok(s) = &made {
                    if let Some(taken) = listeners.get(&(s.listen.clone(), s.socket_type)) {
                        let reason = format!(
                            "service {}: duplicate listener {} {}: first defined at {}:{}",
                            shown(&name),
                            s.listen,
                            s.socket_type,
                            taken.0,
                            taken.1
                        );
                        made = Err(Skip::Bad(block.line, reason));
                    }
                }
                if let Ok(s) = &made {
                    listeners.insert(
                        (s.listen.clone(), s.socket_type),
                        (file.to_string(), block.line),
                    );
                    for (line, name) in &spec.inert {
                        report(file, *line, Severity::Warning, inert(name));
                    }
                    for (line, reason) in warnings {
                        report(file, line, Severity::Warning, reason);
                    }
                }
                (spec, made)
            }
            Err(skip) => (Spec::default(), Err(skip)),
        };
        match &made {
            Err(Skip::Bad(line, reason)) => report(file, *line, Severity::Error, reason.clone()),
            Err(Skip::Unsupported(reason)) => report(
                file,
                block.line,
                Severity::Warning,
                format!("service {} skipped, not supported: {reason}", shown(&name)),
            ),
            _ => {}
        }
        entries.push(Entry {
            file: file.to_string(),
            line: block.line,
            id: spec.id.clone().unwrap_or_else(|| name.clone()),
            name,
            spec,
            service: made,
        });
    }
    (entries, errors)
}

fn inert(name: &str) -> String {
    format!("{name} accepted, no effect yet")
}

/// xinetd's internal services that are not builtins here.
const XINETD_INTERNALS: [&str; 5] = ["servers", "services", "xadmin", "sensor", "tcpmux"];

/// Flags that add a check or change what the service is: a service
/// asking for one is not served without it.
const UNSERVED_FLAGS: [&str; 4] = ["INTERCEPT", "IDONLY", "SENSOR", "LABELED"];

/// Flags accepted whose runtime is not here yet.
const INERT_FLAGS: [&str; 3] = ["NODELAY", "KEEPALIVE", "NORETRY"];

/// What the services of a configuration repeat, each held once: the file
/// name, the protocol, the user, the program.
#[derive(Default)]
struct Shared {
    strings: Interner<str>,
    users: Interner<Credentials>,
    commands: Interner<Command>,
}

/// The service of one block.
fn service(
    name: &str,
    spec: &Spec,
    defaults: &Spec,
    (file, line): (&str, usize),
    resolver: &dyn Resolver,
    shared: &mut Shared,
    warnings: &mut Vec<(usize, String)>,
) -> Result<Service, Skip> {
    let bad = |reason: String| Skip::Bad(line, format!("service {}: {reason}", shown(name)));
    let id = spec.id.as_deref().unwrap_or(name);
    if defaults
        .enabled
        .as_ref()
        .is_some_and(|e| !e.iter().any(|i| i == id))
        || defaults
            .disabled
            .as_ref()
            .is_some_and(|d| d.iter().any(|i| i == id))
    {
        return Err(Skip::Disabled);
    }
    for kind in ["RPC", "TCPMUX", "TCPMUXPLUS", "SPECIAL"] {
        if spec.types.contains(kind) {
            return Err(Skip::Unsupported(format!("type {kind}")));
        }
    }
    if let Some(flag) = UNSERVED_FLAGS.iter().find(|f| spec.flags.contains(**f)) {
        return Err(Skip::Unsupported(format!("flag {flag}")));
    }
    if spec.redirect.is_none() && spec.log_on_success.iter().flatten().any(|f| f == "TRAFFIC") {
        return Err(bad(
            "log_on_success TRAFFIC is for redirected services only".to_string(),
        ));
    }
    let logs_userid = [&spec.log_on_success, &spec.log_on_failure]
        .into_iter()
        .flatten()
        .flatten()
        .any(|f| f == "USERID");
    if logs_userid && spec.flags.contains("NOLIBWRAP") {
        warnings.push((
            line,
            "USERID is asked by the access check's child, which a NOLIBWRAP service has not: no USERID line here"
                .to_string(),
        ));
    }
    for flag in INERT_FLAGS.iter().filter(|f| spec.flags.contains(**f)) {
        warnings.push((line, format!("flag {flag} accepted, no effect yet")));
    }
    let socket_type = match (spec.socket_type.as_deref(), spec.protocol.as_deref()) {
        (Some("stream"), _) | (None, Some("tcp")) => SocketType::Stream,
        (Some("dgram"), _) | (None, Some("udp")) => SocketType::Dgram,
        (Some(other), _) => return Err(Skip::Unsupported(format!("socket_type {other}"))),
        (None, Some(other)) => return Err(Skip::Unsupported(format!("protocol {}", shown(other)))),
        (None, None) => return Err(bad("missing attribute socket_type".to_string())),
    };
    let protocol = match (spec.protocol.as_deref(), socket_type) {
        (None | Some("tcp"), SocketType::Stream) => "tcp",
        (None | Some("udp"), SocketType::Dgram) => "udp",
        (Some(p @ ("tcp" | "udp")), _) => {
            return Err(bad(format!(
                "protocol {p} does not fit socket_type {socket_type}"
            )))
        }
        (Some(other), _) => return Err(Skip::Unsupported(format!("protocol {}", shown(other)))),
    };
    let Some(wait) = spec.wait else {
        return Err(bad("missing attribute wait".to_string()));
    };
    if socket_type == SocketType::Dgram && !wait {
        return Err(bad("socket_type dgram needs wait = yes".to_string()));
    }
    let internal = spec.types.contains("INTERNAL");
    let name_in_args = spec.flags.contains("NAMEINARGS");
    let program = if let Some((host, port)) = &spec.redirect {
        // xinetd's check_entry; its `server` is ignored.
        if socket_type != SocketType::Stream || wait {
            return Err(bad(
                "a redirected service is socket_type stream, wait = no".to_string()
            ));
        }
        if name_in_args {
            return Err(bad("a redirected service takes no NAMEINARGS".to_string()));
        }
        redirect(host, port, resolver).map_err(bad)?
    } else if internal {
        if name_in_args {
            return Err(bad("an INTERNAL service takes no NAMEINARGS".to_string()));
        }
        match Builtin::from_name(name) {
            Some(builtin) => Program::Builtin(builtin),
            None if XINETD_INTERNALS.contains(&name) => {
                return Err(Skip::Unsupported(format!("xinetd's internal service {name}")))
            }
            None => {
                return Err(bad(
                    "no internal service of that name (there are echo, discard, chargen, daytime and time)"
                        .to_string(),
                ))
            }
        }
    } else {
        external(spec, name_in_args, resolver).map_err(bad)?
    };
    // A builtin is served inline whatever `wait` says (xinetd's internal
    // stream services run in xinetd too): stream nowait, datagram wait.
    let wait = if internal {
        socket_type == SocketType::Dgram
    } else {
        wait
    };
    let port = port(name, spec, protocol, resolver).map_err(bad)?;
    let listen = listen(spec, defaults, port, resolver).map_err(bad)?;
    let user = if internal || spec.redirect.is_some() {
        root(resolver)
    } else {
        credentials(spec, defaults, resolver).map_err(bad)?
    };
    let limits = Limits {
        max_child: count(spec.instances.or(defaults.instances), "instances")?,
        max_child_per_ip: count(spec.per_source.or(defaults.per_source), "per_source")?,
        cps: cps(spec, defaults),
        ..Limits::default()
    };
    let gates = gates(spec, defaults, resolver, line, warnings)?;
    if gates.lists_addresses() && wait && socket_type == SocketType::Stream {
        warnings.push((
            line,
            "only_from and no_access check no client of a stream wait service: its program accepts them (as in xinetd)"
                .to_string(),
        ));
    }
    let program = match program {
        Program::External(command) => Program::External(shared.commands.share(command)),
        program => program,
    };
    Ok(Service {
        file: shared.strings.share(file.into()),
        line,
        name: name.into(),
        protocol: shared.strings.share(protocol.into()),
        listen,
        socket_type,
        wait,
        limits,
        // xinetd gives a program REMOTE_HOST: here with UCSPI's names.
        environment: matches!(program, Program::External(_)),
        listen_fds: false,
        user: shared.users.share(user.into()),
        program,
        rpc: None,
        hard_reload: true,
        extras: ExtraSettings {
            process: process(spec, defaults, resolver),
            access_times: spec.access_times.clone().unwrap_or_default(),
            banners: Banners {
                every: spec.banner.as_ref().map(PathBuf::from),
                success: spec.banner_success.as_ref().map(PathBuf::from),
                fail: spec.banner_fail.as_ref().map(PathBuf::from),
            },
            log: LogFields {
                on_success: log_fields(&spec.log_on_success),
                on_failure: log_fields(&spec.log_on_failure),
            },
            log_target: spec.log_type.clone().unwrap_or_default(),
            log_name: spec.id.clone(),
            gates,
            ..ExtraSettings::default()
        }
        .into(),
    })
}

/// xinetd's connection rate when neither the service nor `defaults` set
/// one (`DEFAULT_LOOP_RATE` and `DEFAULT_LOOP_TIME` of its xconfig.h,
/// filled in by `service_fill`): past 50 connections a second, 10 s off.
pub const DEFAULT_CPS: (u32, u32) = (50, 10);

/// `cps`, the service's or the defaults', else xinetd's default; a rate
/// of 0 checks nothing (as xinetd's `parent_access_control`).
fn cps(spec: &Spec, defaults: &Spec) -> Option<(u32, u32)> {
    Some(spec.cps.or(defaults.cps).unwrap_or(DEFAULT_CPS)).filter(|(rate, _)| *rate != 0)
}

/// The bits of log flags' names (checked when read).
fn log_fields(names: &Option<Vec<String>>) -> u8 {
    names
        .iter()
        .flatten()
        .filter_map(|name| LogFields::from_name(name))
        .fold(0, |bits, bit| bits | bit)
}

/// `nice`, `umask` (the defaults' too), `rlimit_*`, `env` and `passenv`.
/// As xinetd's `setup_environ`: with `passenv` (the service's or the
/// defaults'), the program's environment is the variables it names, as
/// inetd's own environment has them now, then `env`. Without it, the
/// environment inetd gives every program (`PATH` only, unless `-E`,
/// where xinetd gives its own) and `env`.
fn process(spec: &Spec, defaults: &Spec, resolver: &dyn Resolver) -> ProcessSettings {
    let mut env: Vec<String> = Vec::new();
    if let Some(names) = &spec.passenv {
        for name in names {
            if let Some(value) = resolver.env(name) {
                env.push(format!("{name}={value}"));
            }
        }
    }
    for entry in spec.env.iter().flatten() {
        let name = entry.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(name));
        env.push(entry.clone());
    }
    ProcessSettings {
        nice: spec.nice,
        umask: spec.umask.or(defaults.umask),
        rlimits: spec.rlimits.clone(),
        env,
        env_alone: spec.passenv.is_some(),
    }
}

/// `redirect = HOST PORT`: an address (IPv6 when it has a colon, as
/// xinetd asks getaddrinfo) or a name in /etc/hosts; a port number or a
/// TCP service name.
fn redirect(host: &str, port: &str, resolver: &dyn Resolver) -> Result<Program, String> {
    let number = match port.parse::<u16>() {
        Ok(0) => return Err("redirect to port 0".to_string()),
        Ok(n) => n,
        Err(_) => resolver
            .port(port, "tcp")
            .ok_or_else(|| format!("redirect port {} is not in /etc/services", shown(port)))?,
    };
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => {
            let v6 = host.contains(':');
            *resolver
                .host(host)
                .iter()
                .find(|ip| ip.is_ipv6() == v6)
                .ok_or_else(|| {
                    format!(
                        "unknown redirect host {} (host names are looked up in /etc/hosts only)",
                        shown(host)
                    )
                })?
        }
    };
    Ok(Program::Redirect(Box::new(SocketAddr::new(ip, number))))
}

/// `server`, `server_args` and NAMEINARGS: argv is the server's basename
/// and the arguments, or with NAMEINARGS the arguments alone. The order
/// of `flags` and `server_args` in the block does not matter here (in
/// xinetd, NAMEINARGS is lost when `flags` comes after `server_args`).
fn external(spec: &Spec, name_in_args: bool, resolver: &dyn Resolver) -> Result<Program, String> {
    let Some(server) = spec.server.as_deref() else {
        return Err("missing attribute server".to_string());
    };
    if spec.user.is_none() {
        return Err("missing attribute user".to_string());
    }
    if !server.starts_with('/') {
        return Err(format!("server {} is not an absolute path", shown(server)));
    }
    let args = spec.server_args.clone().unwrap_or_default();
    let argv = if name_in_args {
        if args.is_empty() {
            return Err("NAMEINARGS needs server_args".to_string());
        }
        args
    } else {
        let base = Path::new(server)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(server);
        std::iter::once(base.to_string()).chain(args).collect()
    };
    crate::config::inetd::check_exec_size(server, &argv, resolver.arg_max())?;
    Ok(Program::external(PathBuf::from(server), argv))
}

/// The port: `port` for an UNLISTED service, else /etc/services' (which
/// `port`, when given, must agree with).
fn port(name: &str, spec: &Spec, protocol: &str, resolver: &dyn Resolver) -> Result<u16, String> {
    let port = if spec.types.contains("UNLISTED") {
        spec.port.ok_or("an UNLISTED service needs a port")?
    } else {
        let listed = resolver.port(name, protocol).ok_or_else(|| {
            format!(
                "{}/{protocol} is not in /etc/services (UNLISTED and port would serve it)",
                shown(name)
            )
        })?;
        match spec.port {
            Some(port) if port != listed => {
                return Err(format!("/etc/services says port {listed}, not {port}"))
            }
            _ => listed,
        }
    };
    if port == 0 {
        return Err("port 0".to_string());
    }
    Ok(port)
}

/// The address: `bind` (or `interface`), of the family the flags ask for;
/// without either, IPv6 on every address, dual stack unless `v6only`, as
/// xinetd binds by default.
fn listen(
    spec: &Spec,
    defaults: &Spec,
    port: u16,
    resolver: &dyn Resolver,
) -> Result<Listen, String> {
    let (v4, v6) = (spec.flags.contains("IPv4"), spec.flags.contains("IPv6"));
    let bind = spec.bind.as_deref().or(defaults.bind.as_deref());
    let ip = match bind {
        None if v4 && !v6 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        Some(host) => {
            let addrs = match host.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => resolver.host(host),
            };
            let wanted = |ip: &IpAddr| match (v4, v6) {
                (_, true) => ip.is_ipv6(),
                (true, false) => ip.is_ipv4(),
                (false, false) => true,
            };
            let fitting: Vec<IpAddr> = addrs.iter().copied().filter(wanted).collect();
            // A name with both families and no flag: IPv6, as xinetd.
            match fitting.iter().find(|ip| ip.is_ipv6()).or(fitting.first()) {
                Some(ip) => *ip,
                None if addrs.is_empty() => {
                    return Err(format!(
                        "unknown bind address {} (host names are looked up in /etc/hosts only)",
                        shown(host)
                    ))
                }
                None => {
                    return Err(format!(
                        "bind address {} has no {} address",
                        shown(host),
                        if v6 { "IPv6" } else { "IPv4" }
                    ))
                }
            }
        }
    };
    let v6only = spec.v6only.or(defaults.v6only).unwrap_or(false);
    Ok(Listen::Inet {
        addr: SocketAddr::new(ip, port),
        v6only: ip.is_ipv6() && v6only,
    })
}

/// Who an internal service is: nobody is switched to.
fn root(resolver: &dyn Resolver) -> Credentials {
    let gid = resolver.user("root").map_or(0, |u| u.gid);
    Credentials {
        user: "root".to_string(),
        uid: 0,
        gid,
        group: None,
        groups: Vec::new(),
    }
}

/// `user`, `group` (names or numbers, as xinetd takes them: a numeric
/// user's group is the same number) and `groups`: the user's
/// supplementary groups with `groups = yes`, none otherwise.
fn credentials(
    spec: &Spec,
    defaults: &Spec,
    resolver: &dyn Resolver,
) -> Result<Credentials, String> {
    let name = spec.user.as_deref().unwrap_or("root");
    let numeric = |s: &str| -> Option<u32> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (uid, user_gid) = match numeric(name) {
        Some(uid) => (uid, uid),
        None => {
            let user = resolver
                .user(name)
                .ok_or_else(|| format!("unknown user {}", shown(name)))?;
            (user.uid, user.gid)
        }
    };
    let gid = match spec.group.as_deref() {
        None => user_gid,
        Some(group) => match numeric(group) {
            Some(gid) => gid,
            None => resolver
                .group(group)
                .ok_or_else(|| format!("unknown group {}", shown(group)))?,
        },
    };
    let groups = if spec.groups.or(defaults.groups) == Some(true) && uid != 0 {
        resolver.groups(name, gid)
    } else {
        Vec::new()
    };
    Ok(Credentials {
        user: name.to_string(),
        uid,
        gid,
        group: spec.group.clone(),
        groups,
    })
}

/// `instances` and `per_source` as limits: UNLIMITED is no limit
/// (`Some(0)`), unset leaves the daemon's default. Zero lets nobody in,
/// which no limit here says: such a service is skipped.
fn count(count: Option<Count>, attribute: &str) -> Result<Option<u32>, Skip> {
    match count {
        None => Ok(None),
        Some(Count::Unlimited) => Ok(Some(0)),
        Some(Count::At(0)) => Err(Skip::Unsupported(format!(
            "{attribute} = 0 (xinetd refuses every connection)"
        ))),
        Some(Count::At(n)) => Ok(Some(n)),
    }
}

/// `only_from`, `no_access`, NOLIBWRAP and `max_load`. What the daemon
/// cannot decide without a lookup fails closed: in `only_from` it never
/// matches (a warning), in `no_access` the service is not served.
fn gates(
    spec: &Spec,
    defaults: &Spec,
    resolver: &dyn Resolver,
    line: usize,
    warnings: &mut Vec<(usize, String)>,
) -> Result<Gates, Skip> {
    let bad = |reason: String| Skip::Bad(line, reason);
    let mut only_from = None;
    if let Some(values) = &spec.only_from {
        let mut nets = Vec::new();
        for value in values {
            match addresses::form(value, resolver) {
                Ok(Form::Domain(domain)) => warnings.push((
                    line,
                    format!(
                        "only_from {}: a domain needs the client's name, which the daemon never looks up: it matches nobody here",
                        shown(&domain)
                    ),
                )),
                Ok(form) => nets.extend_from_slice(form.nets()),
                Err(reason) if reason.starts_with("unknown host") => {
                    warnings.push((line, format!("only_from: {reason}: it matches nobody")))
                }
                Err(reason) => return Err(bad(format!("only_from: {reason}"))),
            }
        }
        only_from = Some(nets);
    }
    let mut no_access = Vec::new();
    for value in spec.no_access.iter().flatten() {
        match addresses::form(value, resolver) {
            Ok(Form::Domain(domain)) => {
                return Err(Skip::Unsupported(format!(
                "no_access {}: a domain needs the client's name, which the daemon never looks up",
                shown(&domain)
            )))
            }
            Ok(form) => no_access.extend_from_slice(form.nets()),
            Err(reason) if reason.starts_with("unknown host") => {
                return Err(Skip::Unsupported(format!("no_access: {reason}")))
            }
            Err(reason) => return Err(bad(format!("no_access: {reason}"))),
        }
    }
    if let Some((allowed, denied)) = overlap(only_from.as_deref().unwrap_or(&[]), &no_access) {
        warnings.push((
            line,
            format!(
                "only_from {allowed} and no_access {denied} both match some clients: the more specific decides here, xinetd 2.3.15 refuses them all"
            ),
        ));
    }
    Ok(Gates {
        only_from,
        no_access,
        no_wrap: spec.flags.contains("NOLIBWRAP"),
        wrap_name: spec.libwrap.clone(),
        max_load: spec.max_load.or(defaults.max_load),
    })
}

/// A block of `only_from` and one of `no_access` that share clients.
fn overlap(only_from: &[Net], no_access: &[Net]) -> Option<(Net, Net)> {
    only_from.iter().find_map(|a| {
        no_access
            .iter()
            .find(|d| a.covers(d) || d.covers(a))
            .map(|d| (*a, *d))
    })
}
