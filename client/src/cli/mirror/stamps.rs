//! The listings of folders a later run reaches through links rather than by walking them:
//! a page links to `img/a.png`, and its copy is on disk. Where the server lists folders in
//! JSON (serve), the folder is asked once (`Accept: application/json`, with the ETag of the
//! listing kept by the last run), and each of its files whose listed size and time match
//! its copy costs no request at all; the listing's entries are not followed (only what the
//! pages link to is, as wget does). A folder answered otherwise (serve gives a folder's
//! `index.html` rather than its listing) is not asked again; a server that answered two
//! folders so and none with a listing (nginx, python's http.server) is asked for no more
//! folders, and each file is asked conditionally. Folders the crawl walks through their
//! listing count too.
//!
//! Memory: each folder asked, and each file listed in one, by name and stamp, until the
//! crawl ends; at most [`MAX_HELD`] files in all (past that, files are asked one by one).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use shared::Endpoint;

use super::listing::Stamp;

/// A file's name as the listing and the links are matched: its bytes, `%XX` decoded once
/// (a link may spell `@` as `%40`, a listing not); a name that does not decode matches
/// nothing listed.
pub fn name(reference: &str) -> Vec<u8> {
    shared::percent_decode(reference).unwrap_or_else(|| b"\0".to_vec())
}

/// Folders a server may answer without a listing before it is asked for no more (unless
/// it gave one).
const MAX_MISSES: u32 = 2;

/// The most listed files held for the whole crawl.
pub const MAX_HELD: usize = 1 << 20;

/// One folder's listing, as far as this run knows it.
enum Folder {
    /// A thread is asking for it now.
    Asking,
    /// Its files, by [`name`].
    Listed(Arc<HashMap<Vec<u8>, Stamp>>),
    /// No listing to be had.
    Unlisted,
}

/// What a thread does about a file's folder.
pub enum Turn<'s> {
    /// The folder's listing is known: the file's stamp in it, if it is listed.
    Known(Option<Stamp>),
    /// This thread asks for the folder's listing, then tells [`Asking::listed`] (if it
    /// does not, the folder counts as unlisted when the [`Asking`] is dropped).
    Ask(Asking<'s>),
    /// No listing: ask for the file itself.
    Without,
}

/// A folder this thread is asking for; the others wait for its answer.
pub struct Asking<'s> {
    stamps: &'s Stamps,
    endpoint: Endpoint,
    folder: String,
    told: bool,
}

impl Asking<'_> {
    /// The folder's files (`None`: it has none to give), and whether the answer was a
    /// JSON listing.
    pub fn listed(mut self, files: Option<HashMap<Vec<u8>, Stamp>>, json: bool) {
        self.told = true;
        self.stamps
            .listed(&self.endpoint, &self.folder, files, json);
    }
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        if !self.told {
            self.stamps
                .listed(&self.endpoint, &self.folder, None, false);
        }
    }
}

/// The folders asked in this run.
#[derive(Default)]
pub struct Stamps {
    folders: Mutex<HashMap<u64, Folder>>,
    /// Woken when a folder's listing is known.
    known: Condvar,
    /// Servers that answered a folder with a JSON listing.
    listing: Mutex<HashSet<Endpoint>>,
    /// For each server, how many folders it answered otherwise.
    unlisted: Mutex<HashMap<Endpoint, u32>>,
    held: Mutex<usize>,
    hasher: RandomState,
}

impl Stamps {
    fn key(&self, endpoint: &Endpoint, folder: &str) -> u64 {
        self.hasher.hash_one((endpoint, folder))
    }

    /// What to do about the file `name` (by [`name`]) in `folder` on `endpoint`. A folder
    /// another thread is asking for is waited for (one round trip): its files, reached
    /// together, then need no request each.
    pub fn turn(&self, endpoint: &Endpoint, folder: &str, name: &[u8]) -> Turn<'_> {
        let lists = |e| {
            self.listing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(e)
        };
        let misses = |e| {
            self.unlisted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(e)
                .copied()
                .unwrap_or(0)
        };
        if misses(endpoint) >= MAX_MISSES && !lists(endpoint) {
            return Turn::Without;
        }
        let key = self.key(endpoint, folder);
        let mut folders = self.folders.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            return match folders.get(&key) {
                Some(Folder::Listed(files)) => Turn::Known(files.get(name).copied()),
                Some(Folder::Unlisted) => Turn::Without,
                Some(Folder::Asking) => {
                    folders = self
                        .known
                        .wait(folders)
                        .unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
                None => {
                    folders.insert(key, Folder::Asking);
                    Turn::Ask(Asking {
                        stamps: self,
                        endpoint: endpoint.clone(),
                        folder: folder.to_string(),
                        told: false,
                    })
                }
            };
        }
    }

    /// The listing of `folder`: its files (`None`: it has none to give), and whether the
    /// answer was a JSON listing (for a folder the crawl walks, or that answered otherwise).
    pub fn listed(
        &self,
        endpoint: &Endpoint,
        folder: &str,
        files: Option<HashMap<Vec<u8>, Stamp>>,
        json: bool,
    ) {
        if json {
            self.listing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(endpoint.clone());
        } else {
            *self
                .unlisted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(endpoint.clone())
                .or_default() += 1;
        }
        let state = match files {
            Some(files) if self.hold(files.len()) => Folder::Listed(Arc::new(files)),
            _ => Folder::Unlisted,
        };
        self.folders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.key(endpoint, folder), state);
        self.known.notify_all();
    }

    /// The folder URL `folder` was answered with a page (its `index.html`): its files are
    /// not asked for its listing (which says nothing of the server's other folders).
    pub fn page(&self, endpoint: &Endpoint, folder: &str) {
        self.folders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.key(endpoint, folder), Folder::Unlisted);
        self.known.notify_all();
    }

    /// Whether `n` more files may be held.
    fn hold(&self, n: usize) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if *held + n > MAX_HELD {
            return false;
        }
        *held += n;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Endpoint {
        shared::Target::parse("http://127.0.0.1:1/")
            .unwrap()
            .endpoint
    }

    #[test]
    fn a_folder_is_asked_once_and_a_server_without_listings_never_again() {
        let s = Stamps::default();
        let stamp = Stamp {
            size: 3,
            modified: 9,
        };
        let Turn::Ask(asking) = s.turn(&here(), "/a/", b"x") else {
            panic!("not asked")
        };
        std::thread::scope(|t| {
            // Asked by another thread: this one waits for the answer.
            let other = t.spawn(|| matches!(s.turn(&here(), "/a/", b"x"), Turn::Known(Some(_))));
            asking.listed(Some(HashMap::from([(b"x".to_vec(), stamp)])), true);
            assert!(other.join().unwrap());
        });
        assert!(matches!(s.turn(&here(), "/a/", b"x"), Turn::Known(Some(t)) if t == stamp));
        assert!(matches!(s.turn(&here(), "/a/", b"z"), Turn::Known(None)));
        // A folder answered with its page: that folder only; so is one whose asker gave up.
        let Turn::Ask(asking) = s.turn(&here(), "/b/", b"x") else {
            panic!("not asked")
        };
        drop(asking);
        assert!(matches!(s.turn(&here(), "/b/", b"x"), Turn::Without));
        assert!(matches!(s.turn(&here(), "/c/", b"x"), Turn::Ask(_)));
    }

    #[test]
    fn a_server_that_lists_nothing_is_asked_twice_at_most() {
        let s = Stamps::default();
        for folder in ["/a/", "/b/"] {
            let Turn::Ask(asking) = s.turn(&here(), folder, b"x") else {
                panic!("not asked")
            };
            asking.listed(None, false);
        }
        assert!(matches!(s.turn(&here(), "/c/", b"x"), Turn::Without));
    }
}
