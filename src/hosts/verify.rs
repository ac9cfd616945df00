//! Which host name to trust for an address: libwrap's sock_hostname()
//! (Debian 7.6.q), the one implementation behind the `--tcpd` child's
//! lookups and `inetd --match`. Only the [`Resolver`] differs: the child's
//! runs each call in a process of its own under a deadline.
//!
//! The reverse name is trusted only when it is not numeric, its forward
//! lookup in the client's address family gives it back as the canonical
//! name (case aside; `localhost` is exempt), and lists the client's
//! address. A forward answer found through the resolver's search list
//! (`name.example.com.attacker.test`) has another canonical name, so it
//! never verifies.

use std::net::{IpAddr, SocketAddr};

use super::request::addr_string;

/// libwrap's name buffers hold 127 bytes.
const NAME_LENGTH: usize = 127;
/// `%.*s` with STRING_LENGTH in libwrap's warnings.
const WARNING_NAME_LENGTH: usize = 128;

/// The address family of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    /// AF_UNSPEC: both (for `--match`'s client and server names).
    Any,
}

impl Family {
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::V4 => "AF_INET",
            Family::V6 | Family::Any => "AF_INET6",
        }
    }
}

/// A forward lookup's answer: getaddrinfo(AI_CANONNAME)'s first canonical
/// name and every address, in order (IPv6 ones with their scope).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forward {
    pub canonical: Option<String>,
    pub addrs: Vec<SocketAddr>,
}

/// The name service calls the verification makes.
pub trait Resolver {
    /// getnameinfo(NI_NAMEREQD): the name the address maps back to.
    fn reverse(&mut self, addr: SocketAddr) -> Option<String>;
    /// getaddrinfo(AI_NUMERICHOST) in `family` accepts `name`: it is an address.
    fn is_numeric(&mut self, name: &str, family: Family) -> bool;
    /// getaddrinfo(AI_CANONNAME) in `family`; `None` when it fails.
    fn forward(&mut self, name: &str, family: Family) -> Option<Forward>;
}

/// The host name libwrap trusts for `addr`: the verified name,
/// "paranoid" (with the warning libwrap logs in `warnings`), or `None`
/// when the address has no name. An IPv4-mapped address is looked up as
/// the IPv4 address it is.
pub fn verified_name(
    resolver: &mut dyn Resolver,
    addr: SocketAddr,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let addr = match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    };
    let family = Family::of(addr.ip());
    let mut name = resolver.reverse(addr)?;
    truncate(&mut name, NAME_LENGTH);
    if resolver.is_numeric(&name, family) {
        warnings.push(format!(
            "host name/name mismatch: reverse lookup results in non-FQDN {name}"
        ));
        return Some(paranoid());
    }
    let Some(forward) = resolver.forward(&name, family) else {
        warnings.push(format!(
            "can't verify hostname: getaddrinfo({name}, {}) failed",
            family.name()
        ));
        return Some(paranoid());
    };
    let canonical = forward.canonical.clone().unwrap_or_default();
    let mut shown = canonical.clone();
    truncate(&mut shown, WARNING_NAME_LENGTH);
    let same_name = forward.canonical.is_some() && canonical.eq_ignore_ascii_case(&name);
    if !same_name && !name.eq_ignore_ascii_case("localhost") {
        warnings.push(format!("host name/name mismatch: {name} != {shown}"));
        return Some(paranoid());
    }
    let listed = forward.addrs.iter().any(|a| same_address(*a, addr));
    if listed {
        return Some(name);
    }
    warnings.push(format!(
        "host name/address mismatch: {} != {shown}",
        addr_string(addr.ip())
    ));
    Some(paranoid())
}

fn paranoid() -> String {
    "paranoid".to_string()
}

/// The same address in the same family, and for IPv6 the same scope.
fn same_address(a: SocketAddr, b: SocketAddr) -> bool {
    match (a, b) {
        (SocketAddr::V4(a), SocketAddr::V4(b)) => a.ip() == b.ip(),
        (SocketAddr::V6(a), SocketAddr::V6(b)) => a.ip() == b.ip() && a.scope_id() == b.scope_id(),
        _ => false,
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Reverse and forward tables; a name that parses as an address is numeric.
    #[derive(Default)]
    struct Table {
        reverse: HashMap<IpAddr, String>,
        forward: HashMap<String, Forward>,
    }

    impl Resolver for Table {
        fn reverse(&mut self, addr: SocketAddr) -> Option<String> {
            self.reverse.get(&addr.ip()).cloned()
        }
        fn is_numeric(&mut self, name: &str, family: Family) -> bool {
            name.parse::<IpAddr>()
                .is_ok_and(|a| family == Family::Any || Family::of(a) == family)
        }
        fn forward(&mut self, name: &str, _: Family) -> Option<Forward> {
            self.forward.get(name).cloned()
        }
    }

    fn table(ptr: &str, forward: &[(&str, Option<&str>, &[&str])]) -> Table {
        let mut t = Table::default();
        t.reverse
            .insert("10.0.0.1".parse().unwrap(), ptr.to_string());
        for (name, canonical, addrs) in forward {
            let addrs = addrs.iter().map(|a| SocketAddr::new(a.parse().unwrap(), 0));
            t.forward.insert(
                name.to_string(),
                Forward {
                    canonical: canonical.map(str::to_string),
                    addrs: addrs.collect(),
                },
            );
        }
        t
    }

    fn verify(t: &mut Table, client: &str) -> (Option<String>, Vec<String>) {
        let mut warnings = Vec::new();
        let addr = SocketAddr::new(client.parse().unwrap(), 4000);
        (verified_name(t, addr, &mut warnings), warnings)
    }

    #[test]
    fn a_name_that_maps_back_verifies() {
        let mut t = table(
            "H.example.com",
            &[("H.example.com", Some("h.EXAMPLE.com"), &["10.0.0.1"])],
        );
        assert_eq!(
            verify(&mut t, "10.0.0.1"),
            (Some("H.example.com".into()), vec![])
        );
        assert_eq!(
            verify(&mut t, "::ffff:10.0.0.1").0.as_deref(),
            Some("H.example.com")
        );
    }

    /// The search-list spoof: the forward answer is another name's.
    #[test]
    fn another_canonical_name_is_paranoid() {
        let mut t = table(
            "a.example.com",
            &[(
                "a.example.com",
                Some("a.example.com.attacker.test"),
                &["10.0.0.1"],
            )],
        );
        let (name, warnings) = verify(&mut t, "10.0.0.1");
        assert_eq!(name.as_deref(), Some("paranoid"));
        assert_eq!(
            warnings,
            ["host name/name mismatch: a.example.com != a.example.com.attacker.test"]
        );
        let mut t = table(
            "localhost",
            &[("localhost", Some("localhost.localdomain"), &["10.0.0.1"])],
        );
        assert_eq!(verify(&mut t, "10.0.0.1").0.as_deref(), Some("localhost"));
    }

    #[test]
    fn numeric_missing_and_elsewhere_are_paranoid() {
        let mut t = table("10.0.0.1", &[]);
        let (name, warnings) = verify(&mut t, "10.0.0.1");
        assert_eq!(name.as_deref(), Some("paranoid"));
        assert!(warnings[0].contains("non-FQDN 10.0.0.1"), "{warnings:?}");
        let mut t = table("gone.example.com", &[]);
        let (name, warnings) = verify(&mut t, "10.0.0.1");
        assert_eq!(name.as_deref(), Some("paranoid"));
        assert_eq!(
            warnings,
            ["can't verify hostname: getaddrinfo(gone.example.com, AF_INET) failed"]
        );
        let mut t = table(
            "h.example.com",
            &[("h.example.com", Some("h.example.com"), &["10.0.0.2"])],
        );
        let (name, warnings) = verify(&mut t, "10.0.0.1");
        assert_eq!(name.as_deref(), Some("paranoid"));
        assert_eq!(
            warnings,
            ["host name/address mismatch: 10.0.0.1 != h.example.com"]
        );
        assert_eq!(verify(&mut table("x", &[]), "10.0.0.9"), (None, vec![]));
    }
}
