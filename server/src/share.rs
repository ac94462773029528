//! The settings of the features that share a folder both ways (issue 16): uploads,
//! passwords, folder downloads and compression on the fly. Each one that widens what a
//! client can do is off by default. They are one field of the site's settings, with their
//! [`Config`] setters here, next to the features rather than in the server core.

use std::path::PathBuf;
use std::sync::Arc;

use crate::Config;
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
pub struct Share {
    /// Uploads, when on.
    pub uploads: Option<Uploads>,
    /// The accounts, when `--auth` or `--auth-file` gave any.
    pub auth: Option<Arc<Auth>>,
    /// `?download=tar` and `?download=tar.gz` (`--archive`).
    pub archive: bool,
    /// gzip and brotli on the fly (`--compress`).
    pub compress: bool,
}

impl Config {
    /// Accept uploads (PUT, and multipart POST to a folder) with these rules (default off).
    pub fn uploads(mut self, uploads: Option<Uploads>) -> Config {
        self.site.share.uploads = uploads;
        self
    }
    /// Require HTTP Basic credentials for everything (default: no accounts, no password).
    pub fn auth(mut self, auth: Auth) -> Config {
        self.site.share.auth = (!auth.is_empty()).then(|| Arc::new(auth));
        self
    }
    /// Offer folders as tar and tar.gz downloads (default off).
    pub fn archive(mut self, on: bool) -> Config {
        self.site.share.archive = on;
        self
    }
    /// Compress compressible files on the fly (default off).
    pub fn compress(mut self, on: bool) -> Config {
        self.site.share.compress = on;
        self
    }
    /// The sharing features' settings.
    pub fn share(&self) -> &Share {
        &self.site.share
    }
}
