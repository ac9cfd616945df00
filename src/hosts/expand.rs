//! `%` expansions (libwrap's percent_x): `%a %A %c %d %h %H %n %N %p %r %R
//! %s %u %%`. Every character of an expanded value outside a shell-safe set
//! becomes `_`, so a client-controlled name or user can never inject a command.

use super::evaluation::{Evaluation, Fact};
use super::request::{Endpoint, Need};

/// Characters an expansion may keep (libwrap's ok_chars).
const SAFE: &[u8] = b"1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// libwrap's option buffer (BUFSIZ); banners use twice that.
pub const OPTION_LIMIT: usize = 8192;

#[derive(Debug, PartialEq, Eq)]
pub enum ExpandError {
    Need(Need),
    /// libwrap logs, sleeps 5 s and exits without a verdict.
    TooLong,
}

impl From<Need> for ExpandError {
    fn from(need: Need) -> ExpandError {
        ExpandError::Need(need)
    }
}

/// Replaces every byte outside [`SAFE`] by `_`.
pub fn sanitize(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if SAFE.contains(&b) {
                char::from(b)
            } else {
                '_'
            }
        })
        .collect()
}

/// Expands `template` into at most `limit - 2` bytes, as percent_x fills a
/// `limit`-byte buffer. Expanding may look names up (and so need a lookup).
pub fn expand(
    template: &str,
    session: &mut Evaluation,
    limit: usize,
) -> Result<String, ExpandError> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        let piece = match (c, chars.peek()) {
            ('%', Some(&key)) => {
                chars.next();
                expansion(key, session)?
            }
            _ => c.to_string(),
        };
        if out.len() + piece.len() >= limit - 1 {
            return Err(ExpandError::TooLong);
        }
        out.push_str(&piece);
    }
    Ok(out)
}

/// One `%x`: the sanitized value. Like libwrap, sanitizing rewrites the
/// cached name, user or daemon it came from, which later matches then see.
fn expansion(key: char, session: &mut Evaluation) -> Result<String, Need> {
    let (value, source) = match key {
        'a' => (session.host_addr(Endpoint::Client).to_string(), None),
        'A' => (session.host_addr(Endpoint::Server).to_string(), None),
        'c' => session.client_info()?,
        'd' => (session.daemon.clone(), Some(Fact::Daemon)),
        'h' => session.host_info(Endpoint::Client),
        'H' => session.host_info(Endpoint::Server),
        'n' => (
            session.host_name(Endpoint::Client)?,
            Some(Fact::Name(Endpoint::Client)),
        ),
        'N' => (
            session.host_name(Endpoint::Server)?,
            Some(Fact::Name(Endpoint::Server)),
        ),
        'p' => (session.pid()?.to_string(), None),
        'r' => (session.request.client.port().to_string(), None),
        'R' => (session.request.server.port().to_string(), None),
        's' => session.server_info(),
        'u' => (session.user()?, Some(Fact::User)),
        '%' => ("%".to_string(), None),
        other => {
            session.warn(format!("unrecognized %{other}"));
            (String::new(), None)
        }
    };
    let clean = sanitize(&value);
    if let Some(source) = source {
        if clean != value {
            session.overwrite(source, clean.clone());
        }
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_become_underscores() {
        assert_eq!(sanitize("a b;c|d$(rm -rf)`x`"), "a_b_c_d__rm_-rf__x_");
        assert_eq!(sanitize("h.ü.x"), "h.__.x");
        assert_eq!(sanitize("joe@host:1,2/3=4+5!%"), "joe@host:1,2/3=4+5!%");
    }
}
