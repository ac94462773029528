//! The live-reload step (`--watch`): the event stream at its reserved path, and HTML files
//! sent with the reload script in them. What the script is and where it goes is
//! `crate::watch::reload`; who holds the stream once its head is sent is `crate::watch::hub`.

use std::fs::{File, Metadata};
use std::io::Read;
use std::sync::Arc;

use super::reply::{Body, Refusal, Reply, begin, error, refuse};
use super::repr_digest;
use super::representation::{self, Content, Repr};
use crate::http::conditional::Validators;
use crate::http::request::{Fields, Request};
use crate::http::response_head::{self, Persist};
use crate::site::Site;
use crate::watch::reload;

/// The event stream, when `--watch` is on and `req` asks for its path: its head, then the
/// hub holds the connection (`Body::Watch`); 503 when the hub holds as many as it may.
pub(super) fn events(req: &Request, site: &Site, out: &mut Vec<u8>) -> Option<Reply> {
    let hub = site.live.as_ref()?;
    if !reload::is_endpoint(&req.target) {
        return None;
    }
    if !hub.has_room() {
        return Some(refuse(Refusal::Busy, site, out));
    }
    begin(out, 200, site);
    response_head::content_type(out, reload::EVENT_STREAM);
    response_head::header(out, "Cache-Control", "no-store");
    // Close-delimited: the stream ends when either side closes.
    response_head::end(out, 200, None, Persist::Close);
    Some(Reply {
        status: 200,
        // The hub sends the first bytes once it holds the connection (`watch/hub.rs`).
        body: Body::Watch,
    })
}

/// True when a file of this type gets the script (`--watch` on, HTML). Such a file is
/// answered by [`page`] (from the small-file cache's bytes, or [`from_file`]), so never
/// from a precompressed sibling or with `--compress`.
pub(super) fn injects(site: &Site, content_type: &str) -> bool {
    site.live.is_some() && reload::injects(content_type, 0)
}

/// An HTML file read from disk, with the reload script in it: see [`page`].
pub(super) fn from_file(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    content_type: &str,
    mut file: File,
    meta: &Metadata,
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
    page(
        req,
        site,
        persist,
        out,
        content_type,
        &html,
        &v,
        last_modified.as_deref(),
    )
}

/// An HTML file (`html`, from disk or the small-file cache, with its validators) with the
/// reload script in it, made in memory, with its own ETag. `Range` is ignored: the answer
/// is the whole page (RFC 9110 §14.2 lets a server ignore Range), since the file's byte
/// offsets would not match the page sent. No encoding is applied.
#[allow(clippy::too_many_arguments)] // One step of the chain: every argument is what it reads.
pub(super) fn page(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    content_type: &str,
    html: &[u8],
    file_validators: &Validators,
    last_modified: Option<&str>,
) -> Reply {
    let live = Validators {
        etag: reload::etag(&file_validators.etag),
        modified: file_validators.modified,
    };
    let body = reload::inject(html);
    let whole;
    let req = if req.fields.range.is_some() {
        whole = Request {
            fields: Fields {
                range: None,
                ..req.fields.clone()
            },
            ..req.clone()
        };
        &whole
    } else {
        req
    };
    let repr = Repr {
        content_type,
        coding: None,
        len: body.len() as u64,
        validators: &live,
        last_modified,
        vary: false,
        // The page sent is not the file: its digest is of these bytes.
        repr_digest: repr_digest::of_page(req, site, &body),
    };
    let content = Content::Encoded(Arc::new(body));
    representation::step(req, site, persist, out, &repr, content)
}
