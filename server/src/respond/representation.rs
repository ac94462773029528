//! The representation step, last in the chain for a file: its validators and conditions,
//! then which bytes (`Range`: the whole, one span, several as `multipart/byteranges`, or
//! 416), then the body. The encoding was chosen before (a precompressed file, or one made by
//! `--compress`), so this step only describes it.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::conditions;
use super::reply::{Body, Reply, begin};
use crate::cache::Entry;
use crate::http::conditional::{self, Validators};
use crate::http::range::{self, Ranges, Span};
use crate::http::request::{Method, Request, Version};
use crate::http::response_head::{self, Persist};
use crate::site::Site;

/// How a file's representation is described in the head.
pub(super) struct Repr<'a> {
    pub content_type: &'a str,
    pub coding: Option<&'static str>,
    pub len: u64,
    pub validators: &'a Validators,
    pub last_modified: Option<&'a str>,
    /// Say `Vary: Accept-Encoding`: an encoding was or could have been chosen.
    pub vary: bool,
    /// `Repr-Digest`'s value, when wanted and known (the `repr_digest` step).
    pub repr_digest: Option<String>,
}

/// Where a file's bytes come from.
pub(super) enum Content {
    /// The open file (sent by sendfile when large, read when small).
    Open(File, PathBuf),
    /// The cache.
    Cached(Arc<Entry>),
    /// A compressed representation (`--compress`), whole.
    Encoded(Arc<Vec<u8>>),
}

/// 304 or 412 when preconditions say so, else the whole representation, one range or
/// several.
pub(super) fn step(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    repr: &Repr<'_>,
    content: Content,
) -> Reply {
    let validators = |out: &mut Vec<u8>| validator_headers(out, repr, site);
    if let Some(reply) = conditions::step(req, site, persist, out, repr.validators, &validators) {
        return reply;
    }
    match ranges(req, repr) {
        Ranges::Full => span(site, persist, out, repr, content, None),
        Ranges::One(one) => span(site, persist, out, repr, content, Some(one)),
        Ranges::Many(spans) => match content {
            Content::Open(file, path) => multipart(site, persist, out, repr, (file, path), spans),
            // Cached and encoded bodies are only used for requests without Range; should
            // one get here, the whole is a correct answer (RFC 9110 §14.2).
            content => span(site, persist, out, repr, content, None),
        },
        Ranges::Unsatisfiable => unsatisfiable(site, persist, out, repr.len),
    }
}

/// The ranges asked for: `Range` on a GET (HTTP/1.0 or 1.1), unless an `If-Range` that
/// no longer holds makes it the whole.
fn ranges(req: &Request, repr: &Repr<'_>) -> Ranges {
    match (&req.fields.range, req.method, req.version) {
        (Some(r), Method::Get, Version::Http10 | Version::Http11)
            if req
                .fields
                .if_range
                .as_deref()
                .is_none_or(|ir| conditional::if_range_holds(ir, repr.validators)) =>
        {
            range::parse(r, repr.len)
        }
        _ => Ranges::Full,
    }
}

/// The validators and caching fields, on a 304 as on every 200 and 206.
fn validator_headers(out: &mut Vec<u8>, repr: &Repr<'_>, site: &Site) {
    response_head::header(out, "ETag", &repr.validators.etag);
    if let Some(lm) = repr.last_modified {
        response_head::header(out, "Last-Modified", lm);
    }
    response_head::header(out, "Cache-Control", &site.settings.cache_control);
    if repr.vary {
        response_head::header(out, "Vary", "Accept-Encoding");
    }
}

/// What every 200 and 206 says of its content; a multipart 206 names its own type.
fn content_headers(out: &mut Vec<u8>, repr: &Repr<'_>, site: &Site, content_type: &str) {
    response_head::content_type(out, content_type);
    if let Some(coding) = repr.coding {
        response_head::header(out, "Content-Encoding", coding);
    }
    response_head::header(out, "Accept-Ranges", "bytes");
    validator_headers(out, repr, site);
    if let Some(d) = &repr.repr_digest {
        response_head::header(out, "Repr-Digest", d);
    }
}

/// 200 with the whole (`one` is `None`), or 206 with one span.
fn span(
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    repr: &Repr<'_>,
    content: Content,
    one: Option<Span>,
) -> Reply {
    let (status, start, len) = match one {
        None => (200, 0, repr.len),
        Some(s) => (206, s.start, s.len),
    };
    begin(out, status, site);
    content_headers(out, repr, site, repr.content_type);
    if let Some(s) = one {
        let range = format!("bytes {}-{}/{}", s.start, s.end(), repr.len);
        response_head::header(out, "Content-Range", &range);
    }
    response_head::end(out, status, Some(len), persist);
    let body = match content {
        Content::Open(file, path) => Body::File {
            file,
            path,
            start,
            len,
        },
        Content::Cached(entry) => Body::Cached { entry, start, len },
        // Never asked for a range (see the file step): always whole.
        Content::Encoded(bytes) => Body::Shared(bytes),
    };
    Reply { status, body }
}

/// 206 with several spans of the open file, as `multipart/byteranges`.
fn multipart(
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    repr: &Repr<'_>,
    (file, path): (File, PathBuf),
    spans: Vec<Span>,
) -> Reply {
    let (ct, len) = (repr.content_type, repr.len);
    let boundary = boundary();
    let parts: Vec<(String, Span)> = spans
        .into_iter()
        .map(|s| {
            let head = format!(
                "--{boundary}\r\nContent-Type: {ct}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
                s.start,
                s.end()
            );
            (head, s)
        })
        .collect();
    let closing = format!("--{boundary}--\r\n");
    // Each part: its head, its bytes, and the CRLF that ends it; then the closing line.
    let total: u64 = parts
        .iter()
        .map(|(h, s)| h.len() as u64 + s.len + 2)
        .sum::<u64>()
        + closing.len() as u64;
    begin(out, 206, site);
    let content_type = format!("multipart/byteranges; boundary={boundary}");
    content_headers(out, repr, site, &content_type);
    response_head::end(out, 206, Some(total), persist);
    Reply {
        status: 206,
        body: Body::Multipart {
            file,
            path,
            parts,
            closing,
        },
    }
}

/// 416: no range of the asked ones lies in the representation's `len` bytes.
fn unsatisfiable(site: &Site, persist: Persist, out: &mut Vec<u8>, len: u64) -> Reply {
    let body = response_head::error_body(416).into_bytes();
    begin(out, 416, site);
    response_head::content_type(out, "text/plain; charset=utf-8");
    response_head::header(out, "Content-Range", &format!("bytes */{len}"));
    response_head::end(out, 416, Some(body.len() as u64), persist);
    Reply {
        status: 416,
        body: Body::Bytes(body),
    }
}

/// A boundary unlikely to occur in any file: the time in nanoseconds and a counter.
fn boundary() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "serve-{nanos:x}-{:x}",
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}
