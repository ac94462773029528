//! Private keys read from files, for both programs (serve's `--tls-key`, fetch's `--key`):
//! PEM or DER, in PKCS#8, PKCS#1 (RSA) or SEC1 (EC), and encrypted PKCS#8 (`ENCRYPTED
//! PRIVATE KEY`: PBES2, a key derived by PBKDF2 with HMAC-SHA-2 or by scrypt, then AES-CBC
//! or DES-EDE3-CBC; what `openssl pkcs8 -topk8 -v2 aes-256-cbc`, `openssl genpkey -aes256`
//! and `openssl req -newkey` write),
//! decrypted with a [`Passphrase`]. OpenSSL's legacy encrypted PEM (`Proc-Type:
//! 4,ENCRYPTED`: a key derived by one round of MD5) is refused with the command that
//! converts it.

use std::fmt;
use std::io::Read;
use std::path::Path;

use pkcs8::EncryptedPrivateKeyInfo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::text::base64_decode;

/// A private key's pass phrase. Its bytes never show in `Debug` output.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Passphrase(Vec<u8>);

/// The most of a password file that is read: a pass phrase is one line.
const PASSWORD_FILE_CAP: u64 = 64 * 1024;

impl Passphrase {
    /// The pass phrase `bytes`, as given (curl's `--pass`).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Passphrase {
        Passphrase(bytes.into())
    }

    /// The pass phrase on the first line of `path`, without its line end (`\n` or
    /// `\r\n`); what follows that line is ignored. A file that cannot be read, or whose
    /// first line is empty, is an error in words.
    pub fn from_file(path: &Path) -> Result<Passphrase, String> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(PASSWORD_FILE_CAP).read_to_end(&mut bytes))
            .map_err(|e| crate::error::io_words(&e))?;
        let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Err("no pass phrase on its first line".into());
        }
        Ok(Passphrase(line.to_vec()))
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// Why a key file gave no key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The file cannot be read, or holds no key: why, in words.
    Unreadable(String),
    /// The key is encrypted, and no pass phrase was given.
    Encrypted,
    /// The pass phrase does not decrypt the key.
    WrongPassphrase,
    /// The key is encrypted in OpenSSL's legacy PEM form (`Proc-Type: 4,ENCRYPTED`).
    Legacy,
    /// The key is encrypted with a scheme not read here: which, in words.
    Scheme(String),
}

/// The command that rewrites a key as encrypted PKCS#8 with PBKDF2 and AES-256-CBC.
const CONVERT: &str = "openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW";

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unreadable(why) => f.write_str(why),
            KeyError::Encrypted => f.write_str("the key is encrypted and no pass phrase was given"),
            KeyError::WrongPassphrase => {
                f.write_str("wrong pass phrase: the key does not decrypt with it")
            }
            KeyError::Legacy => write!(
                f,
                "the key is encrypted in OpenSSL's legacy PEM form (Proc-Type: 4,ENCRYPTED), \
                 which is not read: convert it to encrypted PKCS#8 with {CONVERT}"
            ),
            KeyError::Scheme(what) => write!(
                f,
                "the key is encrypted with {what}, which is not read here (PBES2 with PBKDF2 \
                 over SHA-2 or scrypt, and AES-CBC or 3DES, is): convert it with {CONVERT}"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Whether `bytes` hold PEM (a `-----BEGIN` line, after blanks or other text).
pub(super) fn looks_pem(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"-----BEGIN") || bytes.windows(10).any(|w| w == b"-----BEGIN")
}

/// Reads a private key from `path`: PEM in PKCS#8, PKCS#1 (RSA) or SEC1 (EC) form, or the
/// same as DER; an encrypted PKCS#8 key (PEM or DER) is decrypted with `pass`.
pub fn read_key(
    path: &Path,
    pass: Option<&Passphrase>,
) -> Result<PrivateKeyDer<'static>, KeyError> {
    let bytes =
        std::fs::read(path).map_err(|e| KeyError::Unreadable(crate::error::io_words(&e)))?;
    key_from(&bytes, pass)
}

fn key_from(bytes: &[u8], pass: Option<&Passphrase>) -> Result<PrivateKeyDer<'static>, KeyError> {
    if !looks_pem(bytes) {
        if let Ok(info) = EncryptedPrivateKeyInfo::try_from(bytes) {
            return decrypt(&info, pass);
        }
        return PrivateKeyDer::try_from(bytes.to_vec())
            .map_err(|e| KeyError::Unreadable(format!("not a key in DER: {e}")));
    }
    if let Some(der) = pem_block(bytes, "ENCRYPTED PRIVATE KEY") {
        let der = der.ok_or_else(|| {
            KeyError::Unreadable("bad PEM: the ENCRYPTED PRIVATE KEY is not base64".into())
        })?;
        let info = EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| KeyError::Scheme(format!("an unknown scheme ({e})")))?;
        return decrypt(&info, pass);
    }
    if contains(bytes, b"Proc-Type: 4,ENCRYPTED") {
        return Err(KeyError::Legacy);
    }
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| {
        KeyError::Unreadable(match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no private key in it".into(),
            e => format!("bad PEM: {e}"),
        })
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bytes of the first PEM block labelled `label`: `None` when there is none, `Some(None)`
/// when its base64 is broken or it has no end line.
fn pem_block(bytes: &[u8], label: &str) -> Option<Option<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = bytes
        .windows(begin.len())
        .position(|w| w == begin.as_bytes())?
        + begin.len();
    let rest = &bytes[start..];
    let Some(stop) = rest.windows(end.len()).position(|w| w == end.as_bytes()) else {
        return Some(None);
    };
    let text: Vec<u8> = rest[..stop]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    Some(base64_decode(&text))
}

/// Decrypts `info` with `pass` into a PKCS#8 key. AES-CBC's padding, then the key's own
/// structure, tell a wrong pass phrase.
fn decrypt(
    info: &EncryptedPrivateKeyInfo<'_>,
    pass: Option<&Passphrase>,
) -> Result<PrivateKeyDer<'static>, KeyError> {
    let pass = pass.ok_or(KeyError::Encrypted)?;
    let plain = info.decrypt(&pass.0).map_err(|e| match e {
        // Bad padding after AES-CBC (pkcs5 0.7 names it EncryptFailed).
        pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
        ) => KeyError::WrongPassphrase,
        pkcs8::Error::EncryptedPrivateKey(e) => KeyError::Scheme(scheme_words(info, &e)),
        // Decrypted, but not DER: the padding happened to look right.
        _ => KeyError::WrongPassphrase,
    })?;
    if pkcs8::PrivateKeyInfo::try_from(plain.as_bytes()).is_err() {
        return Err(KeyError::WrongPassphrase);
    }
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

fn scheme_words(info: &EncryptedPrivateKeyInfo<'_>, e: &pkcs8::pkcs5::Error) -> String {
    match &info.encryption_algorithm {
        pkcs8::pkcs5::EncryptionScheme::Pbes2(_) => format!("a PBES2 variant ({e})"),
        _ => "PBES1 (PKCS#5 v1.5)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_is_the_first_line_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, b"s3cret word\r\nsecond line\n").unwrap();
        let pass = Passphrase::from_file(&file).unwrap();
        assert_eq!(pass, Passphrase::new("s3cret word"));
        assert_eq!(format!("{pass:?}"), "Passphrase(..)");
        std::fs::write(&file, b"\nafter a blank line\n").unwrap();
        assert!(Passphrase::from_file(&file).is_err());
        let missing = Passphrase::from_file(&dir.path().join("none")).unwrap_err();
        assert!(missing.contains("no such file"), "{missing}");
    }

    #[test]
    fn encrypted_forms_are_told_apart() {
        let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                       DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n\
                       -----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            key_from(legacy, Some(&Passphrase::new("x"))),
            Err(KeyError::Legacy)
        );
        assert!(
            KeyError::Legacy
                .to_string()
                .contains("openssl pkcs8 -topk8")
        );
        let broken = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n!!!!\n\
                       -----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(
            key_from(broken, None),
            Err(KeyError::Unreadable(_))
        ));
        let cut = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n";
        assert!(matches!(key_from(cut, None), Err(KeyError::Unreadable(_))));
    }
}
