//! Sending one response over a non-blocking socket: the head (with a small body in the same
//! write), then the pieces of a large body by sendfile. When the client does not read, the
//! socket's buffer fills and sending stops with `WouldBlock`, keeping exactly what is left;
//! the connection then waits for writable in the readiness set and sending resumes where it
//! stopped — so a slow reader never holds a worker.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};

use std::os::unix::fs::FileExt;

use crate::engine::tls::Wire;
use crate::respond::Body;

/// Bodies up to this size are put in memory and sent with the head in one write; larger
/// ones go out by sendfile after the head.
pub(crate) const SMALL_BODY: u64 = 32 * 1024;

/// The most bytes of a streamed body read ahead of the socket.
const STREAM_BUF: usize = 256 * 1024;

/// The most one sendfile is asked to move. A whole span in one call left the socket corked
/// (the kernel marks every piece but a call's last "more to come") and the receiver waiting:
/// one 1 GiB download from loopback ran at 0.75-0.84x the speed of 256 KiB calls (medians of ten
/// interleaved rounds, 1,517 against 1,814-2,047 MiB/s; 64 KiB-1 MiB measured, BENCHMARKS.md,
/// issue 27), with the same req/s for 1 MiB at 16 connections. lighttpd sends the same size.
const SENDFILE_PIECE: u64 = 256 * 1024;

/// Over TLS a file cannot go by sendfile: it is read in pieces of this size, each sealed
/// into 16 KiB records (rustls's largest) and written in as few calls as the socket takes
/// (see `tls::SEALED_LIMIT`: the same size, chosen by a sweep from 64 KiB to 1 MiB).
const TLS_READ: usize = 256 * 1024;

/// A file ended before the length its head announced (it shrank while being sent).
#[derive(Debug)]
pub(crate) struct Shrank(String);

impl std::fmt::Display for Shrank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Shrank {}

fn shrank(path: &Path, got: u64, want: u64) -> io::Error {
    io::Error::other(Shrank(format!(
        "{} shrank while being sent ({got} of {want} bytes)",
        path.display()
    )))
}

/// The file that shrank, when `e` says one did.
pub(crate) fn shrank_in(e: &io::Error) -> Option<&Shrank> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Shrank>())
}

/// One piece of a response body after the head.
#[derive(Debug)]
enum Piece {
    /// Bytes made here (multipart boundaries).
    Text(Vec<u8>),
    /// `len` bytes of the file from `start`, by sendfile.
    Span { start: u64, len: u64 },
    /// Everything a pipe gives until its end, spliced into the socket (through a buffer
    /// where the kernel refuses that).
    Stream,
    /// A listing, made into the buffer as the socket takes it.
    Listing,
}

/// A response on its way out, resumable after `WouldBlock`.
#[derive(Debug, Default)]
pub(crate) struct Sending {
    /// Unsent bytes of the head (with a small body); empty until sending first stops (until
    /// then they are in the caller's buffer).
    head: Vec<u8>,
    /// How much of the caller's buffer was written before sending first stopped.
    head_at: usize,
    pieces: VecDeque<Piece>,
    /// Bytes of the front piece already sent (of a buffered piece: of the buffer).
    at: u64,
    /// Over TLS, bytes of the front span read from the file so far.
    read: u64,
    file: Option<(File, PathBuf)>,
    /// A streamed body's pipe.
    stream: Option<File>,
    /// The kernel refused to splice this pipe into this socket: read and send instead.
    copy_stream: bool,
    /// A listing being made.
    listing: Option<Box<crate::listing::Rendering>>,
    /// What was read from the pipe or made of the listing and not yet sent.
    buf: Vec<u8>,
    /// Body bytes counted as sent so far (for the log).
    sent: u64,
}

impl Sending {
    /// Lays out a response: the head is already in `out`; a small body is appended to it (so
    /// both go out in one write), a large one becomes the pieces to send after it.
    pub(crate) fn new(out: &mut Vec<u8>, body: Body) -> io::Result<Sending> {
        let mut s = Sending::default();
        match body {
            Body::Empty | Body::Watch => {}
            Body::Stream(archive) => {
                s.pieces.push_back(Piece::Stream);
                s.stream = Some(archive.reader);
            }
            Body::Listing(mut listing) => {
                if listing.len() <= SMALL_BODY {
                    let before = out.len();
                    while listing.fill(out, usize::MAX) {}
                    s.sent = (out.len() - before) as u64;
                } else {
                    s.pieces.push_back(Piece::Listing);
                    s.listing = Some(listing);
                }
            }
            Body::Bytes(bytes) => s.inline(out, &bytes),
            Body::Shared(bytes) => s.inline(out, &bytes),
            Body::Cached { entry, start, len } => {
                s.inline(out, &entry.bytes[start as usize..(start + len) as usize]);
            }
            Body::File {
                mut file,
                path,
                start,
                len,
            } => {
                if len <= SMALL_BODY {
                    if start > 0 {
                        file.seek(io::SeekFrom::Start(start))?;
                    }
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

    fn inline(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(bytes);
        self.sent = bytes.len() as u64;
    }

    /// Body bytes sent so far (a small body counts as sent with the head).
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// True while part of the head is still unsent.
    pub(crate) fn head_left(&self) -> bool {
        !self.head.is_empty()
    }

    /// Sends what is left, never waiting: first the head (from `out` the first time, from
    /// its own copy after a stop), then the pieces. Fails with `WouldBlock` when the socket
    /// is full, keeping the rest; call again with an empty `out` when it is writable.
    pub(crate) fn pump(&mut self, wire: &mut Wire<'_>, out: &[u8]) -> io::Result<()> {
        let result = self.pump_inner(wire, out);
        if let Err(e) = &result
            && e.kind() == io::ErrorKind::WouldBlock
            && self.head.is_empty()
            && self.head_at < out.len()
        {
            // Stopping: keep the unsent part of the head; the caller's buffer is reused.
            self.head = out[self.head_at..].to_vec();
            self.head_at = 0;
        }
        result
    }

    fn pump_inner(&mut self, wire: &mut Wire<'_>, out: &[u8]) -> io::Result<()> {
        self.send_head(wire, out)?;
        while let Some(piece) = self.pieces.front() {
            match piece {
                Piece::Text(text) => {
                    let mut at = self.at as usize;
                    let more = self.pieces.len() > 1;
                    let result = write_from(wire, text, &mut at, more);
                    self.sent += at as u64 - self.at;
                    self.at = at as u64;
                    result?;
                }
                Piece::Stream => self.send_stream(wire)?,
                Piece::Listing => {
                    let Some(listing) = self.listing.as_mut() else {
                        return Err(io::Error::other("no listing to send"));
                    };
                    let refill = |buf: &mut Vec<u8>| {
                        buf.clear();
                        Ok(listing.fill(buf, STREAM_BUF))
                    };
                    drain(wire, &mut self.buf, &mut self.at, &mut self.sent, refill)?;
                }
                &Piece::Span { start, len } if !wire.is_tls() => {
                    self.send_span(wire, start, len)?
                }
                &Piece::Span { start, len } => self.seal_span(wire, start, len)?,
            }
            self.pieces.pop_front();
            self.at = 0;
        }
        // Over TLS, records sealed and not yet written go now (or the connection waits for
        // writable with them kept in the session).
        wire.flush()
    }

    /// What is left of the head: its own copy after a stop, else `out` from `head_at`.
    #[inline]
    fn send_head(&mut self, wire: &mut Wire<'_>, out: &[u8]) -> io::Result<()> {
        // With a body to follow, the head is held back (MSG_MORE) to leave in the body's
        // first packet, as a cork would, but with no system call to set or clear one.
        let more = !self.pieces.is_empty();
        if !self.head.is_empty() {
            let mut head = std::mem::take(&mut self.head);
            let mut at = 0;
            let result = write_from(wire, &head, &mut at, more);
            if at < head.len() {
                head.drain(..at);
                self.head = head;
            }
            result?;
        } else if self.head_at < out.len() {
            write_from(wire, out, &mut self.head_at, more)?;
        }
        Ok(())
    }

    /// The front piece, a pipe's bytes to its end (an archive being written).
    #[inline]
    fn send_stream(&mut self, wire: &mut Wire<'_>) -> io::Result<()> {
        let Some(reader) = self.stream.as_mut() else {
            return Err(io::Error::other("no pipe for a stream"));
        };
        // The pipe is read blocking: its writer is busy making bytes, never waiting on
        // anyone. Splicing moves the pipe's pages to the socket with no copy; a full socket
        // is `WouldBlock` with the rest still in the pipe. Over TLS the bytes must pass
        // through the session: read and sealed.
        self.copy_stream |= wire.plain().is_none();
        while !self.copy_stream {
            let Some(stream) = wire.plain() else { break };
            let flags = rustix::pipe::SpliceFlags::empty();
            match rustix::pipe::splice(&*reader, None, stream, None, 1 << 30, flags) {
                Ok(0) => break,
                Ok(n) => self.sent += n as u64,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::INVAL) => self.copy_stream = true,
                Err(e) => return Err(e.into()),
            }
        }
        if self.copy_stream {
            let refill = |buf: &mut Vec<u8>| {
                buf.resize(STREAM_BUF, 0);
                let n = loop {
                    match reader.read(buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other,
                    }
                };
                let n = n.inspect_err(|_| buf.clear())?;
                buf.truncate(n);
                Ok(n > 0)
            };
            drain(wire, &mut self.buf, &mut self.at, &mut self.sent, refill)?;
        }
        Ok(())
    }

    /// The front piece, `len` bytes of the file from `start`, by sendfile (plain TCP).
    #[inline]
    fn send_span(&mut self, wire: &mut Wire<'_>, start: u64, len: u64) -> io::Result<()> {
        let (Some((file, path)), Some(stream)) = (self.file.as_ref(), wire.plain()) else {
            return Err(io::Error::other("no file for a span"));
        };
        // One sendfile at a time, from an explicit offset: a WouldBlock then loses nothing,
        // and `at` is exactly what the client was sent.
        while self.at < len {
            let mut offset = start + self.at;
            match stream.send_file_at(file, &mut offset, (len - self.at).min(SENDFILE_PIECE))? {
                0 => return Err(shrank(path, start + self.at, start + len)),
                n => {
                    self.at += n;
                    self.sent += n;
                }
            }
        }
        Ok(())
    }

    /// The front piece, `len` bytes of the file from `start`, over TLS: read into the
    /// buffer, sealed, written; `at` is the position in the buffer and `read` how much of
    /// the span the file has given.
    #[inline]
    fn seal_span(&mut self, wire: &mut Wire<'_>, start: u64, len: u64) -> io::Result<()> {
        let Some((file, path)) = self.file.as_ref() else {
            return Err(io::Error::other("no file for a span"));
        };
        let read = &mut self.read;
        let refill = |buf: &mut Vec<u8>| {
            let want = (len - *read).min(TLS_READ as u64) as usize;
            if want == 0 {
                buf.clear();
                return Ok(false);
            }
            // Over the bytes already sent: zeroes only what the buffer grows by.
            buf.resize(want, 0);
            let n = loop {
                match file.read_at(buf, start + *read) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other,
                }
            };
            let n = n.inspect_err(|_| buf.clear())?;
            buf.truncate(n);
            if n == 0 {
                return Err(shrank(path, start + *read, start + len));
            }
            *read += n as u64;
            Ok(true)
        };
        drain(wire, &mut self.buf, &mut self.at, &mut self.sent, refill)?;
        self.read = 0;
        Ok(())
    }
}

/// Sends `buf[*at..]`, then refills `buf` and sends again, until `refill` says the body is
/// done (and has emptied `buf`); a `WouldBlock` keeps the unsent rest for the next call.
/// `refill` is given the buffer as it was sent and replaces its contents.
fn drain(
    wire: &mut Wire<'_>,
    buf: &mut Vec<u8>,
    at: &mut u64,
    sent: &mut u64,
    mut refill: impl FnMut(&mut Vec<u8>) -> io::Result<bool>,
) -> io::Result<()> {
    loop {
        if (*at as usize) < buf.len() {
            let mut pos = *at as usize;
            let result = write_from(wire, buf, &mut pos, false);
            *sent += pos as u64 - *at;
            *at = pos as u64;
            result?;
        }
        // `refill` writes over the bytes just sent (a cleared buffer would be zeroed again
        // each time: 3% of a TLS download's CPU), and leaves it empty when it is done.
        *at = 0;
        if !refill(buf)? && buf.is_empty() {
            return Ok(());
        }
    }
}

/// Writes `bytes[*at..]` without waiting, moving `at` as it goes (so a `WouldBlock` loses
/// nothing). `more`: more follows at once, so the kernel may hold a partial packet for it.
fn write_from(wire: &mut Wire<'_>, bytes: &[u8], at: &mut usize, more: bool) -> io::Result<()> {
    while *at < bytes.len() {
        match wire.write(&bytes[*at..], more)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => *at += n,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Stream;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn pair() -> (Stream, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        (Stream::Unix(ours), theirs)
    }

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let file = File::open(f.path()).unwrap();
        (f, file)
    }

    /// Reads everything available from `theirs` until `want` bytes arrived.
    fn read_n(theirs: &mut UnixStream, want: usize) -> Vec<u8> {
        let mut got = vec![0u8; want];
        theirs.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn a_small_body_goes_out_with_the_head() {
        let (ours, mut theirs) = pair();
        let (_tmp, file) = file_of(b"0123456789");
        let mut out = b"HEAD\r\n\r\n".to_vec();
        let body = Body::File {
            file,
            path: "f".into(),
            start: 2,
            len: 5,
        };
        let mut s = Sending::new(&mut out, body).unwrap();
        assert_eq!(out, b"HEAD\r\n\r\n23456", "one buffer, one write");
        s.pump(&mut Wire::new(&ours, None), &out).unwrap();
        assert_eq!(s.sent(), 5);
        assert_eq!(read_n(&mut theirs, out.len()), out);
    }

    #[test]
    fn a_full_socket_stops_sending_and_it_resumes_where_it_stopped() {
        let (ours, mut theirs) = pair();
        let content: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let (_tmp, file) = file_of(&content);
        let mut out = b"HEAD\r\n\r\n".to_vec();
        let body = Body::File {
            file,
            path: "big".into(),
            start: 0,
            len: content.len() as u64,
        };
        let mut s = Sending::new(&mut out, body).unwrap();
        let err = s.pump(&mut Wire::new(&ours, None), &out).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::WouldBlock,
            "the reader reads nothing"
        );
        assert!(s.sent() < content.len() as u64);
        // The caller's buffer is reused at once: what is left of the head was kept.
        out.clear();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = theirs.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            match s.pump(&mut Wire::new(&ours, None), &[]) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        drop(ours);
        theirs.read_to_end(&mut got).unwrap();
        assert_eq!(&got[..8], b"HEAD\r\n\r\n");
        assert!(got[8..] == content[..], "every byte once, in order");
        assert_eq!(s.sent(), content.len() as u64);
    }

    #[test]
    fn a_file_that_shrank_is_an_error_that_says_so() {
        let (ours, _theirs) = pair();
        let (_tmp, file) = file_of(&vec![1u8; 40 * 1024]);
        let mut out = Vec::new();
        let body = Body::File {
            file,
            path: "short.bin".into(),
            start: 0,
            len: 64 * 1024,
        };
        let mut s = Sending::new(&mut out, body).unwrap();
        let err = s.pump(&mut Wire::new(&ours, None), &out).unwrap_err();
        let why = shrank_in(&err).expect("a Shrank error").to_string();
        assert!(why.contains("short.bin shrank"), "{why}");
    }

    #[test]
    fn multipart_pieces_go_in_order() {
        let (ours, mut theirs) = pair();
        let (_tmp, file) = file_of(b"abcdefghij");
        let mut out = b"H|".to_vec();
        let parts = vec![
            (
                "<1>".to_string(),
                crate::http::range::Span { start: 0, len: 2 },
            ),
            (
                "<2>".to_string(),
                crate::http::range::Span { start: 8, len: 2 },
            ),
        ];
        let body = Body::Multipart {
            file,
            path: "m".into(),
            parts,
            closing: "<end>".into(),
        };
        let mut s = Sending::new(&mut out, body).unwrap();
        s.pump(&mut Wire::new(&ours, None), &out).unwrap();
        drop(ours);
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"H|<1>ab\r\n<2>ij\r\n<end>");
    }
}
