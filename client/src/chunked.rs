//! `ChunkedReader`: a body in the chunked transfer coding (RFC 9112 §7.1).

use std::time::Duration;

use crate::connection::{Connection, Line};
use crate::error::Error;

/// The longest chunk-size line, extensions included.
const MAX_SIZE_LINE: usize = 4096;

/// The most bytes of trailer fields, and the most fields (read and dropped).
const MAX_TRAILER_BYTES: usize = 64 * 1024;
const MAX_TRAILERS: usize = 100;

/// The most hex digits in a chunk size: 16 digits fill a `u64`, so no size overflows.
const MAX_SIZE_DIGITS: usize = 16;

#[derive(Debug)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes left.
    Data(u64),
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last chunk: trailer fields up to an empty line, counted.
    Trailers { bytes: usize, count: usize },
    /// The body is complete.
    Done,
}

/// Decodes a chunked body; the chunk framing and trailers are dropped, the data passed on
/// (or, `raw`, passed on with the data: curl's `--raw`, where the end is still found).
#[derive(Debug)]
pub(crate) struct ChunkedReader {
    state: State,
    got: u64,
    raw: bool,
    /// With `raw`, framing lines read and not yet handed out.
    pending: Vec<u8>,
}

impl ChunkedReader {
    /// A reader at the start of a chunked body.
    pub(crate) fn new() -> ChunkedReader {
        ChunkedReader {
            state: State::Size,
            got: 0,
            raw: false,
            pending: Vec::new(),
        }
    }

    /// A reader that hands out the framing with the data (`--raw`).
    pub(crate) fn raw() -> ChunkedReader {
        ChunkedReader {
            raw: true,
            ..ChunkedReader::new()
        }
    }

    /// With `raw`: keeps `line` and its CRLF to hand out.
    fn keep(&mut self, line: &[u8]) {
        if self.raw {
            self.pending.extend_from_slice(line);
            self.pending.extend_from_slice(b"\r\n");
        }
    }

    /// Reads the next data bytes into `out`; 0 once the last chunk and trailers are read.
    pub(crate) fn read(
        &mut self,
        conn: &mut Connection,
        out: &mut [u8],
        idle: Duration,
    ) -> Result<usize, Error> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.pending.is_empty() {
                let n = out.len().min(self.pending.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(n);
            }
            // Each framing line read moves the state on; data goes out at once.
            match self.state {
                State::Done => return Ok(0),
                State::Data(left) => return self.data(conn, out, left, idle),
                State::Size => self.size_line(conn, idle)?,
                State::DataEnd => self.data_end(conn, idle)?,
                State::Trailers { bytes, count } => self.trailer(conn, bytes, count, idle)?,
            }
        }
    }

    /// A chunk's data, `left` bytes of it still to come: what of it fits in `out`.
    #[inline]
    fn data(
        &mut self,
        conn: &mut Connection,
        out: &mut [u8],
        left: u64,
        idle: Duration,
    ) -> Result<usize, Error> {
        let max = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = conn.read(&mut out[..max], idle)?;
        if n == 0 {
            return Err(Error::PartialChunked { got: self.got });
        }
        self.got += n as u64;
        let left = left - n as u64;
        self.state = if left == 0 {
            State::DataEnd
        } else {
            State::Data(left)
        };
        Ok(n)
    }

    /// A chunk-size line: the next chunk's data, or (size 0) the trailers.
    fn size_line(&mut self, conn: &mut Connection, idle: Duration) -> Result<(), Error> {
        match conn.read_line(MAX_SIZE_LINE, idle)? {
            Line::Whole(line) => {
                let size = parse_chunk_size(&line).map_err(|r| bad(conn, r))?;
                self.keep(&line);
                self.state = if size == 0 {
                    State::Trailers { bytes: 0, count: 0 }
                } else {
                    State::Data(size)
                };
                Ok(())
            }
            Line::TooLong => Err(bad(
                conn,
                format!("chunk-size line longer than {MAX_SIZE_LINE} bytes"),
            )),
            Line::Eof => Err(Error::PartialChunked { got: self.got }),
        }
    }

    /// The CRLF after a chunk's data.
    fn data_end(&mut self, conn: &mut Connection, idle: Duration) -> Result<(), Error> {
        match conn.read_line(MAX_SIZE_LINE, idle)? {
            Line::Whole(line) if line.is_empty() => {
                self.keep(b"");
                self.state = State::Size;
                Ok(())
            }
            Line::Whole(_) | Line::TooLong => Err(bad(
                conn,
                "chunk data longer than its size (no CRLF after it)".into(),
            )),
            Line::Eof => Err(Error::PartialChunked { got: self.got }),
        }
    }

    /// One trailer line (`count` fields of `bytes` read before it), or the empty line that
    /// ends the body.
    fn trailer(
        &mut self,
        conn: &mut Connection,
        bytes: usize,
        count: usize,
        idle: Duration,
    ) -> Result<(), Error> {
        let room = MAX_TRAILER_BYTES.saturating_sub(bytes);
        match conn.read_line(room, idle)? {
            Line::Whole(line) if line.is_empty() => {
                self.keep(b"");
                self.state = State::Done;
                Ok(())
            }
            Line::Whole(line) => {
                self.keep(&line);
                if count + 1 > MAX_TRAILERS {
                    return Err(bad(
                        conn,
                        format!("more than {MAX_TRAILERS} trailer fields"),
                    ));
                }
                self.state = State::Trailers {
                    bytes: bytes + line.len() + 2,
                    count: count + 1,
                };
                Ok(())
            }
            Line::TooLong => Err(bad(
                conn,
                format!(
                    "trailer fields larger than {} KiB",
                    MAX_TRAILER_BYTES / 1024
                ),
            )),
            Line::Eof => Err(Error::PartialChunked { got: self.got }),
        }
    }
}

/// A framing error in the chunked body coming from `conn`.
fn bad(conn: &Connection, reason: String) -> Error {
    Error::Receive {
        peer: conn.peer.clone(),
        reason: format!("bad chunked body: {reason}"),
    }
}

/// Parses a chunk-size line: hex digits, optional whitespace, then extensions after `;`
/// (ignored). At most 16 digits, so the size always fits.
pub(crate) fn parse_chunk_size(line: &[u8]) -> Result<u64, String> {
    let size = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    };
    // RFC 9112 allows whitespace (BWS) before the `;` of an extension.
    let size = size
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(&size[..0], |end| &size[..=end]);
    let shown = || {
        let text: String = String::from_utf8_lossy(line).chars().take(40).collect();
        text.escape_debug().to_string()
    };
    if size.is_empty() {
        return Err(format!("missing chunk size in '{}'", shown()));
    }
    if !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!("bad chunk size '{}'", shown()));
    }
    let digits = match size.iter().position(|&b| b != b'0') {
        Some(i) => &size[i..],
        None => return Ok(0),
    };
    if digits.len() > MAX_SIZE_DIGITS {
        return Err(format!("chunk size too large '{}'", shown()));
    }
    let text = std::str::from_utf8(digits).map_err(|_| format!("bad chunk size '{}'", shown()))?;
    u64::from_str_radix(text, 16).map_err(|_| format!("bad chunk size '{}'", shown()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        let ok: &[(&[u8], u64)] = &[
            (b"0", 0),
            (b"5", 5),
            (b"a", 10),
            (b"FF", 255),
            (b"1f;name=value", 31),
            (b"10 ;ext", 16),
            (b"10\t", 16),
            (b"0000000000000000000001", 1),
            (b"ffffffffffffffff", u64::MAX),
        ];
        for (line, want) in ok {
            assert_eq!(
                parse_chunk_size(line),
                Ok(*want),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        let bad: &[(&[u8], &str)] = &[
            (b"", "missing chunk size"),
            (b";ext", "missing chunk size"),
            (b"zz", "bad chunk size 'zz'"),
            (b"0x10", "bad chunk size"),
            (b"-1", "bad chunk size"),
            (b" 5", "bad chunk size"),
            (b"+5", "bad chunk size"),
            (b"1 0", "bad chunk size"),
            (b"10000000000000000", "chunk size too large"),
            (b"\xff", "bad chunk size"),
        ];
        for (line, want) in bad {
            let err = parse_chunk_size(line).unwrap_err();
            assert!(
                err.contains(want),
                "{:?}: {err}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
