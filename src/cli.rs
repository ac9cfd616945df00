//! Command-line options, parsed getopt-style (`-dl`, `-p FILE`, `-pFILE`).

use std::ffi::OsString;
use std::path::PathBuf;

pub const DEFAULT_CONFIG: &str = "/etc/inetd.conf";

pub const USAGE: &str = "\
usage: inetd [-dEefl] [-p pidfile] [-q backlog] [config]
       inetd -t [-t] [--dump] [config]
       inetd --match DAEMON[@SERVER] [USER@]CLIENT [--allow FILE] [--deny FILE]
       inetd --check-hosts [--allow FILE] [--deny FILE] [config]
       inetd -h | -V

  -d         debug: stay in the foreground, log verbosely to stderr
  -f         stay in the foreground, log to syslog
  -e         log to stderr instead of syslog
  -l         log every accepted connection
  -E         pass inetd's environment to services (default: a minimal PATH only)
  -p FILE    pid file (default /var/run/inetd.pid when detached)
  -q N       listen backlog (default 128)
  -t         check the configuration and exit; twice (or --dump) also prints the services
  -h         this help
  -V         version
  --match    explain the hosts.allow/hosts.deny decision for a client, like tcpdmatch
  --check-hosts  lint hosts.allow/hosts.deny against the configuration, like tcpdchk
  --allow FILE, --deny FILE  rule files (default /etc/hosts.allow, /etc/hosts.deny)
";

pub const DEFAULT_ALLOW: &str = "/etc/hosts.allow";
pub const DEFAULT_DENY: &str = "/etc/hosts.deny";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Daemon,
    /// `-t`: check the configuration; `dump` also prints every service.
    Check {
        dump: bool,
    },
    /// `--match`: explain the TCP wrappers decision for a daemon and client.
    Match {
        daemon: String,
        client: String,
    },
    /// `--check-hosts`: lint the TCP wrappers rule files.
    CheckHosts,
    Help,
    Version,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub config: PathBuf,
    pub debug: bool,
    pub foreground: bool,
    pub log_stderr: bool,
    pub log_connections: bool,
    pub keep_env: bool,
    pub pidfile: Option<PathBuf>,
    pub backlog: i32,
    pub hosts_allow: PathBuf,
    pub hosts_deny: PathBuf,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mode: Mode::Daemon,
            config: PathBuf::from(DEFAULT_CONFIG),
            debug: false,
            foreground: false,
            log_stderr: false,
            log_connections: false,
            keep_env: false,
            pidfile: None,
            backlog: 128,
            hosts_allow: PathBuf::from(DEFAULT_ALLOW),
            hosts_deny: PathBuf::from(DEFAULT_DENY),
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut checks = 0;
    let mut dump = false;
    let mut config = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument is not UTF-8: {}", a.to_string_lossy()))?;
        if let Some(long) = arg.strip_prefix("--") {
            match long {
                "" => {
                    config = args.next().map(PathBuf::from);
                    break;
                }
                "dump" => dump = true,
                "allow" | "deny" => {
                    let file = args
                        .next()
                        .map(PathBuf::from)
                        .ok_or_else(|| format!("option --{long} needs a file"))?;
                    if long == "allow" {
                        opts.hosts_allow = file;
                    } else {
                        opts.hosts_deny = file;
                    }
                }
                "check-hosts" => opts.mode = Mode::CheckHosts,
                "match" => {
                    let mut operand = || {
                        args.next()
                            .and_then(|a| a.into_string().ok())
                            .ok_or_else(|| {
                                "--match needs DAEMON[@SERVER] and [USER@]CLIENT".to_string()
                            })
                    };
                    let daemon = operand()?;
                    let client = operand()?;
                    opts.mode = Mode::Match { daemon, client };
                }
                "help" => opts.mode = Mode::Help,
                "version" => opts.mode = Mode::Version,
                _ => return Err(format!("unknown option --{long}")),
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            let flags = &arg[1..];
            for (i, flag) in flags.char_indices() {
                let rest = &flags[i + flag.len_utf8()..];
                match flag {
                    'd' => opts.debug = true,
                    'f' => opts.foreground = true,
                    'e' => opts.log_stderr = true,
                    'l' => opts.log_connections = true,
                    'E' => opts.keep_env = true,
                    't' => checks += 1,
                    'h' => opts.mode = Mode::Help,
                    'V' => opts.mode = Mode::Version,
                    'p' | 'q' => {
                        let value = if rest.is_empty() {
                            args.next()
                                .and_then(|v| v.into_string().ok())
                                .ok_or_else(|| format!("option -{flag} needs a value"))?
                        } else {
                            rest.to_string()
                        };
                        if flag == 'p' {
                            opts.pidfile = Some(PathBuf::from(value));
                        } else {
                            opts.backlog = value
                                .parse()
                                .ok()
                                .filter(|&n: &i32| n > 0)
                                .ok_or_else(|| format!("bad backlog for -q: {value}"))?;
                        }
                        break;
                    }
                    _ => return Err(format!("unknown option -{flag}")),
                }
            }
        } else if config.is_none() {
            config = Some(PathBuf::from(arg));
        } else {
            return Err(format!("unexpected argument {arg}"));
        }
    }
    if let Some(config) = config {
        opts.config = config;
    }
    if opts.mode == Mode::Daemon && (checks > 0 || dump) {
        opts.mode = Mode::Check {
            dump: dump || checks > 1,
        };
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults() {
        let opts = parse_str(&[]).unwrap();
        assert_eq!(opts, Options::default());
    }

    #[test]
    fn clustered_flags_and_values() {
        let opts = parse_str(&["-dl", "-p/tmp/x.pid", "-q", "5", "my.conf"]).unwrap();
        assert!(opts.debug && opts.log_connections);
        assert_eq!(opts.pidfile, Some(PathBuf::from("/tmp/x.pid")));
        assert_eq!(opts.backlog, 5);
        assert_eq!(opts.config, PathBuf::from("my.conf"));
    }

    #[test]
    fn check_modes() {
        assert_eq!(
            parse_str(&["-t"]).unwrap().mode,
            Mode::Check { dump: false }
        );
        assert_eq!(
            parse_str(&["-tt"]).unwrap().mode,
            Mode::Check { dump: true }
        );
        assert_eq!(
            parse_str(&["-t", "-t"]).unwrap().mode,
            Mode::Check { dump: true }
        );
        assert_eq!(
            parse_str(&["--dump"]).unwrap().mode,
            Mode::Check { dump: true }
        );
    }

    #[test]
    fn errors() {
        assert!(parse_str(&["-x"]).is_err());
        assert!(parse_str(&["-p"]).is_err());
        assert!(parse_str(&["-q", "0"]).is_err());
        assert!(parse_str(&["-q", "many"]).is_err());
        assert!(parse_str(&["a", "b"]).is_err());
        assert!(parse_str(&["--bogus"]).is_err());
        assert!(parse_str(&["--match", "sshd"]).is_err());
        assert!(parse_str(&["--allow"]).is_err());
    }

    #[test]
    fn hosts_modes() {
        let opts = parse_str(&[
            "--match",
            "sshd@h",
            "joe@10.0.0.1",
            "--allow",
            "a",
            "--deny",
            "d",
        ])
        .unwrap();
        let expected = Mode::Match {
            daemon: "sshd@h".to_string(),
            client: "joe@10.0.0.1".to_string(),
        };
        assert_eq!(opts.mode, expected);
        assert_eq!(opts.hosts_allow, PathBuf::from("a"));
        assert_eq!(opts.hosts_deny, PathBuf::from("d"));
        let opts = parse_str(&["--check-hosts", "x.conf"]).unwrap();
        assert_eq!(opts.mode, Mode::CheckHosts);
        assert_eq!(opts.config, PathBuf::from("x.conf"));
    }
}
