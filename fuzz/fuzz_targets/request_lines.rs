//! The request lines the loop reads itself and answers inline: auth's
//! RFC 1413 query (`builtins::ident::answer`, with options, user names and
//! the owner lookup from the input) and tcpmux's name line
//! (`builtins::tcpmux::Request`). Promises checked: no panic; an ident
//! reply is one CRLF-ended line that repeats no client byte but the two
//! port numbers; a tcpmux line is HELP exactly
//! when it says so in any case, and a name matches itself in any case.
#![no_main]

use inetd::builtins::ident::{answer, Context, Options, Owner, UserNames};
use inetd::builtins::tcpmux::{names, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    // The input: option words, then /etc/passwd text, then the line.
    let mut parts = rest.splitn(3, |&b| b == 0);
    let words = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let passwd = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let line = parts.next().unwrap_or_default();

    let args: Vec<String> = words.split_whitespace().map(str::to_string).collect();
    let options = match Options::parse(&args) {
        Ok((options, _ignored)) => options,
        Err(_) => return,
    };
    let users = UserNames::parse(&passwd);
    let uid = u32::from(flags >> 2);
    let mut owner = |_local, _remote| match flags & 3 {
        0 => Owner::Uid(uid),
        1 => Owner::NoSuchConnection,
        _ => Owner::Unknown,
    };
    let mut random = || "abcdefghijklmnopqrstuvwxyz012345".to_string();
    let endpoints = (flags & 0x80 != 0).then(|| {
        (
            "127.0.0.1:113".parse().unwrap(),
            "127.0.0.2:40000".parse().unwrap(),
        )
    });
    let request = (line.len() <= 512).then_some(line);
    let reply = answer(
        request,
        Context {
            options: &options,
            endpoints,
            owner: &mut owner,
            users: &users,
            os: "UNIX",
            random: &mut random,
        },
    );
    assert!(reply.ends_with(b"\r\n"), "{reply:?}");
    let body = &reply[..reply.len() - 2];
    // The names in it are the administrator's (`-d`, `-o`, /etc/passwd),
    // not the client's: only the line's shape is promised.
    assert!(
        !body.iter().any(|&b| b == b'\r' || b == b'\n'),
        "not one line: {reply:?}"
    );
    // What the client sent comes back only as the two port numbers.
    let text = String::from_utf8_lossy(body);
    let mut fields = text.splitn(2, " : ");
    let ports = fields.next().unwrap_or_default();
    assert!(
        ports
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b' ' || b == b','),
        "{text}"
    );

    match Request::of(line) {
        Request::Help => assert!(line.eq_ignore_ascii_case(b"help")),
        Request::Service(name) => {
            assert!(!name.eq_ignore_ascii_case(b"help"));
            if let Ok(name) = std::str::from_utf8(name) {
                assert!(names(name.to_ascii_uppercase().as_bytes(), name));
            }
        }
    }
});
