//! xinetd text through the pure parser, its includes served from the
//! input itself (every file is the input, up to 8 reads; an `includedir` holds two
//! names, one that xinetd skips), then through the converter. Promises
//! checked: no panic; every message names a line of its file; every
//! service stands at a line of its file; the converter's output names no
//! line of its own.
#![no_main]

use std::io;

use inetd::config::xinetd::{self, convert, Tree};
use inetd_fuzz::FixedResolver;
use libfuzzer_sys::fuzz_target;

/// Serves the input as every file, a few times (the parser's own bounds
/// are unit-tested; here they would only slow the fuzzer down).
struct Echo<'a>(&'a str, usize);

impl Tree for Echo<'_> {
    fn read(&mut self, _path: &str) -> io::Result<String> {
        self.1 += 1;
        if self.1 > 8 {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(self.0.to_string())
    }

    fn list(&mut self, _dir: &str) -> io::Result<Vec<(String, bool)>> {
        Ok(vec![("a".to_string(), true), ("b.conf".to_string(), true)])
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    let parsed = xinetd::parse(&text, "fuzz.conf", &mut Echo(&text, 0), &FixedResolver);
    for e in &parsed.errors {
        assert!((1..=lines).contains(&e.line), "{e} in a {lines}-line file");
        assert!(!e.reason.contains('\n'), "{e}");
    }
    for s in parsed.clone().services() {
        assert!(
            (1..=lines).contains(&s.line),
            "service at line {} of {lines}",
            s.line
        );
        assert!(!s.dump_line().contains('\n'));
    }
    let out = convert::convert(&parsed, "fuzz.conf", &FixedResolver);
    assert!(out.ends_with('\n'));
});
