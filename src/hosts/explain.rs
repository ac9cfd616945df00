//! `inetd --match DAEMON[@SERVER] [USER@]CLIENT`: explains a decision the
//! way tcpdmatch(8) does.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use super::decision::{Decision, RuleOption};
use super::nss::{account_exists, in_netgroup};
use super::request::{addr_string, Account, Lookup, Request, WouldBlock};
use super::rules::Rules;

/// Where `--match` looks names up (never DNS).
const HOSTS_FILE: &str = "/etc/hosts";

/// Prints the explanation; returns the exit status (0 granted, 1 denied, 2 usage).
pub fn run(daemon_arg: &str, client_arg: &str, allow: &Path, deny: &Path) -> i32 {
    let hosts = crate::files::read_regular(HOSTS_FILE.as_ref())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let (daemon, server) = match daemon_arg.split_once('@') {
        Some((d, s)) => (d, Some(s)),
        None => (daemon_arg, None),
    };
    let (user, client) = match client_arg.rsplit_once('@') {
        Some((u, c)) => (Some(u.to_string()), c),
        None => (None, client_arg),
    };
    let lookup = HostsFileLookup { hosts, user };
    let Some(client_addrs) = addresses(&lookup, client) else {
        eprintln!("inetd: {client}: host address unknown");
        return 2;
    };
    let server_addr = match server.map(|s| addresses(&lookup, s)) {
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(Some(addrs)) => addrs[0],
        Some(None) => {
            eprintln!(
                "inetd: {}: host address unknown",
                server.unwrap_or_default()
            );
            return 2;
        }
    };
    let rules = Rules::load(allow, deny);
    let mut status = 0;
    for addr in client_addrs {
        let mut lookup = HostsFileLookup {
            hosts: lookup.hosts.clone(),
            user: lookup.user.clone(),
        };
        let request = Request {
            daemon,
            client: SocketAddr::new(addr, 0),
            server: SocketAddr::new(server_addr, 0),
            pid: Some(std::process::id()),
        };
        println!("client: address {}", addr_string(addr));
        if let Ok(Some(name)) = lookup.host_name(addr) {
            println!("client: hostname {name}");
        }
        if let Some(user) = &lookup.user {
            println!("client: username {user}");
        }
        if let Some(server) = server {
            println!("server: {server}");
        }
        let (granted, outcome) = match rules.decide(&request, &mut lookup) {
            Decision::Granted(o) => (o.twist().is_none(), o),
            Decision::Denied(o) => (false, o),
            Decision::NeedsLookup(need) => {
                eprintln!("inetd: cannot decide without {need:?}");
                return 2;
            }
        };
        for warning in &outcome.warnings {
            println!("warning: {warning}");
        }
        match &outcome.rule {
            Some(rule) => println!("matched: {rule}"),
            None => println!("matched: no rule"),
        }
        for option in &outcome.options {
            println!("option: {}", describe(option));
        }
        println!("access: {}", if granted { "granted" } else { "denied" });
        if !granted {
            status = 1;
        }
    }
    status
}

/// Names (via the hosts file) or literal addresses.
fn addresses(lookup: &HostsFileLookup, host: &str) -> Option<Vec<IpAddr>> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(addr) = literal.parse() {
        return Some(vec![addr]);
    }
    let addrs = lookup.addrs(host);
    (!addrs.is_empty()).then_some(addrs)
}

fn describe(option: &RuleOption) -> String {
    match option {
        RuleOption::Spawn(c) => format!("spawn {c}"),
        RuleOption::Twist(c) => format!("twist {c} (replaces the service)"),
        RuleOption::Setenv(n, v) => format!("setenv {n} {v}"),
        RuleOption::Umask(m) => format!("umask {m:03o}"),
        RuleOption::Nice(n) => format!("nice {n}"),
        RuleOption::Keepalive => "keepalive".to_string(),
        RuleOption::Linger(s) => format!("linger {s}"),
        RuleOption::Banners(text) => format!("banners ({} bytes)", text.len()),
        RuleOption::Rfc931(t) => format!("rfc931 {t}"),
        RuleOption::User(u) => format!("user {u}"),
        RuleOption::Group(g) => format!("group {g}"),
        RuleOption::Severity(s) => format!("severity {s}"),
        RuleOption::Aclexec(c) => format!("aclexec {c} (not run, assumed to succeed)"),
    }
}

/// Names from an /etc/hosts-style file, for `inetd --match`; the user is given.
struct HostsFileLookup {
    hosts: String,
    user: Option<String>,
}

impl Lookup for HostsFileLookup {
    fn host_name(&mut self, addr: IpAddr) -> Result<Option<String>, WouldBlock> {
        Ok(self.hosts.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let a: IpAddr = fields.next()?.parse().ok()?;
            (a == addr).then(|| fields.next().map(str::to_string))?
        }))
    }

    fn user(&mut self, _: SocketAddr, _: SocketAddr, _: u32) -> Result<Option<String>, WouldBlock> {
        Ok(self.user.clone())
    }

    fn in_netgroup(&mut self, netgroup: &str, host: &str) -> Result<bool, WouldBlock> {
        Ok(in_netgroup(netgroup, host))
    }

    fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, WouldBlock> {
        Ok(account_exists(kind, name))
    }

    /// Like tcpdmatch, never runs commands: assume success.
    fn run_command(&mut self, _: &str) -> Result<bool, WouldBlock> {
        Ok(true)
    }

    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Ok(crate::files::read_regular(path.as_ref()))
    }
}

impl HostsFileLookup {
    /// Addresses of `name` in the hosts file.
    fn addrs(&self, name: &str) -> Vec<IpAddr> {
        crate::resolve::hosts_addrs(&self.hosts, name)
    }
}
