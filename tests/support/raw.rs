//! A raw HTTP client for tests: exact bytes out, and the reply read back as bytes, as one
//! parsed response, or until the server closes.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a raw connection waits on any one read or write.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a TCP connection with `TIMEOUT` on reads and writes.
#[track_caller]
pub fn connect(addr: impl ToSocketAddrs) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Reads into `out` until the peer closes (a reset after the data counts as a close) or
/// `done(out)` holds.
fn read_until(
    s: &mut impl Read,
    out: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> bool,
) -> std::io::Result<()> {
    let mut buf = [0u8; 64 * 1024];
    while !done(out) {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until the peer closes (a reset after the data counts as a close).
#[track_caller]
pub fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = read_until(s, &mut out, |_| false) {
        panic!("read: {e} after {} bytes", out.len());
    }
    out
}

/// Reads one reply: until a head and its Content-Length body (none without one) are in,
/// or until the server closes. For replies that may be no HTTP at all (HTTP/0.9, nothing).
#[track_caller]
pub fn read_reply(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let whole = |got: &[u8]| matches!(head_of(got), Ok(Some(h)) if got.len() >= h.len + h.body_len.unwrap_or(0));
    if let Err(e) = read_until(s, &mut out, whole) {
        panic!("read: {e} after {:?}", String::from_utf8_lossy(&out));
    }
    out
}

/// Connects (within 5 s), sends `raw`, and reads until the server closes or 5 s pass
/// without a byte; `None` if it could not connect or send. For probes and load, where a
/// failure is an answer rather than a panic.
pub fn exchange(addr: impl ToSocketAddrs, raw: &[u8]) -> Option<Vec<u8>> {
    let addr = addr.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    s.write_all(raw).ok()?;
    let mut out = Vec::new();
    let _ = read_until(&mut s, &mut out, |_| false);
    Some(out)
}

/// `GET TARGET HTTP/1.1` with `Host: x` and `Connection: close`.
pub fn get_close(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
}

/// The status code of a reply that starts with a whole response head.
pub fn status_of(reply: &[u8]) -> Option<u16> {
    match head_of(reply) {
        Ok(Some(h)) => Some(h.status),
        _ => None,
    }
}

/// One parsed response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body bytes (Content-Length framed; none for HEAD when `head` is set).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A whole response head at the start of some bytes.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    /// The head's length, up to and with its empty line.
    len: usize,
    /// Its Content-Length, if it has one that parses.
    body_len: Option<usize>,
}

/// Parses the response head at the start of `bytes`: `Ok(None)` while it is incomplete.
fn head_of(bytes: &[u8]) -> Result<Option<Head>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(len) = resp.parse(bytes)? else {
        return Ok(None);
    };
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let body_len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok());
    Ok(Some(Head {
        status: resp.code.unwrap_or(0),
        headers,
        len,
        body_len,
    }))
}

/// Reads one Content-Length-framed response from a persistent connection, keeping any
/// bytes after it in `pending` for the next call. Says what went wrong instead of
/// panicking: for load, where a torn response is counted, not fatal.
pub fn try_read_response(
    s: &mut impl Read,
    pending: &mut Vec<u8>,
    head_only: bool,
) -> Result<Response, String> {
    let mut buf = [0u8; 64 * 1024];
    let head = loop {
        if let Some(head) = head_of(pending).map_err(|e| format!("a bad response head: {e}"))? {
            break head;
        }
        let got = s.read(&mut buf).map_err(|e| format!("read head: {e}"))?;
        if got == 0 {
            return Err(format!(
                "closed before a whole response head: {:?}",
                String::from_utf8_lossy(pending)
            ));
        }
        pending.extend_from_slice(&buf[..got]);
    };
    let len = if head_only || head.status == 204 || head.status == 304 {
        0
    } else {
        head.body_len.ok_or("no content-length")?
    };
    while pending.len() < head.len + len {
        let got = s.read(&mut buf).map_err(|e| format!("read body: {e}"))?;
        if got == 0 {
            return Err(format!(
                "closed after {} of {len} body bytes",
                pending.len() - head.len
            ));
        }
        pending.extend_from_slice(&buf[..got]);
    }
    let body = pending[head.len..head.len + len].to_vec();
    pending.drain(..head.len + len);
    Ok(Response {
        status: head.status,
        headers: head.headers,
        body,
    })
}

/// `try_read_response`, failing the test on any error.
#[track_caller]
pub fn read_response(s: &mut impl Read, pending: &mut Vec<u8>, head_only: bool) -> Response {
    try_read_response(s, pending, head_only).unwrap_or_else(|e| panic!("{e}"))
}

/// Sends one request on `s` and reads its response; nothing may follow it.
#[track_caller]
pub fn request(s: &mut TcpStream, raw: &str) -> Response {
    s.write_all(raw.as_bytes()).unwrap();
    let mut pending = Vec::new();
    let r = read_response(s, &mut pending, raw.starts_with("HEAD "));
    assert!(pending.is_empty(), "unexpected bytes after the response");
    r
}
