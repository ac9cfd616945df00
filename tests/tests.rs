//! The integration suite: one binary, one module per area.

mod access;
mod builtins;
mod check;
mod daemon;
mod hosts;
mod limits;
mod tcpd;
mod util;
