//! Property tests: random, truncated, huge and numerous inputs. The parser
//! must not panic, must point at real lines, and must not let a bad line
//! disturb the good ones around it. Randomness is a fixed-seed xorshift, so
//! failures reproduce.

use std::collections::HashSet;

use super::*;
use crate::resolve::table::TableResolver;

/// Marsaglia's xorshift64: small, fast, and good enough to pick test input.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIXTURES: [&str; 4] = [
    include_str!("../../../tests/data/openbsd-inetd.conf"),
    include_str!("../../../tests/data/inetutils-inetd.conf"),
    include_str!("../../../tests/data/busybox-inetd.conf"),
    include_str!("../../../tests/data/freebsd-inetd.conf"),
];

/// Parses `text` and checks what must hold for any input.
fn parse_checked(text: &str, resolver: &TableResolver) -> (Vec<Service>, Vec<ConfigError>) {
    let (services, errors) = parse(text, "fuzz.conf", resolver);
    let lines = text.split('\n').count();
    for error in &errors {
        assert!(
            (1..=lines).contains(&error.line),
            "{error} of {lines} lines"
        );
        assert!(!error.reason.is_empty());
        // Messages quote fields cut short, whatever the input.
        assert!(error.reason.len() < 400, "{error}");
        assert!(!error.reason.contains('\n'));
    }
    let mut keys = HashSet::new();
    for service in &services {
        assert!((1..=lines).contains(&service.line));
        let rejected = errors
            .iter()
            .any(|e| e.line == service.line && !e.is_warning());
        assert!(
            !rejected,
            "line {} is both accepted and rejected",
            service.line
        );
        assert!(keys.insert(ListenerKey::new(
            &service.listen,
            service.socket_type,
            service.rpc
        )));
        let dump = service.dump_line();
        assert!(!dump.contains('\n'));
        assert!(dump.split(' ').count() >= 14, "{dump}");
    }
    (services, errors)
}

#[test]
fn random_bytes() {
    // Mostly the characters that mean something to the parser.
    const ALPHABET: &[u8] =
        b" \t\t\n\n\r#\\:.,/[]*\0streamdgramtcpudp46nowaitrootinternal0123456789";
    let resolver = TableResolver::debian();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..400 {
        let len = rng.below(3000);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(8) {
                0 => rng.next() as u8,
                _ => ALPHABET[rng.below(ALPHABET.len())],
            })
            .collect();
        parse_checked(&String::from_utf8_lossy(&bytes), &resolver);
    }
}

/// A good line on a port of its own (so that lines only collide with
/// themselves), then now and then one field swapped for a bad one or dropped.
fn random_line(rng: &mut XorShift, port: usize) -> String {
    let (socket_type, protocol) = match rng.below(9) {
        8 => (rng.pick(&["stream", "dgram"]), "unix"),
        n => (
            ["stream", "dgram"][n % 2],
            [
                "tcp", "udp", "tcp4", "udp4", "tcp6", "udp6", "tcp46", "udp46",
            ][n],
        ),
    };
    let builtin = rng.pick(&["echo", "discard", "chargen", "daytime", "time"]);
    let (service, program) = match (protocol, rng.below(5)) {
        ("unix", _) => (format!("/run/s{port}"), "/bin/cat"),
        (_, 0) => (builtin.to_string(), "internal"),
        _ => (port.to_string(), rng.pick(&["/usr/sbin/tcpd", "/bin/cat"])),
    };
    let host = match protocol {
        "unix" => "",
        "tcp" | "udp" | "tcp4" | "udp4" => {
            rng.pick(&["", "", "127.0.0.1:", "localhost:", "box,127.0.0.1:", "*:"])
        }
        _ => rng.pick(&["", "", "[::1]:", "localhost:", "v6box,[::1]:", "::1:", "*:"]),
    };
    let mut fields = [
        format!("{host}{service}"),
        socket_type.to_string(),
        protocol.to_string(),
        rng.pick(&[
            "wait",
            "nowait",
            "nowait.400",
            "wait.0",
            "nowait/3/10/2",
            "nowait/5",
        ])
        .to_string(),
        rng.pick(&[
            "root",
            "nobody",
            "nobody.tty",
            "root:daemon",
            "first.last",
            "root/staff",
        ])
        .to_string(),
        program.to_string(),
        rng.pick(&["", "", "in.ftpd", "in.ftpd -l", "-s /srv/tftp", "a#b"])
            .to_string(),
    ];
    const BAD: [&[&str]; 7] = [
        &[
            "nowhere:echo",
            "[::1:echo",
            ":echo",
            "127.0.0.1,127.0.0.1:echo",
            "0",
            "nosuch",
            "relative",
        ],
        &["raw", "Stream", "seqpacket", "datagram"],
        &["rpc/tcp", "tcp7", "sctp", "TCP"],
        &[
            "nowait.",
            "wait/1/2/3/4",
            "nowait.-1",
            "nowaiting",
            "wait.99999999999",
        ],
        &["nosuch", "root:", ":tty", "root:nosuch", "root."],
        &["in.ftpd", "internal", "./x"],
        &["#", "# comment"],
    ];
    if rng.below(2) == 0 {
        let field = rng.below(fields.len());
        fields[field] = match rng.below(8) {
            0 => String::new(),
            _ => rng.pick(BAD[field]).to_string(),
        };
    }
    let kept = fields.iter().filter(|f| !f.is_empty());
    kept.map(String::as_str).collect::<Vec<_>>().join(" ")
}

#[test]
fn each_line_parses_the_same_alone_and_among_others() {
    let resolver = TableResolver::debian();
    let mut rng = XorShift(42);
    let lines: Vec<String> = (0..2000).map(|i| random_line(&mut rng, 1000 + i)).collect();
    let (services, errors) = parse_checked(&lines.join("\n"), &resolver);
    let mut accepted = 0;
    // Lines whose listeners a later line took.
    let replaced: HashSet<usize> = errors
        .iter()
        .filter_map(|e| {
            let rest = e.reason.split(" of line ").nth(1)?;
            rest.strip_suffix(" replaced: the later line wins")?
                .parse()
                .ok()
        })
        .collect();
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        let (alone, alone_errors) = parse(line, "fuzz.conf", &resolver);
        let among: Vec<_> = services.iter().filter(|s| s.line == number).collect();
        let among_errors: Vec<_> = errors.iter().filter(|e| e.line == number).collect();
        // Named services may collide with another line, which alone they cannot.
        if replaced.contains(&number)
            || among_errors
                .iter()
                .any(|e| e.reason.contains("the later line wins"))
        {
            continue;
        }
        assert_eq!(among.len(), alone.len(), "{line}");
        for (a, b) in alone.iter().zip(among) {
            assert_eq!(
                Service {
                    line: number,
                    ..a.clone()
                },
                *b
            );
        }
        let reasons = |errors: Vec<&ConfigError>| -> Vec<String> {
            errors.into_iter().map(|e| e.reason.clone()).collect()
        };
        assert_eq!(
            reasons(alone_errors.iter().collect()),
            reasons(among_errors),
            "{line}"
        );
        accepted += usize::from(!alone.is_empty());
    }
    // The candidates are good often enough for this to mean something.
    assert!(accepted > 800, "only {accepted} lines accepted");
    assert!(errors.len() > 500, "only {} errors", errors.len());
}

#[test]
fn truncated_input() {
    let resolver = TableResolver::debian();
    for fixture in FIXTURES {
        // Every prefix of every line, alone.
        for line in fixture.lines() {
            for (end, _) in line.char_indices() {
                parse_checked(&line[..end], &resolver);
            }
        }
        // The whole file cut short, at a stride to keep it fast.
        let cuts = fixture.char_indices().map(|(i, _)| i).step_by(5);
        for end in cuts {
            parse_checked(&fixture[..end], &resolver);
        }
    }
    // NetBSD's definitions cut anywhere (not among FIXTURES: a garbage
    // line inside a definition does change it).
    let netbsd = include_str!("../../../tests/data/netbsd-inetd.conf");
    for (end, _) in netbsd.char_indices() {
        parse_checked(&netbsd[..end], &resolver);
    }
}

#[test]
fn a_bad_line_anywhere_leaves_the_others_alone() {
    let resolver = TableResolver::debian();
    let mut rng = XorShift(7);
    for fixture in FIXTURES {
        let (expected, expected_errors) = parse(fixture, "fuzz.conf", &resolver);
        let lines: Vec<&str> = fixture.lines().collect();
        for _ in 0..50 {
            // Before a line that does not continue the previous one.
            let at = rng.below(lines.len() + 1);
            if lines.get(at).is_some_and(|l| l.starts_with([' ', '\t']))
                || at > 0 && lines[at - 1].ends_with('\\')
            {
                continue;
            }
            // No colon (it could set a default host), no backslash, no blank start.
            const GARBAGE: &[u8] = b"abc /.#\t,0\x00";
            let garbage: String = (0..1 + rng.below(80))
                .map(|_| char::from(GARBAGE[rng.below(GARBAGE.len())]))
                .collect();
            let garbage = format!("x{garbage}");
            let mut text: Vec<&str> = lines.clone();
            text.insert(at, &garbage);
            let (services, errors) = parse_checked(&text.join("\n"), &resolver);
            let shift = |line: usize| if line > at { line + 1 } else { line };
            let moved: Vec<Service> = expected
                .iter()
                .map(|s| Service {
                    line: shift(s.line),
                    ..s.clone()
                })
                .collect();
            assert_eq!(services, moved, "{garbage:?} at {at}");
            let others: Vec<_> = errors.iter().filter(|e| e.line != at + 1).collect();
            assert_eq!(others.len(), expected_errors.len(), "{garbage:?} at {at}");
        }
    }
}

#[test]
fn huge_lines() {
    const MB: usize = 1 << 20;
    let resolver = TableResolver::debian();
    let cases = [
        "y".repeat(MB),
        "y ".repeat(MB / 2),
        "#".repeat(MB),
        "\\\n".repeat(MB / 2),
        " \n".repeat(MB / 2),
        format!(
            "{}127.0.0.1:echo stream tcp nowait root internal",
            "127.0.0.1,".repeat(MB / 10)
        ),
        format!(
            "{}:echo stream tcp nowait root internal",
            "[::1],".repeat(MB / 6)
        ),
        format!(
            "echo stream tcp nowait{} root internal",
            "/1".repeat(MB / 2)
        ),
        format!("echo stream tcp nowait.{} root internal", "9".repeat(MB)),
        format!("echo stream tcp nowait {} internal", "root.".repeat(MB / 5)),
        format!("/{} stream unix nowait root /x", "s".repeat(MB)),
        format!("ftp stream tcp nowait root /{}", "p".repeat(MB)),
        format!("{}\0 stream tcp nowait root internal", "é".repeat(MB / 2)),
        // Key-values definitions: many keys, many definitions on a line,
        // values across many lines.
        // (A quarter of a megabyte: enough for a quadratic reading to
        // take minutes, little for a linear one.)
        format!("x on {};", "a=b,".repeat(MB / 16)),
        "a on x=y;".repeat(MB / 36),
        format!("x on args={};", " v\n".repeat(MB / 12)),
        format!("x on args=\"{}", "q".repeat(MB / 4)),
    ];
    for text in &cases {
        let (services, errors) = parse_checked(text, &resolver);
        assert!(services.is_empty() || errors.is_empty());
    }
    // A megabyte of arguments is a good line while exec takes it (with
    // their pointers, 100000 short ones do); 250000 do not fit.
    let args = "arg ".repeat(100_000);
    let (services, errors) =
        parse_checked(&format!("ftp stream tcp nowait root /x {args}"), &resolver);
    assert!(errors.is_empty());
    let Some(Program::External(command)) = services.first().map(|s| &s.program) else {
        panic!("no service");
    };
    assert_eq!(command.argv.len(), 100_000);
    let args = "arg ".repeat(MB / 4);
    let (services, errors) =
        parse_checked(&format!("ftp stream tcp nowait root /x {args}"), &resolver);
    assert!(services.is_empty());
    assert!(errors[0].reason.starts_with("arguments take "));
}

#[test]
fn thousands_of_lines() {
    let resolver = TableResolver::debian();
    let lines: Vec<String> = (1..=6000)
        .map(|n| match n % 7 {
            0 => format!("{n} stream tcp nowait nosuch /bin/cat"),
            3 => format!("{n} dgram udp wait nobody /bin/cat cat -u"),
            _ => format!("127.0.0.1:{n} stream tcp nowait root /bin/cat"),
        })
        .collect();
    let (services, errors) = parse_checked(&lines.join("\n"), &resolver);
    assert_eq!(services.len(), 6000 - 6000 / 7);
    let error_lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(error_lines, (7..=6000).step_by(7).collect::<Vec<_>>());
    assert!(services.iter().all(|s| *s.name == s.line.to_string()));
}

#[test]
fn key_values_text_never_takes_a_later_line() {
    // The fuzz target's promise, for text full of definitions' syntax: a
    // good line past a blank line yields its service, the text before it
    // keeps its own results (but for the listener the good line takes).
    const PIECES: &[&str] = &[
        " on",
        " off",
        "on#",
        "=",
        ",",
        ";",
        "\"",
        "'",
        "\\x4",
        "\\",
        "#",
        "\n",
        "\n\n",
        " ",
        "\t",
        "echo",
        "7",
        "protocol",
        "tcp",
        "udp4",
        "wait",
        "yes",
        "user",
        "root",
        "exec",
        "/x",
        "args",
        "accept_max",
        "0",
        "bind",
        "127.0.0.1:",
        "ip_max",
        ".include",
        "x",
    ];
    const GOOD: &str = "127.0.0.1:echo stream tcp nowait root internal";
    let resolver = TableResolver::debian();
    let mut rng = XorShift(1234);
    for _ in 0..3000 {
        let text: String = (0..rng.below(40)).map(|_| rng.pick(PIECES)).collect();
        let (services, errors) = parse_checked(&text, &resolver);
        let lines = text.split('\n').count();
        let good_line = lines + 2;
        let (all, all_errors) = parse_checked(&format!("{text}\n\n{GOOD}\n"), &resolver);
        let takes = |s: &Service| &*s.name == "echo" && s.listen == inet("127.0.0.1:7", false);
        let kept: Vec<Service> = services.iter().filter(|s| !takes(s)).cloned().collect();
        let (before, after): (Vec<_>, Vec<_>) = all.into_iter().partition(|s| s.line < good_line);
        assert_eq!(before, kept, "{text:?}");
        assert_eq!(after.len(), 1, "{text:?}: {all_errors:?}");
        let before_errors: Vec<_> = all_errors.iter().filter(|e| e.line < good_line).collect();
        assert_eq!(before_errors, errors.iter().collect::<Vec<_>>(), "{text:?}");
    }
}

fn inet(addr: &str, v6only: bool) -> Listen {
    Listen::Inet {
        addr: addr.parse().unwrap(),
        v6only,
    }
}
