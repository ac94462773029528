//! `--tls-cert` and `--tls-key`: the server's certificate and key, read and checked at the
//! start (a bad pair is a usage error), and the rustls configuration the engine's sessions
//! are made from (`shared::tls::server_config`: TLS 1.2 and 1.3, ALPN `http/1.1`, tickets
//! and resumption). The pair sits in a [`CertSlot`] that a renewal can swap.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shared::tls::rustls::ServerConfig;
use shared::tls::{self as tls, CertSlot};

/// HTTPS for a server: the certificate files and what was read from them.
#[derive(Debug, Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    slot: Arc<CertSlot>,
    config: Arc<ServerConfig>,
}

impl Tls {
    /// Reads the certificate chain `cert` (PEM, leaf first) and its key `key` (RSA, ECDSA
    /// or Ed25519 in PKCS#8, PKCS#1 or SEC1; PEM or DER). The error is one line that names
    /// the file at fault.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        let pair = tls::load_pair(cert, key)?;
        let slot = CertSlot::new(pair);
        let config = tls::server_config(Arc::clone(&slot))?;
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            slot,
            config,
        })
    }

    /// The certificate's public-key hash in curl's `--pinnedpubkey` form (`sha256//...`).
    pub fn key_hash(&self) -> Option<String> {
        self.slot.key_hash()
    }

    /// The files the pair is read from.
    pub fn files(&self) -> (&Path, &Path) {
        (&self.cert, &self.key)
    }

    /// The configuration every session is made from.
    pub(crate) fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}
