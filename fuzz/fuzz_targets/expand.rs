//! `%` expansion, reached the one public way: the command of a `twist`
//! rule (the input up to the first NUL; the rest scripts the lookup, whose
//! host names and users are full of shell metacharacters). Promises
//! checked: no panic; every character outside libwrap's shell-safe set in
//! the command came from the template itself, never from an expansion;
//! the command fits libwrap's 8 KiB option buffer; and a template without
//! `%` comes out as written.
#![no_main]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::OnceLock;

use inetd::hosts::{Decision, Request, Rules};
use inetd_fuzz::{Sandbox, Script, ScriptedLookup};
use libfuzzer_sys::fuzz_target;

/// libwrap's ok_chars: what an expansion may keep.
const SAFE: &[u8] = b"1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// libwrap's option buffer holds this many bytes and a NUL, less one.
const MAX_COMMAND: usize = 8192 - 2;
/// Keeps the rule within libwrap's 2048-byte line.
const MAX_TEMPLATE: usize = 1800;
const BLANKS: &[char] = &[' ', '\t', '\r', '\n'];

static SANDBOX: OnceLock<Sandbox> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let sandbox = SANDBOX.get_or_init(Sandbox::new);
    let (template, script) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let template = String::from_utf8_lossy(&template[..template.len().min(MAX_TEMPLATE)]);
    // One physical line, and its colons not option separators.
    let template = template
        .replace(['\n', '\r'], " ")
        .trim_end_matches('\\')
        .replace(':', "\\:");
    let rule = format!("ALL: ALL: twist {template}\n");
    let allow = sandbox.write("expand-allow", rule.as_bytes());
    let deny = sandbox.write("expand-deny", b"");
    let rules = Rules::load(&allow, &deny);
    let template = template.replace("\\:", ":");

    let mut choices = Script::new(script);
    let client: SocketAddr = choices
        .pick(&["127.0.0.1:40000", "[::1]:1", "[::ffff:10.1.2.3]:99"])
        .parse()
        .unwrap();
    let request = Request {
        daemon: choices.pick(&["echo", "in.telnetd", "d;id", "a b"]),
        client,
        server: "127.0.0.1:7".parse().unwrap(),
        pid: Some(4242),
    };
    let decision = rules.decide(&request, &mut ScriptedLookup::new(script));
    let outcome = match decision {
        Decision::Granted(outcome) => outcome,
        Decision::NeedsLookup(_) => return,
        // An empty command, or one too long for libwrap's buffer.
        Decision::Denied(outcome) => {
            assert!(
                template.trim_matches(BLANKS).is_empty() || !outcome.warnings.is_empty(),
                "denied without a word: {outcome:?}"
            );
            return;
        }
    };
    let command = outcome
        .twist()
        .expect("a twist rule granted without its command");
    let literal: HashSet<char> = template.chars().collect();
    for c in command.chars() {
        assert!(
            (c.is_ascii() && SAFE.contains(&(c as u8))) || literal.contains(&c),
            "{c:?} in {command:?} came from an expansion of {template:?}"
        );
    }
    assert!(command.len() <= MAX_COMMAND, "{} bytes", command.len());
    if !template.contains('%') {
        // As libwrap splits `name [=] value`.
        let value = template.trim_matches(BLANKS);
        let value = value
            .strip_prefix('=')
            .map_or(value, |v| v.trim_start_matches(BLANKS));
        assert_eq!(command, value);
    }
});
