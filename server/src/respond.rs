//! What to answer: one request in, a response head (written into the worker's buffer) and a
//! body to send out. Every status this server chooses is decided here — including the ones
//! for connections it refuses ([`refuse`]: 403, 503, and the 408 of a head that never
//! finished) — and `conn.rs` only sends. Nothing here touches a socket or a thread, so the
//! unit tests below answer requests directly.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::os::unix::ffi::OsStrExt;

use crate::archive;
use crate::auth::{self, Auth};
use crate::cache::{self, Entry};
use crate::compress;
use crate::conditional::{self, Outcome, Validators};
use crate::files::{self, Mapped, Refused};
use crate::intake::{self, Intake};
use crate::listing;
use crate::multipart;
use crate::range::{self, Ranges, Span};
use crate::reload;
use crate::request::{Method, Request, Version};
use crate::response::{self, ALLOW, Persist};
use crate::site::Site;
use crate::upload;

/// What follows the head.
#[derive(Debug)]
pub enum Body {
    /// A listing, made piece by piece as it is sent (its length is known).
    Listing(Box<crate::listing::Rendering>),
    /// Bytes read from a pipe until its end (a folder's archive, written by its own
    /// thread); the response is close-delimited.
    Stream(crate::archive::Stream),
    /// Nothing (HEAD, 204, 304, HTTP/0.9 head-less errors have a body of their own).
    Empty,
    /// `--watch`'s event stream: these first bytes, then the connection goes to the hub.
    Watch(Vec<u8>),
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
pub struct Reply {
    /// The status sent (for the log).
    pub status: u16,
    /// The body to send after the head.
    pub body: Body,
}

/// Why a connection is refused before (or instead of) a request being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address is not in `--allow`: 403.
    NotAllowed,
    /// Too many open connections: 503 with `Retry-After`.
    Busy,
    /// A request head started but did not finish within `--header-timeout`: 408.
    HeadTimeout,
}

/// The answer to a refused connection, always followed by a close.
pub fn refuse(why: Refusal, site: &Site, out: &mut Vec<u8>) -> Reply {
    let status = match why {
        Refusal::NotAllowed => 403,
        Refusal::Busy => 503,
        Refusal::HeadTimeout => 408,
    };
    let body = response::error_body(status).into_bytes();
    begin(out, status, site);
    response::content_type(out, "text/plain; charset=utf-8");
    if why == Refusal::Busy {
        response::header(out, "Retry-After", "1");
    }
    response::end(out, status, Some(body.len() as u64), Persist::Close);
    Reply {
        status,
        body: Body::Bytes(body),
    }
}

/// Decides the response to `req`, writing its head into `out` (nothing for HTTP/0.9, which
/// has no head).
pub fn respond(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let mut reply = decide(req, site, persist, out);
    if req.version == Version::Http09 {
        out.clear();
    }
    if req.method == Method::Head {
        reply.body = Body::Empty;
    }
    reply
}

fn decide(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    if site.settings.panic_path.as_deref() == Some(req.target.as_str()) {
        panic!("test-only panic for {} (SERVE_TEST_PANIC_PATH)", req.target);
    }
    // --auth comes first: no method, path spelling or header answers without it.
    if let Some(reply) = authorize(req, site, persist, out) {
        return reply;
    }
    // A fragment is the client's business and never sent (RFC 9112 §3.2 allows no `#` in a
    // request target): refuse it rather than look for a file with `#` in its name.
    if req.target.contains('#') {
        return error(400, site, persist, out);
    }
    match req.method {
        Method::Options => return options(req, site, persist, out),
        // Uploads come through `receive`; here they are refused as any other method.
        Method::Other | Method::Put | Method::Post => return error(405, site, persist, out),
        Method::Get | Method::Head => {}
    }
    // --watch: the reserved event stream, which the hub then holds.
    if let Some(reply) = live_events(req, site, out) {
        return reply;
    }
    // --archive: `?download=tar` on a folder is the folder as one stream.
    if site.settings.share.archive
        && let Some(format) =
            archive::Format::from_query(req.target.split_once('?').map(|(_, q)| q))
    {
        return folder_archive(req, site, out, format);
    }
    let key = cache_key(req);
    if let Some(entry) = key.and_then(|k| site.cache.get(k)) {
        return cached(req, site, persist, out, entry);
    }
    match files::map(&site.root, &req.target, site.settings.jail) {
        Ok(Mapped::File {
            path,
            file: opened,
            meta,
        }) => file(
            req,
            site,
            persist,
            out,
            path,
            opened.map(|f| (f, meta)),
            key,
        ),
        Ok(Mapped::Redirect(location)) => {
            let body = format!("Moved to {location}\n").into_bytes();
            begin(out, 301, site);
            response::content_type(out, "text/plain; charset=utf-8");
            response::header(out, "Location", &location);
            response::end(out, 301, Some(body.len() as u64), persist);
            Reply {
                status: 301,
                body: Body::Bytes(body),
            }
        }
        Ok(Mapped::Dir { path }) if site.settings.listing => {
            listing(req, site, persist, out, &path)
        }
        Ok(Mapped::Dir { .. }) => not_found(req, site, persist, out),
        Err(Refused::NotFound) => not_found(req, site, persist, out),
        Err(refused) => error(refused.status(), site, persist, out),
    }
}

/// `--watch`: the event stream at its reserved path (`reload.rs`): its head, then the hub
/// (`hub.rs`) holds the connection; 503 when the hub holds as many as it may.
fn live_events(req: &Request, site: &Site, out: &mut Vec<u8>) -> Option<Reply> {
    let hub = site.live.as_ref()?;
    if !reload::is_endpoint(&req.target) {
        return None;
    }
    if !hub.has_room() {
        return Some(refuse(Refusal::Busy, site, out));
    }
    begin(out, 200, site);
    response::content_type(out, reload::EVENT_STREAM);
    response::header(out, "Cache-Control", "no-store");
    // Close-delimited: the stream ends when either side closes.
    response::end(out, 200, None, Persist::Close);
    Some(Reply {
        status: 200,
        body: Body::Watch(reload::GREETING.to_vec()),
    })
}

/// The cache key of a request that a cached file may answer: its path, when it asks for the
/// whole file (no `Range`) and accepts no precompressed variant (those are looked up afresh,
/// so a `.gz` added beside a file is never missed).
fn cache_key(req: &Request) -> Option<&str> {
    let f = &req.fields;
    let variants = f
        .accept_encoding
        .as_deref()
        .is_some_and(|ae| files::accepts(ae, "br") || files::accepts(ae, "gzip"));
    if f.range.is_some() || variants {
        return None;
    }
    Some(req.target.split('?').next().unwrap_or(""))
}

/// The status line, `Server`, `Date`, and the headers every response carries: `--header`
/// lines and, with `--cors`, `Access-Control-Allow-Origin: *`.
pub fn begin(out: &mut Vec<u8>, status: u16, site: &Site) {
    response::start(out, status);
    for (name, value) in &site.settings.headers {
        response::header(out, name, value);
    }
    if site.settings.cors {
        response::header(out, "Access-Control-Allow-Origin", "*");
    }
}

/// The methods this site answers: PUT and POST too with `--upload`.
fn allow(site: &Site) -> &'static str {
    if site.settings.share.uploads.is_some() {
        "GET, HEAD, OPTIONS, PUT, POST"
    } else {
        ALLOW
    }
}

/// An error status with a short text body (405 adds `Allow`).
pub fn error(status: u16, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let body = response::error_body(status).into_bytes();
    begin(out, status, site);
    response::content_type(out, "text/plain; charset=utf-8");
    if status == 405 {
        response::header(out, "Allow", allow(site));
    }
    response::end(out, status, Some(body.len() as u64), persist);
    Reply {
        status,
        body: Body::Bytes(body),
    }
}

/// A folder's archive: the folder (which must exist and pass the jail as browsing does),
/// streamed by its own thread, close-delimited (its length is not known up front).
fn folder_archive(req: &Request, site: &Site, out: &mut Vec<u8>, format: archive::Format) -> Reply {
    let persist = Persist::Close;
    let path = req.target.split('?').next().unwrap_or("");
    let jail = site.settings.jail;
    let root = site.root.path();
    let dir = match files::segments(path, jail) {
        Ok(parts) => {
            let mut joined = root.to_path_buf();
            for part in &parts {
                joined.push(std::ffi::OsStr::from_bytes(part));
            }
            files::canonical_under(root, &joined, jail)
        }
        Err(r) => Err(r),
    };
    let dir = match dir {
        Ok(dir) if dir.is_dir() => dir,
        Ok(_) | Err(Refused::NotFound) => return not_found(req, site, persist, out),
        Err(r) => return error(r.status(), site, persist, out),
    };
    // The top folder is named after the served folder itself, others after themselves.
    let shown = match listing::display_path(path).trim_matches('/') {
        "" => root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => listing::display_path(path),
    };
    let name = archive::base_name(&shown);
    let body = if req.method == Method::Head {
        Body::Empty
    } else {
        match archive::spawn(root.to_path_buf(), dir, name.clone(), jail, format) {
            Some(stream) => Body::Stream(stream),
            None => return error(503, site, persist, out),
        }
    };
    begin(out, 200, site);
    response::content_type(out, format.content_type());
    response::header(
        out,
        "Content-Disposition",
        &archive::disposition(&name, format),
    );
    response::header(out, "Cache-Control", "no-store");
    response::end(out, 200, None, persist);
    Reply { status: 200, body }
}

/// The auth step: `None` to go on, or the 401 (with `--auth` and no valid credentials).
fn authorize(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Option<Reply> {
    let auth = site.settings.share.auth.as_ref()?;
    match auth.check(req.fields.authorization.as_deref().map(str::as_bytes)) {
        auth::Verdict::Allowed(_) => None,
        verdict => {
            if let auth::Verdict::Denied(why) = verdict {
                auth::report(why, &req.line);
            }
            Some(unauthorized(auth, site, persist, out))
        }
    }
}

/// An upload accepted for its body: feed `intake`, then answer with [`received`].
#[derive(Debug)]
pub struct Receive {
    /// Where the body goes.
    pub intake: Intake,
    /// Send `100 Continue` first: the client waits for it.
    pub send_continue: bool,
    /// How to answer once the body is in.
    pub answer: Answer,
}

/// How an upload is answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// A PUT's file path (the 201's `Location`), or a POST's folder (the 303's).
    pub location: String,
    /// A form POST rather than a PUT.
    pub form: bool,
    /// The client takes HTML (a browser's form post): answer a POST with 303 to the folder.
    pub html: bool,
}

/// The steps of an upload before its body (auth, uploads on, admission, the target), for a
/// PUT or POST. `Err` is the answer instead (its head in `out`), with `persist`: the caller
/// closes the connection unless the request had no body left unread.
pub fn receive(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
) -> Result<Receive, Reply> {
    if let Some(reply) = authorize(req, site, persist, out) {
        return Err(reply);
    }
    let Some(uploads) = &site.settings.share.uploads else {
        return Err(error(405, site, persist, out));
    };
    let framing = req.body.unwrap_or(crate::request::BodyFraming {
        length: None,
        chunked: false,
    });
    let admit = intake::Admit::decide(
        framing.length,
        framing.chunked,
        req.fields.expect.as_deref(),
        uploads.max_bytes,
    );
    let send_continue = match admit {
        intake::Admit::Read { send_continue } => send_continue,
        refused => {
            let status = refused.status().unwrap_or(400);
            return Err(error(status, site, persist, out));
        }
    };
    let rules = upload::Rules {
        overwrite: uploads.overwrite,
        mkdir: uploads.mkdir,
        subtree: uploads.subtree.clone(),
        jail: site.settings.jail,
    };
    let frame = match framing.length {
        Some(n) if !framing.chunked => intake::Framing::Length(n),
        _ => intake::Framing::Chunked(intake::Dechunk::default()),
    };
    let path = req.target.split('?').next().unwrap_or("");
    let refuse = |r: upload::Refusal, out: &mut Vec<u8>| error(r.status(), site, persist, out);
    if req.method == Method::Put {
        let (up, location) =
            upload::prepare(&site.root, path, &rules).map_err(|r| refuse(r, out))?;
        return Ok(Receive {
            intake: Intake::put(frame, up, uploads.max_bytes),
            send_continue,
            answer: Answer {
                location,
                form: false,
                html: false,
            },
        });
    }
    // A POST: a multipart form to a folder (its URL ends in `/`).
    let boundary = req
        .fields
        .content_type
        .as_deref()
        .and_then(multipart::boundary);
    let (Some(boundary), true) = (boundary, path.ends_with('/')) else {
        return Err(error(400, site, persist, out));
    };
    let parts =
        files::segments(path, rules.jail).map_err(|r| refuse(upload::Refusal::Path(r), out))?;
    let dir = upload::folder(&site.root, &parts, &rules).map_err(|r| refuse(r, out))?;
    Ok(Receive {
        intake: Intake::form(
            frame,
            &boundary,
            dir,
            rules.jail.hidden,
            rules.overwrite,
            uploads.max_bytes,
        ),
        send_continue,
        answer: Answer {
            location: path.to_string(),
            form: true,
            html: req
                .fields
                .accept
                .as_deref()
                .is_some_and(|a| a.contains("text/html")),
        },
    })
}

/// The answer once an upload's body is in (or failed): 201 with a Location, 204 for a
/// replaced file, 303 to the folder for a browser's form; the failure's status otherwise,
/// and then the connection closes (`persist` is ignored: the rest of the body is unread).
pub fn received(
    rx: &Answer,
    result: Result<Vec<(String, upload::Outcome)>, intake::Failure>,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
) -> Reply {
    let done = match result {
        Ok(done) => done,
        Err(failure) => {
            let status = failure.status();
            let body = format!("{status} {}: {failure}\n", response::reason(status)).into_bytes();
            begin(out, status, site);
            response::content_type(out, "text/plain; charset=utf-8");
            response::end(out, status, Some(body.len() as u64), Persist::Close);
            return Reply {
                status,
                body: Body::Bytes(body),
            };
        }
    };
    let created = done.iter().any(|(_, o)| *o == upload::Outcome::Created);
    let status = match (rx.form, rx.html, created) {
        (true, true, _) => 303,
        (false, _, false) => 204,
        _ => 201,
    };
    let mut body = String::new();
    for (name, outcome) in &done {
        let verb = if *outcome == upload::Outcome::Created {
            "created"
        } else {
            "replaced"
        };
        let shown = if rx.form {
            name.as_str()
        } else {
            rx.location.as_str()
        };
        body.push_str(&format!("{verb} {shown}\n"));
    }
    begin(out, status, site);
    if status != 204 {
        response::header(out, "Location", &rx.location);
        response::content_type(out, "text/plain; charset=utf-8");
    }
    let body = if status == 204 {
        Vec::new()
    } else {
        body.into_bytes()
    };
    response::end(
        out,
        status,
        (status != 204).then_some(body.len() as u64),
        persist,
    );
    Reply {
        status,
        body: if body.is_empty() {
            Body::Empty
        } else {
            Body::Bytes(body)
        },
    }
}

/// 401 with the Basic challenge.
fn unauthorized(auth: &Auth, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let body = response::error_body(401).into_bytes();
    begin(out, 401, site);
    response::content_type(out, "text/plain; charset=utf-8");
    response::header(out, "WWW-Authenticate", &auth.challenge());
    response::end(out, 401, Some(body.len() as u64), persist);
    Reply {
        status: 401,
        body: Body::Bytes(body),
    }
}

fn not_found(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    // --spa: a client-side route (no extension in its last segment) gets the app's page.
    if site.settings.spa {
        let path = req.target.split('?').next().unwrap_or("");
        let last = path.rsplit('/').next().unwrap_or("");
        if !last.contains('.')
            && let Ok(Mapped::File {
                path,
                file: opened,
                meta,
            }) = files::map(&site.root, "/index.html", site.settings.jail)
        {
            return file(
                req,
                site,
                persist,
                out,
                path,
                opened.map(|f| (f, meta)),
                None,
            );
        }
    }
    match &site.settings.not_found_page {
        Some(page) => {
            begin(out, 404, site);
            response::content_type(out, "text/html; charset=utf-8");
            response::end(out, 404, Some(page.len() as u64), persist);
            Reply {
                status: 404,
                body: Body::Shared(Arc::clone(page)),
            }
        }
        None => error(404, site, persist, out),
    }
}

fn options(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    begin(out, 204, site);
    let f = &req.fields;
    if site.settings.cors && f.origin.is_some() && f.ac_request_method.is_some() {
        // A CORS preflight: allow our methods and whatever headers were asked about
        // (reduced to header-name characters, so nothing can be injected).
        response::header(out, "Access-Control-Allow-Methods", allow(site));
        if let Some(asked) = &f.ac_request_headers {
            let clean: String = asked
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',' | ' '))
                .collect();
            response::header(out, "Access-Control-Allow-Headers", clean.trim());
        }
        response::header(out, "Access-Control-Max-Age", "86400");
    }
    response::header(out, "Allow", allow(site));
    response::end(out, 204, None, persist);
    Reply {
        status: 204,
        body: Body::Empty,
    }
}

fn listing(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>, dir: &Path) -> Reply {
    let share = &site.settings.share;
    // The upload form shows where uploads may go: anywhere, or under --upload-dir.
    let upload = share.uploads.as_ref().is_some_and(|u| {
        u.subtree
            .as_ref()
            .is_none_or(|sub| dir.starts_with(site.root.path().join(sub)))
    });
    let page = listing::Page {
        sortable: true,
        upload,
        archive: share.archive,
        ..listing::Page::default()
    };
    let accept = req.fields.accept.as_deref();
    let shown = match listing::render(
        site.root.path(),
        dir,
        site.settings.jail,
        &req.target,
        accept,
        page,
    ) {
        Ok(shown) => shown,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return error(403, site, persist, out);
        }
        Err(_) => return not_found(req, site, persist, out),
    };
    // The ETag is a digest of what is listed: a folder that has not changed revalidates
    // with a 304 (browsers, `fetch --mirror`).
    let v = Validators {
        etag: shown.etag,
        modified: None,
    };
    let headers = |out: &mut Vec<u8>| {
        response::header(out, "ETag", &v.etag);
        response::header(out, "Cache-Control", &site.settings.cache_control);
        response::header(out, "Vary", "Accept");
    };
    if let Some(reply) = conditions(req, site, persist, out, &v, &headers) {
        return reply;
    }
    begin(out, 200, site);
    response::content_type(out, shown.content_type);
    headers(out);
    response::end(out, 200, Some(shown.body.len()), persist);
    Reply {
        status: 200,
        body: Body::Listing(Box::new(shown.body)),
    }
}

/// The conditions step: 304 (with the validators `headers` writes) or 412 when the
/// request's preconditions say so, else `None` to go on.
fn conditions(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    v: &Validators,
    headers: &dyn Fn(&mut Vec<u8>),
) -> Option<Reply> {
    match conditional::evaluate(&req.fields.conditions, v, true) {
        Outcome::NotModified => {
            begin(out, 304, site);
            headers(out);
            response::end(out, 304, None, persist);
            Some(Reply {
                status: 304,
                body: Body::Empty,
            })
        }
        Outcome::Failed => Some(error(412, site, persist, out)),
        Outcome::Proceed => None,
    }
}

/// How a file's representation is described in the head.
struct Repr<'a> {
    content_type: &'a str,
    coding: Option<&'static str>,
    len: u64,
    validators: &'a Validators,
    last_modified: Option<&'a str>,
    /// Say `Vary: Accept-Encoding`: an encoding was or could have been chosen.
    vary: bool,
}

/// Where a file's bytes come from.
enum Content {
    /// The open file (sent by sendfile when large, read when small).
    Open(File, PathBuf),
    /// The cache.
    Cached(Arc<Entry>),
    /// A compressed representation (`--compress`), whole.
    Encoded(Arc<Vec<u8>>),
}

#[allow(clippy::too_many_arguments)] // One step of the chain: every argument is what it reads.
fn file(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    path: PathBuf,
    // The file and its metadata, when mapping already opened it (no second fstat).
    opened: Option<(File, std::fs::Metadata)>,
    // The cache key, when this request may be answered from (and so fill) the cache.
    key: Option<&str>,
) -> Reply {
    let ct = files::content_type(&path);
    // --watch: an HTML page gets the reload script, so never a precompressed sibling.
    let live = site.live.is_some() && reload::injects(&ct, 0);
    // A precompressed sibling the client accepts is sent instead, with its own validators.
    let variant = req
        .fields
        .accept_encoding
        .as_deref()
        .and_then(|ae| files::precompressed(site.root.path(), &path, ae, site.settings.jail))
        .filter(|_| !live);
    // Only a file the kernel-confined lookup opened (no symlink on the way) is cached.
    let cacheable = key.filter(|_| opened.is_some() && variant.is_none());
    let (path, coding, opened) = match variant {
        Some((p, coding, _)) => (p, Some(coding), None),
        None => (path, None, opened),
    };
    let opened = opened.map_or_else(|| open(&path), Ok);
    let (mut file, meta) = match opened {
        Ok(pair) => pair,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return error(403, site, persist, out);
        }
        Err(_) => return not_found(req, site, persist, out),
    };
    if live && reload::injects(&ct, meta.len()) {
        return injected(req, site, persist, out, &ct, file, &meta);
    }
    if let Some(key) = cacheable.filter(|_| site.cache.takes(meta.len())) {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        if (&mut file)
            .take(cache::MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .is_ok()
            && bytes.len() as u64 == meta.len()
        {
            let root = site.root.path();
            let entry = site.cache.insert(key, root, path, meta, ct, bytes);
            return cached(req, site, persist, out, entry);
        }
        // It changed while being read: send it from disk as usual, from its start.
        let _ = file.seek(io::SeekFrom::Start(0));
    }
    let v = Validators::of(&meta);
    let last_modified = v.last_modified();
    let compress = site.settings.share.compress && coding.is_none();
    // --compress: the representation step may pick an encoding made (or cached) now. A
    // precompressed file on disk won already; a range asks for the identity bytes.
    if compress && req.fields.range.is_none() {
        let made = compress::encoded(
            &site.compressed,
            &path,
            &mut file,
            &v.etag,
            &ct,
            meta.len(),
            req.fields.accept_encoding.as_deref(),
            false,
        );
        if let Ok(Some(enc)) = made {
            let ev = Validators {
                etag: enc.etag,
                modified: v.modified,
            };
            let repr = Repr {
                content_type: &ct,
                coding: Some(enc.coding.token()),
                len: enc.body.len() as u64,
                validators: &ev,
                last_modified: last_modified.as_deref(),
                vary: true,
            };
            return representation(req, site, persist, out, &repr, Content::Encoded(enc.body));
        }
        // Not worth it, not accepted, or the file changed while read: the file as it is.
        let _ = file.seek(io::SeekFrom::Start(0));
    }
    let repr = Repr {
        content_type: &ct,
        coding,
        len: meta.len(),
        validators: &v,
        last_modified: last_modified.as_deref(),
        vary: coding.is_some() || (compress && compress::worth(&ct, meta.len(), false)),
    };
    representation(req, site, persist, out, &repr, Content::Open(file, path))
}

/// `--watch`: an HTML file with the reload script in it (`reload.rs`), made in memory, with
/// its own ETag. Never cached, never encoded, and `Range` is ignored: the answer is the
/// whole injected page (RFC 9110 §14.2 lets a server ignore Range), since byte offsets of
/// the file would not match the page sent.
fn injected(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    ct: &str,
    mut file: File,
    meta: &std::fs::Metadata,
) -> Reply {
    let mut html = Vec::with_capacity(meta.len() as usize);
    if (&mut file)
        .take(reload::MAX_INJECT)
        .read_to_end(&mut html)
        .is_err()
    {
        return error(500, site, persist, out);
    }
    let v = Validators::of(meta);
    let last_modified = v.last_modified();
    let live = Validators {
        etag: reload::etag(&v.etag),
        modified: v.modified,
    };
    let body = reload::inject(&html);
    let whole = Request {
        fields: crate::request::Fields {
            range: None,
            ..req.fields.clone()
        },
        ..req.clone()
    };
    let repr = Repr {
        content_type: ct,
        coding: None,
        len: body.len() as u64,
        validators: &live,
        last_modified: last_modified.as_deref(),
        vary: false,
    };
    representation(
        &whole,
        site,
        persist,
        out,
        &repr,
        Content::Encoded(Arc::new(body)),
    )
}

/// Answers from a cached file.
fn cached(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    entry: Arc<Entry>,
) -> Reply {
    let len = entry.bytes.len() as u64;
    let repr = Repr {
        content_type: &entry.content_type,
        coding: None,
        len,
        validators: &entry.validators,
        last_modified: entry.last_modified.as_deref(),
        // Cached files answer clients that accept no encoding; with --compress others may
        // get one, which caches must know.
        vary: site.settings.share.compress && compress::worth(&entry.content_type, len, false),
    };
    let content = Content::Cached(Arc::clone(&entry));
    representation(req, site, persist, out, &repr, content)
}

/// Answers with a file's representation: 304 or 412 when preconditions say so, else the
/// whole file, one range or several.
fn representation(
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
        response::header(out, "ETag", &v.etag);
        if let Some(lm) = repr.last_modified {
            response::header(out, "Last-Modified", lm);
        }
        response::header(out, "Cache-Control", &site.settings.cache_control);
        if repr.vary {
            response::header(out, "Vary", "Accept-Encoding");
        }
    };
    if let Some(reply) = conditions(req, site, persist, out, v, &validators) {
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
    let content_headers = |out: &mut Vec<u8>| {
        response::content_type(out, repr.content_type);
        if let Some(coding) = repr.coding {
            response::header(out, "Content-Encoding", coding);
        }
        response::header(out, "Accept-Ranges", "bytes");
        validators(out);
    };
    let span_body = |content: Content, start: u64, len: u64| match content {
        Content::Open(file, path) => Body::File {
            file,
            path,
            start,
            len,
        },
        Content::Cached(entry) => Body::Cached { entry, start, len },
        // Never asked for a range (see `file`): always whole.
        Content::Encoded(bytes) => Body::Shared(bytes),
    };
    match ranges {
        Ranges::Full => {
            begin(out, 200, site);
            content_headers(out);
            response::end(out, 200, Some(len), persist);
            Reply {
                status: 200,
                body: span_body(content, 0, len),
            }
        }
        Ranges::One(span) => {
            begin(out, 206, site);
            content_headers(out);
            response::header(
                out,
                "Content-Range",
                &format!("bytes {}-{}/{len}", span.start, span.end()),
            );
            response::end(out, 206, Some(span.len), persist);
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
                    fields: crate::request::Fields {
                        range: None,
                        ..req.fields.clone()
                    },
                    ..req.clone()
                };
                return representation(&ranges_ignored, site, persist, out, repr, content);
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
            response::content_type(out, &format!("multipart/byteranges; boundary={boundary}"));
            if let Some(coding) = repr.coding {
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
            begin(out, 416, site);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{self, Parsed};

    fn site() -> (tempfile::TempDir, Site) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        std::fs::write(root.join("a#b.txt"), "hash").unwrap();
        (dir, Site::new(root, Default::default()))
    }

    /// Parses `raw` with a `Host` field added after the request line.
    fn parse(raw: &str) -> Request {
        let raw = raw.replacen("\r\n", "\r\nHost: x\r\n", 1);
        match request::parse(raw.as_bytes()) {
            Parsed::Complete(req) => req,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    /// Answers `raw`: the head as text and the body's bytes.
    fn answer(site: &Site, raw: &str) -> (u16, String, Vec<u8>) {
        let mut out = Vec::new();
        let reply = respond(&parse(raw), site, Persist::KeepAlive, &mut out);
        let body = match reply.body {
            Body::Empty => Vec::new(),
            Body::Stream(mut s) => {
                let mut b = Vec::new();
                s.reader.read_to_end(&mut b).unwrap();
                b
            }
            Body::Listing(r) => {
                let mut b = Vec::new();
                r.write_all(&mut b).unwrap();
                b
            }
            Body::Bytes(b) => b,
            Body::Shared(b) => b.to_vec(),
            Body::Cached { entry, start, len } => {
                entry.bytes[start as usize..(start + len) as usize].to_vec()
            }
            Body::File {
                mut file,
                start,
                len,
                ..
            } => {
                let mut b = Vec::new();
                file.seek(io::SeekFrom::Start(start)).unwrap();
                (&mut file).take(len).read_to_end(&mut b).unwrap();
                b
            }
            Body::Multipart { .. } => b"(multipart)".to_vec(),
        };
        (reply.status, String::from_utf8(out).unwrap(), body)
    }

    #[test]
    fn statuses_for_the_everyday_requests() {
        let (_dir, site) = site();
        let cases = [
            ("GET / HTTP/1.1\r\n\r\n", 200),
            ("GET /index.html HTTP/1.1\r\n\r\n", 200),
            ("HEAD /index.html HTTP/1.1\r\n\r\n", 200),
            ("GET /missing HTTP/1.1\r\n\r\n", 404),
            ("DELETE /index.html HTTP/1.1\r\n\r\n", 405),
            ("OPTIONS * HTTP/1.1\r\n\r\n", 204),
            ("GET /index.html HTTP/1.1\r\nRange: bytes=0-3\r\n\r\n", 206),
            ("GET /index.html HTTP/1.1\r\nRange: bytes=99-\r\n\r\n", 416),
            ("GET /%zz HTTP/1.1\r\n\r\n", 400),
        ];
        for (raw, want) in cases {
            assert_eq!(answer(&site, raw).0, want, "{raw:?}");
        }
    }

    #[test]
    fn a_fragment_in_the_target_is_400_even_when_a_file_has_that_name() {
        let (_dir, site) = site();
        for raw in [
            "GET /index.html#x HTTP/1.1\r\n\r\n",
            "GET /a#b.txt HTTP/1.1\r\n\r\n",
            "GET /#top HTTP/1.1\r\n\r\n",
        ] {
            let (status, head, _) = answer(&site, raw);
            assert_eq!(status, 400, "{raw:?}");
            assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        }
        // The file is there for whoever asks for it properly.
        assert_eq!(answer(&site, "GET /a%23b.txt HTTP/1.1\r\n\r\n").2, b"hash");
    }

    #[test]
    fn refusals_are_decided_here_and_close() {
        let (_dir, site) = site();
        for (why, status, line) in [
            (Refusal::NotAllowed, 403, "HTTP/1.1 403 Forbidden\r\n"),
            (Refusal::Busy, 503, "HTTP/1.1 503 Service Unavailable\r\n"),
            (
                Refusal::HeadTimeout,
                408,
                "HTTP/1.1 408 Request Timeout\r\n",
            ),
        ] {
            let mut out = Vec::new();
            let reply = refuse(why, &site, &mut out);
            let head = String::from_utf8(out).unwrap();
            assert_eq!(reply.status, status);
            assert!(head.starts_with(line), "{head}");
            assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
            assert_eq!(
                head.contains("\r\nRetry-After: 1\r\n"),
                why == Refusal::Busy,
                "{head}"
            );
        }
    }

    #[test]
    fn a_cached_file_edited_on_disk_is_answered_fresh() {
        let (dir, site) = site();
        let path = dir.path().join("page.txt");
        std::fs::write(&path, "first").unwrap();
        let get = "GET /page.txt HTTP/1.1\r\n\r\n";
        assert_eq!(answer(&site, get).2, b"first");
        assert_eq!(site.cache.len(), 1, "small files are cached");
        let (_, head, body) = answer(&site, get);
        assert_eq!(body, b"first", "a hit");
        // Same length, at once: the next request sees the new bytes and a new ETag.
        std::fs::write(&path, "again").unwrap();
        let (status, head2, body) = answer(&site, get);
        assert_eq!((status, body.as_slice()), (200, &b"again"[..]));
        let etag = |h: &str| {
            h.lines()
                .find(|l| l.starts_with("ETag:"))
                .map(str::to_string)
        };
        assert_ne!(etag(&head), etag(&head2));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(answer(&site, get).0, 404, "a removed file is gone at once");
    }

    #[test]
    fn cached_answers_keep_validators_and_conditions() {
        let (_dir, site) = site();
        let (_, head, _) = answer(&site, "GET /index.html HTTP/1.1\r\n\r\n");
        let etag = head
            .lines()
            .find_map(|l| l.strip_prefix("ETag: "))
            .unwrap()
            .to_string();
        // Now from the cache: the same head, 304 on a match, HEAD without a body.
        let (_, again, _) = answer(&site, "GET /index.html HTTP/1.1\r\n\r\n");
        let without_date = |h: &str| {
            h.lines()
                .filter(|l| !l.starts_with("Date:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(without_date(&head), without_date(&again));
        let conditional = format!("GET /index.html HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n");
        assert_eq!(answer(&site, &conditional).0, 304);
        let (status, _, body) = answer(&site, "HEAD /index.html HTTP/1.1\r\n\r\n");
        assert_eq!((status, body.len()), (200, 0));
        // A range or an encoding that could have a variant goes to the disk.
        let (status, _, body) = answer(
            &site,
            "GET /index.html HTTP/1.1\r\nRange: bytes=1-2\r\n\r\n",
        );
        assert_eq!((status, body.as_slice()), (206, &b"h1"[..]));
    }
}
