//! The `--match` lookup (an /etc/hosts-style file), shared system
//! queries, and the host-list files of `/path` patterns.

#[cfg(target_env = "gnu")]
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::eval::HostLists;
use super::parse::{split_at, Entry, Table};
use super::{Account, Lookup, Stamp, WouldBlock};

/// Nesting limit while reading `/path` host lists.
const MAX_LIST_DEPTH: usize = 16;

/// Names from an /etc/hosts-style file, for `inetd --match`; the user is given.
pub struct HostsFileLookup {
    pub hosts: String,
    pub user: Option<String>,
}

impl Lookup for HostsFileLookup {
    fn host_name(&mut self, addr: IpAddr) -> Result<Option<String>, WouldBlock> {
        Ok(self.hosts.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let a: IpAddr = fields.next()?.parse().ok()?;
            (a == addr).then(|| fields.next().map(str::to_string))?
        }))
    }

    fn user(&mut self, _: SocketAddr, _: SocketAddr, _: u32) -> Result<Option<String>, WouldBlock> {
        Ok(self.user.clone())
    }

    fn in_netgroup(&mut self, netgroup: &str, host: &str) -> Result<bool, WouldBlock> {
        Ok(in_netgroup(netgroup, host))
    }

    fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, WouldBlock> {
        Ok(account_exists(kind, name))
    }

    /// Like tcpdmatch, never runs commands: assume success.
    fn run_command(&mut self, _: &str) -> Result<bool, WouldBlock> {
        Ok(true)
    }

    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Ok(crate::files::read_regular(path.as_ref()))
    }
}

impl HostsFileLookup {
    /// Addresses of `name` in the hosts file.
    pub fn addrs(&self, name: &str) -> Vec<IpAddr> {
        crate::resolve::hosts_addrs(&self.hosts, name)
    }
}

pub(super) fn account_exists(kind: Account, name: &str) -> bool {
    match kind {
        Account::User => matches!(nix::unistd::User::from_name(name), Ok(Some(_))),
        Account::Group => matches!(nix::unistd::Group::from_name(name), Ok(Some(_))),
    }
}

/// Why an `@group` pattern never matches here, if it does not: musl has no
/// netgroups (no `innetgr`).
pub const NETGROUPS_UNSUPPORTED: Option<&str> = if cfg!(target_env = "gnu") {
    None
} else {
    Some("netgroups are not supported by this build (no innetgr in its C library): never matches")
};

#[cfg(target_env = "gnu")]
extern "C" {
    fn innetgr(
        netgroup: *const libc::c_char,
        host: *const libc::c_char,
        user: *const libc::c_char,
        domain: *const libc::c_char,
    ) -> libc::c_int;
}

#[cfg(not(target_env = "gnu"))]
pub(super) fn in_netgroup(_: &str, _: &str) -> bool {
    false
}

#[cfg(target_env = "gnu")]
pub(super) fn in_netgroup(netgroup: &str, host: &str) -> bool {
    let (Ok(group), Ok(host)) = (CString::new(netgroup), CString::new(host)) else {
        return false;
    };
    // SAFETY: valid NUL-terminated strings; null user and domain are allowed.
    unsafe {
        innetgr(
            group.as_ptr(),
            host.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
        ) == 1
    }
}

/// Reads every `/path` host list named by the rules (and nested lists).
pub fn load_host_lists(tables: &[&Table], stamps: &mut Vec<(PathBuf, Stamp)>) -> HostLists {
    let mut lists = HostLists::new();
    let mut pending: Vec<(String, usize)> = tables
        .iter()
        .flat_map(|t| t.entries.iter())
        .filter_map(|e| match e {
            Entry::Rule(rule) => Some(rule),
            Entry::MissingSeparator { .. } => None,
        })
        .flat_map(|rule| rule.daemons.iter().chain(&rule.clients))
        .filter_map(|token| host_part(token))
        .map(|path| (path, 0))
        .collect();
    while let Some((path, depth)) = pending.pop() {
        if lists.contains_key(&path) || depth > MAX_LIST_DEPTH {
            continue;
        }
        stamps.push((PathBuf::from(&path), super::stamp(path.as_ref())));
        let entry = match crate::files::read_regular(path.as_ref()) {
            Ok(bytes) => {
                let tokens: Vec<String> = String::from_utf8_lossy(&bytes)
                    .split_ascii_whitespace()
                    .map(str::to_string)
                    .collect();
                let nested = tokens.iter().filter(|t| t.starts_with('/'));
                pending.extend(nested.map(|t| (t.clone(), depth + 1)));
                Ok(tokens)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("open {path}: {e}")),
        };
        lists.insert(path, entry);
    }
    lists
}

/// The host part of a daemon or client token when it is a `/path` list.
fn host_part(token: &str) -> Option<String> {
    let host = match token.char_indices().nth(1) {
        Some((i, _)) => split_at(&token[i..], '@').map_or(token, |(_, host)| host),
        None => token,
    };
    host.starts_with('/').then(|| host.to_string())
}
