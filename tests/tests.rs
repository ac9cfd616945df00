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
mod rpc;
mod tcpd;
mod udp_nowait;
mod util;
