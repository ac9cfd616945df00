//! Numbers as C reads them in libwrap: sscanf's `%u`, `%o` and `%d`, with
//! strtoul's and strtol's overflow rules. Used for ports, masks, option
//! values and ident replies, so that each reads exactly as libwrap reads it.

/// What sscanf skips and reads of a number: leading blanks, an optional
/// sign, then at least one digit of `radix`. Returns the sign, the digits
/// and what follows.
fn split_number(text: &str, radix: u32) -> Option<(bool, &str, &str)> {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !c.is_digit(radix))
        .map_or(body.len(), |(i, _)| i);
    (end > 0).then(|| (negative, &body[..end], &body[end..]))
}

/// sscanf `%u`/`%o`: optional blanks and sign, at least one digit, strtoul
/// overflow rules, stored in 32 bits. Returns the value and what follows.
pub fn scan_unsigned(text: &str, radix: u32) -> Option<(u32, &str)> {
    let (negative, digits, rest) = split_number(text, radix)?;
    let magnitude = digits.chars().try_fold(0u64, |acc, c| {
        acc.checked_mul(u64::from(radix))?
            .checked_add(u64::from(c.to_digit(radix)?))
    });
    let value = match magnitude {
        Some(m) if negative => m.wrapping_neg(),
        Some(m) => m,
        None => u64::MAX,
    };
    Some((value as u32, rest))
}

/// sscanf `%d`: strtol rules, stored in an int.
pub fn scan_signed(text: &str) -> Option<(i32, &str)> {
    let (negative, digits, rest) = split_number(text, 10)?;
    let magnitude: i128 = digits.parse().unwrap_or(i128::MAX);
    let value = if negative { -magnitude } else { magnitude };
    let clamped = value.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    Some((clamped as i32, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanning() {
        assert_eq!(scan_unsigned("+23", 10), Some((23, "")));
        assert_eq!(scan_unsigned("4294967319", 10), Some((23, "")));
        assert_eq!(scan_unsigned("-1", 10), Some((u32::MAX, "")));
        assert_eq!(
            scan_unsigned("99999999999999999999999", 10),
            Some((u32::MAX, ""))
        );
        assert_eq!(scan_unsigned("0x17", 10), Some((0, "x17")));
        assert_eq!(scan_unsigned("x", 10), None);
        assert_eq!(scan_unsigned("0778", 8), Some((0o77, "8")));
        assert_eq!(scan_signed("-3"), Some((-3, "")));
        assert_eq!(scan_signed("4294967301"), Some((5, "")));
    }
}
