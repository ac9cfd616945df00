//! Sun RPC services against Debian's rpcbind, in a network namespace of
//! their own: registered (`rpcinfo`), answered (a client of the
//! system's RPC library, which asks rpcbind where the service is),
//! registered again after rpcbind restarts, unregistered on removal and
//! on exit.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

/// The test service's program (tests/rpc/service.c).
const PROGRAM: &str = "536871065";

/// Whether the tools are here; a missing one skips the test, or fails it in CI.
fn tools() -> bool {
    if !is_root() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the RPC tests need root (network namespaces)");
        }
        eprintln!("skipping: the RPC tests need root (network namespaces)");
        return false;
    }
    ["rpcbind", "rpcinfo", "gcc", "unshare", "nsenter", "ip"]
        .iter()
        .all(|tool| require(tool))
}

/// Builds tests/rpc/service.c with libtirpc; `None` (a skip) without its
/// headers, a failure in CI.
fn build_service(dir: &Dir) -> Option<std::path::PathBuf> {
    let binary = dir.join("service");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rpc/service.c");
    let built = Command::new("gcc")
        .args(["-Wall", "-I/usr/include/tirpc", "-o"])
        .arg(&binary)
        .arg(source)
        .arg("-ltirpc")
        .status()
        .is_ok_and(|s| s.success());
    if built {
        return Some(binary);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("cannot build {source}: CI must install libtirpc-dev");
    }
    eprintln!("skipping: cannot build {source} (libtirpc-dev missing?)");
    None
}

/// rpcbind in the foreground in `netns`, once it answers.
fn start_rpcbind(netns: &Netns) -> Daemon {
    let child = netns
        .command("rpcbind")
        .arg("-f")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start rpcbind");
    let rpcbind = Daemon::adopt(child);
    wait_until("rpcbind to answer", || {
        netns
            .command("rpcinfo")
            .arg("-p")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    rpcbind
}

/// What `rpcinfo` lists of `program`: (version, netid, port), sorted.
fn registered(netns: &Netns, program: &str) -> Vec<(u32, String, u16)> {
    let out = netns.command("rpcinfo").output().unwrap();
    let mut found: Vec<(u32, String, u16)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [p, version, netid, address, ..] = fields[..] else {
                return None;
            };
            // A universal address ends in the port's two bytes.
            let mut bytes = address.rsplit('.');
            let low: u16 = bytes.next()?.parse().ok()?;
            let high: u16 = bytes.next()?.parse().ok()?;
            (p == program)
                .then(|| Some((version.parse().ok()?, netid.to_string(), high << 8 | low)))?
        })
        .collect();
    found.sort();
    found
}

/// The versions and protocols of a listing.
fn versions(found: &[(u32, String, u16)]) -> Vec<(u32, &str)> {
    found.iter().map(|(v, p, _)| (*v, p.as_str())).collect()
}

/// Calls procedure 1 of the test program through rpcbind: "version V pid P".
fn call(netns: &Netns, service: &std::path::Path, version: u32, protocol: &str) -> String {
    call_at(netns, service, "127.0.0.1", version, protocol)
}

/// Version 2 over IPv6.
fn call6(netns: &Netns, service: &std::path::Path) -> String {
    call_at(netns, service, "::1", 2, "udp6")
}

fn call_at(
    netns: &Netns,
    service: &std::path::Path,
    host: &str,
    version: u32,
    protocol: &str,
) -> String {
    let out = netns
        .command(service)
        .args(["call", host, &version.to_string(), protocol])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "call of version {version} over {protocol} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn registered_answered_and_unregistered_with_rpcbind() {
    if !tools() {
        return;
    }
    let dir = Dir::new("rpc-service");
    let Some(service) = build_service(&dir) else {
        return;
    };
    let netns = Netns::new();
    let rpcbind = start_rpcbind(&netns);
    let svc = service.display();
    let udp_line = format!("{PROGRAM}/1-2 dgram rpc/udp wait root {svc} service\n");
    // The same program on tcp and udp6, and Debian's stock rstatd line
    // (its program never runs here).
    let config = format!(
        "{udp_line}\
         {PROGRAM}/1-2 stream rpc/tcp wait root {svc} service\n\
         {PROGRAM}/2 dgram rpc/udp6 wait root {svc} service\n\
         rstatd/1-5 dgram rpc/udp wait root {svc} rpc.rstatd\n"
    );
    let mut d = Daemon::start_in_netns(&netns, "rpc", &config);
    let all = [(1, "tcp"), (1, "udp"), (2, "tcp"), (2, "udp"), (2, "udp6")];
    wait_until("the registrations", || {
        versions(&registered(&netns, PROGRAM)) == all
    });
    let rstatd: Vec<u32> = registered(&netns, "100001").iter().map(|r| r.0).collect();
    assert_eq!(rstatd, [1, 2, 3, 4, 5]);
    // Each socket has one port for all its versions.
    let ports = registered(&netns, PROGRAM);
    assert_eq!(ports[0].2, ports[2].2);
    assert_eq!(ports[1].2, ports[3].2);
    assert_ne!(ports[3].2, ports[4].2);

    // Answered by the program inetd starts, found through rpcbind.
    assert!(call(&netns, &service, 1, "udp").starts_with("version 1 pid "));
    assert!(call(&netns, &service, 2, "tcp").starts_with("version 2 pid "));
    assert!(call6(&netns, &service).starts_with("version 2 pid "));
    d.wait_for_log("rpc/udp: started pid");
    d.wait_for_log("rpc/tcp: started pid");

    // rpcbind restarts empty: inetd registers everything again, same ports.
    drop(rpcbind);
    let rpcbind = start_rpcbind(&netns);
    let deadline = std::time::Instant::now() + TIMEOUT + Duration::from_secs(10);
    while registered(&netns, PROGRAM) != ports {
        assert!(
            std::time::Instant::now() < deadline,
            "not registered again: {:?}",
            registered(&netns, PROGRAM)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d.wait_for_log("rpcbind had lost");
    assert!(call(&netns, &service, 2, "udp").starts_with("version 2 pid "));
    assert!(call6(&netns, &service).starts_with("version 2 pid "));

    // A reload without the tcp, udp6 and rstatd lines unregisters it; udp stays (the
    // portmapper's UNSET takes both: inetd sets udp back).
    d.reload(&udp_line);
    wait_until("tcp to be unregistered", || {
        versions(&registered(&netns, PROGRAM)) == [(1, "udp"), (2, "udp")]
    });
    assert!(registered(&netns, "100001").is_empty());
    assert!(call(&netns, &service, 1, "udp").starts_with("version 1 pid "));

    // On exit, the rest goes.
    d.signal(libc::SIGTERM);
    let status = d.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(registered(&netns, PROGRAM).is_empty());
    drop(rpcbind);
}

/// inetd may start before rpcbind (boot order): it serves, says rpcbind is
/// not there, and registers once rpcbind answers.
#[test]
fn registered_once_rpcbind_starts_after_inetd() {
    if !tools() {
        return;
    }
    let dir = Dir::new("rpc-late-service");
    let Some(service) = build_service(&dir) else {
        return;
    };
    let netns = Netns::new();
    let d = Daemon::start_in_netns(
        &netns,
        "rpc-late",
        &format!(
            "{PROGRAM}/1 dgram rpc/udp wait root {} service\n",
            service.display()
        ),
    );
    d.wait_for_log("rpcbind is not running on 127.0.0.1:111");
    let _rpcbind = start_rpcbind(&netns);
    let deadline = std::time::Instant::now() + TIMEOUT + Duration::from_secs(10);
    while versions(&registered(&netns, PROGRAM)) != [(1, "udp")] {
        assert!(std::time::Instant::now() < deadline, "never registered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(call(&netns, &service, 1, "udp").starts_with("version 1 pid "));
}
