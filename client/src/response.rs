//! The [`Response`] a caller gets: the final head, the heads of redirects followed, and a
//! body reader.

use std::io::{self, Read};

use shared::Target;

use crate::body::Body;
use crate::digest::Verifier;
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
    verifier: Option<Verifier>,
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
            verifier: None,
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
        self.verifier = (!verifier.is_empty()).then_some(verifier);
    }

    fn verified(&mut self, read: &[u8], empty_buf: bool) -> Result<(), Error> {
        match &mut self.verifier {
            Some(v) if !read.is_empty() => v.update(read),
            Some(_) if !empty_buf => {
                if let Some(v) = self.verifier.take() {
                    v.finish()?;
                }
            }
            _ => {}
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
