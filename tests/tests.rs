//! The integration suite: one binary, one module per area.

mod access;
mod builtins;
mod check;
mod daemon;
mod files;
mod hosts;
mod install;
mod limits;
mod messages;
mod tcpd;
mod util;
mod xinetd;
