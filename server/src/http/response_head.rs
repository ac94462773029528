//! Response heads: status line and headers written into a reused buffer, with the `Date`
//! header formatted at most once per second per worker.

use std::cell::RefCell;
use std::io::Write;

use crate::http::clock::{self, SecondCache};

/// The `Server` header value.
pub(crate) const SERVER: &str = concat!("serve/", env!("CARGO_PKG_VERSION"));

/// The methods this server answers, for `Allow`.
pub(crate) const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The reason phrase for the statuses this server sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// How the connection goes on after this response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persist {
    /// HTTP/1.1 default: kept open, no header needed.
    KeepAlive,
    /// HTTP/1.0 client that asked to keep it open: say `Connection: keep-alive`.
    KeepAlive10,
    /// The server closes after this response: say `Connection: close`.
    Close,
}

/// Starts a response head in `out` (cleared first): the status line, `Server` and `Date`.
pub(crate) fn start(out: &mut Vec<u8>, status: u16) {
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nServer: {SERVER}\r\nDate: ",
        reason(status)
    );
    with_date(|d| out.extend_from_slice(d.as_bytes()));
    out.extend_from_slice(b"\r\n");
}

/// Adds one header line.
pub(crate) fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Adds `Content-Type` (and `X-Content-Type-Options: nosniff`, so browsers never guess).
pub(crate) fn content_type(out: &mut Vec<u8>, ct: &str) {
    header(out, "Content-Type", ct);
    out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n");
}

/// Ends the head: `Content-Length` when given (never on 1xx, 204 or 304, RFC 9110 §8.6),
/// `Connection` as `persist` needs, and the blank line.
pub(crate) fn end(out: &mut Vec<u8>, status: u16, length: Option<u64>, persist: Persist) {
    if let Some(length) = length
        && !matches!(status, 100..=199 | 204 | 304)
    {
        let _ = write!(out, "Content-Length: {length}\r\n");
    }
    match persist {
        Persist::KeepAlive => {}
        Persist::KeepAlive10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persist::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// A short plain-text body for an error status: `404 Not Found\n`.
pub(crate) fn error_body(status: u16) -> String {
    format!("{status} {}\n", reason(status))
}

thread_local! {
    static DATE: SecondCache = const { RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with the current `Date` header value (IMF-fixdate); each thread formats it at
/// most once per second.
pub(crate) fn with_date<R>(f: impl FnOnce(&str) -> R) -> R {
    clock::per_second(&DATE, |now, _| httpdate::fmt_http_date(now), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole head in one call: status, `Content-Type` when given, `extra` headers, length.
    pub(super) fn head(
        out: &mut Vec<u8>,
        status: u16,
        ct: Option<&str>,
        length: u64,
        persist: Persist,
        extra: &[(&str, &str)],
    ) {
        start(out, status);
        if let Some(ct) = ct {
            content_type(out, ct);
        }
        for (name, value) in extra {
            header(out, name, value);
        }
        end(out, status, Some(length), persist);
    }

    #[test]
    fn head_has_the_common_headers() {
        let mut out = Vec::new();
        head(
            &mut out,
            404,
            Some("text/plain; charset=utf-8"),
            14,
            Persist::Close,
            &[("Allow", ALLOW)],
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 404 Not Found\r\nServer: serve/"),
            "{text}"
        );
        assert!(
            text.contains("\r\nDate: ") && text.contains(" GMT\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nContent-Length: 14\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(
            text.contains("\r\nX-Content-Type-Options: nosniff\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\nConnection: close\r\n\r\n"), "{text}");
        assert!(text.contains("\r\nAllow: GET, HEAD, OPTIONS\r\n"), "{text}");
    }

    #[test]
    fn no_length_on_204_and_304() {
        for status in [204, 304] {
            let mut out = Vec::new();
            head(&mut out, status, None, 10, Persist::KeepAlive, &[]);
            assert!(
                !String::from_utf8(out).unwrap().contains("Content-Length"),
                "{status}"
            );
        }
    }

    #[test]
    fn date_is_an_http_date() {
        let d = with_date(|d| d.to_string());
        assert!(httpdate::parse_http_date(&d).is_ok(), "{d}");
    }
}
