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
    /// Keep the body in memory, up to this many bytes, for its links to be read from there
    /// rather than from the file again (a page or a style sheet); 0: not kept.
    pub keep: usize,
}

/// A file saved: its size and time as recorded, and the body when it was kept.
#[derive(Debug, Default)]
pub struct Saved {
    /// The file's size.
    pub size: u64,
    /// Its modification time, in whole seconds since the epoch.
    pub mtime: u64,
    /// The whole body, when it was asked for ([`Saving::keep`]) and no larger.
    pub body: Option<Vec<u8>>,
}

/// The size from which a `.part` is marked resumable as it is written. A smaller one is
/// marked only when the body is cut off; one a killed run left unmarked is fetched again
/// from the start, which costs less than the two system calls (mark, unmark) every
/// file would pay to save it.
const MARK_FROM: u64 = 1 << 20;

/// Writes the body to `rel` as `.part`, with the server's time, renames it, and keeps
/// its ETag. With `resume`, the body is the rest of the `.part` an interrupted run left
/// (a 206 from that offset), appended to it. A body cut short leaves its `.part`, marked
/// with the response's validator, for the next run to resume.
pub fn save(
    to: &Saving<'_>,
    resp: &mut Response,
    content_type: &str,
    resume: Option<u64>,
) -> Result<Saved, Error> {
    let Saving { root, rel, .. } = *to;
    let io_err = |e: io::Error| Error::Write {
        what: root.join(rel).display().to_string(),
        reason: shared::io_words(&e),
    };
    let file = root.join(rel);
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
    // What a later run resumes this `.part` with, should this one be cut off (a resumed
    // one has its mark from the run that began it).
    let mut mark = Mark {
        validator: resume::validator(resp.head()).filter(|_| resume.is_none()),
        done: resume.is_some(),
    };
    // Checked as the bytes stream (RFC 9530): a digest the server sent that does not match
    // fails the file, and its `.part` goes (below) rather than waiting to be resumed.
    let mut verifier = Verifier::from_head(resp.head(), resume.is_some());
    if verifier.needs_prefix() {
        // A 206's Repr-Digest covers the whole file: the bytes already on disk first.
        hash_part(&part, &mut verifier).map_err(io_err)?;
    }
    resp.verify(verifier);
    let length: Option<usize> = header(resp, "content-length").parse().ok();
    let mut body = (to.keep > 0).then(|| Vec::with_capacity(length.unwrap_or(0).min(to.keep)));
    let copied = with_buffer(|buf| copy(buf, resp, &mut out, to, &mut mark, &mut body));
    let mismatch = matches!(copied, Err(Error::Digest { .. }));
    if copied.is_err() && !mismatch && out.metadata().is_ok_and(|m| m.len() > 0) && mark.now(&out) {
        // Cut off: the `.part` stays, with its validator, for the next run to resume.
        return copied.map(|_| Saved::default());
    }
    let finished = copied.and_then(|written| {
        let record = finish(to, resp, &out, content_type, resume, written).map_err(io_err)?;
        if mark.done {
            state::unmark_partial(&out);
        }
        drop(out);
        rename(&part, &file).map_err(io_err)?;
        Ok(record)
    });
    match finished {
        Ok((size, mtime)) => Ok(Saved { size, mtime, body }),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

/// Gives the written `.part` the server's time and its record (before it takes its name,
/// so the two appear together); returns the size and time recorded.
fn finish(
    to: &Saving<'_>,
    resp: &Response,
    out: &File,
    content_type: &str,
    resume: Option<u64>,
    written: u64,
) -> io::Result<(u64, u64)> {
    let modified = httpdate::parse_http_date(&header(resp, "last-modified")).ok();
    if let Some(t) = modified {
        out.set_modified(t)?;
    }
    // A new file's size and time are known without asking: its bytes, the server's time.
    let (size, mtime) = match (resume, modified) {
        (None, Some(t)) => (written, state::seconds(t)),
        _ => {
            let meta = out.metadata()?;
            (meta.len(), meta.modified().map_or(0, state::seconds))
        }
    };
    let record = state::Record {
        etag: header(resp, "etag"),
        size,
        mtime,
        content_type: content_type.to_string(),
    };
    if let Err(e) = state::save(to.root, to.rel, out, &record) {
        (to.warn)(&format!(
            "fetch: warning: cannot keep the ETag of {}: {}",
            to.rel.display(),
            shared::io_words(&e)
        ));
    }
    Ok((size, mtime))
}

/// Gives the `.part` its name. A folder of that name (a path the site uses both as a
/// file and as a folder) is said in words.
fn rename(part: &Path, file: &Path) -> io::Result<()> {
    std::fs::rename(part, file).map_err(|e| {
        if std::fs::symlink_metadata(file).is_ok_and(|m| m.is_dir()) {
            io::Error::other("a folder is in the way")
        } else {
            e
        }
    })
}

/// The resumable mark of a `.part` being written: set once it holds [`MARK_FROM`] bytes,
/// or when it is cut off.
struct Mark {
    /// The validator to mark with; none: the response cannot be resumed.
    validator: Option<String>,
    /// The mark is on the `.part`.
    done: bool,
}

impl Mark {
    /// Marks `out` now, if it can be; whether it is marked.
    fn now(&mut self, out: &File) -> bool {
        if !self.done {
            self.done = self
                .validator
                .as_deref()
                .is_some_and(|v| state::mark_partial(out, v).is_ok());
        }
        self.done
    }
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

/// Runs `f` with this thread's copy buffer: one for all its files, as a zeroed 64 KiB
/// for each of a site's thousand small files was measurable.
fn with_buffer<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 * 1024]);
    }
    BUF.with_borrow_mut(|buf| f(buf))
}

/// Copies the body into `out` through `buf`, adding to `to.total` as it goes, marking the
/// `.part` resumable once it is large, and keeping the body in `body` while it fits
/// `to.keep`; returns the bytes written.
fn copy(
    buf: &mut [u8],
    resp: &mut Response,
    out: &mut File,
    to: &Saving<'_>,
    mark: &mut Mark,
    body: &mut Option<Vec<u8>>,
) -> Result<u64, Error> {
    let mut written = 0u64;
    loop {
        let n = resp.read_body(buf)?;
        if n == 0 {
            return Ok(written);
        }
        out.write_all(&buf[..n]).map_err(|e| Error::Write {
            what: "a file of the mirror".into(),
            reason: shared::io_words(&e),
        })?;
        written += n as u64;
        if written >= MARK_FROM {
            mark.now(out);
        }
        if let Some(kept) = body {
            if kept.len() + n <= to.keep {
                kept.extend_from_slice(&buf[..n]);
            } else {
                *body = None;
            }
        }
        to.total.fetch_add(n as u64, Ordering::Relaxed);
        to.bar.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_in_the_way_is_said_in_words_and_the_part_is_left_to_remove() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("a.part");
        let file = dir.path().join("a");
        std::fs::write(&part, "body").unwrap();
        std::fs::create_dir(&file).unwrap();
        std::fs::write(file.join("inside"), "x").unwrap();
        let e = rename(&part, &file).unwrap_err();
        assert_eq!(e.to_string(), "a folder is in the way");
        assert!(file.join("inside").exists(), "the folder is untouched");
        std::fs::remove_dir_all(&file).unwrap();
        rename(&part, &file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"body");
    }
}
