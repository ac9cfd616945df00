//! `inetd --to-inetd-conf`: an xinetd configuration as inetd.conf lines
//! and hosts.allow lines, with a comment for whatever has no equivalent.
//! The whole output is a valid inetd.conf; the hosts.allow lines come
//! last, each behind `#hosts.allow: ` so that
//! `sed -n 's/^#hosts.allow: //p'` extracts them.
//!
//! `only_from` and `no_access` become `deny` lines only, so that a client
//! they let through meets the rest of hosts.allow and hosts.deny, as in
//! xinetd built with libwrap: for each `no_access` block, one line
//! denying it except the `only_from` blocks inside it (those are more
//! specific: they win), then one denying all but `only_from`.

use std::fmt::Write;
use std::net::IpAddr;

use super::addresses::{self, Form};
use super::build::{Entry, Skip};
use super::Parsed;
use crate::config::gates::Net;
use crate::config::*;
use crate::resolve::Resolver;

/// What the hosts.allow lines are marked with.
pub const HOSTS_ALLOW_MARK: &str = "#hosts.allow: ";

/// The inetd.conf text of `parsed`, read from `file`.
pub fn convert(parsed: &Parsed, file: &str, resolver: &dyn Resolver) -> String {
    let mut out = format!(
        "# inetd.conf for the services of {file} (inetd --to-inetd-conf).\n\
         # Its hosts.allow lines are at the end, marked {HOSTS_ALLOW_MARK:?}.\n"
    );
    let mut rules = Vec::new();
    for entry in &parsed.entries {
        let _ = writeln!(
            out,
            "\n# service {} ({}:{})",
            entry.name, entry.file, entry.line
        );
        let service = match &entry.service {
            Ok(service) => service,
            Err(Skip::Disabled) => {
                out.push_str("# disabled: not converted\n");
                continue;
            }
            Err(Skip::Unsupported(why)) => {
                let _ = writeln!(out, "# not converted, not supported here: {why}");
                continue;
            }
            Err(Skip::Bad(_, why)) => {
                let _ = writeln!(out, "# not converted, bad: {why}");
                continue;
            }
        };
        for note in notes(entry) {
            let _ = writeln!(out, "# {note}");
        }
        // inetd.conf reads a word starting with `#` as a comment.
        let comment = match &service.program {
            Program::External(command) => command.argv.iter().find(|a| a.starts_with('#')),
            Program::Builtin(_) | Program::Redirect(_) => None,
        };
        if let Some(arg) = comment {
            let _ = writeln!(
                out,
                "# not converted: the argument {arg:?} would start a comment in inetd.conf"
            );
            continue;
        }
        out.push_str(&line(service, resolver));
        out.push('\n');
        rules.extend(access_rules(entry, service, resolver));
    }
    if !rules.is_empty() {
        out.push_str(
            "\n# hosts.allow: put these lines before the others (they only deny; what\n\
             # they let through meets the rest of hosts.allow and hosts.deny).\n",
        );
        for rule in rules {
            let _ = writeln!(out, "{HOSTS_ALLOW_MARK}{rule}");
        }
    }
    out
}

/// The attributes of an entry that inetd.conf cannot say.
fn notes(entry: &Entry) -> Vec<String> {
    let spec = &entry.spec;
    let mut notes: Vec<String> = spec
        .inert
        .iter()
        .map(|(line, name)| format!("{name} (line {line}): no equivalent in inetd.conf"))
        .collect();
    let set = |what: &str, set: bool| set.then(|| format!("{what}: no equivalent in inetd.conf"));
    notes.extend(
        [
            set("access_times", spec.access_times.is_some()),
            set("banner", spec.banner.is_some()),
            set("banner_success", spec.banner_success.is_some()),
            set("banner_fail", spec.banner_fail.is_some()),
            set("env", spec.env.is_some()),
            set("passenv", spec.passenv.is_some()),
            set("nice", spec.nice.is_some()),
            set("umask", spec.umask.is_some()),
            set("rlimit_*", !spec.rlimits.is_empty()),
            set("log_on_success", spec.log_on_success.is_some()),
            set("log_on_failure", spec.log_on_failure.is_some()),
        ]
        .into_iter()
        .flatten(),
    );
    let served = entry.service.as_ref().ok();
    if let Some((rate, wait)) = served.and_then(|s| s.limits.cps) {
        notes.push(format!(
            "cps = {rate} {wait}{}: no equivalent in inetd.conf (its rate limit counts per minute)",
            if spec.cps.is_none() {
                " (the default)"
            } else {
                ""
            }
        ));
    }
    notes.push(
        "hard reconfiguration (xinetd's SIGHUP): inetd.conf services have it with --hard-reload"
            .to_string(),
    );
    for flag in ["NODELAY", "KEEPALIVE", "NORETRY"] {
        if spec.flags.contains(flag) {
            notes.push(format!("flags {flag}: no equivalent in inetd.conf"));
        }
    }
    if let Some(load) = spec.max_load {
        notes.push(format!(
            "max_load = {}.{:02}: inetd.conf has none per service; inetd -L sets one for all",
            load / 100,
            load % 100
        ));
    }
    if !spec.types.contains("INTERNAL")
        && spec.groups != Some(true)
        && spec.user.as_deref() != Some("root")
    {
        notes.push(
            "groups = no: xinetd gives the program no supplementary groups, inetd.conf the user's"
                .to_string(),
        );
    }
    if let Some(name) = &spec.libwrap {
        notes.push(format!(
            "libwrap = {name}: inetd.conf checks a service by its program's name; rules for {name} need that name"
        ));
    }
    if spec.flags.contains("NOLIBWRAP") {
        notes.push(
            "NOLIBWRAP: inetd checks hosts.allow for every service; the last hosts.allow line for it lets the rest through"
                .to_string(),
        );
    }
    notes
}

/// One inetd.conf line.
fn line(service: &Service, resolver: &dyn Resolver) -> String {
    let Listen::Inet { addr, .. } = &service.listen else {
        return format!("# {}: not an internet service", service.name);
    };
    let host = match addr.ip() {
        ip if ip.is_unspecified() => String::new(),
        IpAddr::V4(v4) => format!("{v4}:"),
        IpAddr::V6(v6) => format!("[{v6}]:"),
    };
    let proto = match service.socket_type {
        SocketType::Stream => "tcp",
        SocketType::Dgram => "udp",
    };
    let name = if resolver.port(&service.name, proto) == Some(addr.port()) {
        service.name.to_string()
    } else {
        addr.port().to_string()
    };
    let protocol = match service.family_name() {
        "tcp4" => "tcp",
        "udp4" => "udp",
        other => other,
    };
    let mut wait = if service.wait { "wait" } else { "nowait" }.to_string();
    let limit = |l: Option<u32>| l.unwrap_or(0);
    match (service.limits.max_child, service.limits.max_child_per_ip) {
        (None, None) => {}
        (child, None) => wait += &format!("/{}", limit(child)),
        (child, per_ip) => wait += &format!("/{}/0/{}", limit(child), limit(per_ip)),
    }
    // xinetd's REMOTE_HOST (with UCSPI's names).
    if service.environment {
        wait += ",env";
    }
    let user = match &service.user.group {
        Some(group) => format!("{}:{group}", service.user.user),
        None => service.user.user.clone(),
    };
    let program = match &service.program {
        Program::Builtin(builtin) if builtin.name() == name => "internal".to_string(),
        Program::Builtin(builtin) => format!("internal {}", builtin.name()),
        Program::Redirect(target) => format!("internal redirect {target}"),
        Program::External(command) => {
            format!("{} {}", command.path.display(), command.argv.join(" "))
        }
    };
    format!(
        "{host}{name}\t{}\t{protocol}\t{wait}\t{user}\t{program}",
        service.socket_type
    )
}

/// A block as libwrap writes it.
fn pattern(net: &Net) -> String {
    match net.addr {
        IpAddr::V4(v4) if net.prefix == 32 => v4.to_string(),
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            format!("{v4}/{}", std::net::Ipv4Addr::from(mask))
        }
        IpAddr::V6(v6) if net.prefix == 128 => format!("[{v6}]"),
        IpAddr::V6(v6) => format!("[{v6}]/{}", net.prefix),
    }
}

/// An address list's values, each as libwrap patterns and as blocks.
fn forms(values: &[String], resolver: &dyn Resolver) -> Vec<(Vec<String>, Vec<Net>)> {
    values
        .iter()
        .filter_map(|v| addresses::form(v, resolver).ok())
        .map(|form| match form {
            Form::Nets(nets) => (nets.iter().map(pattern).collect(), nets),
            Form::Host { name, nets } => (vec![name], nets),
            Form::Domain(domain) => (vec![domain], Vec::new()),
        })
        .collect()
}

/// The hosts.allow lines of one service (see the module's comment).
fn access_rules(entry: &Entry, service: &Service, resolver: &dyn Resolver) -> Vec<String> {
    // The name the converted line is checked by: its program's, whatever
    // `libwrap` said (see the note).
    let daemon = service.program_name();
    let only_from = entry.spec.only_from.as_ref().map(|v| forms(v, resolver));
    let no_access = forms(entry.spec.no_access.as_deref().unwrap_or(&[]), resolver);
    let mut rules = Vec::new();
    for (patterns, nets) in &no_access {
        // The only_from values strictly inside this block win over it.
        let inside: Vec<&String> = only_from
            .iter()
            .flatten()
            .filter(|(_, o)| {
                !o.is_empty()
                    && o.iter().all(|o| {
                        nets.iter()
                            .any(|n| n.covers(o) && o.specificity() > n.specificity())
                    })
            })
            .flat_map(|(p, _)| p)
            .collect();
        let except = if inside.is_empty() {
            String::new()
        } else {
            let joined: Vec<&str> = inside.iter().map(|s| s.as_str()).collect();
            format!(" EXCEPT {}", joined.join(" "))
        };
        rules.push(format!("{daemon}: {}{except} : deny", patterns.join(" ")));
    }
    if let Some(only_from) = &only_from {
        let allowed: Vec<&str> = only_from
            .iter()
            .flat_map(|(p, _)| p)
            .map(String::as_str)
            .collect();
        if allowed.is_empty() {
            rules.push(format!("{daemon}: ALL : deny"));
        } else {
            rules.push(format!("{daemon}: ALL EXCEPT {} : deny", allowed.join(" ")));
        }
    }
    // Unless tcpd runs the program: it checks the rules whatever xinetd did.
    let tcpd = matches!(&service.program, Program::External(command) if command.runs_tcpd());
    if service.extras.gates.no_wrap && !tcpd {
        rules.push(format!("{daemon}: ALL : allow"));
    }
    rules
}
