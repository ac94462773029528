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
    /// `Repr-Digest`'s value, when wanted and known (the `digest` step).
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
    let len = repr.len;
    let v = repr.validators;
    let validators = |out: &mut Vec<u8>| {
        response_head::header(out, "ETag", &v.etag);
        if let Some(lm) = repr.last_modified {
            response_head::header(out, "Last-Modified", lm);
        }
        response_head::header(out, "Cache-Control", &site.settings.cache_control);
        if repr.vary {
            response_head::header(out, "Vary", "Accept-Encoding");
        }
    };
    if let Some(reply) = conditions::step(req, site, persist, out, v, &validators) {
        return reply;
    }
    let ranges = match (&req.fields.range, req.method, req.version) {
        (Some(r), Method::Get, Version::Http10 | Version::Http11)
            if req
                .fields
                .if_range
                .as_deref()
                .is_none_or(|ir| conditional::if_range_holds(ir, v)) =>
        {
            range::parse(r, len)
        }
        _ => Ranges::Full,
    };
    // What every 200 and 206 says of its content; a multipart 206 names its own type.
    let content_headers = |out: &mut Vec<u8>, content_type: &str| {
        response_head::content_type(out, content_type);
        if let Some(coding) = repr.coding {
            response_head::header(out, "Content-Encoding", coding);
        }
        response_head::header(out, "Accept-Ranges", "bytes");
        validators(out);
        if let Some(d) = &repr.repr_digest {
            response_head::header(out, "Repr-Digest", d);
        }
    };
    let span_body = |content: Content, start: u64, len: u64| match content {
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
    match ranges {
        Ranges::Full => {
            begin(out, 200, site);
            content_headers(out, repr.content_type);
            response_head::end(out, 200, Some(len), persist);
            Reply {
                status: 200,
                body: span_body(content, 0, len),
            }
        }
        Ranges::One(span) => {
            begin(out, 206, site);
            content_headers(out, repr.content_type);
            response_head::header(
                out,
                "Content-Range",
                &format!("bytes {}-{}/{len}", span.start, span.end()),
            );
            response_head::end(out, 206, Some(span.len), persist);
            Reply {
                status: 206,
                body: span_body(content, span.start, span.len),
            }
        }
        Ranges::Many(spans) => {
            let Content::Open(file, path) = content else {
                // Cached files are only used for requests without Range; should one get
                // here, the whole file is a correct answer (RFC 9110 §14.2).
                let ranges_ignored = Request {
                    fields: crate::http::request::Fields {
                        range: None,
                        ..req.fields.clone()
                    },
                    ..req.clone()
                };
                return step(&ranges_ignored, site, persist, out, repr, content);
            };
            let ct = repr.content_type;
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
            content_headers(out, &format!("multipart/byteranges; boundary={boundary}"));
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
        Ranges::Unsatisfiable => {
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
