//! The site: the folder being served and every setting that shapes an answer. The responder
//! (`respond/`) reads it; nothing in it knows about sockets, threads or timeouts.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::Cache;
use crate::jail::{Jail, Root};

/// The default `Cache-Control`: caches must revalidate, since the folder may change.
pub(crate) const DEFAULT_CACHE_CONTROL: &str = "no-cache";

/// What answering a request depends on.
#[derive(Debug)]
pub(crate) struct Site {
    /// The folder, opened once.
    pub(crate) root: Root,
    /// Small files' bytes and metadata, revalidated on every use.
    pub(crate) cache: Cache,
    /// Compressed representations (`--compress`), keyed by file, ETag and coding.
    pub(crate) compressed: crate::compress::Cache,
    /// Files' digests (`Repr-Digest`), per file version, and the thread that makes them.
    pub(crate) repr_digests: crate::repr_digest::Digests,
    /// Everything else that shapes an answer.
    pub(crate) settings: Settings,
    /// `--watch`: the hub that holds the browsers waiting for a change (`watch/hub.rs`); set by
    /// `Server::run` when `settings.watch` is on.
    pub(crate) live: Option<std::sync::Arc<crate::watch::hub::Hub>>,
}

/// The settings of a site, as the command line gives them; [`Settings::default`] is what
/// `serve DIR` does without options.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// What the jail lets through beyond the safe default.
    pub jail: Jail,
    /// List folders without `index.html` (off: 404).
    pub listing: bool,
    /// `Cache-Control` on files and listings.
    pub cache_control: String,
    /// `Access-Control-Allow-Origin: *` and answered preflights.
    pub cors: bool,
    /// Extra header lines on every response.
    pub headers: Vec<(String, String)>,
    /// The body of every 404.
    pub not_found_page: Option<Arc<Vec<u8>>>,
    /// A missing path without an extension gets `/index.html`.
    pub spa: bool,
    /// `--digest`: `Repr-Digest: sha-256=…` on every file response whose digest is known
    /// (without it, only when a request has `Want-Repr-Digest`).
    pub repr_digest_always: bool,
    /// Test-only: a request for exactly this target panics.
    pub panic_path: Option<String>,
    /// Uploads, passwords, folder downloads, compression (`share/`).
    pub share: crate::share::Share,
    /// `--watch`: live reload (`watch/`).
    pub watch: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            jail: Jail::default(),
            listing: true,
            cache_control: DEFAULT_CACHE_CONTROL.to_string(),
            cors: false,
            headers: Vec::new(),
            not_found_page: None,
            spa: false,
            repr_digest_always: false,
            panic_path: None,
            share: crate::share::Share::default(),
            watch: false,
        }
    }
}

impl Site {
    /// The site for the canonical folder `root` with these settings; small files are cached.
    pub(crate) fn new(root: PathBuf, settings: Settings) -> Site {
        Site {
            cache: Cache::new(&root),
            compressed: crate::compress::Cache::new(
                crate::compress::CACHE_BYTES,
                crate::compress::CACHE_ENTRIES,
            ),
            repr_digests: crate::repr_digest::Digests::new(),
            root: Root::open(root),
            settings,
            live: None,
        }
    }
}
