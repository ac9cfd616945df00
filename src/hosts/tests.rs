//! Decisions end to end, with a scripted lookup.

use std::net::SocketAddr;

use super::evaluation::HostLists;
use super::parse::Table;
use super::*;

/// The test request's server; its client is `client:4000`.
const SERVER: &str = "10.9.9.9:23";

/// A lookup that gives every address of the test request `name` and the
/// connection from `client` the ident user `user`; only `nobody` exists,
/// and commands saying "fail" fail.
fn script(client: &str, name: Option<&str>, user: Option<&str>) -> ScriptedLookup {
    let client = SocketAddr::new(client.parse().unwrap(), 4000);
    let server: SocketAddr = SERVER.parse().unwrap();
    scripted(client, server, name, user)
}

fn scripted(
    client: SocketAddr,
    server: SocketAddr,
    name: Option<&str>,
    user: Option<&str>,
) -> ScriptedLookup {
    let mut lookup = ScriptedLookup {
        accounts: [Account::User, Account::Group]
            .map(|kind| (kind, "nobody".to_string()))
            .into(),
        failing_commands: vec!["fail".to_string()],
        ..ScriptedLookup::default()
    };
    if let Some(name) = name {
        for addr in [client.ip(), server.ip()] {
            lookup.names.insert(addr, name.to_string());
        }
    }
    if let Some(user) = user {
        lookup.users.insert((client, server), user.to_string());
    }
    lookup
}

fn decide_with(allow: &str, deny: &str, client: &str, lookup: &mut dyn Lookup) -> Decision {
    decide_pid(allow, deny, client, Some(77), lookup)
}

fn decide_pid(
    allow: &str,
    deny: &str,
    client: &str,
    pid: Option<u32>,
    lookup: &mut dyn Lookup,
) -> Decision {
    let tables = [
        Table::parse(allow.as_bytes(), "allow"),
        Table::parse(deny.as_bytes(), "deny"),
    ];
    let request = Request {
        daemon: "in.telnetd",
        client: SocketAddr::new(client.parse().unwrap(), 4000),
        server: SERVER.parse().unwrap(),
        pid,
    };
    eval::decide(
        [&tables[0], &tables[1]],
        &HostLists::new(),
        &request,
        &Known::default(),
        lookup,
    )
}

fn verdict(allow: &str, deny: &str, client: &str, name: Option<&str>) -> &'static str {
    let mut lookup = script(client, name, None);
    match decide_with(allow, deny, client, &mut lookup) {
        Decision::Granted(_) => "granted",
        Decision::Denied(_) => "denied",
        Decision::NeedsLookup(_) => "needs",
    }
}

fn options(allow: &str, client: &str, lookup: &mut ScriptedLookup) -> Vec<RuleOption> {
    match decide_with(allow, "", client, lookup) {
        Decision::Granted(o) | Decision::Denied(o) => o.options,
        Decision::NeedsLookup(n) => panic!("needs {n:?}"),
    }
}

const DENY_ALL: &str = "ALL: ALL\n";

#[test]
fn search_order() {
    assert_eq!(verdict("", "", "10.0.0.1", None), "granted");
    assert_eq!(verdict("", DENY_ALL, "10.0.0.1", None), "denied");
    assert_eq!(
        verdict("in.telnetd: 10.0.0.1\n", DENY_ALL, "10.0.0.1", None),
        "granted"
    );
    assert_eq!(verdict("sshd: ALL\n", DENY_ALL, "10.0.0.1", None), "denied");
    assert_eq!(verdict("ALL: ALL: deny\n", "", "10.0.0.1", None), "denied");
    assert_eq!(
        verdict("", "ALL: ALL: allow\n", "10.0.0.1", None),
        "granted"
    );
}

#[test]
fn faulty_files() {
    // An unterminated last line: no match in allow, a denial in deny.
    assert_eq!(verdict("ALL: ALL", "", "10.0.0.1", None), "granted");
    assert_eq!(verdict("", "sshd: ALL\nx: y", "10.0.0.1", None), "denied");
    // A bad option denies, even in hosts.allow.
    assert_eq!(verdict("ALL: ALL: bogus\n", "", "10.0.0.1", None), "denied");
    assert_eq!(verdict("ALL: ALL:\n", "", "10.0.0.1", None), "denied");
}

#[test]
fn daemons_and_ports() {
    assert_eq!(verdict("23: ALL\n", DENY_ALL, "10.0.0.1", None), "granted");
    assert_eq!(
        verdict("023@10.9.9.9: ALL\n", DENY_ALL, "10.0.0.1", None),
        "granted"
    );
    assert_eq!(
        verdict("ALL EXCEPT in.*: ALL\n", DENY_ALL, "10.0.0.1", None),
        "denied"
    );
}

#[test]
fn names_are_looked_up_lazily() {
    let mut lookup = script("10.0.0.1", None, None);
    decide_with("in.telnetd: 10.0.0.1\n", DENY_ALL, "10.0.0.1", &mut lookup);
    assert!(lookup.asked.is_empty());
    assert_eq!(
        verdict(".example.com: ALL\n", "", "10.0.0.1", None),
        "granted"
    );
    assert_eq!(
        verdict(
            "ALL: .example.com\n",
            DENY_ALL,
            "10.0.0.1",
            Some("h.example.com")
        ),
        "granted"
    );
    assert_eq!(
        verdict("ALL: PARANOID\n", DENY_ALL, "10.0.0.1", Some("paranoid")),
        "granted"
    );
    assert_eq!(
        verdict("ALL: UNKNOWN\n", DENY_ALL, "10.0.0.1", None),
        "granted"
    );
    assert_eq!(
        verdict("ALL: LOCAL\n", DENY_ALL, "10.0.0.1", Some("h")),
        "granted"
    );
}

#[test]
fn parent_needs_lookup() {
    let decide = |allow: &str| decide_pid(allow, DENY_ALL, "10.0.0.1", None, &mut NoLookup);
    assert_eq!(
        decide("ALL: .example.com\n"),
        Decision::NeedsLookup(Need::ClientName)
    );
    assert_eq!(decide("ALL: joe@ALL\n"), Decision::NeedsLookup(Need::User));
    assert_eq!(
        decide("ALL@host: ALL\n"),
        Decision::NeedsLookup(Need::ServerName)
    );
    assert_eq!(
        decide("ALL: ALL: spawn %n\n"),
        Decision::NeedsLookup(Need::ClientName)
    );
    assert_eq!(
        decide("ALL: ALL: spawn %p\n"),
        Decision::NeedsLookup(Need::Pid)
    );
    assert!(matches!(
        decide("ALL: 10.0.0.1: spawn %h\n"),
        Decision::Granted(_)
    ));
}

#[test]
fn option_values() {
    let mut lookup = script("10.0.0.1", Some("evil;rm -rf /"), Some("joe"));
    let got = options(
        "ALL: ALL: spawn %h %n %h %c: rfc931: spawn %c %d %p %r %R %%: setenv A b c: umask 027: nice: keepalive\n",
        "10.0.0.1",
        &mut lookup,
    );
    assert_eq!(
        got,
        [
            RuleOption::Spawn("10.0.0.1 evil_rm_-rf_/ evil_rm_-rf_/ evil_rm_-rf_/".into()),
            RuleOption::Rfc931(10),
            RuleOption::Spawn("joe@evil_rm_-rf_/ in.telnetd 77 4000 23 %".into()),
            RuleOption::Setenv("A".into(), "b c".into()),
            RuleOption::Umask(0o27),
            RuleOption::Nice(10),
            RuleOption::Keepalive,
        ]
    );
}

#[test]
fn aclexec_failure_unmatches_later_rules() {
    let allow = "ALL: ALL: aclexec fail\n";
    assert_eq!(
        verdict(allow, "ALL: ALL: spawn x\n", "10.0.0.1", None),
        "granted"
    );
    assert_eq!(
        verdict("ALL: ALL: aclexec ok\n", DENY_ALL, "10.0.0.1", None),
        "granted"
    );
}

#[test]
fn messages() {
    let mut lookup = script("::ffff:10.0.0.1", None, None);
    let Decision::Denied(outcome) = decide_with(
        "",
        "ALL: ALL: severity mail.notice\n",
        "::ffff:10.0.0.1",
        &mut lookup,
    ) else {
        panic!("not denied");
    };
    assert_eq!(
        outcome.refused_message(),
        "refused connect from ::ffff:10.0.0.1"
    );
    assert_eq!(outcome.deny_severity(), 21);
    assert_eq!(outcome.rule, Some(RuleRef::new("deny", 1)));
}

#[test]
fn addresses_print_like_glibc() {
    let show = |s: &str| addr_string(s.parse().unwrap());
    assert_eq!(show("::1.2.3.4"), "::1.2.3.4");
    assert_eq!(show("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
    assert_eq!(show("::1"), "::1");
    assert_eq!(show("2001:db8::1"), "2001:db8::1");
}

#[test]
fn garbage_never_panics() {
    let alphabet = b"aA0.:/@[]*?%\\#, \t\n\r\xc3\xa9\xffEXCEPT";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..2000 {
        let text: Vec<u8> = (0..60)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize]
            })
            .collect();
        let request = Request {
            daemon: "d",
            client: "[::ffff:10.0.0.1]:1".parse().unwrap(),
            server: "10.0.0.2:23".parse().unwrap(),
            pid: Some(1),
        };
        let mut lookup = scripted(request.client, request.server, Some("h\u{e9}.x"), Some("u"));
        Rules::parse(&text, &text).decide(&request, &mut lookup);
        check::lint(&Table::parse(&text, "fuzz"), None);
    }
}

/// Decides for `client` with `lists` as the loaded `/path` host lists.
fn decide_lists(allow: &str, deny: &str, client: &str, lists: &[(&str, &str)]) -> Decision {
    let tables = [
        Table::parse(allow.as_bytes(), "allow"),
        Table::parse(deny.as_bytes(), "deny"),
    ];
    let lists: HostLists = lists
        .iter()
        .map(|(path, text)| {
            let tokens = text.split_whitespace().map(str::to_string).collect();
            (path.to_string(), Ok(tokens))
        })
        .collect();
    let request = Request {
        daemon: "in.telnetd",
        client: SocketAddr::new(client.parse().unwrap(), 4000),
        server: SERVER.parse().unwrap(),
        pid: Some(1),
    };
    eval::decide(
        [&tables[0], &tables[1]],
        &lists,
        &request,
        &Known::default(),
        &mut script(client, None, None),
    )
}

#[test]
fn self_referencing_lists_are_not_read_inside_themselves() {
    let lists = [("/a", "/a /b /a 10.0.0.1"), ("/b", "/a /b 10.0.0.2")];
    let granted = |client| {
        matches!(
            decide_lists("ALL: /a\n", "ALL: ALL\n", client, &lists),
            Decision::Granted(_)
        )
    };
    assert!(granted("10.0.0.1"));
    assert!(granted("10.0.0.2"));
    assert!(!granted("10.0.0.3"));
    // The same list in two rules is read for each.
    let Decision::Granted(o) = decide_lists(
        "ALL: /b EXCEPT 10.0.0.2\nALL: /b\n",
        "ALL: ALL\n",
        "10.0.0.2",
        &lists,
    ) else {
        panic!("not granted");
    };
    assert_eq!(o.rule, Some(RuleRef::new("allow", 2)));
}

#[test]
fn list_reading_has_a_budget() {
    // Ten levels of lists naming the next one four times: 4^10 reads.
    let names: Vec<String> = (0..=10).map(|i| format!("/l{i}")).collect();
    let texts: Vec<String> = (0..10)
        .map(|i| [names[i + 1].as_str(); 4].join(" "))
        .chain(["10.0.0.1".to_string()])
        .collect();
    let lists: Vec<(&str, &str)> = names
        .iter()
        .zip(&texts)
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    // An error in hosts.deny denies; in hosts.allow it is no match.
    let Decision::Denied(o) = decide_lists("", "ALL: /l0\nALL: 10.0.0.1\n", "10.0.0.2", &lists)
    else {
        panic!("not denied");
    };
    assert!(
        o.warnings[0].contains("host lists: more than"),
        "{:?}",
        o.warnings
    );
    assert!(matches!(
        decide_lists("ALL: /l0\n", "", "10.0.0.2", &lists),
        Decision::Granted(_)
    ));
}
