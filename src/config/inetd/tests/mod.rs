//! Parser tests: every form of the language, malformed input, and
//! configuration files in the styles of the inetds we replace.

use super::*;

mod files;
mod forms;
mod netbsd;
use crate::resolve::table::TableResolver;

pub(super) fn parse_with_table(text: &str) -> (Vec<Service>, Vec<ConfigError>) {
    parse(text, "inetd.conf", &TableResolver::debian())
}

/// The services of `text`, which must parse without errors or warnings.
pub(super) fn services(text: &str) -> Vec<Service> {
    let (services, errors) = parse_with_table(text);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    services
}

pub(super) fn service(line: &str) -> Service {
    let mut all = services(line);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

/// The dump lines of `text`, which must parse without errors.
pub(super) fn dump(text: &str) -> Vec<String> {
    services(text).iter().map(Service::dump_line).collect()
}

/// The `line: reason` of every error and warning.
pub(super) fn errors(text: &str) -> Vec<(usize, String)> {
    let (_, errors) = parse_with_table(text);
    errors
        .into_iter()
        .map(|e| {
            let reason = if e.is_warning() {
                format!("warning: {}", e.reason)
            } else {
                e.reason
            };
            (e.line, reason)
        })
        .collect()
}

/// The reason `line` is rejected; it must be the only message.
pub(super) fn rejected(line: &str) -> String {
    let (services, errors) = parse_with_table(line);
    assert!(services.is_empty(), "accepted: {services:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(!errors[0].is_warning());
    errors[0].reason.clone()
}

pub(super) fn assert_rejected(line: &str, reason_part: &str) {
    let reason = rejected(line);
    assert!(
        reason.contains(reason_part),
        "{line:?}: {reason:?} lacks {reason_part:?}"
    );
}

pub(super) fn inet(addr: &str, v6only: bool) -> Listen {
    Listen::Inet {
        addr: addr.parse().unwrap(),
        v6only,
    }
}

// ---- the fields, one by one ----

pub(super) fn unix(path: &str, owner: Option<(u32, u32)>, mode: u32) -> Listen {
    Listen::Unix {
        path: path.into(),
        perms: SocketPerms { owner, mode },
    }
}
