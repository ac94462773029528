//! One connection: the socket, a read buffer that keeps what the head parser did not use,
//! and the limits every blocking call is held to.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use shared::{Endpoint, Stream, io_words};

use crate::error::Error;

/// Size of the read buffer, which is also the cap on a response head: 64 KiB.
pub(crate) const BUF_SIZE: usize = 64 * 1024;

/// An upload from a file goes out in mapped windows of 4 MiB: one `mmap` and `munmap` per
/// 4 MiB is nothing beside the copy, and the window bounds what one `send` holds mapped.
/// Measured (fetch -T of 1 GiB to nginx, pairs against curl -T): 256 KiB to 32 MiB all came
/// within 0.91-0.99x curl's wall time; 4 MiB without MAP_POPULATE used the least CPU (0.67x
/// curl's; pre-faulting the window cost more than the faults it saved, 0.86x).
const MAP_WINDOW: u64 = 4 << 20;

/// A file to send that ended at `offset`, before the length promised for it.
fn shrank(what: &std::path::Path, offset: u64) -> Error {
    Error::Read {
        what: what.display().to_string(),
        reason: format!("the file shrank to {offset} bytes while being sent"),
    }
}

/// What a blocking call on the connection is doing, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The TLS handshake (reads and writes).
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "only TLS shakes hands")
    )]
    Handshake,
    /// Writing the request head.
    Send,
    /// Waiting for (the rest of) the response head.
    Head,
    /// Reading the body.
    Body,
}

/// How a line read from the connection ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A whole line, without its `\n` or `\r\n`.
    Whole(Vec<u8>),
    /// No line ending within the cap.
    TooLong,
    /// The peer closed the connection before the line ended.
    Eof,
}

/// `--limit-rate` for uploads: how much to send at once, and the wait that keeps the
/// average at the rate.
#[derive(Debug)]
pub(crate) struct Pace {
    rate: Option<u64>,
    started: Instant,
    sent: u64,
}

impl Pace {
    /// At most `rate` bytes a second on average (`None`: as fast as the socket takes).
    pub(crate) fn new(rate: Option<u64>) -> Pace {
        Pace {
            rate,
            started: Instant::now(),
            sent: 0,
        }
    }

    /// The most to send in one go: an eighth of a second's worth (at least 1 KiB) when
    /// paced, so the pace is even rather than bursts; else 1 GiB.
    pub(crate) fn piece(&self) -> usize {
        self.rate
            .map_or(1 << 30, |r| (r / 8).clamp(1024, 1 << 20) as usize)
    }

    /// `n` more bytes went out: waits until the average is back to the rate.
    pub(crate) fn sent(&mut self, n: u64) {
        self.sent += n;
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(self.sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                shared::fiber::sleep(wait);
            }
        }
    }
}

/// A connected socket with a read buffer and the transfer's overall deadline.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: Stream,
    /// The TLS session over `stream`, once [`Connection::start_tls`] has shaken hands:
    /// every read and write then goes through it, and its buffer of ciphertext read ahead.
    #[cfg(feature = "tls")]
    tls: Option<Box<crate::tls::Session>>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The peer in words: `127.0.0.1:8080` or `unix:/run/app.sock`.
    pub(crate) peer: String,
    /// What this connection was opened to, the key for reuse.
    pub(crate) key: Endpoint,
    /// True when it was taken from the idle pool rather than freshly connected.
    pub(crate) reused: bool,
    /// The host a TLS session on it was made for (`None`: plain), the rest of the key.
    pub(crate) tls_name: Option<String>,
    /// The whole transfer's deadline and the limit it came from (`-m`), if any.
    total: Option<(Instant, Duration)>,
    /// When bytes first arrived since [`Connection::set_total`] (the start of a request).
    first_read: Option<Instant>,
    /// The local address, asked of the socket once (every request's hop records it).
    local: std::cell::OnceCell<Option<std::net::SocketAddr>>,
    /// The send and receive timeouts last set on the socket: a big body is thousands of
    /// reads, each under the same limit, and setting it again each time was a system call
    /// per read for nothing (one in three of a 1 GiB download's).
    timeouts: [std::cell::Cell<Option<Duration>>; 2],
    /// The socket is non-blocking (it is used in a fiber: see [`Connection::suit_thread`]).
    nonblocking: bool,
}

impl Connection {
    /// Matches the socket to where it is used now: non-blocking in a fiber of `-Z`'s run
    /// ([`shared::fiber`]: a read that would block parks the fiber), blocking elsewhere.
    /// A pooled connection can move from one to the other (a `--next` part after a `-Z`
    /// one).
    pub(crate) fn suit_thread(&mut self) {
        let want = shared::fiber::active();
        if self.nonblocking != want && self.stream.set_nonblocking(want).is_ok() {
            self.nonblocking = want;
        }
    }

    /// Wraps a freshly connected stream. `TCP_NODELAY` is set: the request head goes out in
    /// one write and should not wait for an ACK.
    pub(crate) fn new(stream: Stream, peer: String, key: Endpoint) -> Connection {
        // Best effort: a stream that refuses only costs a little latency.
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            stream,
            #[cfg(feature = "tls")]
            tls: None,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            peer,
            key,
            reused: false,
            tls_name: None,
            total: None,
            first_read: None,
            local: std::cell::OnceCell::new(),
            timeouts: Default::default(),
            nonblocking: false,
        };
        conn.suit_thread();
        conn
    }

    /// Holds every following call to `deadline`, which comes from `limit` (`-m`).
    /// Also starts watching for the first byte of the next response.
    pub(crate) fn set_total(&mut self, total: Option<(Instant, Duration)>) {
        self.total = total;
        self.first_read = None;
    }

    /// When the first bytes of the response arrived, if they have.
    pub(crate) fn first_read(&self) -> Option<Instant> {
        self.first_read
    }

    /// The bytes read but not yet used.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as used.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    fn describe(&self, phase: Phase) -> String {
        match phase {
            Phase::Handshake => format!("in the TLS handshake with {}", self.peer),
            Phase::Send => format!("sending the request to {}", self.peer),
            Phase::Head => format!("waiting for the response head from {}", self.peer),
            Phase::Body => format!("reading the body from {}", self.peer),
        }
    }

    /// Sets the socket timeout for one blocking call: whichever comes first of `until` (the
    /// phase's own deadline, from `limit`) and the whole transfer's deadline. Returns the
    /// limit that will have run out if the call times out, so the message names the right
    /// one.
    fn arm(&self, phase: Phase, limit: Duration, until: Instant) -> Result<Duration, Error> {
        let now = Instant::now();
        let mut wait = until.saturating_duration_since(now);
        let mut which = limit;
        if let Some((deadline, max)) = self.total {
            let left = deadline.saturating_duration_since(now);
            if left <= wait {
                wait = left;
                which = max;
            }
        }
        if wait.is_zero() {
            return Err(self.timeout(phase, which));
        }
        // A handshake both writes and reads: both limits are set.
        let slots: &[usize] = match phase {
            Phase::Send => &[0],
            Phase::Head | Phase::Body => &[1],
            Phase::Handshake => &[0, 1],
        };
        for &i in slots {
            let slot = &self.timeouts[i];
            // Within 10 ms of what is set already: close enough for a timeout (a read under
            // a 60 s limit asks for 59.99996 s, then 59.99997 s, ...).
            let same = slot
                .get()
                .is_some_and(|set| set.abs_diff(wait) <= Duration::from_millis(10));
            if !same {
                let set = if i == 0 {
                    self.stream.set_write_timeout(Some(wait))
                } else {
                    self.stream.set_read_timeout(Some(wait))
                };
                set.map_err(|e| self.io_error(phase, e, which))?;
                slot.set(Some(wait));
            }
        }
        Ok(which)
    }

    fn timeout(&self, phase: Phase, after: Duration) -> Error {
        Error::Timeout {
            phase: self.describe(phase),
            after,
        }
    }

    fn io_error(&self, phase: Phase, e: io::Error, which: Duration) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.timeout(phase, which),
            #[cfg(feature = "tls")]
            _ if phase == Phase::Handshake => crate::tls::handshake_error(&self.peer, &e),
            #[cfg(feature = "tls")]
            _ if self.tls.is_some() && crate::tls::inner(&e).is_some() => Error::Receive {
                peer: self.peer.clone(),
                reason: crate::tls::io_words(&e),
            },
            #[cfg(feature = "tls")]
            io::ErrorKind::UnexpectedEof if self.tls.is_some() => Error::Receive {
                peer: self.peer.clone(),
                reason: "the connection closed without a TLS close_notify (the response \
                         may be cut off)"
                    .into(),
            },
            _ if phase == Phase::Send => Error::Send {
                peer: self.peer.clone(),
                reason: io_words(&e),
            },
            _ => Error::Receive {
                peer: self.peer.clone(),
                reason: io_words(&e),
            },
        }
    }

    /// Sends `len` bytes of `file` from its start out of mapped windows of it
    /// ([`shared::Stream::send_mapped_at`]: no `read` into a buffer, the one copy made by
    /// `send`), each window within `limit` (a progress deadline, and the overall one). With
    /// `pace` (`--limit-rate`), in pieces that keep to its rate. Returns the bytes sent; a
    /// file that ends before `len` is a read error (the length was promised).
    pub(crate) fn send_file(
        &mut self,
        file: &std::fs::File,
        what: &std::path::Path,
        len: u64,
        limit: Duration,
        pace: &mut Pace,
    ) -> Result<u64, Error> {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return self.send_file_tls(file, what, len, limit, pace);
        }
        let mut offset = 0;
        while offset < len {
            let which = self.arm(Phase::Send, limit, Instant::now() + limit)?;
            let piece = (len - offset).min(pace.piece() as u64).min(MAP_WINDOW);
            let n = self
                .stream
                .send_mapped_at(file, &mut offset, piece)
                .map_err(|e| self.io_error(Phase::Send, e, which))?;
            if n == 0 {
                return Err(shrank(what, offset));
            }
            pace.sent(n);
        }
        Ok(offset)
    }

    /// Over TLS, a file cannot go out of a mapping with `send`: it is read in pieces and
    /// sealed into records, each piece within `limit`.
    #[cfg(feature = "tls")]
    fn send_file_tls(
        &mut self,
        file: &std::fs::File,
        what: &std::path::Path,
        len: u64,
        limit: Duration,
        pace: &mut Pace,
    ) -> Result<u64, Error> {
        use std::os::unix::fs::FileExt;
        let mut piece = vec![0; (256 << 10).min(pace.piece())];
        let mut offset = 0;
        while offset < len {
            let want = piece.len().min((len - offset) as usize);
            let n = file
                .read_at(&mut piece[..want], offset)
                .map_err(|e| Error::Read {
                    what: what.display().to_string(),
                    reason: io_words(&e),
                })?;
            if n == 0 {
                return Err(shrank(what, offset));
            }
            self.write_all(&piece[..n], limit)?;
            offset += n as u64;
            pace.sent(n as u64);
        }
        Ok(offset)
    }

    /// Writes all of `bytes` within `limit` (and the overall deadline).
    pub(crate) fn write_all(&mut self, bytes: &[u8], limit: Duration) -> Result<(), Error> {
        let which = self.arm(Phase::Send, limit, Instant::now() + limit)?;
        self.write_wire(bytes)
            .map_err(|e| self.io_error(Phase::Send, e, which))
    }

    /// Writes `bytes` to the peer: sealed in TLS records when the connection has TLS.
    fn write_wire(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            let (conn, mut wire) = tls.wire(&self.stream, true);
            let mut s = rustls::Stream::new(conn, &mut wire);
            s.write_all(bytes)?;
            return s.flush();
        }
        (&self.stream).write_all(bytes)
    }

    /// Reads from the peer into `out`: opened from TLS records when the connection has TLS.
    fn read_wire(&mut self, out: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return match tls.read(&self.stream, out) {
                // The end of the stream without a close_notify ends it all the same, as
                // for curl (OpenSSL's SSL_OP_IGNORE_UNEXPECTED_EOF): a body with a length
                // or chunks still knows when it was cut short (exit 18).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            };
        }
        (&self.stream).read(out)
    }

    /// Shakes hands over the connected socket as the client of `config`, for `name` (the
    /// URL's host: the SNI, and what the certificate must name), within `limit` (and the
    /// overall deadline). Every read and write after it goes through TLS.
    #[cfg(feature = "tls")]
    pub(crate) fn start_tls(
        &mut self,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        limit: Duration,
    ) -> Result<(), Error> {
        let until = Instant::now() + limit;
        let tls = rustls::ClientConnection::new(config, name).map_err(|e| Error::Tls {
            peer: Some(self.peer.clone()),
            kind: crate::error::TlsKind::Handshake,
            reason: shared::tls::tls_words(&e),
        })?;
        // The handshake reads through the same buffer as what follows: the server's first
        // records (a session ticket, the response) may come in the same `recv`.
        let mut tls = Box::new(crate::tls::Session::new(tls));
        while tls.conn.is_handshaking() {
            let which = self.arm(Phase::Handshake, limit, until)?;
            let (conn, mut wire) = tls.wire(&self.stream, true);
            match conn.complete_io(&mut wire) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(Phase::Handshake, e, which)),
            }
        }
        self.tls = Some(tls);
        Ok(())
    }

    /// The TLS session, once shaken hands.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(&self) -> Option<&rustls::ClientConnection> {
        self.tls.as_deref().map(|s| &s.conn)
    }

    /// Reads more bytes into the buffer, waiting until `until` at most. Returns the number
    /// read, 0 when the peer closed the connection. Compacts the buffer first; the caller
    /// makes sure it is not full (it caps what it waits for below [`BUF_SIZE`]).
    pub(crate) fn fill(
        &mut self,
        phase: Phase,
        limit: Duration,
        until: Instant,
    ) -> Result<usize, Error> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        debug_assert!(self.end < self.buf.len(), "fill with a full buffer");
        let which = self.arm(phase, limit, until)?;
        loop {
            // The buffer is lent out for the read (taking a boxed slice allocates nothing),
            // since reading through TLS needs the whole connection.
            let end = self.end;
            let mut buf = std::mem::take(&mut self.buf);
            let read = self.read_wire(&mut buf[end..]);
            self.buf = buf;
            match read {
                Ok(n) => {
                    self.end += n;
                    if n > 0 && self.first_read.is_none() {
                        self.first_read = Some(Instant::now());
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(phase, e, which)),
            }
        }
    }

    /// The local address of a TCP connection (`None` on a Unix socket).
    pub(crate) fn local_addr(&self) -> Option<std::net::SocketAddr> {
        *self.local.get_or_init(|| match self.stream.local_addr() {
            Ok(shared::Address::Tcp(a)) => Some(a),
            _ => None,
        })
    }

    /// Reads body bytes into `out`: buffered ones first, then straight from the socket
    /// (no copy), waiting at most `idle` for them. Returns 0 when the peer closed.
    pub(crate) fn read(&mut self, out: &mut [u8], idle: Duration) -> Result<usize, Error> {
        if out.is_empty() {
            return Ok(0);
        }
        let have = self.buffered();
        if !have.is_empty() {
            let n = have.len().min(out.len());
            out[..n].copy_from_slice(&have[..n]);
            self.consume(n);
            return Ok(n);
        }
        let which = self.arm(Phase::Body, idle, Instant::now() + idle)?;
        loop {
            match self.read_wire(out) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(Phase::Body, e, which)),
            }
        }
    }

    /// Reads one line of at most `cap` bytes (for chunk sizes and trailers), waiting at most
    /// `idle` for each piece of it. Accepts a bare `\n` as the line ending.
    pub(crate) fn read_line(&mut self, cap: usize, idle: Duration) -> Result<Line, Error> {
        let cap = cap.min(BUF_SIZE - 1);
        loop {
            let have = self.buffered();
            if let Some(i) = have.iter().position(|&b| b == b'\n') {
                // The cap holds even when the whole line is already buffered.
                if i > cap {
                    return Ok(Line::TooLong);
                }
                let mut line = have[..i].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.consume(i + 1);
                return Ok(Line::Whole(line));
            }
            if have.len() >= cap {
                return Ok(Line::TooLong);
            }
            if self.fill(Phase::Body, idle, Instant::now() + idle)? == 0 {
                return Ok(Line::Eof);
            }
        }
    }

    /// True when an idle connection can no longer be used: the peer closed it, reset it,
    /// or sent bytes nobody asked for. Checked without blocking.
    pub(crate) fn is_stale(&mut self) -> bool {
        if self.start != self.end {
            return true;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return crate::tls::is_stale(tls, &self.stream);
        }
        // One recv with MSG_DONTWAIT (two system calls fewer per reuse than setting and
        // clearing O_NONBLOCK around a read).
        let mut probe = [0u8; 1];
        !matches!(
            self.stream.read_nowait(&mut probe),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        )
    }
}

/// The read-ahead of [`crate::tls::Session`], seen through a connection (here, so that
/// `tls.rs` imports nothing of the connection).
#[cfg(all(test, feature = "tls"))]
mod tls_tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    use shared::tls::ClientSettings;
    use shared::{Endpoint, Stream};

    use super::Connection;

    const IDLE: Duration = Duration::from_secs(10);

    /// A TLS server on one end of a socket pair (a certificate for `localhost`, made here),
    /// and the client's connection on the other, shaken hands. `serve` gets the server's
    /// session and socket once the handshake is done.
    fn pair(
        serve: impl FnOnce(rustls::ServerConnection, UnixStream) + Send + 'static,
    ) -> (Connection, std::thread::JoinHandle<()>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let pair = rustls::sign::CertifiedKey::from_der(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            &shared::tls::provider(),
        )
        .unwrap();
        let config = shared::tls::server_config(shared::tls::CertSlot::new(Arc::new(pair)));
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut tls = rustls::ServerConnection::new(config.unwrap()).unwrap();
            let mut sock = theirs;
            while tls.is_handshaking() || tls.wants_write() {
                tls.complete_io(&mut sock).unwrap();
            }
            serve(tls, sock);
        });
        let settings = ClientSettings {
            insecure: true,
            ..ClientSettings::default()
        };
        let mut conn = Connection::new(
            Stream::from(ours),
            "test".into(),
            Endpoint::Unix(PathBuf::from("test")),
        );
        let name = shared::tls::server_name("localhost").unwrap();
        conn.start_tls(settings.build().unwrap(), name, IDLE)
            .unwrap();
        (conn, server)
    }

    /// The records `tls` seals for each of `pieces` (one record each), as they go on the
    /// wire.
    fn sealed(tls: &mut rustls::ServerConnection, pieces: &[&[u8]]) -> Vec<u8> {
        for piece in pieces {
            tls.writer().write_all(piece).unwrap();
        }
        let mut wire = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut wire).unwrap();
        }
        wire
    }

    #[test]
    fn the_records_that_have_arrived_come_in_one_read() {
        let (ready, wait) = mpsc::channel();
        let (mut conn, server) = pair(move |mut tls, mut sock| {
            let a = [b'a'; 2000];
            let b = [b'b'; 2000];
            let c = [b'c'; 2000];
            sock.write_all(&sealed(&mut tls, &[&a, &b, &c])).unwrap();
            // The end, once the client has read the three.
            wait.recv().unwrap();
            sock.write_all(&sealed(&mut tls, &[b"end"])).unwrap();
            tls.send_close_notify();
            sock.write_all(&sealed(&mut tls, &[])).unwrap();
        });
        let mut out = vec![0u8; 64 * 1024];
        let mut n = conn.read(&mut out, IDLE).unwrap();
        // Before the read-ahead, one read was one record: 2000. (The three may come in two
        // pieces if the socket hands them over so; then the read after takes the rest.)
        if n < 6000 {
            n += conn.read(&mut out[n..], IDLE).unwrap();
        }
        assert_eq!(n, 6000, "the three records in at most two reads");
        let want: Vec<u8> = [[b'a'; 2000], [b'b'; 2000], [b'c'; 2000]].concat();
        assert_eq!(&out[..n], &want[..]);
        ready.send(()).unwrap();
        let n = conn.read(&mut out, IDLE).unwrap();
        assert_eq!(&out[..n], b"end");
        assert_eq!(conn.read(&mut out, IDLE).unwrap(), 0, "close_notify");
        server.join().unwrap();
    }

    #[test]
    fn a_pooled_connection_is_judged_with_what_was_read_ahead() {
        // Bytes nobody asked for, arrived with the response and read ahead with it: stale,
        // though the socket itself has nothing more.
        let (mut conn, server) = pair(|mut tls, mut sock| {
            sock.write_all(&sealed(&mut tls, &[b"hello", b"junk"]))
                .unwrap();
            // Keep the socket open until the client is done.
            let _ = sock.read(&mut [0; 1]);
        });
        let mut out = [0u8; 5];
        assert_eq!(conn.read(&mut out, IDLE).unwrap(), 5);
        assert_eq!(&out, b"hello");
        assert!(
            conn.is_stale(),
            "the record after the response is unrequested data"
        );
        drop(conn);
        server.join().unwrap();

        // A handshake message after the response (a key update, read ahead with it) is
        // fine: the connection is reused, and what follows is opened with the new keys.
        let (go, wait) = mpsc::channel();
        let (mut conn, server) = pair(move |mut tls, mut sock| {
            tls.writer().write_all(b"hello").unwrap();
            tls.refresh_traffic_keys().unwrap();
            sock.write_all(&sealed(&mut tls, &[])).unwrap();
            wait.recv().unwrap();
            sock.write_all(&sealed(&mut tls, &[b"again"])).unwrap();
            let _ = sock.read(&mut [0; 1]);
        });
        assert_eq!(conn.read(&mut out, IDLE).unwrap(), 5);
        assert_eq!(&out, b"hello");
        assert!(!conn.is_stale(), "a key update is not stale");
        go.send(()).unwrap();
        assert_eq!(conn.read(&mut out, IDLE).unwrap(), 5);
        assert_eq!(&out, b"again");
        drop(conn);
        server.join().unwrap();
    }
}
