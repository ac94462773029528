//! Small text helpers both programs write with: percent-encoding for URLs, JSON string
//! literals, byte counts for people, base64 and hex. One copy each, so `fetch` and `serve` escape and
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
/// backslash-escaped, the controls JSON has short forms for are written as curl's `-w
/// '%{json}'` writes them (`\b \f \n \r \t`), and every other control character (DEL
/// too) as `\u00XX`, so the line stays one line and safe on a terminal. Everything else,
/// non-ASCII included, is copied as it is (JSON text is UTF-8).
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
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

/// Standard base64 with padding (RFC 4648 §4): `Authorization: Basic`, and
/// the byte sequences of RFC 9530 digest fields.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        // Three bytes make 24 bits, read out as four 6-bit letters; a short chunk pads.
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (RFC 4648 §4), strict: the padding must be present and complete, no
/// characters outside the alphabet, and the bits past the last byte must be zero (so each
/// byte string has exactly one accepted spelling).
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (i, quad) in text.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        // Shift the missing sextets in as zeros: 24 bits, of which 3 - pad bytes count.
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        if bytes[keep..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}

/// Lower-case hex, two digits a byte: digests for people (`sha256sum` writes them so).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The bytes of an even-length hex string (either case), `None` for anything else.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    text.chunks(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect()
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
            ("a\"b\\c\nd\u{1}é", "\"a\\\"b\\\\c\\nd\\u0001é\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("q\"\\\n.txt", "\"q\\\"\\\\\\n.txt\""),
            ("\u{1}\r\t\u{7f}", "\"\\u0001\\r\\t\\u007f\""),
            ("\u{8}\u{c}\u{1b}", "\"\\b\\f\\u001b\""),
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

    #[test]
    fn base64_as_rfc_4648() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("al:pw", "YWw6cHc="),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn base64_is_strict() {
        for s in [&b""[..], b"a", b"ab", b"abc", b"abcd", b"\xff\x00\x80"] {
            if s.is_empty() {
                assert_eq!(base64_decode(b""), None);
                continue;
            }
            assert_eq!(base64_decode(base64(s).as_bytes()).as_deref(), Some(s));
        }
        // Non-zero bits past the end ("YR==" would also mean "a"): refused.
        assert_eq!(base64_decode(b"YR=="), None);
        assert_eq!(base64_decode(b"YWI"), None);
        assert_eq!(base64_decode(b"Y==="), None);
        assert_eq!(base64_decode(b"YW-="), None);
    }

    #[test]
    fn hex_both_ways() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
        assert_eq!(hex_decode("00AB7f"), Some(vec![0, 0xab, 0x7f]));
        assert_eq!(hex_decode(""), Some(vec![]));
        for bad in ["0", "0g", "+1", "é1"] {
            assert_eq!(hex_decode(bad), None, "{bad}");
        }
    }
}
