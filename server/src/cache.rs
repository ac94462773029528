//! Small files kept in memory: bytes, metadata, validators and content type, so that a hit
//! costs no open, fstat, read or close.
//!
//! Never stale. An entry is trusted in one of two ways:
//!
//! - **Watched** (the usual case, [`Watched`]): when the entry is made, inotify watches its
//!   file and every folder on its path from the root, then one `statx` checks that the file
//!   is still the version read (so an edit made before the watches existed is not missed).
//!   From then on any change that could alter the answer — the file written, truncated,
//!   its attributes changed, renamed or removed, another file renamed over it, a folder on
//!   its path renamed or removed, a precompressed sibling (`FILE.br`, `FILE.gz`) appearing —
//!   queues an event before the system call that made it returns. A hit first asks whether
//!   that queue is empty (`FIONREAD`: a quarter of a `statx`, and the folder needs no look
//!   of its own); when it is not, the queue is read and every entry an event touches is
//!   dropped. The request being answered was read from its socket before that look, so an
//!   edit finished before the client sent it is always seen.
//! - **Revalidated** (when a watch cannot be had: no inotify, the per-user watch limit
//!   reached, a file system whose changes inotify does not see, a symlink on the path):
//!   every use first revalidates the entry with one `statx` of the file beneath the root (no
//!   symlink followed at the end). A different inode, device, size, modification time or
//!   change time drops the entry, and the file is read afresh. The change time is the one a
//!   writer cannot set back, and since Linux 6.13 it is fine-grained once someone has looked
//!   at it (multigrain timestamps): an edit right after the entry was made still shows.
//!
//! Not seen by either: a file system mounted over a folder on the path after the entry was
//! made (no event is queued for a mount) by a watched entry.
//!
//! A file with no precompressed sibling (`FILE.br`, `FILE.gz`) also answers requests that
//! accept those codings (every browser's). A revalidated entry pays one more `statx`, of its
//! folder: the entry remembers the folder's version when the siblings were found absent
//! ([`Folder`]), and adding, removing or renaming a name in a folder changes its
//! modification and change times. A folder changed less than [`SETTLED`] before it was
//! looked at is not trusted (a name added within the same clock tick would not show); such
//! requests look for the siblings on disk, as every one did before.
//!
//! Bounded: files up to [`MAX_FILE`] bytes, [`MAX_ENTRIES`] entries and [`MAX_BYTES`] bytes in
//! all; a full cache drops entries to make room (and their watches with them).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::inotify::{self, ReadFlags, WatchFlags};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, StatxFlags};

use crate::http::conditional::Validators;

/// Files larger than this are sent from disk (by sendfile), never cached.
pub(crate) const MAX_FILE: u64 = 32 * 1024;
/// At most this many files are cached.
pub(crate) const MAX_ENTRIES: usize = 1024;
/// At most this many bytes of files are cached in all.
pub(crate) const MAX_BYTES: usize = 4 * 1024 * 1024;
/// A folder's version is trusted only when it last changed at least this long before it was
/// read: file systems stamp times in ticks (a jiffy; two seconds on FAT), and a name added
/// in the tick the folder was read would leave its times as they were.
pub(crate) const SETTLED: Duration = Duration::from_secs(2);

/// One cached file.
#[derive(Debug)]
pub(crate) struct Entry {
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
    /// Its watches (empty: revalidated by `statx` on every use instead).
    watches: Vec<Watch>,
}

/// One watch an entry relies on, and which of the watched object's events concern it.
#[derive(Debug, Clone)]
struct Watch {
    wd: i32,
    /// `None`: the file itself (every event counts). `Some(name)`: a folder on the path, and
    /// the name in it that leads to the file (an event for another name does not count).
    leads_to: Option<OsString>,
    /// The folder holding the file: its siblings' names count too (`FILE.br`, `FILE.gz`).
    holds: bool,
}

impl Watch {
    /// True when an event on this watch, about `name` in a folder (or the watched object
    /// itself when `None`), may change the entry.
    fn touched_by(&self, name: Option<&OsStr>) -> bool {
        match (&self.leads_to, name) {
            (None, _) | (_, None) => true,
            (Some(leads_to), Some(name)) => {
                name == leads_to.as_os_str()
                    || (self.holds && name.as_bytes().starts_with(leads_to.as_bytes()))
            }
        }
    }
}

/// A folder's version, as far as the names in it go: adding, removing or renaming one
/// changes its modification and change times (and the change time cannot be set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Folder {
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
    pub(crate) fn rel(&self) -> &Path {
        &self.rel
    }

    /// The file version these bytes are, as the digests are keyed.
    pub(crate) fn version(&self) -> crate::repr_digest::Key {
        let s = &self.stamp;
        crate::repr_digest::Key::new(s.dev, s.ino, s.size, s.mtime)
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
pub(crate) struct Cache {
    /// The root, opened for lookups beneath it; `None` disables the cache.
    dir: Option<OwnedFd>,
    /// The inotify side; `None`: every entry is revalidated by `statx`.
    watcher: Option<Watched>,
    map: RwLock<Map>,
}

/// The inotify queue that says which entries may have changed.
///
/// A hit only asks how many bytes are queued (`FIONREAD`), which takes no lock and leaves
/// the queue as it is: zero means nothing changed. Reading the queue and dropping what it
/// names is done under `state`, with `busy` set from before the read until the entries are
/// gone, so a hit that finds the queue empty because another worker has just read it sees
/// `busy` and waits for that worker instead of answering from an entry about to go.
#[derive(Debug)]
struct Watched {
    /// The inotify descriptor (non-blocking).
    fd: OwnedFd,
    busy: AtomicBool,
    /// Lock order: this, then the cache's `map`.
    state: Mutex<Watcher>,
}

/// The watches, and who relies on them.
#[derive(Debug)]
struct Watcher {
    /// The canonical root, to name what to watch.
    root: PathBuf,
    /// How many entries rely on each watch: one no entry relies on is removed.
    uses: HashMap<i32, usize>,
}

/// What a file's watch reports: any change to its bytes or attributes, and it going away or
/// moving (the name then leads elsewhere).
fn file_mask() -> WatchFlags {
    WatchFlags::MODIFY
        | WatchFlags::ATTRIB
        | WatchFlags::CLOSE_WRITE
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVE_SELF
        | WatchFlags::DONT_FOLLOW
}

/// What a folder's watch reports: names coming, going or changing attributes (a folder on
/// the path made unreadable), and the folder itself going away or moving.
fn folder_mask() -> WatchFlags {
    WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::ATTRIB
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVE_SELF
        | WatchFlags::ONLYDIR
        | WatchFlags::DONT_FOLLOW
}

/// File systems whose every change goes through this kernel, so inotify sees it: ext2/3/4,
/// XFS, Btrfs, tmpfs, F2FS, bcachefs. Elsewhere (NFS, FUSE, SMB, overlay stacks whose lower
/// layers may change beneath them) entries are revalidated by `statx`.
fn sees_every_change(path: &Path) -> bool {
    const LOCAL: [i64; 6] = [
        0xEF53,      // ext2/3/4
        0x5846_5342, // XFS
        0x9123_683E, // Btrfs
        0x0102_1994, // tmpfs
        0xF2F5_2010, // F2FS
        0xCA45_1A4E, // bcachefs
    ];
    // `f_type` is an i64 here, narrower on some architectures.
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::statfs(path).is_ok_and(|fs| LOCAL.contains(&(fs.f_type as i64)))
}

impl Watched {
    fn new(root: &Path) -> Option<Watched> {
        if !sees_every_change(root) {
            return None;
        }
        let fd =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK).ok()?;
        Some(Watched {
            fd,
            busy: AtomicBool::new(false),
            state: Mutex::new(Watcher {
                root: root.to_path_buf(),
                uses: HashMap::new(),
            }),
        })
    }

    /// Makes sure no entry changed since before this call is still in `map`: one
    /// `FIONREAD` when nothing changed, else the queue is read and what it names dropped.
    fn settle(&self, map: &RwLock<Map>) {
        let queued = rustix::io::ioctl_fionread(&self.fd).unwrap_or(1);
        // SeqCst: this load comes after the FIONREAD above, and `busy` is set before the
        // queue is read (below), so an empty queue seen while a read is under way is told.
        if queued == 0 && !self.busy.load(Ordering::SeqCst) {
            return;
        }
        let mut state = self.lock();
        self.busy.store(true, Ordering::SeqCst);
        state.drain(self.fd.as_fd(), map);
        self.busy.store(false, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, Watcher> {
        // A panic while holding it leaves at worst a watch too many, or an entry dropped.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Watcher {
    /// Watches the file `rel` (under the root) and every folder from the root down to it.
    /// `None` when one watch cannot be had (the caller then revalidates by `statx`).
    fn watch(&mut self, fd: BorrowedFd<'_>, rel: &Path) -> Option<Vec<Watch>> {
        let names: Vec<&OsStr> = rel
            .components()
            .map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let full = self.root.join(rel);
        if names.is_empty() || !sees_every_change(&full) {
            return None;
        }
        let mut watches = Vec::with_capacity(names.len() + 1);
        let mut folder = self.root.clone();
        for (i, name) in names.iter().enumerate() {
            let watch = inotify::add_watch(fd, &folder, folder_mask()).ok();
            let Some(wd) = watch else {
                self.release(fd, &watches);
                return None;
            };
            self.hold(wd);
            watches.push(Watch {
                wd,
                leads_to: Some(name.to_os_string()),
                holds: i + 1 == names.len(),
            });
            folder.push(name);
        }
        let Ok(wd) = inotify::add_watch(fd, &full, file_mask()) else {
            self.release(fd, &watches);
            return None;
        };
        self.hold(wd);
        watches.push(Watch {
            wd,
            leads_to: None,
            holds: false,
        });
        Some(watches)
    }

    fn hold(&mut self, wd: i32) {
        *self.uses.entry(wd).or_default() += 1;
    }

    /// Gives up an entry's watches; one nothing relies on any more is removed.
    fn release(&mut self, fd: BorrowedFd<'_>, watches: &[Watch]) {
        for w in watches {
            if let Some(n) = self.uses.get_mut(&w.wd) {
                *n -= 1;
                if *n == 0 {
                    self.uses.remove(&w.wd);
                    let _ = inotify::remove_watch(fd, w.wd);
                }
            }
        }
    }

    /// Reads every queued event and drops the entries they touch.
    fn drain(&mut self, fd: BorrowedFd<'_>, map: &RwLock<Map>) {
        // (watch, name in a folder or None): what changed.
        let mut touched: Vec<(i32, Option<OsString>)> = Vec::new();
        let mut everything = false;
        let read = crate::watch::inotify::read_events(fd, |wd, flags, name| {
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                everything = true;
            } else {
                touched.push((wd, name.map(OsStr::to_os_string)));
            }
        });
        // Events may be left unread: drop every watched entry, as if everything changed.
        everything |= read.is_err();
        if touched.is_empty() && !everything {
            return;
        }
        let mut map = lock_write(map);
        let gone: Vec<String> = map
            .entries
            .iter()
            .filter(|(_, e)| {
                !e.watches.is_empty()
                    && (everything
                        || e.watches.iter().any(|w| {
                            touched
                                .iter()
                                .any(|(wd, name)| *wd == w.wd && w.touched_by(name.as_deref()))
                        }))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            if let Some(old) = map.entries.remove(&key) {
                map.bytes -= old.bytes.len();
                self.release(fd, &old.watches);
            }
        }
    }
}

fn lock_write(map: &RwLock<Map>) -> std::sync::RwLockWriteGuard<'_, Map> {
    map.write().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

impl Cache {
    /// A cache for files under the canonical folder `root` (disabled if it cannot be opened).
    pub(crate) fn new(root: &Path) -> Cache {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(root, flags, Mode::empty()).ok();
        Cache {
            watcher: dir.as_ref().and_then(|_| Watched::new(root)),
            dir,
            map: RwLock::default(),
        }
    }

    /// The entry for URL path `key`, if cached and unchanged on disk: a look at the inotify
    /// queue (`FIONREAD`), and for an entry that is not watched, one `statx`.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Entry>> {
        let dir = self.dir.as_ref()?;
        // First the queue, then the map: an entry found after the queue said nothing changed
        // is one no change made before this call has dropped.
        if let Some(watched) = &self.watcher {
            watched.settle(&self.map);
        }
        let entry = {
            let map = self.map.read().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entries.get(key)?)
        };
        if !entry.watches.is_empty() {
            return Some(entry);
        }
        let fresh = self.stamp_now(dir, &entry.rel) == Some(entry.stamp);
        if fresh {
            return Some(entry);
        }
        let mut map = lock_write(&self.map);
        if map.entries.get(key).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
            map.entries.remove(key);
            map.bytes -= entry.bytes.len();
        }
        None
    }

    /// The file `rel` (under the root) as it is now, if it is a regular file (one `statx`).
    fn stamp_now(&self, dir: &OwnedFd, rel: &Path) -> Option<Stamp> {
        let st =
            rustix::fs::statx(dir, rel, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS).ok()?;
        (FileType::from_raw_mode(st.stx_mode.into()) == FileType::RegularFile).then_some(Stamp {
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            size: st.stx_size,
            mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
            ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
        })
    }

    /// True when `entry` (just returned by [`Cache::get`]) is known to have no precompressed
    /// sibling now: for a watched entry, a sibling appearing would have dropped it; for
    /// another, its folder is the version at which none was found (one `statx`).
    pub(crate) fn bare(&self, entry: &Entry) -> bool {
        entry.bare.is_some_and(|then| {
            !entry.watches.is_empty() || self.folder_now(&entry.rel) == Some(then)
        })
    }

    /// The version of the folder holding `path` (a file under `root`), when it can be
    /// trusted to change if a name is added to it from now on; take it before looking for
    /// the names, and pass it to [`Cache::insert`] if none was there.
    pub(crate) fn folder(&self, root: &Path, path: &Path) -> Option<Folder> {
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
    pub(crate) fn takes(&self, len: u64) -> bool {
        self.dir.is_some() && len <= MAX_FILE
    }

    /// Caches `bytes`, the content of `path` (under `root`) read after `meta` was taken, for
    /// URL path `key`; `bare`: the folder's version at which the file had no precompressed
    /// sibling, if that was looked at. Returns the entry (also when it could not be kept).
    #[allow(clippy::too_many_arguments)] // Each is one fact about the file.
    pub(crate) fn insert(
        &self,
        key: &str,
        root: &Path,
        path: PathBuf,
        meta: Metadata,
        content_type: String,
        bytes: Vec<u8>,
        bare: Option<Folder>,
    ) -> Arc<Entry> {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let stamp = Stamp::of(&meta);
        let cacheable = self.dir.is_some() && !rel.as_os_str().is_empty() && !rel.is_absolute();
        // Watches first, then a look at the file (and the folder, if the entry is to be
        // bare): a change after the look queues an event, one before it shows here. The
        // watcher stays locked until the entry is in the map, so no event for it can be
        // read and dropped before it is there.
        let fd = self.watcher.as_ref().map(|w| w.fd.as_fd());
        let mut watcher = self
            .watcher
            .as_ref()
            .filter(|_| cacheable)
            .map(Watched::lock);
        let mut watches = Vec::new();
        if let (Some(w), Some(fd), Some(dir)) = (watcher.as_deref_mut(), fd, self.dir.as_ref())
            && let Some(got) = w.watch(fd, &rel)
        {
            let same_file = self.stamp_now(dir, &rel) == Some(stamp);
            let same_folder = bare.is_none_or(|then| self.folder_now(&rel) == Some(then));
            if same_file && same_folder {
                watches = got;
            } else {
                w.release(fd, &got);
            }
        }
        let validators = Validators::of(&meta);
        let entry = Arc::new(Entry {
            rel,
            stamp,
            bare,
            watches,
            last_modified: validators.last_modified(),
            validators,
            content_type,
            bytes,
        });
        if !cacheable {
            return entry;
        }
        let mut map = lock_write(&self.map);
        let size = entry.bytes.len();
        let mut dropped = Vec::new();
        if let Some(old) = map.entries.remove(key) {
            map.bytes -= old.bytes.len();
            dropped.push(old);
        }
        // Full: drop entries (whichever the map yields first) until this one fits.
        while map.entries.len() >= MAX_ENTRIES || map.bytes + size > MAX_BYTES {
            let Some(victim) = map.entries.keys().next().cloned() else {
                break;
            };
            if let Some(old) = map.entries.remove(&victim) {
                map.bytes -= old.bytes.len();
                dropped.push(old);
            }
        }
        map.bytes += size;
        map.entries.insert(key.to_string(), Arc::clone(&entry));
        if let (Some(w), Some(fd)) = (watcher.as_deref_mut(), fd) {
            for old in &dropped {
                w.release(fd, &old.watches);
            }
        }
        entry
    }

    /// A cache whose entries are all revalidated by `statx` (as where inotify cannot watch).
    #[cfg(test)]
    fn revalidating(root: &Path) -> Cache {
        Cache {
            watcher: None,
            ..Cache::new(root)
        }
    }

    /// How many files are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    /// True when nothing is cached.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
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
        let cache = Cache::revalidating(&root);
        assert!(put(&cache, &root, "a.txt").watches.is_empty());
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
        let cache = Cache::revalidating(&root);
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

    /// A watched cache in a fresh root holding `names` (each file's content is its name).
    fn watched(names: &[&str]) -> (tempfile::TempDir, PathBuf, Cache) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for name in names {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, name).unwrap();
        }
        let cache = Cache::new(&root);
        (dir, root, cache)
    }

    fn uses(cache: &Cache) -> usize {
        cache.watcher.as_ref().unwrap().lock().uses.len()
    }

    #[test]
    fn a_watched_entry_is_dropped_by_every_change_that_alters_the_answer() {
        let (_dir, root, cache) = watched(&["d/e/a.txt", "d/e/b.txt"]);
        if cache.watcher.is_none() {
            return; // This file system is not one inotify sees every change of.
        }
        let again = |cache: &Cache| {
            put(cache, &root, "d/e/a.txt");
            assert!(cache.get("/d/e/a.txt").is_some(), "cached and unchanged");
        };
        let entry = put(&cache, &root, "d/e/a.txt");
        assert_eq!(entry.watches.len(), 4, "the root, d, e and the file");
        // Written in place, same length and within the same clock tick as it may be.
        std::fs::write(root.join("d/e/a.txt"), "D/E/A.TXT").unwrap();
        assert!(cache.get("/d/e/a.txt").is_none(), "written in place");
        again(&cache);
        std::fs::rename(root.join("d/e/b.txt"), root.join("d/e/a.txt")).unwrap();
        assert!(
            cache.get("/d/e/a.txt").is_none(),
            "another file renamed over it"
        );
        again(&cache);
        std::fs::rename(root.join("d"), root.join("old")).unwrap();
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/e/a.txt"), "d/e/a.txt").unwrap();
        assert!(
            cache.get("/d/e/a.txt").is_none(),
            "a folder on its path replaced"
        );
        again(&cache);
        std::fs::write(root.join("d/e/a.txt.br"), "x").unwrap();
        assert!(
            cache.get("/d/e/a.txt").is_none(),
            "a precompressed sibling appeared"
        );
        again(&cache);
        std::fs::remove_file(root.join("d/e/a.txt")).unwrap();
        assert!(cache.get("/d/e/a.txt").is_none(), "removed");
        assert!(cache.is_empty());
        assert_eq!(uses(&cache), 0, "no watch is left behind");
    }

    #[test]
    fn a_watched_entry_outlives_changes_that_do_not_concern_it() {
        let (_dir, root, cache) = watched(&["d/a.txt", "d/b.txt", "c.txt"]);
        if cache.watcher.is_none() {
            return;
        }
        put(&cache, &root, "d/a.txt");
        std::fs::write(root.join("d/b.txt"), "changed").unwrap();
        std::fs::write(root.join("c.txt"), "changed").unwrap();
        std::fs::write(root.join("new.txt"), "new").unwrap();
        std::fs::create_dir(root.join("d/sub")).unwrap();
        let hit = cache.get("/d/a.txt").expect("still cached");
        assert_eq!(hit.bytes, b"d/a.txt");
        assert!(!hit.watches.is_empty());
    }

    #[test]
    fn an_edit_between_the_read_and_the_insert_is_not_trusted() {
        let (_dir, root, cache) = watched(&["a.txt"]);
        let path = root.join("a.txt");
        let meta = std::fs::metadata(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, "longer than before").unwrap();
        let ct = String::from("text/plain");
        let entry = cache.insert("/a.txt", &root, path, meta, ct, bytes, None);
        assert!(entry.watches.is_empty(), "not watched");
        assert!(
            cache.get("/a.txt").is_none(),
            "revalidated, and found changed"
        );
        if cache.watcher.is_some() {
            assert_eq!(uses(&cache), 0);
        }
    }

    #[test]
    fn evicted_entries_give_their_watches_back() {
        let names: Vec<String> = (0..MAX_ENTRIES + 50).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (_dir, root, cache) = watched(&refs);
        if cache.watcher.is_none() {
            return;
        }
        for name in &names {
            put(&cache, &root, name);
        }
        // Exactly the watches the cached entries rely on (one per file, plus the root's,
        // unless the kernel's watch limit left some entries to `statx`).
        let relied_on: std::collections::HashSet<i32> = cache
            .map
            .read()
            .unwrap()
            .entries
            .values()
            .flat_map(|e| e.watches.iter().map(|w| w.wd))
            .collect();
        assert!(!relied_on.is_empty());
        assert_eq!(uses(&cache), relied_on.len());
        assert!(cache.len() <= MAX_ENTRIES);
    }
}
