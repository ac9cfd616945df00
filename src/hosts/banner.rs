//! The `banners DIR` option: the file DIR/daemon, `%`-expanded line by line,
//! with CRLF line ends, rendered while the rule is evaluated (like libwrap)
//! and written to the client by the child.

use std::io::ErrorKind;

use super::eval::Session;
use super::expand::{expand, ExpandError, OPTION_LIMIT};
use super::options::Failure;
use super::parse::split_at;
use super::RuleOption;

/// libwrap reads banner lines with fgets(ibuf, BUFSIZ - 1).
const LINE_CHUNK: usize = OPTION_LIMIT - 2;

pub fn render(dir: &str, session: &mut Session) -> Result<RuleOption, Failure> {
    let path = format!("{dir}/{}", session.daemon);
    let bytes = match session.read_file(&path)? {
        Ok(bytes) => bytes,
        Err(e) => {
            if e.kind() != ErrorKind::NotFound || std::fs::metadata(dir).is_err() {
                session.warn(format!("{dir}: {e}"));
            }
            return Ok(RuleOption::Banners(Vec::new()));
        }
    };
    let nuls = bytes.iter().take_while(|&&b| b == 0).count();
    let mut text = vec![0; nuls];
    let mut rest = &bytes[nuls..];
    while !rest.is_empty() {
        let end = rest[..rest.len().min(LINE_CHUNK)]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len().min(LINE_CHUNK), |i| i + 1);
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        // A C string: an embedded NUL ends the line.
        let chunk = chunk.split(|&b| b == 0).next().unwrap_or_default();
        let line = String::from_utf8_lossy(chunk);
        let line = match split_at(&line, '\n') {
            Some((head, _)) => format!("{head}\r\n"),
            None => line.into_owned(),
        };
        match expand(&line, session, 2 * OPTION_LIMIT) {
            Ok(expanded) => text.extend_from_slice(expanded.as_bytes()),
            Err(ExpandError::Need(need)) => return Err(need.into()),
            Err(ExpandError::TooLong) => {
                return Err(Failure::Error("percent_x: expansion too long".to_string()))
            }
        }
    }
    Ok(RuleOption::Banners(text))
}
