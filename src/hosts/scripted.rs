//! A [`Lookup`] that answers from tables given to it: for tests and fuzz
//! targets, which need decisions that are deterministic, touch nothing of
//! the system, and can be built from plain data. It also records the
//! lazily looked-up facts a decision asked for.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::request::{Account, Lookup, WouldBlock};

/// A fact a decision asked a [`ScriptedLookup`] for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    HostName(IpAddr),
    User,
}

/// Answers from its tables; what is not in a table does not exist. It
/// never answers [`WouldBlock`].
#[derive(Clone, Debug, Default)]
pub struct ScriptedLookup {
    /// Host names by address, as [`Lookup::host_name`] gives them
    /// ("paranoid" included).
    pub names: HashMap<IpAddr, String>,
    /// Ident users by (client, server).
    pub users: HashMap<(SocketAddr, SocketAddr), String>,
    /// The (netgroup, host) pairs that are members.
    pub netgroups: HashSet<(String, String)>,
    /// The users and groups that exist.
    pub accounts: HashSet<(Account, String)>,
    /// A command fails (exits 1) when it contains one of these; any other succeeds.
    pub failing_commands: Vec<String>,
    /// File contents by path; any other path is not found.
    pub files: HashMap<String, Vec<u8>>,
    /// The host names and users asked for, in order.
    pub asked: Vec<Asked>,
}

impl Lookup for ScriptedLookup {
    fn host_name(
        &mut self,
        addr: SocketAddr,
        _: &mut Vec<String>,
    ) -> Result<Option<String>, WouldBlock> {
        self.asked.push(Asked::HostName(addr.ip()));
        Ok(self.names.get(&addr.ip()).cloned())
    }

    fn user(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        _: u32,
    ) -> Result<Option<String>, WouldBlock> {
        self.asked.push(Asked::User);
        Ok(self.users.get(&(client, server)).cloned())
    }

    fn in_netgroup(&mut self, netgroup: &str, host: &str) -> Result<bool, WouldBlock> {
        Ok(self
            .netgroups
            .contains(&(netgroup.to_string(), host.to_string())))
    }

    fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, WouldBlock> {
        Ok(self.accounts.contains(&(kind, name.to_string())))
    }

    /// Exits 1 when failing, as the differential driver's commands do.
    fn run_command(&mut self, command: &str) -> Result<i32, WouldBlock> {
        let fails = self
            .failing_commands
            .iter()
            .any(|part| command.contains(part.as_str()));
        Ok(i32::from(fails))
    }

    /// A missing file fails as reading it would: ENOENT.
    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Ok(self
            .files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT)))
    }
}
