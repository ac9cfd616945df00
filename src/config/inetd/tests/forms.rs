//! Every form of a line: builtins, programs, services and ports,
//! protocols, unix sockets, host prefixes, wait modes and limits.

use super::*;

#[test]
fn builtin_service() {
    let s = service("echo stream tcp nowait root internal");
    assert_eq!(
        s,
        Service {
            file: "inetd.conf".into(),
            line: 1,
            name: "echo".into(),
            protocol: "tcp".into(),
            listen: inet("0.0.0.0:7", false),
            socket_type: SocketType::Stream,
            wait: false,
            limits: Limits::default(),
            environment: false,
            listen_fds: false,
            user: Credentials {
                user: "root".into(),
                uid: 0,
                gid: 0,
                group: None,
                // root with no group keeps inetd's credentials: not looked up.
                groups: vec![],
            }
            .into(),
            program: Program::Builtin(Builtin::Echo),
            rpc: None,
            hard_reload: false,
            extras: crate::config::Extras::default(),
        }
    );
}

#[test]
fn every_builtin_on_stream_and_dgram() {
    for builtin in crate::builtins::TABLE.iter().map(|spec| spec.builtin) {
        let name = builtin.name();
        let stream = service(&format!("{name} stream tcp nowait root internal"));
        assert_eq!(stream.program, Program::Builtin(builtin));
        let dgram = format!("7 dgram udp wait root internal {name}");
        if builtin.serves_datagrams() {
            assert_eq!(service(&dgram).program, Program::Builtin(builtin));
        } else {
            assert_rejected(&dgram, &format!("builtin {name} serves streams only"));
        }
    }
}

#[test]
fn builtins_accept_either_wait_mode() {
    // A stream builtin on a wait line: see a_stream_builtin_on_a_wait_line_is_served_nowait.
    assert!(!service("echo stream tcp nowait root internal").wait);
    assert!(!service("echo dgram udp nowait root internal").wait);
}

#[test]
fn unknown_builtins_are_rejected() {
    assert_rejected(
        "ftp stream tcp nowait root internal",
        "no builtin service \"ftp\"",
    );
    assert_rejected(
        "7 stream tcp nowait root internal",
        "no builtin service \"7\"",
    );
    assert_rejected(
        "echo stream tcp nowait root internal bogus",
        "no builtin service \"bogus\"",
    );
    // FreeBSD names a unix socket's builtin by the path's last part.
    assert_rejected(
        "/run/nosuch stream unix nowait root internal",
        "no builtin service \"nosuch\"",
    );
}

#[test]
fn builtins_named_after_internal() {
    // Any port, or a unix socket, can serve a builtin named explicitly.
    let s = service("8013 stream tcp nowait root internal daytime");
    assert_eq!(s.program, Program::Builtin(Builtin::Daytime));
    assert_eq!(s.listen, inet("0.0.0.0:8013", false));
    let s = service("/run/echo.sock dgram unix wait root internal echo");
    assert_eq!(s.program, Program::Builtin(Builtin::Echo));
    // The explicit name wins over the service name.
    let s = service("echo stream tcp nowait root internal chargen");
    assert_eq!(s.program, Program::Builtin(Builtin::Chargen));
}

#[test]
fn arguments_after_the_builtin_name_are_a_warning() {
    let (services, errors) = parse_with_table("echo stream tcp nowait root internal echo -x\n");
    assert_eq!(services.len(), 1);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].is_warning());
    assert_eq!(
        errors[0].to_string(),
        "inetd.conf:1: warning: arguments after internal echo are ignored"
    );
}

#[test]
fn external_program_and_argv() {
    let s = service("ftp stream tcp nowait root /usr/sbin/tcpd /usr/sbin/in.ftpd -l -a");
    assert_eq!(
        s.program,
        Program::external(
            "/usr/sbin/tcpd".into(),
            vec!["/usr/sbin/in.ftpd".into(), "-l".into(), "-a".into()]
        )
    );
    // Without arguments, argv[0] is the program's name.
    let s = service("ftp stream tcp nowait root /usr/sbin/in.ftpd");
    assert_eq!(
        s.program,
        Program::external("/usr/sbin/in.ftpd".into(), vec!["in.ftpd".into()])
    );
}

#[test]
fn argv_has_no_fixed_limit() {
    let args: Vec<String> = (0..5000).map(|i| format!("arg{i}")).collect();
    let s = service(&format!(
        "ftp stream tcp nowait root /bin/x {}",
        args.join(" ")
    ));
    let Program::External(command) = s.program else {
        panic!("not external");
    };
    assert_eq!(command.argv, args);
}

#[test]
fn lines_that_run_one_program_share_it() {
    let all = services(
        "1 stream tcp nowait root /bin/x x -a\n\
         2 stream tcp nowait nobody /bin/x x -a\n\
         3 stream tcp nowait root /bin/x x -b\n\
         4 on protocol=tcp4, wait=no, user=root, exec=/bin/x, args=x -a;\n",
    );
    let command = |s: &Service| match &s.program {
        Program::External(command) => Rc::clone(command),
        other => panic!("{other:?}"),
    };
    let first = command(&all[0]);
    assert!(Rc::ptr_eq(&first, &command(&all[1])));
    assert!(!Rc::ptr_eq(&first, &command(&all[2])));
    assert!(Rc::ptr_eq(&first, &command(&all[3])));
}

#[test]
fn relative_programs_are_rejected() {
    assert_rejected(
        "ftp stream tcp nowait root in.ftpd",
        "server program \"in.ftpd\" is not an absolute path",
    );
}

#[test]
fn service_names_and_ports() {
    assert_eq!(
        service("ftp stream tcp nowait root /x").listen,
        inet("0.0.0.0:21", false)
    );
    assert_eq!(
        service("tftp dgram udp wait root /x").listen,
        inet("0.0.0.0:69", false)
    );
    assert_eq!(
        service("8080 stream tcp nowait root /x").listen,
        inet("0.0.0.0:8080", false)
    );
    assert_eq!(
        service("00065535 dgram udp wait root /x").listen,
        inet("0.0.0.0:65535", false)
    );
    // The protocol chooses which port a name has: tftp is udp only.
    assert_rejected(
        "tftp stream tcp nowait root /x",
        "unknown service \"tftp\" for tcp",
    );
    assert_rejected(
        "nosuch dgram udp wait root /x",
        "unknown service \"nosuch\" for udp",
    );
    for bad in ["0", "65536", "99999999999999999999"] {
        assert_rejected(
            &format!("{bad} stream tcp nowait root /x"),
            "bad port number",
        );
    }
    for bad in ["+7", "-7", "7a"] {
        assert_rejected(
            &format!("{bad} stream tcp nowait root /x"),
            "unknown service",
        );
    }
}

#[test]
fn protocols() {
    let cases = [
        ("stream tcp", "0.0.0.0:7", false),
        ("stream tcp4", "0.0.0.0:7", false),
        ("dgram udp", "0.0.0.0:7", false),
        ("dgram udp4", "0.0.0.0:7", false),
        ("stream tcp6", "[::]:7", true),
        ("dgram udp6", "[::]:7", true),
        ("stream tcp46", "[::]:7", false),
        ("dgram udp46", "[::]:7", false),
    ];
    for (types, addr, v6only) in cases {
        let wait = if types.starts_with("stream") {
            "nowait"
        } else {
            "wait"
        };
        let s = service(&format!("echo {types} {wait} root internal"));
        assert_eq!(s.listen, inet(addr, v6only), "{types}");
        assert_eq!(&*s.protocol, types.split(' ').nth(1).unwrap());
    }
}

#[test]
fn protocol_must_fit_socket_type() {
    assert_rejected(
        "echo stream udp nowait root internal",
        "protocol udp does not fit socket type stream",
    );
    assert_rejected(
        "echo dgram tcp6 wait root internal",
        "protocol tcp6 does not fit socket type dgram",
    );
}

#[test]
fn unsupported_socket_types_and_protocols() {
    for kind in ["raw", "rdm", "seqpacket"] {
        assert_rejected(
            &format!("echo {kind} tcp nowait root internal"),
            &format!("socket type {kind} is not supported"),
        );
    }
    assert_rejected(
        "echo datagram udp wait root internal",
        "unknown socket type \"datagram\"",
    );
    assert_rejected(
        "echo stream sctp nowait root internal",
        "unknown protocol \"sctp\"",
    );
    assert_rejected(
        "echo stream TCP nowait root internal",
        "unknown protocol \"TCP\"",
    );
}

#[test]
fn unix_sockets() {
    let s = service("/run/inetd/echo.sock stream unix nowait root /bin/cat");
    assert_eq!(s.listen, unix("/run/inetd/echo.sock", None, 0o600));
    assert_eq!(&*s.name, "/run/inetd/echo.sock");
    let s = service("/run/a:b dgram unix wait nobody /bin/cat");
    assert_eq!(s.listen, unix("/run/a:b", None, 0o600));
    assert_eq!(s.socket_type, SocketType::Dgram);
    // The default host does not apply to unix sockets.
    assert_eq!(
        services("127.0.0.1:\n/run/x stream unix nowait root /bin/cat\n").len(),
        1
    );

    assert_rejected(
        "echo stream unix nowait root /bin/cat",
        "must be an absolute path, not \"echo\"",
    );
    assert_rejected(
        "127.0.0.1:/run/x stream unix nowait root /bin/cat",
        "takes no host address",
    );
    let long = format!("/{}", "x".repeat(200));
    assert_rejected(
        &format!("{long} stream unix nowait root /bin/cat"),
        "is too long",
    );
    assert_rejected(
        "/run/x stream tcp nowait root /bin/cat",
        "needs protocol unix",
    );
}

#[test]
fn host_prefixes() {
    let s = service("127.0.0.1:echo stream tcp nowait root internal");
    assert_eq!(s.listen, inet("127.0.0.1:7", false));
    assert_eq!(&*s.name, "echo");
    let s = service("[::1]:echo stream tcp6 nowait root internal");
    assert_eq!(s.listen, inet("[::1]:7", true));
    let s = service("[::1]:echo stream tcp46 nowait root internal");
    assert_eq!(s.listen, inet("[::1]:7", false));
    // Unbracketed IPv6 works too: the service follows the last colon.
    let s = service("::1:echo stream tcp6 nowait root internal");
    assert_eq!(s.listen, inet("[::1]:7", true));
    let s = service("*:echo dgram udp6 wait root internal");
    assert_eq!(s.listen, inet("[::]:7", true));
    // Host names come from the resolver, in the protocol's family.
    let s = service("localhost:echo stream tcp nowait root internal");
    assert_eq!(s.listen, inet("127.0.0.1:7", false));
    let s = service("LocalHost:echo stream tcp6 nowait root internal");
    assert_eq!(s.listen, inet("[::1]:7", true));
    let s = service("box:8080 stream tcp nowait root /x");
    assert_eq!(s.listen, inet("192.168.1.10:8080", false));
}

#[test]
fn host_lists_give_one_service_each() {
    let all = services("127.0.0.1,box,*:echo dgram udp wait root internal\n");
    let listens: Vec<_> = all.iter().map(|s| s.listen.clone()).collect();
    assert_eq!(
        listens,
        [
            inet("127.0.0.1:7", false),
            inet("192.168.1.10:7", false),
            inet("0.0.0.0:7", false)
        ]
    );
    assert!(all.iter().all(|s| s.line == 1 && &*s.name == "echo"));
    let all = services("[::1],v6box:echo stream tcp6 nowait root internal\n");
    assert_eq!(all[1].listen, inet("[2001:db8::10]:7", true));
}

#[test]
fn bad_hosts() {
    assert_rejected(
        "127.0.0.1:echo stream tcp6 nowait root internal",
        "host \"127.0.0.1\" has no IPv6 address for tcp6",
    );
    assert_rejected(
        "[::1]:echo stream tcp nowait root internal",
        "has no IPv4 address for tcp",
    );
    assert_rejected(
        "127.0.0.1:echo stream tcp46 nowait root internal",
        "no IPv6 address",
    );
    assert_rejected(
        "v6box:echo stream tcp nowait root internal",
        "host \"v6box\" has no IPv4 address",
    );
    assert_rejected(
        "nowhere:echo stream tcp nowait root internal",
        "unknown host \"nowhere\"",
    );
    assert_rejected(
        "[127.0.0.1]:echo stream tcp nowait root internal",
        "bad IPv6 address",
    );
    assert_rejected(
        "[::1:echo stream tcp6 nowait root internal",
        "bad address \"[::1\"",
    );
    assert_rejected(
        "127.0.0.1,:echo stream tcp nowait root internal",
        "empty host address",
    );
    assert_rejected(
        ":echo stream tcp nowait root internal",
        "empty host address",
    );
    assert_rejected(
        "127.0.0.1: stream tcp nowait root internal",
        "missing service name",
    );
}

#[test]
fn default_host_lines() {
    let text = "\
127.0.0.1:
echo stream tcp nowait root internal
[::1]:echo stream tcp6 nowait root internal
box,localhost:
discard stream tcp nowait root internal
*:
daytime stream tcp nowait root internal
daytime stream tcp6 nowait root internal
";
    let listens: Vec<_> = services(text).into_iter().map(|s| s.listen).collect();
    assert_eq!(
        listens,
        [
            inet("127.0.0.1:7", false),
            inet("[::1]:7", true),
            inet("192.168.1.10:9", false),
            inet("127.0.0.1:9", false),
            inet("0.0.0.0:13", false),
            inet("[::]:13", true),
        ]
    );
}

#[test]
fn default_host_of_the_wrong_family() {
    let text = "127.0.0.1:\necho stream tcp6 nowait root internal\n";
    assert_eq!(
        errors(text),
        [(
            2,
            "host \"127.0.0.1\" has no IPv6 address for tcp6 (default host set at line 1)".into()
        )]
    );
}

#[test]
fn bad_default_host_fails_the_lines_after_it() {
    // Never fall back to listening everywhere because of a typo.
    let text = "nowhere:\necho stream tcp nowait root internal\n*:\ntime stream tcp nowait root internal\n";
    let (services, errors) = parse_with_table(text);
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].line, 4);
    let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2]);
    assert!(errors[0]
        .reason
        .starts_with("default host: unknown host \"nowhere\""));
}

#[test]
fn wait_modes_and_limits() {
    let limits = |field: &str| {
        let s = service(&format!("ftp stream tcp {field} root /x"));
        (s.wait, s.limits)
    };
    let l = |rate, child, conn, child_ip| Limits {
        max_per_minute: rate,
        max_child: child,
        max_conn_per_ip_per_minute: conn,
        max_child_per_ip: child_ip,
        cps: None,
        starts_nothing: false,
    };
    assert_eq!(limits("wait"), (true, Limits::default()));
    assert_eq!(limits("nowait"), (false, Limits::default()));
    assert_eq!(
        limits("nowait.400"),
        (false, l(Some(400), None, None, None))
    );
    assert_eq!(limits("wait.0"), (true, l(Some(0), None, None, None)));
    assert_eq!(limits("nowait/5"), (false, l(None, Some(5), None, None)));
    assert_eq!(
        limits("nowait/3/10"),
        (false, l(None, Some(3), Some(10), None))
    );
    assert_eq!(
        limits("nowait/3/10/2"),
        (false, l(None, Some(3), Some(10), Some(2)))
    );
    assert_eq!(
        limits("nowait.40/3/10/2"),
        (false, l(Some(40), Some(3), Some(10), Some(2)))
    );
    assert_eq!(
        limits("wait/4294967295"),
        (true, l(None, Some(u32::MAX), None, None))
    );
}

#[test]
fn bad_wait_fields() {
    for bad in ["waiting", "NOWAIT", "", ".5", "no-wait"] {
        let reason = rejected(&format!("ftp stream tcp {bad} root /x"));
        // An empty field is not a field: the line is one short.
        let expected = if bad.is_empty() {
            "too few fields"
        } else {
            "expected wait or nowait"
        };
        assert!(reason.contains(expected), "{bad}: {reason}");
    }
    for bad in [
        "nowait.",
        "nowait/",
        "nowait.-1",
        "nowait.+5",
        "nowait.5.6",
        "nowait.x",
        "nowait/1//2",
        "nowait/4294967296",
        "nowait.99999999999999999999",
        "wait/1/2/",
    ] {
        assert_rejected(&format!("ftp stream tcp {bad} root /x"), "bad limit");
    }
    assert_rejected("ftp stream tcp nowait/1/2/3/4 root /x", "too many limits");
    assert_rejected("ftp stream tcp nowait/1/2/3/ root /x", "too many limits");
}

#[test]
fn the_wait_field_takes_our_flags_after_a_comma() {
    let s = service("8000 stream tcp nowait,env root /bin/sh sh -c env");
    assert!(s.environment && !s.listen_fds && !s.wait);
    let s = service("8000 stream tcp wait.10,listen-fds,env root /usr/bin/prog prog");
    assert!(s.environment && s.listen_fds && s.wait);
    assert_eq!(s.limits.max_per_minute, Some(10));
    assert!(s.dump_line().contains(" wait,env,listen-fds rate=10 "));
    let s = service("8000 stream tcp nowait/5,env root /bin/cat cat");
    assert_eq!(s.limits.max_child, Some(5));
    assert!(s.dump_line().contains(" nowait,env rate=- child=5 "));
}

#[test]
fn flags_that_cannot_apply_are_warned_about_and_dropped() {
    let (services, errors) =
        parse_with_table("8000 stream tcp nowait,listen-fds root /bin/cat cat\n");
    assert!(!services[0].listen_fds);
    assert!(errors[0].is_warning() && errors[0].reason.contains("wait services"));
    let (services, errors) = parse_with_table("echo stream tcp nowait,env root internal\n");
    assert!(!services[0].environment);
    assert!(errors[0].is_warning() && errors[0].reason.contains("builtins"));
    let (services, errors) = parse_with_table("8000 stream tcp nowait,bogus root /bin/cat cat\n");
    assert!(services.is_empty());
    assert!(errors[0].reason.contains("unknown flag"), "{errors:?}");
}

#[test]
fn redirect_takes_one_numeric_or_listed_target() {
    let s = service("8080 stream tcp nowait root internal redirect 127.0.0.1:80");
    assert_eq!(
        s.program,
        Program::Redirect(Box::new("127.0.0.1:80".parse().unwrap()))
    );
    assert_eq!(s.access_name(), "8080");
    assert!(
        s.dump_line().ends_with(" redirect=127.0.0.1:80"),
        "{}",
        s.dump_line()
    );
    let s = service("8080 stream tcp6 nowait root internal redirect [::1]:8000");
    assert_eq!(
        s.program,
        Program::Redirect(Box::new("[::1]:8000".parse().unwrap()))
    );
    assert_rejected("8080 stream tcp nowait root internal redirect", "HOST:PORT");
    assert_rejected(
        "8080 stream tcp nowait root internal redirect 127.0.0.1",
        "HOST:PORT",
    );
    assert_rejected(
        "8080 stream tcp nowait root internal redirect 127.0.0.1:0",
        "HOST:PORT",
    );
    assert_rejected(
        "8080 dgram udp wait root internal redirect 127.0.0.1:80",
        "stream nowait",
    );
    assert_rejected(
        "8080 stream tcp wait root internal redirect 127.0.0.1:80",
        "stream nowait",
    );
    assert_rejected(
        "8080 stream tcp nowait root internal redirect 127.0.0.1:80 extra",
        "one HOST:PORT",
    );
    assert_rejected(
        "8080 stream tcp nowait root internal redirect no.such.host:80",
        "not in /etc/hosts",
    );
}

#[test]
fn tcpmux_services_have_no_socket_of_their_own() {
    let plus = service("tcpmux/+Date stream tcp nowait nobody /bin/date date -u");
    assert_eq!(
        plus.listen,
        Listen::Tcpmux {
            name: "Date".into(),
            plus: true
        }
    );
    assert_eq!(plus.access_name(), "date");
    assert!(plus
        .dump_line()
        .starts_with("tcpmux/+Date tcpmux stream nowait "));
    let plain = service("tcpmux/echo stream tcp6 nowait root internal echo");
    assert_eq!(
        plain.listen,
        Listen::Tcpmux {
            name: "echo".into(),
            plus: false
        }
    );
    assert_eq!(plain.program, Program::Builtin(Builtin::Echo));
    // The multiplexer itself, on its port.
    assert_eq!(
        service("tcpmux stream tcp nowait root internal").listen,
        inet("0.0.0.0:1", false)
    );
    assert_rejected(
        "tcpmux/x stream tcp wait root /x",
        "tcpmux services are nowait",
    );
    assert_rejected(
        "127.0.0.1:tcpmux/x stream tcp nowait root /x",
        "a tcpmux service takes no host address",
    );
    assert_rejected(
        "tcpmux/x stream unix nowait root /x",
        "tcpmux services need socket type stream and a tcp protocol",
    );
    assert_rejected(
        "tcpmux/x stream tcp nowait root internal tcpmux",
        "cannot be tcpmux itself",
    );
    assert_rejected(
        &format!("tcpmux/{} stream tcp nowait root /x", "n".repeat(257)),
        "is longer than 256 bytes",
    );
    assert_rejected(
        "1 dgram udp wait root internal tcpmux",
        "builtin tcpmux serves streams only",
    );
    // Names are matched without regard to case: one service a name, and
    // as for any listener the later line wins.
    let (services, errors) = parse_with_table(
        "tcpmux/date stream tcp nowait root /bin/date\ntcpmux/+DATE stream tcp nowait root /bin/date\n",
    );
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].line, 2);
    assert!(
        errors[0].is_warning() && errors[0].reason.contains("the later line wins"),
        "{errors:?}"
    );
}

#[test]
fn time_windows_include_their_ends_and_may_run_over_midnight() {
    let day = TimeWindow {
        start: 8 * 60,
        end: 17 * 60 + 30,
    };
    assert!(day.contains(8 * 60) && day.contains(17 * 60 + 30) && day.contains(12 * 60));
    assert!(!day.contains(8 * 60 - 1) && !day.contains(17 * 60 + 31) && !day.contains(0));
    let night = TimeWindow {
        start: 22 * 60,
        end: 2 * 60,
    };
    assert!(night.contains(23 * 60 + 59) && night.contains(0) && night.contains(2 * 60));
    assert!(
        !night.contains(2 * 60 + 1) && !night.contains(12 * 60) && !night.contains(22 * 60 - 1)
    );
    let minute = TimeWindow {
        start: 600,
        end: 600,
    };
    assert!(minute.contains(600) && !minute.contains(601));
}

#[test]
fn auth_takes_freebsds_options() {
    let s = service("ident stream tcp nowait root internal auth -r -o UNIX");
    assert_eq!(s.program, Program::Builtin(Builtin::Auth));
    assert_eq!(s.extras.builtin_args, ["-r", "-o", "UNIX"]);
    assert!(s.dump_line().ends_with(" internal=auth -r -o UNIX"));
    assert!(service("auth stream tcp nowait root internal")
        .extras
        .builtin_args
        .is_empty());
    // Options it ignores are warnings; those it cannot serve skip the line.
    assert_eq!(
        errors("auth stream tcp nowait root internal auth -rx"),
        [(1, "warning: auth: unknown option -x ignored".into())]
    );
    let (services, errors) = parse_with_table("auth stream tcp nowait root internal auth -r -n\n");
    assert!(services.is_empty());
    assert_eq!(
        errors[0].to_string(),
        "inetd.conf:1: warning: \"auth\" skipped, not supported: auth option -n (~/.noident)"
    );
    assert_rejected(
        "113 dgram udp wait root internal auth",
        "builtin auth serves streams only",
    );
}

#[test]
fn a_stream_builtin_on_a_wait_line_is_served_nowait() {
    let (services, errors) = parse_with_table("7007 stream tcp wait root internal echo\n");
    assert!(!services[0].wait);
    assert!(
        errors[0].is_warning() && errors[0].reason.contains("served nowait"),
        "{errors:?}"
    );
    // A datagram builtin keeps wait, as every datagram service has it.
    assert!(service("7007 dgram udp wait root internal echo").wait);
}
