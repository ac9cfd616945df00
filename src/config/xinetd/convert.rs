//! `inetd --to-inetd-conf`: an xinetd configuration as inetd.conf lines
//! and hosts.allow lines.

use super::Parsed;

pub fn convert(parsed: &Parsed, file: &str) -> String {
    format!("# {file}: {} services\n", parsed.services().len())
}
