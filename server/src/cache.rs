//! Small files kept in memory: bytes, metadata, validators and content type, so that a hit
//! costs no open, fstat, read or close.
//!
//! Never stale: every use first revalidates the entry with one `statx` of the file beneath
//! the root (no symlink followed at the end). A different inode, device, size, modification
//! time or change time drops the entry, and the file is read afresh. The change time is the
//! one a writer cannot set back, and since Linux 6.13 it is fine-grained once someone has
//! looked at it (multigrain timestamps): an edit right after the entry was made still shows.
//!
//! A file with no precompressed sibling (`FILE.br`, `FILE.gz`) also answers requests that
//! accept those codings (every browser's), at the price of one more `statx`, of its folder:
//! the entry remembers the folder's version when the siblings were found absent
//! ([`Folder`]), and adding, removing or renaming a name in a folder changes its
//! modification and change times. A folder changed less than [`SETTLED`] before it was
//! looked at is not trusted (a name added within the same clock tick would not show); such
//! requests look for the siblings on disk, as every one did before.
//!
//! Bounded: files up to [`MAX_FILE`] bytes, [`MAX_ENTRIES`] entries and [`MAX_BYTES`] bytes in
//! all; a full cache drops entries to make room.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, StatxFlags};

use crate::conditional::Validators;

/// Files larger than this are sent from disk (by sendfile), never cached.
pub const MAX_FILE: u64 = 32 * 1024;
/// At most this many files are cached.
pub const MAX_ENTRIES: usize = 1024;
/// At most this many bytes of files are cached in all.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// A folder's version is trusted only when it last changed at least this long before it was
/// read: file systems stamp times in ticks (a jiffy; two seconds on FAT), and a name added
/// in the tick the folder was read would leave its times as they were.
pub const SETTLED: Duration = Duration::from_secs(2);

/// One cached file.
#[derive(Debug)]
pub struct Entry {
    /// Its validators, made once.
    pub validators: Validators,
    /// `Last-Modified`, made once.
    pub last_modified: Option<String>,
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its path relative to the root, for revalidation.
    rel: PathBuf,
    stamp: Stamp,
    /// The version of its folder at which it had no precompressed sibling, if known.
    bare: Option<Folder>,
}

/// A folder's version, as far as the names in it go: adding, removing or renaming one
/// changes its modification and change times (and the change time cannot be set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Folder {
    dev: u64,
    ino: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

/// What revalidation compares: any change to the file changes one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl Entry {
    /// Its path relative to the root.
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    /// The file version these bytes are, as the digests are keyed.
    pub fn digest_key(&self) -> crate::digest::Key {
        let s = &self.stamp;
        crate::digest::Key::new(s.dev, s.ino, s.size, s.mtime)
    }
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec() as u32),
            ctime: (meta.ctime(), meta.ctime_nsec() as u32),
        }
    }
}

/// The cache of one site. [`Cache::default`] is an empty, disabled one.
#[derive(Debug, Default)]
pub struct Cache {
    /// The root, opened for lookups beneath it; `None` disables the cache.
    dir: Option<OwnedFd>,
    map: RwLock<Map>,
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

impl Cache {
    /// A cache for files under the canonical folder `root` (disabled if it cannot be opened).
    pub fn new(root: &Path) -> Cache {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Cache {
            dir: rustix::fs::open(root, flags, Mode::empty()).ok(),
            map: RwLock::default(),
        }
    }

    /// The entry for URL path `key`, if cached and unchanged on disk (one `statx`).
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        let dir = self.dir.as_ref()?;
        let entry = {
            let map = self.map.read().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entries.get(key)?)
        };
        let now = rustix::fs::statx(
            dir,
            &entry.rel,
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::BASIC_STATS,
        );
        let fresh = now.is_ok_and(|st| {
            FileType::from_raw_mode(st.stx_mode.into()) == FileType::RegularFile
                && Stamp {
                    dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
                    ino: st.stx_ino,
                    size: st.stx_size,
                    mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
                    ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
                } == entry.stamp
        });
        if fresh {
            return Some(entry);
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.entries.get(key).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
            map.entries.remove(key);
            map.bytes -= entry.bytes.len();
        }
        None
    }

    /// True when `entry` is known to have no precompressed sibling now: its folder is the
    /// version at which none was found (one `statx`).
    pub fn bare(&self, entry: &Entry) -> bool {
        entry
            .bare
            .is_some_and(|then| self.folder_now(&entry.rel) == Some(then))
    }

    /// The version of the folder holding `path` (a file under `root`), when it can be
    /// trusted to change if a name is added to it from now on; take it before looking for
    /// the names, and pass it to [`Cache::insert`] if none was there.
    pub fn folder(&self, root: &Path, path: &Path) -> Option<Folder> {
        let rel = path.strip_prefix(root).ok()?;
        let read_at = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        let folder = self.folder_now(rel)?;
        // Both times: the modification time can be set back, the change time cannot.
        let settled = |(secs, nanos): (i64, u32)| {
            u64::try_from(secs)
                .is_ok_and(|secs| Duration::new(secs, nanos).saturating_add(SETTLED) <= read_at)
        };
        (settled(folder.mtime) && settled(folder.ctime)).then_some(folder)
    }

    /// The version of the folder holding `rel` now (one `statx`).
    fn folder_now(&self, rel: &Path) -> Option<Folder> {
        let dir = self.dir.as_ref()?;
        let parent = match rel.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let st = rustix::fs::statx(
            dir,
            parent,
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::BASIC_STATS,
        )
        .ok()?;
        (FileType::from_raw_mode(st.stx_mode.into()) == FileType::Directory).then_some(Folder {
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
            ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
        })
    }

    /// True when a file of `len` bytes would be cached.
    pub fn takes(&self, len: u64) -> bool {
        self.dir.is_some() && len <= MAX_FILE
    }

    /// Caches `bytes`, the content of `path` (under `root`) read after `meta` was taken, for
    /// URL path `key`; `bare`: the folder's version at which the file had no precompressed
    /// sibling, if that was looked at. Returns the entry (also when it could not be kept).
    #[allow(clippy::too_many_arguments)] // Each is one fact about the file.
    pub fn insert(
        &self,
        key: &str,
        root: &Path,
        path: PathBuf,
        meta: Metadata,
        content_type: String,
        bytes: Vec<u8>,
        bare: Option<Folder>,
    ) -> Arc<Entry> {
        let validators = Validators::of(&meta);
        let entry = Arc::new(Entry {
            rel: path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
            stamp: Stamp::of(&meta),
            bare,
            last_modified: validators.last_modified(),
            validators,
            content_type,
            bytes,
        });
        if self.dir.is_none() || entry.rel.as_os_str().is_empty() || entry.rel.is_absolute() {
            return entry;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        let size = entry.bytes.len();
        if let Some(old) = map.entries.remove(key) {
            map.bytes -= old.bytes.len();
        }
        // Full: drop entries (whichever the map yields first) until this one fits.
        while map.entries.len() >= MAX_ENTRIES || map.bytes + size > MAX_BYTES {
            let Some(victim) = map.entries.keys().next().cloned() else {
                break;
            };
            if let Some(old) = map.entries.remove(&victim) {
                map.bytes -= old.bytes.len();
            }
        }
        map.bytes += size;
        map.entries.insert(key.to_string(), Arc::clone(&entry));
        entry
    }

    /// How many files are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    /// True when nothing is cached.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(cache: &Cache, root: &Path, name: &str) -> Arc<Entry> {
        let path = root.join(name);
        let meta = std::fs::metadata(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        cache.insert(
            &format!("/{name}"),
            root,
            path,
            meta,
            "text/plain".into(),
            bytes,
            None,
        )
    }

    #[test]
    fn a_hit_is_revalidated_and_an_edit_drops_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.txt"), "one").unwrap();
        let cache = Cache::new(&root);
        put(&cache, &root, "a.txt");
        assert_eq!(cache.get("/a.txt").unwrap().bytes, b"one");
        // Same length, written at once: the change time (or size/mtime) still tells.
        std::fs::write(root.join("a.txt"), "two").unwrap();
        assert!(cache.get("/a.txt").is_none(), "an edited file is a miss");
        assert!(cache.is_empty());
        put(&cache, &root, "a.txt");
        std::fs::remove_file(root.join("a.txt")).unwrap();
        assert!(cache.get("/a.txt").is_none(), "a removed file is a miss");
        assert!(cache.get("/never").is_none());
    }

    #[test]
    fn a_folder_is_trusted_only_when_settled_and_a_replaced_one_is_not_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "one").unwrap();
        let cache = Cache::new(&root);
        // Changed "later than now" (a time set ahead): never trusted, however long it sat.
        let ahead = SystemTime::now() + Duration::from_secs(3600);
        std::fs::File::open(root.join("sub"))
            .unwrap()
            .set_modified(ahead)
            .unwrap();
        assert!(cache.folder(&root, &root.join("sub/a.txt")).is_none());
        // As if it had settled: the entry is bare while the folder stays the same one.
        let then = cache.folder_now(Path::new("sub/a.txt"));
        assert!(then.is_some());
        let path = root.join("sub/a.txt");
        let meta = std::fs::metadata(&path).unwrap();
        let ct = String::from("text/plain");
        let entry = cache.insert("/s", &root, path, meta, ct, b"one".to_vec(), then);
        assert!(cache.bare(&entry));
        // Another folder in its place (another inode): not the version the entry knew.
        std::fs::rename(root.join("sub"), root.join("old")).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        assert!(!cache.bare(&entry), "a replaced folder");
        std::fs::write(root.join("a.txt"), "one").unwrap();
        assert!(
            !cache.bare(&put(&cache, &root, "a.txt")),
            "siblings never looked for"
        );
    }

    #[test]
    fn stays_within_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let big = vec![b'x'; MAX_FILE as usize];
        for i in 0..(MAX_BYTES / big.len() + 10) {
            std::fs::write(root.join(format!("{i}")), &big).unwrap();
        }
        let cache = Cache::new(&root);
        for i in 0..(MAX_BYTES / big.len() + 10) {
            put(&cache, &root, &format!("{i}"));
        }
        let map = cache.map.read().unwrap();
        assert!(map.bytes <= MAX_BYTES && map.entries.len() <= MAX_ENTRIES);
        assert_eq!(map.bytes, map.entries.len() * big.len());
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.txt"), "one").unwrap();
        let cache = Cache::default();
        put(&cache, &root, "a.txt");
        assert!(cache.get("/a.txt").is_none() && !cache.takes(1));
    }
}
