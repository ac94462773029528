//! The site: the folder being served and every setting that shapes an answer. The responder
//! (`respond.rs`) reads it; nothing in it knows about sockets, threads or timeouts.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::Cache;
use crate::files::{Jail, Root};

/// The default `Cache-Control`: caches must revalidate, since the folder may change.
pub const DEFAULT_CACHE_CONTROL: &str = "no-cache";

/// What answering a request depends on.
#[derive(Debug)]
pub struct Site {
    /// The folder, opened once.
    pub(crate) root: Root,
    /// What the jail lets through beyond the safe default (`--hidden`, `--follow-symlinks`).
    pub(crate) jail: Jail,
    /// List folders without `index.html` (off: 404).
    pub(crate) listing: bool,
    /// `Cache-Control` on files and listings.
    pub(crate) cache_control: String,
    /// `Access-Control-Allow-Origin: *` and answered preflights.
    pub(crate) cors: bool,
    /// Extra header lines on every response.
    pub(crate) headers: Vec<(String, String)>,
    /// The body of every 404, when `--404` gave one.
    pub(crate) not_found_page: Option<Arc<Vec<u8>>>,
    /// A missing path without an extension gets `/index.html` (single-page apps).
    pub(crate) spa: bool,
    /// Test-only: a request for exactly this target panics (see `Config::panic_path`).
    pub(crate) panic_path: Option<String>,
    /// Small files' bytes and metadata, revalidated on every use.
    pub(crate) cache: Cache,
}

impl Site {
    /// The site for the canonical folder `root`, every setting at its default.
    pub fn new(root: PathBuf) -> Site {
        Site {
            root: Root::open(root),
            jail: Jail::default(),
            listing: true,
            cache_control: DEFAULT_CACHE_CONTROL.to_string(),
            cors: false,
            headers: Vec::new(),
            not_found_page: None,
            spa: false,
            panic_path: None,
            cache: Cache::default(),
        }
    }
}
