//! Splitting the text of `inetd.conf` into entries: comments, blank lines
//! and continuation lines are dealt with here, fields are split on whitespace.

/// One configuration entry: a line and its continuation lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The line where the entry starts (1-based): errors point there.
    pub line: usize,
    pub fields: Vec<&'a str>,
}

/// The entries of `text`, in order.
///
/// - `#` at the start of a line or after whitespace comments out the rest of the line.
/// - A line that starts with a space or tab continues the entry of the line
///   just before it (as in the BSD inetds); a blank or comment line in
///   between ends the entry.
/// - A trailing backslash joins the next line, whatever it starts with; the
///   backslash separates fields like whitespace.
pub fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut joining = false;
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let content = strip_comment(raw).trim_end();
        let (content, backslash) = match content.strip_suffix('\\') {
            Some(joined) => (joined, true),
            None => (content, false),
        };
        let mut fields = content.split_ascii_whitespace().peekable();
        if fields.peek().is_none() && !backslash {
            entries.extend(current.take());
            joining = false;
            continue;
        }
        let continues = joining || raw.starts_with([' ', '\t']);
        match current.as_mut() {
            Some(entry) if continues => entry.fields.extend(fields),
            _ => {
                entries.extend(current.take());
                current = Some(Entry {
                    line: index + 1,
                    fields: fields.collect(),
                });
            }
        }
        joining = backslash;
    }
    entries.extend(current);
    // A lone backslash can open an entry that never gets a field.
    entries.retain(|entry| !entry.fields.is_empty());
    entries
}

/// The IPsec policies of `text` (FreeBSD, NetBSD: a line `#@ POLICY`
/// applies to the entries after it), with their line numbers. A bare `#@`
/// resets to no policy, which is what inetd does anyway, so it is left out.
pub fn ipsec_policies(text: &str) -> Vec<(usize, &str)> {
    text.split('\n')
        .enumerate()
        .filter_map(|(index, raw)| {
            let policy = raw.strip_prefix("#@")?.trim();
            (!policy.is_empty()).then_some((index + 1, policy))
        })
        .collect()
}

/// `line` without its comment: a `#` that starts the line or follows whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let start = (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()));
    // `#` is ASCII, so its index is a char boundary.
    start.map_or(line, |i| &line[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        entries(text)
            .into_iter()
            .map(|e| (e.line, e.fields.join(" ")))
            .collect()
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = "# header\n\na b # c\n  # indented comment\nd#e f\n#x\n";
        assert_eq!(lines(text), [(3, "a b".into()), (5, "d#e f".into())]);
    }

    #[test]
    fn whitespace_continuation() {
        let text = "a b\n  c\n\td\ne\n\n  f\n";
        assert_eq!(
            lines(text),
            [(1, "a b c d".into()), (4, "e".into()), (6, "f".into())]
        );
    }

    #[test]
    fn comment_or_blank_line_ends_entry() {
        assert_eq!(lines("a\n#c\n  b\n"), [(1, "a".into()), (3, "b".into())]);
        assert_eq!(lines("a\n\n  b\n"), [(1, "a".into()), (3, "b".into())]);
    }

    #[test]
    fn backslash_continuation() {
        let text = "a \\\nb\\\n c # x \\\nd\ne \\\n\nf \\";
        assert_eq!(
            lines(text),
            [
                (1, "a b c".into()),
                (4, "d".into()),
                (5, "e".into()),
                (7, "f".into())
            ]
        );
        // A backslash alone on a line keeps the entry going.
        assert_eq!(lines("a\\\n\\\nb\n"), [(1, "a b".into())]);
        assert_eq!(lines("\\\n"), []);
    }

    #[test]
    fn crlf_and_odd_whitespace() {
        assert_eq!(lines("a\tb\r\n c\r\n"), [(1, "a b c".into())]);
        assert_eq!(lines("a\u{b}b\u{c}c"), [(1, "a\u{b}b c".into())]);
    }

    #[test]
    fn ipsec_policy_lines() {
        let text = "#@ ipsec in ipsec esp/transport//require\r\na\n#@\n #@ x\n#@out bypass\n";
        assert_eq!(
            ipsec_policies(text),
            [
                (1, "ipsec in ipsec esp/transport//require"),
                (5, "out bypass")
            ]
        );
        assert_eq!(lines(text), [(2, "a".into())]);
    }

    #[test]
    fn comment_after_multibyte_text() {
        assert_eq!(lines("é #ü\nü# é"), [(1, "é".into()), (2, "ü# é".into())]);
    }
}
