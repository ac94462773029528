//! The [`Response`] a caller gets: the final head, the heads of redirects followed, and a
//! body reader.

use std::io::{self, Read};

use shared::Target;

use crate::body::Body;
use crate::digest::{INLINE, Offload, Verifier};
use crate::error::Error;
use crate::head::Head;

/// A response: the final head, where it came from, and its body.
///
/// Reading the body to its end puts a keep-alive connection back in the client's pool for
/// the next request to the same endpoint; dropping the response earlier closes it.
#[derive(Debug)]
pub struct Response {
    head: Head,
    url: Target,
    history: Vec<Head>,
    body: Body,
    sent: u64,
    // Checks the body as it is read (`verify`), taken at its end.
    check: Check,
}

/// How the body is being checked ([`Response::verify`]).
#[derive(Debug, Default)]
enum Check {
    #[default]
    Nothing,
    /// On the reading thread, for the first [`INLINE`] bytes (counted here).
    Inline(Verifier, u64),
    /// On a thread of its own, for the rest.
    Offloaded(Offload),
}

impl Response {
    pub(crate) fn new(
        head: Head,
        url: Target,
        history: Vec<Head>,
        body: Body,
        sent: u64,
    ) -> Response {
        Response {
            head,
            url,
            history,
            body,
            sent,
            check: Check::Nothing,
        }
    }

    /// Bytes of request body sent with the request this answers (0 when a redirect dropped
    /// the body, or there was none).
    pub fn body_sent(&self) -> u64 {
        self.sent
    }

    /// The status code of the final response.
    pub fn status(&self) -> u16 {
        self.head.status()
    }

    /// The final response head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The target the final response came from (differs from the one asked for after
    /// redirects).
    pub fn url(&self) -> &Target {
        &self.url
    }

    /// The heads of the redirect responses followed to get here, oldest first.
    pub fn history(&self) -> &[Head] {
        &self.history
    }

    /// The body reader.
    pub fn body(&mut self) -> &mut Body {
        &mut self.body
    }

    /// Body bytes received so far (as they crossed the network: before any decoding).
    pub fn body_received(&self) -> u64 {
        self.body.received()
    }

    /// Reads body bytes into `buf`, like `Read::read` but keeping the error's kind (and so
    /// its exit code). Returns 0 at the end of a complete body.
    pub fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.body.read_chunk(buf)?;
        self.verified(&buf[..n], buf.is_empty())?;
        Ok(n)
    }

    /// Checks the body against `verifier` as it is read (the bytes as they came, before
    /// any decoding the caller does): reading its end returns [`Error::Digest`] (through
    /// `Read`, inside the `io::Error`; [`Error::from_io`] recovers it) instead of 0 when a
    /// digest does not match. A verifier expecting nothing costs nothing.
    pub fn verify(&mut self, verifier: Verifier) {
        self.check = if verifier.is_empty() {
            Check::Nothing
        } else {
            Check::Inline(verifier, 0)
        };
    }

    fn verified(&mut self, read: &[u8], empty_buf: bool) -> Result<(), Error> {
        if read.is_empty() {
            // 0 bytes into a buffer with room: the end of the body.
            return match std::mem::take(&mut self.check) {
                check if empty_buf => {
                    self.check = check;
                    Ok(())
                }
                Check::Inline(v, _) => v.finish(),
                Check::Offloaded(o) => o.finish(),
                Check::Nothing => Ok(()),
            };
        }
        match &mut self.check {
            Check::Inline(v, n) => {
                v.update(read);
                *n += read.len() as u64;
                if *n >= INLINE
                    && let Check::Inline(v, _) = std::mem::take(&mut self.check)
                {
                    // A body this long: the rest is hashed beside the reading.
                    self.check = match Offload::start(v) {
                        Ok(o) => Check::Offloaded(o),
                        Err(v) => Check::Inline(v, 0),
                    };
                }
            }
            Check::Offloaded(o) => o.update(read),
            Check::Nothing => {}
        }
        Ok(())
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.body.read(buf)?;
        self.verified(&buf[..n], buf.is_empty())
            .map_err(io::Error::other)?;
        Ok(n)
    }
}
