//! `inetd -t` and `inetd -tt` on good and bad files. The binary uses the
//! real system databases, so the files use only root, builtin service names
//! and numeric ports.

use std::process::Output;

use crate::util::{inetd, Dir};

fn check(args: &[&str]) -> Output {
    inetd().args(args).output().expect("run inetd")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The value of `key=` in a dump line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("{key}=");
    line.split(' ')
        .find_map(|word| word.strip_prefix(prefix.as_str()))
}

const GOOD: &str = "\
# builtins, local only
127.0.0.1:
echo    stream  tcp     nowait  root    internal
echo    dgram   udp     wait    root    internal
*:
[::1]:daytime stream tcp6 nowait.50 root:root internal
time    dgram   udp46   wait    root.root internal
7007    stream  tcp     nowait/4/20/2 root /bin/cat
7008    stream  tcp     nowait  root    /bin/sh sh -c
        \"exec cat\"
7009    stream  tcp     nowait  root    internal chargen
";

#[test]
fn a_good_file_passes_silently() {
    let dir = Dir::new("check-good");
    let conf = dir.create("inetd.conf", GOOD);
    let output = check(&["-t", conf.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "");
}

#[test]
fn dump_prints_one_line_per_service() {
    let dir = Dir::new("check-dump");
    let conf = dir.create("inetd.conf", GOOD);
    let conf = conf.to_str().unwrap();
    let output = check(&["-tt", conf]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dump = stdout(&output);
    let lines: Vec<&str> = dump.lines().collect();
    let heads: Vec<String> = lines
        .iter()
        .map(|l| l.split(' ').take(4).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        heads,
        [
            "127.0.0.1:7 tcp4 stream nowait",
            "127.0.0.1:7 udp4 dgram wait",
            "[::1]:13 tcp6 stream nowait",
            "[::]:37 udp46 dgram wait",
            "0.0.0.0:7007 tcp4 stream nowait",
            "0.0.0.0:7008 tcp4 stream nowait",
            "0.0.0.0:7009 tcp4 stream nowait",
        ]
    );
    for line in &lines {
        assert_eq!(field(line, "user"), Some("root"), "{line}");
        assert_eq!(field(line, "uid"), Some("0"), "{line}");
        assert_eq!(field(line, "gid"), Some("0"), "{line}");
        assert!(field(line, "groups").is_some(), "{line}");
    }
    assert!(lines[0].ends_with(" internal=echo"));
    assert_eq!(field(lines[2], "rate"), Some("50"));
    assert_eq!(field(lines[2], "group"), Some("root"));
    assert_eq!(field(lines[3], "group"), Some("root"));
    assert_eq!(field(lines[0], "group"), Some("-"));
    let limits: Vec<_> = ["rate", "child", "ip-rate", "ip-child"]
        .iter()
        .map(|key| field(lines[4], key).unwrap())
        .collect();
    assert_eq!(limits, ["-", "4", "20", "2"]);
    assert!(lines[4].ends_with(" exec=/bin/cat argv=cat"));
    assert!(lines[5].ends_with(" exec=/bin/sh argv=sh -c \"exec cat\""));
    assert!(lines[6].ends_with(" internal=chargen"));

    // -t -t and --dump are the same as -tt.
    assert_eq!(stdout(&check(&["-t", "-t", conf])), dump);
    assert_eq!(stdout(&check(&["--dump", conf])), dump);
}

#[test]
fn bad_lines_are_reported_with_file_and_line() {
    let dir = Dir::new("check-bad");
    let conf = dir.create(
        "inetd.conf",
        "\
echo stream tcp nowait root internal
echo stream udp nowait root internal
7010 stream tcp nowait root
  /bin/cat \"unclosed
ftp-or-not stream tcp nowait root internal
echo stream tcp nowait root internal
7011 stream tcp nowait root /bin/cat
",
    );
    let path = conf.to_str().unwrap();
    let output = check(&["-tt", path]);
    assert_eq!(output.status.code(), Some(1));
    let expected = [
        "2: protocol udp does not fit socket type stream",
        "3: a quote is left open",
        "5: unknown service \"ftp-or-not\" for tcp",
        "6: warning: listener 0.0.0.0:7 stream of line 1 replaced: the later line wins",
    ]
    .map(|e| format!("{path}:{e}\n"))
    .concat();
    assert_eq!(stderr(&output), expected);
    // The good lines survive.
    let ports: Vec<String> = stdout(&output)
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(ports, ["0.0.0.0:7", "0.0.0.0:7011"]);
    // Without the dump, the same errors and no output.
    let output = check(&["-t", path]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), expected);
    assert_eq!(stdout(&output), "");
}

#[test]
fn warnings_do_not_fail_the_check() {
    let dir = Dir::new("check-warn");
    let conf = dir.create(
        "inetd.conf",
        "echo stream tcp nowait root/daemon internal\n",
    );
    let path = conf.to_str().unwrap();
    let output = check(&["-tt", path]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stderr(&output),
        format!("{path}:1: warning: \"daemon\" ignored, not supported: login classes\n")
    );
    assert_eq!(stdout(&output).lines().count(), 1);
}

#[test]
fn unreadable_file() {
    let dir = Dir::new("check-missing");
    let missing = dir.join("nope.conf");
    let output = check(&["-t", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).starts_with(&format!("inetd: {}: ", missing.display())));
}

#[test]
fn bytes_that_are_not_utf8() {
    let dir = Dir::new("check-latin1");
    let conf = dir.join("inetd.conf");
    // Latin-1 in a comment is fine; in a field it rejects the entry.
    let text = b"# caf\xe9\necho stream tcp nowait root internal\n7012 stream tcp nowait root /bin/caf\xe9\n";
    std::fs::write(&conf, text).unwrap();
    let path = conf.to_str().unwrap();
    let output = check(&["-tt", path]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), format!("{path}:3: not valid UTF-8\n"));
    assert_eq!(stdout(&output).lines().count(), 1);
}

#[test]
fn unix_sockets_in_the_dump() {
    let dir = Dir::new("check-unix");
    let socket = dir.join("echo.sock");
    let conf = dir.create(
        "inetd.conf",
        &format!("{} stream unix nowait root /bin/cat\n", socket.display()),
    );
    let output = check(&["-tt", conf.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dump = stdout(&output);
    assert!(dump.starts_with(&format!("{} unix stream nowait ", socket.display())));
    assert!(dump.ends_with(" exec=/bin/cat argv=cat\n"));
}

/// Lines of features inetd does not serve (IPsec policies, login classes)
/// are valid lines of other inetds: each is a warning naming the feature,
/// and the check passes. (The RPC, tcpmux and auth lines beside them are
/// served; the RPC program comes from /etc/rpc.)
#[test]
fn unsupported_features_are_warnings() {
    let dir = Dir::new("check-unsupported");
    let conf = dir.create(
        "inetd.conf",
        "\
rstatd/1-5\tdgram\trpc/udp\twait\troot\t/usr/sbin/tcpd\t/usr/sbin/rpc.rstatd
tcpmux/+date stream tcp nowait root /bin/date date
#@ ipsec in ipsec esp/transport//require
tcpmux stream tcp nowait root internal
auth stream tcp nowait root internal
#@
echo stream tcp nowait root/staff internal
",
    );
    let path = conf.to_str().unwrap();
    let output = check(&["-tt", path]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected = [
        "3: warning: \"ipsec in ipsec esp/transport//require\" ignored (the lines after it are served without it), not supported: IPsec policies",
        "7: warning: \"staff\" ignored, not supported: login classes",
    ]
    .map(|e| format!("{path}:{e}\n"))
    .concat();
    assert_eq!(stderr(&output), expected);
    // Debian's stock RPC line, tcpmux, its service, auth and echo are
    // served: the RPC line's program and versions shown.
    let dump = stdout(&output);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(
        lines[0].starts_with("0.0.0.0:0 udp4 dgram wait ")
            && lines[0].contains(" rpc-program=100001 rpc-versions=1-5 exec=/usr/sbin/tcpd "),
        "{}",
        lines[0]
    );
}

/// What execve would refuse (E2BIG) is rejected at load: one string of
/// MAX_ARG_STRLEN (128 KiB) or more, or more than ARG_MAX in all.
#[test]
fn arguments_exec_would_refuse_are_rejected() {
    let dir = Dir::new("check-e2big");
    let long = "x".repeat(200 * 1024);
    let conf = dir.create(
        "inetd.conf",
        &format!("7013 stream tcp nowait root /bin/echo echo {long}\n"),
    );
    let path = conf.to_str().unwrap();
    let output = check(&["-t", path]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!("{path}:1: argv[1] is 204800 bytes long: exec takes at most 131071\n")
    );

    // SAFETY: sysconf has no preconditions.
    let arg_max = usize::try_from(unsafe { libc::sysconf(libc::_SC_ARG_MAX) }).unwrap();
    let words = vec!["y".repeat(100_000); arg_max / 100_000 + 1].join(" ");
    let conf = dir.create(
        "inetd.conf",
        &format!("7013 stream tcp nowait root /bin/echo echo {words}\n"),
    );
    let output = check(&["-t", path]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!("{path}:1: arguments take ")),
        "{err}"
    );
    assert!(
        err.ends_with(&format!(
            " bytes: exec takes at most {arg_max} with the environment\n"
        )),
        "{err}"
    );
    let _ = conf;
}
