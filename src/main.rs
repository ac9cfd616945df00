//! inetd: the Internet super-server.

use std::env;
use std::path::PathBuf;
use std::process::exit;

use inetd::cli::{self, Mode};
use inetd::{check, daemon, hosts, tcpd};

fn main() {
    // The daemon's own children, for access checks that may block (see `tcpd/`).
    let first = env::args_os().nth(1);
    if let Some(datagram) = first.and_then(|a| match a.to_str() {
        Some("--tcpd") => Some(false),
        Some("--tcpd-datagram") => Some(true),
        _ => None,
    }) {
        let args: Vec<String> = env::args_os()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        exit(tcpd::run(&args, datagram));
    }
    let opts = match cli::parse(env::args_os().skip(1)) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("inetd: {e}\n{}", cli::USAGE);
            exit(2);
        }
    };
    match opts.mode.clone() {
        Mode::Help => print!("{}", cli::USAGE),
        Mode::Version => println!("inetd {}", env!("CARGO_PKG_VERSION")),
        Mode::Check { dump } => exit(check::run(&opts.sources, dump, &opts.config_options())),
        Mode::ToInetdConf => exit(check::to_inetd_conf(&opts.sources)),
        Mode::Match { daemon, client } => {
            let names = check::daemon_names(&opts.sources, &opts.config_options());
            let served = names
                .as_ref()
                .zip(opts.sources.first())
                .map(|(names, source)| hosts::explain::Served {
                    config: source.path(),
                    names,
                });
            exit(hosts::explain::run(
                &daemon,
                &client,
                (&opts.hosts_allow, &opts.hosts_deny),
                served,
                &mut tcpd::system::SystemLookup,
                &mut tcpd::system::SystemResolver,
            ))
        }
        Mode::CheckHosts => exit(hosts::check::run(
            &opts.hosts_allow,
            &opts.hosts_deny,
            check::daemon_names(&opts.sources, &opts.config_options()).as_ref(),
        )),
        Mode::Daemon => exit(daemon::run(absolute_paths(opts))),
    }
}

/// The daemon's files as absolute paths: a detached daemon runs in `/`,
/// where a relative path would name another file at a reload, or when the
/// pid file is removed at exit.
fn absolute_paths(mut opts: cli::Options) -> cli::Options {
    let absolute = |path: &mut PathBuf| {
        if let Ok(abs) = std::path::absolute(&*path) {
            *path = abs;
        }
    };
    for source in &mut opts.sources {
        absolute(source.path_mut());
    }
    absolute(&mut opts.hosts_allow);
    absolute(&mut opts.hosts_deny);
    if let Some(pidfile) = opts.pidfile.as_mut() {
        absolute(pidfile);
    }
    opts
}
