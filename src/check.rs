//! `inetd -t`: check a configuration file like `sshd -t`.

use std::path::Path;

use crate::config;
use crate::resolve::SystemResolver;

/// Prints every rejected line and warning on stderr (and with `dump` every
/// service on stdout, see [`config::Service::dump_line`]); returns the exit
/// status: 1 when a line was rejected or the file is unreadable, warnings aside.
pub fn run(path: &Path, dump: bool) -> i32 {
    let (services, errors) = match config::load(path, &SystemResolver::default()) {
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
