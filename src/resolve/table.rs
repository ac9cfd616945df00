//! A fixed system for tests.

use std::net::{IpAddr, Ipv6Addr};

use super::{Resolver, User};

/// A fixed system for tests: services, users, groups and hosts from tables.
pub struct TableResolver {
    /// (name, proto, port)
    pub services: Vec<(&'static str, &'static str, u16)>,
    /// (name, uid, primary gid, supplementary gids)
    pub users: Vec<(&'static str, u32, u32, Vec<u32>)>,
    pub groups: Vec<(&'static str, u32)>,
    pub hosts: Vec<(&'static str, IpAddr)>,
    /// (name, program number)
    pub rpc: Vec<(&'static str, u32)>,
    /// inetd's environment: (name, value)
    pub env: Vec<(&'static str, &'static str)>,
}

impl TableResolver {
    /// A small Debian-like system: root, nobody, a user with a dot in its
    /// name, the usual inetd services, and localhost on both families.
    pub fn debian() -> TableResolver {
        let mut services = Vec::new();
        for (name, port) in [
            ("tcpmux", 1),
            ("echo", 7),
            ("discard", 9),
            ("daytime", 13),
            ("chargen", 19),
            ("ftp", 21),
            ("telnet", 23),
            ("time", 37),
            ("finger", 79),
            ("ident", 113),
            ("shell", 514),
            ("login", 513),
        ] {
            services.push((name, "tcp", port));
        }
        for (name, port) in [
            ("echo", 7),
            ("discard", 9),
            ("daytime", 13),
            ("chargen", 19),
            ("time", 37),
            ("tftp", 69),
            ("talk", 517),
            ("ntalk", 518),
        ] {
            services.push((name, "udp", port));
        }
        services.extend([
            ("auth", "tcp", 113),
            ("ssh", "tcp", 22),
            ("biff", "udp", 512),
        ]);
        TableResolver {
            services,
            users: vec![
                ("root", 0, 0, vec![]),
                ("nobody", 65534, 65534, vec![]),
                ("daemon", 1, 1, vec![]),
                ("tty", 5, 5, vec![]),
                ("first.last", 1000, 1000, vec![27, 100]),
            ],
            groups: vec![
                ("root", 0),
                ("daemon", 1),
                ("tty", 5),
                ("staff", 50),
                ("nogroup", 65534),
                ("users", 100),
            ],
            hosts: vec![
                ("localhost", IpAddr::from([127, 0, 0, 1])),
                ("localhost", IpAddr::from(Ipv6Addr::LOCALHOST)),
                ("box", IpAddr::from([192, 168, 1, 10])),
                ("v6box", IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10])),
            ],
            rpc: vec![
                ("portmapper", 100000),
                ("rstatd", 100001),
                ("rstat", 100001),
                ("rusersd", 100002),
                ("mountd", 100005),
                ("walld", 100008),
            ],
            env: vec![("LANG", "C.UTF-8"), ("TZ", "UTC")],
        }
    }
}

impl Resolver for TableResolver {
    fn port(&self, service: &str, proto: &str) -> Option<u16> {
        let found = self
            .services
            .iter()
            .find(|s| s.0 == service && s.1 == proto);
        found.map(|s| s.2)
    }

    fn user(&self, name: &str) -> Option<User> {
        let found = self.users.iter().find(|u| u.0 == name);
        found.map(|u| User { uid: u.1, gid: u.2 })
    }

    fn group(&self, name: &str) -> Option<u32> {
        self.groups.iter().find(|g| g.0 == name).map(|g| g.1)
    }

    /// The primary group first, then the table's supplementary groups.
    fn groups(&self, user: &str, gid: u32) -> Vec<u32> {
        let mut groups = vec![gid];
        if let Some(u) = self.users.iter().find(|u| u.0 == user) {
            groups.extend(u.3.iter().filter(|&&g| g != gid));
        }
        groups
    }

    fn host(&self, name: &str) -> Vec<IpAddr> {
        let found = self.hosts.iter().filter(|h| h.0.eq_ignore_ascii_case(name));
        found.map(|h| h.1).collect()
    }

    fn rpc(&self, name: &str) -> Option<u32> {
        self.rpc.iter().find(|r| r.0 == name).map(|r| r.1)
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|e| e.0 == name)
            .map(|e| e.1.to_string())
    }

    /// Linux's with the usual 8 MiB stack limit: a quarter of it.
    fn arg_max(&self) -> usize {
        2 * 1024 * 1024
    }
}
