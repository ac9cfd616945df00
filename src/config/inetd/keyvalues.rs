//! NetBSD's key-values definitions, read as its parse_v2.c reads them:
//!
//! ```text
//! [addr:]service on|off
//!     key = value value ...,
//!     key = value;
//! ```
//!
//! Keys are letters and underscores; `=` may follow blanks or a comment.
//! Values are separated by blanks and may be quoted (`"..."`, `'...'`, with
//! `\\`, `\n`, `\t`, `\r`, `\'`, `\"` and `\xHH` inside quotes only); `,`
//! ends a key's values and `;` the definition; `#` outside quotes comments
//! out the rest of a line, anywhere. Blank lines, comment lines and line
//! breaks may fall anywhere between keys and values. What each key means is
//! `mod.rs`'s business: here only the syntax.
//!
//! NetBSD stops reading the whole file at a syntax error; here the
//! definition is rejected and reading goes on: after the line of the
//! error, or, when the definition runs past a blank line or to the end of
//! the file without its `;` (or a later line starts with something that is
//! no key), where it must have been meant to end.

use super::shown;

/// A definition, syntax checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Definition {
    /// Where it starts.
    pub line: usize,
    /// The first field: `[addr:]service`.
    pub service: String,
    /// `on`: served; `off`: read and checked, then left out.
    pub enabled: bool,
    /// Each key with its values, in order.
    pub keys: Vec<Key>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub values: Vec<String>,
}

/// Where reading is: (line index, byte offset).
type At = (usize, usize);

/// Why a definition cannot be read.
enum Failure {
    /// The definition has no `;` where it must end: reading goes on at
    /// the line given (or at the end of the file).
    Unended(Option<usize>),
    /// Bad syntax at a line: reading goes on after it.
    Syntax(usize, String),
}

/// Reads the definition whose body starts at `at`. Returns it (or why it
/// is bad) and where reading goes on.
pub fn read(
    lines: &[&str],
    at: At,
    service: String,
    enabled: bool,
    line: usize,
) -> (Result<Definition, String>, At) {
    let mut reader = Reader {
        lines,
        at,
        blank: None,
        crossed: false,
    };
    match reader.definition() {
        Ok(keys) => {
            let next = reader.rest_of_line();
            let definition = Definition {
                line,
                service,
                enabled,
                keys,
            };
            (Ok(definition), next)
        }
        Err(failure) => {
            // Past a blank line, the definition was meant to end there.
            let failure = match (reader.blank, failure) {
                (Some(blank), _) => Failure::Unended(Some(blank + 1)),
                (None, failure) => failure,
            };
            let (reason, next) = match failure {
                Failure::Unended(next) => (
                    format!("no \";\" ends the definition of {}", shown(&service)),
                    next.map_or((lines.len(), 0), |index| (index, 0)),
                ),
                Failure::Syntax(index, reason) => {
                    let reason = if index + 1 == line {
                        reason
                    } else {
                        format!("{reason} (line {})", index + 1)
                    };
                    (reason, (index + 1, 0))
                }
            };
            (Err(reason), next)
        }
    }
}

struct Reader<'a> {
    lines: &'a [&'a str],
    at: At,
    /// The first blank line crossed.
    blank: Option<usize>,
    /// Whether the last [`Reader::skip_blanks`] went to another line: what
    /// follows starts its line.
    crossed: bool,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.lines[self.at.0][self.at.1..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.at.1 += c.len_utf8();
        }
    }

    /// Skips blanks, comments and line ends to the next character; `false`
    /// at the end of the file.
    fn skip_blanks(&mut self) -> bool {
        self.crossed = false;
        loop {
            while matches!(self.peek(), Some(' ' | '\t')) {
                self.bump();
            }
            match self.peek() {
                None | Some('#') => {
                    if self.at.0 + 1 >= self.lines.len() {
                        return false;
                    }
                    self.at = (self.at.0 + 1, 0);
                    self.crossed = true;
                    let line = self.lines[self.at.0];
                    if line.trim().is_empty() && self.blank.is_none() {
                        self.blank = Some(self.at.0);
                    }
                }
                Some(_) => return true,
            }
        }
    }

    fn definition(&mut self) -> Result<Vec<Key>, Failure> {
        let mut keys = Vec::new();
        loop {
            let (key, end) = self.key()?;
            keys.push(key);
            if end {
                return Ok(keys);
            }
        }
    }

    /// One key and its values; `true` when a `;` ended them.
    fn key(&mut self) -> Result<(Key, bool), Failure> {
        if !self.skip_blanks() {
            return Err(Failure::Unended(None));
        }
        let start = self.at;
        let starts_line = self.crossed;
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphabetic() || *c == '_') {
            name.push(c);
            self.bump();
        }
        // `key =`, possibly on a later line.
        if matches!(self.peek(), Some(' ' | '\t' | '#') | None) && !self.skip_blanks() {
            return Err(Failure::Unended(None));
        }
        if self.peek() != Some('=') {
            // A later line that starts with no key: the definition was
            // meant to end before it.
            if starts_line {
                return Err(Failure::Unended(Some(start.0)));
            }
            let found = self
                .peek()
                .map_or("the end of the file".to_string(), |c| shown(&c.to_string()));
            let after = if name.is_empty() {
                "a key".to_string()
            } else {
                format!("\"=\" after {}", shown(&name))
            };
            return Err(Failure::Syntax(
                self.at.0,
                format!("expected {after}, found {found}"),
            ));
        }
        self.bump();
        let mut values = Vec::new();
        loop {
            if !self.skip_blanks() {
                return Err(Failure::Unended(None));
            }
            match self.peek() {
                Some(',') => {
                    self.bump();
                    return Ok((Key { name, values }, false));
                }
                Some(';') => {
                    self.bump();
                    return Ok((Key { name, values }, true));
                }
                _ => values.push(self.value()?),
            }
        }
    }

    /// One value: up to a blank, `#`, `,`, `;` or the end of the line,
    /// quoted parts unquoted.
    fn value(&mut self) -> Result<String, Failure> {
        let mut value = String::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '#' | ',' | ';' => break,
                '"' | '\'' => {
                    self.bump();
                    self.quoted(c, &mut value)?;
                }
                c => {
                    value.push(c);
                    self.bump();
                }
            }
        }
        if self.peek() == Some('#') {
            // The rest of the line is a comment.
            self.at.1 = self.lines[self.at.0].len();
        }
        Ok(value)
    }

    /// The inside of a quote, which ends on its line.
    fn quoted(&mut self, quote: char, value: &mut String) -> Result<(), Failure> {
        let line = self.at.0;
        loop {
            let Some(c) = self.peek() else {
                return Err(Failure::Syntax(line, "a quote is left open".to_string()));
            };
            self.bump();
            if c == quote {
                return Ok(());
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let escaped = self.peek();
            self.bump();
            value.push(match escaped {
                Some('\\') => '\\',
                Some('n') => '\n',
                Some('t') => '\t',
                Some('r') => '\r',
                Some('\'') => '\'',
                Some('"') => '"',
                Some('x') => self.hex_byte(line)?,
                Some(other) => {
                    return Err(Failure::Syntax(
                        line,
                        format!("unknown escape {}", shown(&format!("\\{other}"))),
                    ))
                }
                None => {
                    return Err(Failure::Syntax(
                        line,
                        "a backslash ends the line".to_string(),
                    ))
                }
            });
        }
    }

    /// `\xHH`: two hex digits, a character of at most 0x7f (the file is
    /// text; a higher byte alone would not be UTF-8).
    fn hex_byte(&mut self, line: usize) -> Result<char, Failure> {
        let digits: String = self.rest().chars().take(2).collect();
        let byte = Some(&digits)
            .filter(|d| d.len() == 2 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u8::from_str_radix(d, 16).ok());
        match byte {
            Some(byte @ 1..=0x7f) => {
                self.bump();
                self.bump();
                Ok(char::from(byte))
            }
            _ => Err(Failure::Syntax(
                line,
                format!(
                    "bad escape {} (\\x and two hex digits, 01 to 7f)",
                    shown(&format!("\\x{digits}"))
                ),
            )),
        }
    }

    /// Where reading goes on after the `;`: the rest of its line when
    /// something but a comment follows, else the next line.
    fn rest_of_line(&self) -> At {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            (self.at.0 + 1, 0)
        } else {
            (self.at.0, self.at.1 + (rest.len() - trimmed.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::entries::{items, Item};
    use super::*;

    fn definitions(text: &str) -> Vec<Item> {
        items(text).collect()
    }

    fn keys(pairs: &[(&str, &[&str])]) -> Vec<Key> {
        pairs
            .iter()
            .map(|(name, values)| Key {
                name: name.to_string(),
                values: values.iter().map(|v| v.to_string()).collect(),
            })
            .collect()
    }

    #[test]
    fn keys_values_comments_and_line_breaks() {
        let text = "5432 on\n\tprotocol = udp,  # the protocol\n\n  wait\n  # why\n  = yes,\n\targs = a \"b c\" 'd\\te'\n x;\n";
        assert_eq!(
            definitions(text),
            [Item::Definition(Definition {
                line: 1,
                service: "5432".into(),
                enabled: true,
                keys: keys(&[
                    ("protocol", &["udp"]),
                    ("wait", &["yes"]),
                    ("args", &["a", "b c", "d\te", "x"]),
                ]),
            })]
        );
    }

    #[test]
    fn several_definitions_on_a_line_and_off() {
        let text = "a on#c\nexec=/x;b off user=root;c stream tcp nowait root internal\n";
        let found = definitions(text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            matches!(&found[0], Item::Definition(d) if d.line == 1 && d.enabled && d.keys == keys(&[("exec", &["/x"])]))
        );
        assert!(matches!(&found[1], Item::Definition(d) if d.line == 2 && !d.enabled));
        assert!(matches!(&found[2], Item::Entry(e) if e.line == 2 && e.fields.len() == 6));
    }

    #[test]
    fn empty_values_and_hex_escapes() {
        let found = definitions("a on ipsec=, args=\"\\x41\\x7e\"#c\n;");
        assert!(
            matches!(&found[..], [Item::Definition(d)] if d.keys == keys(&[("ipsec", &[]), ("args", &["A~"])]))
        );
    }

    fn bad(text: &str) -> Vec<(usize, String)> {
        items(text)
            .map(|item| match item {
                Item::Bad { line, reason } => (line, reason),
                Item::Entry(e) => (e.line, format!("entry {}", e.fields.join(" "))),
                Item::Definition(d) => (d.line, "definition".into()),
                Item::Include { line, .. } => (line, "include".into()),
            })
            .collect()
    }

    #[test]
    fn syntax_errors_reject_the_definition_only() {
        assert_eq!(
            bad("a on user root;\nb stream\n"),
            [
                (1, "expected \"=\" after \"user\", found \"r\"".into()),
                (2, "entry b stream".into())
            ]
        );
        assert_eq!(
            bad("a on\n  args = \"x\n b on c=d;"),
            [
                (1, "a quote is left open (line 2)".into()),
                (3, "definition".into())
            ]
        );
        assert_eq!(
            bad("a on args = \"\\q\";\n"),
            [(1, "unknown escape \"\\\\q\"".into())]
        );
        assert_eq!(bad("a on ;"), [(1, "expected a key, found \";\"".into())]);
        // A trailing comma: NetBSD wants a key after it.
        assert_eq!(
            bad("a on user=root,;"),
            [(1, "expected a key, found \";\"".into())]
        );
        assert_eq!(
            bad("a on args = \"\\x80\";"),
            [(
                1,
                "bad escape \"\\\\x80\" (\\x and two hex digits, 01 to 7f)".into()
            )]
        );
    }

    #[test]
    fn a_definition_without_its_semicolon_ends_where_it_must() {
        let unended = "no \";\" ends the definition of \"a\"".to_string();
        // At the end of the file.
        assert_eq!(bad("a on user = root"), [(1, unended.clone())]);
        // At a blank line, when it goes wrong past it.
        assert_eq!(
            bad("a on user = root\n\necho stream tcp nowait root internal\n"),
            [
                (1, unended.clone()),
                (3, "entry echo stream tcp nowait root internal".into())
            ]
        );
        // At a line that starts with no key.
        assert_eq!(
            bad("a on user = root,\necho stream tcp nowait root internal\n"),
            [
                (1, unended.clone()),
                (2, "entry echo stream tcp nowait root internal".into())
            ]
        );
        // Blank lines inside a definition that ends well are fine.
        assert_eq!(bad("a on\n\n user = root\n\n;"), [(1, "definition".into())]);
    }
}
