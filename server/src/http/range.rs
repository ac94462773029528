//! `Range: bytes=...` (RFC 9110 §14): parsed against the representation's length.

/// The most ranges one request may ask for; more, and the Range header is ignored (a full
/// 200 is always a correct answer, RFC 9110 §14.2), so a client cannot make us write a
/// thousand tiny parts.
pub const MAX_RANGES: usize = 16;

/// One satisfiable byte range: `start..start + len` of the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u64,
    /// Number of bytes (at least 1).
    pub len: u64,
}

impl Span {
    /// The last byte, inclusive, as `Content-Range` writes it.
    pub fn end(&self) -> u64 {
        self.start + self.len - 1
    }
}

/// What a Range header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// Ignore the header and send the whole representation (malformed, not `bytes`, too many,
    /// or overlapping ranges).
    Full,
    /// One range: a 206 with `Content-Range`.
    One(Span),
    /// Several non-overlapping ranges, in the order asked: a 206 `multipart/byteranges`.
    Many(Vec<Span>),
    /// None of the ranges overlaps the representation: 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Parses `value` (e.g. `bytes=0-499`, `bytes=-500`, `bytes=9500-`, `bytes=0-0,-1`) against a
/// representation of `len` bytes.
///
/// Unsatisfiable ranges within a set are dropped; when none is left the answer is 416.
/// A syntax error anywhere makes the whole header ignored, as RFC 9110 §14.2 allows.
/// Overlapping ranges, or more than [`MAX_RANGES`], are also answered with the full
/// representation: honest, and immune to range-amplification tricks.
pub fn parse(value: &str, len: u64) -> Ranges {
    let Some(set) = value.trim().strip_prefix("bytes=") else {
        return Ranges::Full;
    };
    let mut spans: Vec<Span> = Vec::new();
    let mut count = 0;
    for part in set.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue; // RFC 9110 §5.6.1: empty list elements are allowed
        }
        count += 1;
        if count > MAX_RANGES {
            return Ranges::Full;
        }
        let Some((first, last)) = part.split_once('-') else {
            return Ranges::Full;
        };
        let (first, last) = (first.trim(), last.trim());
        let span = if first.is_empty() {
            // Suffix: the last N bytes.
            let Some(n) = number(last) else {
                return Ranges::Full;
            };
            if n == 0 || len == 0 {
                continue;
            }
            let n = n.min(len);
            Span {
                start: len - n,
                len: n,
            }
        } else {
            let Some(start) = number(first) else {
                return Ranges::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(e) if e >= start => e,
                    _ => return Ranges::Full,
                }
            };
            if start >= len {
                continue;
            }
            Span {
                start,
                len: end.min(len - 1) - start + 1,
            }
        };
        spans.push(span);
    }
    if count == 0 {
        return Ranges::Full;
    }
    match spans.len() {
        0 => Ranges::Unsatisfiable,
        1 => Ranges::One(spans[0]),
        _ => {
            let mut sorted = spans.clone();
            sorted.sort_by_key(|s| s.start);
            if sorted.windows(2).any(|w| w[1].start <= w[0].end()) {
                return Ranges::Full;
            }
            Ranges::Many(spans)
        }
    }
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(start: u64, len: u64) -> Ranges {
        Ranges::One(Span { start, len })
    }

    #[test]
    fn ranges_against_a_1000_byte_file() {
        let cases: &[(&str, Ranges)] = &[
            ("bytes=0-499", one(0, 500)),
            ("bytes=500-999", one(500, 500)),
            ("bytes=500-5000", one(500, 500)),
            ("bytes=-500", one(500, 500)),
            ("bytes=-5000", one(0, 1000)),
            ("bytes=900-", one(900, 100)),
            ("bytes=0-0", one(0, 1)),
            ("bytes= 0-0 ", one(0, 1)),
            ("bytes=999-", one(999, 1)),
            ("bytes=1000-", Ranges::Unsatisfiable),
            ("bytes=1000-2000", Ranges::Unsatisfiable),
            ("bytes=-0", Ranges::Unsatisfiable),
            (
                "bytes=0-0,-1",
                Ranges::Many(vec![Span { start: 0, len: 1 }, Span { start: 999, len: 1 }]),
            ),
            ("bytes=0-1,5000-6000", one(0, 2)),
            ("bytes=0-10,5-20", Ranges::Full),
            ("bytes=10-20,0-10", Ranges::Full),
            ("bytes=5-1", Ranges::Full),
            ("bytes=a-b", Ranges::Full),
            ("bytes=1", Ranges::Full),
            ("bytes=", Ranges::Full),
            ("bytes=-", Ranges::Full),
            ("bytes=--1", Ranges::Full),
            ("bytes=+1-2", Ranges::Full),
            ("items=0-1", Ranges::Full),
            ("bytes=0-99999999999999999999999", Ranges::Full),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value, 1000), *want, "{value}");
        }
    }

    #[test]
    fn too_many_ranges_get_the_whole_file() {
        let many: Vec<String> = (0..=MAX_RANGES)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect();
        assert_eq!(
            parse(&format!("bytes={}", many.join(",")), 1000),
            Ranges::Full
        );
        let ok: Vec<String> = (0..MAX_RANGES)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect();
        assert!(
            matches!(parse(&format!("bytes={}", ok.join(",")), 1000), Ranges::Many(v) if v.len() == MAX_RANGES)
        );
    }

    #[test]
    fn empty_file_has_no_satisfiable_range() {
        assert_eq!(parse("bytes=0-", 0), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=-1", 0), Ranges::Unsatisfiable);
    }
}
