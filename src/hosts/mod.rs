//! TCP wrappers built in: hosts.allow / hosts.deny decided exactly as
//! Debian's libwrap 7.6.q does when tcpd calls hosts_access().
//!
//! The daemon's use: [`Rules::load`] once (and again when
//! [`Rules::is_stale`]); per connection, [`Rules::decide`] in the parent with
//! [`NoLookup`], which never blocks. On [`Decision::NeedsLookup`], fork and
//! decide again in the `--tcpd` child ([`crate::tcpd`]) with the system's
//! lookups. A decided [`Outcome`] lists the options the child carries out;
//! a refusal is logged with [`Outcome::refused_message`] at
//! [`Outcome::deny_severity`].
//!
//! Nothing here blocks or does I/O beyond reading rule, host-list and
//! banner files through [`crate::files`], except the NSS queries of
//! [`nss`], which only `--match` and the child reach.

mod banner;
pub mod check;
mod decision;
mod eval;
mod evaluation;
mod expand;
pub mod explain;
pub mod nss;
mod options;
pub mod parse;
mod pattern;
mod request;
mod rules;
pub mod scan;
pub mod scripted;
pub mod verify;

pub use decision::{Decision, Outcome, RuleOption, RuleRef};
pub use request::{addr_string, Account, Known, Lookup, Need, NoLookup, Request, WouldBlock};
pub use rules::Rules;
pub use scripted::ScriptedLookup;

#[cfg(test)]
mod tests;
