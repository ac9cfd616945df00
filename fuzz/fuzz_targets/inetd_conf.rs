//! inetd.conf text through the pure parser, positional lines and NetBSD's
//! key-values definitions alike. Promises checked: no panic (also with the
//! loader's options and an `.include` that names a file); every message
//! names a line of the file; and a valid line after the input (past a
//! blank line, which ends any continuation, and any definition left
//! without its `;`) still yields its service, while the input's own
//! results stay as they were, but for a listener that line takes over.
#![no_main]

use inetd::config::inetd::{Includes, Options};
use inetd::config::{self, Listen, SocketType};
use inetd_fuzz::FixedResolver;
use libfuzzer_sys::fuzz_target;

const GOOD: &str = "127.0.0.1:echo stream tcp nowait root internal";

/// Every `.include` names one file, of a definition and a line.
struct OneFile;

impl Includes for OneFile {
    fn files(&self, _pattern: &str, _from: &str) -> Result<Vec<String>, String> {
        Ok(vec!["included.conf".to_string()])
    }

    fn read(&self, _file: &str) -> Result<String, String> {
        Ok("8000 on protocol=tcp4, wait=no, user=root, exec=rel;\n8001 stream tcp nowait root /x\n".to_string())
    }
}

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

    // With the loader's options and includes: no panic, the files named.
    let options = Options {
        dual_stack: true,
        working_dir: Some("/srv".into()),
    };
    let (_, loaded_errors) =
        config::inetd::parse_with(&text, "fuzz.conf", &FixedResolver, &options, &OneFile);
    for e in &loaded_errors {
        assert!(e.file == "fuzz.conf" || e.file == "included.conf", "{e}");
    }

    let good_line = lines + 2;
    let joined = format!("{text}\n\n{GOOD}\n");
    let (all_services, all_errors) = config::inetd::parse(&joined, "fuzz.conf", &FixedResolver);
    let (before, after): (Vec<_>, Vec<_>) =
        all_services.into_iter().partition(|s| s.line < good_line);
    let good_listen = Listen::Inet {
        addr: "127.0.0.1:7".parse().unwrap(),
        v6only: false,
    };
    let takes =
        |s: &config::Service| s.listen == good_listen && s.socket_type == SocketType::Stream;
    // The later line wins: the input's own service of that listener goes.
    let taken = services.iter().any(takes);
    let kept: Vec<_> = services.iter().filter(|s| !takes(s)).cloned().collect();
    assert_eq!(before, kept, "a line after the input changed its services");
    let (errors_before, errors_after): (Vec<_>, Vec<_>) =
        all_errors.into_iter().partition(|e| e.line < good_line);
    assert_eq!(
        errors_before, errors,
        "a line after the input changed its messages"
    );
    assert_eq!(after.len(), 1, "the valid line was lost: {errors_after:?}");
    assert_eq!(after[0].listen, good_listen);
    assert_eq!(after[0].line, good_line);
    if taken {
        assert!(
            errors_after.len() == 1 && errors_after[0].reason.contains("the later line wins"),
            "{errors_after:?}"
        );
    } else {
        assert!(errors_after.is_empty(), "{errors_after:?}");
    }
});
