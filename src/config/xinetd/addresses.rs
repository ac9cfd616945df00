//! The address forms of `only_from` and `no_access`, read as xinetd's
//! `addrlist_add` reads them, in its order: a numeric address (IPv4 with
//! trailing zero bytes is a network: `10.0.0.0` is 10/8, `0.0.0.0` and
//! `::` are everything), a host name, `addr/bits`, a factorized
//! `a.b.{c,d}` list, a network name (not read here: `/etc/networks` is
//! not consulted). A host name is resolved now, through the resolver
//! (`/etc/hosts` only): the daemon never looks a name up. `.domain`
//! patterns need the client's name, which only a reverse lookup gives.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::shown;
use crate::config::gates::Net;
use crate::resolve::Resolver;

/// One value of an address list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Form {
    /// An address, a network, or a factorized list.
    Nets(Vec<Net>),
    /// A host name and the addresses it had at load.
    Host { name: String, nets: Vec<Net> },
    /// `.domain`: matched by the client's reverse name in xinetd.
    Domain(String),
}

/// Reads one value.
pub fn form(value: &str, resolver: &dyn Resolver) -> Result<Form, String> {
    if let Some(form) = syntax(value)? {
        return Ok(form);
    }
    let addrs = resolver.host(value);
    if addrs.is_empty() {
        return Err(format!(
            "unknown host {} (host names are looked up in /etc/hosts only)",
            shown(value)
        ));
    }
    let nets = addrs.into_iter().map(|ip| Net::new(ip, 128)).collect();
    Ok(Form::Host {
        name: value.to_string(),
        nets,
    })
}

/// Reads one value without looking anything up: `None` for a host name.
pub fn syntax(value: &str) -> Result<Option<Form>, String> {
    if value.contains(',') && !value.contains('{') {
        return Err(format!("address {} has a comma in it", shown(value)));
    }
    if let Some(nets) = numeric(value) {
        return Ok(Some(Form::Nets(vec![nets])));
    }
    if let Some((addr, bits)) = value.split_once('/') {
        return explicit_mask(addr, bits)
            .map(|net| Some(Form::Nets(vec![net])))
            .ok_or_else(|| format!("bad address/bits {}", shown(value)));
    }
    if let Some((head, list)) = value.split_once('{') {
        return factorized(head, list)
            .map(|nets| Some(Form::Nets(nets)))
            .ok_or_else(|| format!("bad factorized address {}", shown(value)));
    }
    if value.starts_with('.') {
        if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("bad address {}", shown(value)));
        }
        return Ok(Some(Form::Domain(value.to_string())));
    }
    if value.contains(['[', ']', ':', '/', '{', '}']) {
        return Err(format!("bad address {}", shown(value)));
    }
    Ok(None)
}

/// A numeric address. IPv4: the trailing zero bytes are the host part
/// (xinetd's `numeric_addr`); IPv6: one address, `::` every address.
fn numeric(value: &str) -> Option<Net> {
    if value.contains(':') {
        let v6: Ipv6Addr = value.parse().ok()?;
        let prefix = if v6.is_unspecified() { 0 } else { 128 };
        return Some(Net::new(IpAddr::V6(v6), prefix));
    }
    let v4: Ipv4Addr = value.parse().ok()?;
    let bits = u32::from(v4);
    let prefix = if bits == 0 {
        0
    } else {
        32 - (bits.trailing_zeros() / 8) * 8
    };
    Some(Net::new(IpAddr::V4(v4), prefix as u8))
}

/// `addr/bits`.
fn explicit_mask(addr: &str, bits: &str) -> Option<Net> {
    let ip: IpAddr = addr.parse().ok()?;
    let bits: u8 = Some(bits)
        .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))?
        .parse()
        .ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then(|| Net::new(ip, bits))
}

/// `a.b.{c,d}`: the numbers before the brace are the leading bytes, each
/// number in the braces the next one; the rest is the host part.
fn factorized(head: &str, list: &str) -> Option<Vec<Net>> {
    let list = list.strip_suffix('}')?;
    let leading: Vec<u8> = if head.is_empty() {
        Vec::new()
    } else {
        head.strip_suffix('.')?
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?
    };
    if leading.len() > 3 || list.is_empty() {
        return None;
    }
    list.split(',')
        .map(|n| {
            let n: u8 = Some(n)
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))?
                .parse()
                .ok()?;
            let mut octets = [0u8; 4];
            octets[..leading.len()].copy_from_slice(&leading);
            octets[leading.len()] = n;
            let prefix = 8 * (leading.len() as u8 + 1);
            Some(Net::new(IpAddr::from(octets), prefix))
        })
        .collect()
}

impl Form {
    /// The blocks the daemon matches; a domain has none here.
    pub fn nets(&self) -> &[Net] {
        match self {
            Form::Nets(nets) | Form::Host { nets, .. } => nets,
            Form::Domain(_) => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::table::TableResolver;

    fn nets(value: &str) -> Vec<String> {
        let form = form(value, &TableResolver::debian()).unwrap();
        form.nets().iter().map(Net::to_string).collect()
    }

    #[test]
    fn every_form() {
        assert_eq!(nets("127.0.0.1"), ["127.0.0.1/32"]);
        assert_eq!(nets("128.138.193.0"), ["128.138.193.0/24"]);
        assert_eq!(nets("10.0.0.0"), ["10.0.0.0/8"]);
        assert_eq!(nets("0.0.0.0"), ["0.0.0.0/0"]);
        assert_eq!(nets("192.231.139.0/24"), ["192.231.139.0/24"]);
        assert_eq!(nets("10.1.2.3/8"), ["10.0.0.0/8"]);
        assert_eq!(nets("::1"), ["::1/128"]);
        assert_eq!(nets("::"), ["::/0"]);
        assert_eq!(nets("2001:db8::/32"), ["2001:db8::/32"]);
        assert_eq!(
            nets("128.138.{200,201}"),
            ["128.138.200.0/24", "128.138.201.0/24"]
        );
        assert_eq!(nets("10.{1,2}"), ["10.1.0.0/16", "10.2.0.0/16"]);
        assert_eq!(nets("localhost"), ["127.0.0.1/32", "::1/128"]);
        let resolver = TableResolver::debian();
        assert_eq!(
            form(".example.com", &resolver),
            Ok(Form::Domain(".example.com".into()))
        );
        for bad in [
            "10.0.0.1,10.0.0.2",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "10.{1,,2}",
            "10.{1,2",
            "10.{300}",
            "nosuchhost",
            ".1.2",
            "1.2.3.4.{5}",
        ] {
            assert!(form(bad, &resolver).is_err(), "{bad}");
        }
    }
}
