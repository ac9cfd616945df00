//! Helpers shared by the integration tests: a temporary directory, the
//! `inetd` command, and required external tools.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the target dir, removed on drop.
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = env::temp_dir().join(format!("inetd-test-{}-{}-{}", std::process::id(), name, n));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create test dir");
        Dir { path }
    }

    /// Writes `contents` to `name` inside the directory and returns its path.
    pub fn create(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        fs::write(&path, contents).expect("write test file");
        path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The `inetd` binary under test.
pub fn inetd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_inetd"))
}

/// Whether an external program is on PATH. A missing tool skips the test
/// when run by hand, but fails it in CI (which sets `CI=true`).
pub fn require(tool: &str) -> bool {
    if find_in_path(tool).is_some() {
        return true;
    }
    if env::var("CI").is_ok_and(|v| v == "true") {
        panic!("required tool `{tool}` is not installed (CI must install it)");
    }
    eprintln!("skipping: `{tool}` is not installed");
    false
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
