//! FreeBSD's owner prefix of a unix socket's path:
//! `:user:group:mode:/path`, the mode in octal.

use super::{shown, SocketPerms, DEFAULT_SOCKET_MODE};
use crate::resolve::Resolver;

/// Splits `:user:group:mode:` off a service field that starts with `:`
/// and continues with a path: returns (`user:group:mode`, `/path`). Any
/// other field (`::1:echo`, say) is `None`.
pub(super) fn split_prefix(field: &str) -> Option<(&str, &str)> {
    let rest = field.strip_prefix(':')?;
    // Names and modes hold no `/`: the first `:/` ends the prefix.
    let end = rest.find(":/")?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// The owner and mode a prefix asks for (or the default without one).
pub(super) fn socket_perms(
    prefix: Option<&str>,
    resolver: &dyn Resolver,
) -> Result<SocketPerms, String> {
    let Some(prefix) = prefix else {
        return Ok(SocketPerms {
            owner: None,
            mode: DEFAULT_SOCKET_MODE,
        });
    };
    let [user, group, mode] = prefix.split(':').collect::<Vec<_>>()[..] else {
        return Err(format!(
            "bad owner prefix {}: expected :user:group:mode: before the path",
            shown(prefix)
        ));
    };
    if user.is_empty() || group.is_empty() {
        return Err(format!(
            "missing user or group in owner prefix {}",
            shown(prefix)
        ));
    }
    let uid = resolver
        .user(user)
        .ok_or_else(|| format!("unknown socket owner {}", shown(user)))?
        .uid;
    let gid = resolver
        .group(group)
        .ok_or_else(|| format!("unknown socket group {}", shown(group)))?;
    // Permission bits only: set-id and sticky bits mean nothing on a socket.
    let mode = Some(mode)
        .filter(|m| (1..=4).contains(&m.len()) && m.bytes().all(|b| (b'0'..=b'7').contains(&b)))
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .filter(|&m| m <= 0o777)
        .ok_or_else(|| {
            format!(
                "bad socket mode {} (expected octal, at most 0777)",
                shown(mode)
            )
        })?;
    Ok(SocketPerms {
        owner: Some((uid, gid)),
        mode,
    })
}
