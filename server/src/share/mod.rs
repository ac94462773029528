//! Sharing a folder both ways: uploads (`upload.rs` writes the file, `intake.rs` takes the
//! body, `multipart.rs` parses a form, `receive.rs` reads the body off the connection) and
//! folder downloads (`archive.rs`, `zip.rs`). Here: the settings of the sharing features
//! (issue 16; uploads, passwords, folder downloads, compression on the fly), each off by
//! default, one field of the site's settings.

pub(crate) mod archive;
pub(crate) mod intake;
pub(crate) mod multipart;
pub(crate) mod receive;
pub(crate) mod upload;
pub(crate) mod zip;

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::Auth;

/// Uploads as configured (`--upload` and friends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uploads {
    /// Replace existing files (`--overwrite`).
    pub overwrite: bool,
    /// Create missing folders (`--upload-mkdir`).
    pub mkdir: bool,
    /// Only under this folder, relative to the root (`--upload-dir`).
    pub subtree: Option<PathBuf>,
    /// The largest body accepted, in bytes (`--max-upload`); larger is 413 before reading.
    pub max_bytes: Option<u64>,
}

/// The sharing features' settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Share {
    /// Uploads, when on.
    pub uploads: Option<Uploads>,
    /// The accounts, when `--auth` or `--auth-file` gave any.
    pub auth: Option<Arc<Auth>>,
    /// `?download=tar` and `?download=tar.gz` (`--archive`).
    pub archive: bool,
    /// gzip and brotli on the fly (`--compress`).
    pub compress: bool,
}
