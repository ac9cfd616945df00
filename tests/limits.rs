//! Protection under load and abuse: each limit refuses or delays the
//! connection past it, and service resumes afterwards.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::util::*;

const SHORT: Duration = Duration::from_millis(300);

/// Sends a line through a /bin/cat service and expects it back.
fn cat_round_trip(stream: &mut TcpStream, line: &[u8]) {
    stream.write_all(line).unwrap();
    let mut got = vec![0; line.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, line);
}

#[test]
fn spawn_rate_pauses_the_service_and_resumes() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    // Three spawns a minute (the OpenBSD suffix); paused for one second.
    let d = Daemon::start_with(
        "rate",
        &format!("127.0.0.1:{port} stream tcp nowait.3 {user} /bin/echo echo hello\n"),
        &["--retry-time", "1"],
    );
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..3 {
        assert_eq!(read_all(connect(&addr)), b"hello\n");
    }
    // The fourth trips the limit: closed without a server.
    assert_eq!(read_all(connect(&addr)), b"");
    d.wait_for_log("server failing (looping), service paused for 1 s");
    // While paused, connections wait in the backlog...
    let mut waiting = connect(&addr);
    // ...and are served when the pause ends.
    let started = Instant::now();
    let mut reply = Vec::new();
    waiting.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"hello\n");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn children_per_service_are_capped() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    // FreeBSD's max-child suffix: one cat at a time.
    let _d = Daemon::start(
        "maxchild",
        &format!("127.0.0.1:{port} stream tcp nowait/1 {user} /bin/cat cat\n"),
    );
    let addr = format!("127.0.0.1:{port}");
    let mut first = connect(&addr);
    cat_round_trip(&mut first, b"first\n");
    let mut second = connect(&addr);
    second.write_all(b"second\n").unwrap();
    assert!(!answers_within(&mut second, SHORT), "second child started");
    first.shutdown(Shutdown::Write).unwrap();
    let _ = read_all(&mut first);
    let mut got = [0; 7];
    second.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"second\n");
}

#[test]
fn children_of_all_services_are_capped() {
    let [a, b] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let _d = Daemon::start_with(
        "maxall",
        &format!(
            "127.0.0.1:{a} stream tcp nowait {user} /bin/cat cat\n\
             127.0.0.1:{b} stream tcp nowait {user} /bin/cat cat\n"
        ),
        &["--max-children", "1"],
    );
    let mut first = connect(&format!("127.0.0.1:{a}"));
    cat_round_trip(&mut first, b"a\n");
    let mut second = connect(&format!("127.0.0.1:{b}"));
    second.write_all(b"b\n").unwrap();
    assert!(!answers_within(&mut second, SHORT), "global cap ignored");
    drop(first);
    let mut got = [0; 2];
    second.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"b\n");
}

#[test]
fn connections_per_client_per_minute() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start_with(
        "perclient",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
        &["-C", "2"],
    );
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..2 {
        assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()).len(), 4);
    }
    // The third from 127.0.0.1 is closed at once; 127.0.0.2 is still served.
    assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()).len(), 0);
    assert_eq!(read_all(connect_from("127.0.0.2", &addr).unwrap()).len(), 4);
    d.wait_for_log("refused connection from 127.0.0.1");
}

#[test]
fn children_per_client() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let _d = Daemon::start_with(
        "childperclient",
        &format!("127.0.0.1:{port} stream tcp nowait {user} /bin/cat cat\n"),
        &["-s", "1"],
    );
    let addr = format!("127.0.0.1:{port}");
    let mut held = connect_from("127.0.0.1", &addr).unwrap();
    cat_round_trip(&mut held, b"held\n");
    // A second child for 127.0.0.1 is refused: closed at once.
    assert_eq!(read_all(connect_from("127.0.0.1", &addr).unwrap()), b"");
    // Another client is served meanwhile.
    let mut other = connect_from("127.0.0.2", &addr).unwrap();
    cat_round_trip(&mut other, b"other\n");
    // When the first child ends, 127.0.0.1 may have one again.
    drop(held);
    wait_until("the first child to end", || {
        // Until inetd has reaped the first child, this one is refused.
        let mut s = connect_from("127.0.0.1", &addr).unwrap();
        let _ = s.write_all(b"x");
        let _ = s.shutdown(Shutdown::Write);
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got == b"x"
    });
}

#[test]
fn builtin_connections_are_capped_and_idle_ones_closed() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let _d = Daemon::start_with(
        "builtincap",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal echo\n"),
        &["--max-builtins", "2", "--idle-timeout", "1"],
    );
    let addr = format!("127.0.0.1:{port}");
    let mut a = connect(&addr);
    cat_round_trip(&mut a, b"a");
    let mut b = connect(&addr);
    cat_round_trip(&mut b, b"b");
    let mut c = connect(&addr);
    c.write_all(b"c").unwrap();
    assert!(
        !answers_within(&mut c, SHORT),
        "third connection served over the cap"
    );
    // The idle ones are closed after a second, and the third is served.
    let mut got = [0; 1];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"c");
    assert_eq!(read_all(&mut a), b"", "idle connection left open");
}

/// Sends `count` echo requests from `socket` and counts the replies.
fn udp_replies(socket: &UdpSocket, addr: &str, count: usize) -> usize {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for i in 0..count {
        socket.send_to(format!("{i}").as_bytes(), addr).unwrap();
    }
    let mut replies = 0;
    let mut buf = [0; 64];
    while socket.recv_from(&mut buf).is_ok() {
        replies += 1;
    }
    replies
}

#[test]
fn udp_flood_from_one_source_is_capped() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let _d = Daemon::start_with(
        "udpflood",
        &format!("127.0.0.1:{port} dgram udp wait {user} internal echo\n"),
        &["--udp-source-rate", "10"],
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let replies = udp_replies(&socket, &format!("127.0.0.1:{port}"), 500);
    let allowed = 20 + (started.elapsed().as_secs_f64() * 10.0).ceil() as usize;
    assert!(replies >= 10, "only {replies} replies");
    assert!(replies <= allowed, "{replies} replies, more than {allowed}");
    // Another source still gets its answers.
    let other = UdpSocket::bind("127.0.0.2:0").unwrap();
    assert_eq!(udp_replies(&other, &format!("127.0.0.1:{port}"), 3), 3);
}

/// A flood from many sources, each within its own reply rate (as a
/// spoofed one would be), takes only what the sources asking for less than
/// their fair part leave: a real client keeps being answered.
#[test]
fn a_spread_udp_flood_does_not_starve_a_light_client() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let _d = Daemon::start_with(
        "udpfair",
        &format!("127.0.0.1:{port} dgram udp wait {user} internal echo\n"),
        &["--udp-rate", "600"],
    );
    let addr = format!("127.0.0.1:{port}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || {
            // 100 sources at 15 datagrams a second each (under the 50 of
            // each source's own rate): 1,500 a second, over the 600 in all.
            let sources: Vec<UdpSocket> = (1..=100)
                .map(|i| UdpSocket::bind(format!("127.0.6.{i}:0")).unwrap())
                .collect();
            let started = Instant::now();
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(30)
            {
                let due = (started.elapsed().as_secs_f64() * 1500.0) as u64;
                while sent < due {
                    let _ = sources[(sent % 100) as usize].send_to(b"flood", &addr);
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    // Long enough for the flood to use up the burst of the budget in all.
    std::thread::sleep(Duration::from_secs(2));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut answered = 0;
    for i in 0..10 {
        let request = format!("request {i}");
        client.send_to(request.as_bytes(), &addr).unwrap();
        let mut buf = [0; 64];
        // Replies to earlier, late requests are skipped.
        while let Ok(n) = client.recv(&mut buf) {
            if &buf[..n] == request.as_bytes() {
                answered += 1;
                break;
            }
        }
        // About three a second: under the fair part, 600 / 101 sources.
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().unwrap();
    assert!(answered >= 9, "only {answered} of 10 requests answered");
}

#[test]
fn udp_builtins_ignore_requests_from_builtin_ports() {
    if !is_root() {
        eprintln!("skipping: binding source ports 7 and 19 needs root");
        return;
    }
    let port = free_port("127.0.0.1");
    let user = current_user();
    let _d = Daemon::start(
        "udploop",
        &format!("127.0.0.1:{port} dgram udp wait {user} internal echo\n"),
    );
    let addr = format!("127.0.0.1:{port}");
    // Distinct loopback addresses so that nothing else holds ports 7 and 19.
    for (source, source_port) in [("127.3.0.7", 7), ("127.3.0.19", 19)] {
        let socket = UdpSocket::bind((source, source_port)).unwrap();
        assert_eq!(
            udp_replies(&socket, &addr, 3),
            0,
            "answered port {source_port}"
        );
    }
    let socket = UdpSocket::bind("127.3.0.1:0").unwrap();
    assert_eq!(udp_replies(&socket, &addr, 3), 3);
}

#[test]
fn idle_connections_do_not_delay_others() {
    let [echo, daytime] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    raise_own_nofile();
    let _d = Daemon::start(
        "idle1000",
        &format!(
            "127.0.0.1:{echo} stream tcp nowait {user} internal echo\n\
             127.0.0.1:{daytime} stream tcp nowait {user} internal daytime\n"
        ),
    );
    // From 100 clients: one client gets 32 builtin connections at most.
    let idle: Vec<TcpStream> = (0..1000)
        .map(|i| {
            connect_from(
                &format!("127.0.2.{}", i % 100 + 1),
                &format!("127.0.0.1:{echo}"),
            )
            .unwrap()
        })
        .collect();
    // The last one is being served: all are accepted.
    let mut last = connect(&format!("127.0.0.1:{echo}"));
    cat_round_trip(&mut last, b"ok");
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            assert_eq!(read_all(connect(&format!("127.0.0.1:{daytime}"))).len(), 26);
            started.elapsed()
        })
        .collect();
    times.sort();
    assert!(
        times[2] < Duration::from_millis(20),
        "daytime took {:?}",
        times[2]
    );
    drop(idle);
}

/// The tests open many sockets: lift this process's soft descriptor limit.
fn raise_own_nofile() {
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max.min(65536);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// inetd started on `config` with at most `nofile` descriptors; returns
/// it, its log and the directory holding both.
fn start_with_nofile(name: &str, config: &str, nofile: u64) -> (Daemon, PathBuf, Dir) {
    let dir = Dir::new(name);
    let config = dir.create("inetd.conf", config);
    let pidfile = dir.join("inetd.pid");
    let log = dir.join("stderr.log");
    let mut command = inetd();
    command
        .arg("-d")
        .arg("-p")
        .arg(&pidfile)
        .arg(&config)
        .stderr(std::fs::File::create(&log).unwrap());
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: nofile,
                rlim_max: nofile,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let daemon = Daemon::adopt(command.spawn().unwrap());
    daemon.wait_for_pidfile(&pidfile);
    (daemon, log, dir)
}

#[test]
fn descriptor_exhaustion_costs_no_cpu_and_recovers() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    raise_own_nofile();
    // inetd with at most 32 descriptors: a flood of held connections from
    // many clients would run it out; it stops accepting at what its
    // descriptors can hold instead.
    let (daemon, log, _dir) = start_with_nofile(
        "emfile",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal echo\n"),
        32,
    );
    let pid = daemon.pid();
    let addr = format!("127.0.0.1:{port}");
    let flood: Vec<TcpStream> = (0..100)
        .map(|i| connect_from(&format!("127.0.1.{}", i + 1), &addr).unwrap())
        .collect();
    wait_until("the descriptor limit", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("at the descriptor limit (32), waiting")
    });
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    // A busy loop would burn the whole second (100 ticks).
    assert!(
        used <= 10,
        "inetd used {used} ticks in a second at the limit"
    );
    drop(flood);
    let mut fresh = connect(&addr);
    cat_round_trip(&mut fresh, b"recovered");
}

/// With few descriptors, one client holding idle builtin connections
/// cannot stop the other services: what builtins hold is clamped to what
/// the descriptor table leaves after a reserve.
#[test]
fn held_connections_leave_descriptors_for_other_services() {
    let [echo, daytime, cat] = [0; 3].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    raise_own_nofile();
    let (_daemon, log, _dir) = start_with_nofile(
        "fd-clamp",
        &format!(
            "127.0.0.1:{echo} stream tcp nowait {user} internal echo\n\
             127.0.0.1:{daytime} stream tcp nowait {user} internal daytime\n\
             127.0.0.1:{cat} stream tcp nowait {user} /bin/cat cat\n"
        ),
        40,
    );
    let echo_addr = format!("127.0.0.1:{echo}");
    let _idle: Vec<TcpStream> = (0..100).map(|_| connect(&echo_addr)).collect();
    // Accepted until no descriptor is left (EMFILE), or until the clamp.
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until("echo to stop accepting", || {
        log_text().contains("Too many open files") || log_text().contains("descriptor limit")
    });
    for _ in 0..3 {
        let mut time = connect_from("127.0.0.2", &format!("127.0.0.1:{daytime}")).unwrap();
        assert!(
            answers_within(&mut time, Duration::from_secs(2)),
            "daytime stalled"
        );
        let mut stream = connect_from("127.0.0.2", &format!("127.0.0.1:{cat}")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        cat_round_trip(&mut stream, b"served\n");
    }
    assert!(log_text().contains("at the descriptor limit (40), waiting"));
}

/// One client gets at most `--builtins-per-client` (default 32) builtin
/// connections of a service; another client is still served.
#[test]
fn builtin_connections_per_client_are_capped_by_default() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start(
        "builtins-per-client",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal echo\n"),
    );
    let addr = format!("127.0.0.1:{port}");
    let mut held: Vec<TcpStream> = (0..32)
        .map(|_| connect_from("127.0.0.1", &addr).unwrap())
        .collect();
    for stream in &mut held {
        cat_round_trip(stream, b"x");
    }
    let over = connect_from("127.0.0.1", &addr).unwrap();
    assert_eq!(read_all(over), b"", "a 33rd connection was served");
    d.wait_for_log("refused connection from 127.0.0.1:");
    let mut other = connect_from("127.0.0.2", &addr).unwrap();
    cat_round_trip(&mut other, b"y");
}

#[test]
fn a_flood_leaves_a_bounded_log() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start_with(
        "logflood",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal time\n"),
        &["-C", "1"],
    );
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..500 {
        let _ = read_all(connect(&addr));
    }
    // One was served, 499 refused: a handful of lines say so.
    d.wait_for_log("refused connection");
    let refusals = d.log_text().matches("refused connection").count();
    assert!(refusals <= 5, "{refusals} refusal lines:\n{}", d.log_text());
}

#[test]
fn exits_are_accounted_with_dash_l() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start_with(
        "accounting",
        &format!("127.0.0.1:{port} stream tcp nowait {user} /bin/false false\n"),
        &["-l"],
    );
    let s = connect(&format!("127.0.0.1:{port}"));
    let local = s.local_addr().unwrap();
    let _ = read_all(s);
    d.wait_for_log(&format!("connection from {local}"));
    d.wait_for_log(&format!("from {local} exited with status 1 after"));
}

/// With few processes allowed, fork fails; inetd logs it, keeps serving
/// builtins, and serves the external service again once processes free up.
#[test]
fn fork_failures_are_survived() {
    let [port, time] = [0; 2].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let dir = Dir::new("nproc");
    let config = dir.create(
        "inetd.conf",
        &format!(
            "127.0.0.1:{port} stream tcp nowait {user} /bin/cat cat\n\
             127.0.0.1:{time} stream tcp nowait {user} internal time\n"
        ),
    );
    let log = dir.join("stderr.log");
    let (uid, gid) = if is_root() {
        // Root ignores RLIMIT_NPROC: run the daemon as nobody.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let id = |flag: &str| -> u32 {
            let out = std::process::Command::new("id")
                .args([flag, "nobody"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        (id("-u"), id("-g"))
    } else {
        unsafe { (libc::getuid(), libc::getgid()) }
    };
    let running = processes_of(uid);
    let mut command = inetd();
    command
        .arg("-d")
        .arg(&config)
        .stderr(std::fs::File::create(&log).unwrap());
    unsafe {
        use std::os::unix::process::CommandExt;
        let limit = (running + 3) as libc::rlim_t;
        command.pre_exec(move || {
            let nproc = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            libc::setrlimit(libc::RLIMIT_NPROC, &nproc);
            Ok(())
        });
    }
    if is_root() {
        use std::os::unix::process::CommandExt;
        command.uid(uid).gid(gid);
    }
    let _daemon = Daemon::adopt(command.spawn().unwrap());
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until("inetd to start", || log_text().contains("ready"));
    let addr = format!("127.0.0.1:{port}");
    // Hold children until fork fails.
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut s = connect(&addr);
        s.write_all(b"x").unwrap();
        held.push(s);
    }
    wait_until("a fork failure", || log_text().contains("clone"));
    // Builtins are unaffected.
    assert_eq!(read_all(connect(&format!("127.0.0.1:{time}"))).len(), 4);
    drop(held);
    wait_until("the service to recover", || {
        let mut s = connect(&addr);
        let _ = s.write_all(b"back");
        let _ = s.shutdown(Shutdown::Write);
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got == b"back"
    });
}

fn processes_of(uid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        e.file_name().to_str()?.parse::<u32>().ok()?;
        let status = std::fs::read_to_string(e.path().join("status")).ok()?;
        let real: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        (real == uid).then_some(())
    })
    .count()
}

/// `-L`: no spawns while the load average is above the limit; builtins are
/// still served. The load is a fake /proc/loadavg in a private mount
/// namespace, so the test does not depend on the machine's real load.
#[test]
fn load_shedding() {
    if !is_root() || !require("unshare") {
        eprintln!("skipping: a private /proc/loadavg needs root");
        return;
    }
    let [port, time] = [0; 2].map(|_| free_port("127.0.0.1"));
    let dir = Dir::new("loadavg");
    let loadavg = dir.create("loadavg", "9.50 9.50 9.50 1/100 1\n");
    let config = dir.create(
        "inetd.conf",
        &format!(
            "127.0.0.1:{port} stream tcp nowait root /bin/echo echo spawned\n\
             127.0.0.1:{time} stream tcp nowait root internal time\n"
        ),
    );
    let pidfile = dir.join("inetd.pid");
    let log = dir.join("stderr.log");
    let script = "mount --bind \"$0\" /proc/loadavg && exec \"$@\"";
    let daemon = Daemon::adopt(
        std::process::Command::new("unshare")
            .args(["-m", "sh", "-c", script])
            .arg(&loadavg)
            .arg(inetd_bin())
            .args(["-d", "-L", "2", "-p"])
            .arg(&pidfile)
            .arg(&config)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    daemon.wait_for_pidfile(&pidfile);
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut waiting = connect(&format!("127.0.0.1:{port}"));
    assert!(
        !answers_within(&mut waiting, SHORT),
        "spawned above the load limit"
    );
    wait_until("the load message", || {
        log_text().contains("load average 9.50 above 2")
    });
    assert_eq!(read_all(connect(&format!("127.0.0.1:{time}"))).len(), 4);
    // The load drops (same inode, so the bind mount sees it): served.
    std::fs::write(&loadavg, "0.50 0.50 0.50 1/100 1\n").unwrap();
    assert_eq!(read_all(&mut waiting), b"spawned\n");
}

/// A `wait` service whose program exits at once without taking the
/// connection would be started again and again: it is paused after a few
/// failures in a row, with one line that says so.
#[test]
fn a_service_failing_at_once_is_paused_within_a_second() {
    let port = free_port("127.0.0.1");
    let user = current_user();
    let d = Daemon::start_with(
        "looping",
        &format!("127.0.0.1:{port} stream tcp wait {user} /bin/false false\n"),
        &["-l"],
    );
    let started = Instant::now();
    let _pending = connect(&format!("127.0.0.1:{port}"));
    d.wait_for_log("server failing (looping): 10 children in a row failed at once");
    assert!(started.elapsed() < Duration::from_secs(2));
    let exits = || d.log_text().matches("exited with status 1").count();
    let paused_at = exits();
    assert!(paused_at <= 12, "{paused_at} failing children");
    std::thread::sleep(SHORT);
    assert_eq!(exits(), paused_at, "children started while paused");
    let log = d.log_text();
    assert!(
        log.contains("the last exited with status 1; service paused for 600 s"),
        "{log}"
    );
    assert_eq!(log.matches("looping").count(), 1, "{log}");
}

/// The daemon's resident memory, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Echo clients that send and never read make the daemon keep what it
/// could not send back; all of them together keep a bounded amount, not a
/// read's worth (64 KiB) each.
#[test]
fn stalled_echo_readers_hold_bounded_memory() {
    const CLIENTS: usize = 300;
    let port = free_port("127.0.0.1");
    let user = current_user();
    raise_own_nofile();
    let d = Daemon::start(
        "stalled-echo",
        &format!("127.0.0.1:{port} stream tcp nowait {user} internal echo\n"),
    );
    let before = rss_kib(d.pid());
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let stalled: Vec<TcpStream> = (0..CLIENTS)
        .map(|i| {
            let stream =
                connect_from(&format!("127.0.4.{}", i % 50 + 1), &addr.to_string()).unwrap();
            stream.set_nonblocking(true).unwrap();
            stream
        })
        .collect();
    // Each writes until the connection takes no more: everything the
    // daemon did not get to send back is held by it, or refused.
    let deadline = Instant::now() + Duration::from_secs(20);
    for mut stream in &stalled {
        let mut idle_since = Instant::now();
        while idle_since.elapsed() < Duration::from_millis(10) && Instant::now() < deadline {
            match stream.write(&chunk) {
                Ok(_) => idle_since = Instant::now(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("write: {e}"),
            }
        }
    }
    let grown = rss_kib(d.pid()).saturating_sub(before);
    // The pool is 4 MiB; without it this is about CLIENTS * 64 KiB.
    assert!(
        grown < 6 * 1024,
        "the daemon grew {grown} KiB for {CLIENTS} stalled readers"
    );
    // Another client is still served once the stalled ones are gone.
    drop(stalled);
    let mut fresh = connect(&addr.to_string());
    cat_round_trip(&mut fresh, b"fresh");
}
