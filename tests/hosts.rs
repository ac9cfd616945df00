//! `inetd --match` and `inetd --check-hosts` on the real binary; the
//! engine against the real libwrap in `differential`.

mod differential;

use crate::util::{inetd, Dir};

fn run_match(dir: &Dir, allow: &str, deny: &str, daemon: &str, client: &str) -> (i32, String) {
    let allow = dir.create("hosts.allow", allow);
    let deny = dir.create("hosts.deny", deny);
    let out = inetd()
        .args(["--match", daemon, client, "--allow"])
        .arg(&allow)
        .arg("--deny")
        .arg(&deny)
        .output()
        .expect("run inetd");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn match_granted_by_allow_rule() {
    let dir = Dir::new("match-granted");
    let (status, out) = run_match(&dir, "sshd: 10.0.0.\n", "ALL: ALL\n", "sshd", "10.0.0.7");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("client: address 10.0.0.7"), "{out}");
    assert!(out.contains("hosts.allow:1"), "{out}");
    assert!(out.ends_with("access: granted\n"), "{out}");
}

#[test]
fn match_denied_with_expanded_options() {
    let dir = Dir::new("match-denied");
    let deny = "ALL: ALL: spawn echo %a %d %u >> /dev/null: severity auth.notice\n";
    let (status, out) = run_match(&dir, "", deny, "in.ftpd@127.0.0.1", "joe@10.1.2.3");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("client: username joe"), "{out}");
    assert!(out.contains("hosts.deny:1"), "{out}");
    assert!(
        out.contains("option: spawn echo 10.1.2.3 in.ftpd joe >> /dev/null"),
        "{out}"
    );
    assert!(out.ends_with("access: denied\n"), "{out}");
}

#[test]
fn match_by_host_name_and_user() {
    let dir = Dir::new("match-name");
    let allow = "ALL: joe@localhost\n";
    let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "telnetd", "joe@localhost");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("client: hostname localhost"), "{out}");
    let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "telnetd", "ann@localhost");
    assert_eq!(status, 1, "{out}");
}

#[test]
fn match_reports_faulty_rules() {
    let dir = Dir::new("match-faulty");
    // A bad option denies even in hosts.allow; a last line without newline denies in hosts.deny.
    let (status, out) = run_match(&dir, "ALL: ALL: bogus\n", "", "sshd", "10.0.0.1");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("bad option name"), "{out}");
    let (status, out) = run_match(&dir, "", "sshd: 10.9.9.9\nx: y", "sshd", "10.0.0.1");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("missing newline"), "{out}");
    assert!(out.contains("matched: no rule"), "{out}");
}

#[test]
fn match_usage_errors() {
    let out = inetd().args(["--match", "sshd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = Dir::new("match-unknown");
    let (status, _) = run_match(&dir, "", "", "sshd", "no-such-host.invalid");
    assert_eq!(status, 2);
}

fn check(dir: &Dir, allow: &str, deny: &str) -> (i32, String) {
    let allow = dir.create("hosts.allow", allow);
    let deny = dir.create("hosts.deny", deny);
    let config = dir.create("inetd.conf", "");
    let out = inetd()
        .arg("--check-hosts")
        .arg("--allow")
        .arg(&allow)
        .arg("--deny")
        .arg(&deny)
        .arg(&config)
        .output()
        .expect("run inetd");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn check_hosts_clean() {
    let dir = Dir::new("check-clean");
    let allow = "# comment\nsshd: 10.0.0.0/255.0.0.0 [fe80::]/10 .example.com: spawn echo %h\n";
    let (status, out) = check(&dir, allow, "ALL: ALL\n");
    assert_eq!((status, out.as_str()), (0, ""));
}

#[test]
fn check_hosts_problems() {
    let dir = Dir::new("check-problems");
    let allow =
        "sshd 10.0.0.1\nsshd: 10.0.0.1/8 10.0.0.0/33 ::1\nftpd: ALL: bogus: allow: spawn x\n";
    let (status, out) = check(&dir, allow, "ALL: ALL");
    assert_eq!(status, 1, "{out}");
    for expected in [
        "hosts.allow:1: missing \":\" separator",
        "hosts.allow:2: 10.0.0.1/8: net has bits outside the mask",
        "hosts.allow:2: 10.0.0.0/33: bad net/mask pattern",
        "hosts.allow:3: bad option name: \"bogus\"",
        "hosts.allow:3: option \"allow\" must be at end",
        "hosts.deny:1: missing newline at end of file: every client not matched earlier is denied",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

/// A last line that ends in `\` continues past the end of the file: the
/// tool names that line (the fuzz target for hosts tables found it named
/// the line after).
#[test]
fn check_hosts_names_the_line_continued_past_the_end() {
    let dir = Dir::new("check-continued-eof");
    let (_, out) = check(&dir, "echo: ALL\ne\\\n", "");
    assert!(
        out.contains("hosts.allow:2: line continued past the end of file"),
        "{out}"
    );
    assert!(!out.contains("hosts.allow:3"), "{out}");
    let (_, out) = check(&dir, "echo: ALL\ne", "");
    assert!(
        out.contains("hosts.allow:2: missing newline at end of file"),
        "{out}"
    );
}
