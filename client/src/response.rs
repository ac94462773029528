//! The [`Response`] a caller gets: the final head, the heads of redirects followed, and a
//! body reader.

use std::io::{self, Read};

use shared::Target;

use crate::body::Body;
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
        self.body.read_chunk(buf)
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}
