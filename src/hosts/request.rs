//! What a decision is asked about and what it may ask: the connection
//! ([`Request`]), the [`Lookup`] that answers names, users, netgroups,
//! accounts, commands and files (or says it would block), and what a
//! decision stopped at when it would have blocked ([`Need`]). A leaf: it
//! imports nothing of the engine.

use std::io;
use std::net::{IpAddr, SocketAddr};

/// The connection being decided.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// What tcpd would see as argv[0]'s basename (or the builtin's service name).
    pub daemon: &'a str,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The pid `%p` expands to: the child's. `None` in the parent.
    pub pid: Option<u32>,
}

/// What a caller knows before a decision, as tcpdmatch does: the names it
/// looked up beforehand, the user it was given, and the endpoints it has
/// no address for (tcpdmatch's `unknown` and `paranoid` clients, a server
/// not named). The daemon knows nothing beforehand: `Known::default()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Known {
    pub client_name: Option<String>,
    pub server_name: Option<String>,
    pub user: Option<String>,
    /// The client's address is unknown (`%a` is "unknown").
    pub no_client_addr: bool,
    /// The server endpoint is unknown: no address, no port (port patterns never match).
    pub no_server: bool,
}

/// One end of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Client,
    Server,
}

/// What a decision had to stop at because answering would block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    ClientName,
    ServerName,
    User,
    Netgroup,
    Account,
    Command,
    File,
    Pid,
}

/// A [`Lookup`] answer that is not available without blocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WouldBlock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    User,
    Group,
}

/// Everything a decision may need to ask the system.
pub trait Lookup {
    /// The host name of `addr` as tcpd trusts it (see [`super::verify`]):
    /// the name when the reverse and forward lookups agree, "paranoid" when
    /// they do not (with libwrap's warning in `warnings`), `None` if none.
    fn host_name(
        &mut self,
        addr: SocketAddr,
        warnings: &mut Vec<String>,
    ) -> Result<Option<String>, WouldBlock>;
    /// The client's user name by RFC 931 (ident), `None` if unknown.
    fn user(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        timeout_secs: u32,
    ) -> Result<Option<String>, WouldBlock>;
    fn in_netgroup(&mut self, netgroup: &str, host: &str) -> Result<bool, WouldBlock>;
    fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, WouldBlock>;
    /// Runs an `aclexec` command with /bin/sh; its exit status (0: success).
    fn run_command(&mut self, command: &str) -> Result<i32, WouldBlock>;
    /// Reads a `banners` file.
    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock>;
}

/// The parent's lookup: answers nothing, so a decision never blocks.
pub struct NoLookup;

impl Lookup for NoLookup {
    fn host_name(
        &mut self,
        _: SocketAddr,
        _: &mut Vec<String>,
    ) -> Result<Option<String>, WouldBlock> {
        Err(WouldBlock)
    }
    fn user(&mut self, _: SocketAddr, _: SocketAddr, _: u32) -> Result<Option<String>, WouldBlock> {
        Err(WouldBlock)
    }
    fn in_netgroup(&mut self, _: &str, _: &str) -> Result<bool, WouldBlock> {
        Err(WouldBlock)
    }
    fn account_exists(&mut self, _: Account, _: &str) -> Result<bool, WouldBlock> {
        Err(WouldBlock)
    }
    fn run_command(&mut self, _: &str) -> Result<i32, WouldBlock> {
        Err(WouldBlock)
    }
    fn read_file(&mut self, _: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Err(WouldBlock)
    }
}

/// The name is neither "unknown" nor "paranoid" (what a [`Lookup`] and
/// libwrap say when there is no name to trust).
pub fn hostname_known(name: &str) -> bool {
    !name.eq_ignore_ascii_case("unknown") && !name.eq_ignore_ascii_case("paranoid")
}

/// An address as libwrap prints it (glibc inet_ntop: `::1.2.3.4` and
/// `::ffff:1.2.3.4` keep their dotted tail).
pub fn addr_string(addr: IpAddr) -> String {
    if let IpAddr::V6(v6) = addr {
        let s = v6.segments();
        if s[..6] == [0; 6] && s[6] != 0 {
            let o = v6.octets();
            return format!("::{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
        }
    }
    addr.to_string()
}
