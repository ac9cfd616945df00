//! The engine against Debian's real libwrap: generated rule sets and
//! clients, decided by both (the library through tests/libwrap/driver.c,
//! which answers name and user lookups from the case, like [`case_lookup`]).
//! Needs `cc` and libwrap0-dev: skipped by hand without them, fails in CI.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use inetd::hosts::nss::account_exists;
use inetd::hosts::scripted::Asked;
use inetd::hosts::{Account, Decision, Request, RuleOption, Rules, ScriptedLookup};

use crate::util::is_root;

const RULE_SETS: usize = 500;

/// What every case's lookup shares: the accounts the options name, as the
/// system knows them (libwrap asks the real databases), and the files.
struct Shared {
    accounts: HashSet<(Account, String)>,
    files: HashMap<String, Vec<u8>>,
}

/// Answers like the driver: names and user from the case, no netgroups,
/// commands fail when they say "fail", accounts as the system knows them
/// and the fixture files.
fn case_lookup(case: &Case, shared: &Shared) -> ScriptedLookup {
    let mut lookup = ScriptedLookup {
        accounts: shared.accounts.clone(),
        files: shared.files.clone(),
        failing_commands: vec!["fail".to_string()],
        ..ScriptedLookup::default()
    };
    for (addr, name) in [
        (case.client.ip(), case.client_name),
        (case.server.ip(), case.server_name),
    ] {
        if let Some(name) = name {
            lookup.names.insert(addr, name.to_string());
        }
    }
    if let Some(user) = case.user {
        lookup
            .users
            .insert((case.client, case.server), user.to_string());
    }
    lookup
}

/// The users and groups the `user` and `group` options of [`OPTIONS`]
/// name, those of them that exist.
pub(super) fn option_accounts() -> HashSet<(Account, String)> {
    let mut named = Vec::new();
    for option in OPTIONS {
        if let Some(arg) = option.strip_prefix("user ") {
            let (user, group) = arg.split_once('.').unwrap_or((arg, ""));
            named.push((Account::User, user));
            named.push((Account::Group, group));
        } else if let Some(group) = option.strip_prefix("group ") {
            named.push((Account::Group, group));
        }
    }
    named
        .into_iter()
        .filter(|(kind, name)| !name.is_empty() && account_exists(*kind, name))
        .map(|(kind, name)| (kind, name.to_string()))
        .collect()
}

struct Case {
    set: usize,
    daemon: &'static str,
    client: SocketAddr,
    client_name: Option<&'static str>,
    server: SocketAddr,
    server_name: Option<&'static str>,
    user: Option<&'static str>,
}

/// What both sides did, normalized for comparison.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Effects {
    verdict: String,
    lookups: Vec<String>,
    commands: Vec<String>,
    env: Vec<String>,
    settings: Vec<String>,
    banner: String,
}

/// xorshift64*: deterministic, dependency-free.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    pub(super) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const DAEMONS: &[&str] = &[
    "ALL",
    "in.telnetd",
    "sshd",
    "IN.TELNETD",
    "in.*",
    ".telnetd",
    "in.",
    "23",
    "023",
    "+23",
    "2323",
    "65535",
    "99999",
    "in.telnetd@10.9.9.9",
    "ALL@srv.example.com",
    "in.telnetd@.example.com",
    "ALL@[2001:db8::9]",
    "ALL@10.0.0.0/8",
    "ALL@LOCAL",
    "ALL@KNOWN",
    "sshd,in.telnetd",
    "ALL EXCEPT sshd",
    "ALL EXCEPT in.telnetd",
    "KNOWN",
    "s?hd",
    "@10.9.9.9",
    "x@",
];

const CLIENTS: &[&str] = &[
    "ALL",
    "LOCAL",
    "KNOWN",
    "UNKNOWN",
    "PARANOID",
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.",
    "10.",
    "192.168.",
    "10.0",
    ".example.com",
    ".EXAMPLE.COM",
    ".com",
    ".0.1",
    ".5",
    "h1.example.com",
    "H1.Example.Com",
    "example.com.",
    "10.0.0.0/255.0.0.0",
    "10.0.0.0/8",
    "10.0.0.1/8",
    "0.0.0.0/0",
    "0.0.0.0/0.0.0.0",
    "10.0.0.0/8x",
    "192.168.1.0/24",
    "10.0.0.1/255.255.255.255",
    "10.0.0.1/32",
    "012.0.0.0/8",
    "10.0.0.0/255.0.255.0",
    "10.64.0.0/10.0",
    "[::1]",
    "[0::1]",
    "[2001:db8::1]",
    "[2001:DB8::1]",
    "[2001:db8::]/32",
    "[2001:db8::]/abc",
    "[fe80::]/10",
    "[::]/0",
    "[::ffff:10.0.0.1]",
    "[::ffff:10.0.0.0]/104",
    "[10.0.0.1]",
    "[::1]/129",
    "2001:db8::1",
    "*.example.com",
    "10.0.0.?",
    "h*",
    "unk*",
    ".example.*",
    "*",
    "*1",
    "?",
    "joe@ALL",
    "j*@10.0.0.1",
    "root@.example.com",
    "KNOWN@ALL",
    "UNKNOWN@ALL",
    "joe@LOCAL",
    "@staff",
    "joe@@staff",
    "@@x",
    "joe@",
    "ALL EXCEPT 10.0.0.1",
    "ALL EXCEPT .example.com EXCEPT h1.example.com",
    "10.0.0.2 10.0.0.1 EXCEPT 10.0.0.2",
    "EXCEPT ALL",
    "LIST1",
    "LIST2",
    "LIST3",
    "ALL EXCEPT LIST1",
    "localhost",
    "v6.example.com",
    "ws5",
    "#",
    "evil*",
];

const OPTIONS: &[&str] = &[
    "allow",
    "deny",
    "ALLOW",
    "spawn echo %a %c %h %n %u %d %s %p %r %R %H %A %N %% %x %",
    "spawn echo %c",
    "spawn a\\:b %h",
    "twist echo %c %s",
    "setenv VAR %n",
    "setenv A b c",
    "setenv X",
    "setenv a=b x",
    "umask 027",
    "umask 0800",
    "nice 5",
    "nice",
    "nice 3x",
    "keepalive",
    "keepalive 1",
    "linger 5",
    "linger -1",
    "rfc931",
    "rfc931 3",
    "rfc931 0",
    "severity mail.notice",
    "severity local0.DEBUG",
    "severity bogus",
    "severity mail",
    "banners BANNERS",
    "banners /nonexistent",
    "user nobody",
    "user nosuchuser",
    "user nobody.nogroup",
    "group nogroup",
    "aclexec fail %a",
    "aclexec ok %h",
    "bogus",
    "",
    "spawn=x",
    "spawn = y= z",
    "umask",
    "twist echo %h: allow",
];

const PEERS: &[(&str, Option<&str>)] = &[
    ("10.0.0.1", Some("h1.example.com")),
    ("10.0.0.2", None),
    ("192.168.1.5", Some("ws5")),
    ("::1", Some("localhost")),
    ("2001:db8::1", Some("v6.example.com")),
    ("::ffff:10.0.0.1", Some("h1.example.com")),
    ("10.1.2.3", Some("paranoid")),
    ("10.0.0.9", Some("evil;rm -rf /.example.com")),
    ("::1.2.3.4", None),
    ("fe80::1", Some("H1.EXAMPLE.COM")),
];

fn rule_line(rng: &mut Rng, dir: &Path) -> String {
    let list = |rng: &mut Rng, pool: &[&str], sep: &str| {
        let n = 1 + rng.below(3);
        (0..n).map(|_| rng.pick(pool)).collect::<Vec<_>>().join(sep)
    };
    let mut line = format!("{}: {}", list(rng, DAEMONS, ", "), list(rng, CLIENTS, " "));
    if rng.chance(50) {
        let n = 1 + rng.below(3);
        let opts: Vec<_> = (0..n).map(|_| rng.pick(OPTIONS)).collect();
        line = format!("{line}: {}", opts.join(": "));
    }
    let dir = dir.display();
    line = line
        .replace("LIST", &format!("{dir}/list"))
        .replace("BANNERS", &format!("{dir}/banners"));
    match rng.below(20) {
        0 => line.replacen(' ', " \\\n ", 1),
        1 => format!("  # {line}"),
        2 => format!("# {line}"),
        3 => line.replace(':', ""),
        _ => line,
    }
}

fn rule_file(rng: &mut Rng, dir: &Path) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(5) {
        text.push_str(&rule_line(rng, dir));
        text.push('\n');
        if rng.chance(10) {
            text.push('\n');
        }
    }
    match rng.below(25) {
        0 => {
            text.push_str(&rule_line(rng, dir)); // no final newline
        }
        1 => {
            let long = format!(
                "x: y{}\nALL: ALL: spawn after-long\n",
                " ".repeat(2042 + rng.below(4))
            );
            text.push_str(&long);
        }
        _ => {}
    }
    text
}

fn cases(rng: &mut Rng, set: usize) -> Vec<Case> {
    (0..8)
        .map(|_| {
            let (client, client_name) = PEERS[rng.below(PEERS.len())];
            let (server, server_name) = if rng.chance(70) {
                ("10.9.9.9:23", Some("srv.example.com"))
            } else {
                ("[2001:db8::9]:2323", None)
            };
            Case {
                set,
                daemon: rng.pick(&["in.telnetd", "sshd"]),
                client: SocketAddr::new(client.parse().unwrap(), 4000 + rng.below(100) as u16),
                client_name,
                server: server.parse().unwrap(),
                server_name,
                user: [Some("joe"), None, Some("r;m")][rng.below(3)],
            }
        })
        .collect()
}

fn driver_line(case: &Case, dir: &Path) -> String {
    let opt = |s: Option<&str>| s.unwrap_or("-").to_string();
    [
        dir.join(format!("allow{}", case.set)).display().to_string(),
        dir.join(format!("deny{}", case.set)).display().to_string(),
        case.daemon.to_string(),
        case.client.ip().to_string(),
        case.client.port().to_string(),
        opt(case.client_name),
        case.server.ip().to_string(),
        case.server.port().to_string(),
        opt(case.server_name),
        opt(case.user),
    ]
    .join("\t")
}

/// The driver's report of one case, and the pid its child had.
pub(super) fn driver_effects(report: &str) -> (Effects, u32) {
    let mut e = Effects::default();
    let mut pid = 0;
    for line in report.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "pid" => pid = rest.parse().unwrap_or(0),
            "lookup" => e.lookups.push(rest.to_string()),
            "exec" => e.commands.push(rest.to_string()),
            "env" => e.env.push(rest.to_string()),
            "banner" => e.banner.push_str(rest),
            "access" => e.verdict = rest.to_string(),
            "exit" => e.verdict = format!("exit {rest}"),
            "syslog" => {}
            _ => e.settings.push(line.to_string()),
        }
    }
    if e.verdict.is_empty() {
        e.verdict = "twist".to_string();
    }
    e.env.sort();
    (e, pid)
}

fn engine_effects(rules: &Rules, case: &Case, shared: &Shared, pid: u32) -> Effects {
    let mut lookup = case_lookup(case, shared);
    let request = Request {
        daemon: case.daemon,
        client: case.client,
        server: case.server,
        pid: Some(pid),
    };
    let decision = rules.decide(&request, &mut lookup);
    let lookups = lookup.asked.iter().map(|asked| match asked {
        Asked::HostName(addr) if *addr == case.client.ip() => "client",
        Asked::HostName(_) => "server",
        Asked::User => "user",
    });
    effects_of(decision, lookups.map(str::to_string).collect())
}

/// What a decision did, as the driver reports it; `lookups` in the order asked.
pub(super) fn effects_of(decision: Decision, lookups: Vec<String>) -> Effects {
    let mut e = Effects {
        lookups,
        ..Effects::default()
    };
    let outcome = match decision {
        Decision::Granted(o) if o.twist().is_some() => {
            e.verdict = "twist".to_string();
            o
        }
        Decision::Granted(o) => {
            e.verdict = "granted".to_string();
            o
        }
        Decision::Denied(o) => {
            e.verdict = "denied".to_string();
            o
        }
        Decision::NeedsLookup(need) => {
            e.verdict = format!("needs {need:?}");
            return e;
        }
    };
    let mut env = BTreeMap::new();
    let (mut umask, mut nice, mut severity, mut timeout, mut keepalive, mut linger) =
        (0o22, 0, None, 10, false, 0);
    for option in &outcome.options {
        match option {
            RuleOption::Spawn(c) | RuleOption::Twist(c) | RuleOption::Aclexec(c) => {
                e.commands.push(c.clone())
            }
            RuleOption::Setenv(k, v) => {
                env.insert(k.clone(), v.clone());
            }
            RuleOption::Umask(m) => umask = *m,
            RuleOption::Nice(n) => nice += n,
            RuleOption::Severity(s) => severity = Some(*s),
            RuleOption::Rfc931(t) => timeout = *t,
            RuleOption::Keepalive => keepalive = true,
            RuleOption::Linger(n) => linger = *n,
            RuleOption::Banners(text) => e.banner.push_str(&escape(text)),
            RuleOption::User(_) | RuleOption::Group(_) => {}
        }
    }
    if e.verdict == "twist" {
        // The driver's process was replaced before it could report
        // settings or read the banner.
        e.banner.clear();
        return e;
    }
    e.env = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let nice = nice.clamp(-20, 19);
    if umask != 0o22 {
        e.settings.push(format!("umask {umask:03o}"));
    }
    if nice != 0 {
        e.settings.push(format!("nice {nice}"));
    }
    if let Some(s) = severity {
        e.settings.push(format!("severity {s} {s}"));
    }
    if timeout != 10 {
        e.settings.push(format!("rfc931_timeout {timeout}"));
    }
    if keepalive {
        e.settings.push("keepalive".to_string());
    }
    if linger != 0 {
        e.settings.push(format!("linger {linger}"));
    }
    e
}

/// The driver's escaping of banner bytes.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            32..=126 => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

pub(super) fn have_libwrap() -> bool {
    let cc = Command::new("cc")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if cc && Path::new("/usr/include/tcpd.h").exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the differential test needs cc and libwrap0-dev (CI must install them)");
    }
    eprintln!("skipping: cc or libwrap0-dev is not installed");
    false
}

pub(super) fn build_driver(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libwrap/driver.c");
    let driver = dir.join("driver");
    let status = Command::new("cc")
        .args(["-O1", "-w", "-rdynamic", "-o"])
        .arg(&driver)
        .arg(&source)
        .arg("-lwrap")
        .status()
        .expect("run cc");
    assert!(status.success(), "cannot build the libwrap driver");
    driver
}

/// Writes the host lists and banner files; returns the banner files.
fn fixtures(dir: &Path) -> HashMap<String, Vec<u8>> {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("list1", "10.0.0.2 .example.com\n");
    write("list2", &format!("{}/list1 [::1]\n  ws5", dir.display()));
    write("list3", "KNOWN EXCEPT 10.0.0.1\n");
    std::fs::create_dir_all(dir.join("banners")).unwrap();
    let banner = dir.join("banners/in.telnetd");
    let text = b"\0\0hello %h [x\nfrom %d\nno newline %c".to_vec();
    std::fs::write(&banner, &text).unwrap();
    [(banner.display().to_string(), text)].into()
}

/// The scratch directory of one run, removed however the test ends.
pub(super) struct Scratch(pub(super) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the driver on `input` (as `ids`, uid and gid, when given) and
/// splits its output into one report per case.
fn run_driver(driver: &Path, dir: &Path, input: String, ids: Option<(u32, u32)>) -> Vec<String> {
    run_driver_command(Command::new(driver), dir, input, ids)
}

/// [`run_driver`] for a driver started by `command` (in a namespace, say).
pub(super) fn run_driver_command(
    mut command: Command,
    dir: &Path,
    input: String,
    ids: Option<(u32, u32)>,
) -> Vec<String> {
    use std::os::unix::process::CommandExt;
    command
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some((uid, gid)) = ids {
        // std drops the supplementary groups when root sets a uid.
        command.gid(gid).uid(uid);
    }
    let mut child = command.spawn().expect("run the driver");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut reports = vec![String::new()];
    for line in stdout.lines() {
        if line == "end" {
            reports.push(String::new());
        } else if let Some(report) = reports.last_mut() {
            report.push_str(line);
            report.push('\n');
        }
    }
    reports
}

/// The ids of an unprivileged account, to run the driver as a normal user
/// would when the tests run as root.
fn unprivileged_ids() -> Option<(u32, u32)> {
    if !is_root() {
        return None;
    }
    match nix::unistd::User::from_name("nobody") {
        Ok(Some(user)) => Some((user.uid.as_raw(), user.gid.as_raw())),
        _ => {
            eprintln!("skipping the unprivileged pass: no user nobody");
            None
        }
    }
}

#[test]
fn engine_agrees_with_libwrap() {
    if !have_libwrap() {
        return;
    }
    let scratch =
        Scratch(std::env::temp_dir().join(format!("inetd-libwrap-{}", std::process::id())));
    let dir = scratch.0.as_path();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let shared = Shared {
        accounts: option_accounts(),
        files: fixtures(dir),
    };
    let driver = build_driver(dir);

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut all_cases = Vec::new();
    let mut rule_sets = Vec::new();
    for set in 0..RULE_SETS {
        let allow = rule_file(&mut rng, dir);
        let deny = rule_file(&mut rng, dir);
        std::fs::write(dir.join(format!("allow{set}")), &allow).unwrap();
        std::fs::write(dir.join(format!("deny{set}")), &deny).unwrap();
        rule_sets.push(Rules::load(
            &dir.join(format!("allow{set}")),
            &dir.join(format!("deny{set}")),
        ));
        all_cases.extend(cases(&mut rng, set));
    }
    let input: String = all_cases
        .iter()
        .map(|c| driver_line(c, dir) + "\n")
        .collect();
    // As root, the driver also runs as a normal user would run the tests.
    let runs = [None].into_iter().chain(unprivileged_ids().map(Some));
    for ids in runs {
        let reports = run_driver(&driver, dir, input.clone(), ids);
        assert!(reports.len() > all_cases.len(), "the driver stopped early");
        let mut mismatches = Vec::new();
        let mut verdicts = BTreeMap::new();
        for (case, report) in all_cases.iter().zip(&reports) {
            let (expected, pid) = driver_effects(report);
            let got = engine_effects(&rule_sets[case.set], case, &shared, pid);
            *verdicts.entry(expected.verdict.clone()).or_insert(0) += 1;
            if got != expected {
                mismatches.push(format!(
                    "set {} {} {} {:?} user {:?}\n  libwrap {expected:?}\n  engine  {got:?}\n{}--\n{}",
                    case.set,
                    case.daemon,
                    case.client,
                    case.client_name,
                    case.user,
                    std::fs::read_to_string(dir.join(format!("allow{}", case.set)))
                        .unwrap_or_default(),
                    std::fs::read_to_string(dir.join(format!("deny{}", case.set)))
                        .unwrap_or_default(),
                ));
            }
        }
        eprintln!(
            "differential (driver ids {ids:?}): {} cases, {} mismatches, libwrap verdicts {verdicts:?}",
            all_cases.len(),
            mismatches.len()
        );
        assert!(
            mismatches.is_empty(),
            "{}",
            mismatches
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
