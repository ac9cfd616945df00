//! The engine and `inetd --match` against Debian's libwrap and tcpdmatch
//! with real name lookups: every side runs in a mount namespace whose
//! /etc/hosts, /etc/nsswitch.conf and /etc/resolv.conf are the test's,
//! the resolver asking a dnsmasq on 127.0.0.30 for what a hosts file
//! cannot say (a PTR with no forward entry, a name found through the
//! search list, one whose address is another's).
//!
//! The production side: tests/libwrap/driver.c with REAL_NAMES (the
//! library's own sock_hostname()) against [`Rules::decide`] with the
//! `--tcpd` child's [`SystemLookup`], run by this same test binary
//! re-executed inside the namespace ([`engine_side_of_real_lookups`]);
//! compared: verdict, lookups, commands and their expansions, settings,
//! banners and the diagnostics. The explaining side: tcpdmatch (its
//! syslog lines caught by an LD_PRELOAD shim) against `inetd --match`,
//! their whole output. Needs root, cc, libwrap0-dev, tcpd and dnsmasq:
//! skipped by hand without them, fails in CI.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};

use inetd::hosts::{Account, Decision, Lookup, Request, Rules, WouldBlock};
use inetd::tcpd::system::SystemLookup;
use inetd::tcpd::twist_message;

use super::differential::{
    build_driver, driver_effects, effects_of, have_libwrap, run_driver_command, Rng,
};
use crate::util::{private_names, require, wait_until, Daemon, Dir};

const DRIVER_SETS: usize = 200;
const TCPDMATCH_SETS: usize = 80;
/// Where the engine side finds its cases, when this binary runs it.
const CASES_VAR: &str = "INETD_REAL_LOOKUP_CASES";
const DNS: &str = "127.0.0.30";

/// Names that verify (h5, other, localhost both ways, h6), an alias, a
/// numeric name (10.0.0.9), a name whose forward lookup finds another
/// host's line first (10.0.0.10).
const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost\n10.0.0.5 h5.example.com alias\n\
                     10.0.0.9 1.2.3.4\n10.0.0.11 other.example.com dup.example.com\n\
                     10.0.0.10 dup.example.com\n2001:db8::5 h6.example.com\n";
const NSSWITCH: &str = "hosts: files dns\n";

/// dnsmasq's records: PTRs with no forward entry (10.0.1.1), found through
/// the search list (10.0.1.2: a.example.com.attacker.test), pointing to
/// another address (10.0.1.3), to a name with IPv4 only (2001:db8::6).
fn dnsmasq() -> Option<Daemon> {
    if !require("dnsmasq") {
        return None;
    }
    let v6_ptr = "6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
    let dns = Command::new("dnsmasq")
        .args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            &format!("--listen-address={DNS}"),
            "--port=53",
            "--user=root",
            "--pid-file=",
            "--local=/example.com/",
            "--local=/attacker.test/",
            "--local=/in-addr.arpa/",
            "--local=/ip6.arpa/",
            "--ptr-record=1.1.0.10.in-addr.arpa,ptronly.example.com",
            "--ptr-record=2.1.0.10.in-addr.arpa,a.example.com",
            "--address=/a.example.com.attacker.test/10.0.1.2",
            "--ptr-record=3.1.0.10.in-addr.arpa,elsewhere.example.com",
            "--address=/elsewhere.example.com/10.0.1.99",
            &format!("--ptr-record={v6_ptr},v4only.example.com"),
            "--address=/v4only.example.com/10.0.1.98",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Daemon::adopt)
        .expect("start dnsmasq");
    wait_until("dnsmasq to bind its port", || {
        std::net::UdpSocket::bind((DNS, 53)).is_err()
    });
    Some(dns)
}

fn resolv_conf() -> String {
    format!("nameserver {DNS}\nsearch attacker.test\noptions timeout:1 attempts:1\n")
}

const DAEMONS: &[&str] = &[
    "ALL",
    "sshd",
    "in.telnetd",
    "sshd, in.telnetd",
    "23",
    "0",
    "99999",
    "ALL@.example.com",
    "ALL@KNOWN",
    "ALL@UNKNOWN",
    "ALL@PARANOID",
    "ALL@127.0.0.1",
    "sshd@localhost",
    "ALL EXCEPT sshd",
];

const CLIENTS: &[&str] = &[
    "ALL",
    "KNOWN",
    "UNKNOWN",
    "PARANOID",
    "LOCAL",
    ".example.com",
    "h5.example.com",
    "H5.EXAMPLE.COM",
    "a.example.com",
    ".attacker.test",
    "localhost",
    "10.0.0.",
    "10.0.1.0/255.255.255.0",
    "[2001:db8::]/32",
    "ALL EXCEPT PARANOID",
    "ALL EXCEPT 10.0.0.5",
    "joe@ALL",
    "joe@.example.com",
    "*.example.com",
    "other.example.com",
    "paranoid",
    "unknown",
    "h6.example.com",
    "1.2.3.4",
    ".4",
];

/// Options for both; banners, aclexec and user only for the production
/// side (tcpdmatch writes banners to its stdout, does not run aclexec,
/// and switches to the user as root).
const OPTIONS: &[&str] = &[
    "allow",
    "deny",
    "spawn echo %h %n %c %a %u",
    "spawn echo %N %H %s %A %d",
    "twist echo %c %n",
    "setenv N %n",
    "linger -1",
    "linger 5",
    "nice x",
    "nice 5",
    "umask 999",
    "umask 027",
    "severity local0.notice",
    "severity mail.err",
    "keepalive",
    "rfc931 3",
    "bogus",
];
const PRODUCTION_OPTIONS: &[&str] = &[
    "banners BANNERS",
    "aclexec fail %h",
    "aclexec ok %n",
    "user nobody",
];

/// The clients of the production side, with the servers they reach.
const PEERS: &[&str] = &[
    "10.0.0.5",
    "::ffff:10.0.0.5",
    "10.0.0.9",
    "10.0.0.10",
    "10.0.0.11",
    "10.0.1.1",
    "10.0.1.2",
    "10.0.1.3",
    "10.0.0.2",
    "127.0.0.1",
    "::1",
    "2001:db8::5",
    "2001:db8::6",
    "2001:db8::7",
];
const SERVERS: &[&str] = &["127.0.0.1:23", "10.0.0.5:2323", "[2001:db8::5]:23"];

/// What `--match` and tcpdmatch are asked.
const MATCH_DAEMONS: &[&str] = &[
    "sshd",
    "in.telnetd",
    "sshd@127.0.0.1",
    "in.telnetd@10.0.0.5",
    "sshd@h5.example.com",
    "sshd@paranoid",
    "23",
    "99999",
];
const MATCH_CLIENTS: &[&str] = &[
    "h5.example.com",
    "joe@h5.example.com",
    "alias",
    "localhost",
    "dup.example.com",
    "a.example.com",
    "h6.example.com",
    "other.example.com",
    "unknown",
    "paranoid",
    "joe@unknown",
    "nosuch.example.com",
];

fn rule_file(rng: &mut Rng, options: &[&str], dir: &Path) -> String {
    let mut text = String::new();
    for _ in 0..1 + rng.below(4) {
        let list = |rng: &mut Rng, pool: &[&str], sep: &str| {
            let n = 1 + rng.below(2);
            (0..n).map(|_| rng.pick(pool)).collect::<Vec<_>>().join(sep)
        };
        let mut line = format!("{}: {}", list(rng, DAEMONS, ", "), list(rng, CLIENTS, " "));
        if rng.chance(60) {
            let n = 1 + rng.below(3);
            let opts: Vec<_> = (0..n).map(|_| rng.pick(options)).collect();
            line = format!("{line}: {}", opts.join(": "));
        }
        text.push_str(&line.replace("BANNERS", &format!("{}/banners", dir.display())));
        text.push('\n');
    }
    text
}

/// The engine's side, run by [`engine_and_tcpdmatch_agree_with_libwrap_on_real_lookups`]
/// in its namespace: does nothing unless [`CASES_VAR`] names a case file.
#[test]
fn engine_side_of_real_lookups() {
    let Ok(path) = std::env::var(CASES_VAR) else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read the cases");
    let mut rules: HashMap<String, Rules> = HashMap::new();
    let mut out = String::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let set = rules
            .entry(f[0].to_string())
            .or_insert_with(|| Rules::load(f[0].as_ref(), f[1].as_ref()));
        let client = SocketAddr::new(f[3].parse().unwrap(), f[4].parse().unwrap());
        let server = SocketAddr::new(f[6].parse().unwrap(), f[7].parse().unwrap());
        let user = (f[9] != "-").then(|| f[9].to_string());
        let request = Request {
            daemon: f[2],
            client,
            server,
            pid: Some(f[10].parse().unwrap()),
        };
        let mut lookup = RealNames {
            client,
            user,
            asked: Vec::new(),
        };
        let decision = set.decide(&request, &mut lookup);
        // What the child logs: libwrap's diagnostics, then a twist's line.
        let diagnostics: Vec<String> = match &decision {
            Decision::Granted(o) | Decision::Denied(o) => o
                .trace
                .iter()
                .filter(|l| !l.starts_with("matched:  ") && !l.starts_with("option:   "))
                .cloned()
                .chain(o.twist().map(|command| twist_message(o, command)))
                .collect(),
            Decision::NeedsLookup(_) => Vec::new(),
        };
        let effects = effects_of(decision, lookup.asked);
        let _ = writeln!(out, "{effects:?}\t{diagnostics:?}");
    }
    std::fs::write(format!("{path}.out"), out).expect("write the engine's effects");
}

/// The child's lookups for names, accounts and files; the user and the
/// commands answered as the driver answers them.
struct RealNames {
    client: SocketAddr,
    user: Option<String>,
    asked: Vec<String>,
}

impl Lookup for RealNames {
    fn host_name(
        &mut self,
        addr: SocketAddr,
        warnings: &mut Vec<String>,
    ) -> Result<Option<String>, WouldBlock> {
        let side = if addr == self.client {
            "client"
        } else {
            "server"
        };
        self.asked.push(side.to_string());
        SystemLookup.host_name(addr, warnings)
    }

    fn user(&mut self, _: SocketAddr, _: SocketAddr, _: u32) -> Result<Option<String>, WouldBlock> {
        self.asked.push("user".to_string());
        Ok(self.user.clone())
    }

    fn in_netgroup(&mut self, _: &str, _: &str) -> Result<bool, WouldBlock> {
        Ok(false)
    }

    fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, WouldBlock> {
        SystemLookup.account_exists(kind, name)
    }

    fn run_command(&mut self, command: &str) -> Result<i32, WouldBlock> {
        Ok(i32::from(command.contains("fail")))
    }

    fn read_file(&mut self, path: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        SystemLookup.read_file(path)
    }
}

/// libwrap's diagnostics in a driver report.
fn driver_diagnostics(report: &str) -> Vec<String> {
    report
        .lines()
        .filter_map(|l| l.strip_prefix("syslog "))
        .filter_map(|l| l.split_once(' ').map(|(_, text)| text.to_string()))
        .collect()
}

/// An LD_PRELOAD shim that prints tcpdmatch's syslog lines on its stdout.
fn build_shim(dir: &Path) -> std::path::PathBuf {
    let source = dir.join("shim.c");
    std::fs::write(
        &source,
        r#"#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
static void line(const char *fmt, va_list ap) {
    char f2[1024], *d = f2; const char *e = strerror(errno);
    for (const char *s = fmt; *s && d < f2 + sizeof f2 - 128;) {
        if (s[0] == '%' && s[1] == 'm') { d += snprintf(d, 128, "%s", e); s += 2; } else *d++ = *s++;
    }
    *d = 0;
    vfprintf(stdout, f2, ap); fputc('\n', stdout); fflush(stdout);
}
void syslog(int p, const char *f, ...) { va_list ap; va_start(ap, f); line(f, ap); va_end(ap); }
void __syslog_chk(int p, int fl, const char *f, ...) { va_list ap; va_start(ap, f); line(f, ap); va_end(ap); }
void vsyslog(int p, const char *f, va_list ap) { line(f, ap); }
void __vsyslog_chk(int p, int fl, const char *f, va_list ap) { line(f, ap); }
void openlog(const char *i, int o, int f) {}
"#,
    )
    .unwrap();
    let shim = dir.join("shim.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-w", "-o"])
        .arg(&shim)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cannot build the syslog shim");
    shim
}

/// One side's `--match`/tcpdmatch output, without what comes of the
/// inetd configuration (compared elsewhere) and blank lines.
fn normalized(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| !l.is_empty() && !l.contains("inetd.conf"))
        .map(str::to_string)
        .collect()
}

#[test]
fn engine_and_tcpdmatch_agree_with_libwrap_on_real_lookups() {
    if std::env::var_os(CASES_VAR).is_some() || !have_libwrap() || !require("tcpdmatch") {
        return;
    }
    let dir = Dir::new("real-lookups");
    let names = |program: &Path| private_names(&dir, HOSTS, &resolv_conf(), NSSWITCH, program);
    let Some(_) = names(Path::new("/bin/true")) else {
        return;
    };
    let Some(_dns) = dnsmasq() else {
        return;
    };
    let work = dir.path.as_path();
    std::fs::create_dir_all(work.join("banners")).unwrap();
    std::fs::write(work.join("banners/sshd"), "hi %h (%a) as %u\n").unwrap();
    let driver = build_driver(work);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);

    // Production: the driver, then this binary as the engine.
    let production: Vec<&str> = OPTIONS.iter().chain(PRODUCTION_OPTIONS).copied().collect();
    let mut lines = Vec::new();
    for set in 0..DRIVER_SETS {
        let [allow, deny] = ["allow", "deny"].map(|f| work.join(format!("{f}{set}")));
        std::fs::write(&allow, rule_file(&mut rng, &production, work)).unwrap();
        std::fs::write(&deny, rule_file(&mut rng, &production, work)).unwrap();
        for _ in 0..6 {
            let client: IpAddr = rng.pick(PEERS).parse().unwrap();
            let server: SocketAddr = rng.pick(SERVERS).parse().unwrap();
            let fields = [
                allow.display().to_string(),
                deny.display().to_string(),
                rng.pick(&["sshd", "in.telnetd"]).to_string(),
                client.to_string(),
                (4000 + rng.below(100)).to_string(),
                "-".to_string(),
                server.ip().to_string(),
                server.port().to_string(),
                "-".to_string(),
                rng.pick(&["joe", "-"]).to_string(),
            ];
            lines.push(fields.join("\t"));
        }
    }
    let mut command = names(&driver).unwrap();
    command.env("REAL_NAMES", "1");
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let reports = run_driver_command(command, work, input, None);
    assert!(reports.len() > lines.len(), "the driver stopped early");
    let expected: Vec<(String, String)> = reports[..lines.len()]
        .iter()
        .map(|r| {
            let (effects, pid) = driver_effects(r);
            (
                format!("{effects:?}\t{:?}", driver_diagnostics(r)),
                pid.to_string(),
            )
        })
        .collect();
    let cases = work.join("cases");
    let with_pids: String = lines
        .iter()
        .zip(&expected)
        .map(|(l, (_, pid))| format!("{l}\t{pid}\n"))
        .collect();
    std::fs::write(&cases, with_pids).unwrap();
    let test_binary = std::env::current_exe().unwrap();
    let status = names(&test_binary)
        .unwrap()
        .args([
            "--exact",
            "hosts::real_lookups::engine_side_of_real_lookups",
        ])
        .args(["--test-threads", "1", "--nocapture"])
        .env(CASES_VAR, &cases)
        .stdout(Stdio::null())
        .status()
        .expect("run the engine side");
    assert!(status.success(), "the engine side failed");
    let engine = std::fs::read_to_string(format!("{}.out", cases.display())).unwrap();
    let mut mismatches = Vec::new();
    for ((line, (want, _)), got) in lines.iter().zip(&expected).zip(engine.lines()) {
        if want != got {
            let set = line.split('\t').next().unwrap_or_default();
            let deny = set.replace("/allow", "/deny");
            mismatches.push(format!(
                "{line}\n  libwrap {want}\n  engine  {got}\n{}--\n{}",
                std::fs::read_to_string(set).unwrap_or_default(),
                std::fs::read_to_string(deny).unwrap_or_default()
            ));
        }
    }
    eprintln!(
        "real lookups, production: {} cases, {} mismatches",
        lines.len(),
        mismatches.len()
    );
    let production_mismatches = mismatches;
    // Every kind of name the namespace holds was met.
    let said: String = expected.iter().map(|(e, _)| e.as_str()).collect();
    for kind in [
        "reverse lookup results in non-FQDN 1.2.3.4",
        "host name/name mismatch: a.example.com != a.example.com.attacker.test",
        "host name/name mismatch: dup.example.com != other.example.com",
        "host name/address mismatch: 10.0.1.3 != elsewhere.example.com",
        "can't verify hostname: getaddrinfo(ptronly.example.com, AF_INET) failed",
        "can't verify hostname: getaddrinfo(v4only.example.com, AF_INET6) failed",
        "h6.example.com",
        "joe@h5.example.com",
    ] {
        assert!(said.contains(kind), "no case met {kind:?}");
    }

    // Explaining: tcpdmatch and --match on the same questions, in one
    // shell. The binary cargo built, not `$INETD_BIN`: only with the C
    // library tcpdmatch uses do both ask the same resolver (musl's never
    // applies the search list to a name with a dot).
    let inetd = env!("CARGO_BIN_EXE_inetd");
    let shim = build_shim(work);
    let mut script = String::new();
    let mut questions = Vec::new();
    for set in 0..TCPDMATCH_SETS {
        let set_dir = work.join(format!("match{set}"));
        std::fs::create_dir_all(&set_dir).unwrap();
        // tcpdmatch insists on one; what it says of it is not compared.
        std::fs::write(set_dir.join("inetd.conf"), "").unwrap();
        std::fs::write(
            set_dir.join("hosts.allow"),
            rule_file(&mut rng, OPTIONS, work),
        )
        .unwrap();
        std::fs::write(
            set_dir.join("hosts.deny"),
            rule_file(&mut rng, OPTIONS, work),
        )
        .unwrap();
        for _ in 0..4 {
            let (daemon, client) = (rng.pick(MATCH_DAEMONS), rng.pick(MATCH_CLIENTS));
            let i = questions.len();
            questions.push((set_dir.clone(), daemon, client));
            let _ = writeln!(
                script,
                "cd '{}' && echo '=== {i}' && LD_PRELOAD='{}' tcpdmatch -d -i inetd.conf {daemon} {client} 2>&1 \
                 && true; echo '--- {i}'; '{}' --match {daemon} {client} \
                 --allow hosts.allow --deny hosts.deny inetd.conf; true",
                set_dir.display(),
                shim.display(),
                inetd
            );
        }
    }
    std::fs::write(work.join("match.sh"), script).unwrap();
    let out = names(Path::new("/bin/sh"))
        .unwrap()
        .arg(work.join("match.sh"))
        .stderr(Stdio::null())
        .output()
        .expect("run tcpdmatch and --match");
    let out = String::from_utf8_lossy(&out.stdout);
    let mut mismatches = Vec::new();
    for (i, (set_dir, daemon, client)) in questions.iter().enumerate() {
        let block = out
            .split(&format!("=== {i}\n"))
            .nth(1)
            .and_then(|b| b.split(&format!("=== {}\n", i + 1)).next())
            .unwrap_or_default();
        let (theirs, ours) = block
            .split_once(&format!("--- {i}\n"))
            .unwrap_or((block, ""));
        let (theirs, ours) = (normalized(theirs), normalized(ours));
        if theirs != ours {
            mismatches.push(format!(
                "--match {daemon} {client} in {}\n  tcpdmatch {theirs:#?}\n  inetd     {ours:#?}",
                set_dir.display()
            ));
        }
    }
    eprintln!(
        "real lookups, tcpdmatch: {} questions, {} mismatches",
        questions.len(),
        mismatches.len()
    );
    let all: Vec<_> = mismatches.iter().chain(&production_mismatches).collect();
    assert!(
        all.is_empty(),
        "{}",
        all.iter()
            .take(6)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
