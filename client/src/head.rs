//! The response head: status line and header fields, parsed with `httparse` from a capped
//! buffer, interim (1xx) heads skipped.

use std::time::{Duration, Instant};

use crate::connection::{BUF_SIZE, Connection, Phase};
use crate::error::Error;
use crate::request::Version;

/// The most header fields a response head may have.
pub const MAX_HEADERS: usize = 100;

/// The largest response head accepted: 64 KiB.
pub const MAX_HEAD: usize = BUF_SIZE;

/// The most interim (1xx) responses skipped before the final one.
const MAX_INTERIM: usize = 16;

/// A response head: status line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    version: Version,
    status: u16,
    reason: String,
    headers: Vec<(String, Vec<u8>)>,
    raw: Vec<u8>,
}

impl Head {
    /// The head of an HTTP/0.9 reply, which has none: status 200, no headers.
    pub(crate) fn http09() -> Head {
        Head {
            version: Version::Http09,
            status: 200,
            reason: String::new(),
            headers: Vec::new(),
            raw: Vec::new(),
        }
    }

    /// The protocol version the server answered with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The status code (`200`, `404`, ...).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (`OK`), possibly empty.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Every header field in the order received; names as sent, values as raw bytes.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The value of the first field named `name` (compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.all(name).next()
    }

    /// The values of every field named `name`, in order.
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The comma-separated elements of every field named `name`, trimmed and lowercased,
    /// empty elements skipped: `Connection: close`, `Transfer-Encoding: gzip, chunked`.
    pub fn tokens(&self, name: &str) -> Vec<String> {
        self.all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|t| String::from_utf8_lossy(t).trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// The head exactly as received, status line to the empty line (empty for HTTP/0.9).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

/// Why a buffer does not hold a response head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// It does not start with `HTTP/`: an HTTP/0.9 reply (the body, no head).
    Http09,
    /// It starts like a head but is not a valid one.
    Malformed(String),
}

/// Parses a response head at the start of `buf`: `Ok(Some((head, length)))` when complete,
/// `Ok(None)` when more bytes are needed.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let n = buf.len().min(5);
    if buf[..n] != b"HTTP/"[..n] {
        return Err(HeadError::Http09);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut fields);
    // RFC 9112 §5.2: a user agent replaces each obs-fold (a line break followed by a space
    // or tab) in a response with spaces and goes on, as curl does.
    let len = match httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .parse_response(&mut r, buf)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::Malformed(format!(
                "more than {MAX_HEADERS} header fields"
            )));
        }
        Err(httparse::Error::Version) => {
            return Err(HeadError::Malformed("unsupported HTTP version".into()));
        }
        Err(e) => return Err(HeadError::Malformed(format!("malformed head ({e})"))),
    };
    let version = if r.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    let head = Head {
        version,
        status: r.code.unwrap_or(0),
        reason: r.reason.unwrap_or("").to_string(),
        headers: r
            .headers
            .iter()
            .map(|h| (h.name.to_string(), unfold(h.value)))
            .collect(),
        raw: buf[..len].to_vec(),
    };
    Ok(Some((head, len)))
}

/// A field value with each obs-fold's line break (CRLF or LF) replaced by a space; the
/// whitespace after it stays (RFC 9112 §5.2: "one or more SP").
fn unfold(value: &[u8]) -> Vec<u8> {
    // Almost every value has no fold: one copy, not a push per byte.
    if !value.contains(&b'\n') {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' if value.get(i + 1) == Some(&b'\n') => {
                out.push(b' ');
                i += 2;
            }
            b'\n' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Reads the final response head from `conn`, skipping interim (1xx) responses; each head
/// received, interim or final, is passed to `seen`. The whole wait is bounded by `limit`
/// (and the connection's overall deadline).
pub(crate) fn read_head(
    conn: &mut Connection,
    limit: Duration,
    seen: &mut dyn FnMut(&Head),
) -> Result<Head, Error> {
    let until = Instant::now() + limit;
    let mut interim = 0;
    let bad = |conn: &Connection, reason: String| Error::BadResponse {
        peer: conn.peer.clone(),
        reason,
    };
    loop {
        if !conn.buffered().is_empty() {
            match parse_head(conn.buffered()) {
                Ok(Some((head, len))) => {
                    conn.consume(len);
                    seen(&head);
                    match head.status {
                        101 => {
                            return Err(bad(
                                conn,
                                "101 Switching Protocols, but no upgrade was asked for".into(),
                            ));
                        }
                        100..=199 => {
                            interim += 1;
                            if interim > MAX_INTERIM {
                                return Err(bad(
                                    conn,
                                    format!("more than {MAX_INTERIM} interim (1xx) responses"),
                                ));
                            }
                            continue;
                        }
                        _ => return Ok(head),
                    }
                }
                Ok(None) if conn.buffered().len() >= MAX_HEAD => {
                    return Err(bad(
                        conn,
                        format!("response head larger than {} KiB", MAX_HEAD / 1024),
                    ));
                }
                Ok(None) => {}
                Err(HeadError::Http09) => {
                    return Err(Error::Http09NotAllowed {
                        peer: conn.peer.clone(),
                    });
                }
                Err(HeadError::Malformed(reason)) => return Err(bad(conn, reason)),
            }
        }
        if conn.fill(Phase::Head, limit, until)? == 0 {
            return Err(if !conn.buffered().is_empty() {
                bad(
                    conn,
                    "the connection closed in the middle of the response head".into(),
                )
            } else if interim > 0 {
                bad(
                    conn,
                    "the connection closed after an interim (1xx) response".into(),
                )
            } else {
                Error::EmptyReply {
                    peer: conn.peer.clone(),
                }
            });
        }
    }
}

/// The head written as `text`, `|` between lines (`HTTP/1.1 200 OK|X-A: 1`), for tests.
#[cfg(test)]
pub(crate) fn test_head(text: &str) -> Head {
    let text = format!("{text}\r\n\r\n").replace('|', "\r\n");
    parse_head(text.as_bytes()).unwrap().unwrap().0
}

/// A `200 OK` head with `fields` (`|` between them), for the command line's tests.
#[cfg(all(test, feature = "cli"))]
pub(crate) fn test_ok_head(fields: &str) -> Head {
    test_head(&format!("HTTP/1.1 200 OK|{fields}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let (h, n) =
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello")
                .unwrap()
                .unwrap();
        assert_eq!(n, 54);
        assert_eq!(h.status(), 200);
        assert_eq!(h.reason(), "OK");
        assert_eq!(h.version(), Version::Http11);
        assert_eq!(h.header("content-length"), Some(&b"5"[..]));
        assert_eq!(h.all("X-A").collect::<Vec<_>>(), [b"1", b"2"]);
        assert_eq!(h.raw().len(), n);

        let (h, _) = parse_head(b"HTTP/1.0 404 \nConnection: Keep-Alive, Foo\n\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.version(), h.status()), (Version::Http10, 404));
        assert_eq!(h.tokens("connection"), ["keep-alive", "foo"]);

        // No reason phrase at all is allowed (RFC 9112 §4: it may be empty).
        let (h, _) = parse_head(b"HTTP/1.1 204\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.status(), h.reason()), (204, ""));
    }

    #[test]
    fn obs_folds_become_spaces() {
        // RFC 9112 §5.2: replaced with spaces, not refused (it was refused before).
        let (h, _) = parse_head(
            b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\n\tthird\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.header("x-long"), Some(&b"first   second \tthird"[..]));
        assert_eq!(h.header("content-length"), Some(&b"0"[..]));
        let (h, _) = parse_head(b"HTTP/1.1 200 OK\nX-A: a\n b\n\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.header("x-a"), Some(&b"a  b"[..]));
    }

    #[test]
    fn partial_http09_and_malformed() {
        let cases: Vec<(&[u8], Result<bool, HeadError>)> = vec![
            (b"H", Ok(false)),
            (b"HTTP/1.1 200 OK\r\nA: b\r\n", Ok(false)),
            (b"hello world", Err(HeadError::Http09)),
            (b"<html>", Err(HeadError::Http09)),
            (b"HTTX", Err(HeadError::Http09)),
            (
                b"HTTP/2 200\r\n\r\n",
                Err(HeadError::Malformed("unsupported HTTP version".into())),
            ),
        ];
        for (input, want) in cases {
            let got = parse_head(input).map(|r| r.is_some());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        match parse_head(&many) {
            Err(HeadError::Malformed(m)) => assert!(m.contains("more than 100"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
    }
}
