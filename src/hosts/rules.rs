//! The rules as loaded: both files and the host lists they name, read
//! once (and again when a file changed), and decided against a request.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::decision::Decision;
use super::eval;
use super::evaluation::HostLists;
use super::parse::{split_at, Entry, Table};
use super::request::{Known, Lookup, Request};

/// Nesting limit while reading `/path` host lists.
const MAX_LIST_DEPTH: usize = 16;

/// What identifies a file's version, for reloading.
type Stamp = Option<(i64, i64, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.mtime(), m.mtime_nsec(), m.size(), m.ino()))
}

/// Both rule files and the host lists they name, read once.
#[derive(Clone, Debug)]
pub struct Rules {
    allow: Table,
    deny: Table,
    host_lists: HostLists,
    stamps: Vec<(PathBuf, Stamp)>,
}

impl Rules {
    pub fn load(allow: &Path, deny: &Path) -> Rules {
        let mut stamps = vec![
            (allow.to_path_buf(), stamp(allow)),
            (deny.to_path_buf(), stamp(deny)),
        ];
        let (allow, deny) = (Table::load(allow), Table::load(deny));
        let host_lists = load_host_lists(&[&allow, &deny], &mut stamps);
        Rules {
            allow,
            deny,
            host_lists,
            stamps,
        }
    }

    /// Rules from the texts of both files, with no host lists (a `/path`
    /// pattern reads as a missing list): for tests and fuzz targets.
    pub fn parse(allow: &[u8], deny: &[u8]) -> Rules {
        Rules {
            allow: Table::parse(allow, "hosts.allow"),
            deny: Table::parse(deny, "hosts.deny"),
            host_lists: HostLists::new(),
            stamps: Vec::new(),
        }
    }

    /// The files the rules were read from: both rule files and host lists.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.stamps.iter().map(|(path, _)| path.as_path())
    }

    /// Whether a file changed since [`Rules::load`] (a stat per file, no reading).
    pub fn is_stale(&self) -> bool {
        self.stamps.iter().any(|(path, old)| stamp(path) != *old)
    }

    /// Whether every request is granted with no options: both files are
    /// empty (or missing) and were read without fault. The daemon then
    /// skips the decision entirely.
    pub fn grants_all(&self) -> bool {
        [&self.allow, &self.deny]
            .iter()
            .all(|t| t.entries.is_empty() && t.fault.is_none())
    }

    /// What the daemon logs after a load: on a build without netgroups,
    /// each `@group` pattern, which never matches there.
    pub fn load_warnings(&self) -> Vec<String> {
        let Some(why) = super::nss::NETGROUPS_UNSUPPORTED else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        for table in [&self.allow, &self.deny] {
            for entry in &table.entries {
                let Entry::Rule(rule) = entry else {
                    continue;
                };
                for group in rule.clients.iter().filter(|c| c.starts_with('@')) {
                    let path = &table.path;
                    warnings.push(format!("{path}:{}: {group}: {why}", rule.line));
                }
            }
        }
        warnings
    }

    pub fn decide(&self, request: &Request, lookup: &mut dyn Lookup) -> Decision {
        self.decide_known(request, &Known::default(), lookup)
    }

    /// [`Rules::decide`] with what the caller knows beforehand (`--match`).
    pub fn decide_known(
        &self,
        request: &Request,
        known: &Known,
        lookup: &mut dyn Lookup,
    ) -> Decision {
        eval::decide(
            [&self.allow, &self.deny],
            &self.host_lists,
            request,
            known,
            lookup,
        )
    }
}

/// Reads every `/path` host list named by the rules (and nested lists).
fn load_host_lists(tables: &[&Table], stamps: &mut Vec<(PathBuf, Stamp)>) -> HostLists {
    let mut lists = HostLists::new();
    let mut pending: Vec<(String, usize)> = tables
        .iter()
        .flat_map(|t| t.entries.iter())
        .filter_map(|e| match e {
            Entry::Rule(rule) => Some(rule),
            Entry::MissingSeparator { .. } => None,
        })
        .flat_map(|rule| rule.daemons.iter().chain(&rule.clients))
        .filter_map(|token| host_part(token))
        .map(|path| (path, 0))
        .collect();
    while let Some((path, depth)) = pending.pop() {
        if lists.contains_key(&path) || depth > MAX_LIST_DEPTH {
            continue;
        }
        stamps.push((PathBuf::from(&path), stamp(path.as_ref())));
        let entry = match crate::files::read_regular(path.as_ref()) {
            Ok(bytes) => {
                let tokens: Vec<String> = String::from_utf8_lossy(&bytes)
                    .split_ascii_whitespace()
                    .map(str::to_string)
                    .collect();
                let nested = tokens.iter().filter(|t| t.starts_with('/'));
                pending.extend(nested.map(|t| (t.clone(), depth + 1)));
                Ok(tokens)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("open {path}: {e}")),
        };
        lists.insert(path, entry);
    }
    lists
}

/// The host part of a daemon or client token when it is a `/path` list.
fn host_part(token: &str) -> Option<String> {
    let host = match token.char_indices().nth(1) {
        Some((i, _)) => split_at(&token[i..], '@').map_or(token, |(_, host)| host),
        None => token,
    };
    host.starts_with('/').then(|| host.to_string())
}
