//! `inetd -t`: check a configuration file like `sshd -t`.

use std::path::Path;

use crate::config;
use crate::resolve::SystemResolver;

/// Prints every rejected line (and with `dump` every service); returns the exit status.
pub fn run(path: &Path, dump: bool) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("inetd: {}: {e}", path.display());
            return 1;
        }
    };
    let (services, errors) = config::parse(&text, &path.to_string_lossy(), &SystemResolver);
    for e in &errors {
        eprintln!("{e}");
    }
    if dump {
        for s in &services {
            println!("{s:?}");
        }
    }
    i32::from(!errors.is_empty())
}
