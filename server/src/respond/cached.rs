//! The small-file cache as a step: a request for a whole cached file is answered from
//! memory before any mapping (the entry revalidates itself with one `statx`,
//! `crate::cache`); a small file read from disk fills it.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek};
use std::sync::Arc;

use super::encoding;
use super::live;
use super::precompressed;
use super::reply::Reply;
use super::repr_digest;
use super::representation::{self, Content, Repr};
use crate::cache::{self, Entry};
use crate::http::request::Request;
use crate::http::response_head::Persist;
use crate::site::Site;

/// The cache key of a request that a cached file may answer: its path, when it asks for the
/// whole file (no `Range`).
pub(super) fn key(req: &Request) -> Option<&str> {
    if req.fields.range.is_some() {
        return None;
    }
    Some(req.target.split('?').next().unwrap_or(""))
}

/// May `entry` answer `req`? Not when the client accepts a precompressed sibling (`.br`,
/// `.gz`) and one may have appeared since the entry was made: its folder changed, or was not
/// known to be without one (one `statx` of the folder, `crate::cache`).
pub(super) fn answers(req: &Request, site: &Site, entry: &Entry) -> bool {
    // --watch's pages never come precompressed.
    live::injects(site, &entry.content_type)
        || !precompressed::may_apply(req)
        || site.cache.bare(entry)
}

/// Answers from a cached file.
pub(super) fn step(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    entry: Arc<Entry>,
) -> Reply {
    // --watch: an HTML page gets the reload script, made from the cached bytes.
    if live::injects(site, &entry.content_type) {
        let lm = entry.last_modified.as_deref();
        let (ct, v) = (&entry.content_type, &entry.validators);
        return live::page(req, site, persist, out, ct, &entry.bytes, v, lm);
    }
    let len = entry.bytes.len() as u64;
    let lm = entry.last_modified.as_deref();
    // --compress: the encoding the client prefers, made from these bytes if not kept.
    let (ct, etag) = (&entry.content_type, &entry.validators.etag);
    if site.settings.share.compress
        && let path = site.root.path().join(entry.rel())
        && let Some(enc) = encoding::from_memory(req, site, &path, ct, &entry.bytes, etag)
    {
        return encoding::reply(req, site, persist, out, ct, &entry.validators, lm, enc);
    }
    let repr = Repr {
        content_type: &entry.content_type,
        coding: None,
        len,
        validators: &entry.validators,
        last_modified: lm,
        // With --compress other clients may get an encoding, which caches must know.
        vary: encoding::may_vary(site, &entry.content_type, len),
        repr_digest: repr_digest::of_entry(req, site, &entry),
    };
    let content = Content::Cached(Arc::clone(&entry));
    representation::step(req, site, persist, out, &repr, content)
}

/// The whole of a file small enough for the cache, to insert; `None` (the file rewound to
/// its start) when it is too big or changed while being read.
pub(super) fn read_whole(site: &Site, file: &mut File, meta: &Metadata) -> Option<Vec<u8>> {
    if !site.cache.takes(meta.len()) {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    if file
        .take(cache::MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .is_ok()
        && bytes.len() as u64 == meta.len()
    {
        return Some(bytes);
    }
    // It changed while being read: it is sent from disk as usual, from its start.
    let _ = file.seek(io::SeekFrom::Start(0));
    None
}
