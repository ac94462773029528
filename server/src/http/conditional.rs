//! Validators (`ETag`, `Last-Modified`) and conditional requests (RFC 9110 §13).
//!
//! The ETag is **strong**, made of the file's size and modification time to the nanosecond:
//! `"<mtime seconds hex>.<nanoseconds hex>-<size hex>"`. Any change that touches either gives
//! a new tag. A precompressed variant (`FILE.gz`) has its own size and time, hence its own tag.

use std::fs::Metadata;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of one representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validators {
    /// The strong entity tag, quotes included.
    pub etag: String,
    /// Modification time truncated to seconds (what HTTP dates can say), if known.
    pub modified: Option<SystemTime>,
}

impl Validators {
    /// The validators for a file with this metadata.
    pub(crate) fn of(meta: &Metadata) -> Validators {
        let since = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let (secs, nanos) = since.map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()));
        Validators {
            etag: format!("\"{secs:x}.{nanos:x}-{:x}\"", meta.len()),
            modified: since.map(|d| UNIX_EPOCH + Duration::from_secs(d.as_secs())),
        }
    }

    /// The `Last-Modified` header value.
    pub(crate) fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }
}

/// The conditional headers of a request, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match`.
    pub if_match: Option<String>,
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<String>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<String>,
}

/// The outcome of evaluating preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Go on with the request.
    Proceed,
    /// 304 Not Modified (GET and HEAD only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions in the order RFC 9110 §13.2.2 gives: If-Match, else
/// If-Unmodified-Since; then If-None-Match, else (GET/HEAD only) If-Modified-Since. Dates are
/// compared as dates; an unparseable date is ignored, as the RFC says.
pub(crate) fn evaluate(c: &Conditions, v: &Validators, get_or_head: bool) -> Outcome {
    if let Some(im) = &c.if_match {
        if !list_matches(im, &v.etag, true) {
            return Outcome::Failed;
        }
    } else if let (Some(ius), Some(modified)) = (date(&c.if_unmodified_since), v.modified)
        && modified > ius
    {
        return Outcome::Failed;
    }
    if let Some(inm) = &c.if_none_match {
        if list_matches(inm, &v.etag, false) {
            return if get_or_head {
                Outcome::NotModified
            } else {
                Outcome::Failed
            };
        }
    } else if get_or_head
        && let (Some(ims), Some(modified)) = (date(&c.if_modified_since), v.modified)
        && modified <= ims
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// `If-Range`: true when the range may be honoured. An entity tag must match strongly; a
/// date must equal `Last-Modified` exactly.
pub(crate) fn if_range_holds(value: &str, v: &Validators) -> bool {
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return value == v.etag;
    }
    matches!((httpdate::parse_http_date(value).ok(), v.modified), (Some(d), Some(m)) if d == m)
}

fn date(value: &Option<String>) -> Option<SystemTime> {
    value
        .as_deref()
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
}

/// Does the `If-Match` / `If-None-Match` list match `etag`? `*` matches any current
/// representation. Strong comparison: both tags strong and equal; weak: equal once `W/` is
/// dropped.
fn list_matches(list: &str, etag: &str, strong: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    entity_tags(list).iter().any(|(weak, tag)| {
        if strong {
            !weak && *tag == etag
        } else {
            *tag == etag
        }
    })
}

/// Splits a list of entity tags (`W/"a", "b,c"`); commas may appear inside the quotes.
fn entity_tags(list: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return out;
        }
        let (weak, body) = match rest.strip_prefix("W/") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        if !body.starts_with('"') {
            return out; // malformed: stop; what was read so far stands
        }
        let Some(close) = body[1..].find('"') else {
            return out;
        };
        out.push((weak, &body[..close + 2]));
        rest = &body[close + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        Validators {
            etag: "\"abc\"".into(),
            modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        }
    }

    fn c(im: Option<&str>, inm: Option<&str>, ims: Option<&str>, ius: Option<&str>) -> Conditions {
        Conditions {
            if_match: im.map(Into::into),
            if_none_match: inm.map(Into::into),
            if_modified_since: ims.map(Into::into),
            if_unmodified_since: ius.map(Into::into),
        }
    }

    #[test]
    fn preconditions_in_rfc_order() {
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        let same = "Tue, 14 Nov 2023 22:13:20 GMT";
        let before = "Tue, 14 Nov 2023 22:13:19 GMT";
        let later = "Wed, 15 Nov 2023 00:00:00 GMT";
        use Outcome::*;
        let cases = [
            (c(None, None, None, None), Proceed),
            (c(None, Some("\"abc\""), None, None), NotModified),
            (c(None, Some("W/\"abc\""), None, None), NotModified),
            (c(None, Some("\"x\", \"abc\""), None, None), NotModified),
            (c(None, Some("*"), None, None), NotModified),
            (c(None, Some("\"other\""), None, None), Proceed),
            // If-None-Match takes precedence over If-Modified-Since.
            (c(None, Some("\"other\""), Some(same), None), Proceed),
            (c(None, None, Some(same), None), NotModified),
            (c(None, None, Some(later), None), NotModified),
            (c(None, None, Some(before), None), Proceed),
            (c(None, None, Some("yesterday"), None), Proceed),
            (c(Some("\"abc\""), None, None, None), Proceed),
            (c(Some("W/\"abc\""), None, None, None), Failed),
            (c(Some("\"nope\""), None, None, None), Failed),
            (c(Some("*"), None, None, None), Proceed),
            (c(None, None, None, Some(same)), Proceed),
            (c(None, None, None, Some(before)), Failed),
            (c(None, None, None, Some("garbage")), Proceed),
            // If-Match present: If-Unmodified-Since is not consulted.
            (c(Some("\"abc\""), None, None, Some(before)), Proceed),
        ];
        for (cond, want) in cases {
            assert_eq!(evaluate(&cond, &v(), true), want, "{cond:?}");
        }
        // A matching If-None-Match on another method is a failed precondition.
        assert_eq!(
            evaluate(&c(None, Some("\"abc\""), None, None), &v(), false),
            Failed
        );
        // If-Modified-Since only applies to GET and HEAD.
        assert_eq!(
            evaluate(&c(None, None, Some(same), None), &v(), false),
            Proceed
        );
    }

    #[test]
    fn if_range_is_strict() {
        assert!(if_range_holds("\"abc\"", &v()));
        assert!(!if_range_holds("W/\"abc\"", &v()));
        assert!(!if_range_holds("\"old\"", &v()));
        assert!(if_range_holds("Tue, 14 Nov 2023 22:13:20 GMT", &v()));
        assert!(!if_range_holds("Tue, 14 Nov 2023 22:13:21 GMT", &v()));
        assert!(!if_range_holds("junk", &v()));
    }

    #[test]
    fn tags_with_commas_inside() {
        assert_eq!(
            entity_tags("\"a,b\", W/\"c\""),
            vec![(false, "\"a,b\""), (true, "\"c\"")]
        );
    }
}
