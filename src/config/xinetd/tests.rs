//! The dialect over every attribute and operator, the files of Debian's
//! xinetd package and the examples of xinetd's documentation, includes,
//! and hostile input (no panic, every message at a real line).

use std::collections::HashMap;

use super::*;
use crate::config::gates::Net;
use crate::resolve::table::TableResolver;

/// A file system of a few files and directories.
#[derive(Default)]
struct Table {
    files: HashMap<String, String>,
    dirs: HashMap<String, Vec<(String, bool)>>,
}

impl Tree for Table {
    fn read(&mut self, path: &str) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn list(&mut self, dir: &str) -> io::Result<Vec<(String, bool)>> {
        self.dirs
            .get(dir)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

fn parsed(text: &str) -> Parsed {
    parse(
        text,
        "xinetd.conf",
        &mut Table::default(),
        &TableResolver::debian(),
    )
}

fn dumps(text: &str) -> Vec<String> {
    parsed(text)
        .services()
        .iter()
        .map(Service::dump_line)
        .collect()
}

/// Every diagnostic as `line: [warning: ]reason`.
fn messages(text: &str) -> Vec<String> {
    parsed(text)
        .errors
        .iter()
        .map(|e| e.to_string().trim_start_matches("xinetd.conf:").to_string())
        .collect()
}

fn one(text: &str) -> Service {
    let services = parsed(text).services();
    assert_eq!(services.len(), 1, "{:?}", messages(text));
    services.into_iter().next().unwrap()
}

const ECHO: &str = "service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n}\n";

#[test]
fn an_internal_service_binds_dual_stack_on_its_listed_port() {
    assert_eq!(
        dumps(ECHO),
        ["[::]:7 tcp46 stream nowait rate=- child=- ip-rate=- ip-child=- user=root uid=0 gid=0 group=- groups=- cps=50/10 hard-reload internal=echo"]
    );
    assert!(messages(ECHO).is_empty());
}

#[test]
fn a_builtin_is_served_inline_whatever_wait_says() {
    let s = one(&ECHO.replace("wait = no", "wait = yes"));
    assert!(!s.wait);
}

#[test]
fn debian_package_files_parse_with_nothing_enabled() {
    let conf = include_str!("../../../tests/data/xinetd/xinetd.conf");
    let mut tree = Table::default();
    let mut names = Vec::new();
    for (name, text) in DEBIAN_XINETD_D {
        tree.files
            .insert(format!("/etc/xinetd.d/{name}"), text.to_string());
        names.push((name.to_string(), true));
    }
    tree.dirs.insert("/etc/xinetd.d".into(), names);
    let parsed = parse(
        conf,
        "/etc/xinetd.conf",
        &mut tree,
        &TableResolver::debian(),
    );
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert!(parsed.clone().services().is_empty());
    assert_eq!(parsed.entries.len(), 17);
    assert!(parsed
        .entries
        .iter()
        .all(|e| e.service == Err(Skip::Disabled)));
    // Enabled, each serves but the two xinetd-only ones and the -udp
    // twins of the services the combined files define already.
    let mut tree = Table::default();
    let mut names = Vec::new();
    for (name, text) in DEBIAN_XINETD_D {
        let enabled = text.replace("disable\t\t= yes", "disable\t\t= no");
        tree.files.insert(format!("/etc/xinetd.d/{name}"), enabled);
        names.push((name.to_string(), true));
    }
    tree.dirs.insert("/etc/xinetd.d".into(), names);
    let parsed = parse(
        conf,
        "/etc/xinetd.conf",
        &mut tree,
        &TableResolver::debian(),
    );
    assert_eq!(parsed.clone().services().len(), 10);
    let warnings: Vec<_> = parsed.errors.iter().filter(|e| e.is_warning()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let errors: Vec<_> = parsed.errors.iter().filter(|e| !e.is_warning()).collect();
    assert_eq!(errors.len(), 5, "{errors:?}");
    assert!(errors
        .iter()
        .all(|e| e.file.ends_with("-udp") && e.reason.contains("duplicate listener")));
}

const DEBIAN_XINETD_D: [(&str, &str); 12] = [
    (
        "chargen",
        include_str!("../../../tests/data/xinetd/xinetd.d/chargen"),
    ),
    (
        "chargen-udp",
        include_str!("../../../tests/data/xinetd/xinetd.d/chargen-udp"),
    ),
    (
        "daytime",
        include_str!("../../../tests/data/xinetd/xinetd.d/daytime"),
    ),
    (
        "daytime-udp",
        include_str!("../../../tests/data/xinetd/xinetd.d/daytime-udp"),
    ),
    (
        "discard",
        include_str!("../../../tests/data/xinetd/xinetd.d/discard"),
    ),
    (
        "discard-udp",
        include_str!("../../../tests/data/xinetd/xinetd.d/discard-udp"),
    ),
    (
        "echo",
        include_str!("../../../tests/data/xinetd/xinetd.d/echo"),
    ),
    (
        "echo-udp",
        include_str!("../../../tests/data/xinetd/xinetd.d/echo-udp"),
    ),
    (
        "servers",
        include_str!("../../../tests/data/xinetd/xinetd.d/servers"),
    ),
    (
        "services",
        include_str!("../../../tests/data/xinetd/xinetd.d/services"),
    ),
    (
        "time",
        include_str!("../../../tests/data/xinetd/xinetd.d/time"),
    ),
    (
        "time-udp",
        include_str!("../../../tests/data/xinetd/xinetd.d/time-udp"),
    ),
];

#[test]
fn the_documentation_sample_parses_and_says_what_it_skips() {
    let text = include_str!("../../../tests/data/xinetd/sample.conf");
    let parsed = parsed(text);
    let names: Vec<_> = parsed
        .clone()
        .services()
        .iter()
        .map(|s| s.dump_line())
        .collect();
    // tftp is disabled by defaults; shell asks IDONLY; the second telnet redirects.
    assert!(
        names.iter().any(|d| d.starts_with("127.0.0.1:23 tcp4")),
        "{names:?}"
    );
    assert!(!names.iter().any(|d| d.contains("in.tftpd")));
    let text_of = |e: &ConfigError| e.to_string();
    let all: Vec<String> = parsed.errors.iter().map(text_of).collect();
    assert!(
        all.iter().any(|m| m.contains("not supported: flag IDONLY")),
        "{all:#?}"
    );
    // The defaults' only_from lists reach every service.
    let login = parsed
        .services()
        .into_iter()
        .find(|s| &*s.name == "login")
        .unwrap();
    let only = login.extras.gates.only_from.clone().unwrap();
    assert!(only.contains(&Net::new("128.138.193.0".parse().unwrap(), 24)));
    assert!(only.contains(&Net::new("127.0.0.1".parse().unwrap(), 32)));
    assert_eq!(login.limits.max_child, Some(25));
}

#[test]
fn an_external_service_gets_its_program_user_and_limits() {
    let s = one(
        "service ftp\n{\n socket_type = stream\n wait = no\n user = first.last\n group = staff\n server = /usr/sbin/in.ftpd\n server_args = -l -a\n instances = 4\n per_source = 2\n groups = yes\n}\n",
    );
    assert_eq!(
        s.dump_line(),
        "[::]:21 tcp46 stream nowait,env rate=- child=4 ip-rate=- ip-child=2 user=first.last uid=1000 gid=50 group=staff groups=50,27,100 cps=50/10 hard-reload exec=/usr/sbin/in.ftpd argv=in.ftpd -l -a"
    );
    let no_groups = one(
        "service ftp\n{\n socket_type = stream\n wait = no\n user = first.last\n server = /usr/sbin/in.ftpd\n instances = UNLIMITED\n}\n",
    );
    assert!(no_groups.user.groups.is_empty());
    assert_eq!(no_groups.user.gid, 1000);
    assert_eq!(no_groups.limits.max_child, Some(0));
    let numeric = one(
        "service ftp\n{\n socket_type = stream\n wait = no\n user = 4242\n server = /bin/cat\n}\n",
    );
    assert_eq!((numeric.user.uid, numeric.user.gid), (4242, 4242));
}

#[test]
fn nameinargs_takes_argv_from_server_args_wherever_flags_stands() {
    for block in [
        " flags = NAMEINARGS\n server_args = tcpd-name -x\n",
        " server_args = tcpd-name -x\n flags = NAMEINARGS\n",
    ] {
        let s = one(&format!(
            "service telnet\n{{\n socket_type = stream\n wait = no\n user = root\n server = /usr/sbin/tcpd\n{block}}}\n"
        ));
        assert!(s
            .dump_line()
            .ends_with("exec=/usr/sbin/tcpd argv=tcpd-name -x"));
    }
    assert!(messages("service telnet\n{\n socket_type = stream\n wait = no\n user = root\n server = /usr/sbin/tcpd\n flags = NAMEINARGS\n}\n")[0]
        .contains("NAMEINARGS needs server_args"));
}

#[test]
fn unlisted_ports_bind_and_families() {
    let base = "type = UNLISTED\n socket_type = stream\n protocol = tcp\n wait = no\n user = root\n server = /bin/cat\n port = 8000\n";
    let dump = |extra: &str| one(&format!("service x\n{{\n {base} {extra}\n}}\n")).dump_line();
    assert!(dump("").starts_with("[::]:8000 tcp46 "));
    assert!(dump("flags = IPv4").starts_with("0.0.0.0:8000 tcp4 "));
    assert!(dump("flags = IPv6").starts_with("[::]:8000 tcp46 "));
    assert!(dump("v6only = yes").starts_with("[::]:8000 tcp6 "));
    assert!(dump("bind = 127.0.0.1").starts_with("127.0.0.1:8000 tcp4 "));
    assert!(dump("interface = ::1").starts_with("[::1]:8000 tcp46 "));
    assert!(dump("bind = localhost").starts_with("[::1]:8000 "));
    assert!(dump("bind = localhost\n flags = IPv4").starts_with("127.0.0.1:8000 "));
    let errors = messages(&format!("service x\n{{\n {base} bind = nosuch\n}}\n"));
    assert!(errors[0].contains("unknown bind address"), "{errors:?}");
    // UNLISTED needs its port; a listed service's port must agree with /etc/services.
    let m = messages("service x\n{\n type = UNLISTED\n socket_type = stream\n wait = no\n user = root\n server = /bin/cat\n}\n");
    assert!(m[0].contains("needs a port"), "{m:?}");
    let m = messages("service ftp\n{\n socket_type = stream\n wait = no\n user = root\n server = /bin/cat\n port = 2121\n}\n");
    assert!(
        m[0].contains("/etc/services says port 21, not 2121"),
        "{m:?}"
    );
    let m = messages("service nosuch\n{\n socket_type = stream\n wait = no\n user = root\n server = /bin/cat\n}\n");
    assert!(m[0].contains("not in /etc/services"), "{m:?}");
}

#[test]
fn operators_and_defaults() {
    // `=` in defaults adds; a service's block starts from the defaults' lists.
    let text = "defaults\n{\n only_from = 10.0.0.0\n only_from = 192.168.1.0\n no_access = 10.1.0.0\n instances = 7\n}\n\
        service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n only_from += 127.0.0.1\n only_from -= 192.168.1.0\n}\n\
        service discard\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n only_from = 127.0.0.1\n no_access =\n}\n";
    let services = parsed(text).services();
    assert_eq!(
        services[0].extras.gates.dump_fields(),
        " only-from=10.0.0.0/8,127.0.0.1/32 no-access=10.1.0.0/16"
    );
    assert_eq!(services[0].limits.max_child, Some(7));
    assert_eq!(
        services[1].extras.gates.dump_fields(),
        " only-from=127.0.0.1/32"
    );
    // A second setting of a single value is ignored; so is += on one.
    let m = messages("service echo\n{\n type = INTERNAL\n socket_type = stream\n socket_type = dgram\n wait += yes\n wait = no\n}\n");
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(m[0].starts_with("5: warning: attribute socket_type already set"));
    assert!(m[1].starts_with("6: warning: operator += is for lists"));
    // A defaults attribute in a service, or the reverse, is ignored.
    let m = messages("defaults\n{\n server = /bin/cat\n}\nservice echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n disabled = echo\n}\n");
    assert!(
        m[0].starts_with("3: warning: attribute server ignored"),
        "{m:?}"
    );
    assert!(
        m[1].starts_with("10: warning: attribute disabled ignored"),
        "{m:?}"
    );
}

#[test]
fn disable_enabled_and_disabled_pick_services() {
    let two = "service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n}\n\
        service daytime\n{\n id = day\n type = INTERNAL\n socket_type = stream\n wait = no\n}\n";
    assert_eq!(parsed(two).services().len(), 2);
    let names = |text: &str| -> Vec<String> {
        parsed(text)
            .services()
            .into_iter()
            .map(|s| s.name.into())
            .collect()
    };
    assert_eq!(
        names(&format!("defaults\n{{\n disabled = day\n}}\n{two}")),
        ["echo"]
    );
    assert_eq!(
        names(&format!("defaults\n{{\n enabled = day\n}}\n{two}")),
        ["daytime"]
    );
    // Once disabled, the rest of the block is not judged, as in xinetd.
    let text = "service echo\n{\n disable = yes\n bogus_value = 1\n wait = maybe\n}\n";
    assert!(messages(text).is_empty());
    assert!(parsed(text).services().is_empty());
}

#[test]
fn every_attribute_is_read_and_inert_ones_say_so() {
    let text = "service ftp\n{\n\
        id = ftp-stream\n type = UNLISTED\n flags = REUSE NODELAY KEEPALIVE NORETRY NOLIBWRAP\n\
        socket_type = stream\n protocol = tcp\n wait = no\n user = root\n group = daemon\n groups = no\n\
        server = /usr/sbin/in.ftpd\n server_args = -l\n port = 2121\n bind = 127.0.0.1\n v6only = no\n\
        instances = 10\n per_source = 3\n max_load = 2.5\n only_from = 127.0.0.0/8 ::1\n no_access = 10.{1,2}\n\
        access_times = 2:00-8:59 12:00-23:59\n log_type = FILE /var/log/ftp 10M 11M\n\
        log_on_success = PID HOST USERID EXIT DURATION\n log_on_failure = HOST ATTEMPT\n cps = 50 10\n\
        banner = /etc/banner\n banner_success = /etc/ok\n banner_fail = /etc/no\n env = A=1 B=2\n passenv = PATH\n\
        nice = -5\n umask = 022\n rlimit_as = 64M\n rlimit_cpu = 30\n rlimit_data = UNLIMITED\n rlimit_rss = 1k\n\
        rlimit_stack = 8M\n rlimit_files = 100\n deny_time = FOREVER\n libwrap = ftpd\n}\n";
    let s = one(text);
    assert_eq!(
        s.dump_line(),
        "127.0.0.1:2121 tcp4 stream nowait,env rate=- child=10 ip-rate=- ip-child=3 user=root uid=0 gid=1 group=daemon groups=- \
         only-from=127.0.0.0/8,::1/128 no-access=10.1.0.0/16,10.2.0.0/16 no-wrap wrap-name=ftpd max-load=2.50 \
         access-times=02:00-08:59,12:00-23:59 cps=50/10 banner=/etc/banner banner-success=/etc/ok banner-fail=/etc/no \
         nice=-5 umask=022 rlimit-as=67108864 rlimit-cpu=30 rlimit-data=unlimited rlimit-rss=1024 rlimit-stack=8388608 \
         rlimit-files=100 env=A=1 env=B=2 env-alone log-success=PID,HOST,USERID,EXIT,DURATION log-failure=HOST,ATTEMPT \
         log-type=file:/var/log/ftp,10485760,11534336 hard-reload log-name=ftp-stream exec=/usr/sbin/in.ftpd argv=in.ftpd -l"
    );
    let m = messages(text);
    for inert in [
        "deny_time",
        "flag NODELAY",
        "flag KEEPALIVE",
        "flag NORETRY",
    ] {
        let wanted = format!("warning: {inert} accepted, no effect yet");
        assert!(m.iter().any(|w| w.ends_with(&wanted)), "{wanted}: {m:#?}");
    }
    // (And USERID, which NOLIBWRAP leaves unasked.)
    assert!(m.iter().any(|w| w.contains("USERID is asked")), "{m:#?}");
    assert_eq!(m.len(), 5, "{m:#?}");
    assert_eq!(s.access_name(), "ftpd");
}

#[test]
fn bad_values_reject_the_service_at_their_line() {
    let service = |attr: &str| {
        format!(
            "service echo\n{{\n type = INTERNAL\n socket_type = stream\n wait = no\n {attr}\n}}\n"
        )
    };
    for attr in [
        "instances = many",
        "per_source = -1",
        "cps = 1",
        "cps = a b",
        "max_load = 0",
        "nice = 40",
        "umask = 999",
        "rlimit_as = 5G",
        "rlimit_cpu = 1M",
        "access_times = 9:00-8:00",
        "access_times = 25:00-26:00",
        "log_type = SYSLOG nowhere",
        "log_type = SYSLOG daemon loud",
        "log_type = NET x",
        "log_on_success = EVERYTHING",
        "log_on_failure = PID",
        "env = NOEQUALS",
        "env -= A=1",
        "flags = FAST",
        "groups = maybe",
        "v6only = 1",
        "only_from = 1.2.3.4,5.6.7.8",
        "only_from = 10.0.0.0/40",
        "no_access = 10.{1,}",
        "port = 70000",
        "deny_time = soon",
        "socket_type = stream",
        "redirect = 10.0.0.1",
        "disable = maybe",
    ] {
        let m = messages(&service(attr));
        // A count that does not fit is a warning (ignored), a bad value an error.
        assert_eq!(m.len(), 1, "{attr}: {m:?}");
        assert!(m[0].starts_with("6: "), "{attr}: {m:?}");
        if ["cps = 1", "redirect = 10.0.0.1", "socket_type = stream"].contains(&attr) {
            assert!(m[0].starts_with("6: warning: "), "{attr}: {m:?}");
        } else {
            assert!(!m[0].contains("warning"), "{attr}: {m:?}");
            assert!(parsed(&service(attr)).services().is_empty(), "{attr}");
        }
    }
}

#[test]
fn entries_that_serve_nothing_here_say_why() {
    let base = "socket_type = stream\n wait = no\n user = root\n server = /bin/cat";
    for (attrs, why) in [
        ("type = RPC", "type RPC"),
        ("type = TCPMUX", "type TCPMUX"),
        ("flags = SENSOR", "flag SENSOR"),
        ("flags = INTERCEPT", "flag INTERCEPT"),
        ("instances = 0", "instances = 0"),
        ("no_access = .example.com", "a domain"),
        ("no_access = nosuchhost", "unknown host"),
    ] {
        let m = messages(&format!("service ftp\n{{\n {base}\n {attrs}\n}}\n"));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("1: warning: service \"ftp\" skipped, not supported: "),
            "{m:?}"
        );
        assert!(m[0].contains(why), "{m:?}");
    }
    // An only_from entry the daemon cannot match matches nobody: a warning.
    let m = messages(&format!(
        "service ftp\n{{\n {base}\n only_from = .example.com localhost\n}}\n"
    ));
    assert!(m[0].contains("it matches nobody here"), "{m:?}");
    let m = messages(&format!(
        "service ftp\n{{\n {base}\n only_from = 10.0.0.5\n no_access = 10.0.0.0\n}}\n"
    ));
    assert!(m[0].contains("xinetd 2.3.15 refuses them all"), "{m:?}");
    let m = messages(&format!(
        "service ftp\n{{\n {}\n only_from = 10.0.0.1\n}}\n",
        base.replace("wait = no", "wait = yes")
    ));
    assert!(
        m[0].contains("check no client of a stream wait service"),
        "{m:?}"
    );
    // Whole-entry checks.
    for (attrs, why) in [
        (
            "socket_type = dgram\n wait = no\n type = INTERNAL",
            "dgram needs wait = yes",
        ),
        (
            "socket_type = stream\n protocol = udp\n wait = no\n type = INTERNAL",
            "does not fit",
        ),
        (
            "socket_type = stream\n type = INTERNAL",
            "missing attribute wait",
        ),
        (
            "wait = no\n type = INTERNAL",
            "missing attribute socket_type",
        ),
        (
            "socket_type = stream\n wait = no",
            "missing attribute server",
        ),
        (
            "socket_type = stream\n wait = no\n server = /bin/cat",
            "missing attribute user",
        ),
        (
            "socket_type = stream\n wait = no\n server = cat\n user = root",
            "not an absolute path",
        ),
        (
            "socket_type = stream\n wait = no\n server = /bin/cat\n user = nosuch",
            "unknown user",
        ),
        (
            "socket_type = stream\n wait = no\n server = /bin/cat\n user = root\n group = nosuch",
            "unknown group",
        ),
        (
            "socket_type = stream\n wait = no\n type = INTERNAL\n flags = NAMEINARGS",
            "NAMEINARGS",
        ),
        (
            "socket_type = stream\n wait = no\n type = INTERNAL\n log_on_success = PID TRAFFIC",
            "TRAFFIC is for redirected",
        ),
    ] {
        let m = messages(&format!("service echo\n{{\n {attrs}\n}}\n"));
        assert_eq!(m.len(), 1, "{attrs}: {m:?}");
        assert!(
            m[0].starts_with("1: service \"echo\": ") && m[0].contains(why),
            "{attrs}: {m:?}"
        );
    }
    let m = messages("service bogus\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n}\n");
    assert!(m[0].contains("no internal service"), "{m:?}");
    let m = messages("service servers\n{\n type = INTERNAL UNLISTED\n port = 9099\n socket_type = stream\n wait = no\n}\n");
    assert!(m[0].contains("xinetd's internal service servers"), "{m:?}");
}

#[test]
fn block_syntax_as_xinetd_wants_it() {
    // The brace on the name's line, a missing operator blank, a stray
    // line, an unknown keyword: each takes its block down, and the
    // next block is read.
    let text = "service echo {\n type = INTERNAL\n}\n\
        service echo\n{\n type= INTERNAL\n}\n\
        service echo\n{\n type INTERNAL\n}\n\
        frobnicate\n{\n}\n\
        service\n\
        defaults\n{\n instances = 3\n}\n\
        defaults\n{\n instances = 4\n}\n\
        # a comment, then blanks\n\n   \t\n\
        service echo\n{\n # comments inside too\n type = INTERNAL\n socket_type = stream\n wait = no\n}\n\
        service daytime\n{\n type = INTERNAL\n";
    let m = messages(text);
    assert_eq!(
        m,
        [
            "2: service \"echo\": expected { alone on the line after the name (xinetd wants it there)",
            "6: attribute \"type\" needs a blank before its operator",
            "10: bad operator \"INTERNAL\" for attribute \"type\" (expected =, += or -=)",
            "12: expected service NAME, defaults, include or includedir, not \"frobnicate\"",
            "15: service needs a name",
            "20: a second defaults block in this file is ignored, as xinetd ignores it",
            "36: missing } at the end of the file",
        ],
    );
    let services = parsed(text).services();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].limits.max_child, Some(3));
    // A `#` after a value is a value, as in xinetd.
    let s = one("service ftp\n{\n socket_type = stream\n wait = no\n user = root\n server = /bin/echo\n server_args = a # b\n}\n");
    assert!(s.dump_line().ends_with("argv=echo a # b"));
    // CRLF line ends.
    assert_eq!(parsed(&ECHO.replace('\n', "\r\n")).services().len(), 1);
}

#[test]
fn include_and_includedir() {
    let mut tree = Table::default();
    tree.files.insert(
        "/x/main".into(),
        "include inc\nincludedir /x/d\ninclude /x/missing\n".into(),
    );
    tree.files.insert(
        "/x/inc".into(),
        "defaults\n{\n instances = 5\n umask = 022\n}\ninclude /x/inc\n".into(),
    );
    tree.files.insert("/x/d/echo".into(), ECHO.into());
    tree.files
        .insert("/x/d/daytime".into(), ECHO.replace("echo", "daytime"));
    tree.files.insert("/x/d/echo.rpmnew".into(), ECHO.into());
    tree.files
        .insert("/x/d/time.conf".into(), ECHO.replace("echo", "time"));
    tree.dirs.insert(
        "/x/d".into(),
        [
            "echo",
            "daytime",
            "echo.rpmnew",
            "time.conf",
            "chargen~",
            ".",
            "..",
            "sub",
        ]
        .map(|n| (n.to_string(), n != "sub"))
        .to_vec(),
    );
    let text = tree.files["/x/main"].clone();
    let parsed = parse(&text, "/x/main", &mut tree, &TableResolver::debian());
    let names: Vec<_> = parsed
        .clone()
        .services()
        .into_iter()
        .map(|s| (s.name.into(), s.file.to_string(), s.limits.max_child))
        .collect();
    // strcmp order: daytime before echo; the defaults of an included file
    // apply, and its warnings name it.
    assert_eq!(
        names,
        [
            ("daytime".to_string(), "/x/d/daytime".to_string(), Some(5)),
            ("echo".to_string(), "/x/d/echo".to_string(), Some(5)),
        ]
    );
    let m: Vec<String> = parsed.errors.iter().map(ConfigError::to_string).collect();
    assert_eq!(
        m,
        [
            "/x/main:2: warning: includedir: \"/x/d/chargen~\" skipped: xinetd reads no file whose name holds a dot or ends in ~",
            "/x/main:2: warning: includedir: \"/x/d/echo.rpmnew\" skipped: xinetd reads no file whose name holds a dot or ends in ~",
            "/x/main:2: warning: includedir: \"/x/d/sub\" skipped: not a regular file",
            "/x/main:2: warning: includedir: \"/x/d/time.conf\" skipped: xinetd reads no file whose name holds a dot or ends in ~",
            "/x/main:3: include \"/x/missing\": entity not found",
            "/x/inc:6: include \"/x/inc\": already being read (a loop)",
        ],
        "{m:#?}"
    );
}

/// Marsaglia's xorshift64, fixed seed: failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What must hold for any input: no panic, messages at real lines and
/// short, dumps on one line.
fn parse_checked(text: &str) -> Parsed {
    let parsed = parsed(text);
    let lines = text.split('\n').count();
    for e in &parsed.errors {
        assert!((1..=lines).contains(&e.line), "{e} of {lines}");
        assert!(e.reason.len() < 400 && !e.reason.contains('\n'), "{e}");
    }
    for s in parsed.clone().services() {
        assert!((1..=lines).contains(&s.line));
        assert!(!s.dump_line().contains('\n'));
    }
    parsed
}

#[test]
fn hostile_input() {
    const WORDS: &[&str] = &[
        "service",
        "defaults",
        "include",
        "includedir",
        "{",
        "}",
        "=",
        "+=",
        "-=",
        "echo",
        "type",
        "INTERNAL",
        "UNLISTED",
        "socket_type",
        "stream",
        "dgram",
        "wait",
        "yes",
        "no",
        "user",
        "root",
        "server",
        "/bin/cat",
        "server_args",
        "flags",
        "NAMEINARGS",
        "IPv4",
        "IPv6",
        "port",
        "7",
        "99999",
        "bind",
        "127.0.0.1",
        "only_from",
        "no_access",
        "10.{1,2}",
        "::1/64",
        "localhost",
        ".dom",
        "instances",
        "UNLIMITED",
        "0",
        "#",
        "\t",
        " ",
        "\n",
        "\n",
        "\r",
        "\0",
        "\u{fffd}",
        "é",
        "{a,b}",
        "cps",
        "max_load",
        "1e308",
        "-",
        "~",
    ];
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for _ in 0..400 {
        let len = rng.below(400);
        let text: String = (0..len)
            .map(|_| match rng.below(6) {
                0 => " ",
                1 => "\n",
                _ => WORDS[rng.below(WORDS.len())],
            })
            .collect();
        parse_checked(&text);
    }
    // Huge values and many blocks stay bounded and quick.
    let long = "x".repeat(1 << 20);
    let m = parse_checked(&format!("service {long}\n{{\n {long} = {long}\n}}\n")).errors;
    assert!(m[0].reason.contains("..."));
    let many: String = (0..5000)
        .map(|i| format!("service s{i}\n{{\n type = UNLISTED INTERNAL\n port = {}\n socket_type = stream\n wait = no\n}}\n", 1000 + i))
        .collect();
    assert!(parse_checked(&many).services().is_empty());
}

#[test]
fn a_good_block_survives_a_bad_neighbour() {
    let good = ECHO;
    for bad in [
        "service x\n{\n",
        "}\n",
        "{\n",
        "service x\n{\n a=b\n}\n",
        "defaults\n",
        "include\n",
        "garbage {\n}\n",
    ] {
        for text in [format!("{bad}{good}"), format!("{good}{bad}")] {
            let p = parse_checked(&text);
            let ok = p.clone().services().len() == 1;
            // A block left open takes what follows, as in xinetd.
            assert!(
                ok || bad.ends_with("{\n") || bad == "defaults\n",
                "{text:?}: {:?}",
                p.errors
            );
        }
    }
}

#[test]
fn the_converter_writes_inetd_conf_that_serves_the_same() {
    let text = "defaults\n{\n instances = 30\n}\n\
        service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n only_from = 127.0.0.1 10.0.0.0\n no_access = 10.1.0.0/16\n}\n\
        service echo\n{\n type = INTERNAL\n id = echo-dgram\n socket_type = dgram\n wait = yes\n flags = IPv4\n}\n\
        service ftp\n{\n socket_type = stream\n wait = no\n user = first.last\n group = staff\n groups = yes\n\
         server = /usr/sbin/in.ftpd\n server_args = -l\n bind = 127.0.0.1\n per_source = 2\n nice = 5\n no_access = 10.1.0.0/16\n only_from = 10.1.2.0/24\n}\n\
        service x\n{\n type = UNLISTED\n socket_type = stream\n protocol = tcp\n port = 7777\n wait = no\n user = root\n\
         server = /usr/sbin/in.x\n server_args = in.x -v\n flags = NAMEINARGS NOLIBWRAP IPv6\n v6only = yes\n max_load = 3\n}\n\
        service telnet\n{\n socket_type = stream\n wait = no\n user = root\n redirect = 10.0.0.1 23\n}\n\
        service daytime\n{\n disable = yes\n}\n";
    let resolver = TableResolver::debian();
    let parsed = parse(text, "x.conf", &mut Table::default(), &resolver);
    let out = convert::convert(&parsed, "x.conf", &resolver);
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "echo\tstream\ttcp46\tnowait/30\troot\tinternal",
            "echo\tdgram\tudp\twait/30\troot\tinternal",
            "127.0.0.1:ftp\tstream\ttcp\tnowait/30/0/2,env\tfirst.last:staff\t/usr/sbin/in.ftpd in.ftpd -l",
            "7777\tstream\ttcp6\tnowait/30,env\troot\t/usr/sbin/in.x in.x -v",
            "telnet\tstream\ttcp46\tnowait/30\troot\tinternal redirect 10.0.0.1:23",
        ],
        "{out}"
    );
    let rules: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix(convert::HOSTS_ALLOW_MARK))
        .collect();
    assert_eq!(
        rules,
        [
            "echo: 10.1.0.0/255.255.0.0 : deny",
            "echo: ALL EXCEPT 127.0.0.1 10.0.0.0/255.0.0.0 : deny",
            "in.ftpd: 10.1.0.0/255.255.0.0 EXCEPT 10.1.2.0/255.255.255.0 : deny",
            "in.ftpd: ALL EXCEPT 10.1.2.0/255.255.255.0 : deny",
            "in.x: ALL : allow",
        ]
    );
    for comment in [
        "# nice: no equivalent in inetd.conf",
        "# cps = 50 10 (the default): no equivalent",
        "# max_load = 3.00: inetd.conf has none per service",
        "# NOLIBWRAP: inetd checks hosts.allow",
        "# disabled: not converted",
    ] {
        assert!(out.contains(comment), "{comment}: {out}");
    }
    // What the converted file serves is what the xinetd file served.
    let (again, errors) = crate::config::inetd::parse(&out, "inetd.conf", &resolver);
    assert!(errors.is_empty(), "{errors:?}");
    // (`/30/0/2`: the 0, connections per client per minute, is no limit.)
    let key = |s: &Service| {
        let limits = (s.limits.max_child, s.limits.max_child_per_ip);
        (
            s.listen.clone(),
            s.socket_type,
            s.wait,
            s.environment,
            limits,
            s.program.clone(),
            s.user.uid,
            s.user.gid,
        )
    };
    let want: Vec<_> = parsed.services().iter().map(key).collect();
    assert_eq!(again.iter().map(key).collect::<Vec<_>>(), want);
}

#[test]
fn files_that_include_each_other_are_read_a_bounded_number_of_times() {
    let mut tree = Table::default();
    let all: String = (0..12).map(|i| format!("include /f{i}\n")).collect();
    for i in 0..12 {
        tree.files.insert(format!("/f{i}"), all.clone());
    }
    let parsed = parse(&all, "/main", &mut tree, &TableResolver::debian());
    assert!(parsed
        .errors
        .iter()
        .any(|e| e.reason.contains("more than 256 files read")));
}

#[test]
fn the_converter_leaves_out_what_inetd_conf_would_read_otherwise() {
    let text = "service ftp\n{\n socket_type = stream\n wait = no\n user = root\n server = /bin/echo\n server_args = a #b\n}\n";
    let resolver = TableResolver::debian();
    let parsed = parse(text, "x.conf", &mut Table::default(), &resolver);
    let out = convert::convert(&parsed, "x.conf", &resolver);
    assert!(
        out.contains("# not converted: the argument \"#b\" would start a comment in inetd.conf"),
        "{out}"
    );
    assert!(crate::config::inetd::parse(&out, "c", &resolver)
        .0
        .is_empty());
}

#[test]
fn a_configuration_reads_a_bounded_number_of_bytes() {
    let mut tree = Table::default();
    let big = format!("{}\n", "#".repeat(20 << 20));
    let main: String = (0..4).map(|i| format!("include /big{i}\n")).collect();
    for i in 0..4 {
        tree.files.insert(format!("/big{i}"), big.clone());
    }
    let parsed = parse(&main, "/main", &mut tree, &TableResolver::debian());
    let m: Vec<String> = parsed.errors.iter().map(ConfigError::to_string).collect();
    assert_eq!(
        m,
        ["/main:4: include \"/big3\": the configuration would read more than 64 MiB"]
    );
}

#[test]
fn access_times_are_windows_of_the_day_that_never_wrap_over_midnight() {
    let window = |start, end| TimeWindow { start, end };
    assert_eq!(attributes::time_interval("0:00-23:59"), Ok(window(0, 1439)));
    assert_eq!(
        attributes::time_interval("9:5-17:30"),
        Ok(window(545, 1050))
    );
    for bad in [
        "22:00-02:00", // xinetd's ti_add: the end after the start
        "8:00-8:00",
        "24:00-24:30",
        "8:60-9:00",
        "8-9",
        "8:00",
        ":30-9:00",
        "8:00-9:00-10:00",
        "-1:00-2:00",
        "8:00 - 9:00",
        "",
    ] {
        assert!(attributes::time_interval(bad).is_err(), "{bad}");
    }
    // Over midnight as xinetd's users write it: two windows.
    let s = one(
        "service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n access_times = 22:00-23:59 0:00-2:00\n}\n"
    );
    assert_eq!(s.extras.access_times, [window(1320, 1439), window(0, 120)]);
    let open = |minute| s.extras.access_times.iter().any(|w| w.contains(minute));
    assert!(open(1439) && open(0) && open(120) && open(1320));
    assert!(!open(121) && !open(1319) && !open(720));
    // A wrapping one is refused with the way to write it.
    let m = messages(
        "service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n access_times = 22:00-02:00\n}\n",
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].starts_with("6: ") && m[0].contains("write two"),
        "{m:?}"
    );
}

const FTP: &str = "socket_type = stream\n wait = no\n user = root\n server = /bin/cat";

#[test]
fn defaults_reach_services_as_xinetd_copies_them() {
    let text = format!(
        "defaults\n{{\n log_on_success = PID HOST\n log_on_failure = HOST\n banner = /etc/b\n banner_fail = /etc/f\n\
         passenv = LANG\n umask = 027\n cps = 5 2\n}}\n\
         service ftp\n{{\n {FTP}\n log_on_success += DURATION\n log_on_failure -= HOST\n banner = /etc/own\n env = A=1\n}}\n\
         service telnet\n{{\n {FTP}\n log_on_success = EXIT\n passenv = TZ NOSUCH LANG\n env = LANG=fr\n umask = 002\n cps = 0 1\n}}\n"
    );
    let services = parsed(&text).services();
    let [ftp, telnet] = &services[..] else {
        panic!("{services:?}")
    };
    // The lists and banners are copied when the block begins: `+=` and
    // `-=` change the copy, `=` replaces it, a banner may be set again.
    assert_eq!(
        ftp.extras.log.on_success,
        LogFields::PID | LogFields::HOST | LogFields::DURATION
    );
    assert_eq!(
        (ftp.extras.log.on_failure, telnet.extras.log.on_success),
        (0, LogFields::EXIT)
    );
    assert_eq!(telnet.extras.log.on_failure, LogFields::HOST);
    assert_eq!(
        ftp.extras.banners.every.as_deref(),
        Some(Path::new("/etc/own"))
    );
    assert_eq!(
        telnet.extras.banners.every.as_deref(),
        Some(Path::new("/etc/b"))
    );
    assert_eq!(
        ftp.extras.banners.fail.as_deref(),
        Some(Path::new("/etc/f"))
    );
    assert_eq!(ftp.extras.banners.success, None);
    // passenv: the named variables of inetd's environment (the unset
    // ones left out), then env over them; the program gets those alone.
    assert_eq!(ftp.extras.process.env, ["LANG=C.UTF-8", "A=1"]);
    assert_eq!(telnet.extras.process.env, ["TZ=UTC", "LANG=fr"]);
    assert!(ftp.extras.process.env_alone && telnet.extras.process.env_alone);
    assert_eq!(
        (ftp.extras.process.umask, telnet.extras.process.umask),
        (Some(0o027), Some(0o002))
    );
    // cps: the defaults', and a rate of 0 checks nothing.
    assert_eq!((ftp.limits.cps, telnet.limits.cps), (Some((5, 2)), None));
    assert!(ftp.hard_reload && telnet.hard_reload);
}

#[test]
fn without_cps_a_service_has_xinetds_default_and_without_passenv_inetds_environment() {
    let s = one(&format!(
        "service ftp\n{{\n {FTP}\n env = A=1 B=x=y\n env += C=3\n nice = 7\n rlimit_files = 64\n rlimit_as = 1M\n}}\n"
    ));
    assert_eq!(s.limits.cps, Some(build::DEFAULT_CPS));
    assert_eq!(s.extras.process.env, ["A=1", "B=x=y", "C=3"]);
    assert!(!s.extras.process.env_alone);
    assert_eq!(s.extras.process.nice, Some(7));
    assert_eq!(
        s.extras.process.rlimits,
        [(Rlimit::Files, Some(64)), (Rlimit::As, Some(1 << 20))]
    );
    for bad in [
        "env = =x",
        "rlimit_files = 1G",
        "rlimit_stack = 99999999999999999999k",
    ] {
        let m = messages(&format!("service ftp\n{{\n {FTP}\n {bad}\n}}\n"));
        assert!(m.len() == 1 && !m[0].contains("warning"), "{bad}: {m:?}");
    }
}

#[test]
fn a_redirect_is_served_by_the_loop_and_checked_as_xinetd_checks_it() {
    let redirect = |attrs: &str| format!("service telnet\n{{\n {attrs}\n}}\n");
    let s = one(&redirect(
        "socket_type = stream\n wait = no\n redirect = 10.0.0.1 23\n log_on_success = TRAFFIC DURATION",
    ));
    assert_eq!(
        s.program,
        Program::Redirect(Box::new("10.0.0.1:23".parse().unwrap()))
    );
    assert_eq!(
        s.extras.log.on_success,
        LogFields::TRAFFIC | LogFields::DURATION
    );
    assert!(
        s.dump_line().ends_with(" hard-reload redirect=10.0.0.1:23"),
        "{}",
        s.dump_line()
    );
    // A name from /etc/hosts, a port by its service name; `server` and
    // `user` are not needed (xinetd ignores `server`).
    let s = one(&redirect(
        "socket_type = stream\n wait = no\n server = /bin/x\n redirect = box telnet",
    ));
    assert_eq!(
        s.program,
        Program::Redirect(Box::new("192.168.1.10:23".parse().unwrap()))
    );
    let s = one(&redirect(
        "socket_type = stream\n wait = no\n redirect = ::1 2323",
    ));
    assert_eq!(
        s.program,
        Program::Redirect(Box::new("[::1]:2323".parse().unwrap()))
    );
    for (attrs, why) in [
        ("socket_type = dgram\n wait = yes\n redirect = 10.0.0.1 23", "stream"),
        ("socket_type = stream\n wait = yes\n redirect = 10.0.0.1 23", "stream"),
        ("socket_type = stream\n wait = no\n flags = NAMEINARGS\n server_args = x\n redirect = 10.0.0.1 23", "NAMEINARGS"),
        ("socket_type = stream\n wait = no\n redirect = nosuchhost 23", "/etc/hosts only"),
        ("socket_type = stream\n wait = no\n redirect = 10.0.0.1 nosuchport", "/etc/services"),
        ("socket_type = stream\n wait = no\n redirect = 10.0.0.1 0", "port 0"),
    ] {
        let m = messages(&redirect(attrs));
        assert!(m.len() == 1 && m[0].contains(why) && !m[0].contains("warning"), "{attrs}: {m:?}");
    }
}

#[test]
fn userid_without_libwrap_says_it_is_not_logged() {
    let m = messages(&format!(
        "service ftp\n{{\n {FTP}\n flags = NOLIBWRAP\n log_on_success = USERID\n}}\n"
    ));
    assert!(
        m.len() == 1 && m[0].starts_with("1: warning: USERID is asked"),
        "{m:?}"
    );
    assert!(messages(&format!(
        "service ftp\n{{\n {FTP}\n log_on_failure = USERID\n}}\n"
    ))
    .is_empty());
}

#[test]
fn services_share_what_they_repeat() {
    let block = |name: &str, port: u16, server: &str| {
        format!(
            "service {name}\n{{\n type = UNLISTED\n port = {port}\n socket_type = stream\n \
             protocol = tcp\n wait = no\n user = nobody\n server = {server}\n}}\n"
        )
    };
    let text = [
        block("a", 1001, "/bin/cat"),
        block("b", 1002, "/bin/cat"),
        block("c", 1003, "/bin/sh"),
    ]
    .concat();
    let services = parsed(&text).services();
    assert_eq!(services.len(), 3, "{:?}", messages(&text));
    let command = |s: &Service| match &s.program {
        Program::External(command) => Rc::clone(command),
        other => panic!("{other:?}"),
    };
    let (a, b, c) = (&services[0], &services[1], &services[2]);
    assert!(Rc::ptr_eq(&command(a), &command(b)));
    assert!(!Rc::ptr_eq(&command(a), &command(c)));
    assert!(Rc::ptr_eq(&a.user, &c.user));
    assert!(Rc::ptr_eq(&a.file, &c.file));
    assert!(Rc::ptr_eq(&a.protocol, &c.protocol));
}
