//! Daemon and client patterns, matched the way libwrap's hosts_access.c
//! (Debian 7.6.q) does: wildcards first, then `.suffix`, `ALL`, `KNOWN`,
//! `prefix.`, `[v6]` and exact strings; `net/mask` and `[v6]/len`;
//! `user@host`, `daemon@host`, `@netgroup`, `/file`, numeric ports.

use std::net::Ipv6Addr;

use super::evaluation::Evaluation;
use super::parse::split_at;
use super::request::{hostname_known, Endpoint, Need};
use super::scan::scan_unsigned;

/// A match result, or the lookup that could not be done without blocking.
pub type Matched = Result<bool, Need>;

/// libwrap's list_match(): the first matching pattern wins unless a pattern
/// after the next `EXCEPT` matches too (recursively).
pub fn list_match(
    tokens: &[String],
    session: &mut Evaluation,
    matches: fn(&str, &mut Evaluation) -> Matched,
) -> Matched {
    for (i, token) in tokens.iter().enumerate() {
        if token.eq_ignore_ascii_case("EXCEPT") {
            return Ok(false);
        }
        if matches(token, session)? {
            let rest = &tokens[i + 1..];
            return match rest.iter().position(|t| t.eq_ignore_ascii_case("EXCEPT")) {
                None => Ok(true),
                Some(except) => Ok(!list_match(&rest[except + 1..], session, matches)?),
            };
        }
    }
    Ok(false)
}

/// `daemon` or `daemon@host`; a number up to 65535 (as sscanf `%u` reads
/// it) is a server port, which never matches an unknown server; a larger
/// one is a daemon name.
pub fn server_match(token: &str, session: &mut Evaluation) -> Matched {
    let (daemon, host) = split_after_first(token, '@');
    let daemon_matches = match scan_unsigned(daemon, 10) {
        Some((port, "")) if port <= 0xffff => {
            !session.no_server && port == u32::from(session.request.server.port())
        }
        _ => string_match(daemon, &session.daemon),
    };
    match host {
        Some(host) => Ok(daemon_matches && host_match(host, Endpoint::Server, session)?),
        None => Ok(daemon_matches),
    }
}

/// `host` or `user@host`; the host part is tried first (the user lookup is slow).
pub fn client_match(token: &str, session: &mut Evaluation) -> Matched {
    match split_after_first(token, '@') {
        (host, None) => host_match(host, Endpoint::Client, session),
        (user, Some(host)) => {
            if !host_match(host, Endpoint::Client, session)? {
                return Ok(false);
            }
            let name = session.user()?;
            Ok(string_match(user, &name))
        }
    }
}

/// split_at(tok + 1, '@'): a leading `@` belongs to the first part (netgroups).
fn split_after_first(token: &str, delimiter: char) -> (&str, Option<&str>) {
    let Some(first) = token.chars().next() else {
        return (token, None);
    };
    let skip = first.len_utf8();
    match split_at(&token[skip..], delimiter) {
        Some((head, tail)) => (&token[..skip + head.len()], Some(tail)),
        None => (token, None),
    }
}

pub fn host_match(token: &str, endpoint: Endpoint, session: &mut Evaluation) -> Matched {
    if let Some(group) = token.strip_prefix('@') {
        let name = session.host_name(endpoint)?;
        session.in_netgroup(group, &name)
    } else if token.starts_with('/') {
        file_match(token, endpoint, session)
    } else if token.eq_ignore_ascii_case("KNOWN") {
        let name = session.host_name(endpoint)?;
        Ok(!is_unknown(session.host_addr(endpoint)) && hostname_known(&name))
    } else if token.eq_ignore_ascii_case("LOCAL") {
        let name = session.host_name(endpoint)?;
        Ok(!name.contains('.') && hostname_known(&name))
    } else if let Some((net, mask)) = split_at(token, '/') {
        Ok(masked_match(net, mask, session.host_addr(endpoint)))
    } else {
        if string_match(token, session.host_addr(endpoint)) {
            return Ok(true);
        }
        if !not_inaddr(token) {
            return Ok(false);
        }
        let name = session.host_name(endpoint)?;
        Ok(string_match(token, &name))
    }
}

/// A `/path` host list: whitespace-separated host patterns, any may match.
fn file_match(path: &str, endpoint: Endpoint, session: &mut Evaluation) -> Matched {
    let Some(tokens) = session.host_list(path) else {
        return Ok(false);
    };
    if !session.enter_host_list(path, tokens.len()) {
        return Ok(false);
    }
    let mut result = Ok(false);
    for token in tokens.iter() {
        result = host_match(token, endpoint, session);
        if result != Ok(false) {
            break;
        }
    }
    session.leave_host_list();
    result
}

fn is_unknown(s: &str) -> bool {
    s.eq_ignore_ascii_case("unknown")
}

/// NOT_INADDR: the pattern has a character that cannot occur in an IPv4 address.
pub fn not_inaddr(token: &str) -> bool {
    token.chars().any(|c| !"0123456789./".contains(c))
}

/// Matches one pattern against an address or name.
pub fn string_match(token: &str, string: &str) -> bool {
    let string = strip_v4_mapped(string);
    if token.contains(['*', '?']) {
        glob_match(token.as_bytes(), string.as_bytes())
    } else if token.starts_with('.') {
        string.len() > token.len() && tail_eq_ignore_case(string, token)
    } else if token.eq_ignore_ascii_case("ALL") {
        true
    } else if token.eq_ignore_ascii_case("KNOWN") {
        !is_unknown(string)
    } else if token.ends_with('.') {
        string.len() >= token.len()
            && string.as_bytes()[..token.len()].eq_ignore_ascii_case(token.as_bytes())
    } else if let Some(inner) = token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        match (parse_v6_pattern(inner), string.parse::<Ipv6Addr>()) {
            (Some(pattern), Ok(addr)) => pattern == addr,
            _ => false,
        }
    } else {
        token.eq_ignore_ascii_case(string)
    }
}

fn tail_eq_ignore_case(string: &str, suffix: &str) -> bool {
    let (s, t) = (string.as_bytes(), suffix.as_bytes());
    s.len() >= t.len() && s[s.len() - t.len()..].eq_ignore_ascii_case(t)
}

/// A v4-mapped address is compared as plain IPv4.
fn strip_v4_mapped(string: &str) -> &str {
    let bytes = string.as_bytes();
    if bytes.len() > 7 && bytes[..7].eq_ignore_ascii_case(b"::ffff:") {
        let rest = &string[7..];
        if dot_quad_addr(rest).is_some() {
            return rest;
        }
    }
    string
}

/// `*` and `?` wildcards, case-insensitive.
fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < string.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, s));
                p += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&string[s]) => {
                p += 1;
                s += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    p = star + 1;
                    s = from + 1;
                    backtrack = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// `net/mask` (IPv4, the net is not masked) or `[net]/len` (IPv6, masked).
fn masked_match(net: &str, mask: &str, addr: &str) -> bool {
    let addr = strip_v4_mapped(addr);
    if net.starts_with('[') {
        let Some(net) = net.strip_prefix('[').and_then(|n| n.strip_suffix(']')) else {
            return false;
        };
        let (Some(net), Ok(addr)) = (parse_v6_pattern(net), addr.parse::<Ipv6Addr>()) else {
            return false;
        };
        let Some(len) = v6_prefix_len(mask) else {
            return false;
        };
        let keep = u128::MAX.checked_shl(128 - len).unwrap_or(0);
        return u128::from(net) & keep == u128::from(addr) & keep;
    }
    match (dot_quad_addr(addr), dot_quad_addr(net), v4_mask(mask)) {
        (Some(addr), Some(net), Some(mask)) => addr & mask == net,
        _ => false,
    }
}

/// A dotted mask, else a prefix length 1..=32 (libwrap's cidr_mask_addr).
pub fn v4_mask(mask: &str) -> Option<u32> {
    dot_quad_addr(mask).or_else(|| {
        let (len, _) = scan_unsigned(mask, 10)?;
        (1..=32).contains(&len).then(|| u32::MAX << (32 - len))
    })
}

/// The IPv6 prefix length: like strtoul, junk reads as 0 (all addresses).
pub fn v6_prefix_len(mask: &str) -> Option<u32> {
    let len = scan_unsigned(mask, 10).map_or(0, |(n, _)| n);
    (len <= 128).then_some(len)
}

/// A bracketed IPv6 pattern as getaddrinfo(AI_NUMERICHOST) reads it (a `%scope` is ignored).
pub fn parse_v6_pattern(text: &str) -> Option<Ipv6Addr> {
    let addr = text.split_once('%').map_or(text, |(a, _)| a);
    addr.parse().ok()
}

/// libwrap's dot_quad_addr(): exactly four parts, each as inet_aton reads
/// them (decimal, 0-octal, 0x-hex); 255.255.255.255 is the error value.
pub fn dot_quad_addr(text: &str) -> Option<u32> {
    let mut parts = text.split('.');
    let mut value: u32 = 0;
    for _ in 0..4 {
        let part = parts.next()?;
        value = (value << 8) | c_number(part).filter(|&n| n <= 255)?;
    }
    if parts.next().is_some() || value == u32::MAX {
        return None;
    }
    Some(value)
}

/// A C integer literal (strtoul base 0) that must start with a digit and be all used.
fn c_number(part: &str) -> Option<u32> {
    let digits = part.as_bytes();
    if !digits.first()?.is_ascii_digit() {
        return None;
    }
    let (radix, body) = if let Some(hex) = part.strip_prefix("0x").or(part.strip_prefix("0X")) {
        (16, hex)
    } else if part.len() > 1 && part.starts_with('0') {
        (8, &part[1..])
    } else {
        (10, part)
    };
    if body.is_empty() {
        return None;
    }
    u32::from_str_radix(body, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert!(string_match("10.0.0.", "10.0.0.1"));
        assert!(!string_match("10.0", "10.0.0.1"));
        assert!(string_match(".0.1", "10.0.0.1"));
        assert!(string_match(".EXAMPLE.com", "h.example.COM"));
        assert!(!string_match(".example.com", "example.com"));
        assert!(string_match("10.0.0.1", "::ffff:10.0.0.1"));
        assert!(!string_match("[::ffff:10.0.0.1]", "::ffff:10.0.0.1"));
        assert!(string_match("[0::1]", "::1"));
        assert!(!string_match(".example.*", "h.example.com"));
        assert!(string_match("*.EXAMPLE.*", "h.example.com"));
        assert!(string_match("h?EX*", "h.example.com"));
        assert!(string_match("unk*", "unknown"));
        assert!(!string_match("KNOWN", "UNKNOWN"));
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXbYbc"));
        assert!(!glob_match(b"a*b?", b"ab"));
        assert!(glob_match(b"**?", b"x"));
    }

    #[test]
    fn v4_masks() {
        assert!(masked_match("10.0.0.0", "8", "10.0.0.1"));
        assert!(!masked_match("10.0.0.1", "8", "10.0.0.1"));
        assert!(!masked_match("0.0.0.0", "0", "10.0.0.1"));
        assert!(masked_match("0.0.0.0", "0.0.0.0", "10.0.0.1"));
        assert!(!masked_match("10.0.0.1", "255.255.255.255", "10.0.0.1"));
        assert!(masked_match("10.0.0.1", "32", "10.0.0.1"));
        assert!(masked_match("012.0.0.0", "8x", "10.0.0.1"));
        assert!(masked_match("10.64.0.0", "10.0", "10.64.0.1"));
        assert!(masked_match("10.0.0.0", "-4294967288", "10.0.0.1"));
        assert!(!masked_match("10.0", "8", "10.0.0.1"));
        assert!(masked_match("10.0.0.0", "8", "::ffff:10.0.0.1"));
    }

    #[test]
    fn v6_masks() {
        assert!(masked_match("[fe80::1]", "10", "fe81::1"));
        assert!(masked_match("[8000::]", "abc", "2001::1"));
        assert!(!masked_match("[8000::]", "129", "8000::"));
        assert!(masked_match("[8000::]", "4294967296", "2001::1"));
        assert!(!masked_match("[::]", "0", "::ffff:10.0.0.1"));
        assert!(!masked_match("[::]", "0", "10.0.0.1"));
        assert!(!masked_match("[8000::]x", "1", "8000::1"));
    }

    #[test]
    fn quads() {
        assert_eq!(dot_quad_addr("1.2.3.4"), Some(0x01020304));
        assert_eq!(dot_quad_addr("0x1.02.3.4"), Some(0x01020304));
        assert_eq!(dot_quad_addr("09.1.1.1"), None);
        assert_eq!(dot_quad_addr("1.2.3.4."), None);
        assert_eq!(dot_quad_addr("1..2.3"), None);
        assert_eq!(dot_quad_addr("1.2.3.256"), None);
        assert_eq!(dot_quad_addr("255.255.255.255"), None);
        assert_eq!(dot_quad_addr("0x.1.2.3"), None);
    }
}
