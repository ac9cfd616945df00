//! Command-line options, parsed getopt-style (`-dl`, `-p FILE`, `-pFILE`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::config::Source;

pub const DEFAULT_CONFIG: &str = "/etc/inetd.conf";

pub const USAGE: &str = "\
usage: inetd [-dEefl] [-p pidfile] [-q backlog] [-N fd] [-R rate] [-c max]
             [-C rate] [-s max] [-L load] [--option value ...] [source ...]
       inetd -t [-t] [--dump] [source ...]
       inetd --to-inetd-conf --xinetd FILE
       inetd --match DAEMON[@SERVER] [USER@]CLIENT [--allow FILE] [--deny FILE]
       inetd --check-hosts [--allow FILE] [--deny FILE] [source ...]
       inetd -h | -V

  -d         debug: stay in the foreground, log verbosely to stderr
  -f         stay in the foreground, log to syslog
  -e         log to stderr instead of syslog (kept when detaching)
  -l         log every accepted connection and every child's exit
  -E         pass inetd's environment to services (default: a minimal PATH only)
  -p FILE    pid file (default /var/run/inetd.pid when detached)
  -q N       listen backlog (default 128)
  -N FD      write a newline to FD once the sockets are bound, then close it
             (s6 readiness; needs -d or -f)
  -t         check the configuration and exit; twice (or --dump) also prints the services
  source     an inetd.conf file or a directory of them (default /etc/inetd.conf);
             several are read in order
  --xinetd FILE  also read FILE in xinetd's dialect (with its include and includedir)
  --to-inetd-conf  print the --xinetd configuration as inetd.conf and hosts.allow lines
  -h, --help     this help
  -V, --version  version
  --match    explain the hosts.allow/hosts.deny decision for a client, like tcpdmatch
  --check-hosts  lint hosts.allow/hosts.deny against the configuration, like tcpdchk
  --allow FILE, --deny FILE  rule files (default /etc/hosts.allow, /etc/hosts.deny)
  --dual-stack  protocols tcp and udp mean IPv4 and IPv6 (tcp46, udp46) unless
             the address is IPv4, as in Debian's openbsd-inetd (default: IPv4)
  --no-wrap  do not check hosts.allow/hosts.deny at all (default: check every
             service but those whose program is tcpd, which checks them itself)
  --environment  give every program its client's address in the environment
             (PROTO, TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT...),
             as a line's `,env` flag does for one service
  --listen-fds   pass every wait service's socket on fd 3 too, with LISTEN_FDS,
             LISTEN_PID and LISTEN_FDNAMES (systemd style), as `,listen-fds` does
  --hard-reload  at SIGHUP, stop the children and connections of removed
             services, and the children whose client the rules now refuse

limits (0 means none):
  -R N                   spawns per minute per service, then pause it (default none;
                         a service whose children fail at once is paused anyway)
  -c N                   children per service (default none)
  -C N                   connections per minute per client, per service (default none)
  -s N                   children per client, per service (default none)
  -L LOAD                start nothing while the 1-minute load average exceeds LOAD
  --max-children N       children of all services together (default 1024)
  --retry-time SECS      how long a paused service stays paused (default 600)
  --max-builtins N       concurrent builtin TCP connections in all (default 16384,
                         and never more than the descriptor limit leaves room for)
  --builtins-per-client N  concurrent builtin TCP connections per client, per
                         service (default 32)
  --max-decisions N      access checks running in a child at once, per service
                         (default 32; in all, at most half of --max-children)
  --decisions-per-client N  access checks in a child at once per client (default 4)
  --idle-timeout SECS    close idle builtin TCP connections (default 300)
  --v6-prefix BITS       count IPv6 clients by this prefix (default 64)
  --udp-source-rate N    builtin UDP replies per second per source (default 50)
  --udp-rate N           builtin UDP replies per second in all (default 2000)
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
    /// `--to-inetd-conf`: print the xinetd sources as inetd.conf and hosts.allow lines.
    ToInetdConf,
    Help,
    Version,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub mode: Mode,
    /// The configuration's files and directories, in order.
    pub sources: Vec<Source>,
    pub debug: bool,
    pub foreground: bool,
    pub log_stderr: bool,
    pub log_connections: bool,
    pub keep_env: bool,
    pub pidfile: Option<PathBuf>,
    pub backlog: i32,
    /// `-N FD`: the descriptor told once the sockets are bound (s6 readiness).
    pub readiness_fd: Option<i32>,
    pub hosts_allow: PathBuf,
    pub hosts_deny: PathBuf,
    /// `--dual-stack`: `tcp` and `udp` mean both families (Debian's meaning).
    pub dual_stack: bool,
    /// Where relative program paths are resolved: the daemon's directory
    /// at startup, before detaching changes it (no option sets it).
    pub working_dir: Option<PathBuf>,
    /// Whether inetd checks hosts.allow/hosts.deny (`--no-wrap`: no).
    pub wrap: bool,
    /// `--environment`: every program gets its client's address.
    pub environment: bool,
    /// `--listen-fds`: every `wait` service's socket also on fd 3.
    pub listen_fds: bool,
    /// `--hard-reload`: a reload stops what it ended (xinetd's way).
    pub hard_reload: bool,
    pub limits: Limits,
}

/// The daemon-wide limits; a service's own suffix overrides the per-service ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Spawns per minute per service (`-R`).
    pub spawns_per_minute: u32,
    /// Children per service (`-c`).
    pub children_per_service: u32,
    /// Connections per minute per client (`-C`).
    pub connections_per_client: u32,
    /// Children per client (`-s`).
    pub children_per_client: u32,
    /// `-L`: no spawns above this 1-minute load average.
    pub max_load: Option<f64>,
    pub max_children: u32,
    pub retry_time: Duration,
    pub max_builtins: u32,
    /// Builtin TCP connections per client, per service.
    pub builtins_per_client: u32,
    /// Access decisions running in a child at once, per service.
    pub decisions_per_service: u32,
    /// Access decisions running in a child at once, per client.
    pub decisions_per_client: u32,
    pub idle_timeout: Duration,
    pub v6_prefix: u8,
    pub udp_source_rate: u32,
    pub udp_rate: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            spawns_per_minute: 0,
            children_per_service: 0,
            connections_per_client: 0,
            children_per_client: 0,
            max_load: None,
            max_children: 1024,
            retry_time: Duration::from_secs(600),
            max_builtins: 16_384,
            builtins_per_client: 32,
            decisions_per_service: 32,
            decisions_per_client: 4,
            idle_timeout: Duration::from_secs(300),
            v6_prefix: 64,
            udp_source_rate: 50,
            udp_rate: 2000,
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mode: Mode::Daemon,
            sources: vec![Source::Inetd(PathBuf::from(DEFAULT_CONFIG))],
            debug: false,
            foreground: false,
            log_stderr: false,
            log_connections: false,
            keep_env: false,
            pidfile: None,
            backlog: 128,
            readiness_fd: None,
            hosts_allow: PathBuf::from(DEFAULT_ALLOW),
            hosts_deny: PathBuf::from(DEFAULT_DENY),
            dual_stack: false,
            working_dir: None,
            wrap: true,
            environment: false,
            listen_fds: false,
            hard_reload: false,
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// What the configuration's reading takes from the command line.
    pub fn config_options(&self) -> crate::config::inetd::Options {
        crate::config::inetd::Options {
            dual_stack: self.dual_stack,
            working_dir: self.working_dir.clone(),
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut checks = 0;
    let mut dump = false;
    let mut sources = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument is not UTF-8: {}", a.to_string_lossy()))?;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let mut value = || -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| args.next().and_then(|v| v.into_string().ok()))
                    .ok_or_else(|| format!("option --{name} needs a value"))
            };
            let limits = &mut opts.limits;
            match name {
                "" => {
                    sources.extend(args.by_ref().map(|a| Source::Inetd(PathBuf::from(a))));
                    break;
                }
                "xinetd" => sources.push(Source::Xinetd(PathBuf::from(value()?))),
                "to-inetd-conf" => opts.mode = Mode::ToInetdConf,
                "dump" => dump = true,
                "allow" => opts.hosts_allow = PathBuf::from(value()?),
                "deny" => opts.hosts_deny = PathBuf::from(value()?),
                "check-hosts" => opts.mode = Mode::CheckHosts,
                "no-wrap" => opts.wrap = false,
                "environment" => opts.environment = true,
                "listen-fds" => opts.listen_fds = true,
                "hard-reload" => opts.hard_reload = true,
                "dual-stack" => opts.dual_stack = true,
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
                "max-children" => limits.max_children = number(name, &value()?)?,
                "retry-time" => limits.retry_time = seconds(name, &value()?)?,
                "max-builtins" => limits.max_builtins = number(name, &value()?)?,
                "builtins-per-client" => limits.builtins_per_client = number(name, &value()?)?,
                "max-decisions" => limits.decisions_per_service = number(name, &value()?)?,
                "decisions-per-client" => limits.decisions_per_client = number(name, &value()?)?,
                "idle-timeout" => limits.idle_timeout = seconds(name, &value()?)?,
                "v6-prefix" => {
                    limits.v6_prefix = number(name, &value()?)?;
                    if limits.v6_prefix > 128 {
                        return Err("--v6-prefix is at most 128".to_string());
                    }
                }
                "udp-source-rate" => limits.udp_source_rate = number(name, &value()?)?,
                "udp-rate" => limits.udp_rate = number(name, &value()?)?,
                _ => return Err(format!("unknown option --{name}")),
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
                    'p' | 'q' | 'N' | 'R' | 'c' | 'C' | 's' | 'L' => {
                        let value = if rest.is_empty() {
                            args.next()
                                .and_then(|v| v.into_string().ok())
                                .ok_or_else(|| format!("option -{flag} needs a value"))?
                        } else {
                            rest.to_string()
                        };
                        let name = flag.to_string();
                        let limits = &mut opts.limits;
                        match flag {
                            'p' => opts.pidfile = Some(PathBuf::from(value)),
                            'q' => {
                                opts.backlog = number(&name, &value)?;
                                if opts.backlog <= 0 {
                                    return Err(format!("bad backlog for -q: {value}"));
                                }
                            }
                            'N' => {
                                let fd = number(&name, &value)?;
                                // 0-2 are the daemon's own stdio, kept open.
                                if fd < 3 {
                                    return Err(format!(
                                        "bad descriptor for -N: {value} (3 or more)"
                                    ));
                                }
                                opts.readiness_fd = Some(fd);
                            }
                            'R' => limits.spawns_per_minute = number(&name, &value)?,
                            'c' => limits.children_per_service = number(&name, &value)?,
                            'C' => limits.connections_per_client = number(&name, &value)?,
                            's' => limits.children_per_client = number(&name, &value)?,
                            _ => {
                                let load: f64 = number(&name, &value)?;
                                if !(load > 0.0 && load.is_finite()) {
                                    return Err(format!("bad load for -L: {value}"));
                                }
                                limits.max_load = Some(load);
                            }
                        }
                        break;
                    }
                    _ => return Err(format!("unknown option -{flag}")),
                }
            }
        } else {
            sources.push(Source::Inetd(PathBuf::from(arg)));
        }
    }
    if !sources.is_empty() {
        opts.sources = sources;
    }
    if opts.mode == Mode::ToInetdConf
        && !opts.sources.iter().any(|s| matches!(s, Source::Xinetd(_)))
    {
        return Err("--to-inetd-conf needs --xinetd FILE".to_string());
    }
    if opts.readiness_fd.is_some() && !(opts.debug || opts.foreground) {
        // Detaching closes every inherited descriptor; and a supervisor
        // that waits for readiness keeps its daemon in the foreground.
        return Err("-N needs -f or -d".to_string());
    }
    if opts.mode == Mode::Daemon && (checks > 0 || dump) {
        opts.mode = Mode::Check {
            dump: dump || checks > 1,
        };
    }
    Ok(opts)
}

fn number<T: FromStr>(option: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("bad value for {option}: {value}"))
}

fn seconds(option: &str, value: &str) -> Result<Duration, String> {
    number(option, value).map(Duration::from_secs)
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
        assert_eq!(opts.sources, [Source::Inetd(PathBuf::from("my.conf"))]);
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
    fn limits() {
        let opts = parse_str(&[
            "-R",
            "60",
            "-c5",
            "-C",
            "10",
            "-s",
            "2",
            "-L",
            "3.5",
            "--max-children=9",
            "--retry-time",
            "2",
            "--max-builtins",
            "7",
            "--idle-timeout=1",
            "--v6-prefix",
            "48",
            "--udp-source-rate",
            "3",
            "--udp-rate",
            "4",
        ])
        .unwrap();
        let l = opts.limits;
        assert_eq!(
            (
                l.spawns_per_minute,
                l.children_per_service,
                l.connections_per_client
            ),
            (60, 5, 10)
        );
        assert_eq!(
            (l.children_per_client, l.max_load, l.max_children),
            (2, Some(3.5), 9)
        );
        assert_eq!(l.retry_time, Duration::from_secs(2));
        assert_eq!(
            (l.max_builtins, l.idle_timeout.as_secs(), l.v6_prefix),
            (7, 1, 48)
        );
        assert_eq!((l.udp_source_rate, l.udp_rate), (3, 4));
        assert!(parse_str(&["--v6-prefix", "129"]).is_err());
        assert!(parse_str(&["-L", "0"]).is_err());
        assert!(parse_str(&["-R", "-1"]).is_err());
        assert!(parse_str(&["--retry-time"]).is_err());
    }

    #[test]
    fn readiness_fd() {
        assert_eq!(parse_str(&["-f", "-N", "3"]).unwrap().readiness_fd, Some(3));
        assert_eq!(parse_str(&["-dN5"]).unwrap().readiness_fd, Some(5));
        assert!(parse_str(&["-N", "3"]).is_err());
        assert!(parse_str(&["-f", "-N", "2"]).is_err());
        assert!(parse_str(&["-f", "-N", "x"]).is_err());
        assert!(parse_str(&["-f", "-N"]).is_err());
    }

    #[test]
    fn errors() {
        assert!(parse_str(&["-x"]).is_err());
        assert!(parse_str(&["-p"]).is_err());
        assert!(parse_str(&["-q", "0"]).is_err());
        assert!(parse_str(&["-q", "many"]).is_err());
        assert!(parse_str(&["--to-inetd-conf", "a"]).is_err());
        assert!(parse_str(&["--bogus"]).is_err());
        assert!(parse_str(&["--match", "sshd"]).is_err());
        assert!(parse_str(&["--allow"]).is_err());
    }

    #[test]
    fn sources_in_order() {
        let opts =
            parse_str(&["a.conf", "--xinetd", "x.conf", "/etc/inetd.d", "--", "-odd"]).unwrap();
        assert_eq!(
            opts.sources,
            [
                Source::Inetd(PathBuf::from("a.conf")),
                Source::Xinetd(PathBuf::from("x.conf")),
                Source::Inetd(PathBuf::from("/etc/inetd.d")),
                Source::Inetd(PathBuf::from("-odd")),
            ]
        );
        // --xinetd alone replaces the default /etc/inetd.conf.
        let opts = parse_str(&["--to-inetd-conf", "--xinetd=/etc/xinetd.conf"]).unwrap();
        assert_eq!(opts.mode, Mode::ToInetdConf);
        assert_eq!(
            opts.sources,
            [Source::Xinetd(PathBuf::from("/etc/xinetd.conf"))]
        );
        assert!(parse_str(&["--xinetd"]).is_err());
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
        assert_eq!(opts.sources, [Source::Inetd(PathBuf::from("x.conf"))]);
    }
}
