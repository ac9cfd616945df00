//! Load generator for the inetd benchmark (bench/run.sh).
//!
//! One thread, one epoll set, many non-blocking sockets: the generator costs
//! far less per connection than any super-server it measures (check it
//! against bench/refserver.c). Every load loop is bounded by a count AND a
//! duration, and only talks to the address it is given (the scripts give it
//! loopback addresses only).
//!
//! Modes (each prints one line of `key=value` results on stdout):
//!
//!   tx      whole transactions: connect, send, read the reply, close
//!   rr      round trips over persistent connections
//!   stream  read throughput of one connection (chargen)
//!   udp     datagram request/reply with N requests in flight
//!   idle    open N connections, do one echo on each, hold them
//!   spawn   start a daemon, time until it answers, then supervise it
//!   hup     send SIGHUP, time until a service answers
//!   mem     memory of a process and its descendants
//!   report  medians and ratios of a results file, as a Markdown table
//!
//! Run `loadgen help` for the options.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::RawFd;
use std::process;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: loadgen MODE [options]
common:   --addr HOST:PORT  --duration SECS (default 2)  --count N (default 1000000)
          --timeout-ms MS   per-operation timeout (default 3000)
          --cpu-pid PID     also report the CPU time of PID and its reaped children per operation
tx:       --conc N  --send N (bytes of request)  --shutdown (SHUT_WR after the request)
          --expect N (reply bytes that end a transaction; default: read to EOF)
          --min N (fewest bytes a read-to-EOF reply may have, default 1)
          --echo-check (the reply must equal the request)
          --spread N (source addresses 127.0.0.2..N+1; default 0 = 127.0.0.1 only. Daemons
            that look up client names (libwrap) resolve 127.0.0.1 from /etc/hosts, the others maybe not)
          --linger0 (close with RST, no TIME_WAIT)
          --hup-pid PID --hups N --hup-interval-ms MS [--hup-files CONF A B] (SIGHUP during the load,
            writing A and B in turn to CONF before each)
rr:       --conc N  --send N
stream:   (reads one connection for --duration seconds or --count bytes)
udp:      --inflight N  --send N  --echo-check
idle:     --conns N  --hold SECS  --ready-file FILE (written once all are open)
spawn:    --pidfile FILE --out FILE [--probe-send N] --timeout-ms MS -- CMD ARGS...
hup:      --pid PID  (SIGHUP, then probe --addr until a reply of >= 1 byte)
mem:      --pid PID [--list] (--list: also its descendants, one PID:STARTTIME a line)
kill:     (stdin: PID:STARTTIME items) SIGTERM to each that is still that process
probe:    --addr HOST:PORT (exit 0 when one connection gets an answer)
report:   RESULTS.tsv [--base NAME] [--order a,b,c]
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprint!("{USAGE}");
        process::exit(2);
    }
    let mode = args[0].clone();
    let opts = match Opts::parse(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("loadgen: {e}\n{USAGE}");
            process::exit(2);
        }
    };
    raise_nofile();
    let r = match mode.as_str() {
        "tx" => run_tcp(&opts, false),
        "rr" => run_tcp(&opts, true),
        "stream" => run_stream(&opts),
        "udp" => run_udp(&opts),
        "idle" => run_idle(&opts),
        "spawn" => run_spawn(&opts),
        "hup" => run_hup(&opts),
        "mem" => run_mem(&opts),
        "kill" => run_kill(),
        "probe" => {
            // Exit status only: 0 when the service answers one attempt.
            let sa = opts.addr().unwrap_or_else(|e| {
                eprintln!("loadgen probe: {e}");
                process::exit(2)
            });
            process::exit(
                if probe_once(&sa, opts.probe_send, Duration::from_millis(300)) {
                    0
                } else {
                    1
                },
            )
        }
        "report" => run_report(&opts),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown mode {mode}")),
    };
    if let Err(e) = r {
        eprintln!("loadgen {mode}: {e}");
        process::exit(1);
    }
}

// ---------------------------------------------------------------- options

#[derive(Default)]
struct Opts {
    addr: Option<SocketAddr>,
    duration: f64,
    count: u64,
    timeout: Duration,
    conc: usize,
    send: usize,
    shutdown: bool,
    expect: Option<usize>,
    min: usize,
    echo_check: bool,
    spread: u32,
    linger0: bool,
    hup_pid: Option<i32>,
    hups: u32,
    hup_interval: Duration,
    hup_files: Option<(String, String, String)>,
    hold: f64,
    ready_file: Option<String>,
    pidfile: Option<String>,
    out: Option<String>,
    probe_send: usize,
    pid: Option<i32>,
    list: bool,
    cpu_pid: Option<i32>,
    base: Option<String>,
    order: Vec<String>,
    rest: Vec<String>,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            duration: 2.0,
            count: 1_000_000,
            timeout: Duration::from_millis(3000),
            conc: 1,
            min: 1,
            spread: 0,
            hup_interval: Duration::from_millis(20),
            hold: 30.0,
            probe_send: 1,
            ..Opts::default()
        };
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            let mut val = || -> Result<String, String> {
                i += 1;
                args.get(i).cloned().ok_or(format!("{a} needs a value"))
            };
            fn num<T: std::str::FromStr>(s: String) -> Result<T, String> {
                s.parse().map_err(|_| format!("bad number {s}"))
            }
            match a {
                "--addr" => {
                    let v = val()?;
                    let sa = v
                        .to_socket_addrs()
                        .map_err(|e| format!("{v}: {e}"))?
                        .next()
                        .ok_or(format!("{v}: no address"))?;
                    if !sa.ip().is_loopback() {
                        return Err(format!("{v}: only loopback targets are allowed"));
                    }
                    o.addr = Some(sa);
                }
                "--duration" => o.duration = num(val()?)?,
                "--count" => o.count = num(val()?)?,
                "--timeout-ms" => o.timeout = Duration::from_millis(num(val()?)?),
                "--conc" | "--inflight" | "--conns" => o.conc = num(val()?)?,
                "--send" => o.send = num(val()?)?,
                "--shutdown" => o.shutdown = true,
                "--expect" => o.expect = Some(num(val()?)?),
                "--min" => o.min = num(val()?)?,
                "--echo-check" => o.echo_check = true,
                "--spread" => o.spread = num(val()?)?,
                "--linger0" => o.linger0 = true,
                "--hup-pid" => o.hup_pid = Some(num(val()?)?),
                "--hups" => o.hups = num(val()?)?,
                "--hup-interval-ms" => o.hup_interval = Duration::from_millis(num(val()?)?),
                "--hup-files" => o.hup_files = Some((val()?, val()?, val()?)),
                "--hold" => o.hold = num(val()?)?,
                "--ready-file" => o.ready_file = Some(val()?),
                "--pidfile" => o.pidfile = Some(val()?),
                "--out" => o.out = Some(val()?),
                "--probe-send" => o.probe_send = num(val()?)?,
                "--pid" => o.pid = Some(num(val()?)?),
                "--list" => o.list = true,
                "--cpu-pid" => o.cpu_pid = Some(num(val()?)?),
                "--base" => o.base = Some(val()?),
                "--order" => o.order = val()?.split(',').map(str::to_string).collect(),
                "--" => {
                    o.rest.extend(args[i + 1..].iter().cloned());
                    break;
                }
                _ if !a.starts_with("--") => o.rest.push(a.to_string()),
                _ => return Err(format!("unknown option {a}")),
            }
            i += 1;
        }
        if o.conc == 0 {
            return Err("concurrency must be at least 1".into());
        }
        // Hard caps: every loop stops by itself.
        o.duration = o.duration.clamp(0.0, 600.0);
        o.hold = o.hold.clamp(0.0, 600.0);
        Ok(o)
    }

    fn addr(&self) -> Result<SocketAddr, String> {
        self.addr.ok_or_else(|| "--addr is required".to_string())
    }
}

fn raise_nofile() {
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            let want = 200_000.max(rl.rlim_cur);
            let new = libc::rlimit {
                rlim_cur: want,
                rlim_max: want.max(rl.rlim_max),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) != 0 {
                rl.rlim_cur = rl.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            }
        }
    }
}

// ---------------------------------------------------------------- sockets

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn sockaddr(sa: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match sa {
        SocketAddr::V4(a) => {
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn setopt(fd: RawFd, level: i32, name: i32, val: i32) {
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &val as *const i32 as *const libc::c_void,
            4,
        );
    }
}

/// A non-blocking socket with a connect under way (or done, or failed:
/// Err(errno) when connect failed at once).
fn start_connect(sa: &SocketAddr, ty: i32, src: Option<Ipv4Addr>) -> Result<RawFd, i32> {
    let dom = if sa.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let fd = unsafe { libc::socket(dom, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    if ty == libc::SOCK_STREAM {
        setopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
    }
    if let Some(ip) = src {
        setopt(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1);
        let (ss, len) = sockaddr(&SocketAddr::new(IpAddr::V4(ip), 0));
        if unsafe { libc::bind(fd, &ss as *const _ as *const libc::sockaddr, len) } != 0 {
            let e = errno();
            unsafe { libc::close(fd) };
            return Err(e);
        }
    }
    let (ss, len) = sockaddr(sa);
    if unsafe { libc::connect(fd, &ss as *const _ as *const libc::sockaddr, len) } != 0 {
        let e = errno();
        if e != libc::EINPROGRESS {
            unsafe { libc::close(fd) };
            return Err(e);
        }
    }
    Ok(fd)
}

fn so_error(fd: RawFd) -> i32 {
    let mut v: i32 = 0;
    let mut len = 4 as libc::socklen_t;
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut v as *mut i32 as *mut libc::c_void,
            &mut len,
        );
    }
    v
}

fn close_fd(fd: RawFd, linger0: bool) {
    unsafe {
        if linger0 {
            let l = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &l as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        libc::close(fd);
    }
}

struct Epoll {
    fd: RawFd,
}

impl Epoll {
    fn new() -> Epoll {
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0, "epoll_create1");
        Epoll { fd }
    }
    fn ctl(&self, op: i32, fd: RawFd, events: u32, token: u64) {
        let mut ev = libc::epoll_event { events, u64: token };
        unsafe { libc::epoll_ctl(self.fd, op, fd, &mut ev) };
    }
    fn add(&self, fd: RawFd, events: u32, token: u64) {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }
    fn modify(&self, fd: RawFd, events: u32, token: u64) {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }
    fn del(&self, fd: RawFd) {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }
    fn wait(&self, evs: &mut [libc::epoll_event], timeout_ms: i32) -> usize {
        let n =
            unsafe { libc::epoll_wait(self.fd, evs.as_mut_ptr(), evs.len() as i32, timeout_ms) };
        if n < 0 {
            0
        } else {
            n as usize
        }
    }
}

const EPOLLIN: u32 = libc::EPOLLIN as u32;
const EPOLLOUT: u32 = libc::EPOLLOUT as u32;

// ---------------------------------------------------------------- results

#[derive(Default)]
struct Fails {
    refused: u64,
    reset: u64,
    timeout: u64,
    short: u64,
    other: u64,
}

impl Fails {
    fn count(&mut self, errno: i32) {
        match errno {
            libc::ECONNREFUSED => self.refused += 1,
            libc::ECONNRESET | libc::EPIPE | libc::ECONNABORTED => self.reset += 1,
            libc::ETIMEDOUT => self.timeout += 1,
            0 => self.short += 1,
            _ => self.other += 1,
        }
    }
    fn total(&self) -> u64 {
        self.refused + self.reset + self.timeout + self.short + self.other
    }
}

/// CPU use over a measurement: the generator's own (to show it is not the
/// bottleneck) and the daemon's, children it reaped included.
struct CpuMark {
    pid: Option<i32>,
    ticks: u64,
    own_us: u64,
    t: Instant,
}

fn proc_ticks(pid: i32) -> u64 {
    // utime stime cutime cstime: fields 14-17, counted after the ")" of comm.
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    rest.split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

fn own_cpu_us() -> u64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

impl CpuMark {
    fn new(pid: Option<i32>) -> CpuMark {
        CpuMark {
            pid,
            ticks: pid.map_or(0, proc_ticks),
            own_us: own_cpu_us(),
            t: Instant::now(),
        }
    }
    fn extra(&self, ops: u64) -> String {
        let wall = self.t.elapsed().as_secs_f64();
        let own = (own_cpu_us() - self.own_us) as f64 / 1e6;
        let mut s = format!(" lg_cpu_pct={:.0}", own / wall * 100.0);
        if let Some(pid) = self.pid {
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
            let d = (proc_ticks(pid).saturating_sub(self.ticks)) as f64 / hz;
            let _ = write!(s, " d_cpu_pct={:.0}", d / wall * 100.0);
            if ops > 0 {
                let _ = write!(s, " d_cpu_us_per_op={:.1}", d * 1e6 / ops as f64);
            }
        }
        s
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn print_result(ok: u64, elapsed: f64, lat: &mut [u32], fails: &Fails, extra: &str) {
    lat.sort_unstable();
    println!(
        "ok={} fail={} refused={} reset={} timeout={} short={} other={} secs={:.3} rate={:.1} p50_us={} p99_us={}{}",
        ok,
        fails.total(),
        fails.refused,
        fails.reset,
        fails.timeout,
        fails.short,
        fails.other,
        elapsed,
        if elapsed > 0.0 { ok as f64 / elapsed } else { 0.0 },
        percentile(lat, 0.5),
        percentile(lat, 0.99),
        extra
    );
}

fn payload(n: usize, seed: u64) -> Vec<u8> {
    (0..n)
        .map(|i| b'a' + ((i as u64 + seed) % 26) as u8)
        .collect()
}

// ---------------------------------------------------------------- tx / rr

#[derive(PartialEq, Clone, Copy)]
enum St {
    Free,
    /// Waiting before the next attempt (after a failure), until the instant.
    Backoff,
    Connecting,
    Writing,
    Reading,
}

struct Slot {
    fd: RawFd,
    st: St,
    t0: Instant,
    until: Instant,
    off: usize,
    got: usize,
}

struct HupPlan {
    pid: i32,
    left: u32,
    every: Duration,
    next: Instant,
    files: Option<(String, Vec<u8>, Vec<u8>)>,
    sent: u32,
}

impl HupPlan {
    fn fire(&mut self) {
        if let Some((conf, a, b)) = &self.files {
            let body = if self.sent % 2 == 0 { b } else { a };
            let tmp = format!("{conf}.tmp");
            if fs::write(&tmp, body).is_ok() {
                let _ = fs::rename(&tmp, conf);
            }
        }
        unsafe { libc::kill(self.pid, libc::SIGHUP) };
        self.sent += 1;
        self.left -= 1;
        self.next += self.every;
    }
}

fn run_tcp(o: &Opts, persistent: bool) -> Result<(), String> {
    let sa = o.addr()?;
    let req = payload(o.send, 0);
    let ep = Epoll::new();
    let cpu = CpuMark::new(o.cpu_pid);
    let start = Instant::now();
    let mut deadline = start + Duration::from_secs_f64(o.duration);
    let mut hup = match o.hup_pid {
        Some(pid) if o.hups > 0 => {
            let files = match &o.hup_files {
                Some((c, a, b)) => Some((
                    c.clone(),
                    fs::read(a).map_err(|e| format!("{a}: {e}"))?,
                    fs::read(b).map_err(|e| format!("{b}: {e}"))?,
                )),
                None => None,
            };
            // The load lasts as long as the reloads plus a little, within --duration.
            let need = o.hup_interval * (o.hups + 1) + Duration::from_millis(300);
            deadline = deadline
                .min(start + need)
                .max(start + Duration::from_millis(100));
            Some(HupPlan {
                pid,
                left: o.hups,
                every: o.hup_interval,
                next: start + o.hup_interval,
                files,
                sent: 0,
            })
        }
        _ => None,
    };
    let spread = match sa.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && o.spread > 0 && !persistent => o.spread,
        _ => 0,
    };
    let mut slots: Vec<Slot> = (0..o.conc)
        .map(|_| Slot {
            fd: -1,
            st: St::Free,
            t0: start,
            until: start,
            off: 0,
            got: 0,
        })
        .collect();
    let mut started: u64 = 0;
    let mut ok: u64 = 0;
    let mut fails = Fails::default();
    let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut buf = vec![0u8; 65536];
    let mut last_done = start;
    let expect = o.expect.or(if persistent { Some(o.send) } else { None });

    // Starts a connection in slot i; false when the bounds say stop.
    macro_rules! open {
        ($i:expr, $now:expr) => {{
            let i: usize = $i;
            let now: Instant = $now;
            if started >= o.count || now >= deadline {
                slots[i].st = St::Free;
            } else {
                started += 1;
                let src = if spread > 0 {
                    Some(Ipv4Addr::new(
                        127,
                        0,
                        0,
                        2 + (started % spread as u64) as u8,
                    ))
                } else {
                    None
                };
                let s = &mut slots[i];
                s.t0 = now;
                s.off = 0;
                s.got = 0;
                match start_connect(&sa, libc::SOCK_STREAM, src) {
                    Ok(fd) => {
                        s.fd = fd;
                        s.st = St::Connecting;
                        s.until = now + o.timeout;
                        ep.add(fd, EPOLLOUT, i as u64);
                    }
                    Err(e) => {
                        fails.count(e);
                        s.fd = -1;
                        s.st = St::Backoff;
                        s.until = now + Duration::from_millis(1);
                    }
                }
            }
        }};
    }
    // Ends the transaction in slot i (ok or failed with errno) and goes on.
    macro_rules! finish {
        ($i:expr, $res:expr, $now:expr) => {{
            let i: usize = $i;
            let now: Instant = $now;
            let res: Result<(), i32> = $res;
            let s = &mut slots[i];
            match res {
                Ok(()) => {
                    ok += 1;
                    let us = now.duration_since(s.t0).as_micros().min(u32::MAX as u128) as u32;
                    lat.push(us);
                    last_done = now;
                }
                Err(e) => fails.count(e),
            }
            if persistent && res.is_ok() && s.fd >= 0 {
                // Next round trip on the same connection.
                if started >= o.count || now >= deadline {
                    ep.del(s.fd);
                    close_fd(s.fd, o.linger0);
                    s.fd = -1;
                    s.st = St::Free;
                } else {
                    started += 1;
                    s.t0 = now;
                    s.off = 0;
                    s.got = 0;
                    s.st = St::Writing;
                    s.until = now + o.timeout;
                    ep.modify(s.fd, EPOLLOUT, i as u64);
                }
            } else {
                if s.fd >= 0 {
                    ep.del(s.fd);
                    close_fd(s.fd, o.linger0);
                    s.fd = -1;
                }
                if res.is_err() {
                    s.st = St::Backoff;
                    s.until = now + Duration::from_millis(1);
                } else {
                    open!(i, now);
                }
            }
        }};
    }

    let now = Instant::now();
    for i in 0..o.conc {
        open!(i, now);
    }
    loop {
        let now = Instant::now();
        if let Some(h) = hup.as_mut() {
            while h.left > 0 && now >= h.next {
                h.fire();
            }
        }
        if now >= deadline {
            break;
        }
        let mut busy = false;
        let mut backoff = false;
        for i in 0..slots.len() {
            match slots[i].st {
                St::Free => {}
                St::Backoff => {
                    backoff = true;
                    if now >= slots[i].until {
                        open!(i, now);
                    }
                    busy = true;
                }
                _ => {
                    busy = true;
                    if now >= slots[i].until {
                        finish!(i, Err(libc::ETIMEDOUT), now);
                    }
                }
            }
        }
        if !busy {
            break;
        }
        let n = ep.wait(&mut evs, if backoff { 1 } else { 5 });
        let now = Instant::now();
        for ev in &evs[..n] {
            let i = ev.u64 as usize;
            let fd = slots[i].fd;
            if fd < 0 {
                continue;
            }
            if slots[i].st == St::Connecting {
                let e = so_error(fd);
                if e != 0 {
                    finish!(i, Err(e), now);
                    continue;
                }
                slots[i].st = St::Writing;
            }
            if slots[i].st == St::Writing {
                let s = &mut slots[i];
                while s.off < req.len() {
                    let w = unsafe {
                        libc::send(
                            fd,
                            req[s.off..].as_ptr() as *const libc::c_void,
                            req.len() - s.off,
                            libc::MSG_NOSIGNAL,
                        )
                    };
                    if w < 0 {
                        break;
                    }
                    s.off += w as usize;
                }
                if s.off < req.len() {
                    let e = errno();
                    if e == libc::EAGAIN {
                        continue;
                    }
                    finish!(i, Err(e), now);
                    continue;
                }
                if o.shutdown {
                    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
                }
                s.st = St::Reading;
                ep.modify(fd, EPOLLIN, i as u64);
                continue;
            }
            // Reading.
            let mut outcome: Option<Result<(), i32>> = None;
            loop {
                let r =
                    unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
                let s = &mut slots[i];
                if r > 0 {
                    let r = r as usize;
                    if o.echo_check {
                        let end = (s.got + r).min(req.len());
                        if s.got + r > req.len() || buf[..end - s.got] != req[s.got..end] {
                            outcome = Some(Err(0));
                            break;
                        }
                    }
                    s.got += r;
                    if let Some(x) = expect {
                        if s.got >= x {
                            outcome = Some(Ok(()));
                            break;
                        }
                    }
                } else if r == 0 {
                    outcome = Some(if expect.is_none() && s.got >= o.min {
                        Ok(())
                    } else {
                        Err(0)
                    });
                    break;
                } else {
                    let e = errno();
                    if e != libc::EAGAIN {
                        outcome = Some(Err(e));
                    }
                    break;
                }
            }
            if let Some(res) = outcome {
                finish!(i, res, now);
            }
        }
    }
    let end = Instant::now();
    let mut inflight = 0;
    for s in &slots {
        if s.fd >= 0 {
            inflight += 1;
            close_fd(s.fd, true);
        }
    }
    // Rate over the time the load actually ran: to the last completion when
    // the count ran out first, else to the deadline.
    let stop = if started >= o.count && inflight == 0 {
        last_done
    } else {
        end
    };
    let elapsed = stop.duration_since(start).as_secs_f64();
    let mut extra = match &hup {
        Some(h) => format!(" hups={} inflight={}", h.sent, inflight),
        None => format!(" inflight={inflight}"),
    };
    extra += &cpu.extra(ok);
    print_result(ok, elapsed, &mut lat, &fails, &extra);
    Ok(())
}

// ---------------------------------------------------------------- stream

fn run_stream(o: &Opts) -> Result<(), String> {
    let sa = o.addr()?;
    let cpu = CpuMark::new(o.cpu_pid);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.duration);
    let mut s =
        TcpStream::connect_timeout(&sa, o.timeout).map_err(|e| format!("connect {sa}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(200))).ok();
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    let mut first = Vec::new();
    let mut fails = Fails::default();
    let t0 = Instant::now();
    let mut quiet = Duration::ZERO;
    while Instant::now() < deadline && total < o.count.max(1).saturating_mul(1 << 20) {
        match s.read(&mut buf) {
            Ok(0) => {
                fails.short += 1;
                break;
            }
            Ok(n) => {
                if first.len() < 74 {
                    first.extend_from_slice(&buf[..n.min(74 - first.len())]);
                }
                total += n as u64;
                quiet = Duration::ZERO;
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                quiet += Duration::from_millis(200);
                if quiet >= o.timeout {
                    fails.timeout += 1;
                    break;
                }
            }
            Err(e) => {
                fails.count(e.raw_os_error().unwrap_or(0));
                break;
            }
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    // Sanity: chargen lines are 72 printable characters and CRLF.
    let looks_right = first.len() >= 74 && first[72] == b'\r' && first[73] == b'\n';
    if !looks_right {
        fails.short += 1;
    }
    let _ = s.set_linger_zero();
    drop(s);
    let mut lat = [];
    print_result(
        u64::from(looks_right),
        elapsed,
        &mut lat,
        &fails,
        &format!(
            " bytes={} mbps={:.1}{}",
            total,
            total as f64 / elapsed / 1e6,
            cpu.extra(total >> 20)
        ),
    );
    Ok(())
}

trait LingerZero {
    fn set_linger_zero(&self) -> io::Result<()>;
}
impl LingerZero for TcpStream {
    fn set_linger_zero(&self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        let r = unsafe {
            libc::setsockopt(
                self.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &l as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

// ---------------------------------------------------------------- udp

fn run_udp(o: &Opts) -> Result<(), String> {
    let sa = o.addr()?;
    let ep = Epoll::new();
    let cpu = CpuMark::new(o.cpu_pid);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.duration);
    let size = o.send.max(if o.echo_check { 8 } else { 1 });
    struct U {
        fd: RawFd,
        seq: u64,
        t0: Instant,
        until: Instant,
        busy: bool,
    }
    let mut us: Vec<U> = Vec::new();
    for i in 0..o.conc {
        let fd = start_connect(&sa, libc::SOCK_DGRAM, None)
            .map_err(|e| format!("udp socket: errno {e}"))?;
        ep.add(fd, EPOLLIN, i as u64);
        us.push(U {
            fd,
            seq: 0,
            t0: start,
            until: start,
            busy: false,
        });
    }
    let mut sent: u64 = 0;
    let mut ok: u64 = 0;
    let mut fails = Fails::default();
    let mut lost: u64 = 0;
    let mut lat = Vec::with_capacity(1 << 16);
    let mut buf = vec![0u8; 2048];
    let mut msg = payload(size, 0);
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut seq_counter: u64 = 0;
    let mut last_done = start;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let mut any = false;
        for u in us.iter_mut() {
            if u.busy && now >= u.until {
                lost += 1;
                u.busy = false;
            }
            if !u.busy && sent < o.count {
                seq_counter += 1;
                u.seq = seq_counter;
                if o.echo_check {
                    msg[..8].copy_from_slice(&u.seq.to_be_bytes());
                }
                let w =
                    unsafe { libc::send(u.fd, msg.as_ptr() as *const libc::c_void, msg.len(), 0) };
                sent += 1;
                u.t0 = now;
                if w < 0 {
                    fails.count(errno());
                    // Retry after a pause rather than spin.
                    u.busy = true;
                    u.until = now + Duration::from_millis(1);
                    sent -= 1;
                    seq_counter -= 1;
                    continue;
                }
                u.busy = true;
                u.until = now + o.timeout.min(Duration::from_millis(500));
            }
            any |= u.busy;
        }
        if !any {
            break;
        }
        let n = ep.wait(&mut evs, 2);
        let now = Instant::now();
        for ev in &evs[..n] {
            let u = &mut us[ev.u64 as usize];
            loop {
                let r = unsafe {
                    libc::recv(u.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0)
                };
                if r < 0 {
                    let e = errno();
                    if e != libc::EAGAIN {
                        fails.count(e);
                    }
                    break;
                }
                let r = r as usize;
                if !u.busy {
                    continue; // a late reply to a request already counted as lost
                }
                if o.echo_check {
                    if r != msg.len() || buf[..8] != u.seq.to_be_bytes() {
                        if r == msg.len() {
                            continue; // stale reply to an earlier request
                        }
                        fails.short += 1;
                        u.busy = false;
                        continue;
                    }
                } else if r == 0 {
                    fails.short += 1;
                    u.busy = false;
                    continue;
                }
                ok += 1;
                lat.push(now.duration_since(u.t0).as_micros().min(u32::MAX as u128) as u32);
                last_done = now;
                u.busy = false;
            }
        }
    }
    let end = Instant::now();
    for u in &us {
        unsafe { libc::close(u.fd) };
    }
    let stop = if sent >= o.count {
        last_done.max(start + Duration::from_millis(1))
    } else {
        end
    };
    let elapsed = stop.duration_since(start).as_secs_f64();
    let loss = if sent > 0 {
        lost as f64 / sent as f64 * 100.0
    } else {
        0.0
    };
    print_result(
        ok,
        elapsed,
        &mut lat,
        &fails,
        &format!(
            " sent={sent} lost={lost} loss_pct={loss:.3}{}",
            cpu.extra(ok)
        ),
    );
    Ok(())
}

// ---------------------------------------------------------------- idle

fn run_idle(o: &Opts) -> Result<(), String> {
    let sa = o.addr()?;
    let n = o.conc;
    let ep = Epoll::new();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.duration.max(5.0));
    let spread = if sa.is_ipv4() { o.spread } else { 0 };
    // Per connection: 0 connecting, 1 echo sent, 2 established (echo answered), 3 failed.
    let mut fds: Vec<RawFd> = Vec::with_capacity(n);
    let mut state: Vec<u8> = Vec::with_capacity(n);
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut pending = 0usize;
    let mut done = 0usize;
    let mut fails = Fails::default();
    let mut buf = [0u8; 64];
    let window = 128; // connects in flight at once: stay under the daemons' backlog
    while done < n && Instant::now() < deadline {
        while fds.len() < n && pending < window {
            let src = (spread > 0)
                .then(|| Ipv4Addr::new(127, 0, 0, 2 + (fds.len() as u32 % spread) as u8));
            match start_connect(&sa, libc::SOCK_STREAM, src) {
                Ok(fd) => {
                    ep.add(fd, EPOLLOUT, fds.len() as u64);
                    fds.push(fd);
                    state.push(0);
                    pending += 1;
                }
                Err(e) => {
                    fails.count(e);
                    fds.push(-1);
                    state.push(3);
                    done += 1;
                }
            }
        }
        let k = ep.wait(&mut evs, 10);
        for ev in &evs[..k] {
            let i = ev.u64 as usize;
            let fd = fds[i];
            match state[i] {
                0 => {
                    let e = so_error(fd);
                    let w = if e == 0 {
                        unsafe {
                            libc::send(
                                fd,
                                b"x".as_ptr() as *const libc::c_void,
                                1,
                                libc::MSG_NOSIGNAL,
                            )
                        }
                    } else {
                        -1
                    };
                    if w == 1 {
                        state[i] = 1;
                        ep.modify(fd, EPOLLIN, i as u64);
                    } else {
                        fails.count(if e != 0 { e } else { errno() });
                        state[i] = 3;
                        ep.del(fd);
                        pending -= 1;
                        done += 1;
                    }
                }
                1 => {
                    let r = unsafe {
                        libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0)
                    };
                    if r == 1 {
                        state[i] = 2;
                    } else {
                        fails.count(if r < 0 { errno() } else { 0 });
                        state[i] = 3;
                    }
                    ep.del(fd);
                    pending -= 1;
                    done += 1;
                }
                _ => {}
            }
        }
    }
    let open = state.iter().filter(|&&s| s == 2).count();
    let line = format!(
        "open={} fail={} refused={} reset={} timeout={} other={} secs={:.3}",
        open,
        fails.total() + (n - done) as u64,
        fails.refused,
        fails.reset,
        fails.timeout,
        fails.other,
        start.elapsed().as_secs_f64()
    );
    println!("{line}");
    io::stdout().flush().ok();
    if let Some(f) = &o.ready_file {
        let tmp = format!("{f}.tmp");
        fs::write(&tmp, format!("{line}\n")).map_err(|e| format!("{tmp}: {e}"))?;
        fs::rename(&tmp, f).map_err(|e| format!("{f}: {e}"))?;
    }
    // Hold the connections until the time is up or a signal ends us.
    let hold_end = Instant::now() + Duration::from_secs_f64(o.hold);
    while Instant::now() < hold_end {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &fd in &fds {
        if fd >= 0 {
            close_fd(fd, true);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- spawn / hup / probe

/// One attempt: connect, send `send` bytes, wait for at least one byte back.
fn probe_once(sa: &SocketAddr, send: usize, timeout: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(sa, timeout) else {
        return false;
    };
    s.set_read_timeout(Some(timeout)).ok();
    let _ = s.set_linger_zero();
    if send > 0 && s.write_all(&payload(send, 0)).is_err() {
        return false;
    }
    let mut b = [0u8; 16];
    matches!(s.read(&mut b), Ok(n) if n > 0)
}

/// Probes every millisecond until an answer or the timeout; returns the time to the answer.
fn probe_until(sa: &SocketAddr, send: usize, t0: Instant, timeout: Duration) -> Option<Duration> {
    let end = t0 + timeout;
    let per_try = Duration::from_millis(500);
    while Instant::now() < end {
        if probe_once(sa, send, per_try) {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

static mut CHILD: i32 = 0;

extern "C" fn forward(sig: libc::c_int) {
    unsafe {
        let c = CHILD;
        if c > 0 {
            libc::kill(c, sig);
        }
    }
}

fn run_spawn(o: &Opts) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let sa = o.addr()?;
    if o.rest.is_empty() {
        return Err("no command after --".into());
    }
    let mut cmd = process::Command::new(&o.rest[0]);
    cmd.args(&o.rest[1..]);
    unsafe {
        // The daemon dies with its supervisor, so nothing outlives the benchmark.
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", o.rest[0]))?;
    let pid = child.id() as i32;
    unsafe {
        CHILD = pid;
        libc::signal(libc::SIGTERM, forward as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, forward as *const () as libc::sighandler_t);
    }
    if let Some(p) = &o.pidfile {
        fs::write(p, format!("{pid}\n")).map_err(|e| format!("{p}: {e}"))?;
    }
    // Probe until it answers; give up early if it exits with a failure (a
    // daemon that detaches exits 0 and is probed on).
    let end = t0 + o.timeout;
    let mut res = None;
    let mut exited_ok = false;
    while Instant::now() < end {
        if probe_once(&sa, o.probe_send, Duration::from_millis(500)) {
            res = Some(t0.elapsed());
            break;
        }
        if !exited_ok {
            if let Ok(Some(st)) = child.try_wait() {
                if !st.success() {
                    break;
                }
                exited_ok = true;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let line = match res {
        Some(d) => format!("startup_ms={:.3} pid={pid}", d.as_secs_f64() * 1e3),
        None => format!("startup_ms=fail pid={pid}"),
    };
    match &o.out {
        Some(f) => {
            let tmp = format!("{f}.tmp");
            fs::write(&tmp, format!("{line}\n")).map_err(|e| format!("{tmp}: {e}"))?;
            fs::rename(&tmp, f).map_err(|e| format!("{f}: {e}"))?;
        }
        None => println!("{line}"),
    }
    let st = child.wait().map_err(|e| e.to_string())?;
    eprintln!("loadgen spawn: {} exited: {st}", o.rest[0]);
    Ok(())
}

fn run_hup(o: &Opts) -> Result<(), String> {
    let sa = o.addr()?;
    let pid = o.pid.ok_or("--pid is required")?;
    let t0 = Instant::now();
    if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
        return Err(format!("kill -HUP {pid}: {}", io::Error::last_os_error()));
    }
    match probe_until(&sa, o.probe_send, t0, o.timeout) {
        Some(d) => println!("hup_ms={:.3}", d.as_secs_f64() * 1e3),
        None => println!("hup_ms=fail"),
    }
    Ok(())
}

// ---------------------------------------------------------------- mem

fn proc_field_kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l[key.len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn descendants(root: i32) -> Vec<i32> {
    let mut parent: Vec<(i32, i32)> = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let ppid = rest
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            parent.push((pid, ppid));
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent.iter().filter(|&&(_, pp)| pp == p).map(|&(c, _)| c));
        i += 1;
    }
    out
}

/// Field 22 of /proc/PID/stat: with the pid, it names one process for good.
fn start_time(pid: i32) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    rest.split_whitespace()
        .nth(19)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// SIGTERM to each `PID:STARTTIME` read from stdin whose process still is the
/// one that was listed (a pid reused since is left alone).
fn run_kill() -> Result<(), String> {
    let mut text = String::new();
    io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for item in text.split_whitespace() {
        let Some((p, st)) = item.split_once(':') else {
            continue;
        };
        let (Ok(pid), Ok(st)) = (p.parse::<i32>(), st.parse::<u64>()) else {
            continue;
        };
        if pid > 1 && st != 0 && start_time(pid) == st {
            unsafe { libc::kill(pid, libc::SIGTERM) };
            n += 1;
        }
    }
    println!("killed={n}");
    Ok(())
}

fn run_mem(o: &Opts) -> Result<(), String> {
    let pid = o.pid.ok_or("--pid is required")?;
    let status =
        fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("pid {pid}: {e}"))?;
    let rss = proc_field_kib(&status, "VmRSS:");
    let (mut pss, mut rss_tree, mut n) = (0u64, 0u64, 0u64);
    let all = descendants(pid);
    for &p in &all {
        if let Ok(s) = fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            pss += proc_field_kib(&s, "Pss:");
            rss_tree += proc_field_kib(&s, "Rss:");
            n += 1;
        }
    }
    println!("rss_kib={rss} pss_tree_kib={pss} rss_tree_kib={rss_tree} procs={n}");
    if o.list {
        for &p in &all[1..] {
            println!("{p}:{}", start_time(p));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- report

/// Higher is better for rates and throughput; lower for everything else.
fn higher_is_better(metric: &str) -> bool {
    metric.ends_with("per_s") || metric.ends_with("mbps") || metric.ends_with("_open")
}

fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Input lines: `daemon<TAB>metric<TAB>value[<TAB>round]`; `#` lines are skipped.
fn run_report(o: &Opts) -> Result<(), String> {
    let file = o.rest.first().ok_or("report needs a results file")?;
    let text = fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let mut metrics: Vec<String> = Vec::new();
    let mut daemons: Vec<String> = Vec::new();
    let mut vals: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 3 {
            continue;
        }
        let (d, m) = (f[0].to_string(), f[1].to_string());
        if !metrics.contains(&m) {
            metrics.push(m.clone());
        }
        if !daemons.contains(&d) {
            daemons.push(d.clone());
        }
        if let Ok(v) = f[2].parse::<f64>() {
            vals.entry((d, m)).or_default().push(v);
        }
    }
    // Group the rows by workload number (the prefix before the first dot), keeping
    // the order of first appearance within a workload.
    let section = |m: &String| {
        m.split('.')
            .next()
            .and_then(|x| x.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    metrics.sort_by_key(section);
    let mut order: Vec<String> = o
        .order
        .iter()
        .filter(|d| daemons.contains(d))
        .cloned()
        .collect();
    for d in &daemons {
        if !order.contains(d) {
            order.push(d.clone());
        }
    }
    let base = o
        .base
        .clone()
        .filter(|b| order.contains(b))
        .or_else(|| order.first().cloned());
    let mut out = String::new();
    let _ = write!(out, "| metric |");
    for d in &order {
        let _ = write!(out, " {d} |");
    }
    if let Some(b) = &base {
        for d in order.iter().filter(|d| *d != b) {
            let _ = write!(out, " {b}/{d} |");
        }
    }
    out.push('\n');
    let cols = order.len() + base.as_ref().map_or(0, |_| order.len() - 1);
    out.push_str("|---|");
    for _ in 0..cols {
        out.push_str("---:|");
    }
    out.push('\n');
    for m in &metrics {
        let arrow = if higher_is_better(m) { "↑" } else { "↓" };
        let _ = write!(out, "| {m} {arrow} |");
        let mut med: BTreeMap<&str, f64> = BTreeMap::new();
        for d in &order {
            match vals.get_mut(&(d.clone(), m.clone())) {
                Some(v) if !v.is_empty() => {
                    let n = v.len();
                    let x = median(v);
                    med.insert(d, x);
                    let _ = write!(
                        out,
                        " {}{} |",
                        fmt_num(x),
                        if n < 3 {
                            format!(" (n={n})")
                        } else {
                            String::new()
                        }
                    );
                }
                _ => out.push_str(" – |"),
            }
        }
        if let Some(b) = &base {
            for d in order.iter().filter(|d| *d != b) {
                match (med.get(b.as_str()), med.get(d.as_str())) {
                    (Some(&x), Some(&y)) if y != 0.0 => {
                        let _ = write!(out, " {:.2} |", x / y);
                    }
                    _ => out.push_str(" – |"),
                }
            }
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}
