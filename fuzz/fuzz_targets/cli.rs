//! Argument vectors (the input split at NUL bytes, not necessarily UTF-8)
//! through the command-line parser. Promises checked: no panic, and what it
//! accepts keeps its own bounds.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == 0)
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect()
    };
    if let Ok(options) = inetd::cli::parse(args) {
        assert!(options.backlog > 0, "{options:?}");
        assert!(options.limits.v6_prefix <= 128, "{options:?}");
        if let Some(load) = options.limits.max_load {
            assert!(load > 0.0 && load.is_finite(), "{options:?}");
        }
    }
});
