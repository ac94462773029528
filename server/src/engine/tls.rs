//! TLS on a connection: the rustls session that sits beside the socket (`conn.rs` holds
//! both), and [`Wire`], the one door every byte of a connection goes through: the socket
//! itself for plain HTTP, the session (sealing and opening records) and then the socket
//! for HTTPS. `send.rs` and `conn.rs` read and write through it and never ask which it is,
//! except where the kernel can move a file's bytes itself (sendfile, splice): only a plain
//! wire offers its socket for that ([`Wire::plain`]).
//!
//! Nothing here waits: the socket is non-blocking, a full socket is `WouldBlock` with
//! what rustls has sealed kept in the session, and the handshake ([`Wire::handshake`]) goes
//! as far as the bytes that have come allow, then says what it waits for.

use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

use rustix::net::{RecvFlags, SendFlags};
use shared::Stream;
use shared::tls::rustls::{ServerConfig, ServerConnection};

use crate::engine::ready::Interest;

/// The most sealed bytes a session keeps waiting for the socket (rustls's buffer limit):
/// writing more plaintext waits until the socket has taken some. 256 KiB, the plain path's
/// read-ahead for streamed bodies: 16 records of 16 KiB go out in one `sendmsg` when the
/// socket takes them. Measured against 64 KiB to 1 MiB (BENCHMARKS.md, "the TLS batch
/// sweep"): no size was faster in every run; 64 KiB makes 3.6× the system calls of 256 KiB,
/// 512 KiB-1 MiB a little less CPU per download but twice the memory per connection.
pub(crate) const SEALED_LIMIT: usize = 256 * 1024;

/// A session for a client whose first byte said TLS.
pub(crate) fn accept(config: &Arc<ServerConfig>) -> Option<Box<ServerConnection>> {
    let mut session = ServerConnection::new(Arc::clone(config)).ok()?;
    session.set_buffer_limit(Some(SEALED_LIMIT));
    Some(Box::new(session))
}

/// How far a handshake got.
#[derive(Debug)]
pub(crate) enum Shake {
    /// Done: requests may come.
    Done,
    /// Waits for the socket to be readable or writable.
    Wait(Interest),
    /// Failed (the client's alert, bad bytes, a close, or a socket error): close.
    Failed,
}

/// The socket as rustls reads and writes it: non-blocking, no SIGPIPE, and noting when a
/// read found the socket emptied (fewer bytes than asked), so no extra read is spent to
/// learn it (edge-triggered readiness says nothing again for bytes left unread).
struct Socket<'a> {
    stream: &'a Stream,
    drained: bool,
}

impl Read for Socket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            match rustix::net::recv(self.stream, &mut *buf, RecvFlags::DONTWAIT) {
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    self.drained = true;
                    return Err(e.into());
                }
                Ok((n, _)) => break n,
            }
        };
        self.drained = n < buf.len();
        Ok(n)
    }
}

impl Write for Socket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        let mut control = rustix::net::SendAncillaryBuffer::default();
        loop {
            match rustix::net::sendmsg(self.stream, bufs, &mut control, flags) {
                Err(rustix::io::Errno::INTR) => {}
                other => return other.map_err(Into::into),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connection's way in and out: its socket, and its TLS session if it has one.
pub(crate) struct Wire<'a> {
    stream: &'a Stream,
    tls: Option<&'a mut ServerConnection>,
}

impl<'a> Wire<'a> {
    /// The wire of `stream`, through `tls` when the connection speaks TLS.
    pub(crate) fn new(stream: &'a Stream, tls: Option<&'a mut ServerConnection>) -> Wire<'a> {
        Wire { stream, tls }
    }

    /// The socket, when nothing stands between it and the response: sendfile and splice
    /// may write into it.
    pub(crate) fn plain(&self) -> Option<&'a Stream> {
        self.tls.is_none().then_some(self.stream)
    }

    /// True for a TLS session.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Reads what has arrived without waiting: `WouldBlock` when nothing has, `Ok(0)` at
    /// the end. Over TLS, records are read and opened until `buf` is full or the socket is
    /// empty, so bytes left in the socket are never forgotten (edge-triggered readiness).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return self.stream.read_nowait(buf);
        };
        let mut got = 0;
        let mut ended = false;
        let mut drained = false;
        loop {
            match tls.reader().read(&mut buf[got..]) {
                Ok(0) if got < buf.len() => return Ok(got), // close_notify
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: the end, as for plain HTTP.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(got),
                Err(e) => return Err(e),
            }
            if got == buf.len() || ended {
                return Ok(got);
            }
            // The last read found the socket empty: no read is spent to hear it again.
            if drained {
                return match got {
                    0 => Err(io::ErrorKind::WouldBlock.into()),
                    n => Ok(n),
                };
            }
            let mut socket = Socket {
                stream: self.stream,
                drained: false,
            };
            match tls.read_tls(&mut socket) {
                Ok(0) => ended = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => return Ok(got),
                Err(e) => return Err(e),
            }
            drained = socket.drained;
            if let Err(e) = tls.process_new_packets() {
                // Tell the client why (an alert), as far as the socket takes it.
                let _ = tls.write_tls(&mut socket);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // A key update's answer, or an alert: out now, if the socket takes it.
            if tls.wants_write() {
                let _ = tls.write_tls(&mut socket);
            }
        }
    }

    /// Writes what the connection takes now without waiting, and says how much: the socket
    /// directly, or sealed into records (at most [`SEALED_LIMIT`] waiting in the session).
    /// `more`: more follows at once, so the bytes may wait for it (`MSG_MORE`, or records
    /// sealed and not yet written). `WouldBlock` when nothing could be taken.
    pub(crate) fn write(&mut self, bytes: &[u8], more: bool) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else {
            let mut flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
            if more {
                flags |= SendFlags::MORE;
            }
            return loop {
                match rustix::net::send(self.stream, bytes, flags) {
                    Err(rustix::io::Errno::INTR) => {}
                    other => break other.map_err(Into::into),
                }
            };
        };
        let mut taken = 0;
        loop {
            if taken < bytes.len() {
                taken += tls.writer().write(&bytes[taken..])?;
            }
            if taken == bytes.len() && more {
                return Ok(taken);
            }
            match flush(tls, self.stream) {
                Ok(()) if taken == bytes.len() => return Ok(taken),
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && taken > 0 => return Ok(taken),
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes out whatever the session has sealed: `WouldBlock` while some is left.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            Some(tls) => flush(tls, self.stream),
            None => Ok(()),
        }
    }

    /// Goes on with the handshake as far as the bytes that have come allow.
    pub(crate) fn handshake(&mut self) -> Shake {
        let Some(tls) = self.tls.as_deref_mut() else {
            return Shake::Done;
        };
        loop {
            match flush(tls, self.stream) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Shake::Wait(Interest::Write);
                }
                Err(_) => return Shake::Failed,
            }
            if !tls.is_handshaking() {
                return Shake::Done;
            }
            let mut socket = Socket {
                stream: self.stream,
                drained: false,
            };
            match tls.read_tls(&mut socket) {
                Ok(0) => return Shake::Failed,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Shake::Wait(Interest::Read);
                }
                // A socket error, or a handshake message past rustls's 64 KiB cap.
                Err(_) => return Shake::Failed,
            }
            if tls.process_new_packets().is_err() {
                // The alert that says why, if the socket takes it.
                let _ = tls.write_tls(&mut socket);
                return Shake::Failed;
            }
        }
    }

    /// Ends the session with a `close_notify` (before our FIN), if the socket takes it.
    pub(crate) fn close_notify(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = flush(tls, self.stream);
        }
    }
}

/// Writes out what `tls` has sealed until none is left or the socket is full.
fn flush(tls: &mut ServerConnection, stream: &Stream) -> io::Result<()> {
    let mut socket = Socket {
        stream,
        drained: false,
    };
    while tls.wants_write() {
        match tls.write_tls(&mut socket) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
