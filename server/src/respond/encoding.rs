//! `--compress` as a step: for a whole file of a compressible type, the encoding the client
//! prefers, made now (from the file, or from the small-file cache's copy) or taken from the
//! bounded cache of compressed bodies (`crate::compress`). A precompressed file on disk won before this step; a range asks for
//! the identity bytes.

use std::fs::File;
use std::io::{self, Seek};
use std::path::Path;

use super::reply::Reply;
use super::representation::{self, Content, Repr};
use crate::compress::{self, Encoded};
use crate::http::conditional::Validators;
use crate::http::request::Request;
use crate::http::response_head::Persist;
use crate::site::Site;

/// The compressed body for this request, or `None` to send the file as it is (not worth it,
/// not accepted, or the file changed while read; the file is then back at its start).
pub(super) fn on_the_fly(
    req: &Request,
    site: &Site,
    file: &mut File,
    path: &Path,
    content_type: &str,
    len: u64,
    etag: &str,
) -> Option<Encoded> {
    let made = encoded(req, site, path, content_type, len, etag, |coding| {
        compress::encode_file(file, coding, etag)
    });
    if made.is_none() {
        let _ = file.seek(io::SeekFrom::Start(0));
    }
    made
}

/// The compressed body for a file whose `bytes` the small-file cache holds: from the cache
/// of compressed bodies, or made from those bytes (the file is not opened).
pub(super) fn from_memory(
    req: &Request,
    site: &Site,
    path: &Path,
    content_type: &str,
    bytes: &[u8],
    etag: &str,
) -> Option<Encoded> {
    let len = bytes.len() as u64;
    encoded(req, site, path, content_type, len, etag, |coding| {
        Ok(Some(compress::encode(coding, bytes)))
    })
}

fn encoded(
    req: &Request,
    site: &Site,
    path: &Path,
    content_type: &str,
    len: u64,
    etag: &str,
    make: impl FnOnce(compress::Coding) -> io::Result<Option<Vec<u8>>>,
) -> Option<Encoded> {
    if !site.settings.share.compress || req.fields.range.is_some() {
        return None;
    }
    let ae = req.fields.accept_encoding.as_deref();
    let made = compress::encoded(
        &site.compressed,
        path,
        etag,
        content_type,
        len,
        ae,
        false,
        make,
    );
    made.ok().flatten()
}

/// Answers with an encoding of the file whose validators are `v` (its ETag is the
/// encoding's own; the time is the file's).
#[allow(clippy::too_many_arguments)] // One step of the chain: every argument is what it reads.
pub(super) fn reply(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    content_type: &str,
    v: &Validators,
    last_modified: Option<&str>,
    enc: Encoded,
) -> Reply {
    let ev = Validators {
        etag: enc.etag,
        modified: v.modified,
    };
    let repr = Repr {
        content_type,
        coding: Some(enc.coding.token()),
        len: enc.body.len() as u64,
        validators: &ev,
        last_modified,
        vary: true,
        // Made per request and not kept as a file: no digest (see README).
        repr_digest: None,
    };
    representation::step(req, site, persist, out, &repr, Content::Encoded(enc.body))
}

/// Whether the identity body must say `Vary: Accept-Encoding` because with `--compress`
/// another client may get it encoded.
pub(super) fn may_vary(site: &Site, content_type: &str, len: u64) -> bool {
    site.settings.share.compress && compress::worth(content_type, len, false)
}
