//! What a mirror remembers between runs about each file: the ETag and the `Content-Type` it
//! came with (the type finds the links of an unchanged page whatever its name), and the
//! size and time the file had when saved. The file's own time is the server's
//! `Last-Modified`, so that needs no record.
//!
//! Where: an extended attribute of the file itself (`user.fetch.mirror`), set on the open
//! `.part` before its rename, so the record and the bytes it describes appear together
//! and go together (a file deleted or replaced by hand takes its record with it). It costs
//! no file of its own: creating files is most of what a first run spends in the kernel, and
//! a sidecar file per file doubled it. Where the file system has no user attributes, the
//! record is a small file at the same relative path under `DIR/.fetch-mirror/`, replaced
//! atomically. A copy that lost its attributes (`cp` without `-a`) loses nothing but
//! the ETags: the next run asks `If-Modified-Since` from the files' times instead.
//!
//! A record names the size and time the file had when saved: a file changed since (edited
//! in place, or by a run cut off at the wrong moment) does not get the old ETag sent.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::io::Errno;

use super::local::{self, STATE_DIR};

/// The attribute's name.
const XATTR: &str = "user.fetch.mirror";
/// The longest record read back (an ETag is at most a header line).
const MAX_RECORD: usize = 16 * 1024;

/// One file's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The `ETag`, as the server sent it; empty when it sent none.
    pub etag: String,
    /// The file's size when saved.
    pub size: u64,
    /// The file's modification time when saved, in whole seconds since the epoch.
    pub mtime: u64,
    /// The `Content-Type` it came with (to find links again after a 304).
    pub content_type: String,
}

impl Record {
    fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n",
            self.etag, self.size, self.mtime, self.content_type
        )
    }

    fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        Some(Record {
            etag: lines.next()?.to_string(),
            size: lines.next()?.parse().ok()?,
            mtime: lines.next()?.parse().ok()?,
            content_type: lines.next().unwrap_or("").to_string(),
        })
    }
}

/// Where the record of `rel` lives when the file system takes no attributes.
pub fn path(root: &Path, rel: &Path) -> PathBuf {
    root.join(STATE_DIR).join(rel)
}

/// The record of the file `rel`, if it has one that still matches `meta` (its metadata).
pub fn load(root: &Path, rel: &Path, meta: &std::fs::Metadata) -> Option<Record> {
    let text =
        attribute(&root.join(rel)).or_else(|| std::fs::read_to_string(path(root, rel)).ok())?;
    let r = Record::parse(&text)?;
    (r.size == meta.len() && r.mtime == seconds(meta.modified().ok()?)).then_some(r)
}

/// Whether fetch wrote the file `rel` (it has a record, matching or not).
pub fn written_by_fetch(root: &Path, rel: &Path) -> bool {
    attribute(&root.join(rel)).is_some() || path(root, rel).is_file()
}

/// The attribute of `file` (never through a symlink), as text.
fn attribute(file: &Path) -> Option<String> {
    let mut buf = vec![0u8; MAX_RECORD];
    let n = rustix::fs::lgetxattr(file, XATTR, &mut buf[..]).ok()?;
    String::from_utf8(buf[..n].to_vec()).ok()
}

/// Records `r` for the file `rel`, open as `file` (before its rename): in its attribute,
/// else beside it.
pub fn save(root: &Path, rel: &Path, file: &File, r: &Record) -> io::Result<()> {
    let text = r.text();
    match rustix::fs::fsetxattr(
        file,
        XATTR,
        text.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    ) {
        Ok(()) => Ok(()),
        // No user attributes here (some file systems, or none allowed): a file beside it.
        Err(Errno::NOTSUP | Errno::PERM) => save_beside(root, rel, &text),
        Err(e) => Err(e.into()),
    }
}

/// The record as a file under `DIR/.fetch-mirror/`, written atomically.
fn save_beside(root: &Path, rel: &Path, text: &str) -> io::Result<()> {
    let state = root.join(STATE_DIR);
    match std::fs::create_dir(&state) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    if !std::fs::symlink_metadata(&state)?.is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a folder",
            state.display()
        )));
    }
    let file = local::make_parents(&state, rel)?;
    let (part, mut out) = local::new_part(&file)?;
    io::Write::write_all(&mut out, text.as_bytes())?;
    std::fs::rename(&part, &file)
}

/// The attribute of a `.part` being written: the validator of the response it holds the
/// start of (`resume::validator`: a strong ETag, else Last-Modified), sent as `If-Range`
/// when a later run asks for the rest.
const PARTIAL: &str = "user.fetch.partial";

/// Marks the `.part` open as `file` with the validator of the response being written.
/// Where attributes cannot be set, the `.part` cannot be resumed (it is started over).
pub fn mark_partial(file: &File, validator: &str) -> io::Result<()> {
    rustix::fs::fsetxattr(
        file,
        PARTIAL,
        validator.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )?;
    Ok(())
}

/// Takes the mark off a `.part` that is complete, before it takes the file's name.
pub fn unmark_partial(file: &File) {
    let _ = rustix::fs::fremovexattr(file, PARTIAL);
}

/// The validator of the `.part` at `part` (never through a symlink), if it has one.
pub fn partial(part: &Path) -> Option<String> {
    let mut buf = vec![0u8; MAX_RECORD];
    let n = rustix::fs::lgetxattr(part, PARTIAL, &mut buf[..]).ok()?;
    String::from_utf8(buf[..n].to_vec())
        .ok()
        .filter(|v| !v.is_empty())
}

/// Whole seconds since the epoch (0 before it).
pub fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_keeps_the_validator_it_can_be_resumed_with() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("a.part");
        let file = File::create(&part).unwrap();
        assert_eq!(partial(&part), None);
        if mark_partial(&file, "\"x\"").is_err() {
            return; // no user attributes here: nothing to resume with
        }
        assert_eq!(partial(&part).as_deref(), Some("\"x\""));
        unmark_partial(&file);
        assert_eq!(partial(&part), None);
    }

    fn record_for(file: &Path) -> Record {
        let meta = std::fs::metadata(file).unwrap();
        Record {
            etag: "\"abc\"".into(),
            size: meta.len(),
            mtime: seconds(meta.modified().unwrap()),
            content_type: "text/html".into(),
        }
    }

    #[test]
    fn a_record_counts_only_while_the_file_is_as_saved() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let rel = Path::new("h/a b.html");
        let file = local::make_parents(root, rel).unwrap();
        std::fs::write(&file, "hello").unwrap();
        let r = record_for(&file);
        save(root, rel, &File::open(&file).unwrap(), &r).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(load(root, rel, &meta), Some(r));
        assert!(written_by_fetch(root, rel));
        std::fs::write(&file, "changed").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(load(root, rel, &meta), None);
        assert!(!written_by_fetch(root, Path::new("h/other")));
    }

    #[test]
    fn the_file_beside_serves_where_attributes_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let rel = Path::new("h/x.css");
        let file = local::make_parents(root, rel).unwrap();
        std::fs::write(&file, "body{}").unwrap();
        let r = record_for(&file);
        save_beside(root, rel, &r.text()).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(load(root, rel, &meta), Some(r));
        assert!(written_by_fetch(root, rel));
    }
}
