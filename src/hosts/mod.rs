//! TCP wrappers built in: hosts.allow / hosts.deny decided exactly as
//! Debian's libwrap 7.6.q does when tcpd calls hosts_access().
//!
//! The daemon's use: [`Rules::load`] once (and again when
//! [`Rules::is_stale`]); per connection, [`Rules::decide`] in the parent with
//! [`NoLookup`], which never blocks. On [`Decision::NeedsLookup`], fork and
//! decide again in the child with a [`SystemLookup`]. A decided [`Outcome`]
//! lists the options to carry out in the child with [`apply_options`];
//! a refusal is logged with [`Outcome::refused_message`] at
//! [`Outcome::deny_severity`].

mod apply;
mod banner;
pub mod check;
#[cfg(test)]
mod differential;
mod eval;
mod expand;
pub mod explain;
mod lookup;
mod options;
mod parse;
mod pattern;
mod system;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use apply::apply_options;
pub use lookup::HostsFileLookup;
pub use system::SystemLookup;

use eval::HostLists;
use parse::Table;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Account {
    User,
    Group,
}

/// Everything a decision may need to ask the system.
pub trait Lookup {
    /// The host name of `addr` as tcpd trusts it: the name when the reverse
    /// and forward lookups agree, "paranoid" when they do not, `None` if none.
    fn host_name(&mut self, addr: IpAddr) -> Result<Option<String>, WouldBlock>;
    /// The client's user name by RFC 931 (ident), `None` if unknown.
    fn user(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        timeout_secs: u32,
    ) -> Result<Option<String>, WouldBlock>;
    fn in_netgroup(&mut self, netgroup: &str, host: &str) -> Result<bool, WouldBlock>;
    fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, WouldBlock>;
    /// Runs an `aclexec` command with /bin/sh; true if it exits 0.
    fn run_command(&mut self, command: &str) -> Result<bool, WouldBlock>;
    /// Reads a `banners` file.
    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock>;
}

/// The parent's lookup: answers nothing, so a decision never blocks.
pub struct NoLookup;

impl Lookup for NoLookup {
    fn host_name(&mut self, _: IpAddr) -> Result<Option<String>, WouldBlock> {
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
    fn run_command(&mut self, _: &str) -> Result<bool, WouldBlock> {
        Err(WouldBlock)
    }
    fn read_file(&mut self, _: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Err(WouldBlock)
    }
}

/// A rule's place, `file:line`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub file: String,
    pub line: usize,
}

impl RuleRef {
    fn new(file: &str, line: usize) -> RuleRef {
        RuleRef {
            file: file.to_string(),
            line,
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// An option of the matched rule(s), expanded, in the order libwrap runs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOption {
    /// Run with /bin/sh, stdio on /dev/null, and wait.
    Spawn(String),
    /// Run with /bin/sh on the connection instead of the service.
    Twist(String),
    Setenv(String, String),
    Umask(u32),
    Nice(i32),
    Keepalive,
    /// SO_LINGER seconds (0 turns lingering off).
    Linger(i32),
    /// The rendered banner to write to the client.
    Banners(Vec<u8>),
    /// Already done while deciding: the user lookup and its timeout.
    Rfc931(u32),
    /// Checked only: libwrap in tcpd never switches user or group.
    User(String),
    Group(String),
    /// A syslog priority for the connection log line.
    Severity(i32),
    /// Already run while deciding.
    Aclexec(String),
}

/// A decided request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The rule that decided, if any (none: no rule matched, or a faulty file).
    pub rule: Option<RuleRef>,
    pub options: Vec<RuleOption>,
    /// The syslog priority set by a `severity` option.
    pub severity: Option<i32>,
    /// The client as libwrap logs it (`user@host`, the name, or the address).
    pub client: String,
    /// libwrap's warnings and errors, `file:line: message`.
    pub warnings: Vec<String>,
}

impl Outcome {
    /// The line tcpd logs when it refuses a connection.
    pub fn refused_message(&self) -> String {
        format!("refused connect from {}", self.client)
    }

    /// The priority of the refusal line: tcpd's LOG_WARNING unless `severity` says otherwise.
    pub fn deny_severity(&self) -> i32 {
        self.severity.unwrap_or(libc::LOG_WARNING)
    }

    /// The twist command, which replaces the service.
    pub fn twist(&self) -> Option<&str> {
        self.options.iter().find_map(|o| match o {
            RuleOption::Twist(cmd) => Some(cmd.as_str()),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Granted(Outcome),
    Denied(Outcome),
    /// Decide again where blocking is allowed (in the child).
    NeedsLookup(Need),
}

/// What identifies a file's version, for reloading.
type Stamp = Option<(i64, i64, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.mtime(), m.mtime_nsec(), m.size(), m.ino()))
}

/// Both rule files and the host lists they name, read once.
#[derive(Clone, Debug)]
pub struct Rules {
    allow: Table,
    deny: Table,
    host_lists: HostLists,
    stamps: Vec<(PathBuf, Stamp)>,
}

impl Rules {
    pub fn load(allow: &Path, deny: &Path) -> Rules {
        let mut stamps = vec![
            (allow.to_path_buf(), stamp(allow)),
            (deny.to_path_buf(), stamp(deny)),
        ];
        let (allow, deny) = (Table::load(allow), Table::load(deny));
        let host_lists = lookup::load_host_lists(&[&allow, &deny], &mut stamps);
        Rules {
            allow,
            deny,
            host_lists,
            stamps,
        }
    }

    /// The files the rules were read from: both rule files and host lists.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.stamps.iter().map(|(path, _)| path.as_path())
    }

    /// Whether a file changed since [`Rules::load`] (a stat per file, no reading).
    pub fn is_stale(&self) -> bool {
        self.stamps.iter().any(|(path, old)| stamp(path) != *old)
    }

    /// Whether every request is granted with no options: both files are
    /// empty (or missing) and were read without fault. The daemon then
    /// skips the decision entirely.
    pub fn grants_all(&self) -> bool {
        [&self.allow, &self.deny]
            .iter()
            .all(|t| t.entries.is_empty() && t.fault.is_none())
    }

    /// What the daemon logs after a load: on a build without netgroups,
    /// each `@group` pattern, which never matches there.
    pub fn load_warnings(&self) -> Vec<String> {
        let Some(why) = lookup::NETGROUPS_UNSUPPORTED else {
            return Vec::new();
        };
        [&self.allow, &self.deny]
            .iter()
            .flat_map(|table| check::lint(table, None))
            .filter(|message| message.ends_with(why))
            .collect()
    }

    pub fn decide(&self, request: &Request, lookup: &mut dyn Lookup) -> Decision {
        eval::decide([&self.allow, &self.deny], &self.host_lists, request, lookup)
    }
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

#[cfg(test)]
mod tests;
