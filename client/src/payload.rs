//! [`Payload`]: a request body, in memory, in a file, or from a reader of unknown length
//! (sent chunked), and how it goes out on a connection.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::connection::{Connection, Pace};
use crate::error::Error;

/// Bodies larger than this are announced with `Expect: 100-continue` (curl's threshold,
/// 1 MiB); uploads from a file or a reader always are.
pub(crate) const EXPECT_THRESHOLD: u64 = 1024 * 1024;

/// Reads of 128 KiB from a file or a reader: few system calls for a fast upload.
const CHUNK: usize = 128 * 1024;

/// A request body.
#[derive(Clone)]
#[non_exhaustive]
pub enum Payload {
    /// Bytes in memory, sent with a `Content-Length`.
    Bytes(Arc<[u8]>),
    /// A file, sent with its length as `Content-Length`; opened again for every request
    /// that carries it (a redirect with 307 or 308, a retry).
    File(PathBuf),
    /// A reader of unknown length, sent chunked (`Transfer-Encoding: chunked`). It can be
    /// read only once: a second request that carries it sends an empty body.
    Stream(Arc<Mutex<dyn Read + Send>>),
    /// Pieces sent one after the other with the sum of their lengths as `Content-Length`:
    /// bytes in memory and files sent from a mapping (a multipart form's files, which
    /// never pass through memory).
    Parts(Arc<[Piece]>),
}

/// One piece of [`Payload::Parts`].
#[derive(Debug, Clone)]
pub enum Piece {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A whole file, opened when it is sent.
    File(PathBuf),
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Payload::File(p) => write!(f, "File({})", p.display()),
            Payload::Stream(_) => f.write_str("Stream"),
            Payload::Parts(p) => write!(f, "Parts({} pieces)", p.len()),
        }
    }
}

impl Payload {
    /// The length for `Content-Length`, or `None` for a chunked body. A file that cannot be
    /// read is an error (exit 26).
    pub(crate) fn len(&self) -> Result<Option<u64>, Error> {
        match self {
            Payload::Bytes(b) => Ok(Some(b.len() as u64)),
            Payload::File(path) => std::fs::metadata(path)
                .map(|m| Some(m.len()))
                .map_err(|e| read_error(path, &e)),
            Payload::Stream(_) => Ok(None),
            Payload::Parts(pieces) => {
                let mut total = 0;
                for piece in pieces.iter() {
                    total += match piece {
                        Piece::Bytes(b) => b.len() as u64,
                        Piece::File(path) => std::fs::metadata(path)
                            .map(|m| m.len())
                            .map_err(|e| read_error(path, &e))?,
                    };
                }
                Ok(Some(total))
            }
        }
    }

    /// Whether to ask `Expect: 100-continue` first, as curl does: for an upload from a file
    /// or a reader, and for a body over 1 MiB.
    pub(crate) fn expects_continue(&self, len: Option<u64>) -> bool {
        match self {
            Payload::Bytes(_) | Payload::Parts(_) => len.is_some_and(|n| n > EXPECT_THRESHOLD),
            Payload::File(_) | Payload::Stream(_) => true,
        }
    }

    /// Writes the body on `conn` (chunked for a stream), at most `rate` bytes a second on
    /// average (`--limit-rate`). Returns the bytes of body sent.
    pub(crate) fn send(
        &self,
        conn: &mut Connection,
        limit: Duration,
        rate: Option<u64>,
    ) -> Result<u64, Error> {
        let mut pace = Pace::new(rate);
        match self {
            Payload::Bytes(b) => send_bytes(conn, b, limit, &mut pace),
            Payload::File(path) => send_file(conn, path, limit, &mut pace),
            Payload::Parts(pieces) => {
                let mut sent = 0;
                for piece in pieces.iter() {
                    sent += match piece {
                        Piece::Bytes(b) => send_bytes(conn, b, limit, &mut pace)?,
                        Piece::File(path) => send_file(conn, path, limit, &mut pace)?,
                    };
                }
                Ok(sent)
            }
            Payload::Stream(reader) => {
                let mut reader = lock_between_fibers(reader);
                let mut buf = vec![0u8; CHUNK.min(pace.piece())];
                let mut sent = 0;
                loop {
                    let n = reader.read(&mut buf).map_err(|e| Error::Read {
                        what: "the upload stream".into(),
                        reason: shared::io_words(&e),
                    })?;
                    if n == 0 {
                        conn.write_all(b"0\r\n\r\n", limit)?;
                        return Ok(sent);
                    }
                    // One chunk per read: its size in hex, the data, CRLF.
                    let mut chunk = format!("{n:x}\r\n").into_bytes();
                    chunk.extend_from_slice(&buf[..n]);
                    chunk.extend_from_slice(b"\r\n");
                    conn.write_all(&chunk, limit)?;
                    sent += n as u64;
                    pace.sent(n as u64);
                }
            }
        }
    }
}

/// `bytes`, in paced pieces.
fn send_bytes(
    conn: &mut Connection,
    bytes: &[u8],
    limit: Duration,
    pace: &mut Pace,
) -> Result<u64, Error> {
    for piece in bytes.chunks(pace.piece()) {
        conn.write_all(piece, limit)?;
        pace.sent(piece.len() as u64);
    }
    Ok(bytes.len() as u64)
}

/// The file at `path`, whole, sent from mapped windows of it (`Connection::send_file`): it
/// is never read into a buffer.
fn send_file(
    conn: &mut Connection,
    path: &std::path::Path,
    limit: Duration,
    pace: &mut Pace,
) -> Result<u64, Error> {
    let file = File::open(path).map_err(|e| read_error(path, &e))?;
    let len = file.metadata().map_err(|e| read_error(path, &e))?.len();
    conn.send_file(&file, path, len, limit, pace)
}

fn read_error(path: &std::path::Path, e: &std::io::Error) -> Error {
    Error::Read {
        what: path.display().to_string(),
        reason: shared::io_words(e),
    }
}

/// Locks `m`, which is held across writes to the socket: in a fiber of `-Z`'s run
/// ([`shared::fiber`]), where those writes may park this fiber for another that wants the
/// same lock (one `-T -` shared by a glob's targets), it waits by parking, not by blocking
/// the thread every fiber runs on.
fn lock_between_fibers<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    loop {
        match m.try_lock() {
            Ok(guard) => return guard,
            Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if shared::fiber::active() => {
                shared::fiber::sleep(std::time::Duration::from_millis(1));
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                return m.lock().unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}
