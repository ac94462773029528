//! The connection loop: the whole life of a connection, written down in one place. A worker
//! that finds a connection ready calls [`Conn::serve`]: it reads what has arrived into the
//! capped buffer, answers every complete request in it, and says what the connection waits
//! for next — a request, room to send the rest of a response, or the client's close — and
//! until when. The worker then puts it back in the readiness set (`ready.rs`).
//!
//! Sockets are non-blocking: nothing here ever waits on a client.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::tls::rustls::{ServerConfig, ServerConnection};
use shared::{Address, Stream};

use crate::engine::log::{AccessLog, Line};
use crate::engine::readbuf::ReadBuf;
use crate::engine::ready::Interest;
use crate::engine::send::{self, Sending};
use crate::engine::tls::{self, Shake, Wire};
use crate::http::request::{self, BODY_CAP, HEAD_CAP, Parsed, Request, Version};
use crate::http::response_head::Persist;
use crate::respond::{self, Refusal, Reply};
use crate::share::intake::Failure;
use crate::share::receive::{Progress, Receiving, Source};
use crate::site::Site;

/// How long a closing connection is drained of late client bytes after our FIN, so that
/// they cannot provoke a reset that would destroy a response the client has not read yet.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// The buffer never grows beyond one maximal head and one maximal discarded body.
const BUF_CAP: usize = HEAD_CAP + BODY_CAP;

/// One turn of a connection (from the wake-up that handed it to a worker) answers at most
/// this many requests, or answers until at least [`TURN_BYTES`] went out, before the worker
/// lets the other ready connections go first (`Next::Yield`): a client that pipelines
/// without end cannot hold a worker while others wait.
pub(crate) const TURN_RESPONSES: u32 = 32;
/// See [`TURN_RESPONSES`].
pub(crate) const TURN_BYTES: u64 = 1024 * 1024;

/// How long a connection may wait for what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A whole request head must arrive within this (from accept, or from its first byte),
    /// and an upload's body may stop coming for no longer than this: a body that stalls is
    /// the same failure as a head that does, and one option then bounds both.
    pub header_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    pub keep_alive: Duration,
    /// A response that makes no progress for this long is given up.
    pub write_timeout: Duration,
}

/// What serving a connection needs besides the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    /// What to answer.
    pub site: &'a Site,
    /// Where each answered request is logged.
    pub log: &'a AccessLog,
    /// The timeouts.
    pub limits: &'a Limits,
    /// True once shutdown has been asked: answer what is in flight, keep nothing open.
    pub stopping: bool,
    /// `--tls-cert`: the port speaks HTTPS with this configuration.
    pub tls: Option<&'a Arc<ServerConfig>>,
}

/// One client connection and what has been read from it.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: Stream,
    peer: String,
    buf: ReadBuf,
    // When the head being read must be complete: set at accept and at the first byte of
    // each request, cleared after each response (an idle keep-alive wait has its own limit).
    head_deadline: Option<Instant>,
    // True until the first request on this connection is answered: only then can its first
    // bytes be a TLS handshake.
    fresh: bool,
    // What stands between the socket and HTTP.
    tls: Tls,
    // The peer has shut its side: read to the end (its close may be queued behind the
    // request), rather than wait for readiness that will not come again.
    closing: bool,
    state: State,
    // The last response was the head of `--watch`'s event stream: hand the connection over.
    watching: bool,
    // What this turn has answered so far: responses, and bytes sent.
    turn: (u32, u64),
}

/// A connection's TLS, beside its socket.
#[derive(Debug)]
enum Tls {
    /// A plain-HTTP port.
    Off,
    /// The HTTPS port, before the client's first byte says whether it speaks TLS.
    Undecided,
    /// The session: shaking hands, then every byte in and out goes through it.
    On(Box<ServerConnection>),
    /// Plain HTTP on the HTTPS port: its request is answered with a redirect to https://.
    Misplaced,
}

impl Tls {
    fn session(&mut self) -> Option<&mut ServerConnection> {
        match self {
            Tls::On(session) => Some(session),
            _ => None,
        }
    }
}

/// The wire of a connection, from its two fields (so its buffer can be borrowed beside).
fn wire<'a>(stream: &'a Stream, tls: &'a mut Tls) -> Wire<'a> {
    Wire::new(stream, tls.session())
}

#[derive(Debug)]
enum State {
    /// Reading requests (or idle between them).
    Open,
    /// A response is on its way to a client that reads slowly.
    Sending(Box<Pending>),
    /// An upload's body is coming in (`--upload`), as fast as the client sends it.
    Receiving(Box<Uploading>),
    /// Our side is shut; late client bytes are drained until this instant.
    Lingering(Instant),
}

/// An upload under way: its body coming in (`share/receive.rs`), and what its answer needs.
#[derive(Debug)]
struct Uploading {
    body: Receiving,
    answer: respond::Answer,
    req: Request,
}

/// The connection as an upload's body comes off it: its buffer, then its socket.
struct Incoming<'a> {
    buf: &'a mut ReadBuf,
    wire: Wire<'a>,
}

impl Source for Incoming<'_> {
    fn buffered(&self) -> &[u8] {
        self.buf.bytes()
    }
    fn consume(&mut self, n: usize) {
        self.buf.consume(n);
    }
    fn fill(&mut self) -> io::Result<usize> {
        let wire = &mut self.wire;
        self.buf.fill(BUF_CAP, |space| wire.read(space))
    }
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        self.wire.read(into)
    }
}

/// What a look at the buffer came to.
enum Look {
    /// A request was answered and the connection is open: look again.
    Answered,
    /// No whole request is buffered: read more, or wait.
    Incomplete,
    /// Return this to the worker.
    Return(Next),
}

/// What taking in an upload's body came to.
enum Flow {
    /// The upload is answered and the connection open: go on with the next request.
    Next,
    /// Return this to the worker.
    Return(Next),
}

/// A response that had to wait for its reader, with what its log line needs.
#[derive(Debug)]
struct Pending {
    sending: Sending,
    status: u16,
    keep: bool,
    /// Given up when no progress is made by then.
    deadline: Instant,
    line: String,
    referer: Option<String>,
    user_agent: Option<String>,
}

impl Pending {
    fn log(&self, log: &AccessLog, peer: &str) {
        log.request(&Line {
            peer,
            request: &self.line,
            status: self.status,
            bytes: self.sending.sent(),
            referer: self.referer.as_deref(),
            user_agent: self.user_agent.as_deref(),
        });
    }
}

/// A worker's reusable memory: the output buffer, and a read buffer lent to whichever
/// connection it serves while that connection holds no bytes of its own.
#[derive(Debug)]
pub(crate) struct Scratch {
    out: Vec<u8>,
    read: ReadBuf,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            out: Vec::with_capacity(64 * 1024),
            read: ReadBuf::default(),
        }
    }
}

impl Scratch {
    /// After a panic: whatever was half-written is dropped.
    pub(crate) fn clear(&mut self) {
        self.out.clear();
        self.read = ReadBuf::default();
    }
}

/// What a connection does after a worker is done with it for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Closed: drop it.
    Close,
    /// Waits in the readiness set for this, until this instant.
    Wait(Interest, Instant),
    /// `--watch`: its event stream's head is sent; the watch hub takes it (`watch/hub.rs`).
    Watch,
    /// Its turn is over ([`TURN_RESPONSES`], [`TURN_BYTES`]) with more to do at once
    /// (requests buffered, or bytes left unread): serve the other ready connections, then
    /// this one again. Its readiness is not waited for: it may never be reported again.
    Yield,
}

/// How sending a response went.
#[derive(Debug)]
enum Sent {
    /// All of it; `true` when the connection stays open for the next request.
    Done(bool),
    /// The client is not reading fast enough: the rest waits for writable until this.
    Blocked(Instant),
    /// The connection failed (or the file shrank) and is dropped.
    Failed,
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl Conn {
    /// A newly accepted, non-blocking connection; its first request head must arrive within
    /// the header timeout.
    /// `tls`: it came to the HTTPS port. Its handshake and its first request head must
    /// arrive within the header timeout.
    pub(crate) fn new(stream: Stream, peer: &Address, limits: &Limits, tls: bool) -> Conn {
        Conn {
            stream,
            peer: peer_text(peer),
            buf: ReadBuf::default(),
            head_deadline: Some(Instant::now() + limits.header_timeout),
            fresh: true,
            tls: if tls { Tls::Undecided } else { Tls::Off },
            closing: false,
            state: State::Open,
            watching: false,
            turn: (0, 0),
        }
    }

    /// A worker takes the connection for a new turn ([`Next::Yield`]).
    pub(crate) fn begin_turn(&mut self) {
        self.turn = (0, 0);
    }

    /// Counts a response sent whole in this turn.
    fn count(&mut self, bytes: u64) {
        self.turn.0 += 1;
        self.turn.1 += bytes;
    }

    /// True when this turn has had its share.
    fn turn_spent(&self) -> bool {
        self.turn.0 >= TURN_RESPONSES || self.turn.1 >= TURN_BYTES
    }

    /// The socket and its TLS session, for the watch hub (`Next::Watch`).
    pub(crate) fn into_watcher(self) -> (Stream, Option<Box<ServerConnection>>) {
        match self.tls {
            Tls::On(session) => (self.stream, Some(session)),
            _ => (self.stream, None),
        }
    }

    /// The readiness set says the peer has closed its side: read until the end.
    pub(crate) fn peer_closed(&mut self) {
        self.closing = true;
    }

    /// True unless a response is on its way out: what a shutdown closes at once.
    pub(crate) fn idle(&self) -> bool {
        match self.state {
            // An upload under way is let finish too: a shutdown then leaves it whole, or
            // (past the drain time) drops it, which leaves nothing.
            State::Sending(_) | State::Receiving(_) => false,
            // A request that arrived before the shutdown but is not read yet is answered
            // (with `Connection: close`): its client sent it while we were still serving,
            // and closing would leave it with no answer for a request it may not retry.
            // Half a head already read is not waited for.
            State::Open => !(self.buf.is_empty() && self.has_unread()),
            State::Lingering(_) => true,
        }
    }

    /// True when the client has sent bytes not read yet. A TLS session holds none opened
    /// and not taken while the buffer is empty: reading fills the buffer first.
    fn has_unread(&self) -> bool {
        self.stream.has_unread()
    }

    /// Its deadline passed: a response still waiting for its reader is cut off (and logged
    /// with the bytes sent), a request head that started but never finished gets 408, an
    /// idle or lingering connection just closes. Dropping it afterwards closes it.
    pub(crate) fn expire(mut self, env: &Env<'_>) {
        match &self.tls {
            // A handshake that did not finish in time: no HTTP answer can reach the client.
            Tls::On(session) if session.is_handshaking() => return,
            // Nothing came on the HTTPS port: no way to know what to answer in.
            Tls::Undecided => return,
            _ => {}
        }
        if matches!(self.state, State::Open) && self.buf.is_empty() && self.head_deadline.is_some()
        {
            // A head may have started in time without being read yet: another worker took
            // the readable wake-up while this one expired the connection. What is waiting
            // counts (else the client gets a reset, its bytes unread, instead of its 408).
            let mut wire = wire(&self.stream, &mut self.tls);
            let _ = self.buf.fill(HEAD_CAP, |space| wire.read(space));
        }
        match std::mem::replace(&mut self.state, State::Open) {
            State::Sending(p) => p.log(env.log, &self.peer),
            State::Lingering(_) => {}
            State::Receiving(r) => {
                // The body stopped coming: 408, and the partial upload is dropped (nothing
                // of it stays on disk).
                let mut out = Vec::with_capacity(512);
                let reply = respond::error(408, env.site, Persist::Close, &mut out);
                let _ = self.send_once(reply, &mut out, env, &r.req.line);
            }
            State::Open if !self.buf.is_empty() => {
                let line = request::escape(first_line(self.buf.bytes()));
                let mut out = Vec::with_capacity(512);
                let reply = respond::refuse(Refusal::HeadTimeout, env.site, &mut out);
                let _ = self.send_once(reply, &mut out, env, &line);
            }
            State::Open => {}
        }
    }

    /// Serves the connection as far as it can go without waiting, with the worker's
    /// reusable buffers.
    pub(crate) fn serve(&mut self, env: &Env<'_>, scratch: &mut Scratch) -> Next {
        // A connection with no bytes of its own borrows the worker's read buffer, and gives
        // it back when it has none again: no allocation (or zeroing) per request, and an
        // idle connection holds no buffer memory.
        if !self.buf.allocated() {
            std::mem::swap(&mut self.buf, &mut scratch.read);
        }
        let next = self.serve_buffered(env, &mut scratch.out);
        if self.buf.is_empty() {
            if scratch.read.allocated() {
                self.buf.release_if_empty();
            } else {
                std::mem::swap(&mut self.buf, &mut scratch.read);
            }
        }
        next
    }

    fn serve_buffered(&mut self, env: &Env<'_>, out: &mut Vec<u8>) -> Next {
        if let Some(next) = self.secure(env) {
            return next;
        }
        if let Some(next) = self.go_on(env, out) {
            return next;
        }
        // One read per wake-up (more only when it filled the buffer): whatever arrives later
        // makes the re-armed connection ready again, so no read is spent to learn "nothing".
        let mut may_read = true;
        loop {
            match self.next_request(env, out, may_read) {
                Look::Answered => continue,
                Look::Return(next) => return next,
                Look::Incomplete => {}
            }
            if let Some(next) = self.read_more(env, out, &mut may_read) {
                return next;
            }
        }
    }

    /// On the HTTPS port, before any HTTP: learn from the first byte whether the client
    /// speaks TLS (a handshake record) or plain HTTP (answered with a redirect), then shake
    /// hands as far as the bytes that have come allow, under the head's deadline. `None`:
    /// go on to HTTP.
    fn secure(&mut self, env: &Env<'_>) -> Option<Next> {
        if matches!(self.tls, Tls::Undecided) {
            let Some(config) = env.tls else {
                self.tls = Tls::Off;
                return None;
            };
            let mut first = [0u8; 1];
            let peeked = rustix::net::recv(
                &self.stream,
                &mut first,
                rustix::net::RecvFlags::DONTWAIT | rustix::net::RecvFlags::PEEK,
            );
            match peeked {
                Ok((1, _)) if first[0] == TLS_HANDSHAKE => match tls::accept(config) {
                    Some(session) => self.tls = Tls::On(session),
                    None => return Some(Next::Close),
                },
                Ok((1, _)) => self.tls = Tls::Misplaced,
                Ok(_) => return Some(Next::Close),
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                    return Some(self.wait_for_head(Interest::Read));
                }
                Err(_) => return Some(Next::Close),
            }
        }
        let Tls::On(session) = &mut self.tls else {
            return None;
        };
        if !session.is_handshaking() {
            return None;
        }
        if self.head_deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Next::Close);
        }
        match wire(&self.stream, &mut self.tls).handshake() {
            Shake::Done => None,
            Shake::Wait(interest) => Some(self.wait_for_head(interest)),
            Shake::Failed => Some(Next::Close),
        }
    }

    /// Waits for `interest` until the head's deadline (the handshake is part of the head's
    /// time).
    fn wait_for_head(&self, interest: Interest) -> Next {
        let deadline = self.head_deadline.unwrap_or_else(Instant::now);
        Next::Wait(interest, deadline)
    }

    /// Goes on with what the connection was waiting for: a response to finish, an
    /// upload's body, a lingering close. `None`: go on reading requests.
    fn go_on(&mut self, env: &Env<'_>, out: &mut Vec<u8>) -> Option<Next> {
        match std::mem::replace(&mut self.state, State::Open) {
            State::Open => None,
            State::Lingering(deadline) => {
                if self.drain() {
                    return Some(Next::Close);
                }
                self.state = State::Lingering(deadline);
                Some(Next::Wait(Interest::Read, deadline))
            }
            State::Sending(pending) => match self.resume(pending, env) {
                Sent::Done(true) if !env.stopping => {
                    (self.turn_spent() && !self.buf.is_empty()).then_some(Next::Yield)
                }
                Sent::Done(_) => Some(self.close_gracefully()),
                Sent::Blocked(deadline) => Some(Next::Wait(Interest::Write, deadline)),
                Sent::Failed => Some(Next::Close),
            },
            State::Receiving(r) => match self.receive(r, env, out) {
                Flow::Next => None,
                Flow::Return(next) => Some(next),
            },
        }
    }

    /// Answers the request at the front of the buffer, if it is whole. `may_read`: the last
    /// read filled the buffer, so the socket may hold more.
    fn next_request(&mut self, env: &Env<'_>, out: &mut Vec<u8>, may_read: bool) -> Look {
        if self.fresh
            && matches!(self.tls, Tls::Off)
            && self.buf.bytes().first() == Some(&TLS_HANDSHAKE)
        {
            // A TLS client on the plain port: an HTTP error page would only be garbage to
            // it. Say so (at most once a second) and close without a response.
            tls_complaint(&self.peer);
            return Look::Return(self.close_gracefully());
        }
        if self.buf.is_empty() {
            return Look::Incomplete;
        }
        match request::parse(self.buf.bytes()) {
            Parsed::Complete(req) if matches!(self.tls, Tls::Misplaced) => {
                let reply = respond::to_https(&req, env.site, out);
                self.buf.consume(req.len);
                Look::Return(match self.send_once(reply, out, env, &req.line) {
                    Ok(()) => self.close_gracefully(),
                    Err(_) => Next::Close,
                })
            }
            Parsed::Complete(req) if req.body.is_some() => {
                // A PUT or POST: an upload, whose body is not in `req.len`.
                self.fresh = false;
                self.buf.consume(req.len);
                self.head_deadline = None;
                match self.start_upload(req, env, out) {
                    Flow::Next => Look::Answered,
                    Flow::Return(next) => Look::Return(next),
                }
            }
            Parsed::Complete(req) => {
                self.fresh = false;
                let sent = self.respond(&req, env, out);
                self.buf.consume(req.len);
                self.head_deadline = None;
                Look::Return(match sent {
                    Sent::Done(_) if self.watching => Next::Watch,
                    Sent::Done(true) if !env.stopping => {
                        // More is buffered, or the last read filled the buffer (the socket
                        // may hold more, and edge-triggered readiness will not say so again).
                        if self.turn_spent() && (!self.buf.is_empty() || may_read) {
                            Next::Yield
                        } else {
                            return Look::Answered;
                        }
                    }
                    // The client asked to close and sent nothing after: no late bytes to
                    // wait out, so close at once (as nginx does).
                    Sent::Done(_) if !req.keep_alive && self.buf.is_empty() => Next::Close,
                    Sent::Done(_) => self.close_gracefully(),
                    Sent::Blocked(deadline) => Next::Wait(Interest::Write, deadline),
                    Sent::Failed => Next::Close,
                })
            }
            Parsed::Invalid(rej) => {
                let reply = respond::error(rej.status, env.site, Persist::Close, out);
                Look::Return(match self.send_once(reply, out, env, &rej.line) {
                    Ok(()) => self.close_gracefully(),
                    Err(_) => Next::Close,
                })
            }
            Parsed::Partial => Look::Incomplete,
        }
    }

    /// With no whole request buffered: 408 past the head's deadline, a close when shutting
    /// down with nothing waiting, a wait for readable when the last read found the socket
    /// empty; else one more read. `None`: bytes came, look again.
    fn read_more(&mut self, env: &Env<'_>, out: &mut Vec<u8>, may_read: &mut bool) -> Option<Next> {
        let now = Instant::now();
        if let Some(deadline) = self.head_deadline
            && now >= deadline
        {
            let line = request::escape(first_line(self.buf.bytes()));
            let reply = respond::refuse(Refusal::HeadTimeout, env.site, out);
            let _ = self.send_once(reply, out, env, &line);
            return Some(Next::Close);
        }
        // Shutting down: nothing more is read once nothing is waiting (a request that has
        // arrived is still answered; see `idle`).
        if env.stopping && self.buf.is_empty() && !self.has_unread() {
            return Some(Next::Close);
        }
        if !*may_read {
            let deadline = self.head_deadline.unwrap_or(now + env.limits.keep_alive);
            return Some(Next::Wait(Interest::Read, deadline));
        }
        let mut room = 0;
        let mut wire = wire(&self.stream, &mut self.tls);
        let got = self.buf.fill(BUF_CAP, |space| {
            room = space.len();
            wire.read(space)
        });
        match got {
            Ok(0) => Some(Next::Close),
            Ok(n) => {
                if self.head_deadline.is_none() {
                    self.head_deadline = Some(now + env.limits.header_timeout);
                }
                *may_read = n == room || self.closing;
                None
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *may_read = false;
                None
            }
            Err(_) => Some(Next::Close),
        }
    }

    /// Answers one request: decides the response and starts sending it.
    fn respond(&mut self, req: &Request, env: &Env<'_>, out: &mut Vec<u8>) -> Sent {
        let persist = persist(req, env);
        let reply = respond::respond(req, env.site, persist, out);
        self.watching = matches!(reply.body, respond::Body::Watch);
        self.send(req, reply, persist, env, out)
    }

    /// Starts an upload: the steps before its body (a refusal closes, its body unread),
    /// `100 Continue` if the client waits for it, then as much of the body as has come.
    fn start_upload(&mut self, req: Request, env: &Env<'_>, out: &mut Vec<u8>) -> Flow {
        // A refusal leaves the body unread, so the connection closes after it, unless there
        // is no body (a bare PUT or POST can be refused and the connection go on).
        let bodiless = req
            .body
            .is_some_and(|b| !b.chunked && b.length.unwrap_or(0) == 0);
        let refused = if bodiless {
            persist(&req, env)
        } else {
            Persist::Close
        };
        let rx = match respond::receive(&req, env.site, refused, out) {
            Ok(rx) => rx,
            Err(reply) => return self.sent(&req, reply, refused, env, out),
        };
        if rx.send_continue && self.buf.is_empty() {
            // 25 bytes into an empty socket buffer: they go, or the client is gone.
            let line: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
            let mut wire = wire(&self.stream, &mut self.tls);
            let sent = wire.write(line, false).ok() == Some(line.len()) && wire.flush().is_ok();
            if !sent {
                return Flow::Return(Next::Close);
            }
        }
        let up = Uploading {
            body: Receiving::new(rx.intake, env.limits.header_timeout),
            answer: rx.answer,
            req,
        };
        self.receive(Box::new(up), env, out)
    }

    /// Takes what has come of an upload's body; answers once it is whole (or failed), else
    /// waits for readable until its progress deadline, holding no worker.
    fn receive(&mut self, mut up: Box<Uploading>, env: &Env<'_>, out: &mut Vec<u8>) -> Flow {
        let mut from = Incoming {
            buf: &mut self.buf,
            wire: wire(&self.stream, &mut self.tls),
        };
        match up.body.take(&mut from, out, env.limits.header_timeout) {
            Progress::Done(fed) => self.uploaded(*up, fed, env, out),
            Progress::Wait(deadline) => {
                self.state = State::Receiving(up);
                Flow::Return(Next::Wait(Interest::Read, deadline))
            }
            Progress::Gone => Flow::Return(Next::Close),
        }
    }

    /// An upload's body is in, or failed: name the file(s) and answer.
    fn uploaded(
        &mut self,
        up: Uploading,
        fed: Result<(), Failure>,
        env: &Env<'_>,
        out: &mut Vec<u8>,
    ) -> Flow {
        let Uploading { body, answer, req } = up;
        let result = fed.and_then(|()| body.finish());
        let persist = match result {
            Ok(_) => persist(&req, env),
            Err(_) => Persist::Close,
        };
        let reply = respond::received(&answer, result, env.site, persist, out);
        self.sent(&req, reply, persist, env, out)
    }

    /// Sends an upload's answer and says how the connection goes on.
    fn sent(
        &mut self,
        req: &Request,
        reply: Reply,
        persist: Persist,
        env: &Env<'_>,
        out: &mut Vec<u8>,
    ) -> Flow {
        match self.send(req, reply, persist, env, out) {
            Sent::Done(true) if !env.stopping => Flow::Next,
            Sent::Done(_) => Flow::Return(self.close_gracefully()),
            Sent::Blocked(deadline) => Flow::Return(Next::Wait(Interest::Write, deadline)),
            Sent::Failed => Flow::Return(Next::Close),
        }
    }

    /// Starts sending a decided response; a client that reads slowly gets the rest when it
    /// is ready.
    fn send(
        &mut self,
        req: &Request,
        reply: Reply,
        persist: Persist,
        env: &Env<'_>,
        out: &mut Vec<u8>,
    ) -> Sent {
        // A streamed body (an archive) has no length: it ends with the connection.
        let streamed = matches!(reply.body, respond::Body::Stream(_));
        let mut sending = match Sending::new(out, reply.body) {
            Ok(s) => s,
            Err(e) => {
                report(&e, &self.peer);
                return Sent::Failed;
            }
        };
        let keep = persist != Persist::Close && !streamed;
        // Nothing is copied for the log unless the response has to wait for the client.
        let log = |s: &Sending| {
            env.log.request(&Line {
                peer: &self.peer,
                request: &req.line,
                status: reply.status,
                bytes: s.sent(),
                referer: req.fields.referer.as_deref(),
                user_agent: req.fields.user_agent.as_deref(),
            })
        };
        match sending.pump(&mut wire(&self.stream, &mut self.tls), out) {
            Ok(()) => {
                log(&sending);
                self.count(sending.sent());
                Sent::Done(keep)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let deadline = Instant::now() + env.limits.write_timeout;
                self.state = State::Sending(Box::new(Pending {
                    sending,
                    status: reply.status,
                    keep,
                    deadline,
                    line: req.line.clone(),
                    referer: req.fields.referer.clone(),
                    user_agent: req.fields.user_agent.clone(),
                }));
                Sent::Blocked(deadline)
            }
            Err(e) => {
                report(&e, &self.peer);
                log(&sending);
                Sent::Failed
            }
        }
    }

    /// Goes on sending a response that waited for its reader.
    fn resume(&mut self, mut p: Box<Pending>, env: &Env<'_>) -> Sent {
        let before = p.sending.sent();
        let head_before = p.sending.head_left();
        match p.sending.pump(&mut wire(&self.stream, &mut self.tls), &[]) {
            Ok(()) => {
                p.log(env.log, &self.peer);
                self.count(p.sending.sent());
                Sent::Done(p.keep)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Spurious wake-ups happen; the deadline only moves when bytes did.
                let moved = p.sending.sent() != before || head_before != p.sending.head_left();
                if moved {
                    p.deadline = Instant::now() + env.limits.write_timeout;
                }
                let deadline = p.deadline;
                self.state = State::Sending(p);
                Sent::Blocked(deadline)
            }
            Err(e) => {
                report(&e, &self.peer);
                p.log(env.log, &self.peer);
                Sent::Failed
            }
        }
    }

    /// Sends a whole response that closes the connection, without waiting: a client that
    /// does not take even this much is closed on.
    fn send_once(
        &mut self,
        reply: Reply,
        out: &mut Vec<u8>,
        env: &Env<'_>,
        line: &str,
    ) -> io::Result<()> {
        let mut sending = Sending::new(out, reply.body)?;
        let result = sending.pump(&mut wire(&self.stream, &mut self.tls), out);
        env.log.request(&Line {
            peer: &self.peer,
            request: line,
            status: reply.status,
            bytes: sending.sent(),
            ..Line::default()
        });
        result
    }

    /// Half-closes and drains, so the client reads the whole response; then closes, or
    /// lingers if the client is still sending.
    fn close_gracefully(&mut self) -> Next {
        wire(&self.stream, &mut self.tls).close_notify();
        if self.stream.shutdown(Shutdown::Write).is_err() || self.drain() {
            return Next::Close;
        }
        self.buf = ReadBuf::default();
        let deadline = Instant::now() + LINGER;
        self.state = State::Lingering(deadline);
        Next::Wait(Interest::Read, deadline)
    }

    /// Reads and discards what a lingering client sent. Returns true when the client has
    /// closed its side (or failed), so the connection can be dropped.
    fn drain(&mut self) -> bool {
        let mut scratch = [0u8; 4096];
        let mut wire = wire(&self.stream, &mut self.tls);
        loop {
            match wire.read(&mut scratch) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
    }
}

/// Answers a connection that will not be served (403 for a client not in `--allow`, 503
/// when too many are open), without ever waiting on the client, then closes it.
pub(crate) fn refuse(stream: Stream, peer: &Address, why: Refusal, env: &Env<'_>) {
    if env.tls.is_some() {
        // Before its handshake a TLS client can read no answer: the close says it all.
        return;
    }
    let mut out = Vec::with_capacity(512);
    let reply = respond::refuse(why, env.site, &mut out);
    let mut conn = Conn {
        stream,
        peer: peer_text(peer),
        buf: ReadBuf::default(),
        head_deadline: None,
        fresh: false,
        tls: Tls::Off,
        closing: false,
        state: State::Open,
        watching: false,
        turn: (0, 0),
    };
    if conn.send_once(reply, &mut out, env, "-").is_ok() {
        let _ = conn.stream.shutdown(Shutdown::Write);
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
        eprintln!(
            "serve: {peer} sent a TLS handshake to a plain-HTTP port; closing \
             (serve speaks HTTPS with --tls-cert FILE --tls-key FILE)"
        );
    }
}

/// Whether the connection stays open after answering `req`.
fn persist(req: &Request, env: &Env<'_>) -> Persist {
    match (req.keep_alive && !env.stopping, req.version) {
        (false, _) => Persist::Close,
        (true, Version::Http10) => Persist::KeepAlive10,
        (true, _) => Persist::KeepAlive,
    }
}

/// Says on stderr why a response was cut short, when it is our side's story to tell (a file
/// that shrank); a client that went away is not news.
fn report(e: &io::Error, peer: &str) {
    if let Some(shrank) = send::shrank_in(e) {
        eprintln!("serve: {shrank}: closing the connection to {peer}");
    }
}

fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len());
    &buf[..end.min(200)]
}

/// The client as the access log names it: its IP address, or `unix` for a local socket.
fn peer_text(peer: &Address) -> String {
    match peer {
        Address::Tcp(a) => a.ip().to_string(),
        Address::Unix(_) => "unix".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    const LIMITS: Limits = Limits {
        header_timeout: Duration::from_secs(10),
        keep_alive: Duration::from_secs(5),
        write_timeout: Duration::from_secs(30),
    };

    struct Fixture {
        _dir: tempfile::TempDir,
        site: Site,
        log: AccessLog,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.txt"), "aaa").unwrap();
        std::fs::write(root.join("big.bin"), vec![7u8; 8 << 20]).unwrap();
        Fixture {
            _dir: dir,
            site: Site::new(root, Default::default()),
            log: AccessLog::disabled(),
        }
    }

    impl Fixture {
        fn env(&self) -> Env<'_> {
            Env {
                site: &self.site,
                log: &self.log,
                limits: &LIMITS,
                stopping: false,
                tls: None,
            }
        }
    }

    /// A connection over a socket pair: ours non-blocking, the client's with a timeout.
    fn pair() -> (Conn, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (
            Conn::new(Stream::Unix(ours), &Address::Unix(None), &LIMITS, false),
            theirs,
        )
    }

    fn available(theirs: &mut UnixStream) -> String {
        theirs.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let _ = theirs.read_to_end(&mut got);
        theirs.set_nonblocking(false).unwrap();
        String::from_utf8_lossy(&got).into_owned()
    }

    #[test]
    fn a_request_unread_in_the_socket_is_not_idle_so_a_shutdown_answers_it() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        assert!(conn.idle(), "nothing sent");
        theirs
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(!conn.idle(), "a request waits in the socket");
        let mut env = f.env();
        env.stopping = true;
        // Answered, then closed (after lingering for late bytes).
        let _ = conn.serve(&env, &mut Scratch::default());
        let got = available(&mut theirs);
        assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        assert!(got.contains("Connection: close\r\n"), "{got}");
        // Half a head, read: idle (a shutdown does not wait for the rest).
        let (mut conn, mut theirs) = pair();
        theirs.write_all(b"GET /a.txt HTTP/1.1\r\nHo").unwrap();
        let _ = conn.serve(&f.env(), &mut Scratch::default());
        assert!(conn.idle(), "half a head, already read");
    }

    #[test]
    fn nothing_yet_waits_for_a_request_until_the_head_deadline() {
        let f = fixture();
        let (mut conn, _theirs) = pair();
        let before = Instant::now();
        let Next::Wait(Interest::Read, deadline) = conn.serve(&f.env(), &mut Scratch::default())
        else {
            panic!("waits to read");
        };
        assert!(deadline >= before + LIMITS.header_timeout - Duration::from_millis(50));
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_then_it_idles_with_the_keep_alive_limit() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        theirs
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let next = conn.serve(&f.env(), &mut Scratch::default());
        let got = available(&mut theirs);
        let statuses: Vec<&str> = got
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &got[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["200", "404", "200"], "{got}");
        let Next::Wait(Interest::Read, deadline) = next else {
            panic!("{next:?}");
        };
        assert!(deadline <= Instant::now() + LIMITS.keep_alive);
    }

    #[test]
    fn a_turn_answers_at_most_its_share_of_pipelined_requests_then_yields() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        let n = TURN_RESPONSES as usize * 2 + 5;
        theirs
            .write_all(&b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n))
            .unwrap();
        let mut scratch = Scratch::default();
        let answered = |theirs: &mut UnixStream| available(theirs).matches("HTTP/1.1 200").count();
        for _ in 0..2 {
            conn.begin_turn();
            assert_eq!(conn.serve(&f.env(), &mut scratch), Next::Yield);
            assert_eq!(answered(&mut theirs), TURN_RESPONSES as usize);
        }
        conn.begin_turn();
        let next = conn.serve(&f.env(), &mut scratch);
        assert!(matches!(next, Next::Wait(Interest::Read, _)), "{next:?}");
        assert_eq!(answered(&mut theirs), 5, "the rest, then it idles");
        // A turn that finishes sending a megabyte ends after that response.
        theirs
            .write_all(&b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2))
            .unwrap();
        conn.begin_turn();
        let mut next = conn.serve(&f.env(), &mut scratch);
        let mut body = 0;
        while let Next::Wait(Interest::Write, _) = next {
            body += available(&mut theirs).len();
            next = conn.serve(&f.env(), &mut scratch);
        }
        assert_eq!(next, Next::Yield, "after the first 8 MiB");
        assert!(body + available(&mut theirs).len() > 8 << 20);
    }

    #[test]
    fn a_head_in_pieces_is_answered_when_it_is_whole() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        theirs.write_all(b"GET /a.txt HT").unwrap();
        assert!(matches!(
            conn.serve(&f.env(), &mut Scratch::default()),
            Next::Wait(Interest::Read, _)
        ));
        assert_eq!(available(&mut theirs), "");
        theirs.write_all(b"TP/1.1\r\nHost: x\r\n\r\n").unwrap();
        conn.serve(&f.env(), &mut Scratch::default());
        let got = available(&mut theirs);
        assert!(
            got.starts_with("HTTP/1.1 200 OK\r\n") && got.ends_with("aaa"),
            "{got}"
        );
    }

    #[test]
    fn a_malformed_request_gets_its_status_and_the_connection_closes() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        theirs
            .write_all(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n")
            .unwrap();
        let next = conn.serve(&f.env(), &mut Scratch::default());
        assert!(
            matches!(next, Next::Close | Next::Wait(Interest::Read, _)),
            "closed, or lingering: {next:?}"
        );
        let got = available(&mut theirs);
        assert!(got.starts_with("HTTP/1.1 505 "), "{got}");
        assert!(got.contains("\r\nConnection: close\r\n"), "{got}");
    }

    #[test]
    fn a_reader_that_stops_reading_leaves_the_response_waiting_for_writable() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        theirs
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let next = conn.serve(&f.env(), &mut Scratch::default());
        assert!(matches!(next, Next::Wait(Interest::Write, _)), "{next:?}");
        assert!(!conn.idle(), "a response is in flight");
        // The client reads everything; each time the socket has room, the response goes on.
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 20];
        let mut next = next;
        while matches!(next, Next::Wait(Interest::Write, _)) {
            got += theirs.read(&mut buf).unwrap();
            next = conn.serve(&f.env(), &mut Scratch::default());
        }
        got += available(&mut theirs).len();
        assert!(got > 8 << 20, "head and the whole body: {got}");
        assert!(matches!(next, Next::Wait(Interest::Read, _)) && conn.idle());
    }

    #[test]
    fn a_request_followed_by_the_clients_close_is_answered_then_closed() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        theirs
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        theirs.shutdown(Shutdown::Write).unwrap();
        // Both arrived before the worker woke: the event said so.
        conn.peer_closed();
        let next = conn.serve(&f.env(), &mut Scratch::default());
        assert_eq!(next, Next::Close);
        let got = available(&mut theirs);
        assert!(
            got.starts_with("HTTP/1.1 200 OK\r\n") && got.ends_with("aaa"),
            "{got}"
        );
    }

    #[test]
    fn an_expired_partial_head_gets_408() {
        let f = fixture();
        let (mut conn, mut theirs) = pair();
        theirs.write_all(b"GET / HTTP/1.1\r\nHost:").unwrap();
        conn.serve(&f.env(), &mut Scratch::default());
        conn.expire(&f.env());
        let got = available(&mut theirs);
        assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
    }

    #[test]
    fn a_partial_head_not_yet_read_when_the_deadline_passes_gets_408() {
        // The worker that expires the connection is not the one that took its readable
        // wake-up: the bytes are still in the socket.
        let f = fixture();
        let (conn, mut theirs) = pair();
        theirs.write_all(b"GET / HTTP/1.1\r\nHost:").unwrap();
        conn.expire(&f.env());
        let got = available(&mut theirs);
        assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
    }

    #[test]
    fn a_stalled_upload_waits_for_readable_then_expires_with_408_leaving_nothing() {
        let f = fixture();
        let root = f.site.root.path().to_path_buf();
        let uploads = crate::share::Uploads::default();
        let site = Site::new(
            root.clone(),
            crate::site::Settings {
                share: crate::share::Share {
                    uploads: Some(uploads),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        let env = Env {
            site: &site,
            ..f.env()
        };
        let (mut conn, mut theirs) = pair();
        theirs
            .write_all(b"PUT /up.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
            .unwrap();
        let before = Instant::now();
        // Part of the body: the connection waits for readable (no worker held) until the
        // progress deadline, --header-timeout from the last byte.
        let Next::Wait(Interest::Read, deadline) = conn.serve(&env, &mut Scratch::default()) else {
            panic!("waits for the rest of the body");
        };
        assert!(deadline >= before + LIMITS.header_timeout - Duration::from_millis(50));
        assert!(deadline <= Instant::now() + LIMITS.header_timeout);
        assert!(
            !conn.idle(),
            "an upload under way is let finish on shutdown"
        );
        assert!(!root.join("up.bin").exists());
        conn.expire(&env);
        let got = available(&mut theirs);
        assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
        let left: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "only the fixture's files: {left:?}");
    }
}
