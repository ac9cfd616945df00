//! What the configuration parser asks of the system: service ports, users,
//! groups, host addresses and how large an exec may be. The daemon uses [`SystemResolver`]; tests use
//! their own table.

use std::cell::{OnceCell, RefCell};

use crate::keyhash::KeyMap;
use std::net::IpAddr;

#[cfg(test)]
pub mod table;

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
    /// The number of an RPC program name or alias (/etc/rpc).
    fn rpc(&self, _name: &str) -> Option<u32> {
        None
    }
    /// The most bytes of argument and environment strings (and their
    /// pointers) that execve takes: `sysconf(_SC_ARG_MAX)`.
    fn arg_max(&self) -> usize;
    /// A variable of inetd's own environment (xinetd's `passenv`).
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Linux's ARG_MAX when sysconf cannot say: 32 pages.
const MIN_ARG_MAX: usize = 128 * 1024;

/// The real system databases, each read or asked once per name: a config
/// of hundreds of lines for one user would otherwise read the password and
/// group files hundreds of times. Make one per configuration load, so a
/// reload sees the files as they are then.
#[derive(Default)]
pub struct SystemResolver {
    services: OnceCell<String>,
    hosts: OnceCell<String>,
    rpc: OnceCell<String>,
    /// Asked once per load, not once per line.
    arg_max: OnceCell<usize>,
    users: RefCell<KeyMap<String, Option<User>>>,
    groups: RefCell<KeyMap<String, Option<u32>>>,
    group_lists: RefCell<KeyMap<(String, u32), Vec<u32>>>,
}

impl Resolver for SystemResolver {
    fn port(&self, service: &str, proto: &str) -> Option<u16> {
        let text = self.services.get_or_init(|| read_or_empty("/etc/services"));
        // The builtins' ports, for systems without /etc/services.
        services_port(text, service, proto).or_else(|| crate::builtins::port(service))
    }

    fn user(&self, name: &str) -> Option<User> {
        let mut users = self.users.borrow_mut();
        let user = users.entry(name.to_string()).or_insert_with(|| {
            let user = nix::unistd::User::from_name(name).ok()??;
            Some(User {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        });
        user.clone()
    }

    fn group(&self, name: &str) -> Option<u32> {
        let mut groups = self.groups.borrow_mut();
        *groups.entry(name.to_string()).or_insert_with(|| {
            let group = nix::unistd::Group::from_name(name).ok()??;
            Some(group.gid.as_raw())
        })
    }

    fn groups(&self, user: &str, gid: u32) -> Vec<u32> {
        let mut lists = self.group_lists.borrow_mut();
        let list = lists.entry((user.to_string(), gid)).or_insert_with(|| {
            let Ok(name) = std::ffi::CString::new(user) else {
                return vec![gid];
            };
            nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
                .map(|groups| groups.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_else(|_| vec![gid])
        });
        list.clone()
    }

    fn host(&self, name: &str) -> Vec<IpAddr> {
        let text = self.hosts.get_or_init(|| read_or_empty("/etc/hosts"));
        hosts_addrs(text, name)
    }

    fn rpc(&self, name: &str) -> Option<u32> {
        let text = self.rpc.get_or_init(|| read_or_empty("/etc/rpc"));
        rpc_program(text, name)
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn arg_max(&self) -> usize {
        *self.arg_max.get_or_init(system_arg_max)
    }
}

#[cfg(target_env = "gnu")]
fn system_arg_max() -> usize {
    // SAFETY: sysconf has no preconditions.
    let value = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    usize::try_from(value).unwrap_or(MIN_ARG_MAX)
}

/// musl's sysconf says 128 KiB whatever the kernel takes; Linux takes a
/// quarter of the stack limit, as glibc's sysconf reports.
#[cfg(not(target_env = "gnu"))]
fn system_arg_max() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) } != 0 {
        return MIN_ARG_MAX;
    }
    usize::try_from(limit.rlim_cur / 4).map_or(usize::MAX, |q| q.max(MIN_ARG_MAX))
}

fn read_or_empty(path: &str) -> String {
    crate::files::read_regular(path.as_ref())
        .map(crate::files::text)
        .unwrap_or_default()
}

/// Looks `service` (a name or alias) up in the text of /etc/services.
fn services_port(text: &str, service: &str, proto: &str) -> Option<u16> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let name = fields.next()?;
        let (port, p) = fields.next()?.split_once('/')?;
        let matches = name == service || fields.any(|alias| alias == service);
        (matches && p == proto).then(|| port.parse().ok())?
    })
}

/// The program number of `name` (a name or alias) in the text of /etc/rpc.
fn rpc_program(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let program = fields.next()?;
        let number = fields.next()?;
        let matches = program == name || fields.any(|alias| alias == name);
        matches.then(|| number.parse().ok())?
    })
}

/// Addresses of `name` (a name or alias) in the text of /etc/hosts.
pub fn hosts_addrs(text: &str, name: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let addr: IpAddr = fields.next()?.parse().ok()?;
            fields.any(|n| n.eq_ignore_ascii_case(name)).then_some(addr)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_lookup() {
        let text = "# comment\nftp\t\t21/tcp\nsunrpc\t111/udp\tportmapper rpcbind # x\n";
        assert_eq!(services_port(text, "ftp", "tcp"), Some(21));
        assert_eq!(services_port(text, "ftp", "udp"), None);
        assert_eq!(services_port(text, "rpcbind", "udp"), Some(111));
        assert_eq!(services_port(text, "x", "udp"), None);
    }

    #[test]
    fn rpc_lookup() {
        let text = "# comment\nportmapper\t100000\tportmap sunrpc\nrstatd\t100001\trstat rup # x\n";
        assert_eq!(rpc_program(text, "rstatd"), Some(100001));
        assert_eq!(rpc_program(text, "rup"), Some(100001));
        assert_eq!(rpc_program(text, "sunrpc"), Some(100000));
        assert_eq!(rpc_program(text, "x"), None);
        assert_eq!(rpc_program(text, "100001"), None);
    }

    #[test]
    fn hosts_lookup() {
        let text = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.1 box # localhost\n";
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(hosts_addrs(text, "LOCALHOST"), vec![v4, v6]);
        assert!(hosts_addrs(text, "nowhere").is_empty());
    }
}
