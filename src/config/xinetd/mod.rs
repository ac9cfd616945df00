//! The xinetd dialect, as xinetd 2.3.15 (Debian's package) reads it:
//! `defaults` and `service NAME` blocks of `attribute op values` lines,
//! `include FILE` and `includedir DIR`. Text in, the same [`Service`]s as
//! inetd.conf and `file:line: reason` diagnostics out. Pure: the files
//! that `include` and `includedir` name come through a [`Tree`], which the
//! loader backs with `files.rs` and tests with a table; all it learns of
//! the system it asks a [`Resolver`].
//!
//! `blocks.rs` reads the lines, `attributes.rs` each attribute,
//! `addresses.rs` the address lists, `build.rs` turns a service's
//! attributes (with the defaults) into services, `convert.rs` into
//! inetd.conf and hosts.allow lines.

mod addresses;
mod attributes;
mod blocks;
mod build;
pub mod convert;
#[cfg(test)]
mod tests;

use std::io;

use super::*;
use crate::resolve::Resolver;
pub use build::{Entry, Skip};

/// The files an xinetd configuration includes.
pub trait Tree {
    /// The text of a regular file.
    fn read(&mut self, path: &str) -> io::Result<String>;
    /// The names in a directory, each with whether it is a regular file.
    fn list(&mut self, dir: &str) -> io::Result<Vec<(String, bool)>>;
}

/// How deep `include` may nest: xinetd has no limit, and a file that
/// includes itself would never end.
const MAX_DEPTH: usize = 16;

/// How many files one configuration may read in all: files that include
/// each other would otherwise be read in every order.
const MAX_FILES: usize = 256;

/// How many bytes one configuration may read in all (each file is at most
/// 16 MiB, `files.rs` says).
const MAX_BYTES: usize = 64 << 20;

/// A whole configuration: the services of every block, in file order
/// (includes where they stand), and every diagnostic.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    pub errors: Vec<ConfigError>,
}

impl Parsed {
    /// The services, moved out of the entries (not copied: a copy would
    /// leave the originals' memory behind in pieces among the copies').
    pub fn services(self) -> Vec<Service> {
        self.entries
            .into_iter()
            .filter_map(|e| e.service.ok())
            .collect()
    }
}

/// Parses the configuration whose main file is `file` with text `text`.
pub fn parse(text: &str, file: &str, tree: &mut dyn Tree, resolver: &dyn Resolver) -> Parsed {
    let mut reader = Reader {
        tree,
        blocks: Vec::new(),
        errors: Vec::new(),
        open: Vec::new(),
        read: Vec::new(),
        bytes: 0,
    };
    reader.file(text, file);
    let (entries, mut errors) = build::build(&reader.blocks, resolver);
    reader.errors.append(&mut errors);
    // Files in the order they were read, lines in order within each.
    let rank = |file: &str| reader.read.iter().position(|f| f == file);
    let mut errors = std::mem::take(&mut reader.errors);
    errors.sort_by_key(|e| (rank(&e.file), e.line));
    Parsed { entries, errors }
}

/// Why `includedir` leaves a name out: xinetd reads no name holding a dot
/// or ending in `~` (editor backups, `.rpmnew`, `.dpkg-old`: and also
/// `ftp.conf`, which surprises; hence the warning).
pub fn skipped_by_includedir(name: &str) -> bool {
    name.is_empty() || name.contains('.') || name.ends_with('~')
}

struct Reader<'a> {
    tree: &'a mut dyn Tree,
    /// Every block with its file, in the order xinetd reads them.
    blocks: Vec<(String, blocks::Block)>,
    errors: Vec<ConfigError>,
    /// The files being read, outermost first.
    open: Vec<String>,
    /// Every file read, in order.
    read: Vec<String>,
    /// Their bytes, together.
    bytes: usize,
}

impl Reader<'_> {
    fn report(&mut self, file: &str, line: usize, severity: Severity, reason: String) {
        self.errors.push(ConfigError {
            file: file.to_string(),
            line,
            severity,
            reason,
        });
    }

    fn file(&mut self, text: &str, file: &str) {
        self.open.push(file.to_string());
        self.read.push(file.to_string());
        if self.read.len() == 1 {
            self.bytes = text.len();
        }
        let (items, errors) = blocks::items(text);
        for e in errors {
            self.report(file, e.line, Severity::Error, e.reason);
        }
        for item in items {
            match item {
                blocks::Item::Block(block) => self.blocks.push((file.to_string(), block)),
                blocks::Item::Include { path, line } => {
                    self.include(file, line, &beside(file, &path))
                }
                blocks::Item::IncludeDir { path, line } => {
                    self.include_dir(file, line, &beside(file, &path))
                }
            }
        }
        self.open.pop();
    }

    fn include(&mut self, file: &str, line: usize, path: &str) {
        if self.open.iter().any(|open| open == path) {
            let reason = format!("include {}: already being read (a loop)", shown_path(path));
            return self.report(file, line, Severity::Error, reason);
        }
        if self.read.len() >= MAX_FILES {
            let reason = format!(
                "include {}: more than {MAX_FILES} files read",
                shown_path(path)
            );
            return self.report(file, line, Severity::Error, reason);
        }
        if self.open.len() >= MAX_DEPTH {
            let reason = format!(
                "include {}: nested more than {MAX_DEPTH} deep",
                shown_path(path)
            );
            return self.report(file, line, Severity::Error, reason);
        }
        match self.tree.read(path) {
            Ok(text) if self.bytes + text.len() > MAX_BYTES => {
                let reason = format!(
                    "include {}: the configuration would read more than {} MiB",
                    shown_path(path),
                    MAX_BYTES >> 20
                );
                self.report(file, line, Severity::Error, reason);
            }
            Ok(text) => {
                self.bytes += text.len();
                self.file(&text, path)
            }
            Err(e) => {
                let reason = format!("include {}: {e}", shown_path(path));
                self.report(file, line, Severity::Error, reason);
            }
        }
    }

    fn include_dir(&mut self, file: &str, line: usize, dir: &str) {
        let mut names = match self.tree.list(dir) {
            Ok(names) => names,
            Err(e) => {
                let reason = format!("includedir {}: {e}", shown_path(dir));
                return self.report(file, line, Severity::Error, reason);
            }
        };
        // strcmp order, as xinetd sorts.
        names.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (name, regular) in names {
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            if skipped_by_includedir(&name) {
                if name != "." && name != ".." {
                    let reason = format!(
                        "includedir: {} skipped: xinetd reads no file whose name holds a dot or ends in ~",
                        shown_path(&path)
                    );
                    self.report(file, line, Severity::Warning, reason);
                }
                continue;
            }
            if !regular {
                let reason = format!(
                    "includedir: {} skipped: not a regular file",
                    shown_path(&path)
                );
                self.report(file, line, Severity::Warning, reason);
                continue;
            }
            self.include(file, line, &path);
        }
    }
}

/// A relative `include` or `includedir` path, taken from the including
/// file's directory (xinetd takes it from its working directory, which a
/// daemon's is not: `/`).
fn beside(file: &str, path: &str) -> String {
    match file.rsplit_once('/') {
        Some((dir, _)) if !path.starts_with('/') => format!("{dir}/{path}"),
        _ => path.to_string(),
    }
}

/// A value quoted for a message: escaped and cut short.
fn shown(value: &str) -> String {
    shown_at_most(value, 40)
}

/// A file's path quoted for a message: cut only when absurdly long, as
/// the message is there to name the file.
fn shown_path(path: &str) -> String {
    shown_at_most(path, 300)
}

fn shown_at_most(value: &str, max: usize) -> String {
    let cut: String = value.chars().take(max).collect();
    let more = if value.chars().nth(max).is_some() {
        "..."
    } else {
        ""
    };
    format!("\"{}\"{more}", cut.escape_debug())
}
