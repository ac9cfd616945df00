//! NetBSD's forms (key-values definitions, `.include`, the positional
//! extras, its `0` limits), FreeBSD's unix builtins and `tcp/ttcp`,
//! relative program paths and Debian's `tcp`.

use super::*;

/// The dump lines and messages of `text` read with `options` and `files`
/// as the files `.include` may name.
fn read_with(text: &str, options: &Options, files: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    struct Table<'a>(&'a [(&'a str, &'a str)]);
    impl Includes for Table<'_> {
        fn files(&self, pattern: &str, _from: &str) -> Result<Vec<String>, String> {
            let prefix = pattern.strip_suffix('*').unwrap_or(pattern);
            let names = self.0.iter().map(|(name, _)| name.to_string());
            Ok(names.filter(|name| name.starts_with(prefix)).collect())
        }

        fn read(&self, file: &str) -> Result<String, String> {
            let found = self.0.iter().find(|(name, _)| *name == file);
            found
                .map(|(_, text)| text.to_string())
                .ok_or_else(|| "no such file".to_string())
        }
    }
    let (services, errors) = parse_with(
        text,
        "inetd.conf",
        &TableResolver::debian(),
        options,
        &Table(files),
    );
    (
        services.iter().map(Service::dump_line).collect(),
        errors.iter().map(ToString::to_string).collect(),
    )
}

fn read(text: &str) -> (Vec<String>, Vec<String>) {
    let options = Options {
        working_dir: Some("/srv/tests".into()),
        ..Options::default()
    };
    read_with(text, &options, &[])
}

/// The one dump line of `text`, which must parse without messages.
fn dumped(text: &str) -> String {
    let (dump, errors) = read(text);
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(dump.len(), 1, "{dump:?}");
    dump[0].clone()
}

/// The messages of `text`, which yields no service.
fn refused(text: &str) -> Vec<String> {
    let (dump, errors) = read(text);
    assert_eq!(dump, Vec::<String>::new());
    errors
}

const ROOT: &str = "user=root uid=0 gid=0 group=- groups=-";

#[test]
fn netbsds_rate_limit_test_configuration() {
    // NetBSD's tests/usr.sbin/inetd/inetd_ratelimit.conf, shortened.
    let text = "\
127.0.0.1:

#DGRAM WAIT SERVICE
5432 on
\tprotocol = udp,
\twait = yes,
\tuser = root,
\tservice_max = 5,
\tip_max = 3,
\texec = test_server,
\targs = test_server dgram wait;

5433 on
\tprotocol = udp,
\twait = yes,
\tuser = root,
\tip_max = 0,
\texec = test_server,
\targs = test_server dgram wait;

5438 on
\tprotocol = tcp,
\twait = no,
\tuser = root,
\tservice_max = 2,
\texec = test_server,
\targs = test_server stream nowait;
";
    let (dump, errors) = read(text);
    let relative =
        "warning: server program \"test_server\" is a relative path: /srv/tests/test_server is run";
    assert_eq!(
        errors,
        [4, 13, 21].map(|line| format!("inetd.conf:{line}: {relative}"))
    );
    assert_eq!(
        dump,
        [
            format!("127.0.0.1:5432 udp4 dgram wait rate=5 child=- ip-rate=3 ip-child=- {ROOT} exec=/srv/tests/test_server argv=test_server dgram wait"),
            format!("127.0.0.1:5433 udp4 dgram wait rate=- child=- ip-rate=- ip-child=- {ROOT} starts=none exec=/srv/tests/test_server argv=test_server dgram wait"),
            format!("127.0.0.1:5438 tcp4 stream nowait rate=2 child=- ip-rate=- ip-child=- {ROOT} exec=/srv/tests/test_server argv=test_server stream nowait"),
        ]
    );
}

#[test]
fn accept_max_in_both_syntaxes() {
    // As NetBSD's t_accept_max writes it.
    let positional = dumped("/run/t/sock stream,2 unix nowait root /bin/run run");
    let keys = dumped(
        "/run/t/sock on\n\tsocktype = stream,\n\tprotocol = unix,\n\taccept_max = 2,\n\twait = no,\n\tuser = root,\n\texec = /bin/run,\n\targs = run;\n",
    );
    assert_eq!(positional, keys);
    assert!(positional.contains(" child=2 "), "{positional}");
    assert!(dumped("7001 stream,0 tcp nowait root /bin/run").contains(" starts=none "));
    assert!(
        dumped("7001 on protocol=tcp4, wait=no, user=root, exec=/x, accept_max=0;")
            .contains(" starts=none ")
    );
}

#[test]
fn keys_netbsd_infers() {
    // socktype from the protocol; a builtin when exec is missing, nowait then.
    let line = dumped("127.0.0.1:echo on protocol = tcp, user = root;");
    assert_eq!(
        line,
        format!("127.0.0.1:7 tcp4 stream nowait rate=- child=- ip-rate=- ip-child=- {ROOT} internal=echo")
    );
    // The family from the address.
    let line = dumped("[::1]:daytime on protocol=udp, user=nobody:tty;");
    assert!(line.starts_with("[::1]:13 udp6 dgram nowait"), "{line}");
    let line = dumped("daytime on bind=::1, protocol=udp, user=nobody, group=tty, group=daemon;");
    assert!(line.starts_with("[::1]:13 udp6 dgram nowait"), "{line}");
    assert!(line.contains(" group=daemon "), "{line}");
    // Buffer sizes, an accept filter, IPsec (not applied).
    let (dump, errors) = read(
        "7002 on protocol=tcp6, wait=no, user=root, exec=/bin/x, sndbuf=64k, recvbuf=1m, acceptfilter=dataready, ipsec=\"in bypass\";",
    );
    assert!(
        dump[0].contains(" sndbuf=65536 rcvbuf=1048576 defer-accept=30 "),
        "{dump:?}"
    );
    assert_eq!(
        errors,
        ["inetd.conf:1: warning: ipsec \"in bypass\" ignored, not supported: IPsec policies"]
    );
    // sndbuf=0 leaves the system's size; `ipsec=` says no policy.
    assert!(
        !dumped("7003 on protocol=tcp4, wait=no, user=root, exec=/x, sndbuf=0, ipsec=;")
            .contains("sndbuf")
    );
}

#[test]
fn off_definitions_are_read_and_left_out() {
    let (dump, errors) =
        read("echo off protocol=tcp4, user=root;\necho stream tcp nowait root internal\n");
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(dump.len(), 1);
    assert_eq!(
        refused("echo off protocol=tcp4, user=root, frob=1;"),
        ["inetd.conf:1: unknown key \"frob\""]
    );
}

#[test]
fn bad_definitions() {
    let one = |text: &str| {
        let errors = refused(text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].trim_start_matches("inetd.conf:1: ").to_string()
    };
    assert_eq!(
        one("x on wait=yes;"),
        "protocol is required; socktype is required; user is required"
    );
    assert_eq!(
        one("7004 on protocol=tcp4, user=root, exec=/x;"),
        "wait is required"
    );
    assert_eq!(
        one("7004 on protocol=tcp4, wait=maybe, user=root, user=nobody, exec=/x, frob=1;"),
        "bad wait \"maybe\" (yes or no); user is given twice; unknown key \"frob\""
    );
    assert_eq!(
        one("127.0.0.1:7004 on bind=::1, protocol=tcp4, wait=no, user=root, exec=/x;"),
        "bind is given, and the service names an address too"
    );
    assert_eq!(
        one("7004 on protocol=tcp, wait=no, user=root, exec=/x;"),
        "protocol tcp with address \"*\": the family is not known (give tcp4 or tcp6, or an IP address)"
    );
    assert_eq!(
        one("7004 on protocol=tcp4, wait=no, user=root, exec=/x, service_max=-1, sndbuf=1g;"),
        "bad service_max \"-1\" (a count); bad sndbuf \"1g\" (bytes, or with k or m)"
    );
    assert_eq!(
        one("7004 on protocol=faith/tcp6, wait=no, user=root, exec=/x;"),
        "protocol \"faith/tcp6\" is not supported: FAITH (IPv6 to IPv4 translation) is a KAME relay Linux does not have"
    );
    assert_eq!(
        one("7004 on protocol=tcp4, wait=no, user=root, exec=/x, acceptfilter=httpready;"),
        "accept filter \"httpready\" is not supported (only dataready, as TCP_DEFER_ACCEPT)"
    );
    assert_eq!(
        one("frob on protocol=tcp4, user=root;"),
        "unknown service \"frob\" for tcp"
    );
    assert_eq!(
        one("7004 on protocol=tcp4, wait=no, user=root, exec=/x, args=a\0b;"),
        "NUL byte in \"a\\0b\""
    );
    assert_eq!(
        one("7004 on protocol=tcp4, wait=no, user=root, exec=/x, args=\u{fffd};"),
        "not valid UTF-8"
    );
}

#[test]
fn positional_extras() {
    let line = dumped("7005 stream:dataready tcp,sndbuf=16384,rcvbuf=64k nowait:5 root /bin/x");
    assert!(line.contains(" nowait rate=5 "), "{line}");
    assert!(
        line.contains(" sndbuf=16384 rcvbuf=65536 defer-accept=30 "),
        "{line}"
    );
    assert!(dumped("7005 stream:dataready,5 tcp nowait root /bin/x").contains(" defer-accept=5 "));
    // NetBSD's `:0` starts nothing; OpenBSD's `.0` is no limit.
    assert!(dumped("7005 stream tcp nowait:0 root /bin/x").contains(
        " rate=- child=- ip-rate=- ip-child=- user=root uid=0 gid=0 group=- groups=- starts=none "
    ));
    assert!(dumped("7005 stream tcp nowait.0 root /bin/x").contains(" rate=0 "));
    // Quoted arguments are one argument each.
    let s = service("7006 stream tcp nowait root /bin/sh sh -c \"exec cat\" ''");
    assert_eq!(
        s.program,
        Program::external(
            "/bin/sh".into(),
            vec!["sh".into(), "-c".into(), "exec cat".into(), "".into()]
        )
    );
    assert!(s.dump_line().ends_with(" argv=sh -c \"exec cat\" \"\""));
    // FreeBSD's T/TCP: plain TCP.
    let (dump, errors) = read("7007 stream tcp/ttcp nowait root /bin/x");
    assert!(dump[0].starts_with("0.0.0.0:7007 tcp4 stream"), "{dump:?}");
    assert_eq!(
        errors,
        ["inetd.conf:1: warning: tcp/ttcp served as tcp: T/TCP is gone from every kernel"]
    );
    for (line, reason) in [
        (
            "7008 stream:httpready tcp nowait root /x",
            "accept filter \"httpready\" is not supported",
        ),
        (
            "7008 dgram:dataready udp wait root /x",
            "an accept filter (\"dgram:dataready\") is for stream sockets only",
        ),
        (
            "7008 dgram,2 udp wait root /x",
            "a connection limit (\"dgram,2\") is for stream sockets only",
        ),
        (
            "7008 stream,x tcp nowait root /x",
            "bad connection limit \"x\"",
        ),
        (
            "7008 stream tcp,sndbuf=0 nowait root /x",
            "bad buffer size \"0\"",
        ),
        (
            "7008 stream tcp,sndbuf=1,rcvbuf=1,sndbuf=1 nowait root /x",
            "too many buffer sizes",
        ),
        (
            "7008 stream tcp,window=1 nowait root /x",
            "unknown buffer size option \"window\"",
        ),
        (
            "7008 stream tcp,sndbuf nowait root /x",
            "bad buffer size option \"sndbuf\"",
        ),
        (
            "7008 stream faith/tcp6 nowait root /x",
            "protocol faith/tcp6 is not supported",
        ),
        (
            "/run/f stream:dataready unix nowait root /x",
            "an accept filter is for TCP stream sockets only",
        ),
        ("7008 stream tcp nowait:x root /x", "bad limit \"x\""),
    ] {
        assert_rejected(line, reason);
    }
}

#[test]
fn freebsd_unix_builtins_are_named_by_the_path() {
    let s = service("/var/run/echo stream unix nowait root internal");
    assert_eq!(s.program, Program::Builtin(Builtin::Echo));
    let s = service(":root:daemon:0660:/var/run/daytime stream unix nowait root internal");
    assert_eq!(s.program, Program::Builtin(Builtin::Daytime));
    assert_eq!(s.listen, unix("/var/run/daytime", Some((0, 1)), 0o660));
}

#[test]
fn relative_program_paths() {
    let line = "ftp stream tcp nowait root in.ftpd in.ftpd -l";
    let (dump, errors) = read(line);
    assert!(
        dump[0].ends_with(" exec=/srv/tests/in.ftpd argv=in.ftpd -l"),
        "{dump:?}"
    );
    assert_eq!(
        errors,
        ["inetd.conf:1: warning: server program \"in.ftpd\" is a relative path: /srv/tests/in.ftpd is run"]
    );
    // Without a directory to resolve them against (a text read alone).
    assert_rejected(line, "server program \"in.ftpd\" is not an absolute path");
}

#[test]
fn debians_tcp_and_udp() {
    let options = Options {
        dual_stack: true,
        ..Options::default()
    };
    let text = "echo stream tcp nowait root internal\n127.0.0.1:echo dgram udp wait root internal\n[::1]:daytime stream tcp nowait root internal\ntime stream tcp4 nowait root internal\n";
    let (dump, errors) = read_with(text, &options, &[]);
    assert_eq!(errors, Vec::<String>::new());
    let families: Vec<&str> = dump
        .iter()
        .map(|l| l.split(' ').take(2).last().unwrap())
        .collect();
    assert_eq!(families, ["tcp46", "udp4", "tcp46", "tcp4"]);
    assert!(dump[0].starts_with("[::]:7 "));
    // Without the option, the BSDs' meaning.
    let (dump, _) = read_with(text, &Options::default(), &[]);
    assert!(dump[0].starts_with("0.0.0.0:7 tcp4 "));
}

#[test]
fn limits_that_cannot_apply_are_warnings() {
    let cases = [
        ("7009 stream tcp wait/2/10/3 root /x", "the per-client rate ignored: a stream wait service accepts its connections itself"),
        ("/run/u stream unix nowait/2/10 root /x", "the per-client rate ignored: a unix socket has no client address"),
        ("7009 dgram udp wait/2/10/3 root /x", "the per-client child limit ignored: the one child of a dgram wait service serves every sender"),
        ("echo dgram udp wait/1/10 root internal", "the per-client rate ignored: builtin datagrams are limited by --udp-source-rate"),
    ];
    for (line, warning) in cases {
        let (dump, errors) = read(line);
        assert_eq!(dump.len(), 1);
        assert!(
            errors.iter().any(|e| e.ends_with(warning)),
            "{line}: {errors:?}"
        );
        assert!(dump[0].contains(" ip-child=- "), "{dump:?}");
    }
    // A dgram wait service keeps its per-client rate (NetBSD's ip_max).
    assert!(dumped("7009 dgram udp wait/2/10 root /x").contains(" ip-rate=10 "));
}

#[test]
fn includes() {
    let files = [
        (
            "inetd.d/a.conf",
            "echo stream tcp nowait root internal\n7010 stream tcp nowait nosuch /x\n",
        ),
        (
            "inetd.d/b.conf",
            "daytime on protocol=tcp, user=root;\n.include inetd.conf\n",
        ),
        ("inetd.conf", "echo stream tcp nowait root internal\n"),
    ];
    let text = "127.0.0.1:\n.include inetd.d/*\n*:\nchargen stream tcp nowait root internal\n.include nowhere/*\n";
    let (dump, errors) = read_with(text, &Options::default(), &files);
    // The default host of the including line, and back after.
    let addresses: Vec<&str> = dump.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(addresses, ["127.0.0.1:7", "127.0.0.1:13", "0.0.0.0:19"]);
    assert_eq!(
        errors,
        [
            "inetd.d/a.conf:2: unknown user \"nosuch\"",
            "inetd.d/b.conf:2: warning: \"inetd.conf\" not included again: it would include itself",
        ]
    );
    // The later line wins across files, and says where the other was.
    let files = [("inetd.d/a.conf", "echo stream tcp nowait root internal\n")];
    let (dump, errors) = read_with(
        "echo stream tcp nowait root internal\n.include inetd.d/*\n",
        &Options::default(),
        &files,
    );
    assert_eq!(dump.len(), 1);
    assert_eq!(
        errors,
        ["inetd.d/a.conf:1: warning: listener 0.0.0.0:7 stream of inetd.conf:1 replaced: the later line wins"]
    );
    // Read alone, a text cannot include.
    assert_eq!(
        errors_of(".include x\n"),
        [(
            1,
            ".include \"x\": .include is read only when inetd reads a file".to_string()
        )]
    );
}

fn errors_of(text: &str) -> Vec<(usize, String)> {
    errors(text)
}
