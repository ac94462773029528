//! TLS for both programs, through rustls: certificates, chains and keys read from PEM (or
//! DER) files, the client's rustls configuration built from curl's options, the server's
//! (a certificate pair that can be swapped while serving: [`CertSlot`]), the public-key
//! hash in curl's `sha256//` form, what a certificate says (for `-v`), and TLS failures in
//! words with the class curl's exit code comes from.
//!
//! One crypto provider for everything: aws-lc-rs (see [`provider`] for why).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

pub use rustls;

use crate::text::{base64, base64_decode};

mod key;

use key::looks_pem;
pub use key::{KeyError, Passphrase, read_key};

/// Debian's bundle of trusted roots, which curl on Debian uses by default (`CAfile`).
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Debian's folder of trusted roots, curl's default `CApath` there.
pub const SYSTEM_DIR: &str = "/etc/ssl/certs";

/// The crypto provider: aws-lc-rs. Measured here against *ring* (BENCHMARKS.md, "TLS
/// provider"), both sides of a TLS 1.3 handshake with an ECDSA P-256 certificate in one
/// process: 0.5-1.0 ms with aws-lc-rs, 4.5-5.9 ms with ring (whose P-256 arithmetic runs
/// its portable Montgomery multiplication: 56% of the time); 1 GiB of AES-128-GCM
/// records sealed and opened: the same within this machine's noise. aws-lc-rs also has
/// the post-quantum hybrid group X25519MLKEM768, and rustls marks ring's provider
/// deprecated for lacking it. Its cost is build time: its C library adds about two
/// minutes to a clean build on two cores (gcc only; no cmake needed).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// A TLS version, as curl's options name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// TLS 1.0 (below what rustls speaks: only a minimum may name it).
    Tls10,
    /// TLS 1.1 (likewise).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl Version {
    /// Reads curl's spelling: `1.0`, `1.1`, `1.2`, `1.3` (`--tls-max`).
    pub fn parse(s: &str) -> Option<Version> {
        match s {
            "1.0" => Some(Version::Tls10),
            "1.1" => Some(Version::Tls11),
            "1.2" => Some(Version::Tls12),
            "1.3" => Some(Version::Tls13),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    /// `TLSv1.2`, as curl's `-v` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Tls10 => "TLSv1.0",
            Version::Tls11 => "TLSv1.1",
            Version::Tls12 => "TLSv1.2",
            Version::Tls13 => "TLSv1.3",
        })
    }
}

/// What went wrong setting TLS up, before any byte went to the server; each variant is one
/// of curl's exit codes (see [`TlsError::exit_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// The CA file or folder cannot be read or holds no certificate (curl's 77).
    CaFile {
        /// The file or folder.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// The CRL file cannot be read (curl's 82).
    CrlFile {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// The client certificate or its key cannot be used (curl's 58).
    ClientCert {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// A cipher, TLS 1.3 suite or curve that rustls does not have (curl's 59).
    Cipher {
        /// The option: `--ciphers`, `--tls13-ciphers`, `--curves`.
        option: &'static str,
        /// The name as given.
        name: String,
        /// The names that would be accepted.
        known: String,
    },
    /// The versions asked for cannot be spoken (curl's 35).
    Version(String),
    /// `--pinnedpubkey` cannot be read or parsed (curl's 90).
    Pin(String),
}

impl TlsError {
    /// curl's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            TlsError::CaFile { .. } => 77,
            TlsError::CrlFile { .. } => 82,
            TlsError::ClientCert { .. } => 58,
            TlsError::Cipher { .. } => 59,
            TlsError::Version(_) => 35,
            TlsError::Pin(_) => 90,
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::CaFile { path, reason } => {
                write!(f, "CA certificates {}: {reason}", path.display())
            }
            TlsError::CrlFile { path, reason } => {
                write!(f, "CRL file {}: {reason}", path.display())
            }
            TlsError::ClientCert { path, reason } => {
                write!(f, "client certificate {}: {reason}", path.display())
            }
            TlsError::Cipher {
                option,
                name,
                known,
            } => write!(f, "{option}: rustls has no '{name}' (it has {known})"),
            TlsError::Version(why) | TlsError::Pin(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for TlsError {}

fn io_reason(e: &std::io::Error) -> String {
    crate::error::io_words(e)
}

/// Reads every certificate in `path`: PEM (any number of `CERTIFICATE` blocks, other blocks
/// skipped) or, when the file does not start like PEM, one DER certificate.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| io_reason(&e))?;
    certs_from(&bytes)
}

fn certs_from(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    if !looks_pem(bytes) {
        if bytes.first() == Some(&0x30) {
            return Ok(vec![CertificateDer::from(bytes.to_vec())]);
        }
        return Err("neither PEM nor DER".into());
    }
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(certs)
}

/// The SHA-256 of a certificate's public key (its DER `SubjectPublicKeyInfo`), in curl's
/// `--pinnedpubkey` form: `sha256//` and base64. `None` when the certificate cannot be
/// parsed.
pub fn key_hash(cert: &[u8]) -> Option<String> {
    let spki = spki_of(cert)?;
    Some(format!("sha256//{}", base64(&Sha256::digest(spki))))
}

fn spki_of(cert: &[u8]) -> Option<&[u8]> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(parsed.tbs_certificate.subject_pki.raw)
}

/// What a certificate says about itself, as curl's `-v` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// `CN=localhost, O=Example`.
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// Not before, as curl writes it: `Dec  7 16:14:00 2026 GMT`.
    pub start: String,
    /// Not after, in the same form.
    pub expire: String,
    /// The DNS names and IP addresses of its subjectAltName.
    pub names: Vec<String>,
}

/// Reads `cert` (DER) for `-v`; `None` when it cannot be parsed.
pub fn summarize(cert: &[u8]) -> Option<CertSummary> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let tbs = &parsed.tbs_certificate;
    let when = |t: &x509_parser::time::ASN1Time| {
        let d = t.to_datetime();
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{} {:>2} {:02}:{:02}:{:02} {} GMT",
            MONTHS[usize::from(u8::from(d.month())) - 1],
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.year()
        )
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = tbs.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(n) => names.push(n.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(ip) => {
                    let addr = match ip.len() {
                        4 => <[u8; 4]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                        _ => None,
                    };
                    names.extend(addr.map(|a| a.to_string()));
                }
                _ => {}
            }
        }
    }
    Some(CertSummary {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        start: when(&tbs.validity.not_before),
        expire: when(&tbs.validity.not_after),
        names,
    })
}

/// A server's certificate chain and key, read and checked against each other: the chain
/// from `cert` (PEM, leaf first), the key from `key` (RSA, ECDSA or Ed25519; PKCS#8,
/// PKCS#1 or SEC1; encrypted PKCS#8 decrypted with `pass`). The error is one line naming
/// the file at fault.
pub fn load_pair(
    cert: &Path,
    key: &Path,
    pass: Option<&Passphrase>,
) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let chain = read_certs(cert).map_err(|e| format!("{}: {e}", cert.display()))?;
    let der = read_key(key, pass).map_err(|e| match e {
        KeyError::Encrypted => format!(
            "{}: the key is encrypted: give its pass phrase with --tls-password-file FILE",
            key.display()
        ),
        e => format!("{}: {e}", key.display()),
    })?;
    rustls::sign::CertifiedKey::from_der(chain, der, &provider())
        .map(Arc::new)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "{} is not the key of the certificate in {}",
                key.display(),
                cert.display()
            ),
            e => format!("{}: {e}", key.display()),
        })
}

/// The certificate a server shows, swappable while it serves: new handshakes take the pair
/// in the slot at that moment, and a connection keeps the pair it shook hands with (so a
/// renewed certificate reaches new clients and cuts off none).
#[derive(Debug)]
pub struct CertSlot(std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>);

impl CertSlot {
    /// A slot holding `pair`.
    pub fn new(pair: Arc<rustls::sign::CertifiedKey>) -> Arc<CertSlot> {
        Arc::new(CertSlot(std::sync::RwLock::new(pair)))
    }

    /// The pair new handshakes get.
    pub fn current(&self) -> Arc<rustls::sign::CertifiedKey> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `pair` in the slot, for every handshake from now on.
    pub fn replace(&self, pair: Arc<rustls::sign::CertifiedKey>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = pair;
    }

    /// The leaf certificate's public-key hash, in curl's `--pinnedpubkey` form.
    pub fn key_hash(&self) -> Option<String> {
        let pair = self.current();
        key_hash(pair.end_entity_cert().ok()?)
    }
}

impl rustls::server::ResolvesServerCert for CertSlot {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.current())
    }
}

/// Sessions a server remembers for resumption by session ID (TLS 1.2 clients that do not
/// take tickets); tickets need no memory on the server.
const SERVER_SESSIONS: usize = 1024;

/// A server's rustls configuration: TLS 1.2 and 1.3 with the provider's default suites
/// (all AEAD with ECDHE: forward secrecy), ALPN `http/1.1`, the certificate from `slot`,
/// resumption by tickets (keys rotated every 6 hours by rustls, made fresh at each start) and
/// by session ID. The server's order of suites decides (AES-256-GCM, AES-128-GCM, then
/// ChaCha20-Poly1305): all are strong, but a scan by testssl 3.0.8 counts a server without
/// an order of its own as a HIGH finding (README, "TLS scan"); the cost is that a client
/// without AES instructions, which would have picked ChaCha20, gets AES.
pub fn server_config(slot: Arc<CertSlot>) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.ignore_client_order = true;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SERVER_SESSIONS);
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

/// The TLS settings of a client, as curl's options give them. The default verifies against
/// the system's roots and lets rustls choose the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientSettings {
    /// `--cacert`: the roots to trust, instead of [`SYSTEM_BUNDLE`].
    pub cafile: Option<PathBuf>,
    /// `--capath`: a folder of roots (every file in it that holds certificates), trusted
    /// besides the CA file; by default [`SYSTEM_DIR`], read only when the CA file's roots
    /// do not lead to the server's certificate (it holds the same roots on Debian).
    pub capath: Option<PathBuf>,
    /// `-k`: no check of the server's certificate (a pinned key is still checked).
    pub insecure: bool,
    /// `--pinnedpubkey`: a PEM or DER public key file, or `sha256//` hashes separated by
    /// `;`.
    pub pinned: Option<String>,
    /// `--crlfile`: revoked certificates (PEM).
    pub crlfile: Option<PathBuf>,
    /// `--cert`: the client certificate chain (PEM, or DER with `cert_der`).
    pub cert: Option<PathBuf>,
    /// `--key`: its key (default: the certificate's file).
    pub key: Option<PathBuf>,
    /// `--pass` (or `--cert`'s `:PASSWORD`): the key's pass phrase, if it is encrypted.
    pub pass: Option<Passphrase>,
    /// The lowest version to speak (`--tlsv1.2`, `--tlsv1.3`; lower ones mean 1.2).
    pub min: Option<Version>,
    /// The highest (`--tls-max`).
    pub max: Option<Version>,
    /// `--ciphers`: TLS 1.2 suites by OpenSSL's names, `:`-separated.
    pub ciphers: Option<String>,
    /// `--tls13-ciphers`: TLS 1.3 suites by their RFC names, `:`-separated.
    pub tls13_ciphers: Option<String>,
    /// `--curves`: key exchange groups by OpenSSL's names, `:`-separated.
    pub curves: Option<String>,
    /// `--no-sessionid`: no session resumption.
    pub no_session_id: bool,
}

/// OpenSSL's names for the TLS 1.2 suites rustls has.
const TLS12_NAMES: &[(&str, rustls::CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The TLS 1.3 suites, by the names OpenSSL (and the RFC) give them.
const TLS13_NAMES: &[(&str, rustls::CipherSuite)] = &[
    (
        "TLS_AES_128_GCM_SHA256",
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// OpenSSL's names (and aliases) for the groups rustls has.
const GROUP_NAMES: &[(&str, rustls::NamedGroup)] = &[
    ("X25519MLKEM768", rustls::NamedGroup::X25519MLKEM768),
    ("X25519", rustls::NamedGroup::X25519),
    ("P-256", rustls::NamedGroup::secp256r1),
    ("prime256v1", rustls::NamedGroup::secp256r1),
    ("secp256r1", rustls::NamedGroup::secp256r1),
    ("P-384", rustls::NamedGroup::secp384r1),
    ("secp384r1", rustls::NamedGroup::secp384r1),
];

/// The name OpenSSL gives `suite` (what curl's `-v` prints), or rustls's.
pub fn suite_name(suite: rustls::CipherSuite) -> String {
    TLS12_NAMES
        .iter()
        .chain(TLS13_NAMES)
        .find(|(_, s)| *s == suite)
        .map_or_else(|| format!("{suite:?}"), |(n, _)| (*n).to_string())
}

/// The names in a `:`-separated list (OpenSSL also takes `,` and spaces), each looked up
/// in `table`, in the order given. A name rustls lacks is an error.
fn pick<T: Copy + PartialEq>(
    option: &'static str,
    list: &str,
    table: &[(&str, T)],
) -> Result<Vec<T>, TlsError> {
    let mut out = Vec::new();
    for name in list.split([':', ',', ' ']).filter(|n| !n.is_empty()) {
        let found = table
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v);
        match found {
            Some(v) if !out.contains(&v) => out.push(v),
            Some(_) => {}
            None => {
                let mut known: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
                known.dedup();
                return Err(TlsError::Cipher {
                    option,
                    name: name.to_string(),
                    known: known.join(", "),
                });
            }
        }
    }
    Ok(out)
}

impl ClientSettings {
    /// The CA file in use: `--cacert`, else [`SYSTEM_BUNDLE`].
    pub fn ca_file(&self) -> &Path {
        self.cafile.as_deref().unwrap_or(Path::new(SYSTEM_BUNDLE))
    }

    /// The CA folder in use: `--capath`, else [`SYSTEM_DIR`].
    pub fn ca_path(&self) -> &Path {
        self.capath.as_deref().unwrap_or(Path::new(SYSTEM_DIR))
    }

    /// The rustls configuration, with ALPN `http/1.1`. Reads the files named; their
    /// errors carry curl's exit codes.
    pub fn build(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let provider = self.provider()?;
        let versions = self.versions()?;
        let verifier = self.verifier(&provider)?;
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| TlsError::Version(format!("no TLS version left to speak: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.cert {
            None => builder.with_no_client_auth(),
            Some(cert) => {
                let bad = |path: &Path, reason: String| TlsError::ClientCert {
                    path: path.to_path_buf(),
                    reason,
                };
                let chain = read_certs(cert).map_err(|r| bad(cert, r))?;
                let key_path = self.key.as_deref().unwrap_or(cert);
                let key = read_key(key_path, self.pass.as_ref()).map_err(|e| match e {
                    KeyError::Encrypted => bad(
                        key_path,
                        "the key is encrypted: give its pass phrase with --pass".into(),
                    ),
                    e => bad(key_path, e.to_string()),
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| bad(key_path, tls_words(&e)))?
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if self.no_session_id {
            config.resumption = rustls::client::Resumption::disabled();
        }
        Ok(Arc::new(config))
    }

    fn provider(&self) -> Result<Arc<CryptoProvider>, TlsError> {
        let base = provider();
        if self.ciphers.is_none() && self.tls13_ciphers.is_none() && self.curves.is_none() {
            return Ok(base);
        }
        let mut p = (*base).clone();
        // A list names the suites of its own version only; the other version's stay.
        let keep = |p: &mut CryptoProvider, v, picked: Vec<rustls::CipherSuite>| {
            p.cipher_suites
                .retain(|s| s.version().version != v || picked.contains(&s.suite()));
        };
        if let Some(list) = &self.ciphers {
            let picked = pick("--ciphers", list, TLS12_NAMES)?;
            keep(&mut p, rustls::ProtocolVersion::TLSv1_2, picked);
        }
        if let Some(list) = &self.tls13_ciphers {
            let picked = pick("--tls13-ciphers", list, TLS13_NAMES)?;
            keep(&mut p, rustls::ProtocolVersion::TLSv1_3, picked);
        }
        if let Some(list) = &self.curves {
            let picked = pick("--curves", list, GROUP_NAMES)?;
            p.kx_groups.retain(|g| picked.contains(&g.name()));
            p.kx_groups
                .sort_by_key(|g| picked.iter().position(|n| *n == g.name()));
        }
        Ok(Arc::new(p))
    }

    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
        let min = self.min.unwrap_or(Version::Tls12).max(Version::Tls12);
        let max = self.max.unwrap_or(Version::Tls13);
        if max < Version::Tls12 {
            return Err(TlsError::Version(format!(
                "--tls-max {}: rustls speaks TLS 1.2 and 1.3 only",
                &max.to_string()[4..]
            )));
        }
        if min > max {
            return Err(TlsError::Version(format!(
                "the lowest TLS version asked for ({min}) is above the highest ({max})"
            )));
        }
        let mut out = Vec::new();
        if min <= Version::Tls12 {
            out.push(&rustls::version::TLS12);
        }
        if max >= Version::Tls13 {
            out.push(&rustls::version::TLS13);
        }
        Ok(out)
    }

    fn verifier(&self, provider: &Arc<CryptoProvider>) -> Result<Arc<Verifier>, TlsError> {
        let pins = match &self.pinned {
            Some(p) => Some(read_pins(p)?),
            None => None,
        };
        let crls = match &self.crlfile {
            None => Vec::new(),
            Some(path) => read_crls(path).map_err(|reason| TlsError::CrlFile {
                path: path.clone(),
                reason,
            })?,
        };
        let check = if self.insecure {
            None
        } else {
            let (roots, anchors) = self.roots(true)?;
            let main = web_verifier(roots, &crls, provider).map_err(|reason| TlsError::CaFile {
                path: self.ca_file().to_path_buf(),
                reason,
            })?;
            // The folder is read only when the file's roots fail: on Debian it holds the
            // same roots, one file each, and reading 140 files per run for nothing would
            // cost more than the handshake.
            let folder = (self.capath.is_some() || self.cafile.is_some()).then(|| Folder {
                path: self.ca_path().to_path_buf(),
                crls: crls.clone(),
                verifier: OnceLock::new(),
            });
            Some((main, folder, anchors))
        };
        Ok(Arc::new(Verifier {
            check,
            pins,
            provider: provider.clone(),
        }))
    }

    /// The CA file's roots (`strict`: a file that cannot be read is an error; a missing
    /// default bundle is not, when a folder may supply the roots).
    /// Also returns the certificates of the file as they are, for a server certificate that
    /// is itself one of them.
    #[allow(clippy::type_complexity)] // The store and what it was made of, at the one call.
    fn roots(
        &self,
        strict: bool,
    ) -> Result<(rustls::RootCertStore, Vec<CertificateDer<'static>>), TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        let mut anchors = Vec::new();
        let file = self.ca_file();
        let bad = |reason: String| TlsError::CaFile {
            path: file.to_path_buf(),
            reason,
        };
        match read_certs(file) {
            Ok(certs) => {
                anchors.clone_from(&certs);
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(bad("no usable CA certificate in it".into()));
                }
            }
            Err(reason) if strict && (self.cafile.is_some() || self.capath.is_none()) => {
                return Err(bad(reason));
            }
            Err(_) => {
                add_folder(&mut roots, self.ca_path());
                if roots.is_empty() {
                    return Err(TlsError::CaFile {
                        path: self.ca_path().to_path_buf(),
                        reason: "no CA certificate in it".into(),
                    });
                }
            }
        }
        Ok((roots, anchors))
    }
}

/// Every certificate in the files of `dir` (OpenSSL's hashed folders hold one per file;
/// the files are not read by hash name, all of them are).
fn add_folder(roots: &mut rustls::RootCertStore, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if let Ok(certs) = read_certs(&entry.path()) {
            roots.add_parsable_certificates(certs);
        }
    }
}

fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| io_reason(&e))?;
    if !looks_pem(&bytes) {
        return Ok(vec![CertificateRevocationListDer::from(bytes)]);
    }
    let crls = CertificateRevocationListDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if crls.is_empty() {
        return Err("no CRL in it".into());
    }
    Ok(crls)
}

fn web_verifier(
    roots: rustls::RootCertStore,
    crls: &[CertificateRevocationListDer<'static>],
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut b = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if !crls.is_empty() {
        // As curl with OpenSSL (X509_V_FLAG_CRL_CHECK_ALL): every certificate of the chain
        // is checked, and one whose issuer has no CRL in the file fails too.
        b = b.with_crls(crls.iter().cloned());
    }
    b.build().map_err(|e| e.to_string())
}

/// `--pinnedpubkey`: `sha256//` hashes separated by `;`, or a file holding a public key in
/// PEM or DER. Returns the SHA-256 of each key allowed.
fn read_pins(spec: &str) -> Result<Vec<[u8; 32]>, TlsError> {
    if spec.starts_with("sha256//") {
        let mut out = Vec::new();
        for one in spec.split(';') {
            let b64 = one.trim().strip_prefix("sha256//").ok_or_else(|| {
                TlsError::Pin(format!("--pinnedpubkey: '{one}' is not a sha256// hash"))
            })?;
            let hash = base64_decode(b64.as_bytes())
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
                .ok_or_else(|| {
                    TlsError::Pin(format!(
                        "--pinnedpubkey: '{one}' is not the base64 of a SHA-256"
                    ))
                })?;
            out.push(hash);
        }
        return Ok(out);
    }
    let bad = |reason: String| TlsError::Pin(format!("--pinnedpubkey {spec}: {reason}"));
    let bytes = std::fs::read(spec).map_err(|e| bad(io_reason(&e)))?;
    // As curl: a PUBLIC KEY in PEM, else the file is taken as DER (a certificate is not a
    // key, and matches nothing).
    let spki: Vec<u8> = if looks_pem(&bytes) {
        rustls::pki_types::SubjectPublicKeyInfoDer::from_pem_slice(&bytes)
            .map_err(|_| bad("no PUBLIC KEY in it".into()))?
            .to_vec()
    } else {
        bytes
    };
    Ok(vec![Sha256::digest(&spki).into()])
}

/// A certificate trusted as it is (it is one of the roots): valid now, and for the name.
fn trusted_as_is(
    cert: &CertificateDer<'_>,
    name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let bad = |e| Err(rustls::Error::InvalidCertificate(e));
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return bad(CertificateError::BadEncoding);
    };
    let at = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = parsed.validity();
    if at < validity.not_before.timestamp() {
        return bad(CertificateError::NotValidYet);
    }
    if at > validity.not_after.timestamp() {
        return bad(CertificateError::Expired);
    }
    let named = webpki::EndEntityCert::try_from(cert)
        .is_ok_and(|c| c.verify_is_valid_for_subject_name(name).is_ok());
    if named || common_name_is(cert, name) {
        Ok(())
    } else {
        bad(CertificateError::NotValidForName)
    }
}

/// curl's fallback for a certificate with no subjectAltName at all: its subject's common
/// name may name the host (curl checks it when the certificate lists no DNS name or IP;
/// the chain has been verified already when rustls reports a name mismatch).
fn common_name_is(cert: &CertificateDer<'_>, name: &ServerName<'_>) -> bool {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return false;
    };
    if matches!(
        parsed.tbs_certificate.subject_alternative_name(),
        Ok(Some(_)) | Err(_)
    ) {
        return false;
    }
    let host = match name {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => return false,
    };
    parsed
        .tbs_certificate
        .subject
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .any(|cn| cn.eq_ignore_ascii_case(&host))
}

/// The pinned key did not match (curl's 90); carried inside rustls's error.
#[derive(Debug)]
struct PinMismatch;

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server's public key does not match the pinned public key")
    }
}

impl std::error::Error for PinMismatch {}

/// The CA folder, read the first time the CA file's roots fail.
#[derive(Debug)]
struct Folder {
    path: PathBuf,
    crls: Vec<CertificateRevocationListDer<'static>>,
    verifier: OnceLock<Option<Arc<WebPkiServerVerifier>>>,
}

/// Checks the server: the chain and name against the roots (unless `-k`), then the pinned
/// keys.
#[derive(Debug)]
struct Verifier {
    /// The chain's verifier, the CA folder's (read when needed), and the CA file's
    /// certificates as they are.
    #[allow(clippy::type_complexity)] // Three parts of one check, named above.
    check: Option<(
        Arc<WebPkiServerVerifier>,
        Option<Folder>,
        Vec<CertificateDer<'static>>,
    )>,
    pins: Option<Vec<[u8; 32]>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some((main, folder, anchors)) = &self.check {
            let verify = |v: &WebPkiServerVerifier| {
                let result =
                    v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
                match result {
                    // A certificate that is itself in the CA file (a self-signed one made
                    // with `openssl req -x509`, which marks it a CA) is trusted as it is,
                    // as OpenSSL and so curl trust it, once its dates and name are right;
                    // webpki refuses a CA as the server's certificate.
                    Err(rustls::Error::InvalidCertificate(_))
                        if anchors.iter().any(|a| a.as_ref() == end_entity.as_ref()) =>
                    {
                        trusted_as_is(end_entity, server_name, now)
                    }
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. },
                    )) if common_name_is(end_entity, server_name) => Ok(()),
                    other => other.map(|_| ()),
                }
            };
            match (verify(main), folder) {
                (Ok(()), _) => {}
                (
                    Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
                    Some(folder),
                ) => {
                    let second = folder.verifier.get_or_init(|| {
                        let mut roots = rustls::RootCertStore::empty();
                        add_folder(&mut roots, &folder.path);
                        (!roots.is_empty())
                            .then(|| web_verifier(roots, &folder.crls, &self.provider).ok())
                            .flatten()
                    });
                    match second {
                        Some(v) => verify(v)?,
                        None => {
                            return Err(rustls::Error::InvalidCertificate(
                                CertificateError::UnknownIssuer,
                            ));
                        }
                    }
                }
                (Err(e), _) => return Err(e),
            }
        }
        if let Some(pins) = &self.pins {
            let hash: [u8; 32] = spki_of(end_entity)
                .map(|k| Sha256::digest(k).into())
                .unwrap_or_default();
            if !pins.contains(&hash) {
                return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    rustls::OtherError(Arc::new(PinMismatch)),
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// How a TLS failure counts, for curl's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The handshake failed: refused, garbled, cut off, no common version (curl's 35).
    Handshake,
    /// The server's certificate is not trusted: unknown issuer, expired, not yet valid,
    /// another host's, revoked (curl's 60).
    Untrusted,
    /// The pinned key does not match (curl's 90).
    Pinned,
}

impl Failure {
    /// curl's exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Failure::Handshake => 35,
            Failure::Untrusted => 60,
            Failure::Pinned => 90,
        }
    }
}

/// The class of a rustls error.
pub fn classify(e: &rustls::Error) -> Failure {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(o))
            if o.0.downcast_ref::<PinMismatch>().is_some() =>
        {
            Failure::Pinned
        }
        rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidCertRevocationList(_) => {
            Failure::Untrusted
        }
        _ => Failure::Handshake,
    }
}

/// A rustls error in words, as a user can act on them.
pub fn tls_words(e: &rustls::Error) -> String {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                "the server's certificate is not signed by a trusted CA (unable to get local \
                 issuer certificate)"
                    .into()
            }
            C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server's certificate is for another host name".into()
            }
            C::Revoked => "the server's certificate is revoked".into(),
            C::BadSignature | C::UnsupportedSignatureAlgorithmContext { .. } => {
                "the server's certificate has a signature that cannot be checked (a key too \
                 small, or an algorithm not supported)"
                    .into()
            }
            C::Other(o) => o.0.to_string(),
            other => format!("the server's certificate is not valid ({other:?})"),
        },
        rustls::Error::AlertReceived(a) => format!("the server sent the alert {a:?}"),
        rustls::Error::PeerIncompatible(p) => format!("no common ground with the server ({p:?})"),
        rustls::Error::InvalidMessage(_) | rustls::Error::PeerMisbehaved(_) => {
            "the server does not speak TLS, or not correctly (is it a plain-HTTP port?)".into()
        }
        other => other.to_string(),
    }
}

/// The SNI and the name the certificate is checked against: the URL's host, IP literals
/// included (rustls sends no SNI for those).
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_curl() {
        let s = |min, max| ClientSettings {
            min,
            max,
            ..ClientSettings::default()
        };
        let count = |s: ClientSettings| s.versions().map(|v| v.len());
        assert_eq!(count(s(None, None)), Ok(2));
        assert_eq!(count(s(Some(Version::Tls10), None)), Ok(2));
        assert_eq!(count(s(Some(Version::Tls13), None)), Ok(1));
        assert_eq!(count(s(None, Some(Version::Tls12))), Ok(1));
        let low = s(None, Some(Version::Tls11)).versions().unwrap_err();
        assert_eq!(low.exit_code(), 35);
        assert!(low.to_string().contains("1.2 and 1.3 only"), "{low}");
        assert!(
            s(Some(Version::Tls13), Some(Version::Tls12))
                .versions()
                .is_err()
        );
    }

    #[test]
    fn names_are_openssl_s() {
        let p = pick(
            "--ciphers",
            "ECDHE-RSA-AES128-GCM-SHA256:ecdhe-ecdsa-aes256-gcm-sha384",
            TLS12_NAMES,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        let e = pick("--curves", "X25519:brainpoolP256r1", GROUP_NAMES).unwrap_err();
        assert_eq!(e.exit_code(), 59);
        assert!(e.to_string().contains("'brainpoolP256r1'"), "{e}");
        assert_eq!(
            suite_name(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384),
            "TLS_AES_256_GCM_SHA384"
        );
    }

    #[test]
    fn pins_are_read() {
        let h = base64(&[7u8; 32]);
        let pins = read_pins(&format!("sha256//{h};sha256//{h}")).unwrap();
        assert_eq!(pins, vec![[7u8; 32]; 2]);
        let short = read_pins("sha256//AAAA").unwrap_err().to_string();
        assert!(short.contains("not the base64 of a SHA-256"), "{short}");
        assert!(matches!(
            read_pins("/no/such/pin.pem"),
            Err(TlsError::Pin(_))
        ));
    }

    #[test]
    fn unreadable_files_carry_curls_codes() {
        let missing = PathBuf::from("/no/such/file.pem");
        let ca = ClientSettings {
            cafile: Some(missing.clone()),
            ..ClientSettings::default()
        };
        assert_eq!(ca.build().unwrap_err().exit_code(), 77);
        let crl = ClientSettings {
            insecure: true,
            crlfile: Some(missing.clone()),
            ..ClientSettings::default()
        };
        assert_eq!(crl.build().unwrap_err().exit_code(), 82);
        let cert = ClientSettings {
            insecure: true,
            cert: Some(missing),
            ..ClientSettings::default()
        };
        assert_eq!(cert.build().unwrap_err().exit_code(), 58);
    }
}
