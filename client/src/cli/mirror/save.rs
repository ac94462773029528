//! Writing a file of the mirror: as `NAME.part` with the server's time and its record
//! (`state.rs`), then renamed, so a file appears whole or not at all.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::exchange::header;
use super::{local, state};
use crate::cli::output::part_path;
use crate::cli::progress::Bar;
use crate::cli::resume;
use crate::digest::Verifier;
use crate::error::Error;
use crate::response::Response;

/// Where a body goes and who hears of it.
pub struct Saving<'s> {
    /// The mirror's folder.
    pub root: &'s Path,
    /// The file, relative to `root`; its folders exist.
    pub rel: &'s Path,
    /// The file's line in the progress display.
    pub bar: &'s Bar,
    /// The crawl's byte count, added to as the body arrives.
    pub total: &'s AtomicU64,
    /// Says a warning (the record could not be kept).
    pub warn: &'s dyn Fn(&str),
}

/// Writes the body to `rel` as `.part`, with the server's time, renames it, and keeps
/// its ETag. With `resume`, the body is the rest of the `.part` an interrupted run left
/// (a 206 from that offset), appended to it. A body cut short leaves its `.part`, marked
/// with the response's validator, for the next run to resume.
pub fn save(
    to: &Saving<'_>,
    resp: &mut Response,
    content_type: &str,
    resume: Option<u64>,
) -> Result<u64, Error> {
    let Saving { root, rel, bar, .. } = *to;
    let io_err = |e: io::Error| Error::Write {
        what: root.join(rel).display().to_string(),
        reason: shared::io_words(&e),
    };
    let file = root.join(rel);
    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_dir()) {
        return Err(io_err(io::Error::other("a folder is in the way")));
    }
    let (part, mut out) = match resume {
        // The rest of an interrupted run's `.part`, appended (never through a symlink).
        Some(_) => {
            let part = part_path(&file);
            std::fs::OpenOptions::new()
                .append(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&part)
                .map(|out| (part, out))
        }
        // A .part left by an interrupted run that is not resumed is started over.
        None => local::new_part(&file),
    }
    .map_err(io_err)?;
    // What a later run resumes this `.part` with, should this one be cut off.
    let resumable = match resume {
        Some(_) => true,
        None => {
            resume::validator(resp.head()).is_some_and(|v| state::mark_partial(&out, &v).is_ok())
        }
    };
    // Checked as the bytes stream (RFC 9530): a digest the server sent that does not match
    // fails the file, and its `.part` goes (below) rather than waiting to be resumed.
    let mut verifier = Verifier::from_head(resp.head(), resume.is_some());
    if verifier.needs_prefix() {
        // A 206's Repr-Digest covers the whole file: the bytes already on disk first.
        hash_part(&part, &mut verifier).map_err(io_err)?;
    }
    resp.verify(verifier);
    let copied = copy(resp, &mut out, to.total, bar);
    let mismatch = matches!(copied, Err(Error::Digest { .. }));
    if copied.is_err() && !mismatch && resumable && out.metadata().is_ok_and(|m| m.len() > 0) {
        // Cut off: the `.part` stays, with its validator, for the next run to resume.
        return copied.map(|()| 0);
    }
    let modified = httpdate::parse_http_date(&header(resp, "last-modified")).ok();
    let finished = copied.and_then(|()| {
        if let Some(t) = modified {
            out.set_modified(t).map_err(io_err)?;
        }
        let meta = out.metadata().map_err(io_err)?;
        // The record goes on the file before it takes its name, so the two appear
        // together.
        let record = state::Record {
            etag: header(resp, "etag"),
            size: meta.len(),
            mtime: meta.modified().map_or(0, state::seconds),
            content_type: content_type.to_string(),
        };
        if let Err(e) = state::save(root, rel, &out, &record) {
            (to.warn)(&format!(
                "fetch: warning: cannot keep the ETag of {}: {}",
                rel.display(),
                shared::io_words(&e)
            ));
        }
        state::unmark_partial(&out);
        drop(out);
        std::fs::rename(&part, &file).map_err(io_err)?;
        Ok(meta)
    });
    let meta = match finished {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    Ok(meta.len())
}

/// Replaces the file `rel` with `bytes`, keeping its time and moving its record over.
pub fn rewrite(root: &Path, rel: &Path, meta: &std::fs::Metadata, bytes: &[u8]) -> io::Result<()> {
    let file = root.join(rel);
    let record = state::load(root, rel, meta);
    let (part, mut out) = local::new_part(&file)?;
    let written = out.write_all(bytes).and_then(|()| {
        out.set_modified(meta.modified()?)?;
        if let Some(mut r) = record {
            let now = out.metadata()?;
            r.size = now.len();
            r.mtime = now.modified().map_or(0, state::seconds);
            state::save(root, rel, &out, &r)?;
        }
        std::fs::rename(&part, &file)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written
}

/// Feeds the `.part` on disk to `verifier` as the bytes before a resumed body.
fn hash_part(part: &Path, verifier: &mut Verifier) -> io::Result<()> {
    let mut file = File::open(part)?;
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        verifier.prefix(&buf[..n]);
    }
}

/// Copies the body into `out`, adding to `total` as it goes.
fn copy(resp: &mut Response, out: &mut File, total: &AtomicU64, bar: &Bar) -> Result<(), Error> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = resp.read_body(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n]).map_err(|e| Error::Write {
            what: "a file of the mirror".into(),
            reason: shared::io_words(&e),
        })?;
        total.fetch_add(n as u64, Ordering::Relaxed);
        bar.add(n as u64);
    }
}
