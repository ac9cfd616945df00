//! The lines of an xinetd file as xinetd 2.3.15 reads them: `include
//! FILE`, `includedir DIR`, and `defaults` and `service NAME` blocks whose
//! `{` and `}` stand alone on their lines, holding `name op values` lines.
//! A line whose first non-blank is `#` is a comment; a `#` later on a
//! line is a value like any other, as in xinetd. A bad line takes its
//! whole block down (xinetd drops the service) and reading goes on after
//! the block's `}`.

use super::shown;

/// One directive or block of a file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Include { path: String, line: usize },
    IncludeDir { path: String, line: usize },
    Block(Block),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// `None` for `defaults`.
    pub name: Option<String>,
    /// The line of the `service` or `defaults` keyword.
    pub line: usize,
    pub attrs: Vec<Attr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Set,
    Add,
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub op: Op,
    pub values: Vec<String>,
    pub line: usize,
}

/// A line that took its block down, or a stray one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

/// The items of `text` and the lines that were rejected.
pub fn items(text: &str) -> (Vec<Item>, Vec<LineError>) {
    let mut lines = Lines {
        inner: text.split('\n').enumerate(),
    };
    let mut items = Vec::new();
    let mut errors = Vec::new();
    while let Some((line, words)) = lines.next() {
        let Some(&keyword) = words.first() else {
            continue;
        };
        let name = words.get(1).map(|w| w.to_string());
        let kind = match (keyword, name) {
            ("include", Some(path)) => {
                items.push(Item::Include { path, line });
                continue;
            }
            ("includedir", Some(path)) => {
                items.push(Item::IncludeDir { path, line });
                continue;
            }
            ("include" | "includedir" | "service", None) => {
                errors.push(LineError {
                    line,
                    reason: format!("{keyword} needs a name"),
                });
                continue;
            }
            ("service", Some(name)) => Some(name),
            ("defaults", _) => None,
            // A stray `}` closes nothing: xinetd skips to the next `}`
            // after it, losing the next block; here it is only reported.
            ("}", _) if words.len() == 1 => {
                errors.push(LineError {
                    line,
                    reason: "} without a block".to_string(),
                });
                continue;
            }
            _ => {
                errors.push(LineError {
                    line,
                    reason: format!(
                        "expected service NAME, defaults, include or includedir, not {}",
                        shown(keyword)
                    ),
                });
                lines.skip_block();
                continue;
            }
        };
        let what = kind
            .as_deref()
            .map_or("defaults".to_string(), |n| format!("service {}", shown(n)));
        match lines.next() {
            Some((_, words)) if words == ["{"] => {}
            Some((brace_line, _)) => {
                errors.push(LineError {
                    line: brace_line,
                    reason: format!(
                        "{what}: expected {{ alone on the line after the name (xinetd wants it there)"
                    ),
                });
                lines.skip_block();
                continue;
            }
            None => {
                errors.push(LineError {
                    line,
                    reason: format!("{what}: missing {{"),
                });
                continue;
            }
        }
        match lines.block_attrs() {
            Ok(attrs) => items.push(Item::Block(Block {
                name: kind,
                line,
                attrs,
            })),
            Err(error) => {
                errors.push(error);
            }
        }
    }
    (items, errors)
}

/// Lines as words (split at blanks), comments and blank lines left out,
/// numbered from 1.
struct Lines<'a> {
    inner: std::iter::Enumerate<std::str::Split<'a, char>>,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<(usize, Vec<&'a str>)> {
        for (i, text) in self.inner.by_ref() {
            let text = text.strip_suffix('\r').unwrap_or(text);
            let trimmed = text.trim_start_matches([' ', '\t']);
            if trimmed.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = trimmed
                .split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect();
            if !words.is_empty() {
                return Some((i + 1, words));
            }
        }
        None
    }

    /// Skips to the line after the next lone `}`, as xinetd does after a bad line.
    fn skip_block(&mut self) {
        while let Some((_, words)) = self.next() {
            if words == ["}"] {
                return;
            }
        }
    }

    /// The attribute lines up to the lone `}`.
    fn block_attrs(&mut self) -> Result<Vec<Attr>, LineError> {
        let mut attrs = Vec::new();
        let mut last = 0;
        while let Some((line, words)) = self.next() {
            last = line;
            if words == ["}"] {
                return Ok(attrs);
            }
            match attr(&words, line) {
                Ok(attr) => attrs.push(attr),
                Err(reason) => {
                    self.skip_block();
                    return Err(LineError { line, reason });
                }
            }
        }
        Err(LineError {
            line: last.max(1),
            reason: "missing } at the end of the file".to_string(),
        })
    }
}

/// `name op values...`: the operator stands apart from the name, as
/// xinetd requires (it may touch the first value: `name =value`).
fn attr(words: &[&str], line: usize) -> Result<Attr, String> {
    let name = words[0];
    if name.contains(['\0', char::REPLACEMENT_CHARACTER]) {
        return Err(format!("bad bytes in {}", shown(name)));
    }
    if let Some((before, _)) = name.split_once('=') {
        return Err(format!(
            "attribute {} needs a blank before its operator",
            shown(before.trim_end_matches(['+', '-']))
        ));
    }
    let Some(&op_word) = words.get(1) else {
        return Err(format!("nothing after attribute {}", shown(name)));
    };
    let (op, first) = if let Some(rest) = op_word.strip_prefix("+=") {
        (Op::Add, rest)
    } else if let Some(rest) = op_word.strip_prefix("-=") {
        (Op::Remove, rest)
    } else if let Some(rest) = op_word.strip_prefix('=') {
        (Op::Set, rest)
    } else {
        return Err(format!(
            "bad operator {} for attribute {} (expected =, += or -=)",
            shown(op_word),
            shown(name)
        ));
    };
    let values: Vec<String> = std::iter::once(first)
        .chain(words[2..].iter().copied())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = values
        .iter()
        .find(|v| v.contains(['\0', char::REPLACEMENT_CHARACTER]))
    {
        return Err(format!("bad bytes in {}", shown(bad)));
    }
    Ok(Attr {
        name: name.to_string(),
        op,
        values,
        line,
    })
}
