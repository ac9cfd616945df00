//! The daemon's resident set: the code only loading ran is unmapped after
//! each load, and a page the process holds a copy of is kept.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::util::*;

/// Services of several kinds and dialect features, so that loading runs
/// much of the parser and of the sockets' set-up.
fn config() -> String {
    let mut lines = String::new();
    for (n, port) in (0..24).map(|n| (n, free_port("127.0.0.1"))) {
        lines += &match n % 4 {
            0 => format!("127.0.0.1:{port} stream tcp nowait root internal echo\n"),
            1 => format!("127.0.0.1:{port} dgram udp wait root internal daytime\n"),
            2 => format!("127.0.0.1:{port} stream tcp nowait/4/2 nobody /bin/cat cat -u\n"),
            _ => format!("127.0.0.1:{port} stream tcp,sndbuf=64k nowait.30 root /bin/true true\n"),
        };
    }
    lines
}

/// A non-writable mapping of the daemon's own executable: where, how big,
/// how much of it is resident (KiB).
struct Mapping {
    start: usize,
    size_kib: u64,
    rss_kib: u64,
}

fn read_only_mappings_of_exe(pid: i32) -> Vec<Mapping> {
    let exe: PathBuf = fs::read_link(format!("/proc/{pid}/exe")).expect("exe");
    let exe = exe.to_string_lossy().into_owned();
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).expect("smaps");
    let mut mappings = Vec::new();
    let mut current: Option<Mapping> = None;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [range, perms, _, _, _, path, ..] if is_header(range) => {
                mappings.extend(current.take());
                if *path == exe && !perms.contains('w') {
                    let start = range.split('-').next().unwrap();
                    current = Some(Mapping {
                        start: usize::from_str_radix(start, 16).unwrap(),
                        size_kib: 0,
                        rss_kib: 0,
                    });
                }
            }
            [range, ..] if is_header(range) => {
                mappings.extend(current.take());
            }
            ["Size:", kib, ..] => current
                .iter_mut()
                .for_each(|m| m.size_kib = kib.parse().unwrap()),
            ["Rss:", kib, ..] => current
                .iter_mut()
                .for_each(|m| m.rss_kib = kib.parse().unwrap()),
            _ => {}
        }
    }
    mappings.extend(current);
    assert!(!mappings.is_empty(), "no mapping of {exe} in smaps");
    mappings
}

/// The first field of a mapping's line in smaps: `START-END`.
fn is_header(field: &str) -> bool {
    field.contains('-') && !field.ends_with(':')
}

/// Resident share of the executable's read-only mappings, in per cent.
fn resident_percent(pid: i32) -> u64 {
    let mappings = read_only_mappings_of_exe(pid);
    let size: u64 = mappings.iter().map(|m| m.size_kib).sum();
    let rss: u64 = mappings.iter().map(|m| m.rss_kib).sum();
    rss * 100 / size
}

#[test]
fn the_code_only_loading_ran_leaves_the_resident_set() {
    let config = config();
    let daemon = Daemon::start("resident-load", &config);
    // Without the unmapping, loading leaves 85-88 % of a debug binary's
    // read-only pages mapped here, 95 % of a release one's (the kernel maps
    // 64 KiB around each page touched); once they are unmapped, the idle
    // loop maps 55-65 % and 22-28 % again. The unmapping follows the
    // readiness signals: wait for it.
    wait_until("at most 75 % of the code resident after start-up", || {
        resident_percent(daemon.pid()) <= 75
    });
    daemon.reload(&format!("{config}# changed\n"));
    wait_until("at most 75 % of the code resident after a reload", || {
        resident_percent(daemon.pid()) <= 75
    });
}

/// /proc/PID/pagemap: present, and the file's own page (not a private copy).
fn page_state(pid: i32, address: usize) -> (bool, bool) {
    let pagemap = File::open(format!("/proc/{pid}/pagemap")).expect("pagemap");
    let mut entry = [0u8; 8];
    pagemap
        .read_exact_at(&mut entry, (address / 4096 * 8) as u64)
        .expect("entry");
    let entry = u64::from_ne_bytes(entry);
    (entry & 1 << 63 != 0, entry & 1 << 61 != 0)
}

/// The daemon's debug line for each unmapping.
const UNMAPPED: &str = "loading's code unmapped";

#[test]
fn a_private_copy_of_code_stays_mapped_across_a_reload() {
    if !is_root() {
        eprintln!("SKIPPED: writing another process's code needs root");
        return;
    }
    let config = config();
    let daemon = Daemon::start("resident-copy", &config);
    daemon.wait_for_log(UNMAPPED);
    // What a debugger does to set a breakpoint, with the byte unchanged:
    // the page becomes the process's own copy.
    let page = read_only_mappings_of_exe(daemon.pid())[0].start;
    let mem = File::options()
        .read(true)
        .write(true)
        .open(format!("/proc/{}/mem", daemon.pid()))
        .expect("mem");
    let mut byte = [0u8; 1];
    mem.read_exact_at(&mut byte, page as u64)
        .expect("read code");
    mem.write_all_at(&byte, page as u64).expect("write code");
    assert_eq!(
        page_state(daemon.pid(), page),
        (true, false),
        "a private copy"
    );
    daemon.reload(&format!("{config}# changed\n"));
    // The unmapping waits for the loop's first idle turn.
    wait_until("the reload's unmapping", || {
        daemon.log_text().matches(UNMAPPED).count() == 2
    });
    assert_eq!(
        page_state(daemon.pid(), page),
        (true, false),
        "the private copy of the page was dropped by the reload"
    );
}
