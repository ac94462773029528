//! The request: method, protocol version, headers (defaults plus the user's edits) and the
//! bytes of the head.

use std::fmt;

use shared::Target;

use crate::payload::Payload;

/// The request method, as far as the protocol cares: whether a body goes with it, and what
/// a redirect turns it into. Another name on the request line is [`Request::method_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`: the page.
    Get,
    /// `HEAD`: the head of the page, never a body.
    Head,
    /// `POST`: a body for the page to take (`-d`).
    Post,
    /// `PUT`: a body to store at the page (`-T`).
    Put,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
        })
    }
}

/// One request as the caller shapes it, beyond the client's settings: the method, another
/// name for it on the request line, header edits that follow redirects, and a body.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method (what redirects do with the request depends on it).
    pub method: Method,
    /// Sent on the request line instead of the method's own name, on every hop (curl's
    /// `-X`): the method still decides what redirects do. `None`: the method's name.
    pub method_name: Option<String>,
    /// Header edits applied after the client's own, on every hop (`Range`, say).
    pub headers: Vec<HeaderEdit>,
    /// The body, sent with a `Content-Length` (also when empty), or chunked when its length
    /// is unknown. It is dropped, and the method becomes GET, when a redirect says so (see
    /// `Builder::keep_post`).
    pub body: Option<Payload>,
    /// A `Content-Type` sent with the body unless the headers name one (given or removed).
    pub content_type: Option<String>,
    /// A `Range` to ask for (`bytes=0-99`: curl's `-r`), sent right after `Host` (and
    /// `Authorization`), where curl puts it.
    pub range: Option<String>,
    /// A condition on the page's date, `(name, value)`: `If-Modified-Since` or
    /// `If-Unmodified-Since` with an HTTP date (curl's `-z`), sent after `Cookie`.
    pub time_condition: Option<(String, String)>,
    /// An `Authorization` value for this request's host when the client sets none (curl's
    /// `.netrc` credentials for the host); never sent after a redirect to another host.
    pub authorization: Option<String>,
}

impl Request {
    /// A request for `method` with nothing else: no body, no extra headers.
    pub fn new(method: Method) -> Request {
        Request {
            method,
            method_name: None,
            headers: Vec::new(),
            body: None,
            content_type: None,
            range: None,
            time_condition: None,
            authorization: None,
        }
    }
}

/// An HTTP version, of a request sent or a response received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/0.9: a simple request (`GET /path`), and a reply that is the raw body up to close.
    Http09,
    /// HTTP/1.0: one request per connection.
    Http10,
    /// HTTP/1.1 (the default): persistent connections, chunked bodies.
    Http11,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http09 => "HTTP/0.9",
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// One change to the default request headers, as `-H` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEdit {
    /// The header name, as typed.
    pub name: String,
    /// The value to send, or `None` to remove a default header of that name.
    pub value: Option<String>,
    /// `value` is exactly what followed the colon, spaces included, and goes out so
    /// (`X-A:1`, `X-B:  b `), as curl sends a `-H` line; otherwise the line is
    /// `Name: value`.
    pub verbatim: bool,
}

impl HeaderEdit {
    /// `Name: value` (or, with `None`, the removal of a default header of that name).
    pub fn new(name: &str, value: Option<&str>) -> HeaderEdit {
        HeaderEdit {
            name: name.into(),
            value: value.map(Into::into),
            verbatim: false,
        }
    }
}

impl HeaderEdit {
    /// Parses curl's forms: `Name: value` adds the header (a default one of the same name
    /// is then left out), `Name:` removes a default one, `Name;` sends it with an empty
    /// value. What follows the colon is kept as typed, and sent so.
    ///
    /// Refuses names that are not HTTP tokens and values with CR, LF or NUL (they would let
    /// one `-H` smuggle another header or request in).
    pub fn parse(s: &str) -> Result<HeaderEdit, String> {
        let (name, value) = if let Some(name) = s.strip_suffix(';').filter(|n| !n.contains(':')) {
            (name, Some(String::new()))
        } else {
            let Some((name, value)) = s.split_once(':') else {
                return Err("expected 'Name: value', 'Name:' or 'Name;'".into());
            };
            let blank = value.trim_matches([' ', '\t']).is_empty();
            (name, (!blank).then(|| value.to_string()))
        };
        if name.is_empty() {
            return Err("empty header name".into());
        }
        if let Some(c) = name.chars().find(|&c| !is_token_char(c)) {
            return Err(format!("invalid character {c:?} in header name"));
        }
        if let Some(v) = &value
            && v.contains(['\r', '\n', '\0'])
        {
            return Err("header value contains CR, LF or NUL".into());
        }
        Ok(HeaderEdit {
            name: name.to_string(),
            value,
            verbatim: true,
        })
    }
}

// RFC 9110 §5.6.2: tchar.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The `User-Agent` sent unless `-A` or `-H` says otherwise: `fetch/VERSION`.
pub const USER_AGENT: &str = concat!("fetch/", env!("CARGO_PKG_VERSION"));

/// Headers whose value belongs to one host: given with `-H`, they are not sent to another
/// host or port after a redirect (a custom `Host` names the old host, and credentials or
/// cookies must not leak to a server the user never named).
pub(crate) fn is_host_bound(name: &str) -> bool {
    ["authorization", "cookie", "host"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// The defaults that depend on the client and the hop, beside `Host`, `User-Agent` and
/// `Accept`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Defaults<'a> {
    /// `Proxy-Authorization`, right after `Host` (curl's place for `-U`).
    pub(crate) proxy_authorization: Option<&'a str>,
    /// `Authorization`, after that (curl's place for `-u`).
    pub(crate) authorization: Option<&'a str>,
    /// `Range`, after that (curl's place for `-r`).
    pub(crate) range: Option<&'a str>,
    /// `User-Agent` instead of `fetch/VERSION` (`Some(None)`: none at all), after that.
    pub(crate) user_agent: Option<Option<&'a str>>,
    /// `Referer`, after `Accept`.
    pub(crate) referer: Option<&'a str>,
    /// `Connection: TE` and `TE: gzip` right after `Accept` (curl's `--tr-encoding`): a
    /// `Connection` given with `-H` is sent there, with `, TE` added.
    pub(crate) te: bool,
    /// `Accept-Encoding`, after that (curl's place for `--compressed`).
    pub(crate) accept_encoding: Option<&'a str>,
    /// `Proxy-Connection: Keep-Alive` (through a proxy, as curl), after `Referer`.
    pub(crate) proxy_connection: bool,
    /// `Transfer-Encoding: chunked` for a body of unknown length, after that.
    pub(crate) chunked: bool,
    /// `Cookie`, after that.
    pub(crate) cookie: Option<&'a str>,
    /// `If-Modified-Since` or `If-Unmodified-Since`, last.
    pub(crate) condition: Option<(&'a str, &'a str)>,
}

/// The header lines to send, each as its name and what follows the colon: the defaults in
/// curl's order (`Host`, `Proxy-Authorization`, `Authorization`, `Range`, `User-Agent`,
/// `Accept`, `Accept-Encoding`, `Referer`, `Proxy-Connection`, `Transfer-Encoding`,
/// `Cookie`, the time condition), then `edits` in order. As in curl, an edit naming a
/// default header leaves it out and is sent where the edits go (a `Host` edit takes the
/// first place instead), and one without a value only removes it; the same custom name
/// given twice is sent twice.
pub(crate) fn headers(
    target: &Target,
    defaults: Defaults<'_>,
    edits: &[&HeaderEdit],
) -> Vec<(String, String)> {
    let named = |n: &str| edits.iter().any(|e| e.name.eq_ignore_ascii_case(n));
    let mut out: Vec<(String, String, bool)> = vec![("Host".into(), target.host_header(), true)];
    if let Some(auth) = defaults.proxy_authorization {
        out.push(("Proxy-Authorization".into(), auth.into(), true));
    }
    if let Some(auth) = defaults.authorization.filter(|_| !named("authorization")) {
        out.push(("Authorization".into(), auth.into(), true));
    }
    if let Some(range) = defaults.range {
        out.push(("Range".into(), range.into(), true));
    }
    if let Some(agent) = defaults.user_agent.unwrap_or(Some(USER_AGENT)) {
        out.push(("User-Agent".into(), agent.into(), true));
    }
    out.push(("Accept".into(), "*/*".into(), true));
    let user_connection = edits
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case("connection"))
        .and_then(|e| e.value.as_deref());
    if defaults.te {
        let connection = match user_connection {
            Some(v) => format!("{}, TE", v.trim()),
            None => "TE".into(),
        };
        out.push(("Connection".into(), connection, true));
        out.push(("TE".into(), "gzip".into(), true));
    }
    if let Some(coding) = defaults.accept_encoding {
        out.push(("Accept-Encoding".into(), coding.into(), true));
    }
    if let Some(referer) = defaults.referer {
        out.push(("Referer".into(), referer.into(), true));
    }
    if defaults.proxy_connection {
        out.push(("Proxy-Connection".into(), "Keep-Alive".into(), true));
    }
    if defaults.chunked {
        out.push(("Transfer-Encoding".into(), "chunked".into(), true));
    }
    if let Some(cookie) = defaults.cookie {
        out.push(("Cookie".into(), cookie.into(), true));
    }
    if let Some((name, value)) = defaults.condition {
        out.push((name.into(), value.into(), true));
    }
    // (name, what follows the colon, whether it is a default)
    let mut out: Vec<(String, String, bool)> = out
        .into_iter()
        .map(|(n, v, d)| (n, format!(" {v}"), d))
        .collect();
    for edit in edits {
        if defaults.te && user_connection.is_some() && edit.name.eq_ignore_ascii_case("connection")
        {
            // Already sent, joined with TE.
            continue;
        }
        let default = out
            .iter()
            .position(|(n, _, d)| *d && n.eq_ignore_ascii_case(&edit.name));
        let Some(v) = &edit.value else {
            if let Some(i) = default {
                out.remove(i);
            }
            continue;
        };
        let line = (
            edit.name.clone(),
            if edit.verbatim {
                v.clone()
            } else {
                format!(" {v}")
            },
            false,
        );
        match default {
            Some(0) => out[0] = line,
            Some(i) => {
                out.remove(i);
                out.push(line);
            }
            None => out.push(line),
        }
    }
    out.into_iter().map(|(n, v, _)| (n, v)).collect()
}

/// Adds what a body needs after the other headers, in curl's order: `Content-Length` (when
/// the length is known), the default `Content-Type`, then `Expect: 100-continue` when
/// asked, each unless `edits` name it (to replace or to remove it).
pub(crate) fn body_headers(
    out: &mut Vec<(String, String)>,
    len: Option<u64>,
    content_type: Option<&str>,
    expect: bool,
    edits: &[&HeaderEdit],
) {
    let named = |n: &str| edits.iter().any(|e| e.name.eq_ignore_ascii_case(n));
    // (`Transfer-Encoding: chunked` is a default, placed earlier, where curl puts it.)
    if let Some(n) = len
        && !named("content-length")
    {
        out.push(("Content-Length".into(), format!(" {n}")));
    }
    if let (Some(t), false) = (content_type, named("content-type")) {
        out.push(("Content-Type".into(), format!(" {t}")));
    }
    if expect && !named("expect") {
        out.push(("Expect".into(), " 100-continue".into()));
    }
}

/// The bytes of the request head for `request_target` (the path, or the whole URL through
/// a proxy), each header as `Name:` and what follows the colon. HTTP/0.9 is the simple request `GET /path` with no
/// version and no headers.
pub(crate) fn head(
    method: &str,
    request_target: &str,
    version: Version,
    headers: &[(String, String)],
) -> Vec<u8> {
    if version == Version::Http09 {
        return format!("GET {request_target}\r\n").into_bytes();
    }
    let mut out = format!("{method} {request_target} {version}\r\n");
    for (name, value) in headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(name: &str, value: Option<&str>) -> HeaderEdit {
        HeaderEdit::new(name, value)
    }

    fn typed(name: &str, value: Option<&str>) -> HeaderEdit {
        HeaderEdit {
            verbatim: true,
            ..HeaderEdit::new(name, value)
        }
    }

    #[test]
    fn header_edits_parse_like_curl() {
        // What follows the colon is kept as typed: curl sends it so.
        let ok = [
            ("X-A: 1", typed("X-A", Some(" 1"))),
            ("X-A:1", typed("X-A", Some("1"))),
            ("X-A:   spaced out  ", typed("X-A", Some("   spaced out  "))),
            ("Accept:", typed("Accept", None)),
            ("Accept:   ", typed("Accept", None)),
            ("X-Empty;", typed("X-Empty", Some(""))),
            ("X-Url: http://a/b", typed("X-Url", Some(" http://a/b"))),
        ];
        for (input, want) in ok {
            assert_eq!(HeaderEdit::parse(input).unwrap(), want, "{input:?}");
        }
        let bad = [
            ("novalue", "expected 'Name: value'"),
            (": v", "empty header name"),
            ("Bad Name: v", "invalid character ' '"),
            ("X: a\r\nEvil: 1", "CR, LF or NUL"),
            (";", "empty header name"),
        ];
        for (input, want) in bad {
            let err = HeaderEdit::parse(input).unwrap_err();
            assert!(err.contains(want), "{input:?}: {err}");
        }
    }

    #[test]
    fn default_headers_and_edits() {
        let t = Target::parse("[::1]:8080/x").unwrap();
        let names = |edits: &[HeaderEdit]| {
            let refs: Vec<&HeaderEdit> = edits.iter().collect();
            headers(&t, Defaults::default(), &refs)
                .into_iter()
                .map(|(n, v)| format!("{n}:{v}"))
                .collect::<Vec<_>>()
        };
        let ua = format!("User-Agent: {USER_AGENT}");
        let cases: Vec<(Vec<HeaderEdit>, Vec<String>)> = vec![
            (
                vec![],
                vec!["Host: [::1]:8080".into(), ua.clone(), "Accept: */*".into()],
            ),
            (
                // As curl: the default goes, the edit is sent among the edits, as typed.
                vec![typed("accept", Some("text/html")), edit("X-A", Some("1"))],
                vec![
                    "Host: [::1]:8080".into(),
                    ua.clone(),
                    "accept:text/html".into(),
                    "X-A: 1".into(),
                ],
            ),
            (
                vec![edit("X-A", Some("1")), edit("host", Some("other.test"))],
                vec![
                    "host: other.test".into(),
                    ua.clone(),
                    "Accept: */*".into(),
                    "X-A: 1".into(),
                ],
            ),
            (
                vec![edit("User-Agent", None), edit("X-Gone", None)],
                vec!["Host: [::1]:8080".into(), "Accept: */*".into()],
            ),
            (
                vec![edit("X-A", Some("1")), edit("X-A", Some("2"))],
                vec![
                    "Host: [::1]:8080".into(),
                    ua.clone(),
                    "Accept: */*".into(),
                    "X-A: 1".into(),
                    "X-A: 2".into(),
                ],
            ),
        ];
        for (edits, want) in cases {
            assert_eq!(names(&edits), want, "{edits:?}");
        }
    }

    #[test]
    fn authorization_and_referer_sit_where_curl_puts_them() {
        let t = Target::parse("h:1/").unwrap();
        let d = Defaults {
            proxy_authorization: None,
            proxy_connection: false,
            accept_encoding: None,
            te: false,
            chunked: false,
            authorization: Some("Basic x"),
            range: None,
            user_agent: None,
            referer: Some("http://r/"),
            cookie: None,
            condition: None,
        };
        let names = |edits: &[&HeaderEdit]| {
            headers(&t, d, edits)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(names(&[]), "Host,Authorization,User-Agent,Accept,Referer");
        let bearer = edit("Authorization", Some("Bearer y"));
        assert_eq!(
            names(&[&bearer]),
            "Host,User-Agent,Accept,Referer,Authorization"
        );
    }

    #[test]
    fn request_heads() {
        let t = Target::parse("example.com:8080/a?b=c").unwrap();
        let h = headers(&t, Defaults::default(), &[]);
        let got = String::from_utf8(head("HEAD", &t.path, Version::Http11, &h)).unwrap();
        assert_eq!(
            got,
            format!(
                "HEAD /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: {USER_AGENT}\r\n\
                 Accept: */*\r\n\r\n"
            )
        );
        let simple = head("GET", &t.path, Version::Http09, &h);
        assert_eq!(simple, b"GET /a?b=c\r\n");
        let plain = Target::parse("example.com").unwrap();
        let h = headers(&plain, Defaults::default(), &[]);
        let got = String::from_utf8(head("GET", &plain.path, Version::Http10, &h)).unwrap();
        assert!(
            got.starts_with("GET / HTTP/1.0\r\nHost: example.com\r\n"),
            "{got}"
        );
    }
}
