//! The digest step (RFC 9530): the `Repr-Digest` value a file's response carries, when the
//! request asks for one (`Want-Repr-Digest`) or `--digest` is on, and the digest is known
//! or cheap to make now (`crate::repr_digest`: a large file's first digest is made in the
//! background, and that response goes without the field). The representation step writes
//! it on 200 and 206 (the whole file's digest, which is what `Repr-Digest` means) and on
//! HEAD; a 304 does not need it.

use std::fs::{File, Metadata};

use crate::cache::Entry;
use crate::http::request::Request;
use crate::repr_digest;
use crate::site::Site;

/// `sha-256=:…:` for the open file, if wanted and known (or small enough to hash now).
pub(super) fn of_file(req: &Request, site: &Site, file: &File, meta: &Metadata) -> Option<String> {
    let algorithm = wanted(req, site)?;
    let d = site.repr_digests.of_file(file, meta, algorithm)?;
    Some(shared::digest::member(algorithm, &d))
}

/// The same for a file answered from the small-file cache (its bytes are in memory).
pub(super) fn of_entry(req: &Request, site: &Site, entry: &Entry) -> Option<String> {
    let algorithm = wanted(req, site)?;
    let d = site
        .repr_digests
        .of_bytes(entry.version(), &entry.bytes, algorithm);
    Some(shared::digest::member(algorithm, &d))
}

/// The same for a page made for this response alone (`--watch`'s page with the reload
/// script): its own bytes, hashed now — they differ from the file's, and are never kept.
pub(super) fn of_page(req: &Request, site: &Site, bytes: &[u8]) -> Option<String> {
    let algorithm = wanted(req, site)?;
    Some(shared::digest::member(algorithm, &algorithm.digest(bytes)))
}

fn wanted(req: &Request, site: &Site) -> Option<shared::digest::Algorithm> {
    repr_digest::wanted(
        req.fields.want_repr_digest.as_deref(),
        site.settings.repr_digest_always,
    )
}
