//! Where a configuration comes from: the command line's sources, each an
//! inetd.conf file, a directory of them (as GNU inetutils reads
//! `/etc/inetd.conf` and `/etc/inetd.d`), or an xinetd file with its
//! includes. They are read in order and their services joined; a
//! listener defined twice across sources is an error on the later one.
//! Startup, reload and `-t` all come through [`load`], so they judge the
//! same sources the same way. Files are read through `files.rs` only.

use crate::keyhash::KeyMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::xinetd::Tree;
use super::*;
use crate::resolve::Resolver;

/// One source of the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An inetd.conf file, or a directory of them.
    Inetd(PathBuf),
    /// `--xinetd FILE`.
    Xinetd(PathBuf),
}

impl Source {
    pub fn path(&self) -> &Path {
        match self {
            Source::Inetd(path) | Source::Xinetd(path) => path,
        }
    }

    pub fn path_mut(&mut self) -> &mut PathBuf {
        match self {
            Source::Inetd(path) | Source::Xinetd(path) => path,
        }
    }
}

/// The sources, named for a log line.
pub fn describe(sources: &[Source]) -> String {
    let paths: Vec<String> = sources
        .iter()
        .map(|s| s.path().display().to_string())
        .collect();
    paths.join(", ")
}

/// The most names read from one directory: everything held is bounded.
pub const MAX_DIRECTORY_ENTRIES: usize = 4096;

/// The most bytes read from one directory's files together.
pub const MAX_DIRECTORY_BYTES: usize = 64 << 20;

/// Why a directory of inetd.conf files leaves a name out: hidden names,
/// editor backups (`~`, `.swp`) and what package managers leave beside a
/// file they upgrade (`.dpkg-old`, `.dpkg-new`, `.dpkg-dist`, `.ucf-*`,
/// `.rpmnew`, `.rpmsave`, `.orig`). Such a copy holds the same services
/// as the live file: reading it would define each listener twice, or
/// bring back a service that was turned off. Every other name is read,
/// dots and all (`ftp.conf`): unlike xinetd's includedir, nothing the
/// administrator names by hand is lost.
pub fn skipped_in_directory(name: &str) -> bool {
    const SUFFIXES: [&str; 11] = [
        "~",
        ".swp",
        ".dpkg-old",
        ".dpkg-new",
        ".dpkg-dist",
        ".dpkg-tmp",
        ".ucf-old",
        ".ucf-new",
        ".ucf-dist",
        ".rpmnew",
        ".rpmsave",
    ];
    name.starts_with('.')
        || SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.ends_with(".orig")
        || name.ends_with(".rpmorig")
}

/// Reads and parses every source. An unreadable source (the file itself,
/// not a file an xinetd configuration includes) is an `io::Error` naming it.
pub fn load(
    sources: &[Source],
    resolver: &dyn Resolver,
    options: &inetd::Options,
) -> io::Result<(Vec<Service>, Vec<ConfigError>)> {
    let mut services = Vec::new();
    let mut errors = Vec::new();
    for source in sources {
        let (found, mut found_errors) = match source {
            Source::Inetd(path) => load_inetd(path, resolver, options)?,
            Source::Xinetd(path) => {
                let mut parsed = load_xinetd(path, resolver)?;
                let errors = std::mem::take(&mut parsed.errors);
                (parsed.services(), errors)
            }
        };
        services.extend(found);
        errors.append(&mut found_errors);
    }
    let services = drop_duplicates(services, &mut errors);
    Ok((services, errors))
}

/// An xinetd configuration, its includes read from the file system.
pub fn load_xinetd(path: &Path, resolver: &dyn Resolver) -> io::Result<xinetd::Parsed> {
    let text = read_text(path)?;
    Ok(xinetd::parse(
        &text,
        &path.to_string_lossy(),
        &mut FileTree,
        resolver,
    ))
}

/// An inetd.conf file, or each file of a directory in byte order.
fn load_inetd(
    path: &Path,
    resolver: &dyn Resolver,
    options: &inetd::Options,
) -> io::Result<(Vec<Service>, Vec<ConfigError>)> {
    let parse = |text: &str, file: &Path| {
        let file = file.to_string_lossy();
        inetd::parse_with(text, &file, resolver, options, &inetd::FileIncludes)
    };
    let named = |e: io::Error| unreadable(path, e);
    if !std::fs::metadata(path).map_err(named)?.is_dir() {
        let text = read_text(path)?;
        return Ok(parse(&text, path));
    }
    let mut services = Vec::new();
    let mut errors = Vec::new();
    let dir = path.to_string_lossy();
    let warning = |reason: String| ConfigError {
        file: dir.to_string(),
        line: 0,
        severity: Severity::Warning,
        reason,
    };
    let mut names = FileTree.list(&dir).map_err(named)?;
    names.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut texts = Vec::new();
    let mut bytes = 0;
    for (name, regular) in names {
        let file = path.join(&name);
        if skipped_in_directory(&name) {
            errors.push(warning(format!(
                "{} skipped: a hidden, backup or package-manager file",
                file.display()
            )));
        } else if !regular {
            errors.push(warning(format!(
                "{} skipped: not a regular file",
                file.display()
            )));
        } else {
            match read_text(&file) {
                Ok(text) if bytes + text.len() > MAX_DIRECTORY_BYTES => errors.push(ConfigError {
                    file: dir.to_string(),
                    line: 0,
                    severity: Severity::Error,
                    reason: format!(
                        "{} not read: the directory's files hold more than {} MiB",
                        file.display(),
                        MAX_DIRECTORY_BYTES >> 20
                    ),
                }),
                Ok(text) => {
                    bytes += text.len();
                    texts.push((file, text));
                }
                Err(e) => errors.push(ConfigError {
                    file: dir.to_string(),
                    line: 0,
                    severity: Severity::Error,
                    reason: e.to_string(),
                }),
            }
        }
    }
    for (file, text) in texts {
        let (found, mut found_errors) = parse(&text, &file);
        services.extend(found);
        errors.append(&mut found_errors);
    }
    Ok((services, errors))
}

/// What two services collide by: an RPC program's port is anonymous, so
/// programs, not ports, collide.
type ListenerKey = (Listen, SocketType, Option<u32>);

/// Keeps the first service of each listener; a later one is an error.
fn drop_duplicates(services: Vec<Service>, errors: &mut Vec<ConfigError>) -> Vec<Service> {
    let mut first: KeyMap<ListenerKey, (Rc<str>, usize)> = KeyMap::default();
    let mut kept = Vec::with_capacity(services.len());
    for service in services {
        let key = (
            service.listen.clone(),
            service.socket_type,
            service.rpc.map(|rpc| rpc.program),
        );
        match first.get(&key) {
            // One line may give several services; they never collide with their own file's.
            Some((file, line)) if *file != service.file => errors.push(ConfigError {
                file: service.file.to_string(),
                line: service.line,
                severity: Severity::Error,
                reason: format!(
                    "duplicate listener {} {}: first defined at {file}:{line}",
                    service.listen, service.socket_type
                ),
            }),
            Some(_) => kept.push(service),
            None => {
                first.insert(key, (service.file.clone(), service.line));
                kept.push(service);
            }
        }
    }
    kept
}

/// A file's text (bytes that are not UTF-8 reject the lines holding
/// them), or an error naming it.
fn read_text(path: &Path) -> io::Result<String> {
    let bytes = crate::files::read_regular(path).map_err(|e| unreadable(path, e))?;
    Ok(crate::files::text(bytes))
}

/// The error of a source that cannot be read, naming it.
fn unreadable(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{}: cannot read configuration: {e}", path.display()),
    )
}

/// The file system, for xinetd's includes.
struct FileTree;

impl Tree for FileTree {
    fn read(&mut self, path: &str) -> io::Result<String> {
        Ok(crate::files::text(crate::files::read_regular(Path::new(
            path,
        ))?))
    }

    fn list(&mut self, dir: &str) -> io::Result<Vec<(String, bool)>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if names.len() == MAX_DIRECTORY_ENTRIES {
                return Err(io::Error::other(format!(
                    "more than {MAX_DIRECTORY_ENTRIES} names"
                )));
            }
            // As stat says: a link to a regular file is read.
            let regular = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
            names.push((entry.file_name().to_string_lossy().into_owned(), regular));
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_left_out() {
        for skipped in [
            ".hidden",
            "a~",
            "a.swp",
            "a.dpkg-old",
            "a.dpkg-new",
            "a.dpkg-dist",
            "a.dpkg-tmp",
            "a.ucf-old",
            "a.ucf-new",
            "a.ucf-dist",
            "a.rpmnew",
            "a.rpmsave",
            "a.rpmorig",
            "a.orig",
        ] {
            assert!(skipped_in_directory(skipped), "{skipped}");
        }
        for read in ["ftp", "ftp.conf", "10-echo", "tftp.disabled-not"] {
            assert!(!skipped_in_directory(read), "{read}");
        }
        // xinetd's includedir rule is another one.
        assert!(xinetd::skipped_by_includedir("ftp.conf"));
        assert!(!xinetd::skipped_by_includedir("ftp"));
    }
}
