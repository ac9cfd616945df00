//! `inetd -t`: check a configuration file like `sshd -t`; and the daemon
//! names of a configuration, for `--check-hosts`.

use std::collections::BTreeSet;

use crate::config::{self, Service, Source};
use crate::resolve::SystemResolver;

/// Prints every rejected line and warning on stderr (and with `dump` every
/// service on stdout, see [`config::Service::dump_line`]); returns the exit
/// status: 1 when a line was rejected or the file is unreadable, warnings aside.
pub fn run(sources: &[Source], dump: bool, options: &config::inetd::Options) -> i32 {
    let (services, errors) = match config::load(sources, &SystemResolver::default(), options) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("inetd: {e}");
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
/// tcpd sees as the daemon of each service of the configuration's
/// `sources`. `None` when it cannot be read or serves nothing, so that no
/// name is reported as unknown.
pub fn daemon_names(
    sources: &[Source],
    options: &config::inetd::Options,
) -> Option<BTreeSet<String>> {
    let (services, _) = config::load(sources, &SystemResolver::default(), options).ok()?;
    Some(access_names(&services)).filter(|d| !d.is_empty())
}

/// `inetd --to-inetd-conf`: the xinetd sources as inetd.conf and
/// hosts.allow lines on stdout, diagnostics on stderr; the exit status of `-t`.
pub fn to_inetd_conf(sources: &[Source]) -> i32 {
    let resolver = SystemResolver::default();
    let mut status = 0;
    for source in sources {
        let Source::Xinetd(path) = source else {
            continue;
        };
        let parsed = match config::sources::load_xinetd(path, &resolver) {
            Ok(parsed) => parsed,
            Err(e) => {
                eprintln!("inetd: {e}");
                return 1;
            }
        };
        for e in &parsed.errors {
            eprintln!("{e}");
        }
        if parsed.errors.iter().any(|e| !e.is_warning()) {
            status = 1;
        }
        print!(
            "{}",
            config::xinetd::convert::convert(&parsed, &path.to_string_lossy(), &resolver)
        );
    }
    status
}

fn access_names(services: &[Service]) -> BTreeSet<String> {
    services
        .iter()
        .map(|s| s.access_name().to_string())
        .collect()
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
        Program::external(
            PathBuf::from(path),
            argv.iter().map(|s| s.to_string()).collect(),
        )
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
