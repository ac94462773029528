//! The connection loop: the whole life of a connection on a worker, written down in one
//! place. Read a head into the capped buffer, answer it, and either go on with the next
//! buffered request, hand the idle connection to the parker, or close gracefully.

use std::io::{self, Read, Seek, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    // True until the first request on this connection is answered: only then can its first
    // bytes be a TLS handshake.
    fresh: bool,
    // A response still on its way out (the client reads slowly): it was parked until the
    // socket is writable, and is resumed first.
    sending: Option<Box<Sending>>,
    _open: OpenGuard,
}

/// Why a connection is parked, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Waiting for (more of) a request until this instant.
    Request(Instant),
    /// Closing: our side is shut; drain the client's late bytes until this instant.
    Linger(Instant),
    /// Sending a response to a client that reads slowly: resume when the socket is writable,
    /// give up if it makes no progress by this instant (the write timeout).
    Write(Instant),
}

impl Wait {
    /// The instant the wait ends.
    pub fn deadline(self) -> Instant {
        match self {
            Wait::Request(d) | Wait::Linger(d) | Wait::Write(d) => d,
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
            fresh: true,
            sending: None,
            _open: open,
        }
    }

    /// The parker's deadline passed: a request head that started but never finished gets
    /// 408; an idle connection or a finished linger just closes.
    pub fn expire(mut self, ctx: &Ctx, wait: Wait) {
        if let Some(sending) = self.sending.take() {
            // The client stopped reading: the response is cut off; log what it got.
            sending.log(ctx, &self.peer);
            return;
        }
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
        let mut sending = Sending::new(&mut out, reply.body)?;
        // Never waits: a client that does not read even this gets closed.
        let result = sending.pump(&mut self.stream, &out, true);
        ctx.log.request(&Line {
            peer: &self.peer,
            request: line,
            status,
            bytes: sending.sent,
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
    if let Some(sending) = conn.sending.take() {
        match finish(&mut conn, sending, ctx) {
            Sent::Done(true) if !ctx.stopping() => {}
            Sent::Done(true) => return Next::Done,
            Sent::Done(false) => return conn.close_gracefully(),
            Sent::Blocked(deadline) => return Next::Park(conn, Wait::Write(deadline)),
            Sent::Failed => return Next::Done,
        }
    }
    loop {
        if conn.fresh && conn.buf.bytes().first() == Some(&TLS_HANDSHAKE) {
            // A TLS client on the plain port: an HTTP error page would only be garbage to
            // it. Say so (at most once a second) and close without a response.
            tls_complaint(&conn.peer);
            return conn.close_gracefully();
        }
        if !conn.buf.is_empty() {
            match request::parse(conn.buf.bytes()) {
                Parsed::Complete(req) => {
                    conn.fresh = false;
                    let sent = respond(&mut conn, &req, ctx, out);
                    conn.buf.consume(req.len);
                    conn.head_deadline = None;
                    match sent {
                        Sent::Done(true) if !ctx.stopping() => {
                            waited = false;
                            continue;
                        }
                        Sent::Done(_) => return conn.close_gracefully(),
                        Sent::Blocked(deadline) => return Next::Park(conn, Wait::Write(deadline)),
                        Sent::Failed => return Next::Done,
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

/// The first byte of a TLS record carrying a handshake (a ClientHello): no HTTP request
/// starts with it.
const TLS_HANDSHAKE: u8 = 0x16;

/// Logs that `peer` sent a TLS handshake to this plain-HTTP port, at most once a second
/// however many do (a scanner or a misconfigured client could send thousands).
fn tls_complaint(peer: &str) {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
        *last = Some(Instant::now());
        eprintln!("serve: {peer} sent a TLS handshake to a plain-HTTP port; closing");
    }
}

/// How sending a response went.
#[derive(Debug)]
enum Sent {
    /// All of it; `true` when the connection stays open for the next request.
    Done(bool),
    /// The client is not reading fast enough: the rest waits in `conn.sending` for the socket
    /// to become writable, until this deadline.
    Blocked(Instant),
    /// The connection failed (or the file shrank) and is dropped.
    Failed,
}

/// Answers one request: decides the response and starts sending it.
fn respond(conn: &mut Conn, req: &Request, ctx: &Ctx, out: &mut Vec<u8>) -> Sent {
    let persist = match (req.keep_alive && !ctx.stopping(), req.version) {
        (false, _) => Persist::Close,
        (true, Version::Http10) => Persist::KeepAlive10,
        (true, _) => Persist::KeepAlive,
    };
    let reply = respond::respond(req, ctx, persist, out);
    let mut sending = match Sending::new(out, reply.body) {
        Ok(s) => s,
        Err(e) => {
            report(&e, &conn.peer);
            return Sent::Failed;
        }
    };
    sending.status = reply.status;
    sending.keep = persist != Persist::Close;
    // Nothing is copied for the log unless the response has to wait for the client.
    let log = |s: &Sending| {
        ctx.log.request(&Line {
            peer: &conn.peer,
            request: &req.line,
            status: s.status,
            bytes: s.sent,
            referer: req.fields.referer.as_deref(),
            user_agent: req.fields.user_agent.as_deref(),
        })
    };
    match sending.pump(&mut conn.stream, out, !ctx.stopping()) {
        Ok(()) => {
            log(&sending);
            Sent::Done(sending.keep)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            sending.line = req.line.clone();
            sending.referer = req.fields.referer.clone();
            sending.user_agent = req.fields.user_agent.clone();
            let deadline = Instant::now() + ctx.write_timeout;
            sending.deadline = Some(deadline);
            conn.sending = Some(Box::new(sending));
            Sent::Blocked(deadline)
        }
        Err(e) => {
            report(&e, &conn.peer);
            log(&sending);
            Sent::Failed
        }
    }
}

/// Goes on sending a response that was parked.
fn finish(conn: &mut Conn, mut sending: Box<Sending>, ctx: &Ctx) -> Sent {
    let before = sending.sent;
    match sending.pump(&mut conn.stream, &[], !ctx.stopping()) {
        Ok(()) => {
            sending.log(ctx, &conn.peer);
            Sent::Done(sending.keep)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            // Spurious wake-ups happen; the deadline only moves when bytes did.
            let deadline = match sending.deadline {
                Some(d) if sending.sent == before && !sending.head_left() => d,
                _ => Instant::now() + ctx.write_timeout,
            };
            sending.deadline = Some(deadline);
            conn.sending = Some(sending);
            Sent::Blocked(deadline)
        }
        Err(e) => {
            report(&e, &conn.peer);
            sending.log(ctx, &conn.peer);
            Sent::Failed
        }
    }
}

/// Says on stderr why a response was cut short, when it is our side's story to tell (a file
/// that shrank); a client that went away is not news.
fn report(e: &io::Error, peer: &str) {
    if let Some(shrank) = e.get_ref().and_then(|inner| inner.downcast_ref::<Shrank>()) {
        eprintln!("serve: {shrank}: closing the connection to {peer}");
    }
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

/// One piece of a response body after the head.
#[derive(Debug)]
enum Piece {
    /// Bytes made here (multipart boundaries).
    Text(Vec<u8>),
    /// `len` bytes of the file from `start`, by sendfile.
    Span { start: u64, len: u64 },
}

/// A response on its way out, resumable: when the client does not read, the socket's buffer
/// fills, the send stops with `WouldBlock`, and the connection is parked until it is
/// writable — so a slow reader never holds a worker (ARCHITECTURE.md, decision 2).
#[derive(Debug, Default)]
pub(crate) struct Sending {
    /// Unsent bytes of the head (with a small body); empty until the response is parked
    /// (until then they are in the worker's buffer).
    head: Vec<u8>,
    /// How much of the worker's buffer was written, before parking.
    head_at: usize,
    pieces: std::collections::VecDeque<Piece>,
    /// Bytes of the front piece already sent.
    at: u64,
    file: Option<(std::fs::File, std::path::PathBuf)>,
    /// Body bytes sent so far (for the log).
    sent: u64,
    status: u16,
    keep: bool,
    /// When a parked response that makes no progress is given up.
    deadline: Option<Instant>,
    line: String,
    referer: Option<String>,
    user_agent: Option<String>,
}

impl Sending {
    /// Lays out a response: the head in `out` (small bodies appended to it, so they go out
    /// in one write), then the pieces of a large body.
    fn new(out: &mut Vec<u8>, body: Body) -> io::Result<Sending> {
        let mut s = Sending::default();
        match body {
            Body::Empty => {}
            Body::Bytes(bytes) => {
                out.extend_from_slice(&bytes);
                s.sent = bytes.len() as u64;
            }
            Body::Shared(bytes) => {
                out.extend_from_slice(&bytes);
                s.sent = bytes.len() as u64;
            }
            Body::File {
                mut file,
                path,
                start,
                len,
            } => {
                if len <= SMALL_BODY {
                    seek(&mut file, start)?;
                    let before = out.len();
                    (&mut file).take(len).read_to_end(out)?;
                    let got = (out.len() - before) as u64;
                    if got != len {
                        out.truncate(before);
                        return Err(shrank(&path, got, len));
                    }
                    s.sent = len;
                } else {
                    s.pieces.push_back(Piece::Span { start, len });
                    s.file = Some((file, path));
                }
            }
            Body::Multipart {
                file,
                path,
                parts,
                closing,
            } => {
                for (head, span) in parts {
                    s.pieces.push_back(Piece::Text(head.into_bytes()));
                    s.pieces.push_back(Piece::Span {
                        start: span.start,
                        len: span.len,
                    });
                    s.pieces.push_back(Piece::Text(b"\r\n".to_vec()));
                }
                s.pieces.push_back(Piece::Text(closing.into_bytes()));
                s.file = Some((file, path));
            }
        }
        Ok(s)
    }

    fn head_left(&self) -> bool {
        !self.head.is_empty()
    }

    /// Sends what is left: first the head (from `out` the first time, from `self.head` once
    /// parked), then the pieces. Without `wait`, stops with `WouldBlock` as soon as the
    /// socket is full, keeping the rest in `self`; with it (while shutting down, when there
    /// is no parker to wait in), blocks up to the socket's write timeout.
    fn pump(&mut self, stream: &mut Stream, out: &[u8], nowait: bool) -> io::Result<()> {
        // Plain writes say "don't wait" per call; only sendfile needs the socket itself
        // non-blocking, so most responses (a head and a small body) cost no mode switch.
        let switch = nowait && self.pieces.iter().any(|p| matches!(p, Piece::Span { .. }));
        if switch {
            stream.set_nonblocking(true)?;
        }
        let result = self.pump_inner(stream, out, nowait);
        if let Err(e) = &result
            && e.kind() == io::ErrorKind::WouldBlock
            && self.head.is_empty()
            && self.head_at < out.len()
        {
            // Parking: keep the unsent part of the head; the worker's buffer is reused.
            self.head = out[self.head_at..].to_vec();
        }
        if switch {
            // The worker's reads expect a blocking socket with its short timeout.
            stream.set_nonblocking(false)?;
        }
        result
    }

    fn pump_inner(&mut self, stream: &mut Stream, out: &[u8], nowait: bool) -> io::Result<()> {
        if !self.head.is_empty() {
            let mut head = std::mem::take(&mut self.head);
            let result = write_from(stream, &head, &mut self.head_at, nowait);
            if self.head_at < head.len() {
                head.drain(..self.head_at);
                self.head_at = 0;
                self.head = head;
            }
            result?;
        } else if self.head_at < out.len() {
            write_from(stream, out, &mut self.head_at, nowait)?;
        }
        while let Some(piece) = self.pieces.front() {
            match piece {
                Piece::Text(text) => {
                    let mut at = self.at as usize;
                    let result = write_from(stream, text, &mut at, nowait);
                    self.sent += at as u64 - self.at;
                    self.at = at as u64;
                    result?;
                }
                &Piece::Span { start, len } => {
                    let Some((file, path)) = self.file.as_mut() else {
                        return Err(io::Error::other("no file for a span"));
                    };
                    // One sendfile at a time, from an explicit offset: a WouldBlock then
                    // loses nothing, and `at` is exactly what the client was sent.
                    while self.at < len {
                        let mut offset = start + self.at;
                        match stream.send_file_at(file, &mut offset, len - self.at)? {
                            0 => return Err(shrank(path, start + self.at, start + len)),
                            n => {
                                self.at += n;
                                self.sent += n;
                            }
                        }
                    }
                }
            }
            self.pieces.pop_front();
            self.at = 0;
        }
        Ok(())
    }

    /// The access-log line for a response that was parked at least once.
    fn log(&self, ctx: &Ctx, peer: &str) {
        ctx.log.request(&Line {
            peer,
            request: &self.line,
            status: self.status,
            bytes: self.sent,
            referer: self.referer.as_deref(),
            user_agent: self.user_agent.as_deref(),
        });
    }
}

/// Writes `bytes[*at..]`, moving `at` as it goes (so a `WouldBlock` loses nothing).
fn write_from(stream: &mut Stream, bytes: &[u8], at: &mut usize, nowait: bool) -> io::Result<()> {
    while *at < bytes.len() {
        let wrote = if nowait {
            stream.write_nowait(&bytes[*at..])
        } else {
            stream.write(&bytes[*at..])
        };
        match wrote {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
