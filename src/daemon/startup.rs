//! Starting the daemon: the descriptors and detaching, the first load of
//! the configuration, the pid file, and a new [`Daemon`] with its poll,
//! signal pipe and tables. What runs once, before the loop.

use super::*;

pub fn run(mut opts: Options) -> i32 {
    // Reloads resolve relative program paths where the first load did.
    opts.working_dir = std::env::current_dir().ok();
    let detach = !opts.debug && !opts.foreground;
    prepare_descriptors(detach);
    // The supervisor's notify socket is named in the environment; -N's
    // descriptor is taken now (it needs -d or -f: nothing closed it).
    let notifier = Notifier::from_env();
    let readiness = match opts.readiness_fd.map(ReadinessFd::take).transpose() {
        Ok(readiness) => readiness,
        Err(e) => {
            eprintln!("inetd: -N {}: {e}", opts.readiness_fd.unwrap_or_default());
            return 1;
        }
    };
    let to_stderr = opts.debug || opts.log_stderr;
    let mut log = if to_stderr {
        Log::stderr(opts.debug)
    } else {
        Log::syslog("inetd")
    };
    let services = match load(&opts, &mut log) {
        Ok(services) => services,
        Err(e) => {
            let msg = e.to_string();
            eprintln!("inetd: {msg}");
            log.err(msg);
            return 1;
        }
    };
    let pidfile_path = opts
        .pidfile
        .clone()
        .or_else(|| detach.then(|| PathBuf::from(DEFAULT_PIDFILE)));
    let pidfile = match pidfile_path.as_deref().map(Pidfile::lock).transpose() {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("{}: {e}", pidfile_path.unwrap_or_default().display());
            eprintln!("inetd: {msg}");
            log.err(msg);
            return 1;
        }
    };
    if detach {
        if let Err(e) = detach_from_terminal(opts.log_stderr) {
            eprintln!("inetd: cannot detach: {e}");
            return 1;
        }
        if !to_stderr {
            // The pid in the syslog tag changed.
            log = Log::syslog("inetd");
        }
        let _ = notifier.mainpid(std::process::id());
    }
    match Daemon::new(opts, log, pidfile, notifier, readiness) {
        Ok(mut daemon) => daemon.run(services),
        Err(e) => {
            eprintln!("inetd: {e}");
            1
        }
    }
}

/// Watches the rule files, registered with the loop; `None` (the files are
/// then stat'ed once per loop turn) when inotify is not available.
pub(super) fn watch_rules(poll: &Poll, rules: &Rules) -> Option<RuleWatch> {
    let watch = RuleWatch::new(rules.files())?;
    poll.registry()
        .register(
            &mut SourceFd(&watch.fd()),
            RULE_WATCH_TOKEN,
            mio::Interest::READABLE,
        )
        .ok()?;
    Some(watch)
}

/// Reads and parses the configuration, logging every rejected line and
/// warning. Returns the services and the number of rejected lines.
pub(super) fn load(opts: &Options, log: &mut Log) -> io::Result<(Vec<Service>, usize)> {
    let resolver = SystemResolver::default();
    let (services, errors) = config::load(&opts.sources, &resolver, &opts.config_options())?;
    let mut rejected = 0;
    for e in &errors {
        if e.is_warning() {
            log.warn(e);
        } else {
            rejected += 1;
            log.err(e);
        }
    }
    Ok((services, rejected))
}

/// daemon(3), but with `-e` stderr stays where it was (as busybox inetd
/// keeps it), so that `inetd -e 2>>FILE` logs to FILE.
pub(super) fn detach_from_terminal(keep_stderr: bool) -> io::Result<()> {
    nix::unistd::daemon(false, true)?;
    let dev_null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&dev_null)?;
    nix::unistd::dup2_stdout(&dev_null)?;
    if !keep_stderr {
        nix::unistd::dup2_stderr(&dev_null)?;
    }
    Ok(())
}

/// Keeps fds 0-2 open (on /dev/null) so no socket ever lands there, and
/// marks every inherited descriptor above them close-on-exec so none leaks
/// into services; a daemon that detaches closes them instead, as the
/// classic inetds do, so it holds no pipe or file of whoever started it.
pub(super) fn prepare_descriptors(close_inherited: bool) {
    for fd in 0..3 {
        // SAFETY: fcntl(F_GETFD) only queries; open returns a new descriptor.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: nothing of ours is open yet but read_dir's own
            // descriptor, which is gone: these are all inherited, and
            // closing or marking one that is not open is harmless.
            unsafe {
                if close_inherited {
                    libc::close(fd);
                } else {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
        }
    }
}

impl Daemon {
    pub(super) fn new(
        opts: Options,
        mut log: Log,
        pidfile: Option<Pidfile>,
        notifier: Notifier,
        readiness: Option<ReadinessFd>,
    ) -> io::Result<Daemon> {
        spawn::reset_inherited_signals();
        let nofile = spawn::raise_nofile_limit();
        let fd_limit = usize::try_from(spawn::nofile_limit()).unwrap_or(usize::MAX);
        let mut signals = SignalPipe::install()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut signals.receiver, SIGNAL_TOKEN, mio::Interest::READABLE)?;
        let env = Environment::new(if opts.keep_env {
            std::env::vars_os()
                .filter(|(k, _)| !handoff::sets(k.as_bytes()))
                .filter_map(|(k, v)| {
                    let mut entry = k.as_bytes().to_vec();
                    entry.push(b'=');
                    entry.extend_from_slice(v.as_bytes());
                    CString::new(entry).ok()
                })
                .collect()
        } else {
            vec![CString::new(SERVICE_PATH).expect("no NUL")]
        });
        let now = Instant::now();
        let replies = ReplyLimiter::new(
            now,
            opts.limits.udp_source_rate,
            opts.limits.udp_rate,
            REPLY_SOURCES,
        );
        let rules = Rules::load(&opts.hosts_allow, &opts.hosts_deny);
        for warning in rules.load_warnings() {
            log.warn(warning);
        }
        let rule_watch = watch_rules(&poll, &rules);
        let next_watchdog = notifier.watchdog_interval().map(|every| now + every);
        // Close-on-exec, as std opens every file.
        let dev_null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        Ok(Daemon {
            rules,
            rule_watch,
            rules_dirty: true,
            dev_null,
            opts,
            log,
            pidfile,
            poll,
            signals,
            spawner: Spawner::new(nofile)?,
            env,
            services: Vec::new(),
            listeners: Vec::new(),
            next_service_id: 0,
            sessions: Slots::default(),
            unsent: UnsentPool::new(builtins::UNSENT_POOL),
            starved: Vec::new(),
            record_files: HashMap::new(),
            relays: Slots::default(),
            children: Children::default(),
            decisions: DecisionTable::default(),
            ready: VecDeque::new(),
            blocked: Vec::new(),
            resources_paused: false,
            replies,
            internal_dgram_ports: Vec::new(),
            next_idle_sweep: now,
            scratch: LazyPages::new(64 * 1024)?,
            replies_sent: [0; builtins::TABLE.len()],
            user_names: builtins::ident::UserNames::default(),
            fd_limit,
            now,
            notifier,
            readiness,
            next_watchdog,
            rpc: Registrar::default(),
            shed_loading_code_by: None,
            terminate: false,
        })
    }
}
