//! What the builtins say: chargen's lines (a constant table, written
//! straight from it), daytime's and time's answers, and datagram replies.

/// One chargen line: 72 printable characters and CRLF.
const LINE_LEN: usize = 74;
/// The 95 printable ASCII characters, 0x20 to 0x7E.
const PRINTABLE: usize = 95;
/// Line `n` starts one character after line `n - 1`, so the stream repeats
/// after 95 lines.
pub(super) const CHARGEN_PERIOD: usize = LINE_LEN * PRINTABLE;

pub(super) static CHARGEN: [u8; CHARGEN_PERIOD] = chargen_table();

const fn chargen_table() -> [u8; CHARGEN_PERIOD] {
    let mut table = [0u8; CHARGEN_PERIOD];
    let mut line = 0;
    while line < PRINTABLE {
        let mut col = 0;
        while col < 72 {
            table[line * LINE_LEN + col] = b' ' + ((line + col) % PRINTABLE) as u8;
            col += 1;
        }
        table[line * LINE_LEN + 72] = b'\r';
        table[line * LINE_LEN + 73] = b'\n';
        line += 1;
    }
    table
}

/// The chargen line for UDP request number `n` (one line per datagram).
pub fn chargen_line(n: usize) -> &'static [u8] {
    let start = (n % PRINTABLE) * LINE_LEN;
    &CHARGEN[start..start + LINE_LEN]
}

/// RFC 867: the local time as `ctime(3)` writes it, with CRLF.
pub fn daytime() -> Vec<u8> {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: localtime_r writes only into `tm`.
    let tm = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        tm
    };
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}\r\n",
        DAYS[tm.tm_wday.rem_euclid(7) as usize],
        MONTHS[tm.tm_mon.rem_euclid(12) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
    .into_bytes()
}

/// RFC 868: seconds since 1900-01-01 as a 32-bit big-endian number.
pub fn time() -> [u8; 4] {
    const UNIX_TO_1900: u64 = 2_208_988_800;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The protocol's counter wraps in 2036; truncation is the standard behaviour.
    ((unix + UNIX_TO_1900) as u32).to_be_bytes()
}

pub enum Reply<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Reply<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Reply::Borrowed(b) => b,
            Reply::Owned(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chargen_lines_rotate_through_printable_ascii() {
        let first = chargen_line(0);
        assert_eq!(first.len(), 74);
        assert_eq!(&first[..5], b" !\"#$");
        assert_eq!(&first[72..], b"\r\n");
        assert_eq!(&chargen_line(1)[..3], b"!\"#");
        assert_eq!(chargen_line(95), first);
        assert!(CHARGEN
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) || b == b'\r' || b == b'\n'));
        // The last line wraps around the printable set.
        assert_eq!(chargen_line(94)[0], b'~');
        assert_eq!(chargen_line(94)[1], b' ');
    }

    #[test]
    fn daytime_is_ctime_shaped() {
        let text = String::from_utf8(daytime()).unwrap();
        assert_eq!(text.len(), 26, "{text:?}");
        assert!(text.ends_with("\r\n"));
        assert_eq!(&text[13..14], ":");
    }

    #[test]
    fn time_counts_from_1900() {
        let secs = u32::from_be_bytes(time());
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let expected = (unix + 2_208_988_800) as u32;
        assert!(secs.wrapping_sub(expected) <= 1);
    }
}
