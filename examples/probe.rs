//! A service that describes the process inetd started: argv, open file
//! descriptors and their blocking mode, session, credentials and environment.
//! The integration tests run it behind inetd. (Signal state is checked with
//! `cat /proc/self/status` instead: Rust's runtime ignores SIGPIPE before
//! `main`, so a Rust program cannot report what it inherited.)
//!
//! Output, one `key: value` line each, on fd 1 (the connection).

use std::fs;
use std::io::Write;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let mut fds: Vec<u32> = fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort_unstable();
    // read_dir's own descriptor is gone by now; keep only those still open.
    fds.retain(|fd| fs::metadata(format!("/proc/self/fd/{fd}")).is_ok());
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let nonblocking: Vec<bool> = (0..3)
        .map(|fd| {
            let info = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .unwrap_or(0);
            flags & 0o4000 != 0
        })
        .collect();
    let sid = fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.to_string();
            after.split_whitespace().nth(3).map(str::to_string)
        })
        .unwrap_or_default();
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let report = format!(
        "argv: {}\nfds: {}\nnonblocking: {:?}\npid: {}\nsid: {}\nuid: {}\ngid: {}\ngroups: {}\nenv: {}\n",
        argv.join(" "),
        fds.iter().map(u32::to_string).collect::<Vec<_>>().join(" "),
        nonblocking,
        std::process::id(),
        sid,
        field("Uid:"),
        field("Gid:"),
        field("Groups:"),
        env.join(" "),
    );
    let _ = std::io::stdout().write_all(report.as_bytes());
}
