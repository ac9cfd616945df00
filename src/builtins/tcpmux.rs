//! RFC 1078, the TCP port service multiplexer: what its client's line
//! asks for and the replies inetd gives. The daemon reads the line (a
//! session, see `session.rs`), looks the name up among its `tcpmux/NAME`
//! services and hands the connection to the one named. Pure.

use std::time::Duration;

/// A service name of up to 256 bytes and its CRLF, as FreeBSD reads it.
pub const MAX_LINE: usize = 256 + 2;

/// How long a client has, from the accept, to send its line (FreeBSD's
/// alarm).
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The positive reply inetd gives before a `tcpmux/+NAME` program starts.
pub const GO: &[u8] = b"+Go\r\n";

/// The reply to a name no service has.
pub const NOT_AVAILABLE: &[u8] = b"-Service not available\r\n";

/// The reply when the service named cannot start one more now (at its cap
/// of children, paused, over the load).
pub const BUSY: &[u8] = b"-Service busy, try again later\r\n";

/// What a client's line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `HELP`, in any case: the list of names.
    Help,
    /// A service by name.
    Service(&'a [u8]),
}

impl Request<'_> {
    pub fn of(line: &[u8]) -> Request<'_> {
        if line.eq_ignore_ascii_case(b"help") {
            Request::Help
        } else {
            Request::Service(line)
        }
    }
}

/// Whether the client's `requested` name is `name`: RFC 1078 names are
/// matched without regard to case.
pub fn names(requested: &[u8], name: &str) -> bool {
    requested.eq_ignore_ascii_case(name.as_bytes())
}

/// The reply to `HELP`: one name a line.
pub fn help<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut reply = Vec::new();
    for name in names {
        reply.extend_from_slice(name.as_bytes());
        reply.extend_from_slice(b"\r\n");
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_in_any_case_and_names_without_regard_to_case() {
        assert_eq!(Request::of(b"HeLp"), Request::Help);
        assert_eq!(Request::of(b"help "), Request::Service(b"help "));
        assert!(names(b"DATE", "date"));
        assert!(!names(b"dat", "date"));
        assert!(!names(b"date\0", "date"));
        assert_eq!(help(["a", "Bc"]), b"a\r\nBc\r\n");
        assert!(help([]).is_empty());
    }
}
