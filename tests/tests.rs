//! The integration suite: one binary, one module per area.

mod access;
mod auth;
mod builtins;
mod check;
mod daemon;
mod files;
mod handoff;
mod hosts;
mod install;
mod limits;
mod messages;
mod netbsd;
mod reconfigure;
mod redirect;
mod resident;
mod rpc;
mod tcpd;
mod tcpmux;
mod udp_nowait;
mod util;
mod xinetd;
