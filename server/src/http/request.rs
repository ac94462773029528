//! The request head: read with `httparse` from a capped buffer, then validated (version,
//! Host, framing, target) into a [`Request`] or a [`Rejection`] with its status.

use crate::http::conditional::Conditions;

/// The most bytes a request head (request line and headers) may take.
pub const HEAD_CAP: usize = 16 * 1024;
/// The longest request line; a longer one is 414 (nginx's default buffer is 8 KiB too).
pub const MAX_LINE: usize = 8 * 1024;
/// The most headers a request may carry.
pub(crate) const MAX_HEADERS: usize = 100;
/// The largest request body (on GET, HEAD, ...) that is read and thrown away; a larger one
/// is answered 413 and the connection closed.
pub const BODY_CAP: usize = 16 * 1024;

/// The protocol version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// A simple request, `GET /path` with no version: the raw body, then close.
    Http09,
    /// HTTP/1.0: persistent only when asked with `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: persistent unless `Connection: close`.
    Http11,
}

/// The methods this server tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET: the file.
    Get,
    /// HEAD: the same head, no body.
    Head,
    /// OPTIONS: 204 with `Allow`.
    Options,
    /// PUT: an upload of one file (`--upload`), else 405.
    Put,
    /// POST: a form's files uploaded to a folder (`--upload`), else 405.
    Post,
    /// Anything else: 405 with `Allow`.
    Other,
}

/// A request head that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path and query, origin-form (an absolute-form target is reduced to its path), or
    /// `*` (only with OPTIONS).
    pub target: String,
    /// The version.
    pub version: Version,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// The request line as received (for the access log).
    pub line: String,
    /// Bytes of the buffer the request takes, head and (discarded) body.
    pub len: usize,
    /// The header fields the responder and the log use.
    pub fields: Fields,
    /// For PUT and POST: how the body that follows the head is framed. Their body is not
    /// part of [`Request::len`]: an upload takes it, or the connection closes.
    pub body: Option<BodyFraming>,
}

/// How an upload's body is framed, as its head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyFraming {
    /// `Content-Length`, if given.
    pub length: Option<u64>,
    /// `Transfer-Encoding: chunked` (never with a Content-Length).
    pub chunked: bool,
}

/// The request header fields this server acts on (each the first occurrence, as received).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Preconditions: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.
    pub conditions: Conditions,
    /// `Range`.
    pub range: Option<String>,
    /// `If-Range`.
    pub if_range: Option<String>,
    /// `Accept` (JSON listings).
    pub accept: Option<String>,
    /// `Accept-Encoding` (precompressed files).
    pub accept_encoding: Option<String>,
    /// `Origin` (CORS).
    pub origin: Option<String>,
    /// `Access-Control-Request-Method` (CORS preflight).
    pub ac_request_method: Option<String>,
    /// `Access-Control-Request-Headers` (CORS preflight).
    pub ac_request_headers: Option<String>,
    /// `Referer` (combined and JSON logs).
    pub referer: Option<String>,
    /// `User-Agent` (combined and JSON logs).
    pub user_agent: Option<String>,
    /// `Authorization` (`--auth`).
    pub authorization: Option<String>,
    /// `Content-Type` (multipart uploads).
    pub content_type: Option<String>,
    /// `Expect` (`100-continue` before an upload's body).
    pub expect: Option<String>,
    /// `Want-Repr-Digest` (RFC 9530): which digest of a file to send.
    pub want_repr_digest: Option<String>,
    /// `Host` (the `https://` URL a plain request on the TLS port is sent to).
    pub host: Option<String>,
}

impl Fields {
    /// Keeps `value` under `name` if it is one of ours (first occurrence wins). Values that
    /// are not UTF-8 are kept lossily; they can only fail to match.
    fn take(&mut self, name: &str, value: &[u8]) {
        let slot = match name.len() {
            4 if name.eq_ignore_ascii_case("host") => &mut self.host,
            5 if name.eq_ignore_ascii_case("range") => &mut self.range,
            6 if name.eq_ignore_ascii_case("accept") => &mut self.accept,
            6 if name.eq_ignore_ascii_case("origin") => &mut self.origin,
            6 if name.eq_ignore_ascii_case("expect") => &mut self.expect,
            7 if name.eq_ignore_ascii_case("referer") => &mut self.referer,
            8 if name.eq_ignore_ascii_case("if-match") => &mut self.conditions.if_match,
            8 if name.eq_ignore_ascii_case("if-range") => &mut self.if_range,
            10 if name.eq_ignore_ascii_case("user-agent") => &mut self.user_agent,
            13 if name.eq_ignore_ascii_case("if-none-match") => &mut self.conditions.if_none_match,
            13 if name.eq_ignore_ascii_case("authorization") => &mut self.authorization,
            12 if name.eq_ignore_ascii_case("content-type") => &mut self.content_type,
            15 if name.eq_ignore_ascii_case("accept-encoding") => &mut self.accept_encoding,
            16 if name.eq_ignore_ascii_case("want-repr-digest") => &mut self.want_repr_digest,
            17 if name.eq_ignore_ascii_case("if-modified-since") => {
                &mut self.conditions.if_modified_since
            }
            19 if name.eq_ignore_ascii_case("if-unmodified-since") => {
                &mut self.conditions.if_unmodified_since
            }
            29 if name.eq_ignore_ascii_case("access-control-request-method") => {
                &mut self.ac_request_method
            }
            30 if name.eq_ignore_ascii_case("access-control-request-headers") => {
                &mut self.ac_request_headers
            }
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
}

/// A request the server refuses, with the status to answer; the connection is closed after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 400, 405, 413, 414, 431 or 505.
    pub status: u16,
    /// The request line as far as it could be read (for the access log).
    pub line: String,
}

/// What the buffered bytes amount to so far.
#[derive(Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // Returned once per request and matched at once; a Box would cost an allocation each time.
pub enum Parsed {
    /// A whole request (head and any small body) is in the buffer.
    Complete(Request),
    /// More bytes are needed.
    Partial,
    /// The request is refused.
    Invalid(Rejection),
}

/// Parses the start of `buf` as one request.
///
/// Leading empty lines are skipped (RFC 9112 §2.2). A request line with no version is an
/// HTTP/0.9 simple request (GET only). A request line longer than [`MAX_LINE`] is 414; a head
/// that does not fit in [`HEAD_CAP`] bytes is 431. A small body (Content-Length up to
/// [`BODY_CAP`]) must arrive too before the request counts as complete; it is then skipped.
pub fn parse(buf: &[u8]) -> Parsed {
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let buf = &buf[skip..];
    let (line_bytes, nl) = match request_line(buf) {
        Ok(found) => found,
        Err(unfinished) => return unfinished.into(),
    };
    if let Some(req) = simple_request(line_bytes) {
        return Parsed::Complete(Request {
            len: skip + nl + 1,
            ..req
        });
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match whole_head(&mut req, buf, line_bytes) {
        Ok(n) => n,
        Err(unfinished) => return unfinished.into(),
    };
    let line = escape(line_bytes);
    let bad = |status| {
        Parsed::Invalid(Rejection {
            status,
            line: line.clone(),
        })
    };
    let version = if req.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    let method = match req.method.unwrap_or("") {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let head = match Head::read(req.headers, method, version) {
        Ok(head) => head,
        Err(status) => return bad(status),
    };
    let upload = matches!(method, Method::Put | Method::Post).then_some(BodyFraming {
        length: head.length,
        chunked: head.chunked,
    });
    // An upload's body is the upload's to take; any other body is small, read and skipped.
    let body = if upload.is_some() {
        0
    } else {
        head.length.unwrap_or(0)
    };
    if body > BODY_CAP as u64 {
        return bad(413);
    }
    let Some(target) = origin_form(req.path.unwrap_or(""), method) else {
        return bad(400);
    };
    let len = skip + head_len + body as usize;
    if buf.len() + skip < len {
        return Parsed::Partial;
    }
    let keep_alive = match version {
        Version::Http11 => !head.close,
        _ => head.keep_alive && !head.close,
    };
    Parsed::Complete(Request {
        method,
        target,
        version,
        keep_alive,
        line,
        len,
        fields: head.fields,
        body: upload,
    })
}

/// The request line at the start of `buf` (without its CRLF) and where its LF is; 414 past
/// [`MAX_LINE`], or `Partial` until its end has come.
fn request_line(buf: &[u8]) -> Result<(&[u8], usize), Unfinished> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        return Err(if buf.len() > MAX_LINE {
            refused(414, buf)
        } else {
            Unfinished::Partial
        });
    };
    if nl > MAX_LINE {
        return Err(refused(414, &buf[..nl]));
    }
    Ok((buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]), nl))
}

/// The whole head parsed by httparse into `req`: its length, or `Partial` until it has
/// come, 431 past [`HEAD_CAP`] or [`MAX_HEADERS`], 505 for a version we do not speak, 400
/// for anything malformed.
fn whole_head<'h, 'b>(
    req: &mut httparse::Request<'h, 'b>,
    buf: &'b [u8],
    line: &[u8],
) -> Result<usize, Unfinished> {
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= HEAD_CAP => return Err(refused(431, line)),
        Ok(httparse::Status::Partial) => return Err(Unfinished::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(refused(431, line)),
        Err(httparse::Error::Version) => {
            // `GET / HTTP/2.0` is well formed but a version we do not speak; `http/1.1`
            // or garbage is malformed.
            let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            let status = match parts.as_slice() {
                [_, _, v] if v.starts_with(b"HTTP/") => 505,
                _ => 400,
            };
            return Err(refused(status, line));
        }
        Err(_) => return Err(refused(400, line)),
    };
    if head_len > HEAD_CAP {
        return Err(refused(431, line));
    }
    Ok(head_len)
}

fn refused(status: u16, line: &[u8]) -> Unfinished {
    Unfinished::Refused(rejection(status, line))
}

/// What the header fields say of the body's framing and the connection, and the fields
/// kept for the steps.
struct Head {
    fields: Fields,
    length: Option<u64>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

impl Head {
    /// Reads every field; `Err` is the status (400) for a head that is ambiguous: no single
    /// `Host` where one is needed, `Content-Length`s that disagree, or a `Transfer-Encoding`
    /// other than one `chunked` on an upload with no `Content-Length`.
    fn read(
        headers: &[httparse::Header<'_>],
        method: Method,
        version: Version,
    ) -> Result<Head, u16> {
        let mut head = Head {
            fields: Fields::default(),
            length: None,
            chunked: false,
            close: false,
            keep_alive: false,
        };
        let mut hosts = 0;
        for h in headers {
            if h.name.eq_ignore_ascii_case("host") {
                hosts += 1;
                head.fields.take(h.name, h.value);
            } else if h.name.eq_ignore_ascii_case("content-length") {
                // `Content-Length: 5, 5` and repeated headers must all agree (RFC 9110 §8.6).
                if shared::fold_content_length(&mut head.length, h.value).is_err() {
                    return Err(400);
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // Only an upload's body may be chunked (and nothing else: no other coding);
                // a second Transfer-Encoding, or one beside a Content-Length (checked
                // below), is the classic smuggling shape: refuse and close.
                if !matches!(method, Method::Put | Method::Post)
                    || head.chunked
                    || !h.value.trim_ascii().eq_ignore_ascii_case(b"chunked")
                {
                    return Err(400);
                }
                head.chunked = true;
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    head.close |= token.eq_ignore_ascii_case(b"close");
                    head.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            } else {
                head.fields.take(h.name, h.value);
            }
        }
        if version == Version::Http11 && hosts != 1 || hosts > 1 {
            return Err(400);
        }
        if head.chunked && head.length.is_some() {
            return Err(400);
        }
        Ok(head)
    }
}

/// `GET /path` with no version: an HTTP/0.9 simple request.
fn simple_request(line: &[u8]) -> Option<Request> {
    let rest = line.strip_prefix(b"GET ")?;
    if !rest.starts_with(b"/") || rest.contains(&b' ') || rest.iter().any(|b| b.is_ascii_control())
    {
        return None;
    }
    Some(Request {
        method: Method::Get,
        target: String::from_utf8(rest.to_vec()).ok()?,
        version: Version::Http09,
        keep_alive: false,
        line: escape(line),
        len: 0,
        fields: Fields::default(),
        body: None,
    })
}

/// Reduces a request target to origin-form: `/path?q` as is, `http://host/path` to `/path`,
/// `*` only for OPTIONS. Anything else (authority-form, relative paths) is `None`.
fn origin_form(target: &str, method: Method) -> Option<String> {
    if target.starts_with('/') {
        return Some(target.to_string());
    }
    if target == "*" {
        return (method == Method::Options).then(|| "*".to_string());
    }
    let lower = target.get(..7)?.to_ascii_lowercase();
    if lower != "http://" {
        return None;
    }
    let rest = &target[7..];
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => Some(rest[i..].to_string()),
        Some(i) => Some(format!("/{}", &rest[i..])),
        None => Some("/".to_string()),
    }
}

fn rejection(status: u16, line: &[u8]) -> Rejection {
    // Keep the log line short even when the request line was the problem.
    let shown = &line[..line.len().min(200)];
    Rejection {
        status,
        line: escape(shown),
    }
}

/// Why the bytes at the start of the buffer are not (yet) a head.
enum Unfinished {
    /// More bytes are needed.
    Partial,
    /// Refused.
    Refused(Rejection),
}

impl From<Unfinished> for Parsed {
    fn from(u: Unfinished) -> Parsed {
        match u {
            Unfinished::Partial => Parsed::Partial,
            Unfinished::Refused(r) => Parsed::Invalid(r),
        }
    }
}

/// The bytes as log-safe text: printable ASCII as is; `"`, `\`, control and non-ASCII bytes
/// as `\xHH`, so a request cannot forge log lines or terminal escapes.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(raw: &[u8]) -> u16 {
        match parse(raw) {
            Parsed::Invalid(r) => r.status,
            Parsed::Complete(_) => 200,
            Parsed::Partial => 0,
        }
    }

    #[test]
    fn statuses_for_requests() {
        let long_target = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_LINE));
        let long_unfinished = format!("GET /{}", "a".repeat(MAX_LINE));
        let big_head = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n",
            "b".repeat(HEAD_CAP)
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        let cases: &[(&[u8], u16)] = &[
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200),
            (b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 200),
            (b"GET / HTTP/1.1\nHost: x\n\n", 200),
            (b"GET / HTTP/1.0\r\n\r\n", 200),
            (b"GET /\r\n", 200),
            (b"GET / HTTP/1.1\r\nHost: x\r\n", 0),
            (b"GET / HTT", 0),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 200),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab", 0),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", 413),
            (b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
            (b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400),
            (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET\r\n", 400),
            (b"GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200),
            (b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (long_target.as_bytes(), 414),
            (long_unfinished.as_bytes(), 414),
            (big_head.as_bytes(), 431),
            (many.as_bytes(), 431),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", 400),
        ];
        for (raw, want) in cases {
            let shown = String::from_utf8_lossy(&raw[..raw.len().min(80)]);
            assert_eq!(status(raw), *want, "request {shown:?}");
        }
    }

    #[test]
    fn persistence_follows_the_version() {
        let cases: &[(&[u8], bool)] = &[
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
            (b"GET /\r\n", false),
        ];
        for (raw, want) in cases {
            let Parsed::Complete(req) = parse(raw) else {
                panic!("{raw:?}")
            };
            assert_eq!(req.keep_alive, *want, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn request_fields() {
        let raw = b"GET http://example.com/a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhiGET /next";
        let Parsed::Complete(req) = parse(raw) else {
            panic!()
        };
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.target, "/a%20b?x=1");
        assert_eq!(req.version, Version::Http11);
        assert_eq!(req.line, "GET http://example.com/a%20b?x=1 HTTP/1.1");
        assert_eq!(
            &raw[req.len..],
            b"GET /next",
            "head and body consumed, next request kept"
        );

        let Parsed::Complete(req) = parse(b"HEAD http://h?q HTTP/1.1\r\nHost: h\r\n\r\n") else {
            panic!()
        };
        assert_eq!((req.method, req.target.as_str()), (Method::Head, "/?q"));
        let Parsed::Complete(req) = parse(b"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n") else {
            panic!()
        };
        assert_eq!(req.method, Method::Other);
        let Parsed::Complete(req) = parse(b"GET /x\r\n") else {
            panic!()
        };
        assert_eq!(
            (req.version, req.target.as_str(), req.len),
            (Version::Http09, "/x", 8)
        );
    }

    #[test]
    fn fields_we_act_on_are_kept() {
        let raw = b"GET / HTTP/1.1\r\nHost: x\r\nRANGE: bytes=0-1\r\nRange: bytes=5-6\r\nIf-None-Match: \"a\"\r\nUser-Agent: t/1\r\nX-Other: y\r\n\r\n";
        let Parsed::Complete(req) = parse(raw) else {
            panic!()
        };
        assert_eq!(
            req.fields.range.as_deref(),
            Some("bytes=0-1"),
            "first occurrence wins"
        );
        assert_eq!(
            req.fields.conditions.if_none_match.as_deref(),
            Some("\"a\"")
        );
        assert_eq!(req.fields.user_agent.as_deref(), Some("t/1"));
        assert_eq!(req.fields.accept, None);
    }

    #[test]
    fn escapes_for_the_log() {
        assert_eq!(escape(b"GET /\x1b[31m\"x\\"), "GET /\\x1b[31m\\x22x\\x5c");
        assert_eq!(escape("é".as_bytes()), "\\xc3\\xa9");
    }
}
