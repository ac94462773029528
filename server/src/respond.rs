//! What to answer: one request in, a response head (written into the worker's buffer) and a
//! body to send out. Every status this server chooses is decided here; `conn.rs` only sends.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::conditional::{self, Outcome, Validators};
use crate::files::{self, Mapped, Refused};
use crate::listing;
use crate::range::{self, Ranges, Span};
use crate::request::{Method, Request, Version};
use crate::response::{self, ALLOW, Persist};
use crate::server::Ctx;

/// What follows the head.
#[derive(Debug)]
pub enum Body {
    /// Nothing (HEAD, 204, 304, HTTP/0.9 head-less errors have a body of their own).
    Empty,
    /// A generated body: an error text, a listing, a redirect note.
    Bytes(Vec<u8>),
    /// A body shared between responses (the `--404` page).
    Shared(Arc<Vec<u8>>),
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
pub struct Reply {
    /// The status sent (for the log).
    pub status: u16,
    /// The body to send after the head.
    pub body: Body,
}

/// Decides the response to `req`, writing its head into `out` (nothing for HTTP/0.9, which
/// has no head).
pub fn respond(req: &Request, ctx: &Ctx, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let mut reply = decide(req, ctx, persist, out);
    if req.version == Version::Http09 {
        out.clear();
    }
    if req.method == Method::Head {
        reply.body = Body::Empty;
    }
    reply
}

fn decide(req: &Request, ctx: &Ctx, persist: Persist, out: &mut Vec<u8>) -> Reply {
    if ctx.panic_path.as_deref() == Some(req.target.as_str()) {
        panic!("test-only panic for {} (SERVE_TEST_PANIC_PATH)", req.target);
    }
    match req.method {
        Method::Options => return options(req, ctx, persist, out),
        Method::Other => return error(405, ctx, persist, out),
        Method::Get | Method::Head => {}
    }
    match files::map(&ctx.root, &req.target, ctx.jail) {
        Ok(Mapped::File {
            path,
            file: opened,
            meta,
        }) => file(req, ctx, persist, out, path, opened.map(|f| (f, meta))),
        Ok(Mapped::Redirect(location)) => {
            let body = format!("Moved to {location}\n").into_bytes();
            begin(out, 301, ctx);
            response::content_type(out, "text/plain; charset=utf-8");
            response::header(out, "Location", &location);
            response::end(out, 301, Some(body.len() as u64), persist);
            Reply {
                status: 301,
                body: Body::Bytes(body),
            }
        }
        Ok(Mapped::Dir { path }) if ctx.listing => listing(req, ctx, persist, out, &path),
        Ok(Mapped::Dir { .. }) => not_found(req, ctx, persist, out),
        Err(Refused::NotFound) => not_found(req, ctx, persist, out),
        Err(refused) => error(refused.status(), ctx, persist, out),
    }
}

/// The status line, `Server`, `Date`, and the headers every response carries: `--header`
/// lines and, with `--cors`, `Access-Control-Allow-Origin: *`.
pub fn begin(out: &mut Vec<u8>, status: u16, ctx: &Ctx) {
    response::start(out, status);
    for (name, value) in &ctx.headers {
        response::header(out, name, value);
    }
    if ctx.cors {
        response::header(out, "Access-Control-Allow-Origin", "*");
    }
}

/// An error status with a short text body (405 adds `Allow`).
pub fn error(status: u16, ctx: &Ctx, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let body = response::error_body(status).into_bytes();
    begin(out, status, ctx);
    response::content_type(out, "text/plain; charset=utf-8");
    if status == 405 {
        response::header(out, "Allow", ALLOW);
    }
    response::end(out, status, Some(body.len() as u64), persist);
    Reply {
        status,
        body: Body::Bytes(body),
    }
}

fn not_found(req: &Request, ctx: &Ctx, persist: Persist, out: &mut Vec<u8>) -> Reply {
    // --spa: a client-side route (no extension in its last segment) gets the app's page.
    if ctx.spa {
        let path = req.target.split('?').next().unwrap_or("");
        let last = path.rsplit('/').next().unwrap_or("");
        if !last.contains('.')
            && let Ok(Mapped::File {
                path,
                file: opened,
                meta,
            }) = files::map(&ctx.root, "/index.html", ctx.jail)
        {
            return file(req, ctx, persist, out, path, opened.map(|f| (f, meta)));
        }
    }
    match &ctx.not_found_page {
        Some(page) => {
            begin(out, 404, ctx);
            response::content_type(out, "text/html; charset=utf-8");
            response::end(out, 404, Some(page.len() as u64), persist);
            Reply {
                status: 404,
                body: Body::Shared(Arc::clone(page)),
            }
        }
        None => error(404, ctx, persist, out),
    }
}

fn options(req: &Request, ctx: &Ctx, persist: Persist, out: &mut Vec<u8>) -> Reply {
    begin(out, 204, ctx);
    let f = &req.fields;
    if ctx.cors && f.origin.is_some() && f.ac_request_method.is_some() {
        // A CORS preflight: allow our methods and whatever headers were asked about
        // (reduced to header-name characters, so nothing can be injected).
        response::header(out, "Access-Control-Allow-Methods", ALLOW);
        if let Some(asked) = &f.ac_request_headers {
            let clean: String = asked
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',' | ' '))
                .collect();
            response::header(out, "Access-Control-Allow-Headers", clean.trim());
        }
        response::header(out, "Access-Control-Max-Age", "86400");
    }
    response::header(out, "Allow", ALLOW);
    response::end(out, 204, None, persist);
    Reply {
        status: 204,
        body: Body::Empty,
    }
}

fn listing(req: &Request, ctx: &Ctx, persist: Persist, out: &mut Vec<u8>, dir: &Path) -> Reply {
    let (entries, more) = match listing::read(
        ctx.root.path(),
        dir,
        ctx.jail.hidden,
        ctx.jail.follow_symlinks,
    ) {
        Ok(found) => found,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return error(403, ctx, persist, out);
        }
        Err(_) => return not_found(req, ctx, persist, out),
    };
    let shown = listing::display_path(&req.target);
    let (body, ct) = if listing::wants_json(req.fields.accept.as_deref()) {
        (listing::json(&shown, &entries, more), "application/json")
    } else {
        (
            listing::html(&shown, &entries, more),
            "text/html; charset=utf-8",
        )
    };
    begin(out, 200, ctx);
    response::content_type(out, ct);
    response::header(out, "Cache-Control", &ctx.cache_control);
    response::header(out, "Vary", "Accept");
    response::end(out, 200, Some(body.len() as u64), persist);
    Reply {
        status: 200,
        body: Body::Bytes(body.into_bytes()),
    }
}

fn file(
    req: &Request,
    ctx: &Ctx,
    persist: Persist,
    out: &mut Vec<u8>,
    path: PathBuf,
    // The file and its metadata, when mapping already opened it (no second fstat).
    opened: Option<(File, std::fs::Metadata)>,
) -> Reply {
    let ct = files::content_type(&path);
    // A precompressed sibling the client accepts is sent instead, with its own validators.
    let variant = req
        .fields
        .accept_encoding
        .as_deref()
        .and_then(|ae| files::precompressed(ctx.root.path(), &path, ae, ctx.jail));
    let (path, coding, opened) = match variant {
        Some((p, coding, _)) => (p, Some(coding), None),
        None => (path, None, opened),
    };
    let opened = opened.map_or_else(|| open(&path), Ok);
    let (file, meta) = match opened {
        Ok(pair) => pair,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return error(403, ctx, persist, out);
        }
        Err(_) => return not_found(req, ctx, persist, out),
    };
    let len = meta.len();
    let v = Validators::of(&meta);
    let last_modified = v.last_modified();
    let validators = |out: &mut Vec<u8>| {
        response::header(out, "ETag", &v.etag);
        if let Some(lm) = &last_modified {
            response::header(out, "Last-Modified", lm);
        }
        response::header(out, "Cache-Control", &ctx.cache_control);
        if coding.is_some() {
            response::header(out, "Vary", "Accept-Encoding");
        }
    };
    match conditional::evaluate(&req.fields.conditions, &v, true) {
        Outcome::NotModified => {
            begin(out, 304, ctx);
            validators(out);
            response::end(out, 304, None, persist);
            return Reply {
                status: 304,
                body: Body::Empty,
            };
        }
        Outcome::Failed => return error(412, ctx, persist, out),
        Outcome::Proceed => {}
    }
    let ranges = match (&req.fields.range, req.method, req.version) {
        (Some(r), Method::Get, Version::Http10 | Version::Http11)
            if req
                .fields
                .if_range
                .as_deref()
                .is_none_or(|ir| conditional::if_range_holds(ir, &v)) =>
        {
            range::parse(r, len)
        }
        _ => Ranges::Full,
    };
    let content_headers = |out: &mut Vec<u8>| {
        response::content_type(out, &ct);
        if let Some(coding) = coding {
            response::header(out, "Content-Encoding", coding);
        }
        response::header(out, "Accept-Ranges", "bytes");
        validators(out);
    };
    match ranges {
        Ranges::Full => {
            begin(out, 200, ctx);
            content_headers(out);
            response::end(out, 200, Some(len), persist);
            Reply {
                status: 200,
                body: Body::File {
                    file,
                    path,
                    start: 0,
                    len,
                },
            }
        }
        Ranges::One(span) => {
            begin(out, 206, ctx);
            content_headers(out);
            response::header(
                out,
                "Content-Range",
                &format!("bytes {}-{}/{len}", span.start, span.end()),
            );
            response::end(out, 206, Some(span.len), persist);
            Reply {
                status: 206,
                body: Body::File {
                    file,
                    path,
                    start: span.start,
                    len: span.len,
                },
            }
        }
        Ranges::Many(spans) => {
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
            begin(out, 206, ctx);
            response::content_type(out, &format!("multipart/byteranges; boundary={boundary}"));
            if let Some(coding) = coding {
                response::header(out, "Content-Encoding", coding);
            }
            response::header(out, "Accept-Ranges", "bytes");
            validators(out);
            response::end(out, 206, Some(total), persist);
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
            let body = response::error_body(416).into_bytes();
            begin(out, 416, ctx);
            response::content_type(out, "text/plain; charset=utf-8");
            response::header(out, "Content-Range", &format!("bytes */{len}"));
            response::end(out, 416, Some(body.len() as u64), persist);
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

/// Opens a file for reading without ever blocking on it (a FIFO swapped in after the
/// mapping check would otherwise hang the worker), and checks it is a regular file.
fn open(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not a regular file",
        ));
    }
    Ok((file, meta))
}
