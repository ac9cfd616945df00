//! `inetd --match` and `inetd --check-hosts` on the real binary; the
//! engine against the real libwrap in `differential`.

mod differential;
mod real_lookups;

use crate::util::{inetd, inetd_bin, private_names, Dir};

/// Names `--match` finds through the system resolver, in a mount
/// namespace (as root): `localhost` both ways; `alias`, another name of
/// 10.0.0.5, whose own name is `h5.example.com`; 10.0.0.9 maps back to a
/// numeric name; 10.0.0.10 to a name whose forward lookup finds another
/// host's line first. Nothing asks a name server.
const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost\n10.0.0.5 h5.example.com alias\n\
                     10.0.0.9 1.2.3.4\n10.0.0.11 other.example.com dup.example.com\n\
                     10.0.0.10 dup.example.com\n";

fn run_match(dir: &Dir, allow: &str, deny: &str, daemon: &str, client: &str) -> (i32, String) {
    let allow = dir.create("hosts.allow", allow);
    let deny = dir.create("hosts.deny", deny);
    let mut command = private_names(
        dir,
        HOSTS,
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        "hosts: files\n",
        &inetd_bin(),
    )
    .unwrap_or_else(inetd);
    let out = command
        .args(["--match", daemon, client, "--allow"])
        .arg(&allow)
        .arg("--deny")
        .arg(&deny)
        .arg(dir.join("no-inetd.conf"))
        .output()
        .expect("run inetd");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn match_granted_by_allow_rule() {
    let dir = Dir::new("match-granted");
    let (status, out) = run_match(&dir, "sshd: 127.0.0.\n", "ALL: ALL\n", "sshd", "127.0.0.1");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("client:   address  127.0.0.1\n"), "{out}");
    assert!(out.contains("client:   hostname localhost\n"), "{out}");
    assert!(out.contains("matched:  "), "{out}");
    assert!(out.contains("hosts.allow line 1\n"), "{out}");
    assert!(out.ends_with("access:   granted\n"), "{out}");
}

#[test]
fn match_denied_with_expanded_options() {
    let dir = Dir::new("match-denied");
    let deny = "ALL: ALL: spawn echo %a %d %u %c >> /dev/null: severity auth.notice\n";
    let (status, out) = run_match(&dir, "", deny, "in.ftpd@127.0.0.1", "joe@127.0.0.1");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("client:   username joe\n"), "{out}");
    assert!(out.contains("hosts.deny line 1\n"), "{out}");
    // %c: the user is known beforehand, so it is part of the client.
    assert!(
        out.contains("option:   spawn echo 127.0.0.1 in.ftpd joe joe@localhost >> /dev/null\n"),
        "{out}"
    );
    assert!(out.contains("option:   severity auth.notice\n"), "{out}");
    assert!(out.ends_with("access:   denied\n"), "{out}");
}

#[test]
fn match_by_host_name_and_user() {
    let dir = Dir::new("match-name");
    let allow = "ALL: joe@localhost\n";
    let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "telnetd", "joe@localhost");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("client:   hostname localhost\n"), "{out}");
    let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "telnetd", "ann@localhost");
    assert_eq!(status, 1, "{out}");
}

/// tcpdmatch's special client names: `unknown` has neither name nor
/// address, `paranoid` a name that did not verify.
#[test]
fn match_unknown_and_paranoid_clients() {
    let dir = Dir::new("match-special");
    // A paranoid client's address is unknown too: PARANOID comes first.
    let allow = "ALL: PARANOID: twist echo %n\nALL: UNKNOWN: spawn echo %h %a %c\n";
    let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "sshd", "unknown");
    assert_eq!(status, 0, "{out}");
    assert!(!out.contains("client:   address"), "{out}");
    assert!(
        out.contains("option:   spawn echo unknown unknown unknown\n"),
        "{out}"
    );
    let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "sshd", "joe@paranoid");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("client:   hostname paranoid\n"), "{out}");
    assert!(out.contains("client:   username joe\n"), "{out}");
    assert!(out.contains("option:   twist echo paranoid\n"), "{out}");
    assert!(out.ends_with("access:   delegated\n"), "{out}");
}

/// With no `@server` the server is unknown: no address, no port, `%s` the
/// daemon alone; with one, its name is looked up and its port is 0.
#[test]
fn match_with_and_without_a_server() {
    if crate::util::is_root() || std::env::var("CI").is_ok_and(|v| v == "true") {
        let dir = Dir::new("match-server");
        let allow = "0: ALL: spawn echo %s %A\nALL@localhost: ALL: spawn echo %s %A\n";
        let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "sshd", "localhost");
        assert_eq!(status, 1, "{out}");
        assert!(!out.contains("server:   address"), "{out}");
        assert!(out.contains("hosts.deny line 1"), "{out}");
        let (status, out) = run_match(&dir, allow, "", "sshd@127.0.0.1", "localhost");
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("server:   hostname localhost\n"), "{out}");
        assert!(
            out.contains("option:   spawn echo sshd@localhost 127.0.0.1\n"),
            "{out}"
        );
        let allow = "ALL@localhost: ALL: spawn echo %s %A\n";
        let (_, out) = run_match(&dir, allow, "", "sshd", "localhost");
        assert!(!out.contains("option:"), "{out}");
        let (_, out) = run_match(
            &dir,
            "ALL: ALL: spawn echo %s %A\n",
            "",
            "sshd",
            "localhost",
        );
        assert!(out.contains("option:   spawn echo sshd unknown\n"), "{out}");
    } else {
        eprintln!("skipping: a private /etc/hosts needs root");
    }
}

/// Names verified as the daemon's children verify them: an alias is
/// reported, a name that maps back elsewhere or to nothing is paranoid,
/// and a numeric daemon above 65535 is a name.
#[test]
fn match_verifies_names_like_the_daemon() {
    if !crate::util::is_root() && std::env::var("CI").is_err() {
        eprintln!("skipping: a private /etc/hosts needs root");
        return;
    }
    let dir = Dir::new("match-verify");
    let allow = "99999: .example.com: spawn echo %n\n";
    let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "99999", "alias");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("warning: alias: hostname alias\n"), "{out}");
    assert!(out.contains("(official name: h5.example.com)"), "{out}");
    assert!(
        out.contains("option:   spawn echo h5.example.com\n"),
        "{out}"
    );
    for (client, warning) in [
        (
            "10.0.0.9",
            "host name/name mismatch: reverse lookup results in non-FQDN 1.2.3.4",
        ),
        (
            "10.0.0.10",
            "host name/name mismatch: dup.example.com != other.example.com",
        ),
    ] {
        let (status, out) = run_match(&dir, allow, "ALL: ALL\n", "99999", client);
        assert_eq!(status, 1, "{out}");
        assert!(out.contains(&format!("warning: {warning}\n")), "{out}");
        assert!(out.contains("client:   hostname paranoid\n"), "{out}");
    }
}

#[test]
fn match_reports_faulty_rules() {
    let dir = Dir::new("match-faulty");
    // A bad option denies even in hosts.allow; a last line without newline denies in hosts.deny.
    let (status, out) = run_match(&dir, "ALL: ALL: bogus\n", "", "sshd", "127.0.0.1");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("bad option name"), "{out}");
    let (status, out) = run_match(&dir, "ALL: ALL: linger -1\n", "", "sshd", "127.0.0.1");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("line 1: bad linger value: \"-1\"\n"), "{out}");
    let (status, out) = run_match(&dir, "", "sshd: 10.9.9.9\nx: y", "sshd", "127.0.0.1");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("missing newline"), "{out}");
    assert!(!out.contains("matched:"), "{out}");
}

#[test]
fn match_usage_errors() {
    let out = inetd().args(["--match", "sshd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = Dir::new("match-unknown");
    let (status, out) = run_match(&dir, "", "", "sshd", "no-such-host.invalid");
    assert_eq!(status, 2);
    assert!(
        out.contains("no-such-host.invalid: host not found"),
        "{out}"
    );
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

/// `--check-hosts` holds daemon patterns against the names the daemon
/// matches each line of the configuration by (`Service::access_name`):
/// a builtin by its builtin name, on any port, a program by argv[0]'s
/// basename; a number up to 65535 is a port, a larger one a name.
#[test]
fn check_hosts_knows_the_daemons_names() {
    let dir = Dir::new("check-names");
    let allow = dir.create(
        "hosts.allow",
        "echo, daytime, greeter, 7, 65535: ALL\nftpd, 99999: ALL\n",
    );
    let deny = dir.create("hosts.deny", "");
    let config = dir.create(
        "inetd.conf",
        "7000 stream tcp nowait root internal echo\n\
         daytime dgram udp wait root internal\n\
         7001 stream tcp nowait root /bin/echo /usr/sbin/greeter hi\n",
    );
    let out = inetd()
        .arg("--check-hosts")
        .arg("--allow")
        .arg(&allow)
        .arg("--deny")
        .arg(&deny)
        .arg(&config)
        .output()
        .expect("run inetd");
    let text = String::from_utf8_lossy(&out.stdout);
    let unknown: Vec<&str> = text.lines().collect();
    assert_eq!(
        unknown,
        [
            format!(
                "{}:2: ftpd: no such process name in the inetd configuration",
                allow.display()
            ),
            format!(
                "{}:2: 99999: no such process name in the inetd configuration",
                allow.display()
            ),
        ],
        "{text}"
    );
}
