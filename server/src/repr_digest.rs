//! `Repr-Digest` (RFC 9530) for files: which algorithm a request wants (`Want-Repr-Digest`,
//! or `--digest`), and the digests themselves, computed once per file version and kept.
//!
//! A file version is its [`Key`]: device, inode, size and modification time to the
//! nanosecond, so a file changed on disk has a new key and an old digest is never sent for
//! it. Digests are kept in a bounded map (least recently used out first).
//!
//! Hashing never stalls the pool (ARCHITECTURE.md, decisions 2 and 3): a file up to
//! [`INLINE_MAX`] is hashed by the worker at once (it costs about what reading it does); a
//! larger one is handed to one background thread through a bounded queue (a duplicate of
//! the open descriptor, so the path is not looked up again), and the response goes out
//! without the field: the digest appears on the responses after it is known. A full queue
//! drops the job (a later request asks again). The file is checked again after hashing
//! (same key) before its digest is kept.

use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use shared::digest::{Algorithm, Item};

/// Files up to this size are hashed by the worker answering (1 MiB: about a millisecond).
pub(crate) const INLINE_MAX: u64 = 1 << 20;
/// Digests kept (each at most 64 bytes and its key: well under 1 MiB in all).
pub(crate) const CACHE_ENTRIES: usize = 4096;
/// Large files waiting for the hashing thread; beyond that, a request adds none.
pub(crate) const QUEUE: usize = 16;
/// Bytes read at a time while hashing.
const CHUNK: usize = 256 * 1024;

/// One version of a file: any change to it changes one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, u32),
}

impl Key {
    /// The version `meta` describes.
    pub(crate) fn of(meta: &Metadata) -> Key {
        Key::new(
            meta.dev(),
            meta.ino(),
            meta.size(),
            (meta.mtime(), meta.mtime_nsec() as u32),
        )
    }

    /// From the parts (the cache keeps them in its own stamp).
    pub(crate) fn new(dev: u64, ino: u64, size: u64, mtime: (i64, u32)) -> Key {
        Key {
            dev,
            ino,
            size,
            mtime,
        }
    }
}

/// The algorithm to send a `Repr-Digest` in, if any: the one `Want-Repr-Digest` prefers
/// among those we compute (weights 1 to 10; 0 means not acceptable; a tie goes to sha-256,
/// the cheaper), else with `--digest` (`always`) sha-256 unless the request refused it. A
/// field that does not parse is ignored (RFC 8941 §4.2).
pub(crate) fn wanted(want: Option<&str>, always: bool) -> Option<Algorithm> {
    let members = want
        .and_then(|w| shared::digest::dictionary(w.as_bytes()))
        .unwrap_or_default();
    let mut best: Option<(i64, Algorithm)> = None;
    let mut refused = Vec::new();
    for (key, item) in members {
        let (Some(a), Item::Integer(w)) = (Algorithm::from_token(&key), item) else {
            continue;
        };
        match w {
            0 => refused.push(a),
            1..=10 if best.is_none_or(|(bw, ba)| w > bw || (w == bw && a < ba)) => {
                best = Some((w, a));
            }
            _ => {}
        }
    }
    best.map(|(_, a)| a)
        .or_else(|| (always && !refused.contains(&Algorithm::Sha256)).then_some(Algorithm::Sha256))
}

/// The digests of one site's files, and the thread that computes the large ones.
#[derive(Default)]
pub(crate) struct Digests {
    known: Arc<Mutex<Known>>,
    // Started with the first large file; it ends when this (its only sender) is dropped.
    queue: OnceLock<SyncSender<Job>>,
}

impl std::fmt::Debug for Digests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = self.known.lock().map_or(0, |k| k.map.len());
        write!(f, "Digests({known} known)")
    }
}

#[derive(Default)]
struct Known {
    // The digest, and when it was last used (for eviction).
    map: HashMap<(Key, Algorithm), (Vec<u8>, u64)>,
    tick: u64,
    // Queued or being hashed: not queued twice.
    pending: HashSet<(Key, Algorithm)>,
}

impl Known {
    fn get(&mut self, id: &(Key, Algorithm)) -> Option<Vec<u8>> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(id).map(|(d, used)| {
            *used = tick;
            d.clone()
        })
    }

    fn put(&mut self, id: (Key, Algorithm), digest: Vec<u8>) {
        if self.map.len() >= CACHE_ENTRIES && !self.map.contains_key(&id) {
            // One scan per new digest once full: rare (a digest is made once per file).
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                self.map.remove(&oldest);
            }
        }
        self.tick += 1;
        self.map.insert(id, (digest, self.tick));
    }
}

struct Job {
    file: File,
    key: Key,
    algorithm: Algorithm,
}

impl Digests {
    /// An empty set; no thread until a large file needs one.
    pub(crate) fn new() -> Digests {
        Digests::default()
    }

    /// The digest of this version, if it is known (never computes one).
    pub(crate) fn known(&self, key: Key, algorithm: Algorithm) -> Option<Vec<u8>> {
        self.known.lock().ok()?.get(&(key, algorithm))
    }

    /// The digest of the open `file` (whose metadata is `meta`): known, or computed now if
    /// small, or else queued for the hashing thread and `None` for this response.
    pub(crate) fn of_file(
        &self,
        file: &File,
        meta: &Metadata,
        algorithm: Algorithm,
    ) -> Option<Vec<u8>> {
        let key = Key::of(meta);
        let id = (key, algorithm);
        if let Some(d) = self.known(key, algorithm) {
            return Some(d);
        }
        if meta.len() <= INLINE_MAX {
            let digest = hash(file, key, algorithm, None)?;
            self.known.lock().ok()?.put(id, digest.clone());
            return Some(digest);
        }
        let mut known = self.known.lock().ok()?;
        if !known.pending.insert(id) {
            return None;
        }
        let job = file.try_clone().ok().map(|file| Job {
            file,
            key,
            algorithm,
        });
        let sent = job.map(|job| self.sender().try_send(job));
        if !matches!(sent, Some(Ok(()))) {
            // No descriptor left, or the queue is full: a later request asks again.
            known.pending.remove(&id);
        }
        None
    }

    /// The digest of `bytes`, which are version `key` of a file (a cached file).
    pub(crate) fn of_bytes(&self, key: Key, bytes: &[u8], algorithm: Algorithm) -> Vec<u8> {
        if let Some(d) = self.known(key, algorithm) {
            return d;
        }
        let digest = algorithm.digest(bytes);
        if let Ok(mut known) = self.known.lock() {
            known.put((key, algorithm), digest.clone());
        }
        digest
    }

    fn sender(&self) -> &SyncSender<Job> {
        self.queue.get_or_init(|| {
            let (tx, rx) = sync_channel(QUEUE);
            let known = Arc::downgrade(&self.known);
            // If the thread cannot start, jobs stay queued until the queue is full, and
            // large files simply go without the field.
            let _ = std::thread::Builder::new()
                .name("serve-digest".into())
                .spawn(move || hashing(rx, known));
            tx
        })
    }
}

/// The hashing thread: one job at a time, until the site is dropped.
fn hashing(jobs: Receiver<Job>, known: Weak<Mutex<Known>>) {
    for job in jobs {
        let id = (job.key, job.algorithm);
        let digest = hash(&job.file, job.key, job.algorithm, Some(&known));
        let Some(known) = known.upgrade() else { return };
        let Ok(mut known) = known.lock() else { return };
        known.pending.remove(&id);
        if let Some(d) = digest {
            known.put(id, d);
        }
    }
}

/// The digest of `file`, which must still be version `key` once read (else `None`: it
/// changed while being hashed). `alive`: stop early once the site is gone.
fn hash(
    file: &File,
    key: Key,
    algorithm: Algorithm,
    alive: Option<&Weak<Mutex<Known>>>,
) -> Option<Vec<u8>> {
    let mut h = algorithm.hasher();
    let mut buf = vec![0u8; CHUNK.min(key.size as usize).max(1)];
    let mut at = 0u64;
    loop {
        let n = file.read_at(&mut buf, at).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        at += n as u64;
        if at > key.size || alive.is_some_and(|a| a.strong_count() == 0) {
            return None;
        }
    }
    (at == key.size && Key::of(&file.metadata().ok()?) == key).then(|| h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    #[test]
    fn what_a_request_wants() {
        use Algorithm::{Sha256, Sha512};
        let cases: &[(Option<&str>, bool, Option<Algorithm>)] = &[
            (None, false, None),
            (None, true, Some(Sha256)),
            (Some("sha-256=1"), false, Some(Sha256)),
            (Some("sha-512=3, sha-256=10"), false, Some(Sha256)),
            (Some("sha-512=3, sha-256=1"), false, Some(Sha512)),
            (Some("sha-512=5, sha-256=5"), false, Some(Sha256)),
            (Some("sha-256=0"), true, None),
            (Some("sha-256=0, sha-512=0"), false, None),
            (Some("sha-512=0"), true, Some(Sha256)),
            (Some("md5=10"), false, None),
            (Some("md5=10"), true, Some(Sha256)),
            (Some("sha-256=11"), false, None),
            (Some("sha-256=:AA==:"), false, None),
            // Malformed: as if absent.
            (Some("SHA-256=1"), false, None),
            (Some("sha-256=1,,"), true, Some(Sha256)),
        ];
        for (want, always, expect) in cases {
            assert_eq!(wanted(*want, *always), *expect, "{want:?} {always}");
        }
    }

    #[test]
    fn small_files_at_once_large_ones_in_the_background_never_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        let d = Digests::new();
        let open = || {
            let f = File::open(&path).unwrap();
            let m = f.metadata().unwrap();
            (f, m)
        };
        let (f, m) = open();
        let want = Algorithm::Sha256.digest(b"hello");
        assert_eq!(d.of_file(&f, &m, Algorithm::Sha256), Some(want.clone()));
        assert_eq!(d.known(Key::of(&m), Algorithm::Sha256), Some(want));
        // Changed on disk: another key, another digest.
        let big = vec![7u8; INLINE_MAX as usize + 1];
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&big)
            .unwrap();
        let (f, m) = open();
        assert_eq!(d.of_file(&f, &m, Algorithm::Sha512), None);
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = loop {
            if let Some(got) = d.known(Key::of(&m), Algorithm::Sha512) {
                break got;
            }
            assert!(Instant::now() < deadline, "never hashed");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(got, Algorithm::Sha512.digest(&big));
        assert_eq!(d.of_file(&f, &m, Algorithm::Sha512), Some(got));
    }

    #[test]
    fn the_cache_is_bounded() {
        let d = Digests::new();
        for i in 0..CACHE_ENTRIES as u64 + 10 {
            d.of_bytes(Key::new(1, i, 1, (0, 0)), b"x", Algorithm::Sha256);
        }
        assert_eq!(d.known.lock().unwrap().map.len(), CACHE_ENTRIES);
        // The most recent stay.
        let last = Key::new(1, CACHE_ENTRIES as u64 + 9, 1, (0, 0));
        assert!(d.known(last, Algorithm::Sha256).is_some());
        assert!(
            d.known(Key::new(1, 0, 1, (0, 0)), Algorithm::Sha256)
                .is_none()
        );
    }
}
