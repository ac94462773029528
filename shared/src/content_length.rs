//! `Content-Length`, read the one strict way both sides need (RFC 9110 §8.6, RFC 9112 §6.3):
//! a list (`5, 5`) or repeated fields are accepted only when every item is the same decimal
//! number. Anything else is a framing error, the classic shape of request smuggling.

use std::fmt;

/// Why `Content-Length` fields cannot frame a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LengthError {
    /// An item that is not a decimal number of bytes that fits in a `u64` (the item, as
    /// received).
    Bad(String),
    /// Two items, in one field or in two, that disagree (the first, then the other).
    Conflict(u64, u64),
}

impl fmt::Display for LengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LengthError::Bad(item) => write!(f, "bad Content-Length '{item}'"),
            LengthError::Conflict(a, b) => {
                write!(f, "conflicting Content-Length values ({a} and {b})")
            }
        }
    }
}

impl std::error::Error for LengthError {}

/// Folds one `Content-Length` field `value` into `length` (`None` until a field is seen):
/// call it once per field, in order. Items are separated by commas and trimmed of ASCII
/// white space; an empty item, a sign, or any non-digit is [`LengthError::Bad`].
pub fn fold_content_length(length: &mut Option<u64>, value: &[u8]) -> Result<(), LengthError> {
    for item in value.split(|&b| b == b',') {
        let item = item.trim_ascii();
        let n = std::str::from_utf8(item)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| LengthError::Bad(String::from_utf8_lossy(item).into_owned()))?;
        match *length {
            Some(prev) if prev != n => return Err(LengthError::Conflict(prev, n)),
            _ => *length = Some(n),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_repeats_must_agree() {
        let bad = |s: &str| Err(LengthError::Bad(s.into()));
        type Want = Result<Option<u64>, LengthError>;
        let cases: &[(&[&[u8]], Want)] = &[
            (&[], Ok(None)),
            (&[b"5"], Ok(Some(5))),
            (&[b" 0 "], Ok(Some(0))),
            (&[b"5, 5"], Ok(Some(5))),
            (&[b"5", b"5,5"], Ok(Some(5))),
            (&[b"3, 4"], Err(LengthError::Conflict(3, 4))),
            (&[b"3", b"4"], Err(LengthError::Conflict(3, 4))),
            (&[b""], bad("")),
            (&[b"5,"], bad("")),
            (&[b"-1"], bad("-1")),
            (&[b"+5"], bad("+5")),
            (&[b"0x10"], bad("0x10")),
            (
                &[b"99999999999999999999999"],
                bad("99999999999999999999999"),
            ),
            (&[b"5\xc2\xa0"], bad("5\u{a0}")),
        ];
        for (fields, want) in cases {
            let mut length = None;
            let got = fields
                .iter()
                .try_for_each(|v| fold_content_length(&mut length, v))
                .map(|()| length);
            assert_eq!(got, *want, "{fields:?}");
        }
    }

    #[test]
    fn errors_in_words() {
        assert_eq!(
            LengthError::Bad("x".into()).to_string(),
            "bad Content-Length 'x'"
        );
        assert_eq!(
            LengthError::Conflict(3, 4).to_string(),
            "conflicting Content-Length values (3 and 4)"
        );
    }
}
