//! `-C -`: where a download continues (the `.part` file and its resume record), the
//! `Range`/`If-Range` headers that ask for the rest, and what `Content-Range` answers.

use std::path::Path;

use super::output::{meta_path, part_path};
use crate::error::Error;
use crate::head::Head;
use crate::request::HeaderEdit;

/// The first line of a resume record (`NAME.part.meta`), naming its format.
const META_MAGIC: &str = "fetch resume 1";

/// Where a download continues: the bytes already in hand and the validator recorded when it
/// started (`ETag` when strong, else `Last-Modified`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    pub(crate) offset: u64,
    pub(crate) validator: Option<String>,
    /// The bytes in hand are the final file itself (a complete-looking `-o` file, no
    /// `.part`): it is copied to `.part` only once a `206` continues it ([`Resume::move_to_part`]),
    /// so that an answer that adds nothing (a `416`, a refused connection) leaves it, and
    /// its time, untouched.
    pub(crate) in_final: bool,
}

impl Resume {
    /// `-C -` for the file `path`: its `.part` and resume record, or else an existing
    /// complete-looking `path` (it has no record, so the range goes without `If-Range`, as
    /// curl sends it).
    pub(crate) fn load(path: &Path) -> Result<Resume, Error> {
        let (offset, in_final) = match std::fs::metadata(part_path(path)) {
            Ok(m) => (m.len(), false),
            Err(_) => match std::fs::metadata(path) {
                Ok(m) if m.is_file() => (m.len(), true),
                _ => (0, false),
            },
        };
        let validator = std::fs::read_to_string(meta_path(path))
            .ok()
            .and_then(|text| parse_meta(&text));
        Ok(Resume {
            offset,
            validator,
            in_final,
        })
    }

    /// A `206` continues the bytes in hand: when they are the final file, copies it to
    /// `path.part` first, so that a failure from here on never touches it.
    pub(crate) fn move_to_part(&mut self, path: &Path) -> Result<(), Error> {
        if std::mem::take(&mut self.in_final) {
            let part = part_path(path);
            std::fs::copy(path, &part).map_err(|e| Error::Write {
                what: part.display().to_string(),
                reason: shared::io_words(&e),
            })?;
        }
        Ok(())
    }

    /// `Range` and, when a validator is known, `If-Range` (so a changed file comes back
    /// whole, as a 200, instead of a mismatched tail).
    pub(crate) fn headers(&self) -> Vec<HeaderEdit> {
        if self.offset == 0 {
            return Vec::new();
        }
        let mut out = vec![HeaderEdit {
            name: "Range".into(),
            value: Some(format!("bytes={}-", self.offset)),
            verbatim: false,
        }];
        if let Some(v) = &self.validator {
            out.push(HeaderEdit {
                name: "If-Range".into(),
                value: Some(v.clone()),
                verbatim: false,
            });
        }
        out
    }
}

/// The validator in a resume record: its `validator: ` line.
fn parse_meta(text: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()? != META_MAGIC {
        return None;
    }
    lines
        .find_map(|l| l.strip_prefix("validator: "))
        .map(str::to_string)
        .filter(|v| !v.is_empty() && !v.contains(['\r', '\n', '\0']))
}

/// The validator `If-Range` may carry for `head`: a strong `ETag`, else `Last-Modified`
/// (RFC 9110 §13.1.5: a weak entity tag is never used for a range).
pub(crate) fn validator(head: &Head) -> Option<String> {
    let text = |v: &[u8]| String::from_utf8(v.trim_ascii().to_vec()).ok();
    head.header("etag")
        .and_then(text)
        .filter(|e| e.starts_with('"'))
        .or_else(|| head.header("last-modified").and_then(text))
        .filter(|v| !v.is_empty() && !v.contains(['\r', '\n', '\0']))
}

/// `Content-Range: bytes START-END/TOTAL` or `bytes */TOTAL`: the first byte (when a range
/// is given) and the total (when known).
pub(crate) fn content_range(head: &Head) -> (Option<u64>, Option<u64>) {
    let Some(value) = head.header("content-range") else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(value);
    let Some(rest) = text.trim().strip_prefix("bytes ") else {
        return (None, None);
    };
    let (range, total) = rest.split_once('/').unwrap_or((rest, "*"));
    let start = range
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok());
    (start, total.trim().parse().ok())
}

/// Writes the resume record beside the `.part`: best effort (without it a resume still
/// works, only without `If-Range`).
pub(crate) fn write_meta(path: &Path, validator: Option<&str>) {
    let meta = meta_path(path);
    match validator {
        Some(v) => {
            let _ = std::fs::write(&meta, format!("{META_MAGIC}\nvalidator: {v}\n"));
        }
        None => {
            let _ = std::fs::remove_file(&meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::test_ok_head as head;

    #[test]
    fn content_ranges() {
        type Range = (Option<u64>, Option<u64>);
        let cases: &[(&str, Range)] = &[
            ("Content-Range: bytes 100-199/200", (Some(100), Some(200))),
            ("Content-Range: bytes 0-0/*", (Some(0), None)),
            ("Content-Range: bytes */4096", (None, Some(4096))),
            ("Content-Range: items 1-2/3", (None, None)),
            ("X-A: 1", (None, None)),
        ];
        for (fields, want) in cases {
            assert_eq!(content_range(&head(fields)), *want, "{fields}");
        }
    }

    #[test]
    fn validators_for_if_range() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ETag: \"abc\"", Some("\"abc\"")),
            (
                "ETag: W/\"weak\"|Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT",
                Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            ),
            ("ETag: W/\"weak\"", None),
            ("X-A: 1", None),
        ];
        for (fields, want) in cases {
            assert_eq!(validator(&head(fields)).as_deref(), *want, "{fields}");
        }
    }

    #[test]
    fn resume_records() {
        assert_eq!(
            parse_meta("fetch resume 1\nvalidator: \"x\"\n").as_deref(),
            Some("\"x\"")
        );
        assert_eq!(parse_meta("something else\nvalidator: \"x\"\n"), None);
        assert_eq!(parse_meta("fetch resume 1\n"), None);
        let r = Resume {
            offset: 10,
            validator: Some("\"x\"".into()),
            in_final: false,
        };
        let h: Vec<String> = r
            .headers()
            .iter()
            .map(|e| format!("{}: {}", e.name, e.value.as_deref().unwrap()))
            .collect();
        assert_eq!(h, ["Range: bytes=10-", "If-Range: \"x\""]);
        assert!(Resume::default().headers().is_empty());
    }
}
