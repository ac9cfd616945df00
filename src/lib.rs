//! inetd, the Internet super-server, as a library: the binary in
//! `main.rs` only dispatches to it. The modules are public so that the
//! integration tests and fuzz targets reach what the binary uses.

pub mod builtins;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod files;
pub mod hosts;
pub mod limits;
pub mod listener;
pub mod log;
#[cfg(panic = "abort")]
mod no_unwind;
pub mod pidfile;
pub mod resolve;
pub mod signals;
pub mod spawn;
pub mod tcpd;
pub mod watch;
