//! The connection loop: the whole life of a connection on a worker, written down in one
//! place. Read a head into the capped buffer, answer it, and either go on with the next
//! buffered request, hand the idle connection to the parker, or close gracefully.

use std::io::{self, Read, Seek, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use shared::{Address, Stream};

use crate::log::Line;
use crate::readbuf::ReadBuf;
use crate::request::{self, BODY_CAP, HEAD_CAP, Parsed, Request, Version};
use crate::respond::{self, Body};
use crate::response::{self, Persist};
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
    buf: ReadBuf,
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
            buf: ReadBuf::default(),
            head_deadline: Some(Instant::now() + header_timeout),
            _open: open,
        }
    }

    /// The parker's deadline passed: a request head that started but never finished gets
    /// 408; an idle connection or a finished linger just closes.
    pub fn expire(mut self, ctx: &Ctx, wait: Wait) {
        if matches!(wait, Wait::Request(_)) && !self.buf.is_empty() {
            let line = request::escape(first_line(self.buf.bytes()));
            let _ = self.send_error(ctx, 408, &line);
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

    /// Answers an error status with a short text body (for requests that never parsed).
    fn send_error(&mut self, ctx: &Ctx, status: u16, line: &str) -> io::Result<()> {
        let mut out = Vec::with_capacity(512);
        let reply = respond::error(status, ctx, Persist::Close, &mut out);
        let (bytes, result) = send(&mut self.stream, &mut out, reply.body);
        ctx.log.request(&Line {
            peer: &self.peer,
            request: line,
            status,
            bytes,
            ..Line::default()
        });
        result
    }

    /// Half-closes and drains, so the client reads the whole response; then closes, or
    /// parks to linger if the client is still sending.
    fn close_gracefully(mut self) -> Next {
        if self.stream.shutdown(Shutdown::Write).is_err() || self.drain() {
            return Next::Done;
        }
        self.buf = ReadBuf::default();
        Next::Park(self, Wait::Linger(Instant::now() + LINGER))
    }

    /// Reads what is available into the buffer. `wait` allows one short blocking read.
    fn fill(&mut self, wait: bool) -> io::Result<usize> {
        let stream = &self.stream;
        self.buf.fill(BUF_CAP, |space| {
            if wait {
                (&*stream).read(space)
            } else {
                stream.read_nowait(space)
            }
        })
    }
}

/// Serves `conn` until it is closed or idle. `out` is the worker's reusable output buffer.
pub fn serve(mut conn: Conn, ctx: &Ctx, out: &mut Vec<u8>) -> Next {
    let mut waited = false;
    loop {
        if !conn.buf.is_empty() {
            match request::parse(conn.buf.bytes()) {
                Parsed::Complete(req) => {
                    let kept = respond(&mut conn, &req, ctx, out);
                    conn.buf.consume(req.len);
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
                    return match conn.send_error(ctx, rej.status, &rej.line) {
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
        // When nobody else waits for a worker, give this client a moment (the socket's
        // short read timeout) to send its next request before paying for a trip through
        // the parker; otherwise take only what has already arrived.
        let wait = !waited && ctx.queue_is_empty();
        waited |= wait;
        let got = conn.fill(wait);
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
                // Idle: hold no buffer memory while parked.
                conn.buf.release_if_empty();
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
    let reply = respond::respond(req, ctx, persist, out);
    let (sent, result) = send(&mut conn.stream, out, reply.body);
    ctx.log.request(&Line {
        peer: &conn.peer,
        request: &req.line,
        status: reply.status,
        bytes: sent,
        referer: req.fields.referer.as_deref(),
        user_agent: req.fields.user_agent.as_deref(),
    });
    if let Err(e) = &result
        && let Some(path) = e.get_ref().and_then(|inner| inner.downcast_ref::<Shrank>())
    {
        eprintln!("serve: {path}: closing the connection to {}", conn.peer);
    }
    result.map(|()| persist != Persist::Close)
}

/// A file ended before the length its head announced (it shrank while being sent).
#[derive(Debug)]
struct Shrank(String);

impl std::fmt::Display for Shrank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Shrank {}

fn shrank(path: &std::path::Path, got: u64, want: u64) -> io::Error {
    io::Error::other(Shrank(format!(
        "{} shrank while being sent ({got} of {want} bytes)",
        path.display()
    )))
}

/// Sends the head in `out` and the body. Small bodies ride in the same write as the head;
/// large file bodies go by sendfile. Returns the body bytes sent, and how it ended.
fn send(stream: &mut Stream, out: &mut Vec<u8>, body: Body) -> (u64, io::Result<()>) {
    match body {
        Body::Empty => (0, stream.write_all(out)),
        Body::Bytes(bytes) => {
            out.extend_from_slice(&bytes);
            (bytes.len() as u64, stream.write_all(out))
        }
        Body::Shared(bytes) => {
            out.extend_from_slice(&bytes);
            (bytes.len() as u64, stream.write_all(out))
        }
        Body::File {
            mut file,
            path,
            start,
            len,
        } => {
            if let Err(e) = seek(&mut file, start) {
                return (0, Err(e));
            }
            if len <= SMALL_BODY {
                let before = out.len();
                if let Err(e) = (&mut file).take(len).read_to_end(out) {
                    return (0, Err(e));
                }
                let got = (out.len() - before) as u64;
                if got != len {
                    return (0, Err(shrank(&path, got, len)));
                }
                return (len, stream.write_all(out));
            }
            if let Err(e) = stream.write_all(out) {
                return (0, Err(e));
            }
            send_file_counted(stream, &file, &path, start, len)
        }
        Body::Multipart {
            file,
            path,
            parts,
            closing,
        } => {
            if let Err(e) = stream.write_all(out) {
                return (0, Err(e));
            }
            let mut sent = 0;
            for (head, span) in parts {
                if let Err(e) = stream.write_all(head.as_bytes()) {
                    return (sent, Err(e));
                }
                sent += head.len() as u64;
                let (n, result) = send_file_counted(stream, &file, &path, span.start, span.len);
                sent += n;
                if let Err(e) = result {
                    return (sent, Err(e));
                }
                if let Err(e) = stream.write_all(b"\r\n") {
                    return (sent, Err(e));
                }
                sent += 2;
            }
            (
                sent + closing.len() as u64,
                stream.write_all(closing.as_bytes()),
            )
        }
    }
}

/// Sends `len` bytes of `file` from `start` with sendfile(2), counting exactly what went
/// out, so that when the client goes away half-way the log still says how much it got.
/// A file that ends early is [`Shrank`].
fn send_file_counted(
    stream: &Stream,
    file: &std::fs::File,
    path: &std::path::Path,
    start: u64,
    len: u64,
) -> (u64, io::Result<()>) {
    let end = start + len;
    let mut offset = start;
    while offset < end {
        // One call may send up to 1 GiB; the kernel advances `offset` by what it sent.
        let want = (end - offset).min(1 << 30) as usize;
        match rustix::fs::sendfile(stream, file, Some(&mut offset), want) {
            Ok(0) => return (offset - start, Err(shrank(path, offset - start, len))),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return (offset - start, Err(e.into())),
        }
    }
    (len, Ok(()))
}

fn seek(file: &mut std::fs::File, to: u64) -> io::Result<()> {
    if to > 0 {
        file.seek(io::SeekFrom::Start(to))?;
    }
    Ok(())
}

fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len());
    &buf[..end.min(200)]
}

/// Answers `status` (503 with `Retry-After` when busy, 403 for a client not in `--allow`)
/// on a connection the acceptor will not queue, without ever waiting on the client, then
/// closes it.
pub fn refuse(stream: Stream, peer: &Address, status: u16, ctx: &Ctx) {
    let body = response::error_body(status);
    let mut out = Vec::with_capacity(512);
    respond::begin(&mut out, status, ctx);
    response::content_type(&mut out, "text/plain; charset=utf-8");
    if status == 503 {
        response::header(&mut out, "Retry-After", "1");
    }
    response::end(&mut out, status, Some(body.len() as u64), Persist::Close);
    out.extend_from_slice(body.as_bytes());
    if stream.set_nonblocking(true).is_ok() {
        let _ = (&stream).write(&out);
        let _ = stream.shutdown(Shutdown::Write);
    }
    ctx.log.request(&Line {
        peer: &peer_text(peer),
        request: "-",
        status,
        bytes: body.len() as u64,
        ..Line::default()
    });
}

/// The client as the access log names it: its IP address, or `unix` for a local socket.
fn peer_text(peer: &Address) -> String {
    match peer {
        Address::Tcp(a) => a.ip().to_string(),
        Address::Unix(_) => "unix".to_string(),
    }
}
