//! `--compressed`: the body's content coding, and a reader that decodes gzip or deflate
//! (zlib-wrapped or raw) as the body streams, in constant memory.

use std::io::{self, BufRead, BufReader, Read};

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

use crate::error::Error;
use crate::head::Head;
use crate::response::Response;

/// The content coding of a body (`--compressed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    Gzip,
    Deflate,
}

impl Coding {
    /// From `Content-Encoding`. Only what we asked for is decoded; anything else is an
    /// error (exit 61) rather than bytes the user cannot read.
    pub(crate) fn of(head: &Head) -> Result<Coding, Error> {
        let codings = head.tokens("content-encoding");
        match codings.as_slice() {
            [] => Ok(Coding::Identity),
            [c] if c == "identity" => Ok(Coding::Identity),
            [c] if c == "gzip" || c == "x-gzip" => Ok(Coding::Gzip),
            [c] if c == "deflate" => Ok(Coding::Deflate),
            _ => Err(Error::Decode {
                reason: format!(
                    "unsupported content coding '{}' (asked for gzip, deflate)",
                    codings.join(", ")
                ),
            }),
        }
    }

    /// From `Transfer-Encoding` (`--tr-encoding`): the coding before `chunked`, if any.
    pub(crate) fn of_transfer(head: &Head) -> Coding {
        let codings = head.tokens("transfer-encoding");
        match codings.iter().find(|c| *c != "chunked").map(String::as_str) {
            Some("gzip") => Coding::Gzip,
            Some("deflate") => Coding::Deflate,
            _ => Coding::Identity,
        }
    }

    /// The one coding to undo: `content` (`--compressed`) or `transfer`
    /// (`--tr-encoding`). Both at once is an error (exit 61): fetch decodes one layer.
    pub(crate) fn either(content: Coding, transfer: Coding) -> Result<Coding, Error> {
        match (content, transfer) {
            (c, Coding::Identity) => Ok(c),
            (Coding::Identity, t) => Ok(t),
            _ => Err(Error::Decode {
                reason: "both a transfer coding and a content coding: fetch undoes one".into(),
            }),
        }
    }
}

/// Counts the body bytes that crossed the network.
pub(crate) struct Wire<'a> {
    resp: &'a mut Response,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.resp.read(buf)
    }
}

/// The body, decoded as it streams: memory stays at the decoder's window and our buffer,
/// however large the decoded body grows (a "gzip bomb" only costs output).
pub(crate) enum Decoder<'a> {
    Plain(&'a mut Response),
    Gzip(Box<MultiGzDecoder<BufReader<Wire<'a>>>>),
    Zlib(Box<ZlibDecoder<BufReader<Wire<'a>>>>),
    Raw(Box<DeflateDecoder<BufReader<Wire<'a>>>>),
    /// Deflate whose flavour is not known until its first bytes arrive.
    Pending(Option<BufReader<Wire<'a>>>),
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(resp: &'a mut Response, coding: Coding) -> Decoder<'a> {
        if coding == Coding::Identity {
            return Decoder::Plain(resp);
        }
        let wire = BufReader::with_capacity(64 * 1024, Wire { resp });
        match coding {
            Coding::Gzip => Decoder::Gzip(Box::new(MultiGzDecoder::new(wire))),
            _ => Decoder::Pending(Some(wire)),
        }
    }

    /// Body bytes received so far.
    pub(crate) fn wire(&self) -> u64 {
        match self {
            Decoder::Plain(r) => r.body_received(),
            Decoder::Gzip(d) => d.get_ref().get_ref().resp.body_received(),
            Decoder::Zlib(d) => d.get_ref().get_ref().resp.body_received(),
            Decoder::Raw(d) => d.get_ref().get_ref().resp.body_received(),
            Decoder::Pending(r) => r.as_ref().map_or(0, |r| r.get_ref().resp.body_received()),
        }
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Decoder::Pending(wire) = self {
            let mut wire = wire.take().expect("decided once");
            let first = wire.fill_buf().map_err(decode_error)?;
            // "deflate" is meant to be zlib-wrapped (RFC 9110 §8.4.1.2), but some servers
            // send raw deflate: a zlib stream starts with a header whose check bits make
            // CMF*256+FLG a multiple of 31, with method 8.
            let zlib = first.len() >= 2
                && first[0] & 0x0f == 8
                && (u16::from(first[0]) << 8 | u16::from(first[1])) % 31 == 0;
            *self = if first.is_empty() {
                return Ok(0);
            } else if zlib {
                Decoder::Zlib(Box::new(ZlibDecoder::new(wire)))
            } else {
                Decoder::Raw(Box::new(DeflateDecoder::new(wire)))
            };
        }
        let read = match self {
            Decoder::Plain(r) => return r.read_body(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zlib(d) => d.read(buf),
            Decoder::Raw(d) => d.read(buf),
            Decoder::Pending(_) => unreachable!("decided above"),
        };
        read.map_err(decode_error)
    }
}

/// An error from the decoder: ours (the transfer failed underneath) or a broken stream.
fn decode_error(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::from_io(e, "");
    }
    Error::Decode {
        reason: format!("cannot decode the body: {}", shared::io_words(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::test_ok_head as head;

    #[test]
    fn content_codings() {
        let cases: &[(&str, Option<Coding>)] = &[
            ("X-A: 1", Some(Coding::Identity)),
            ("Content-Encoding: gzip", Some(Coding::Gzip)),
            ("Content-Encoding: X-Gzip", Some(Coding::Gzip)),
            ("Content-Encoding: deflate", Some(Coding::Deflate)),
            ("Content-Encoding: identity", Some(Coding::Identity)),
            ("Content-Encoding: br", None),
            ("Content-Encoding: gzip, gzip", None),
        ];
        for (fields, want) in cases {
            assert_eq!(Coding::of(&head(fields)).ok(), *want, "{fields}");
        }
    }
}
