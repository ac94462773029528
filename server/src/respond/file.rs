//! The file step: which bytes answer for a file (a precompressed sibling, the file itself,
//! or an encoding made by `--compress`), opened without blocking, filling the small-file
//! cache on the way; then the representation step.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::cached;
use super::encoding;
use super::live;
use super::precompressed;
use super::reply::{Missing, Reply, error};
use super::repr_digest;
use super::representation::{self, Content, Repr};
use crate::http::conditional::Validators;
use crate::http::request::Request;
use crate::http::response_head::Persist;
use crate::jail;
use crate::site::Site;
use crate::watch::reload;

/// Answers with the file at `path`; `Missing` when it is gone by the time it is opened.
#[allow(clippy::too_many_arguments)] // One step of the chain: every argument is what it reads.
pub(super) fn step(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    path: PathBuf,
    // The file and its metadata, when mapping already opened it (no second fstat).
    opened: Option<(File, Metadata)>,
    // The cache key, when this request may be answered from (and so fill) the cache.
    key: Option<&str>,
) -> Result<Reply, Missing> {
    let ct = jail::content_type(&path);
    // --watch: an HTML page gets the reload script, so never a precompressed sibling.
    let live = live::injects(site, &ct);
    // Only a file the kernel-confined lookup opened (no symlink on the way) is cached.
    let small = opened
        .as_ref()
        .is_some_and(|(_, m)| site.cache.takes(m.len()));
    let cacheable = key.filter(|_| small);
    // Its folder's version, read before looking for siblings: if none is there now, the
    // cached entry answers requests that accept them for as long as the folder is unchanged.
    let folder = cacheable.and_then(|_| site.cache.folder(site.root.path(), &path));
    let variant = precompressed::choose(req, site, &path).filter(|_| !live);
    let cacheable = cacheable.filter(|_| variant.is_none());
    let bare = folder.filter(|_| cacheable.is_some() && precompressed::absent(&path));
    let (path, coding, opened) = match variant {
        Some((p, coding, _)) => (p, Some(coding), None),
        None => (path, None, opened),
    };
    let opened = opened.map_or_else(|| open(&path), Ok);
    let (mut file, meta) = match opened {
        Ok(pair) => pair,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Ok(error(403, site, persist, out));
        }
        Err(_) => return Err(Missing),
    };
    if let Some(key) = cacheable
        && let Some(bytes) = cached::read_whole(site, &mut file, &meta)
    {
        let entry = site
            .cache
            .insert(key, site.root.path(), path, meta, ct, bytes, bare);
        return Ok(cached::step(req, site, persist, out, entry));
    }
    if live && reload::injects(&ct, meta.len()) {
        return Ok(live::from_file(req, site, persist, out, &ct, file, &meta));
    }
    let v = Validators::of(&meta);
    let last_modified = v.last_modified();
    if coding.is_none()
        && let Some(enc) =
            encoding::on_the_fly(req, site, &mut file, &path, &ct, meta.len(), &v.etag)
    {
        let lm = last_modified.as_deref();
        return Ok(encoding::reply(req, site, persist, out, &ct, &v, lm, enc));
    }
    let repr = Repr {
        content_type: &ct,
        coding,
        len: meta.len(),
        validators: &v,
        last_modified: last_modified.as_deref(),
        vary: coding.is_some() || encoding::may_vary(site, &ct, meta.len()),
        repr_digest: repr_digest::of_file(req, site, &file, &meta),
    };
    let content = Content::Open(file, path);
    Ok(representation::step(
        req, site, persist, out, &repr, content,
    ))
}

/// Opens a file for reading without ever blocking on it (a FIFO swapped in after the
/// mapping check would otherwise hang the worker), and checks it is a regular file.
fn open(path: &Path) -> io::Result<(File, Metadata)> {
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
