//! Helpers shared by the integration tests: a temporary directory, the
//! `inetd` command, and required external tools.

use std::env;
use std::fs;
use std::io::Read;
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A fresh directory under the target dir, removed on drop.
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            env::temp_dir().join(format!("inetd-test-{}-{}-{}", std::process::id(), name, n));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create test dir");
        Dir { path }
    }

    /// Writes `contents` to `name` inside the directory and returns its path.
    pub fn create(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        fs::write(&path, contents).expect("write test file");
        path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The `inetd` binary under test: `$INETD_BIN` (CI sets it to the static
/// musl build), else the one cargo built.
pub fn inetd_bin() -> PathBuf {
    env::var_os("INETD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_inetd")))
}

pub fn inetd() -> Command {
    Command::new(inetd_bin())
}

/// The `inetd` command, as root in a mount namespace of its own whose
/// /etc/resolv.conf names only 127.0.0.1 (where no name server listens),
/// so that a name lookup in an access check never leaves the machine.
fn private_resolver(dir: &Dir) -> Command {
    if !is_root() || find_in_path("unshare").is_none() {
        return inetd();
    }
    let resolv = dir.create(
        "resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    );
    let mut command = Command::new("unshare");
    command
        .args([
            "-m",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
        ])
        .arg(resolv)
        .arg(inetd_bin());
    command
}

/// A command run as root in a mount namespace of its own whose
/// /etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf are the texts
/// given (written into `dir`): the system resolver, as every program there
/// sees it, answers from them alone. `None` (with a message) unless root
/// with unshare; in CI that fails.
pub fn private_names(
    dir: &Dir,
    hosts: &str,
    resolv: &str,
    nsswitch: &str,
    program: &Path,
) -> Option<Command> {
    if !is_root() {
        if env::var("CI").is_ok_and(|v| v == "true") {
            panic!("private name databases need root (a mount namespace) in CI");
        }
        eprintln!("skipping: private name databases need root (a mount namespace)");
        return None;
    }
    if !require("unshare") || !require("mount") {
        return None;
    }
    let files = [
        dir.create("hosts", hosts),
        dir.create("resolv.conf", resolv),
        dir.create("nsswitch.conf", nsswitch),
    ];
    let mut command = Command::new("unshare");
    command
        .args(["-m", "sh", "-c"])
        .arg(
            "mount --bind \"$1\" /etc/hosts && mount --bind \"$2\" /etc/resolv.conf \
             && mount --bind \"$3\" /etc/nsswitch.conf && shift 3 && exec \"$@\"",
        )
        .arg("sh")
        .args(files)
        .arg(program);
    Some(command)
}

/// A network namespace with only loopback (up), and a mount namespace
/// with a tmpfs of its own on /run (where rpcbind keeps its socket and
/// files) and the resolv.conf of [`private_resolver`]: held by a sleeping
/// process, entered by every command of [`Netns::command`]. A daemon there
/// (rpcbind binds 0.0.0.0:111) is out of everyone else's reach. Root only.
pub struct Netns {
    holder: std::process::Child,
    _dir: Dir,
}

impl Netns {
    pub fn new() -> Netns {
        let dir = Dir::new("netns");
        let resolv = dir.create(
            "resolv.conf",
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        );
        let mut holder = Command::new("unshare")
            .args([
                "-n",
                "-m",
                "sh",
                "-c",
                "ip link set lo up && mount -t tmpfs tmpfs /run && \
                 mount --bind \"$0\" /etc/resolv.conf && echo ready && exec sleep 3600",
            ])
            .arg(resolv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start unshare");
        let mut ready = String::new();
        let stdout = holder.stdout.take().expect("holder's stdout");
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut ready);
        if ready.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!("cannot set up a network namespace");
        }
        Netns { holder, _dir: dir }
    }

    /// `program` in the namespaces (nsenter execs it: the child's pid is
    /// the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-n", "-m", "--"])
            .arg(program);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Whether an external program is on PATH. A missing tool skips the test
/// when run by hand, but fails it in CI (which sets `CI=true`).
pub fn require(tool: &str) -> bool {
    if find_in_path(tool).is_some() {
        return true;
    }
    if env::var("CI").is_ok_and(|v| v == "true") {
        panic!("required tool `{tool}` is not installed (CI must install it)");
    }
    eprintln!("skipping: `{tool}` is not installed");
    false
}

pub fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A running `inetd -d` on a config in its own directory; killed on drop.
pub struct Daemon {
    /// Holds the config, pid file and log; removed on drop (none for a
    /// daemon the test started with its own command line).
    _dir: Option<Dir>,
    pub child: std::process::Child,
    pub config: PathBuf,
    pub pidfile: PathBuf,
    pub log: PathBuf,
}

/// How long any test waits for the daemon to do something.
pub const TIMEOUT: Duration = Duration::from_secs(10);

impl Daemon {
    /// Starts inetd on `config` and waits until it has bound its sockets
    /// (it writes the pid file then).
    pub fn start(name: &str, config: &str) -> Daemon {
        Daemon::start_with(name, config, &[])
    }

    pub fn start_with(name: &str, config: &str, args: &[&str]) -> Daemon {
        Daemon::start_via(Dir::new(name), config, args, private_resolver)
    }

    /// As [`Daemon::start_with`], in a directory the test prepared, which
    /// is also the daemon's working directory.
    pub fn start_in(dir: Dir, config: &str, args: &[&str]) -> Daemon {
        Daemon::start_via(dir, config, args, private_resolver)
    }

    /// Starts inetd on `config` inside `netns` (see [`Netns`]).
    pub fn start_in_netns(netns: &Netns, name: &str, config: &str) -> Daemon {
        Daemon::start_via(Dir::new(name), config, &[], |_| netns.command(inetd_bin()))
    }

    /// Starts `command` (which runs the inetd binary) in `dir` with the
    /// test's options, config, pid file and log.
    fn start_via(
        dir: Dir,
        config: &str,
        args: &[&str],
        command: impl FnOnce(&Dir) -> Command,
    ) -> Daemon {
        let config_path = dir.create("inetd.conf", config);
        let pidfile = dir.join("inetd.pid");
        let log = dir.join("stderr.log");
        // Rule files of the test's own (none unless it writes them).
        let child = command(&dir)
            .arg("-d")
            .arg("-p")
            .arg(&pidfile)
            .arg("--allow")
            .arg(dir.join("hosts.allow"))
            .arg("--deny")
            .arg(dir.join("hosts.deny"))
            .args(args)
            .arg(&config_path)
            .current_dir(&dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create log"))
            .spawn()
            .expect("start inetd");
        let mut daemon = Daemon {
            _dir: Some(dir),
            child,
            config: config_path,
            pidfile,
            log,
        };
        daemon.wait_ready();
        daemon
    }

    fn wait_ready(&mut self) {
        let pid = self.child.id().to_string();
        wait_until("inetd to write its pid file", || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("inetd exited early ({status}):\n{}", self.log_text());
            }
            fs::read_to_string(&self.pidfile).is_ok_and(|s| s.trim() == pid)
        });
    }

    /// A daemon the test started with its own command line (in a mount
    /// namespace, with other limits...): stopped with its children on drop
    /// like any other, also when the test panics. Its files are the test's.
    pub fn adopt(child: std::process::Child) -> Daemon {
        Daemon {
            _dir: None,
            child,
            config: PathBuf::new(),
            pidfile: PathBuf::new(),
            log: PathBuf::new(),
        }
    }

    /// Waits until the daemon has written its pid to `pidfile`, which it
    /// does once its sockets are bound.
    pub fn wait_for_pidfile(&self, pidfile: &Path) {
        let pid = self.pid().to_string();
        wait_until("inetd to write its pid file", || {
            fs::read_to_string(pidfile).is_ok_and(|s| s.trim() == pid)
        });
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The directory of its config and rule files.
    fn files(&self) -> &Path {
        &self._dir.as_ref().expect("a daemon of Daemon::start").path
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Writes one of the daemon's rule files (`hosts.allow`, `hosts.deny`).
    pub fn write_rules(&self, name: &str, rules: &str) {
        fs::write(self.files().join(name), rules).expect("write rules");
    }

    /// Replaces a rule file as editors do: a new file renamed over it.
    pub fn replace_rules(&self, name: &str, rules: &str) {
        let new = self.files().join(format!("{name}.new"));
        fs::write(&new, rules).expect("write rules");
        fs::rename(&new, self.files().join(name)).expect("rename rules");
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the daemon's log contains `text`.
    pub fn wait_for_log(&self, text: &str) {
        wait_until(&format!("log line {text:?}"), || {
            self.log_text().contains(text)
        });
    }

    /// Rewrites the configuration and sends SIGHUP; waits for the reload to be logged.
    pub fn reload(&self, config: &str) {
        let before = self.log_text().matches("SIGHUP: reloading").count();
        fs::write(&self.config, config).expect("rewrite config");
        self.signal(libc::SIGHUP);
        wait_until("reload", || {
            let log = self.log_text();
            let tail = log.split("SIGHUP: reloading").nth(before + 1);
            tail.is_some_and(|t| t.contains("reloaded:") || t.contains("not reloaded"))
        });
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop(&mut self.child);
        if std::thread::panicking() {
            eprintln!("--- inetd log ---\n{}", self.log_text());
        }
    }
}

/// Kills a daemon and every child it has, by pid, and reaps it.
fn stop(child: &mut std::process::Child) {
    for pid in children_of(child.id() as i32) {
        // SAFETY: kill(2) on a process the daemon started for this test.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// The pids whose parent is `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let child: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(e.path().join("stat")).ok()?;
        let ppid: i32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == pid).then_some(child)
    })
    .collect()
}

/// Polls `condition` every few milliseconds; panics after [`TIMEOUT`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A port that is free for both TCP and UDP on `ip` right now.
pub fn free_port(ip: &str) -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((ip, 0)).expect("bind probe port");
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind((ip, port)).is_ok() {
            return port;
        }
    }
}

/// The name of the user running the tests (services run as it when not root).
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// An example program built by cargo next to the inetd binary.
pub fn example(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_inetd"));
    bin.parent().unwrap().join("examples").join(name)
}

/// Connects over TCP with the suite's timeouts.
pub fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Reads everything until the peer closes.
pub fn read_all(mut stream: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read until EOF");
    out
}

/// Sends one datagram to `addr` and returns the reply.
pub fn udp_request(addr: &str, payload: &[u8]) -> Vec<u8> {
    let local = if addr.starts_with('[') {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let socket = UdpSocket::bind(local).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.send_to(payload, addr).unwrap();
    let mut buf = vec![0; 65536];
    let (n, _) = retrying(|| socket.recv_from(&mut buf))
        .unwrap_or_else(|e| panic!("no reply from {addr}: {e}"));
    buf.truncate(n);
    buf
}

/// `call` again while a signal cuts it short: a timed socket call returns
/// EINTR for any signal the test process catches, even with SA_RESTART
/// (glibc's signal 33 reaches every thread when one changes credentials).
pub fn retrying<T>(mut call: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            done => return done,
        }
    }
}

/// Connects to `addr` from the loopback address `source` (127.0.0.2, say).
pub fn connect_from(source: &str, addr: &str) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn};
    let source: std::net::SocketAddrV4 = format!("{source}:0").parse().expect("IPv4 source");
    let target: std::net::SocketAddrV4 = addr.parse().expect("IPv4 address");
    let fd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    use std::os::fd::AsRawFd;
    socket::bind(fd.as_raw_fd(), &SockaddrIn::from(source))?;
    socket::connect(fd.as_raw_fd(), &SockaddrIn::from(target))?;
    let stream = TcpStream::from(fd);
    stream.set_read_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// Whether the peer sends anything (or closes) within `wait`.
pub fn answers_within(stream: &mut TcpStream, wait: Duration) -> bool {
    use std::io::ErrorKind;
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    let answered = loop {
        match stream.peek(&mut byte) {
            // A signal to the test process cut the wait short (see
            // `retrying`): no answer of the daemon's.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false
            }
            _ => break true,
        }
    };
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    answered
}

/// CPU time (user + system) the process has used, in clock ticks.
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    fields
        .get(11)
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
}
