//! inetd.conf text through the pure parser. Promises checked: no panic;
//! every message names a line of the file; and a valid line after the
//! input (past a blank line, which ends any continuation) still yields its
//! service, while the input's own results stay as they were.
#![no_main]

use inetd::config::{self, Listen, SocketType};
use inetd_fuzz::FixedResolver;
use libfuzzer_sys::fuzz_target;

const GOOD: &str = "127.0.0.1:echo stream tcp nowait root internal";

fuzz_target!(|data: &[u8]| {
    // As config::load reads a file.
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    let (services, errors) = config::inetd::parse(&text, "fuzz.conf", &FixedResolver);
    for e in &errors {
        assert!((1..=lines).contains(&e.line), "{e} in a {lines}-line file");
        assert_eq!(e.file, "fuzz.conf");
    }
    for s in &services {
        assert!(
            (1..=lines).contains(&s.line),
            "service at line {} of {lines}",
            s.line
        );
    }

    let good_line = lines + 2;
    let joined = format!("{text}\n\n{GOOD}\n");
    let (all_services, all_errors) = config::inetd::parse(&joined, "fuzz.conf", &FixedResolver);
    let (before, after): (Vec<_>, Vec<_>) =
        all_services.into_iter().partition(|s| s.line < good_line);
    assert_eq!(
        before, services,
        "a line after the input changed its services"
    );
    let (errors_before, errors_after): (Vec<_>, Vec<_>) =
        all_errors.into_iter().partition(|e| e.line < good_line);
    assert_eq!(
        errors_before, errors,
        "a line after the input changed its messages"
    );
    let good_listen = Listen::Inet {
        addr: "127.0.0.1:7".parse().unwrap(),
        v6only: false,
    };
    if after.is_empty() {
        // The one way a valid line can fail: its listener is taken.
        let taken = services
            .iter()
            .any(|s| s.listen == good_listen && s.socket_type == SocketType::Stream);
        assert!(taken, "the valid line was lost: {errors_after:?}");
        assert!(
            errors_after.len() == 1 && errors_after[0].reason.contains("duplicate listener"),
            "{errors_after:?}"
        );
    } else {
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].listen, good_listen);
        assert_eq!(after[0].line, good_line);
        assert!(errors_after.is_empty(), "{errors_after:?}");
    }
});
