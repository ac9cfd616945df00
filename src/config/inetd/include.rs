//! `.include` as the loader reads it: the pattern expanded (`*`, `?` and
//! `[...]` in any part of the path, as glob(3) without flags: a leading
//! `.` is matched only by a `.`), relative to the including file's
//! directory, matches sorted; each file read through `files.rs`.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::Includes;
use crate::files;

/// Reads included files from the file system.
pub struct FileIncludes;

/// At most this many files match one pattern.
const MAX_MATCHES: usize = 256;

impl Includes for FileIncludes {
    fn files(&self, pattern: &str, from: &str) -> Result<Vec<String>, String> {
        let pattern = match Path::new(from).parent() {
            Some(dir) if !pattern.starts_with('/') => dir.join(pattern),
            _ => PathBuf::from(pattern),
        };
        let paths = expand(&pattern)?;
        Ok(paths
            .into_iter()
            .map(|path| path.to_string_lossy().into_owned())
            .collect())
    }

    fn read(&self, file: &str) -> Result<String, String> {
        files::read_regular(Path::new(file))
            .map(files::text)
            .map_err(|e| e.to_string())
    }

    fn same(&self, a: &str, b: &str) -> bool {
        let real = |p: &str| std::fs::canonicalize(p).ok();
        a == b || real(a).is_some_and(|a| Some(a) == real(b))
    }
}

/// The paths `pattern` matches, sorted; a pattern without wildcards names
/// its one path, there or not (reading it tells).
fn expand(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = match component {
            Component::Normal(part) if is_pattern(part.as_bytes()) => part,
            other => {
                for path in &mut found {
                    path.push(other);
                }
                continue;
            }
        };
        let mut next = Vec::new();
        for dir in &found {
            let listed = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            // A directory that is not there matches nothing.
            let Ok(mut names) = files::directory_names(listed) else {
                continue;
            };
            names.sort();
            for name in names {
                if matches(part.as_bytes(), name.as_bytes()) {
                    if next.len() == MAX_MATCHES {
                        return Err(format!("matches more than {MAX_MATCHES} files"));
                    }
                    next.push(dir.join(&name));
                }
            }
        }
        found = next;
    }
    if !is_pattern(pattern.as_os_str().as_bytes()) {
        return Ok(found);
    }
    found.sort();
    Ok(found)
}

fn is_pattern(part: &[u8]) -> bool {
    part.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Whether `name` matches the glob `pattern` (one path component).
pub(super) fn matches(pattern: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    glob(pattern, name)
}

fn glob(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative, with one backtrack point for the last `*`: linear enough.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class(&pattern[p..], name[n]).map(|len| p + len),
            Some(&c) if c == name[n] => Some(p + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                n += 1;
            }
            (None, Some((sp, sn))) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// A `[...]` class at the start of `pattern`: its length when `c` is in
/// it. `[!...]` negates; a `]` first is literal; an unclosed `[` is a
/// literal `[`.
fn class(pattern: &[u8], c: u8) -> Option<usize> {
    let mut i = 1;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut found = false;
    loop {
        match pattern.get(i) {
            None => return (c == b'[').then_some(1),
            Some(b']') if i > start => break,
            Some(&lo) => {
                if pattern.get(i + 1) == Some(&b'-')
                    && pattern.get(i + 2).is_some_and(|&b| b != b']')
                {
                    let hi = pattern[i + 2];
                    found |= (lo..=hi).contains(&c);
                    i += 3;
                } else {
                    found |= lo == c;
                    i += 1;
                }
            }
        }
    }
    (found != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        let m = |p: &str, n: &str| matches(p.as_bytes(), n.as_bytes());
        assert!(m("*.conf", "a.conf"));
        assert!(m("*", "abc"));
        assert!(!m("*", ".hidden"));
        assert!(m(".*", ".hidden"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("[]]", "]"));
        assert!(m("a[", "a["));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b", "xxaxxbxx"));
        assert!(m("**", ""));
        assert!(!m("x", "xy"));
        // No blow-up on a pathological pattern.
        let name = "a".repeat(5000);
        assert!(!m(&format!("{}b", "*a".repeat(100)), &name));
    }

    #[test]
    fn expanding_in_a_directory() {
        let dir = std::env::temp_dir().join(format!("inetd-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d.d")).unwrap();
        for name in ["b.conf", "a.conf", ".c.conf", "x.txt", "d.d/e.conf"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let names = |pattern: &str| -> Vec<String> {
            expand(&dir.join(pattern))
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("*.conf"), ["a.conf", "b.conf"]);
        assert_eq!(names("*.d/*.conf"), ["d.d/e.conf"]);
        assert_eq!(names("none/*"), Vec::<String>::new());
        assert_eq!(names("plain"), ["plain"]);
        let from = dir.join("inetd.conf");
        let included = FileIncludes.files("*.txt", from.to_str().unwrap()).unwrap();
        assert_eq!(included.len(), 1);
        assert_eq!(FileIncludes.read(&included[0]).as_deref(), Ok(""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
