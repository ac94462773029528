//! What every step answers with: a [`Reply`] (status and [`Body`]), the head's common start
//! ([`begin`]), the short error answers ([`error`]), and the refusals of connections turned
//! away before or without a request ([`refuse`]). The steps import this module; it imports
//! none of them, so the chain has no cycle.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use super::cors;
use crate::cache::Entry;
use crate::http::range::Span;
use crate::http::response_head::{self, ALLOW, Persist};
use crate::site::Site;

/// What follows the head.
#[derive(Debug)]
pub(crate) enum Body {
    /// A listing, made piece by piece as it is sent (its length is known).
    Listing(Box<crate::listing::Rendering>),
    /// Bytes read from a pipe until its end (a folder's archive, written by its own
    /// thread); the response is close-delimited.
    Stream(crate::share::archive::Stream),
    /// Nothing (HEAD, 204, 304, HTTP/0.9 head-less errors have a body of their own).
    Empty,
    /// `--watch`'s event stream: only the head here; then the connection goes to the hub,
    /// which sends the rest (`watch/hub.rs`).
    Watch,
    /// A generated body: an error text, a listing, a redirect note.
    Bytes(Vec<u8>),
    /// A body shared between responses (the `--404` page).
    Shared(Arc<Vec<u8>>),
    /// `len` bytes from `start` of a cached file.
    Cached {
        /// The cached file.
        entry: Arc<Entry>,
        /// First byte.
        start: u64,
        /// Bytes to send.
        len: u64,
    },
    /// `len` bytes of a file from `start`.
    File {
        /// The open file.
        file: File,
        /// Its path, for messages.
        path: PathBuf,
        /// First byte.
        start: u64,
        /// Bytes to send.
        len: u64,
    },
    /// Several ranges of a file as `multipart/byteranges`.
    Multipart {
        /// The open file.
        file: File,
        /// Its path, for messages.
        path: PathBuf,
        /// Each part's head (boundary line and headers) and its range.
        parts: Vec<(String, Span)>,
        /// The closing boundary line.
        closing: String,
    },
}

/// A response decided: its status and its body; the head is in the caller's buffer.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status sent (for the log).
    pub status: u16,
    /// The body to send after the head.
    pub body: Body,
}

/// A step found nothing to serve where the path led (a file gone between mapping and
/// opening, a folder that vanished): the caller goes on to the fallback step (`--spa`, the
/// 404 page). A value rather than a call, so that the fallback, which serves a file itself,
/// and the file step do not import each other.
#[derive(Debug)]
pub(super) struct Missing;

/// The status line, `Server`, `Date`, and the headers every response carries: `--header`
/// lines and, with `--cors`, the allowed origin.
pub(super) fn begin(out: &mut Vec<u8>, status: u16, site: &Site) {
    response_head::start(out, status);
    for (name, value) in &site.settings.headers {
        response_head::header(out, name, value);
    }
    cors::allow_origin(out, site);
}

/// The methods this site answers: PUT and POST too with `--upload`.
pub(super) fn allow(site: &Site) -> &'static str {
    if site.settings.share.uploads.is_some() {
        "GET, HEAD, OPTIONS, PUT, POST"
    } else {
        ALLOW
    }
}

/// An error status with a short text body (405 adds `Allow`).
pub(crate) fn error(status: u16, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let body = response_head::error_body(status).into_bytes();
    begin(out, status, site);
    response_head::content_type(out, "text/plain; charset=utf-8");
    if status == 405 {
        response_head::header(out, "Allow", allow(site));
    }
    response_head::end(out, status, Some(body.len() as u64), persist);
    Reply {
        status,
        body: Body::Bytes(body),
    }
}

/// Why a connection is refused before (or instead of) a request being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The client's address is not in `--allow`: 403.
    NotAllowed,
    /// Too many open connections: 503 with `Retry-After`.
    Busy,
    /// A request head started but did not finish within `--header-timeout`: 408.
    HeadTimeout,
}

/// The answer to a refused connection, always followed by a close.
pub(crate) fn refuse(why: Refusal, site: &Site, out: &mut Vec<u8>) -> Reply {
    let status = match why {
        Refusal::NotAllowed => 403,
        Refusal::Busy => 503,
        Refusal::HeadTimeout => 408,
    };
    let body = response_head::error_body(status).into_bytes();
    begin(out, status, site);
    response_head::content_type(out, "text/plain; charset=utf-8");
    if why == Refusal::Busy {
        response_head::header(out, "Retry-After", "1");
    }
    response_head::end(out, status, Some(body.len() as u64), Persist::Close);
    Reply {
        status,
        body: Body::Bytes(body),
    }
}
