//! Users and groups, warnings, whole-file matters (continuations,
//! duplicates, line numbers, bytes), the dump, and the peers' files.

use super::*;

#[test]
fn the_services_of_one_user_or_protocol_field_share_it() {
    let all = services(
        "ftp stream tcp nowait nobody /x\n\
         ssh stream tcp nowait nobody /y\n\
         telnet stream tcp nowait nobody:tty /z",
    );
    assert!(Rc::ptr_eq(&all[0].user, &all[1].user));
    assert_eq!(all[2].user.gid, 5);
    assert!(Rc::ptr_eq(&all[0].protocol, &all[2].protocol));
}

#[test]
fn users_and_groups() {
    let user = |field: &str| (*service(&format!("ftp stream tcp nowait {field} /x")).user).clone();
    assert_eq!(
        user("nobody"),
        Credentials {
            user: "nobody".into(),
            uid: 65534,
            gid: 65534,
            group: None,
            groups: vec![65534],
        }
    );
    let expected = Credentials {
        user: "nobody".into(),
        uid: 65534,
        gid: 5,
        group: Some("tty".into()),
        groups: vec![5],
    };
    assert_eq!(user("nobody:tty"), expected);
    assert_eq!(user("nobody.tty"), expected);
    // A user whose name has a dot, with its supplementary groups.
    let dotted = user("first.last");
    assert_eq!(
        (dotted.uid, dotted.gid, dotted.groups),
        (1000, 1000, vec![1000, 27, 100])
    );
    let dotted = user("first.last:staff");
    assert_eq!((dotted.gid, dotted.groups), (50, vec![50, 27, 100]));
}

#[test]
fn login_class_is_ignored_with_a_warning() {
    let (services, errors) = parse_with_table("ftp stream tcp nowait root:daemon/staff /x\n");
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].user.gid, 1);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].is_warning());
    assert_eq!(
        errors[0].reason,
        "\"staff\" ignored, not supported: login classes"
    );
}

/// Valid lines of features other inetds serve: skipped with a warning that
/// names the feature, whatever the system databases say of their names.
#[test]
fn unsupported_features_are_skipped_with_a_warning() {
    let text = "\
tcpmux/+date stream tcp nowait root /bin/date date
tcpmux stream tcp nowait root internal
ident stream tcp nowait root internal auth -r
#@ ipsec in ipsec esp/transport//require
7 stream tcp nowait root internal echo
#@
";
    let (services, _) = parse_with_table(text);
    let listens: Vec<String> = services.iter().map(|s| s.listen.to_string()).collect();
    assert_eq!(
        listens,
        ["tcpmux/+date", "0.0.0.0:1", "0.0.0.0:113", "0.0.0.0:7"]
    );
    assert_eq!(
        errors(text),
        [
            (4, "warning: \"ipsec in ipsec esp/transport//require\" ignored (the lines after it are served without it), not supported: IPsec policies".into()),
        ]
    );
    // What is wrong before the feature is known stays an error.
    assert_rejected(
        "tcpmux/+ stream tcp nowait root /x",
        "missing tcpmux service name",
    );
    assert_rejected(
        "tcpmux/x dgram udp wait root /x",
        "tcpmux services need socket type stream",
    );
}

/// What execve refuses with E2BIG at every spawn is refused at load.
#[test]
fn arguments_exec_would_refuse() {
    let long = "a".repeat(MAX_ARG_STRLEN);
    assert_rejected(
        &format!("ftp stream tcp nowait root /x x {long}"),
        "argv[1] is 131072 bytes long: exec takes at most 131071",
    );
    // One byte less (131071 and the NUL) is what exec takes.
    let fits = service(&format!("ftp stream tcp nowait root /x x {}", &long[1..]));
    assert!(matches!(fits.program, Program::External(ref command) if command.argv.len() == 2));
    let words = vec!["w".repeat(100_000); 21].join(" ");
    let reason = rejected(&format!("ftp stream tcp nowait root /x x {words}"));
    assert_eq!(
        reason,
        format!(
            "arguments take {} bytes: exec takes at most 2097152 with the environment",
            21 * 100_001 + 2 + 3 + 24 * 8
        )
    );
}

#[test]
fn bad_users_and_groups() {
    assert_rejected("ftp stream tcp nowait nosuch /x", "unknown user \"nosuch\"");
    assert_rejected(
        "ftp stream tcp nowait root:nosuch /x",
        "unknown group \"nosuch\"",
    );
    assert_rejected(
        "ftp stream tcp nowait root.nosuch /x",
        "unknown group \"nosuch\"",
    );
    assert_rejected(
        "ftp stream tcp nowait nosuch.tty /x",
        "unknown user \"nosuch\"",
    );
    assert_rejected("ftp stream tcp nowait :tty /x", "missing user name");
    assert_rejected("ftp stream tcp nowait /class /x", "missing user name");
    assert_rejected("ftp stream tcp nowait root: /x", "missing group name");
    assert_rejected("ftp stream tcp nowait root. /x", "missing group name");
    // A rejected line's warnings are not reported.
    assert_eq!(errors("ftp stream tcp nowait nosuch/class /x").len(), 1);
}

#[test]
fn too_few_fields() {
    for line in ["echo", "echo stream", "echo stream tcp nowait root"] {
        assert_rejected(line, "too few fields");
    }
}

// ---- lines, comments, continuations ----

#[test]
fn errors_name_the_line_where_the_entry_starts() {
    let text = "\
# comment

echo stream tcp nowait root internal   # trailing comment
ftp stream tcp
    nowait nosuch
    /usr/sbin/in.ftpd
time stream tcp nowait \\
    nosuch /x \\
more args
discard stream tcp nowait root internal
";
    assert_eq!(
        errors(text),
        [
            (4, "unknown user \"nosuch\"".into()),
            (7, "unknown user \"nosuch\"".into())
        ]
    );
    let lines: Vec<_> = parse_with_table(text).0.iter().map(|s| s.line).collect();
    assert_eq!(lines, [3, 10]);
}

#[test]
fn continued_entries() {
    let text = "\
ftp stream tcp nowait root /usr/sbin/tcpd
\t/usr/sbin/in.ftpd -l
tftp dgram udp wait nobody /usr/sbin/in.tftpd \\
in.tftpd /srv/tftp
";
    let all = services(text);
    let argv: Vec<_> = all
        .iter()
        .map(|s| match &s.program {
            Program::External(command) => (s.line, command.argv.join(" ")),
            _ => panic!("not a program"),
        })
        .collect();
    assert_eq!(
        argv,
        [
            (1, "/usr/sbin/in.ftpd -l".into()),
            (3, "in.tftpd /srv/tftp".into())
        ]
    );
}

#[test]
fn hash_inside_a_field_is_not_a_comment() {
    let s = service("ftp stream tcp nowait root /x x#1 #2 3");
    let Program::External(command) = s.program else {
        panic!("builtin");
    };
    assert_eq!(command.argv, ["x#1"]);
}

#[test]
fn duplicate_listeners() {
    let text = "\
echo stream tcp nowait root internal
echo dgram udp wait root internal
7 stream tcp nowait root /bin/cat
echo stream tcp6 nowait root internal
echo stream tcp46 nowait root internal
127.0.0.1:echo stream tcp nowait root internal
127.0.0.1,localhost:echo dgram udp wait root internal
/run/x stream unix nowait root /bin/cat
/run/x dgram unix wait root /bin/cat
";
    // The later line wins, as in the BSDs; a line naming one listener
    // twice is bad.
    assert_eq!(
        errors(text),
        [
            (
                3,
                "warning: listener 0.0.0.0:7 stream of line 1 replaced: the later line wins".into()
            ),
            (
                5,
                "warning: listener [::]:7 stream of line 4 replaced: the later line wins".into()
            ),
            (
                7,
                "duplicate listener 127.0.0.1:7 dgram on this line".into()
            ),
            (
                9,
                "warning: listener /run/x dgram of line 8 replaced: the later line wins".into()
            ),
        ]
    );
    let (services, _) = parse_with_table(text);
    let lines: Vec<usize> = services.iter().map(|s| s.line).collect();
    assert_eq!(lines, [2, 3, 5, 6, 9]);
    assert_eq!(
        services[1].program,
        Program::external("/bin/cat".into(), vec!["cat".into()])
    );
    // A rejected line claims nothing: the same listener is fine later.
    let text = "echo stream tcp nowait nosuch internal\necho stream tcp nowait root internal\n";
    assert_eq!(errors(text).len(), 1);
}

#[test]
fn nul_bytes_and_invalid_utf8() {
    assert_rejected(
        "echo stream tcp nowait root internal\0",
        "NUL byte in \"internal\\0\"",
    );
    assert_rejected("ftp stream tcp nowait root /x \u{FFFD}", "not valid UTF-8");
    // In comments, anything goes.
    assert_eq!(
        services("echo stream tcp nowait root internal # \0 \u{FFFD}").len(),
        1
    );
}

#[test]
fn long_fields_are_cut_short_in_messages() {
    let long = "y".repeat(1000);
    let reason = rejected(&format!("{long} stream tcp nowait root /x"));
    assert_eq!(
        reason,
        format!("unknown service \"{}\"... for tcp", "y".repeat(40))
    );
    let reason = rejected("echo stream tcp nowait root\u{1b}[31m internal");
    assert!(reason.contains("\\u{1b}"), "{reason}");
}

#[test]
fn error_display() {
    let (_, errors) = parse(
        "ftp stream tcp nowait nosuch /x",
        "/etc/inetd.conf",
        &TableResolver::debian(),
    );
    assert_eq!(
        errors[0].to_string(),
        "/etc/inetd.conf:1: unknown user \"nosuch\""
    );
}

#[test]
fn unix_socket_owner_prefix() {
    let s = service(":nobody:tty:0660:/run/x stream unix nowait root /bin/cat");
    assert_eq!(s.listen, unix("/run/x", Some((65534, 5)), 0o660));
    assert_eq!(&*s.name, "/run/x");
    // The mode in octal, with or without its leading zero; colons may follow in the path.
    let s = service(":root:staff:666:/run/a:/b stream unix nowait root /bin/cat");
    assert_eq!(s.listen, unix("/run/a:/b", Some((0, 50)), 0o666));
    let s = service(":first.last:users:0:/run/x dgram unix wait root /bin/cat");
    assert_eq!(s.listen, unix("/run/x", Some((1000, 100)), 0));
    // An IPv6 host without brackets is no prefix.
    assert_eq!(
        service("::1:echo stream tcp6 nowait root internal").listen,
        inet("[::1]:7", true)
    );

    let line = |prefix: &str| format!("{prefix}/run/x stream unix nowait root /bin/cat");
    assert_rejected(
        &line(":nosuch:tty:0660:"),
        "unknown socket owner \"nosuch\"",
    );
    assert_rejected(
        &line(":root:nosuch:0660:"),
        "unknown socket group \"nosuch\"",
    );
    assert_rejected(&line(":root:tty:0668:"), "bad socket mode \"0668\"");
    assert_rejected(&line(":root:tty:1777:"), "bad socket mode \"1777\"");
    assert_rejected(&line(":root:tty:00660:"), "bad socket mode");
    assert_rejected(&line(":root:tty:-1:"), "bad socket mode");
    assert_rejected(&line(":root:tty::"), "bad socket mode \"\"");
    assert_rejected(
        &line(":root:tty:"),
        "expected :user:group:mode: before the path",
    );
    assert_rejected(&line(":root:tty:0660:x:"), "expected :user:group:mode:");
    assert_rejected(&line("::tty:0660:"), "missing user or group");
    assert_rejected(&line(":root::0660:"), "missing user or group");
    assert_rejected(
        ":root:tty:0660:/run/x stream tcp nowait root /bin/cat",
        "an owner prefix (\"root:tty:0660\") is for unix sockets only",
    );
}

// ---- the dump format ----

#[test]
fn dump_lines() {
    let text = "\
echo stream tcp nowait root internal
[::1]:daytime dgram udp6 wait.10 nobody:tty internal
ftp stream tcp46 nowait/3/10/2 first.last /usr/sbin/tcpd in.ftpd -l
/run/x.sock stream unix nowait root /bin/cat
:nobody:tty:0660:/run/y.sock dgram unix wait root internal echo
";
    assert_eq!(
        dump(text),
        [
            "0.0.0.0:7 tcp4 stream nowait rate=- child=- ip-rate=- ip-child=- \
             user=root uid=0 gid=0 group=- groups=- internal=echo",
            "[::1]:13 udp6 dgram wait rate=10 child=- ip-rate=- ip-child=- \
             user=nobody uid=65534 gid=5 group=tty groups=5 internal=daytime",
            "[::]:21 tcp46 stream nowait rate=- child=3 ip-rate=10 ip-child=2 \
             user=first.last uid=1000 gid=1000 group=- groups=1000,27,100 \
             exec=/usr/sbin/tcpd argv=in.ftpd -l",
            "/run/x.sock unix stream nowait rate=- child=- ip-rate=- ip-child=- \
             user=root uid=0 gid=0 group=- groups=- socket-owner=- socket-mode=0600 \
             exec=/bin/cat argv=cat",
            "/run/y.sock unix dgram wait rate=- child=- ip-rate=- ip-child=- \
             user=root uid=0 gid=0 group=- groups=- socket-owner=65534:5 socket-mode=0660 \
             internal=echo",
        ]
    );
}

// ---- configuration files as the distributions write them ----

/// The listeners and programs of a fixture, short: `ADDRESS FAMILY PROGRAM`.
fn summary(services: &[Service]) -> Vec<String> {
    services
        .iter()
        .map(|s| {
            let program = match &s.program {
                Program::Builtin(b) => b.name().to_string(),
                Program::Redirect(target) => format!("redirect {target}"),
                Program::External(command) => {
                    format!("{} {}", command.path.display(), command.argv.join(" "))
                }
            };
            format!("{} {} {}", s.listen, s.family_name(), program)
        })
        .collect()
}

#[test]
fn debian_openbsd_inetd() {
    let all = services(include_str!("../../../../tests/data/openbsd-inetd.conf"));
    assert_eq!(
        summary(&all),
        [
            "0.0.0.0:7 tcp4 echo",
            "0.0.0.0:7 udp4 echo",
            "0.0.0.0:9 tcp4 discard",
            "0.0.0.0:9 udp4 discard",
            "[::]:13 tcp6 daytime",
            "0.0.0.0:37 tcp4 time",
            "0.0.0.0:21 tcp4 /usr/sbin/tcpd /usr/sbin/in.ftpd",
            "0.0.0.0:514 tcp4 /usr/sbin/tcpd /usr/sbin/in.rshd",
            "0.0.0.0:517 udp4 /usr/sbin/in.talkd in.talkd",
            "127.0.0.1:79 tcp4 /usr/sbin/tcpd /usr/sbin/in.fingerd",
            "127.0.0.1:113 tcp4 /usr/sbin/identd identd",
            "0.0.0.0:69 udp4 /usr/sbin/tcpd /usr/sbin/in.tftpd /srv/tftp",
            "[::]:69 udp6 /usr/sbin/tcpd /usr/sbin/in.tftpd /srv/tftp",
            "[::1]:2222 tcp6 /usr/sbin/sshd sshd -i",
        ]
    );
    let ftp = &all[6];
    assert_eq!((ftp.line, ftp.limits.max_per_minute), (18, Some(400)));
    let talk = &all[8];
    assert_eq!(
        (talk.user.uid, talk.user.gid, talk.limits.max_per_minute),
        (65534, 5, Some(100))
    );
}

#[test]
fn debian_inetutils_inetd() {
    let all = services(include_str!("../../../../tests/data/inetutils-inetd.conf"));
    assert_eq!(
        summary(&all),
        [
            "0.0.0.0:7 tcp4 echo",
            "0.0.0.0:19 tcp4 chargen",
            "0.0.0.0:19 udp4 chargen",
            "0.0.0.0:13 udp4 daytime",
            "0.0.0.0:37 udp4 time",
            "0.0.0.0:21 tcp4 /usr/sbin/tcpd /usr/sbin/ftpd",
            "0.0.0.0:23 tcp4 /usr/sbin/tcpd /usr/sbin/telnetd",
            "0.0.0.0:514 tcp4 /usr/sbin/tcpd /usr/sbin/rshd",
            "0.0.0.0:513 tcp4 /usr/sbin/tcpd /usr/sbin/rlogind",
            "0.0.0.0:518 udp4 /usr/sbin/tcpd /usr/sbin/talkd",
            "0.0.0.0:69 udp4 /usr/sbin/tcpd /usr/sbin/tftpd -s /srv/tftp",
            "0.0.0.0:113 tcp4 /usr/sbin/tcpd /usr/sbin/identd -l -e -o",
        ]
    );
    assert_eq!(all[9].user.gid, 5);
    assert_eq!((all[10].line, all[11].line), (21, 26));
}

#[test]
fn busybox_inetd() {
    let all = services(include_str!("../../../../tests/data/busybox-inetd.conf"));
    assert_eq!(
        summary(&all),
        [
            "0.0.0.0:7 tcp4 echo",
            "0.0.0.0:9 tcp4 discard",
            "0.0.0.0:9 udp4 discard",
            "0.0.0.0:13 tcp4 daytime",
            "0.0.0.0:37 udp4 time",
            "[::]:19 tcp46 chargen",
            "0.0.0.0:21 tcp4 /usr/sbin/ftpd ftpd -w /srv/ftp",
            "0.0.0.0:23 tcp4 /usr/sbin/telnetd telnetd -i",
            "0.0.0.0:69 udp4 /usr/sbin/tftpd tftpd -c /srv/tftp",
            "0.0.0.0:8080 tcp4 /usr/sbin/httpd httpd -i -h /srv/www",
            "127.0.0.1:8081 tcp4 /usr/sbin/httpd httpd -i -h /srv/private",
        ]
    );
    assert_eq!(all[6].limits.max_per_minute, Some(40));
    assert_eq!(all[9].user.group.as_deref(), Some("nogroup"));
}

#[test]
fn freebsd_inetd() {
    let (all, errors) = parse_with_table(include_str!("../../../../tests/data/freebsd-inetd.conf"));
    assert_eq!(
        summary(&all),
        [
            "0.0.0.0:21 tcp4 /usr/libexec/ftpd ftpd -l",
            "[::]:21 tcp6 /usr/libexec/ftpd ftpd -l",
            "0.0.0.0:22 tcp4 /usr/sbin/sshd sshd -i -4",
            "0.0.0.0:23 tcp4 /usr/libexec/telnetd telnetd",
            "0.0.0.0:79 tcp4 /usr/libexec/fingerd fingerd -k -s",
            "0.0.0.0:512 udp4 /usr/libexec/comsat comsat",
            "0.0.0.0:518 udp4 /usr/libexec/ntalkd ntalkd",
            "0.0.0.0:69 udp4 /usr/libexec/tftpd tftpd -l -s /tftpboot",
            "0.0.0.0:113 tcp4 auth",
            "0.0.0.0:7 tcp4 echo",
            "0.0.0.0:37 udp4 time",
            "/var/run/echo.sock unix /bin/cat cat",
            "0.0.0.0:0 udp4 /usr/libexec/rpc.rstatd rpc.rstatd",
        ]
    );
    let limits = |i: usize| {
        let l: Limits = all[i].limits;
        (
            l.max_child,
            l.max_conn_per_ip_per_minute,
            l.max_child_per_ip,
        )
    };
    assert_eq!(limits(2), (Some(3), Some(10), None));
    assert_eq!(limits(3), (Some(5), Some(20), Some(2)));
    let messages: Vec<_> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        ["inetd.conf:13: warning: \"daemon\" ignored, not supported: login classes",]
    );
}

#[test]
fn netbsd_inetd() {
    let (all, errors) = parse_with_table(include_str!("../../../../tests/data/netbsd-inetd.conf"));
    assert_eq!(
        summary(&all),
        [
            "0.0.0.0:21 tcp4 /usr/libexec/ftpd ftpd -ll",
            "[::]:21 tcp6 /usr/libexec/ftpd ftpd -ll",
            "0.0.0.0:23 tcp4 /usr/libexec/telnetd telnetd -a valid",
            "0.0.0.0:79 tcp4 /usr/libexec/fingerd fingerd -lsm",
            "0.0.0.0:512 udp4 /usr/libexec/comsat comsat",
            "0.0.0.0:7 tcp4 echo",
            "0.0.0.0:13 tcp4 daytime",
            "0.0.0.0:518 udp4 /usr/libexec/ntalkd ntalkd",
            "127.0.0.1:19 tcp4 chargen",
            "[::1]:113 tcp6 /usr/libexec/identd identd -l -o -e",
        ]
    );
    let telnet = &all[2];
    assert_eq!(telnet.limits.max_child, Some(16));
    assert_eq!(telnet.limits.max_per_minute, Some(60));
    assert_eq!(telnet.extras.socket_options.receive_buffer, Some(64 * 1024));
    assert_eq!(
        all[6].extras.socket_options.defer_accept,
        Some(DEFAULT_DEFER_ACCEPT_SECS)
    );
    assert_eq!(all[7].user.group.as_deref(), Some("tty"));
    assert_eq!(all[8].limits.max_per_minute, Some(10));
    assert_eq!(all[9].limits.max_conn_per_ip_per_minute, Some(3));
    let messages: Vec<_> = errors.iter().map(ToString::to_string).collect();
    // Read alone, the text cannot include.
    assert_eq!(
        messages,
        ["inetd.conf:37: .include \"/etc/inetd.d/*.conf\": .include is read only when inetd reads a file"]
    );
}

/// Sun RPC lines as the BSDs, busybox and Debian write them: the program
/// from /etc/rpc or a number, one version or a range, on an anonymous port.
#[test]
fn rpc_services() {
    let s = service("rstatd/1-5 dgram rpc/udp wait root /usr/sbin/tcpd /usr/sbin/rpc.rstatd");
    assert_eq!(
        s.rpc,
        Some(Rpc {
            program: 100001,
            low: 1,
            high: 5
        })
    );
    assert_eq!(s.listen, inet("0.0.0.0:0", false));
    assert_eq!(&*s.protocol, "rpc/udp");
    assert_eq!(
        s.dump_line(),
        "0.0.0.0:0 udp4 dgram wait rate=- child=- ip-rate=- ip-child=- user=root uid=0 gid=0 \
         group=- groups=- rpc-program=100001 rpc-versions=1-5 \
         exec=/usr/sbin/tcpd argv=/usr/sbin/rpc.rstatd"
    );
    let s = service("536871065/2 stream rpc/tcp6 wait root /x");
    assert_eq!(
        (s.rpc, s.listen),
        (
            Some(Rpc {
                program: 536871065,
                low: 2,
                high: 2
            }),
            inet("[::]:0", true)
        )
    );
    let s = service("127.0.0.1:rstat/3 stream rpc/tcp nowait root /x");
    assert_eq!(s.listen, inet("127.0.0.1:0", false));
    // The same program on tcp and udp, and on both families: four listeners.
    let all = services(
        "rstatd/1 dgram rpc/udp wait root /x\n\
         rstatd/1 stream rpc/tcp wait root /x\n\
         rstatd/1 dgram rpc/udp6 wait root /x\n\
         rstatd/1 stream rpc/tcp6 wait root /x\n",
    );
    assert_eq!(all.len(), 4);
    // As for any listener, the later line wins.
    let (all, errors) = parse_with_table(
        "rstatd/1 dgram rpc/udp wait root /x\nrstat/2-3 dgram rpc/udp wait root /y\n",
    );
    assert_eq!((all.len(), all[0].line), (1, 2));
    assert!(errors[0].is_warning() && errors[0].reason.contains("the later line wins"));
    assert_rejected("rstatd/1-3 raw rpc/udp wait root /x", "socket type raw");
    assert_rejected("rstatd/1-3 dgram rpc/udp", "too few fields");
    assert_rejected(
        "rstatd/1-3 dgram rpc/tcp wait root /x",
        "protocol tcp does not fit socket type dgram",
    );
    assert_rejected("rstatd/1-3 dgram rpc/unix wait root /x", "bad RPC protocol");
    assert_rejected("rstatd/1-3 dgram rpc/sctp wait root /x", "unknown protocol");
    assert_rejected("rstatd dgram rpc/udp wait root /x", "needs its versions");
    assert_rejected(
        "nosuch/1 dgram rpc/udp wait root /x",
        "unknown RPC program \"nosuch\"",
    );
    assert_rejected("1x/1 dgram rpc/udp wait root /x", "bad RPC program number");
    assert_rejected(
        "99999999999/1 dgram rpc/udp wait root /x",
        "bad RPC program number",
    );
    for versions in ["", "-", "3-1", "1-", "-2", "a", "1-2-3", "+1"] {
        assert_rejected(
            &format!("rstatd/{versions} dgram rpc/udp wait root /x"),
            "bad RPC versions",
        );
    }
    assert_eq!(
        service("rstatd/1-64 dgram rpc/udp wait root /x")
            .rpc
            .unwrap()
            .versions()
            .count(),
        64
    );
    assert_rejected("rstatd/0-64 dgram rpc/udp wait root /x", "too many");
    assert_rejected(
        "rstatd/1 dgram rpc/udp wait root internal",
        "needs a program",
    );
}
