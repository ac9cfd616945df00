//! `inetd --match DAEMON[@SERVER] [USER@]CLIENT`: explains a decision the
//! way tcpdmatch(8) does, with the lookups and the name verification the
//! daemon's `--tcpd` children use (given by the caller), so that what it
//! says is what the daemon would do.
//!
//! tcpdmatch's conventions: the names of the client and server are looked
//! up (and verified) before the rules are matched; `unknown` and
//! `paranoid` as the client are a client of that name with no address;
//! without `@SERVER` the server endpoint is unknown (no address, no port:
//! port patterns never match, `%s` is the daemon alone); a given server's
//! port is 0; the user is the one given, never asked by ident. One
//! difference: a client given as an address is looked up as the daemon
//! would, where tcpdmatch pretends its name is unknown.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use super::decision::{Decision, Outcome, RuleRef};
use super::parse::split_at;
use super::request::{addr_string, hostname_known, Known, Lookup, Request};
use super::rules::Rules;
use super::verify::{Family, Resolver};

/// The daemon names an inetd configuration serves, to warn about others.
pub struct Served<'a> {
    pub config: &'a Path,
    pub names: &'a BTreeSet<String>,
}

/// Prints the explanation; returns the exit status (0 granted, 1 denied or
/// delegated to a `twist` command, 2 when a host cannot be found).
pub fn run(
    daemon_arg: &str,
    client_arg: &str,
    (allow, deny): (&Path, &Path),
    served: Option<Served>,
    lookup: &mut dyn Lookup,
    resolver: &mut dyn Resolver,
) -> i32 {
    let (daemon, server) = match split_at(daemon_arg, '@') {
        Some((d, s)) => (d, Some(s)),
        None => (daemon_arg, None),
    };
    let daemon = match daemon.rsplit_once('/') {
        Some((_, base)) if daemon.starts_with('/') => {
            println!("warning: {daemon}: daemon name normalized to: {base}");
            base
        }
        _ => daemon,
    };
    let (user, client) = match split_at(client_arg, '@') {
        Some((u, c)) => (u, c),
        None => ("unknown", client_arg),
    };
    if let Some(served) = &served {
        if !served.names.iter().any(|n| n == daemon) {
            let config = served.config.display();
            println!("warning: {daemon}: no such process name in {config}");
        }
    }
    let mut known = Known {
        user: Some(user.to_string()),
        ..Known::default()
    };
    let mut server_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    match server {
        Some(server) if !special(server) => {
            let Some(addrs) = find_addresses(resolver, server) else {
                return 2;
            };
            let mut warnings = Vec::new();
            for &addr in &addrs {
                server_addr = addr;
                let name = lookup.host_name(addr, &mut warnings).ok().flatten();
                if name.is_none() {
                    let addr = addr_string(addr.ip());
                    warnings.push(format!("host address {addr}->name lookup failed"));
                }
                known.server_name = Some(name.unwrap_or_else(|| "unknown".to_string()));
            }
            print_warnings(&warnings);
            if addrs.len() > 1 {
                eprintln!("Error: {server} has more than one address");
                eprintln!("Please specify an address instead");
                return 2;
            }
        }
        server => {
            known.no_server = true;
            known.server_name = Some(server.unwrap_or("unknown").to_string());
        }
    }
    let rules = Rules::load(allow, deny);
    let explain = |client_addr: SocketAddr, known: &Known, lookup: &mut dyn Lookup| {
        let request = Request {
            daemon,
            client: client_addr,
            server: server_addr,
            pid: Some(std::process::id()),
        };
        let decision = rules.decide_known(&request, known, lookup);
        report(&request, known, decision)
    };
    if let Some(addr) = literal_address(client) {
        known.client_name = Some(forced_name(lookup, addr, None));
        return explain(addr, &known, lookup).0;
    }
    if special(client) {
        known.client_name = Some(client.to_string());
        known.no_client_addr = true;
        return explain(server_addr, &known, lookup).0;
    }
    let Some(addrs) = find_addresses(resolver, client) else {
        return 2;
    };
    let mut status = 0;
    let mut context = None;
    for (i, &addr) in addrs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        // getnameinfo does not look up link-local addresses: tcpdmatch
        // leaves their name to the rules, as the daemon does.
        let link_local = matches!(addr.ip(), IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
        known.client_name = (!link_local).then(|| forced_name(lookup, addr, context.as_ref()));
        let (code, left) = explain(addr, &known, lookup);
        status = status.max(code);
        // A decision an option ended leaves libwrap's context at its rule.
        context = left.or(context);
    }
    status
}

/// tcpdmatch's special host names: a client or server with no address.
fn special(host: &str) -> bool {
    super::pattern::not_inaddr(host) && !hostname_known(host)
}

/// An IPv4 address as libwrap's dot_quad_addr reads it, or IPv6.
fn literal_address(host: &str) -> Option<SocketAddr> {
    if let Some(v4) = super::pattern::dot_quad_addr(host) {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(v4)), 0));
    }
    host.parse()
        .ok()
        .map(|v6: std::net::Ipv6Addr| SocketAddr::new(IpAddr::V6(v6), 0))
}

/// The verified name of `addr`, looked up before the rules as tcpdmatch
/// does; its warnings name the rule libwrap's context was left at.
fn forced_name(lookup: &mut dyn Lookup, addr: SocketAddr, context: Option<&RuleRef>) -> String {
    let mut warnings = Vec::new();
    let name = lookup.host_name(addr, &mut warnings).ok().flatten();
    if name.is_none() {
        let addr = addr_string(addr.ip());
        warnings.push(format!("host address {addr}->name lookup failed"));
    }
    if let Some(place) = context {
        for warning in &mut warnings {
            *warning = format!("{}, line {}: {warning}", place.file, place.line);
        }
    }
    print_warnings(&warnings);
    name.unwrap_or_else(|| "unknown".to_string())
}

/// libwrap's find_inet_addr(): an address, or every address of a name
/// (warning when the name is an alias).
fn find_addresses(resolver: &mut dyn Resolver, host: &str) -> Option<Vec<SocketAddr>> {
    if let Some(addr) = literal_address(host) {
        return Some(vec![addr]);
    }
    let Some(forward) = resolver
        .forward(host, Family::Any)
        .filter(|f| !f.addrs.is_empty())
    else {
        println!("warning: {host}: host not found");
        return None;
    };
    match &forward.canonical {
        None => print_warnings(&[
            format!("{host}: hostname alias"),
            "(cannot obtain official name)".to_string(),
        ]),
        Some(name) if !name.eq_ignore_ascii_case(host) => print_warnings(&[
            format!("{host}: hostname alias"),
            format!("(official name: {name})"),
        ]),
        Some(_) => {}
    }
    Some(forward.addrs)
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        println!("warning: {warning}");
    }
}

/// Prints what tcpdmatch prints for one client address; the exit status
/// and where the decision left libwrap's context.
fn report(request: &Request, known: &Known, decision: Decision) -> (i32, Option<RuleRef>) {
    let shown = |label: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.eq_ignore_ascii_case("unknown")) {
            println!("{label} {value}");
        }
    };
    let client_addr = addr_string(request.client.ip());
    let server_addr = addr_string(request.server.ip());
    shown("client:   hostname", known.client_name.as_deref());
    shown(
        "client:   address ",
        (!known.no_client_addr).then_some(client_addr.as_str()),
    );
    shown("client:   username", known.user.as_deref());
    shown("server:   hostname", known.server_name.as_deref());
    shown(
        "server:   address ",
        (!known.no_server).then_some(server_addr.as_str()),
    );
    shown("server:   process ", Some(request.daemon));
    let (verdict, outcome): (&str, Outcome) = match decision {
        Decision::Granted(o) if o.twist().is_some() => ("delegated", o),
        Decision::Granted(o) => ("granted", o),
        Decision::Denied(o) => ("denied", o),
        Decision::NeedsLookup(need) => {
            eprintln!("inetd: cannot decide without {need:?}");
            return (2, None);
        }
    };
    for line in &outcome.trace {
        println!("{line}");
    }
    println!("access:   {verdict}");
    (i32::from(verdict != "granted"), outcome.context)
}
