//! The body: how long it is (RFC 9112 §6.3, exactly), and the reader that delivers it.

use std::io::{self, Read};
use std::time::Duration;

use crate::chunked::ChunkedReader;
use crate::connection::Connection;
use crate::error::Error;
use crate::head::Head;
use crate::length::LengthReader;
use crate::pool::Pool;
use crate::request::{Method, Version};

/// How the end of a body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body at all (HEAD, 1xx, 204, 304), whatever the head says.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Everything up to the connection's close.
    Close,
}

/// The framing of the body that follows `head` (a response to `method`), and whether the
/// connection can carry another request afterwards. RFC 9112 §6.3, in its order:
///
/// 1. A response to HEAD, and 1xx, 204 and 304 responses, have no body.
/// 2. `Transfer-Encoding` with chunked as the final coding: chunked. If `Content-Length` is
///    there too, chunked wins and the connection is closed afterwards (the message may be
///    an attempt at request smuggling). Codings other than chunked were never asked for and
///    cannot be decoded here: an error, rather than bytes the user cannot read.
/// 3. `Content-Length`: that many bytes. Several fields or a list are accepted only when
///    every value is the same number; anything else is an error.
/// 4. Otherwise, up to close.
pub(crate) fn framing(method: Method, head: &Head) -> Result<(Framing, bool), String> {
    framing_with(method, head, false)
}

/// [`framing`], where `codings` lets gzip or deflate come before `chunked` (or alone, the
/// body then ending at the close) in `Transfer-Encoding`: `--tr-encoding` asked for them.
pub(crate) fn framing_with(
    method: Method,
    head: &Head,
    codings: bool,
) -> Result<(Framing, bool), String> {
    let keep_alive = keep_alive(head);
    if head.version() == Version::Http09 {
        return Ok((Framing::Close, false));
    }
    if method == Method::Head || matches!(head.status(), 100..=199 | 204 | 304) {
        return Ok((Framing::None, keep_alive));
    }
    let allowed = codings;
    let codings = head.tokens("transfer-encoding");
    let has_length = head.header("content-length").is_some();
    if allowed
        && codings.iter().any(|c| c != "chunked")
        && codings[..codings.len() - 1]
            .iter()
            .all(|c| c == "gzip" || c == "deflate")
    {
        return match codings.last().map(String::as_str) {
            Some("chunked") => Ok((Framing::Chunked, keep_alive && !has_length)),
            Some("gzip" | "deflate") => Ok((Framing::Close, false)),
            _ => Err("unsupported transfer coding".into()),
        };
    }
    if !codings.is_empty() {
        if let Some(other) = codings.iter().find(|c| *c != "chunked") {
            return Err(format!(
                "unsupported transfer coding '{other}' (fetch asks for none)"
            ));
        }
        if codings.len() > 1 {
            return Err("chunked transfer coding applied more than once".into());
        }
        return Ok((Framing::Chunked, keep_alive && !has_length));
    }
    if has_length {
        let mut length = None;
        for value in head.all("content-length") {
            shared::fold_content_length(&mut length, value).map_err(|e| e.to_string())?;
        }
        if let Some(n) = length {
            return Ok((Framing::Length(n), keep_alive));
        }
    }
    Ok((Framing::Close, false))
}

/// Whether the server lets the connection stay open: HTTP/1.1 unless `Connection: close`;
/// HTTP/1.0 only with `Connection: keep-alive`.
fn keep_alive(head: &Head) -> bool {
    let tokens = head.tokens("connection");
    if tokens.iter().any(|t| t == "close") {
        return false;
    }
    match head.version() {
        Version::Http11 => true,
        Version::Http10 => tokens.iter().any(|t| t == "keep-alive"),
        Version::Http09 => false,
    }
}

#[derive(Debug)]
enum Reader {
    Empty,
    Length(LengthReader),
    Chunked(ChunkedReader),
    Close,
}

/// A response body. Reading it to the end returns a keep-alive connection to the client's
/// pool; errors keep their kind through [`Body::read_chunk`] (through `Read`, they travel
/// inside an `io::Error` that [`Error::from_io`] unpacks).
#[derive(Debug)]
pub struct Body {
    conn: Option<Connection>,
    reader: Reader,
    reusable: bool,
    pool: Pool,
    idle: Duration,
    received: u64,
}

impl Body {
    pub(crate) fn new(
        conn: Connection,
        framing: Framing,
        reusable: bool,
        pool: Pool,
        idle: Duration,
        raw: bool,
    ) -> Body {
        let reader = match framing {
            Framing::None | Framing::Length(0) => Reader::Empty,
            Framing::Length(n) => Reader::Length(LengthReader::new(n)),
            Framing::Chunked if raw => Reader::Chunked(ChunkedReader::raw()),
            Framing::Chunked => Reader::Chunked(ChunkedReader::new()),
            Framing::Close => Reader::Close,
        };
        let mut body = Body {
            conn: Some(conn),
            reader,
            reusable,
            pool,
            idle,
            received: 0,
        };
        if matches!(body.reader, Reader::Empty) {
            body.finish();
        }
        body
    }

    /// Body bytes delivered so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The peer the body comes from, for messages (empty once the body is complete).
    pub fn peer(&self) -> &str {
        self.conn.as_ref().map_or("", |c| c.peer.as_str())
    }

    /// Reads the next bytes into `buf`; 0 at the end of a complete body. A body that ends
    /// early is an error (exit 18), never a short success.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(0);
        };
        let result = match &mut self.reader {
            Reader::Empty => Ok(0),
            Reader::Length(r) => r.read(conn, buf, self.idle),
            Reader::Chunked(r) => r.read(conn, buf, self.idle),
            Reader::Close => conn.read(buf, self.idle),
        };
        match result {
            Ok(0) if !buf.is_empty() => {
                self.finish();
                Ok(0)
            }
            Ok(n) => {
                self.received += n as u64;
                Ok(n)
            }
            Err(e) => {
                // A connection in an unknown state is never reused.
                self.conn = None;
                Err(e)
            }
        }
    }

    /// Reads and drops the rest of the body, at most `limit` bytes, so that the connection
    /// can be reused; a longer or broken body just closes it.
    pub(crate) fn drain(mut self, limit: u64) {
        let mut buf = vec![0; 16 * 1024];
        let start = self.received;
        while self.received - start <= limit {
            match self.read_chunk(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// The body is complete: keep the connection if it may carry another request and
    /// nothing unexpected follows the body.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.buffered().is_empty()
        {
            self.pool.put(conn);
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_chunk(buf).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::test_head;

    fn frame(method: Method, head: &str) -> Result<(Framing, bool), String> {
        framing(method, &test_head(head))
    }

    #[test]
    fn body_length_by_rfc_9112() {
        use Framing::*;
        let get = Method::Get;
        let cases: &[(Method, &str, (Framing, bool))] = &[
            (get, "HTTP/1.1 200 OK|Content-Length: 5", (Length(5), true)),
            (
                get,
                "HTTP/1.1 200 OK|Content-Length: 5, 5",
                (Length(5), true),
            ),
            (
                get,
                "HTTP/1.1 200 OK|Content-Length: 5|Content-Length: 5",
                (Length(5), true),
            ),
            (get, "HTTP/1.1 200 OK|Content-Length: 0", (Length(0), true)),
            (
                get,
                "HTTP/1.1 200 OK|Transfer-Encoding: chunked",
                (Chunked, true),
            ),
            (
                get,
                "HTTP/1.1 200 OK|Transfer-Encoding: Chunked",
                (Chunked, true),
            ),
            (
                get,
                "HTTP/1.1 200 OK|Transfer-Encoding: chunked|Content-Length: 10",
                (Chunked, false),
            ),
            (get, "HTTP/1.1 200 OK", (Close, false)),
            (
                get,
                "HTTP/1.1 200 OK|Connection: close|Content-Length: 1",
                (Length(1), false),
            ),
            (get, "HTTP/1.0 200 OK|Content-Length: 1", (Length(1), false)),
            (
                get,
                "HTTP/1.0 200 OK|Connection: keep-alive|Content-Length: 1",
                (Length(1), true),
            ),
            (
                get,
                "HTTP/1.1 204 No Content|Content-Length: 5",
                (None, true),
            ),
            (
                get,
                "HTTP/1.1 304 Not Modified|Content-Length: 5",
                (None, true),
            ),
            (
                get,
                "HTTP/1.1 304 Not Modified|Transfer-Encoding: chunked",
                (None, true),
            ),
            (
                Method::Head,
                "HTTP/1.1 200 OK|Content-Length: 500",
                (None, true),
            ),
            (Method::Head, "HTTP/1.1 200 OK", (None, true)),
            (
                get,
                "HTTP/1.1 404 Not Found|Content-Length: 3",
                (Length(3), true),
            ),
        ];
        for (method, head, want) in cases {
            assert_eq!(frame(*method, head), Ok(*want), "{method} {head}");
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        let cases = [
            (
                "Content-Length: 5|Content-Length: 6",
                "conflicting Content-Length values (5 and 6)",
            ),
            ("Content-Length: 5, 6", "conflicting"),
            ("Content-Length: five", "bad Content-Length 'five'"),
            ("Content-Length: -1", "bad Content-Length '-1'"),
            ("Content-Length: +1", "bad Content-Length '+1'"),
            ("Content-Length: ", "bad Content-Length ''"),
            (
                "Content-Length: 99999999999999999999999",
                "bad Content-Length",
            ),
            (
                "Transfer-Encoding: gzip, chunked",
                "unsupported transfer coding 'gzip'",
            ),
            ("Transfer-Encoding: chunked, chunked", "more than once"),
        ];
        for (fields, want) in cases {
            let err = frame(Method::Get, &format!("HTTP/1.1 200 OK|{fields}")).unwrap_err();
            assert!(err.contains(want), "{fields}: {err}");
        }
    }

    #[test]
    fn transfer_codings_only_when_asked() {
        let head =
            |te: &str| crate::head::test_head(&format!("HTTP/1.1 200 OK|Transfer-Encoding: {te}"));
        let with = |te: &str| framing_with(Method::Get, &head(te), true).map(|f| f.0);
        assert_eq!(with("gzip, chunked"), Ok(Framing::Chunked));
        assert_eq!(with("chunked"), Ok(Framing::Chunked));
        assert_eq!(with("deflate"), Ok(Framing::Close));
        assert!(with("br, chunked").is_err());
        assert!(with("chunked, gzip, chunked").is_err());
        assert!(framing_with(Method::Get, &head("gzip, chunked"), false).is_err());
    }
}
