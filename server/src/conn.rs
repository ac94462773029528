//! The connection loop: the whole life of a connection on a worker, written down in one
//! place. Read a head into the capped buffer, answer it, and either go on with the next
//! buffered request, hand the idle connection to the parker, or close gracefully.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use shared::{Address, Stream};

use crate::files::{self, Mapped};
use crate::request::{self, BODY_CAP, HEAD_CAP, Method, Parsed, Request, Version};
use crate::response::{self, ALLOW, Persist};
use crate::server::Ctx;

/// How long a worker waits on an idle connection for its next request, when no other
/// connection is queued, before parking it: long enough to catch a client's back-to-back
/// request on loopback or a LAN, short enough that idle clients never hold the pool.
pub const WORKER_WAIT: Duration = Duration::from_millis(2);

/// How long a closing connection is drained of late client bytes after our FIN, so that
/// they cannot provoke a reset that would destroy a response the client has not read yet.
pub const LINGER: Duration = Duration::from_secs(2);

/// Bodies up to this size are read into memory and sent with the head in one write; larger
/// ones go out by sendfile after the head.
const SMALL_BODY: u64 = 32 * 1024;

/// The buffer never grows beyond one maximal head and one maximal discarded body.
const BUF_CAP: usize = HEAD_CAP + BODY_CAP;

/// Counts open connections; the count drops when the connection does.
#[derive(Debug)]
pub struct OpenGuard(Arc<AtomicUsize>);

impl OpenGuard {
    /// Counts one more open connection on `counter`.
    pub fn new(counter: &Arc<AtomicUsize>) -> OpenGuard {
        counter.fetch_add(1, Ordering::AcqRel);
        OpenGuard(Arc::clone(counter))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One client connection and what has been read from it.
#[derive(Debug)]
pub struct Conn {
    pub(crate) stream: Stream,
    peer: String,
    buf: Vec<u8>,
    // When the head being read must be complete: set from accept and from the first byte of
    // each request, cleared after each response (an idle keep-alive wait has its own limit).
    head_deadline: Option<Instant>,
    _open: OpenGuard,
}

/// Why a connection is parked, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Waiting for (more of) a request until this instant.
    Request(Instant),
    /// Closing: our side is shut; drain the client's late bytes until this instant.
    Linger(Instant),
}

impl Wait {
    /// The instant the wait ends.
    pub fn deadline(self) -> Instant {
        match self {
            Wait::Request(d) | Wait::Linger(d) => d,
        }
    }
}

/// What happens to a connection after a worker is done with it for now.
#[derive(Debug)]
pub enum Next {
    /// Closed (or to be closed by dropping).
    Done,
    /// Hand to the parker until readable or the deadline.
    Park(Conn, Wait),
}

impl Conn {
    /// A newly accepted connection; its first request head must arrive within
    /// `header_timeout`.
    pub fn new(stream: Stream, peer: &Address, header_timeout: Duration, open: OpenGuard) -> Conn {
        Conn {
            stream,
            peer: peer_text(peer),
            buf: Vec::new(),
            head_deadline: Some(Instant::now() + header_timeout),
            _open: open,
        }
    }

    /// The parker's deadline passed: a request head that started but never finished gets
    /// 408; an idle connection or a finished linger just closes.
    pub fn expire(mut self, ctx: &Ctx, wait: Wait) {
        if matches!(wait, Wait::Request(_)) && !self.buf.is_empty() {
            let line = request::escape(first_line(&self.buf));
            let _ = self.send_error(ctx, 408, Persist::Close, &line, Version::Http11);
        }
    }

    /// Reads and discards what a lingering client sent. Returns true when the client has
    /// closed its side (or failed), so the connection can be dropped.
    pub fn drain(&mut self) -> bool {
        let mut scratch = [0u8; 4096];
        loop {
            match self.stream.read_nowait(&mut scratch) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
    }

    /// Answers an error status with a short text body.
    fn send_error(
        &mut self,
        ctx: &Ctx,
        status: u16,
        persist: Persist,
        line: &str,
        version: Version,
    ) -> io::Result<()> {
        let body = response::error_body(status);
        let mut out = Vec::with_capacity(256);
        if version != Version::Http09 {
            let extra: &[(&str, &str)] = if status == 405 {
                &[("Allow", ALLOW)]
            } else {
                &[]
            };
            response::head(
                &mut out,
                status,
                Some("text/plain; charset=utf-8"),
                body.len() as u64,
                persist,
                extra,
            );
        }
        out.extend_from_slice(body.as_bytes());
        ctx.log.request(&self.peer, line, status, body.len() as u64);
        self.stream.write_all(&out)
    }

    /// Half-closes and drains, so the client reads the whole response; then closes, or
    /// parks to linger if the client is still sending.
    fn close_gracefully(mut self) -> Next {
        if self.stream.shutdown(Shutdown::Write).is_err() || self.drain() {
            return Next::Done;
        }
        self.buf = Vec::new();
        Next::Park(self, Wait::Linger(Instant::now() + LINGER))
    }

    /// Reads what is available into the buffer. `wait` allows one short blocking read.
    fn fill(&mut self, wait: bool) -> io::Result<usize> {
        let old = self.buf.len();
        let room = (BUF_CAP - old).min(16 * 1024);
        if room == 0 {
            return Err(io::Error::other("request buffer full"));
        }
        self.buf.resize(old + room, 0);
        let got = if wait {
            (&self.stream).read(&mut self.buf[old..])
        } else {
            self.stream.read_nowait(&mut self.buf[old..])
        };
        self.buf.truncate(old + *got.as_ref().unwrap_or(&0));
        got
    }
}

/// Serves `conn` until it is closed or idle. `out` is the worker's reusable output buffer.
pub fn serve(mut conn: Conn, ctx: &Ctx, out: &mut Vec<u8>) -> Next {
    let mut waited = false;
    loop {
        if !conn.buf.is_empty() {
            match request::parse(&conn.buf) {
                Parsed::Complete(req) => {
                    let kept = respond(&mut conn, &req, ctx, out);
                    conn.buf.drain(..req.len);
                    conn.head_deadline = None;
                    match kept {
                        Ok(true) if !ctx.stopping() => {
                            waited = false;
                            continue;
                        }
                        Ok(_) => return conn.close_gracefully(),
                        Err(_) => return Next::Done,
                    }
                }
                Parsed::Invalid(rej) => {
                    return match conn.send_error(
                        ctx,
                        rej.status,
                        Persist::Close,
                        &rej.line,
                        Version::Http11,
                    ) {
                        Ok(()) => conn.close_gracefully(),
                        Err(_) => Next::Done,
                    };
                }
                Parsed::Partial => {}
            }
        }
        if let Some(deadline) = conn.head_deadline
            && Instant::now() >= deadline
        {
            conn.expire(ctx, Wait::Request(deadline));
            return Next::Done;
        }
        if ctx.stopping() && conn.buf.is_empty() {
            return Next::Done;
        }
        let got = match conn.fill(false) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !waited && ctx.queue_is_empty() => {
                // Nobody else is waiting for a worker: give this client a moment to send
                // its next request before paying for a trip through the parker.
                waited = true;
                conn.fill(true)
            }
            other => other,
        };
        match got {
            Ok(0) => return Next::Done,
            Ok(_) => {
                if conn.head_deadline.is_none() {
                    conn.head_deadline = Some(Instant::now() + ctx.header_timeout);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let deadline = conn
                    .head_deadline
                    .unwrap_or_else(|| Instant::now() + ctx.keep_alive);
                if conn.buf.is_empty() {
                    // Idle: hold no buffer memory while parked.
                    conn.buf = Vec::new();
                }
                return Next::Park(conn, Wait::Request(deadline));
            }
            Err(_) => return Next::Done,
        }
    }
}

/// Answers one request. `Ok(true)`: the connection stays open; `Ok(false)`: close it
/// gracefully; `Err`: the connection failed (or the response was cut short) and is dropped.
fn respond(conn: &mut Conn, req: &Request, ctx: &Ctx, out: &mut Vec<u8>) -> io::Result<bool> {
    let persist = match (req.keep_alive && !ctx.stopping(), req.version) {
        (false, _) => Persist::Close,
        (true, Version::Http10) => Persist::KeepAlive10,
        (true, _) => Persist::KeepAlive,
    };
    let keep = persist != Persist::Close;
    match req.method {
        Method::Options => {
            response::head(out, 204, None, 0, persist, &[("Allow", ALLOW)]);
            ctx.log.request(&conn.peer, &req.line, 204, 0);
            conn.stream.write_all(out)?;
            return Ok(keep);
        }
        Method::Other => {
            conn.send_error(ctx, 405, persist, &req.line, req.version)?;
            return Ok(keep);
        }
        Method::Get | Method::Head => {}
    }
    let persist09 = if req.version == Version::Http09 {
        Persist::Close
    } else {
        persist
    };
    let (path, _meta) = match files::map(&ctx.root, &req.target) {
        Ok(Mapped::File { path, meta }) => (path, meta),
        Ok(Mapped::Redirect(location)) => {
            let body = format!("Moved to {location}\n");
            if req.version == Version::Http09 {
                out.clear();
            } else {
                let extra = [("Location", location.as_str())];
                response::head(
                    out,
                    301,
                    Some("text/plain; charset=utf-8"),
                    body.len() as u64,
                    persist,
                    &extra,
                );
            }
            if req.method == Method::Get {
                out.extend_from_slice(body.as_bytes());
            }
            ctx.log
                .request(&conn.peer, &req.line, 301, body.len() as u64);
            conn.stream.write_all(out)?;
            return Ok(keep && req.version != Version::Http09);
        }
        Err(refused) => {
            conn.send_error(ctx, refused.status(), persist09, &req.line, req.version)?;
            return Ok(keep && req.version != Version::Http09);
        }
    };
    let mut file = match open(&path) {
        Ok(f) => f,
        Err(e) => {
            let status = if e.kind() == io::ErrorKind::PermissionDenied {
                403
            } else {
                404
            };
            conn.send_error(ctx, status, persist09, &req.line, req.version)?;
            return Ok(keep && req.version != Version::Http09);
        }
    };
    let len = file.metadata()?.len();
    if req.version == Version::Http09 {
        out.clear();
    } else {
        response::head(
            out,
            200,
            Some(&files::content_type(&path)),
            len,
            persist,
            &[],
        );
    }
    if req.method == Method::Head {
        ctx.log.request(&conn.peer, &req.line, 200, 0);
        conn.stream.write_all(out)?;
        return Ok(keep);
    }
    if len <= SMALL_BODY {
        let before = out.len();
        (&mut file).take(len).read_to_end(out)?;
        let got = (out.len() - before) as u64;
        if got != len {
            eprintln!(
                "serve: {} changed while being read ({got} of {len} bytes): closing the connection",
                path.display()
            );
            ctx.log.request(&conn.peer, &req.line, 500, 0);
            return Err(io::Error::other("file changed"));
        }
        ctx.log.request(&conn.peer, &req.line, 200, len);
        conn.stream.write_all(out)?;
        return Ok(keep);
    }
    conn.stream.write_all(out)?;
    let sent = conn.stream.send_file(&mut file, len);
    let sent_bytes = *sent.as_ref().unwrap_or(&0);
    ctx.log.request(&conn.peer, &req.line, 200, sent_bytes);
    let sent = sent?;
    if sent < len {
        eprintln!(
            "serve: {} shrank while being sent ({sent} of {len} bytes): closing the connection to {}",
            path.display(),
            conn.peer
        );
        return Err(io::Error::other("file shrank"));
    }
    Ok(keep)
}

/// Opens a file for reading without ever blocking on it (a FIFO swapped in after the
/// mapping check would otherwise hang the worker).
fn open(path: &std::path::Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not a regular file",
        ));
    }
    Ok(file)
}

fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len());
    &buf[..end.min(200)]
}

/// Answers 503 with `Retry-After` on a connection the server has no room for, without ever
/// waiting on the client, then closes it.
pub fn refuse_busy(stream: Stream, peer: &Address, ctx: &Ctx) {
    let body = response::error_body(503);
    let mut out = Vec::with_capacity(256);
    response::head(
        &mut out,
        503,
        Some("text/plain; charset=utf-8"),
        body.len() as u64,
        Persist::Close,
        &[("Retry-After", "1")],
    );
    out.extend_from_slice(body.as_bytes());
    if stream.set_nonblocking(true).is_ok() {
        let _ = (&stream).write(&out);
        let _ = stream.shutdown(Shutdown::Write);
    }
    ctx.log
        .request(&peer_text(peer), "-", 503, body.len() as u64);
}

/// The client as the access log names it: its IP address, or `unix` for a local socket.
fn peer_text(peer: &Address) -> String {
    match peer {
        Address::Tcp(a) => a.ip().to_string(),
        Address::Unix(_) => "unix".to_string(),
    }
}
