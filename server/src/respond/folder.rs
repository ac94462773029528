//! The folder step: a folder's URL without its trailing slash is redirected to it; a folder
//! is answered with its listing (HTML or JSON, `crate::listing`), revalidated by an ETag
//! derived from what is listed. (A folder with an `index.html` never gets here: mapping
//! answers with the page.)

use std::io;
use std::path::Path;

use super::conditions;
use super::fallback;
use super::reply::{Body, Reply, begin, error};
use crate::http::conditional::Validators;
use crate::http::request::Request;
use crate::http::response_head::{self, Persist};
use crate::listing;
use crate::site::Site;

/// 301 to the folder's URL with its trailing slash.
pub(super) fn redirect(location: &str, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let body = format!("Moved to {location}\n").into_bytes();
    begin(out, 301, site);
    response_head::content_type(out, "text/plain; charset=utf-8");
    response_head::header(out, "Location", location);
    response_head::end(out, 301, Some(body.len() as u64), persist);
    Reply {
        status: 301,
        body: Body::Bytes(body),
    }
}

/// The listing of `dir`, or 304/412 by the request's conditions.
pub(super) fn listing(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    dir: &Path,
) -> Reply {
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
        // --watch: an HTML listing reloads when the folder changes, as pages do.
        live: site.live.is_some(),
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
        &site.repr_digests,
    ) {
        Ok(shown) => shown,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return error(403, site, persist, out);
        }
        Err(_) => return fallback::step(req, site, persist, out),
    };
    // The ETag is a digest of what is listed: a folder that has not changed revalidates
    // with a 304 (browsers, `fetch --mirror`).
    let v = Validators {
        etag: shown.etag,
        modified: None,
    };
    let headers = |out: &mut Vec<u8>| {
        response_head::header(out, "ETag", &v.etag);
        response_head::header(out, "Cache-Control", &site.settings.cache_control);
        response_head::header(out, "Vary", "Accept");
    };
    if let Some(reply) = conditions::step(req, site, persist, out, &v, &headers) {
        return reply;
    }
    begin(out, 200, site);
    response_head::content_type(out, shown.content_type);
    headers(out);
    response_head::end(out, 200, Some(shown.body.len()), persist);
    Reply {
        status: 200,
        body: Body::Listing(Box::new(shown.body)),
    }
}
