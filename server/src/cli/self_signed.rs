//! `--tls-self-signed`: HTTPS with no certificate of one's own. The key (ECDSA P-256, made
//! by rcgen with aws-lc-rs) is kept in the user's state folder, `$XDG_STATE_HOME/serve`
//! (else `~/.local/state/serve`), as `self-signed.key` with mode 0600, so its public-key
//! hash (what `--pinnedpubkey` and Chromium's SPKI list check) survives restarts. The
//! certificate beside it (`self-signed.pem`) names `localhost`, `127.0.0.1`, `::1` and the
//! addresses serve prints; it is made again only when those names change.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The folder the key is kept in.
pub(crate) fn state_dir() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("XDG_STATE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| from("HOME").map(|h| h.join(".local/state")))
        .map(|p| p.join("serve"))
}

/// The names a certificate for a server on `ips` carries: `localhost` and every address,
/// sorted, loopback ones always included.
pub(crate) fn names(ips: &[IpAddr]) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|s| s.to_string())
        .chain(
            ips.iter()
                .filter(|ip| !ip.is_unspecified())
                .map(IpAddr::to_string),
        )
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The certificate and key files for `names` in `dir`: the kept key (made the first
/// time), and a certificate for exactly these names (made again when they changed).
pub(crate) fn ensure(dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), String> {
    let fail =
        |what: &Path, e: std::io::Error| format!("{}: {}", what.display(), shared::io_words(&e));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail(dir, e))?;
    let key_path = dir.join("self-signed.key");
    let cert_path = dir.join("self-signed.pem");
    let key = match fs::read_to_string(&key_path) {
        Ok(pem) => {
            let mode = fs::metadata(&key_path)
                .map_err(|e| fail(&key_path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "{}: readable by others (mode {:o}); chmod 600 it, or remove it for a new key",
                    key_path.display(),
                    mode & 0o777
                ));
            }
            rcgen::KeyPair::from_pem(&pem).map_err(|e| format!("{}: {e}", key_path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .map_err(|e| fail(&key_path, e))?;
            file.write_all(key.serialize_pem().as_bytes())
                .map_err(|e| fail(&key_path, e))?;
            let _ = fs::remove_file(&cert_path);
            key
        }
        Err(e) => return Err(fail(&key_path, e)),
    };
    let current = shared::tls::read_certs(&cert_path)
        .ok()
        .and_then(|certs| certs.first().and_then(|c| shared::tls::summarize(c)))
        .map(|summary| {
            let mut have = summary.names;
            have.sort();
            have
        });
    if current.as_deref() != Some(names) {
        let mut params =
            rcgen::CertificateParams::new(names.to_vec()).map_err(|e| e.to_string())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "serve (self-signed)");
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2045, 1, 1);
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let tmp = dir.join("self-signed.pem.tmp");
        fs::write(&tmp, cert.pem()).map_err(|e| fail(&tmp, e))?;
        fs::rename(&tmp, &cert_path).map_err(|e| fail(&cert_path, e))?;
    }
    Ok((cert_path, key_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_kept_private_and_the_certificate_follows_the_names() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("serve");
        let ips: Vec<IpAddr> = vec!["192.168.1.20".parse().unwrap()];
        let (cert, key) = ensure(&state, &names(&ips)).unwrap();
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let hash = |cert: &Path| {
            let certs = shared::tls::read_certs(cert).unwrap();
            shared::tls::key_hash(&certs[0]).unwrap()
        };
        let first = hash(&cert);
        let pem = fs::read(&cert).unwrap();
        // The same names: the same certificate; other names: a new one, the same key.
        ensure(&state, &names(&ips)).unwrap();
        assert_eq!(fs::read(&cert).unwrap(), pem);
        ensure(&state, &names(&[])).unwrap();
        assert_ne!(fs::read(&cert).unwrap(), pem);
        assert_eq!(hash(&cert), first, "the key hash survives");
        let summary = shared::tls::summarize(&shared::tls::read_certs(&cert).unwrap()[0]).unwrap();
        assert!(
            summary.names.contains(&"::1".to_string()),
            "{:?}",
            summary.names
        );
        // A key others can read is refused.
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            ensure(&state, &names(&[]))
                .unwrap_err()
                .contains("readable by others")
        );
    }
}
