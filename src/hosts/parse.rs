//! Reading hosts.allow / hosts.deny the way libwrap's table_match() does:
//! physical lines joined by `\`-newline into a 2048-byte buffer, `#` comments
//! in column 1 only, and `daemons : clients [: options]` split on colons
//! outside `[...]`.

use std::io::ErrorKind;
use std::path::Path;

/// libwrap's logical line buffer (BUFLEN): a rule may hold 2046 bytes plus its newline.
const LINE_BUFFER: usize = 2048;

/// Separators of daemon and client lists.
pub const LIST_SEPARATORS: &[char] = &[',', ' ', '\t', '\r', '\n'];

/// One rule file, as far as libwrap would ever read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub path: String,
    pub entries: Vec<Entry>,
    /// Why reading stopped early, if it did; libwrap then treats the file as
    /// an error: no match in hosts.allow, a denial in hosts.deny.
    pub fault: Option<Fault>,
    /// The file ends with an unterminated line (also reported as `fault`):
    /// one without its newline, or one continued (`\\`) past the end.
    pub missing_final_newline: bool,
    /// Its physical lines, the last one counted even without a newline.
    pub lines: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Rule(Rule),
    /// A non-blank line without a `:`; libwrap warns and skips it.
    MissingSeparator {
        line: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The line number libwrap reports: the last physical line of the rule.
    pub line: usize,
    pub daemons: Vec<String>,
    pub clients: Vec<String>,
    /// The raw option field (with its trailing newline), or `None` without a second `:`.
    pub options: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub line: usize,
    pub reason: String,
}

impl Table {
    /// Reads a table; a missing file is an empty table, like libwrap's.
    pub fn load(path: &Path) -> Table {
        let name = path.to_string_lossy().into_owned();
        match crate::files::read_regular(path) {
            Ok(bytes) => Table::parse(&bytes, &name),
            Err(e) if e.kind() == ErrorKind::NotFound => Table {
                path: name,
                ..Table::default()
            },
            Err(e) => Table {
                fault: Some(Fault {
                    line: 0,
                    reason: format!("cannot open {name}: {e}"),
                }),
                path: name,
                ..Table::default()
            },
        }
    }

    pub fn parse(bytes: &[u8], path: &str) -> Table {
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
        let mut table = Table {
            path: path.to_string(),
            lines: newlines + usize::from(bytes.last().is_some_and(|&b| b != b'\n')),
            ..Table::default()
        };
        let mut reader = LineReader {
            rest: bytes,
            line: 0,
        };
        while let Some(logical) = reader.next_logical() {
            if logical.last() != Some(&b'\n') {
                table.missing_final_newline = reader.rest.is_empty();
                table.fault = Some(Fault {
                    line: reader.line,
                    reason: "missing newline or line too long".to_string(),
                });
                break;
            }
            let text = String::from_utf8_lossy(&logical);
            if let Some(entry) = parse_line(&text, reader.line) {
                table.entries.push(entry);
            }
        }
        table
    }
}

fn parse_line(text: &str, line: usize) -> Option<Entry> {
    if text.starts_with('#') || text.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
        return None;
    }
    let Some((daemons, rest)) = split_at(text, ':') else {
        return Some(Entry::MissingSeparator { line });
    };
    let (clients, options) = match split_at(rest, ':') {
        Some((clients, options)) => (clients, Some(options.to_string())),
        None => (rest, None),
    };
    Some(Entry::Rule(Rule {
        line,
        daemons: tokens(daemons),
        clients: tokens(clients),
        options,
    }))
}

/// Splits a daemon or client list into patterns.
pub fn tokens(list: &str) -> Vec<String> {
    list.split(LIST_SEPARATORS)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits at the first `delimiter` outside brackets, as libwrap's IPv6-aware
/// split_at() does (a stray `]` makes the depth negative and hides the rest).
pub fn split_at(text: &str, delimiter: char) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth = depth.saturating_add(1),
            ']' => depth = depth.saturating_sub(1),
            c if c == delimiter && depth == 0 => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

/// libwrap's xgets() over fgets() with a fixed buffer: joins `\`-newline
/// continuations and counts physical lines.
struct LineReader<'a> {
    rest: &'a [u8],
    line: usize,
}

impl LineReader<'_> {
    /// fgets(buf, room): up to `room - 1` bytes, stopping after a newline.
    fn fgets(&mut self, room: usize) -> Option<&[u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let max = room.saturating_sub(1).min(self.rest.len());
        let end = self.rest[..max]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(max, |i| i + 1);
        let (chunk, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(chunk)
    }

    /// xgets(): what strlen() sees of each fgets() chunk counts, so a NUL
    /// byte cuts its physical line there, uncounted, and the next physical
    /// line is read onto the cut.
    fn next_logical(&mut self) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        let mut room = LINE_BUFFER;
        while room > 1 {
            let Some(chunk) = self.fgets(room) else { break };
            let seen = chunk.iter().position(|&b| b == 0).unwrap_or(chunk.len());
            let mut chunk = chunk[..seen].to_vec();
            if chunk.last() == Some(&b'\n') {
                self.line += 1;
                if chunk.len() >= 2 && chunk[chunk.len() - 2] == b'\\' {
                    chunk.truncate(chunk.len() - 2);
                } else {
                    buf.extend_from_slice(&chunk);
                    return Some(buf);
                }
            }
            room -= chunk.len();
            buf.extend_from_slice(&chunk);
        }
        (!buf.is_empty()).then_some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<Rule> {
        Table::parse(text.as_bytes(), "t")
            .entries
            .into_iter()
            .filter_map(|e| match e {
                Entry::Rule(r) => Some(r),
                Entry::MissingSeparator { .. } => None,
            })
            .collect()
    }

    #[test]
    fn fields_and_comments() {
        let r = rules("# c\n\n  # x: y\nsshd, ftpd : 10.0.0.1 [::1]:spawn a\\:b\n");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].daemons, ["#", "x"]);
        assert_eq!(r[1].line, 4);
        assert_eq!(r[1].daemons, ["sshd", "ftpd"]);
        assert_eq!(r[1].clients, ["10.0.0.1", "[::1]"]);
        assert_eq!(r[1].options.as_deref(), Some("spawn a\\:b\n"));
    }

    #[test]
    fn brackets_hide_colons() {
        let r = rules("d: [fe80::]/10: allow\n");
        assert_eq!(r[0].clients, ["[fe80::]/10"]);
        assert_eq!(r[0].options.as_deref(), Some(" allow\n"));
        assert_eq!(split_at("a]:b", ':'), None);
    }

    #[test]
    fn continuation_and_line_numbers() {
        let r = rules("a: \\\nb\\\n\nc: d\n");
        assert_eq!(r[0].line, 3);
        assert_eq!(r[0].clients, ["b"]);
        assert_eq!(r[1].line, 4);
    }

    #[test]
    fn a_nul_byte_cuts_the_line_and_joins_the_next() {
        let r = rules("a: b: setenv X \0y\nc\nd: e\n");
        // The cut line is not counted.
        assert_eq!(r[0].line, 1);
        assert_eq!(r[0].options.as_deref(), Some(" setenv X c\n"));
        assert_eq!(r[1].line, 2);
        let t = Table::parse(b"a: b\n\0\nc: d\n", "t");
        assert_eq!(t.entries.len(), 2);
    }

    #[test]
    fn missing_separator_is_skipped() {
        let t = Table::parse(b"junk\nd: e\n", "t");
        assert_eq!(t.entries[0], Entry::MissingSeparator { line: 1 });
        assert!(t.fault.is_none());
    }

    #[test]
    fn line_length_limit() {
        let ok = format!("d: e{}\n", " ".repeat(2046 - 4));
        assert!(Table::parse(ok.as_bytes(), "t").fault.is_none());
        let long = format!("d: e{}\nx: y\n", " ".repeat(2047 - 4));
        let t = Table::parse(long.as_bytes(), "t");
        assert_eq!(t.fault.unwrap().line, 0);
        assert!(t.entries.is_empty());
        // A continuation whose backslash does not fit.
        let cont = format!("d: e{}\\\nx\n", " ".repeat(2046 - 4));
        assert!(Table::parse(cont.as_bytes(), "t").fault.is_some());
        let cont = format!("d: e{}\\\nx\n", " ".repeat(2045 - 4));
        assert!(Table::parse(cont.as_bytes(), "t").fault.is_none());
    }

    #[test]
    fn missing_final_newline() {
        let t = Table::parse(b"a: b\nc: d", "t");
        assert_eq!(t.entries.len(), 1);
        assert!(t.missing_final_newline);
        assert_eq!(t.fault.unwrap().line, 1);
        let t = Table::parse(b"a: b \\\n", "t");
        assert!(t.missing_final_newline);
    }

    #[test]
    fn non_utf8_does_not_panic() {
        let t = Table::parse(b"d\xff: \xfe\xc3\n", "t");
        assert_eq!(t.entries.len(), 1);
    }

    #[test]
    fn only_regular_files_are_read() {
        let t = Table::load(Path::new("/dev/zero"));
        assert!(t.entries.is_empty());
        let fault = t.fault.expect("a fault");
        assert_eq!(
            fault.reason,
            "cannot open /dev/zero: not a regular file (a device)"
        );
        let missing = Table::load(Path::new("/nonexistent/hosts.allow"));
        assert_eq!(missing.fault, None);
    }
}
