//! `inetd --check-hosts`: lints hosts.allow / hosts.deny like tcpdchk(8).

use std::collections::BTreeSet;
use std::path::Path;

use super::options::{check_field, fields};
use super::parse::{split_at, Entry, Table};
use super::pattern::{dot_quad_addr, parse_v6_pattern, v4_mask, v6_prefix_len};
use super::scan::scan_unsigned;

/// Lints both files; prints problems; returns the exit status. `daemons`:
/// the daemon names the configuration serves, if known (a daemon pattern
/// naming none of them is reported).
pub fn run(allow: &Path, deny: &Path, daemons: Option<&BTreeSet<String>>) -> i32 {
    let mut problems = Vec::new();
    for path in [allow, deny] {
        problems.extend(lint(&Table::load(path), daemons));
    }
    for p in &problems {
        println!("{p}");
    }
    i32::from(!problems.is_empty())
}

/// Problems of one table, `file:line: message`.
pub fn lint(table: &Table, daemons: Option<&BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    let path = &table.path;
    for entry in &table.entries {
        let rule = match entry {
            Entry::MissingSeparator { line } => {
                out.push(format!(
                    "{path}:{line}: missing \":\" separator: the line is ignored"
                ));
                continue;
            }
            Entry::Rule(rule) => rule,
        };
        let at = |msg: String| format!("{path}:{}: {msg}", rule.line);
        if rule.daemons.is_empty() {
            out.push(at("empty daemon list: the rule never matches".to_string()));
        }
        if rule.clients.is_empty() {
            out.push(at("empty client list: the rule never matches".to_string()));
        }
        if rule.daemons.first().is_some_and(|d| d.starts_with('#')) {
            out.push(at(
                "`#` not in column 1 does not start a comment".to_string()
            ));
        }
        for token in &rule.daemons {
            out.extend(lint_daemon(token, daemons).map(at));
        }
        for token in &rule.clients {
            out.extend(lint_client(token).map(at));
        }
        if let Some(raw) = &rule.options {
            let fields = fields(raw);
            for (i, field) in fields.iter().enumerate() {
                if let Err(e) = check_field(field, i + 1 == fields.len()) {
                    out.push(at(format!("{e}: the rule denies access")));
                }
            }
        }
    }
    if table.missing_final_newline {
        // The file's last line: unterminated, or ending in `\` so that
        // the line it continues never ends.
        let line = table.lines;
        let what = if table.fault.as_ref().is_some_and(|f| f.line == line) {
            "line continued past the end of file"
        } else {
            "missing newline at end of file"
        };
        let effect = if path.ends_with("deny") {
            "every client not matched earlier is denied"
        } else {
            "the line never matches"
        };
        out.push(format!("{path}:{line}: {what}: {effect}"));
    } else if let Some(fault) = &table.fault {
        out.push(format!(
            "{path}:{}: {}: the rest of the file is ignored",
            fault.line + 1,
            fault.reason
        ));
    }
    out
}

fn lint_daemon(token: &str, daemons: Option<&BTreeSet<String>>) -> Option<String> {
    if is_keyword(token) {
        return None;
    }
    let (daemon, host) = match token.char_indices().nth(1) {
        Some((i, _)) => match split_at(&token[i..], '@') {
            Some((_, host)) => (&token[..token.len() - host.len() - 1], Some(host)),
            None => (token, None),
        },
        None => (token, None),
    };
    if let Some(problem) = host.and_then(lint_host) {
        return Some(problem);
    }
    let wild = daemon.contains(['*', '?']) || daemon.starts_with('.') || daemon.ends_with('.');
    let port = matches!(scan_unsigned(daemon, 10), Some((port, "")) if port <= 0xffff);
    if port || wild || is_keyword(daemon) {
        return None;
    }
    let known = daemons?;
    (!known.iter().any(|d| d.eq_ignore_ascii_case(daemon)))
        .then(|| format!("{daemon}: no such process name in the inetd configuration"))
}

fn lint_client(token: &str) -> Option<String> {
    if is_keyword(token) {
        return None;
    }
    let host = match token.char_indices().nth(1) {
        Some((i, _)) => split_at(&token[i..], '@').map_or(token, |(_, host)| host),
        None => token,
    };
    lint_host(host)
}

fn is_keyword(token: &str) -> bool {
    ["ALL", "EXCEPT", "KNOWN", "UNKNOWN", "LOCAL", "PARANOID"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(token))
}

/// Host patterns that can never match.
fn lint_host(host: &str) -> Option<String> {
    if host.is_empty() {
        return Some("empty host pattern never matches".to_string());
    }
    if host.starts_with('@') {
        return super::nss::NETGROUPS_UNSUPPORTED.map(|why| format!("{host}: {why}"));
    }
    if host.starts_with('/') || is_keyword(host) {
        return None;
    }
    if let Some((net, mask)) = split_at(host, '/') {
        let ok = if let Some(inner) = net.strip_prefix('[') {
            inner.strip_suffix(']').and_then(parse_v6_pattern).is_some()
                && v6_prefix_len(mask).is_some()
        } else {
            match (dot_quad_addr(net), v4_mask(mask)) {
                (Some(net), Some(mask)) if net & mask == net => true,
                (Some(_), Some(_)) => {
                    return Some(format!(
                        "{host}: net has bits outside the mask: never matches"
                    ))
                }
                _ => false,
            }
        };
        return (!ok).then(|| format!("{host}: bad net/mask pattern: never matches"));
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ok = inner.strip_suffix(']').and_then(parse_v6_pattern).is_some();
        return (!ok).then(|| format!("{host}: bad [IPv6] pattern: never matches"));
    }
    if host.contains(':') {
        return Some(format!("{host}: IPv6 addresses need [brackets]"));
    }
    if host.contains(['*', '?']) && (host.starts_with('.') || host.ends_with('.')) {
        return Some(format!(
            "{host}: wildcards disable the .suffix/prefix. forms"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_daemons_and_dead_patterns() {
        let daemons: BTreeSet<String> = ["sshd".to_string()].into();
        let table = Table::parse(
            b"sshd, ftpd, 21, in.*, ALL@10.0.0.0/8: [::1 x@ .example.*\n  # ALL: ALL\n",
            "allow",
        );
        let problems = lint(&table, Some(&daemons));
        let expected = [
            "allow:1: ftpd: no such process name in the inetd configuration",
            "allow:1: [::1: bad [IPv6] pattern: never matches",
            "allow:1: empty host pattern never matches",
            "allow:1: .example.*: wildcards disable the .suffix/prefix. forms",
            "allow:2: `#` not in column 1 does not start a comment",
            "allow:2: #: no such process name in the inetd configuration",
        ];
        assert_eq!(problems, expected);
    }
}
