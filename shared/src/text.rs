//! Small text helpers both programs write with: percent-encoding for URLs, JSON string
//! literals, and byte counts for people. One copy each, so `fetch` and `serve` escape and
//! count alike.

use std::fmt::Write as _;

/// Which bytes [`percent_encode`] keeps as they are; every other byte becomes `%XX`
/// (upper-case hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every printable ASCII byte, `%` included, so escapes already typed survive; controls,
    /// space and non-ASCII are escaped. For a `Location` as a server sent it.
    Graphic,
    /// As [`Keep::Graphic`], less what may not appear in a request target (RFC 9112 §3.2):
    /// `"` `<` `>` `\` `^` `` ` `` `{` `|` `}`.
    Target,
    /// One path segment (RFC 3986 `pchar`): unreserved characters, sub-delimiters, `:` and
    /// `@`. `/`, `%`, `?`, `#`, space and non-ASCII are escaped.
    Segment,
}

impl Keep {
    fn keeps(self, b: u8) -> bool {
        match self {
            Keep::Graphic => b.is_ascii_graphic(),
            Keep::Target => {
                b.is_ascii_graphic()
                    && !matches!(
                        b,
                        b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
                    )
            }
            Keep::Segment => b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b),
        }
    }
}

/// `bytes` with every byte that `keep` does not keep written as `%XX`.
pub fn percent_encode(bytes: &[u8], keep: Keep) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if keep.keeps(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Appends `s` to `out` as a JSON string literal, quotes included: `"` and `\` are
/// backslash-escaped, and every control character (DEL too) is written `\u00XX`, so the
/// line stays one line and safe on a terminal. Everything else, non-ASCII included, is
/// copied as it is (JSON text is UTF-8).
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A byte count the way people say it: `512 B` below 1 KiB, then one decimal in the
/// largest binary unit that keeps the number at 1 or more: `1.5 KiB`, `20.0 MiB`, up to PiB.
pub fn bytes_words(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_by_what_is_kept() {
        let cases: &[(&[u8], Keep, &str)] = &[
            (b"/a b/%41?q=\"x\"", Keep::Graphic, "/a%20b/%41?q=\"x\""),
            (b"caf\xc3\xa9\t\x7f", Keep::Graphic, "caf%C3%A9%09%7F"),
            (b"/a b/%41?q=\"x\"", Keep::Target, "/a%20b/%41?q=%22x%22"),
            (b"<>\\^`{|}", Keep::Target, "%3C%3E%5C%5E%60%7B%7C%7D"),
            (b"a b/c%d?e#f", Keep::Segment, "a%20b%2Fc%25d%3Fe%23f"),
            (b"-._~!$&'()*+,;=:@", Keep::Segment, "-._~!$&'()*+,;=:@"),
            (b"\xff\x00", Keep::Segment, "%FF%00"),
            (b"", Keep::Segment, ""),
        ];
        for (input, keep, want) in cases {
            assert_eq!(percent_encode(input, *keep), *want, "{input:?} {keep:?}");
        }
    }

    #[test]
    fn json_strings() {
        let cases: &[(&str, &str)] = &[
            ("plain", "\"plain\""),
            ("a\"b\\c\nd\u{1}é", "\"a\\\"b\\\\c\\u000ad\\u0001é\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("q\"\\\n.txt", "\"q\\\"\\\\\\u000a.txt\""),
            ("\u{1}\r\t\u{7f}", "\"\\u0001\\u000d\\u0009\\u007f\""),
            ("é ✓", "\"é ✓\""),
            ("", "\"\""),
        ];
        for (input, want) in cases {
            let mut out = String::from(">");
            json_string(&mut out, input);
            assert_eq!(out, format!(">{want}"), "{input:?}");
        }
    }

    #[test]
    fn byte_counts_in_words() {
        let cases: &[(u64, &str)] = &[
            (0, "0 B"),
            (512, "512 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (20 * 1024 * 1024, "20.0 MiB"),
            (3 << 20, "3.0 MiB"),
            (3 << 30, "3.0 GiB"),
            (5 << 40, "5.0 TiB"),
            (2048 << 40, "2.0 PiB"),
            (u64::MAX, "16384.0 PiB"),
        ];
        for (n, want) in cases {
            assert_eq!(bytes_words(*n), *want, "{n}");
        }
    }
}
