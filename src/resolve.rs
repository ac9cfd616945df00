//! What the configuration parser asks of the system: service ports, users,
//! groups and host addresses. The daemon uses [`SystemResolver`]; tests use
//! their own table.

use std::net::IpAddr;

/// A user as the password database knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

pub trait Resolver {
    /// Port of a service name for `tcp` or `udp`.
    fn port(&self, service: &str, proto: &str) -> Option<u16>;
    fn user(&self, name: &str) -> Option<User>;
    fn group(&self, name: &str) -> Option<u32>;
    /// Supplementary groups of `user` whose primary group is `gid`.
    fn groups(&self, user: &str, gid: u32) -> Vec<u32>;
    /// Addresses of a host name (never DNS: see ARCHITECTURE.md).
    fn host(&self, name: &str) -> Vec<IpAddr>;
}

/// The real system databases.
pub struct SystemResolver;
