//! Response heads: status line and headers written into a reused buffer, with the `Date`
//! header formatted at most once per second per worker.

use std::cell::RefCell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `Server` header value.
pub const SERVER: &str = concat!("serve/", env!("CARGO_PKG_VERSION"));

/// The methods this server answers, for `Allow`.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The reason phrase for the statuses this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// How the connection goes on after this response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// HTTP/1.1 default: kept open, no header needed.
    KeepAlive,
    /// HTTP/1.0 client that asked to keep it open: say `Connection: keep-alive`.
    KeepAlive10,
    /// The server closes after this response: say `Connection: close`.
    Close,
}

/// Writes a status line and the common headers into `out` (cleared first): `Server`, `Date`,
/// `Content-Length` (not on 204), `Content-Type` when given, `Connection` as `persist` needs, then `extra`
/// lines (each `Name: value`), then the blank line.
pub fn head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: Option<&str>,
    length: u64,
    persist: Persist,
    extra: &[(&str, &str)],
) {
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nServer: {SERVER}\r\nDate: ",
        reason(status)
    );
    with_date(|d| out.extend_from_slice(d.as_bytes()));
    out.extend_from_slice(b"\r\n");
    // RFC 9110 §8.6: no Content-Length on a 204.
    if status != 204 {
        let _ = write!(out, "Content-Length: {length}\r\n");
    }
    if let Some(ct) = content_type {
        let _ = write!(
            out,
            "Content-Type: {ct}\r\nX-Content-Type-Options: nosniff\r\n"
        );
    }
    match persist {
        Persist::KeepAlive => {}
        Persist::KeepAlive10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persist::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    for (name, value) in extra {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A short plain-text body for an error status: `404 Not Found\n`.
pub fn error_body(status: u16) -> String {
    format!("{status} {}\n", reason(status))
}

thread_local! {
    // (second it was made for, IMF-fixdate text)
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with the current `Date` header value; each thread formats it at most once per
/// second.
pub fn with_date<R>(f: impl FnOnce(&str) -> R) -> R {
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, httpdate::fmt_http_date(now));
        }
        f(&cached.1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            text.ends_with("\r\nAllow: GET, HEAD, OPTIONS\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn date_is_an_http_date() {
        let d = with_date(|d| d.to_string());
        assert!(httpdate::parse_http_date(&d).is_ok(), "{d}");
    }
}
