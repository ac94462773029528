//! TLS on a connection (feature `tls`): the rustls configuration, built once per client
//! from its settings ([`shared::tls::ClientSettings`]) the first time an `https://` URL
//! needs it; what a handshake settled (`-v` is told it); the name a certificate must carry;
//! and rustls's errors sorted into curl's exit codes. The handshake itself is a step of the
//! main loop (`run.rs`, `secure`): this module imports nothing of the client but its errors.

use std::io;
use std::sync::{Arc, OnceLock};

use shared::tls::{ClientSettings, Failure, TlsError};
use shared::{Endpoint, Host, Stream, Target};

use crate::error::{Error, TlsKind};

/// A client's TLS settings and the configuration made from them, shared by its clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tls {
    pub(crate) settings: ClientSettings,
    built: Arc<OnceLock<Result<Arc<rustls::ClientConfig>, TlsError>>>,
}

impl Tls {
    /// Settings to build from when first needed.
    pub(crate) fn new(settings: ClientSettings) -> Tls {
        Tls {
            settings,
            built: Arc::default(),
        }
    }

    /// The configuration: read the CA file and the rest once, on first use (a client that
    /// never meets `https://` never reads them, as curl does not).
    pub(crate) fn config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        self.built
            .get_or_init(|| self.settings.build())
            .clone()
            .map_err(setup_error)
    }
}

fn setup_error(e: TlsError) -> Error {
    let kind = match &e {
        TlsError::CaFile { .. } => TlsKind::CaFile,
        TlsError::CrlFile { .. } => TlsKind::CrlFile,
        TlsError::ClientCert { .. } => TlsKind::ClientCert,
        TlsError::Cipher { .. } => TlsKind::Cipher,
        TlsError::Pin(_) => TlsKind::Pinned,
        _ => TlsKind::Handshake,
    };
    Error::Tls {
        peer: None,
        kind,
        reason: e.to_string(),
    }
}

/// What a handshake settled, for `-v` and other observers.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// `TLSv1.3`.
    pub version: String,
    /// The suite, by OpenSSL's name: `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The protocol ALPN settled on (`http/1.1`), if the server chose one.
    pub alpn: Option<String>,
    /// The server's certificate, as it describes itself.
    pub certificate: Option<shared::tls::CertSummary>,
    /// How many certificates the server sent.
    pub certs: u32,
    /// False with `-k`: nothing was checked.
    pub verified: bool,
    /// The host the certificate was checked against.
    pub host: String,
    /// The CA file and folder in use.
    pub ca: (String, String),
    /// True when the session was resumed (no full handshake).
    pub resumed: bool,
}

/// The name the certificate must carry, and the SNI: the URL's host, never where
/// `--resolve` or `--connect-to` lead.
pub(crate) fn name_of(target: &Target) -> Result<rustls::pki_types::ServerName<'static>, Error> {
    let host = match &target.endpoint {
        Endpoint::Tcp {
            host: Host::Ip(ip), ..
        } => return Ok((*ip).into()),
        Endpoint::Tcp { host, .. } => host.to_string(),
        Endpoint::Unix(_) => "localhost".to_string(),
    };
    shared::tls::server_name(&host).ok_or_else(|| Error::Tls {
        peer: None,
        kind: TlsKind::Handshake,
        reason: format!("'{host}' cannot be a TLS server name"),
    })
}

/// The name the TLS connection to `target` is pooled under (`None`: plain HTTP).
pub(crate) fn pool_name(target: &Target) -> Option<String> {
    target.tls.then(|| match &target.endpoint {
        Endpoint::Tcp { host, .. } => host.to_string(),
        Endpoint::Unix(_) => "localhost".to_string(),
    })
}

/// What the handshake of `tls` settled, checked by `settings` for `host`.
pub(crate) fn describe(
    tls: &rustls::ClientConnection,
    settings: &ClientSettings,
    host: String,
) -> TlsInfo {
    let chain = tls.peer_certificates().unwrap_or_default();
    TlsInfo {
        version: tls
            .protocol_version()
            .map_or_else(String::new, |v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
                other => format!("{other:?}"),
            }),
        cipher: tls
            .negotiated_cipher_suite()
            .map_or_else(String::new, |s| shared::tls::suite_name(s.suite())),
        alpn: tls
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        certificate: chain.first().and_then(|c| shared::tls::summarize(c)),
        certs: chain.len() as u32,
        verified: !settings.insecure,
        host,
        ca: (
            settings.ca_file().display().to_string(),
            settings.ca_path().display().to_string(),
        ),
        resumed: tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
    }
}

/// The rustls error inside an I/O error, if there is one.
pub(crate) fn inner(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// An I/O error on a TLS connection, in words.
pub(crate) fn io_words(e: &io::Error) -> String {
    match inner(e) {
        Some(tls) => shared::tls::tls_words(tls),
        None => shared::io_words(e),
    }
}

/// The handshake with `peer` failed with `e`: curl's 60 for a certificate, 90 for a pinned
/// key, else 35.
pub(crate) fn handshake_error(peer: &str, e: &io::Error) -> Error {
    let (kind, reason) = match inner(e) {
        Some(tls) => {
            let kind = match shared::tls::classify(tls) {
                Failure::Untrusted => TlsKind::Untrusted,
                Failure::Pinned => TlsKind::Pinned,
                _ => TlsKind::Handshake,
            };
            (kind, shared::tls::tls_words(tls))
        }
        None if e.kind() == io::ErrorKind::UnexpectedEof => (
            TlsKind::Handshake,
            "the server closed the connection during the handshake".into(),
        ),
        None => (TlsKind::Handshake, shared::io_words(e)),
    };
    Error::Tls {
        peer: Some(peer.to_string()),
        kind,
        reason,
    }
}

/// Whether an idle TLS connection can no longer be used, checked without blocking: what
/// has arrived is taken in (a session ticket is fine; a `close_notify`, an alert, data
/// nobody asked for, or the end of the stream are not).
pub(crate) fn is_stale(tls: &mut rustls::ClientConnection, stream: &Stream) -> bool {
    struct NoWait<'a>(&'a Stream);
    impl io::Read for NoWait<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read_nowait(buf)
        }
    }
    loop {
        match tls.read_tls(&mut NoWait(stream)) {
            Ok(0) => return true,
            Ok(_) => match tls.process_new_packets() {
                Ok(state) if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() => {
                    return true;
                }
                Ok(_) => {}
                Err(_) => return true,
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}
