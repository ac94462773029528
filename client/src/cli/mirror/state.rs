//! What a mirror remembers between runs, beside the files: per file, the ETag and the
//! `Content-Type` it came with (the type finds the links of an unchanged page whatever its
//! name), in `DIR/.fetch-mirror/RELATIVE-PATH` (the same relative path as the file). The
//! file's own time is the server's `Last-Modified`, so that needs no record.
//!
//! Why files beside the tree, not one state file or extended attributes: memory stays
//! bounded whatever the site's size (nothing is loaded up front: one small read per file
//! checked), each record is replaced atomically like the file itself (`.part`, then
//! rename), so an interrupted run loses nothing; and it works on every file system and
//! survives `cp -r` and `tar`, which drop xattrs by default. A record says which size and
//! time the file had when it was saved: a file changed since (by hand, or by a run cut off
//! between the file and its record) does not get the old ETag sent for it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::local::{self, STATE_DIR};
use crate::cli::output::part_path;

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

/// Where the record of `rel` lives.
pub fn path(root: &Path, rel: &Path) -> PathBuf {
    root.join(STATE_DIR).join(rel)
}

/// The record of `rel`, if there is one that still matches the file `meta` describes.
pub fn load(root: &Path, rel: &Path, meta: &std::fs::Metadata) -> Option<Record> {
    let text = std::fs::read_to_string(path(root, rel)).ok()?;
    let mut lines = text.lines();
    let r = Record {
        etag: lines.next()?.to_string(),
        size: lines.next()?.parse().ok()?,
        mtime: lines.next()?.parse().ok()?,
        content_type: lines.next().unwrap_or("").to_string(),
    };
    (r.size == meta.len() && r.mtime == seconds(meta.modified().ok()?)).then_some(r)
}

/// Writes the record of `rel`, atomically.
pub fn save(root: &Path, rel: &Path, r: &Record) -> io::Result<()> {
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
    let part = part_path(&file);
    let _ = std::fs::remove_file(&part);
    let text = format!("{}\n{}\n{}\n{}\n", r.etag, r.size, r.mtime, r.content_type);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part)
        .and_then(|mut f| io::Write::write_all(&mut f, text.as_bytes()))?;
    std::fs::rename(&part, &file)
}

/// Whole seconds since the epoch (0 before it).
pub fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_counts_only_while_the_file_is_as_saved() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let rel = Path::new("h/a b.html");
        let file = local::make_parents(root, rel).unwrap();
        std::fs::write(&file, "hello").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        let r = Record {
            etag: "\"abc\"".into(),
            size: 5,
            mtime: seconds(meta.modified().unwrap()),
            content_type: "text/html".into(),
        };
        save(root, rel, &r).unwrap();
        assert_eq!(load(root, rel, &meta), Some(r));
        std::fs::write(&file, "changed").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(load(root, rel, &meta), None);
    }
}
