//! Splitting the text of `inetd.conf` into items: positional entries (a
//! line and its continuations, split into fields), NetBSD's key-values
//! definitions (`service on key = values, ... ;`, read by `keyvalues.rs`),
//! and `.include` directives. Comments, blank lines, quotes and
//! continuations are dealt with here.

use std::collections::VecDeque;

use super::keyvalues::{self, Definition};

/// One positional entry: a line and its continuation lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// The line where the entry starts (1-based): errors point there.
    pub line: usize,
    /// The fields, quotes removed.
    pub fields: Vec<String>,
    /// Why the entry cannot be read (a quote left open).
    pub error: Option<String>,
}

/// What the text holds, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Entry(Entry),
    Definition(Definition),
    /// `.include PATTERN` (NetBSD).
    Include {
        line: usize,
        pattern: String,
    },
    /// Something that is no entry, and why (a bad directive, a key-values
    /// definition that cannot be read).
    Bad {
        line: usize,
        reason: String,
    },
}

/// The items of `text`, in order.
///
/// - `#` at the start of a line or after whitespace (outside quotes)
///   comments out the rest of the line.
/// - A line that starts with a space or tab continues the entry of the line
///   just before it (as in the BSD inetds); a blank or comment line in
///   between ends the entry.
/// - A trailing backslash joins the next line, whatever it starts with; the
///   backslash separates fields like whitespace.
/// - `"` and `'` quote (as NetBSD and FreeBSD read them): `"two words"` is
///   one field, quotes are removed, and a quote left open rejects the entry.
/// - A line whose second field is `on` or `off` starts a key-values
///   definition, which runs to its `;` (see `keyvalues.rs`); what follows
///   the `;` on its line is read as a line of its own.
pub fn items(text: &str) -> Items<'_> {
    Items {
        lines: text
            .split('\n')
            .map(|raw| raw.strip_suffix('\r').unwrap_or(raw))
            .collect(),
        index: 0,
        start: 0,
        current: None,
        joining: false,
        ready: VecDeque::new(),
    }
}

/// The items of a text, read a line at a time as they are asked for: a
/// line's fields are made and dropped in turn, so that reading a file
/// leaves no garbage between the services it keeps.
pub struct Items<'a> {
    lines: Vec<&'a str>,
    /// The line being read and where in it: after a definition's `;`, the
    /// rest of its line.
    index: usize,
    start: usize,
    /// The entry still open to continuation lines.
    current: Option<Entry>,
    /// The line before ended in a backslash.
    joining: bool,
    /// Items read and not yet given (a line can end an entry and start a
    /// definition).
    ready: VecDeque<Item>,
}

impl Iterator for Items<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            match self.ready.pop_front() {
                // A lone backslash can open an entry that never gets a field.
                Some(Item::Entry(e)) if e.fields.is_empty() && e.error.is_none() => {}
                Some(item) => return Some(item),
                None if self.index < self.lines.len() => self.read_line(),
                None => self.ready.push_back(Item::Entry(self.current.take()?)),
            }
        }
    }
}

impl Items<'_> {
    /// Ends the open entry, if any.
    fn end_entry(&mut self) {
        self.ready.extend(self.current.take().map(Item::Entry));
        self.joining = false;
    }

    /// Reads the line at `index` (a definition: to its `;`).
    fn read_line(&mut self) {
        let (index, start) = (self.index, self.start);
        let raw = &self.lines[index][start..];
        (self.index, self.start) = (index + 1, 0);
        if raw.bytes().all(|b| b.is_ascii_whitespace()) {
            // A blank line ends an entry.
            self.end_entry();
            return;
        }
        let continues = self.joining || (start == 0 && raw.starts_with([' ', '\t']));
        let line = index + 1;
        let fresh = !(continues && self.current.is_some());
        if fresh {
            // The first two fields tell a definition or a directive; only
            // they are read here, so that many definitions on one line
            // cost no more than one.
            let head = split_line(raw, 2);
            if let Some(body) = definition_start(&head) {
                self.end_entry();
                let enabled = head.fields[1].0.starts_with("on");
                let service = head.fields[0].0.clone();
                let (read, next) =
                    keyvalues::read(&self.lines, (index, start + body), service, enabled, line);
                self.ready.push_back(match read {
                    Ok(definition) => Item::Definition(definition),
                    Err(reason) => Item::Bad { line, reason },
                });
                (self.index, self.start) = next;
                return;
            }
            let directive = head.fields.first().and_then(|(f, _)| f.strip_prefix('.'));
            if let Some(directive) = directive {
                let item = match (directive, head.fields.get(1)) {
                    ("include", Some((pattern, _))) => Item::Include {
                        line,
                        pattern: pattern.clone(),
                    },
                    ("include", None) => Item::Bad {
                        line,
                        reason: ".include needs a file name or pattern".to_string(),
                    },
                    _ => Item::Bad {
                        line,
                        reason: format!("unknown directive {}", super::shown(&head.fields[0].0)),
                    },
                };
                self.end_entry();
                self.ready.push_back(item);
                return;
            }
        }
        let words = split_line(raw, usize::MAX);
        if words.fields.is_empty() && !words.backslash && words.error.is_none() {
            self.end_entry();
            return;
        }
        let fields = words.fields.into_iter().map(|(field, _)| field);
        match self.current.as_mut() {
            Some(entry) if !fresh => {
                entry.fields.extend(fields);
                entry.error = entry.error.take().or(words.error);
            }
            _ => {
                self.ready.extend(self.current.take().map(Item::Entry));
                self.current = Some(Entry {
                    line,
                    fields: fields.collect(),
                    error: words.error,
                });
            }
        }
        self.joining = words.backslash;
    }
}

/// Where a key-values definition's body starts in the line (after its
/// `on` or `off`), if the line starts one.
fn definition_start(words: &Words) -> Option<usize> {
    let (second, end) = words.fields.get(1)?;
    match second.as_str() {
        "on" | "off" => Some(*end),
        // `on#comment`: the body starts on the next line.
        s if s.starts_with("on#") || s.starts_with("off#") => Some(words.length),
        _ => None,
    }
}

/// One line split into fields.
struct Words {
    /// Each field, quotes removed, with the byte offset just past it.
    fields: Vec<(String, usize)>,
    /// A trailing backslash: the next line joins this one.
    backslash: bool,
    error: Option<String>,
    /// The line's length: where a body after `on#` would start.
    length: usize,
}

/// The fields of a line, at most `max` of them (past those, the rest of
/// the line is not read): whitespace separates them outside quotes, a `#`
/// that starts the line or follows whitespace (outside quotes) ends it.
fn split_line(line: &str, max: usize) -> Words {
    // Seven fields make a usual line.
    let mut fields = Vec::with_capacity(8);
    let mut field: Option<String> = None;
    // Where the characters not yet copied into `field` start: a field is
    // copied a run at a time, not a character at a time.
    let mut run: Option<usize> = None;
    let take_run = |field: &mut Option<String>, run: &mut Option<usize>, end: usize| {
        if let Some(start) = run.take() {
            field
                .get_or_insert_with(String::new)
                .push_str(&line[start..end]);
        }
    };
    let mut quote: Option<u8> = None;
    let mut error = None;
    let mut after_blank = true;
    // Every separator is ASCII, so every slice taken ends on a character
    // boundary.
    for (i, c) in line.bytes().enumerate() {
        match quote {
            Some(q) if c == q => {
                take_run(&mut field, &mut run, i);
                quote = None;
            }
            Some(_) => {
                run.get_or_insert(i);
            }
            None if c.is_ascii_whitespace() => {
                take_run(&mut field, &mut run, i);
                fields.extend(field.take().map(|f| (f, i)));
                if fields.len() == max {
                    return finish(fields, "", None, line.len());
                }
                after_blank = true;
                continue;
            }
            None if c == b'#' && after_blank => {
                fields.extend(field.take().map(|f| (f, i)));
                return finish(fields, &line[..i], None, line.len());
            }
            None if c == b'"' || c == b'\'' => {
                take_run(&mut field, &mut run, i);
                quote = Some(c);
                field.get_or_insert_with(String::new);
            }
            None => {
                run.get_or_insert(i);
            }
        }
        after_blank = false;
    }
    take_run(&mut field, &mut run, line.len());
    if quote.is_some() {
        error = Some("a quote is left open".to_string());
    }
    fields.extend(field.take().map(|f| (f, line.len())));
    let content = if quote.is_some() { "" } else { line };
    finish(fields, content, error, line.len())
}

/// The words of a line whose content (comment aside) is `content`: a
/// backslash that ends it (outside quotes) joins the next line, and is no
/// part of the last field.
fn finish(
    mut fields: Vec<(String, usize)>,
    content: &str,
    error: Option<String>,
    length: usize,
) -> Words {
    let backslash = content.trim_end().ends_with('\\');
    if backslash {
        if let Some((last, _)) = fields.last_mut() {
            last.pop();
            if last.is_empty() {
                fields.pop();
            }
        }
    }
    Words {
        fields,
        backslash,
        error,
        length,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        items(text)
            .map(|item| match item {
                Item::Entry(e) => (e.line, e.fields.join(" ")),
                other => panic!("not an entry: {other:?}"),
            })
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
    fn quotes_make_one_field() {
        let fields = |text: &str| match &items(text).collect::<Vec<_>>()[..] {
            [Item::Entry(e)] => (e.fields.clone(), e.error.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fields("sh -c \"exec cat\" 'a \"b' x\"y z\"w"),
            (
                vec![
                    "sh".into(),
                    "-c".into(),
                    "exec cat".into(),
                    "a \"b".into(),
                    "xy zw".into()
                ],
                None
            )
        );
        // Quoted, `#` is no comment; an empty pair is an empty field.
        assert_eq!(
            fields("a \"#b\" ''"),
            (vec!["a".into(), "#b".into(), "".into()], None)
        );
        assert_eq!(
            fields("a \"b c"),
            (
                vec!["a".into(), "b c".into()],
                Some("a quote is left open".into())
            )
        );
    }

    #[test]
    fn directives() {
        assert_eq!(
            items(".include /etc/inetd.d/*.conf\n.include\n.frob x\n").collect::<Vec<_>>(),
            [
                Item::Include {
                    line: 1,
                    pattern: "/etc/inetd.d/*.conf".into()
                },
                Item::Bad {
                    line: 2,
                    reason: ".include needs a file name or pattern".into()
                },
                Item::Bad {
                    line: 3,
                    reason: "unknown directive \".frob\"".into()
                },
            ]
        );
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
