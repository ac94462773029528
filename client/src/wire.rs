//! The response parsers on plain bytes, for fuzzing and property tests.
//!
//! These run exactly the code a real transfer runs — the head parser, the body-length rules
//! of RFC 9112 §6.3 and the chunked decoder — but take a byte slice instead of a server.
//! They are a stable seam for `fuzz/` and for the corpus replay in the tests, not an API to
//! build a client on: use [`Client`](crate::Client) for that.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use shared::{Endpoint, Stream};

use crate::chunked::ChunkedReader;
use crate::connection::Connection;
use crate::error::Error;
use crate::head::{self, Head, HeadError};
use crate::request::Method;

/// How the end of a response body would be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Everything up to the close of the connection.
    Close,
}

/// Parses a response head at the start of `buf`: `Ok(Some((head, bytes used)))` when whole,
/// `Ok(None)` when more bytes are needed, `Err` with the reason when it is malformed (or,
/// as `"http/0.9"`, when it does not start like a head at all). An empty `buf` needs more.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    if buf.is_empty() {
        return Ok(None);
    }
    head::parse_head(buf).map_err(|e| match e {
        HeadError::Http09 => "http/0.9".to_string(),
        HeadError::Malformed(reason) => reason,
    })
}

/// The framing of the body after `head` (a response to HEAD when `to_head` is true, else
/// to GET), and whether the connection could carry another request; `Err` with the reason
/// when the head's lengths are unusable (conflicting, malformed, an unknown coding).
pub fn framing(head: &Head, to_head: bool) -> Result<(Framing, bool), String> {
    let method = if to_head { Method::Head } else { Method::Get };
    crate::body::framing(method, head).map(|(f, keep)| {
        let f = match f {
            crate::body::Framing::None => Framing::None,
            crate::body::Framing::Length(n) => Framing::Length(n),
            crate::body::Framing::Chunked => Framing::Chunked,
            crate::body::Framing::Close => Framing::Close,
        };
        (f, keep)
    })
}

/// Decodes `input` as a whole chunked body through the real reader, as if a server had sent
/// it and closed the connection. Returns the data, or the error a transfer would end with
/// (exit 56 for a malformed body, 18 for one cut short). At most `max_out` data bytes are
/// decoded; beyond, it stops with what it has.
pub fn decode_chunked(input: &[u8], max_out: usize) -> Result<Vec<u8>, Error> {
    let (ours, theirs) = UnixStream::pair().map_err(|e| Error::Receive {
        peer: "socketpair".into(),
        reason: shared::io_words(&e),
    })?;
    let drain = ours.try_clone().map_err(|e| Error::Receive {
        peer: "socketpair".into(),
        reason: shared::io_words(&e),
    })?;
    std::thread::scope(|scope| {
        // The "server": writes the bytes, then closes; in a thread when the input is larger
        // than the socket's buffer, so that it cannot block the decoder.
        let mut theirs = theirs;
        if input.len() <= 64 * 1024 {
            // Fits in the socket's buffer: no thread needed.
            let _ = theirs.write_all(input);
            drop(theirs);
        } else {
            scope.spawn(move || {
                let _ = theirs.write_all(input);
            });
        }
        let mut conn = Connection::new(
            Stream::from(ours),
            "wire".into(),
            Endpoint::Unix(PathBuf::from("wire")),
        );
        let mut reader = ChunkedReader::new();
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        let idle = Duration::from_secs(10);
        let result = loop {
            if out.len() >= max_out {
                break Ok(());
            }
            match reader.read(&mut conn, &mut buf, idle) {
                Ok(0) => break Ok(()),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        // Read what the writer still has to send, so it never writes to a closed socket
        // (SIGPIPE, where nothing ignores it, as under a fuzzer).
        let _ = std::io::copy(&mut &drain, &mut std::io::sink());
        result.map(|()| out)
    })
}

/// The answer `--digest`/`--anyauth` would send to a 401 whose `WWW-Authenticate` is
/// `value` (any bytes), for `GET /`; `None` when no offered scheme can be answered.
pub fn answer_challenge(value: &[u8]) -> Option<String> {
    crate::auth::Credentials::new("user", "pass", crate::auth::Scheme::Any).answer(
        std::iter::once(value),
        "GET",
        "/",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_through_the_real_reader() {
        assert_eq!(
            decode_chunked(b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nT: v\r\n\r\n", 1 << 20).unwrap(),
            b"hello!"
        );
        let cut = decode_chunked(b"5\r\nhel", 1 << 20).unwrap_err();
        assert_eq!(cut.exit_code(), 18, "{cut}");
        let bad = decode_chunked(b"zz\r\n", 1 << 20).unwrap_err();
        assert_eq!(bad.exit_code(), 56, "{bad}");
        assert_eq!(decode_chunked(b"", 1 << 20).unwrap_err().exit_code(), 18);
        // A chunk-size line over 4 KiB is refused even when it arrives in one piece (it
        // was accepted whenever the whole line was already buffered).
        let long = format!("2;{}\r\nok\r\n0\r\n\r\n", "e".repeat(10_000));
        let err = decode_chunked(long.as_bytes(), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("longer than 4096 bytes"), "{err}");
    }

    #[test]
    fn heads_and_their_framing() {
        let (head, n) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert_eq!(n, 38);
        assert_eq!(framing(&head, false), Ok((Framing::Length(3), true)));
        assert_eq!(framing(&head, true), Ok((Framing::None, true)));
        assert_eq!(parse_head(b"<html>"), Err("http/0.9".into()));
        assert_eq!(parse_head(b""), Ok(None));
        let (head, _) = parse_head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(framing(&head, false), Ok((Framing::Chunked, false)));
    }
}
