//! The `banners DIR` option: the file DIR/daemon, `%`-expanded line by line,
//! with CRLF line ends, rendered while the rule is evaluated (like libwrap)
//! and written to the client by the child.

use std::io::ErrorKind;

use super::decision::RuleOption;
use super::evaluation::Evaluation;
use super::expand::{expand, ExpandError, OPTION_LIMIT};
use super::parse::split_at;

/// libwrap reads banner lines with fgets(ibuf, BUFSIZ - 1).
const LINE_CHUNK: usize = OPTION_LIMIT - 2;

/// The banner option for `dir`; an expansion that needs a lookup or runs
/// too long is the caller's to report, as for any other option.
pub fn render(dir: &str, session: &mut Evaluation) -> Result<RuleOption, ExpandError> {
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
        text.extend_from_slice(expand(&line, session, 2 * OPTION_LIMIT)?.as_bytes());
    }
    Ok(RuleOption::Banners(text))
}
