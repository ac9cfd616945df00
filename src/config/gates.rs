//! Per-service gates beyond what inetd.conf says: xinetd's `only_from`
//! and `no_access` address lists, `NOLIBWRAP` and `max_load`. The lists
//! are resolved at load (host names through `/etc/hosts`), so deciding is
//! a pure function of the client's address, fit for the daemon's loop.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// What a service asks beyond the daemon-wide gates. The default gates
/// nothing: every inetd.conf service has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gates {
    /// `only_from`: `None` when not given (everyone); `Some` of an empty
    /// list refuses everyone, as in xinetd.
    pub only_from: Option<Vec<Net>>,
    /// `no_access`.
    pub no_access: Vec<Net>,
    /// `NOLIBWRAP`: hosts.allow and hosts.deny are not consulted.
    pub no_wrap: bool,
    /// xinetd's `libwrap`: the daemon name hosts.allow sees, instead of
    /// the program's (see [`crate::config::Service::access_name`]).
    pub wrap_name: Option<String>,
    /// `max_load`, in hundredths: nothing starts while the 1-minute load
    /// average is at least this (the daemon's `-L` otherwise).
    pub max_load: Option<u32>,
}

/// An address block: `addr/prefix`, IPv4 or IPv6, `addr` already masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    /// The block of `addr/prefix` (`prefix` clamped to the family's width).
    /// An IPv4-mapped block of at least 96 bits is the IPv4 block it maps,
    /// so that it matches a client of either form.
    pub fn new(addr: IpAddr, prefix: u8) -> Net {
        if let IpAddr::V6(v6) = addr {
            if let Some(v4) = v6.to_ipv4_mapped().filter(|_| prefix >= 96) {
                return Net::new(IpAddr::V4(v4), prefix.min(128) - 96);
            }
        }
        let (addr, prefix) = match addr {
            IpAddr::V4(v4) => {
                let prefix = prefix.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                (IpAddr::from((u32::from(v4) & mask).to_be_bytes()), prefix)
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                (IpAddr::from(Ipv6Addr::from(u128::from(v6) & mask)), prefix)
            }
        };
        Net { addr, prefix }
    }

    /// How specific a match of this block is, in IPv6 bits: an IPv4 block
    /// counts as the IPv4-mapped block it matches.
    pub fn specificity(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => self.prefix + 96,
            IpAddr::V6(_) => self.prefix,
        }
    }

    /// Whether `client` is in the block. An IPv4 block also takes the
    /// IPv4-mapped form of its addresses (a dual-stack socket's clients),
    /// as xinetd does.
    pub fn contains(&self, client: IpAddr) -> bool {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, client) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                Net::new(client, self.prefix).addr == self.addr
            }
            _ => false,
        }
    }

    /// Whether every address of `other` is in this block.
    pub fn covers(&self, other: &Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The most specific block of `list` that holds `client`.
fn best_match(list: &[Net], client: IpAddr) -> Option<u8> {
    list.iter()
        .filter(|net| net.contains(client))
        .map(Net::specificity)
        .max()
}

impl Gates {
    /// Whether `only_from` and `no_access` let `client` in. When both
    /// lists match, the more specific match decides, as xinetd.conf(5)
    /// says, and a tie refuses (xinetd 2.3.15 itself refuses every client
    /// both lists match: see `-t`'s warning about overlapping lists).
    pub fn admits(&self, client: IpAddr) -> bool {
        let denied = best_match(&self.no_access, client);
        match &self.only_from {
            None => denied.is_none(),
            Some(only) => match (best_match(only, client), denied) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(allowed), Some(denied)) => allowed > denied,
            },
        }
    }

    /// The fields of [`crate::config::Service::dump_line`], each after a space.
    pub fn dump_fields(&self) -> String {
        let list = |nets: &[Net]| {
            if nets.is_empty() {
                "none".to_string()
            } else {
                nets.iter()
                    .map(Net::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }
        };
        let mut fields = String::new();
        if let Some(only) = &self.only_from {
            fields += &format!(" only-from={}", list(only));
        }
        if !self.no_access.is_empty() {
            fields += &format!(" no-access={}", list(&self.no_access));
        }
        if self.no_wrap {
            fields += " no-wrap";
        }
        if let Some(name) = &self.wrap_name {
            fields += &format!(" wrap-name={name}");
        }
        if let Some(load) = self.max_load {
            fields += &format!(" max-load={}.{:02}", load / 100, load % 100);
        }
        fields
    }

    /// Whether the address lists decide anything at all.
    pub fn lists_addresses(&self) -> bool {
        self.only_from.is_some() || !self.no_access.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Net {
        let (addr, prefix) = s.split_once('/').unwrap();
        Net::new(addr.parse().unwrap(), prefix.parse().unwrap())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_are_masked_and_match_mapped_clients() {
        assert_eq!(net("10.1.2.3/8"), net("10.0.0.0/8"));
        assert!(net("10.0.0.0/8").contains(ip("10.200.0.1")));
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("0.0.0.0/0").contains(ip("1.2.3.4")));
        assert!(!net("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(net("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(net("::/0").contains(ip("::1")));
        assert!(net("10.0.0.0/8").covers(&net("10.1.0.0/16")));
        // A mapped block is the IPv4 one: it matches either form.
        assert_eq!(net("::ffff:10.0.0.1/128"), net("10.0.0.1/32"));
        assert_eq!(net("::ffff:10.0.0.0/104"), net("10.0.0.0/8"));
        assert!(net("::ffff:10.0.0.1/128").contains(ip("10.0.0.1")));
        assert!(net("::ffff:0:0/96").contains(ip("::ffff:1.2.3.4")));
        assert!(!net("10.1.0.0/16").covers(&net("10.0.0.0/8")));
    }

    #[test]
    fn the_more_specific_list_decides_and_a_tie_refuses() {
        let gates = Gates {
            only_from: Some(vec![net("10.0.0.0/8"), net("192.168.1.5/32")]),
            no_access: vec![
                net("10.1.0.0/16"),
                net("192.168.1.0/24"),
                net("10.2.0.0/16"),
            ],
            ..Gates::default()
        };
        assert!(gates.admits(ip("10.3.0.1")));
        assert!(!gates.admits(ip("10.1.0.1")));
        assert!(gates.admits(ip("192.168.1.5")));
        assert!(!gates.admits(ip("192.168.1.6")));
        assert!(!gates.admits(ip("172.16.0.1")));
        let tie = Gates {
            only_from: Some(vec![net("127.0.0.1/32")]),
            no_access: vec![net("127.0.0.1/32")],
            ..Gates::default()
        };
        assert!(!tie.admits(ip("127.0.0.1")));
    }

    #[test]
    fn an_empty_only_from_refuses_everyone_and_none_admits_all() {
        let empty = Gates {
            only_from: Some(vec![]),
            ..Gates::default()
        };
        assert!(!empty.admits(ip("127.0.0.1")));
        assert!(Gates::default().admits(ip("127.0.0.1")));
        let deny = Gates {
            no_access: vec![net("127.0.0.0/8")],
            ..Gates::default()
        };
        assert!(!deny.admits(ip("127.0.0.2")) && deny.admits(ip("::1")));
        // no_access written in the mapped form refuses the plain client too.
        let mapped = Gates {
            no_access: vec![net("::ffff:127.0.0.2/128")],
            ..Gates::default()
        };
        assert!(!mapped.admits(ip("127.0.0.2")) && !mapped.admits(ip("::ffff:127.0.0.2")));
    }
}
