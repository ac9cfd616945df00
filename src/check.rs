//! `inetd -t`: check a configuration file like `sshd -t`; and the daemon
//! names of a configuration, for `--check-hosts`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::config::{self, Service};
use crate::resolve::SystemResolver;

/// Prints every rejected line and warning on stderr (and with `dump` every
/// service on stdout, see [`config::Service::dump_line`]); returns the exit
/// status: 1 when a line was rejected or the file is unreadable, warnings aside.
pub fn run(path: &Path, dump: bool, options: &config::inetd::Options) -> i32 {
    let (services, errors) = match config::load(path, &SystemResolver::default(), options) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("inetd: {}: cannot read configuration: {e}", path.display());
            return 1;
        }
    };
    for e in &errors {
        eprintln!("{e}");
    }
    if dump {
        for service in &services {
            println!("{}", service.dump_line());
        }
    }
    i32::from(errors.iter().any(|e| !e.is_warning()))
}

/// The daemon names `--check-hosts` holds daemon patterns against: what
/// tcpd sees as the daemon of each service of the configuration at
/// `path`. `None` when it cannot be read or serves nothing, so that no
/// name is reported as unknown.
pub fn daemon_names(path: &Path, options: &config::inetd::Options) -> Option<BTreeSet<String>> {
    let (services, _) = config::load(path, &SystemResolver::default(), options).ok()?;
    Some(access_names(&services)).filter(|d| !d.is_empty())
}

fn access_names(services: &[Service]) -> BTreeSet<String> {
    services.iter().map(Service::access_name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Builtin, Listen, Program};
    use std::path::PathBuf;

    fn service(name: &str, program: Program) -> Service {
        let listen = Listen::Unix {
            path: PathBuf::from("/run/x"),
            perms: crate::config::SocketPerms {
                owner: None,
                mode: crate::config::DEFAULT_SOCKET_MODE,
            },
        };
        Service::for_test(name, listen, program)
    }

    fn external(path: &str, argv: &[&str]) -> Program {
        Program::External {
            path: PathBuf::from(path),
            argv: argv.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn daemon_names_as_tcpd_sees_them() {
        let services = [
            service("echo", Program::Builtin(Builtin::Echo)),
            service(
                "telnet",
                external("/usr/sbin/tcpd", &["/usr/sbin/in.telnetd"]),
            ),
            service("ftp", external("/usr/sbin/in.ftpd", &["ftpd", "-l"])),
            // `internal echo` on another port is still matched as echo.
            service("7000", Program::Builtin(Builtin::Echo)),
            service("daytime", Program::Builtin(Builtin::Daytime)),
        ];
        let names: Vec<_> = access_names(&services).into_iter().collect();
        assert_eq!(names, ["daytime", "echo", "ftpd", "in.telnetd"]);
    }
}
