//! hosts.allow and hosts.deny tables (the input split at the first two NUL
//! bytes: allow, deny, then the script of lookup answers) decided for a
//! request. Promises checked: no panic; the deciding rule and every
//! `file:line:` warning name a real line of its file; a decision needs a
//! lookup only when the lookup would have blocked; deciding is
//! deterministic; and a valid first line of hosts.allow decides whatever
//! follows it.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use inetd::hosts::{Decision, Request, Rules};
use inetd_fuzz::{check_warning_place, physical_lines, Sandbox, ScriptedLookup};
use libfuzzer_sys::fuzz_target;

const CLIENTS: &[&str] = &[
    "127.0.0.1:40000",
    "[::1]:40001",
    "192.168.1.10:1023",
    "[::ffff:10.0.0.1]:5",
    "[2001:db8::10]:65535",
];
const DAEMONS: &[&str] = &["echo", "in.ftpd", "sshd", "ALL", "fuzzd", "a@b", ""];

static SANDBOX: OnceLock<Sandbox> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let sandbox = SANDBOX.get_or_init(Sandbox::new);
    let mut parts = data.splitn(3, |&b| b == 0);
    let allow = sandbox.confine(parts.next().unwrap_or_default());
    let deny = sandbox.confine(parts.next().unwrap_or_default());
    let script = parts.next().unwrap_or_default();
    let allow_path = sandbox.write("allow", &allow);
    let deny_path = sandbox.write("deny", &deny);
    let rules = Rules::load(&allow_path, &deny_path);

    let first = script.first().copied().unwrap_or(0);
    let client: SocketAddr = CLIENTS[usize::from(first) % CLIENTS.len()].parse().unwrap();
    let request = Request {
        daemon: DAEMONS[usize::from(first / 8) % DAEMONS.len()],
        client,
        server: "127.0.0.1:7".parse().unwrap(),
        pid: (first & 0x80 != 0).then_some(4242),
    };
    let files = [
        (allow_path.as_path(), physical_lines(&allow)),
        (deny_path.as_path(), physical_lines(&deny)),
    ];
    let mut lookup = ScriptedLookup::new(script);
    let decision = rules.decide(&request, &mut lookup);
    match &decision {
        Decision::Granted(outcome) | Decision::Denied(outcome) => {
            if let Some(rule) = &outcome.rule {
                check_warning_place(&rule.to_string(), &files);
            }
            for warning in &outcome.warnings {
                check_warning_place(warning, &files);
            }
        }
        Decision::NeedsLookup(need) => {
            let pid_needed = request.pid.is_none() && *need == inetd::hosts::Need::Pid;
            assert!(
                lookup.blocked || pid_needed,
                "needs {need:?} though nothing blocked"
            );
        }
    }
    let again = rules.decide(&request, &mut ScriptedLookup::new(script));
    assert_eq!(decision, again, "the same request decided twice");

    // A valid first rule wins over anything after it.
    let mut first_rule = b"fuzzd: ALL\n".to_vec();
    first_rule.extend_from_slice(&allow);
    let first_path = sandbox.write("allow-first", &first_rule);
    let rules = Rules::load(&first_path, &deny_path);
    let request = Request {
        daemon: "fuzzd",
        ..request
    };
    match rules.decide(&request, &mut ScriptedLookup::new(script)) {
        Decision::Granted(outcome) => {
            let rule = outcome.rule.expect("a rule decided");
            assert_eq!(
                (rule.file.as_str(), rule.line),
                (&*first_path.to_string_lossy(), 1)
            );
        }
        other => panic!("the valid first rule did not decide: {other:?}"),
    }
});
