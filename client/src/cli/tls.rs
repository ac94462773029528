//! curl's TLS options read into [`shared::tls::ClientSettings`], with curl's variables for
//! the CA certificates (`CURL_CA_BUNDLE`, `SSL_CERT_FILE`, `SSL_CERT_DIR`).

use std::path::PathBuf;

use shared::tls::{ClientSettings, Passphrase, Version};

use crate::cli::args::Args;
use crate::error::{Error, TlsKind};

/// The TLS settings of `args`. Files are not read here: only when an `https://` URL needs
/// them, as curl does (a bad `--cacert` does not fail an `http://` transfer).
pub(crate) fn settings(args: &Args) -> Result<ClientSettings, Error> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let (mut cafile, mut capath) = (
        args.cacert.as_ref().map(PathBuf::from),
        args.capath.as_ref().map(PathBuf::from),
    );
    // curl's tool reads these only when neither option is given and the server is checked:
    // CURL_CA_BUNDLE first; else SSL_CERT_DIR and SSL_CERT_FILE.
    if cafile.is_none() && capath.is_none() && !args.insecure {
        match env("CURL_CA_BUNDLE") {
            Some(bundle) => cafile = Some(bundle),
            None => {
                capath = env("SSL_CERT_DIR");
                cafile = env("SSL_CERT_FILE");
            }
        }
    }
    let min = [
        (args.tlsv1_3, Version::Tls13),
        (args.tlsv1_2, Version::Tls12),
        (args.tlsv1_1, Version::Tls11),
        (args.tlsv1_0 || args.tlsv1, Version::Tls10),
    ]
    .into_iter()
    .find_map(|(on, v)| on.then_some(v));
    let max = match args.tls_max.as_deref() {
        None | Some("default") => None,
        Some(v) => Some(Version::parse(v).ok_or_else(|| {
            Error::Usage(format!(
                "--tls-max: '{v}' is not a TLS version (1.0, 1.1, 1.2, 1.3 or default)"
            ))
        })?),
    };
    for (option, kind) in [
        ("--cert-type", &args.cert_type),
        ("--key-type", &args.key_type),
    ] {
        if let Some(t) = kind
            && !(t.eq_ignore_ascii_case("PEM") || t.eq_ignore_ascii_case("DER"))
        {
            return Err(Error::Tls {
                peer: None,
                kind: TlsKind::ClientCert,
                reason: format!(
                    "{option} {t}: fetch reads PEM and DER only (convert a PKCS#12 file with \
                     openssl pkcs12 -nodes)"
                ),
            });
        }
    }
    let (cert, cert_pass) = match args.cert.as_deref().map(cert_file) {
        Some((file, pass)) => (Some(file), pass),
        None => (None, None),
    };
    // --pass wins over a pass phrase after --cert's colon.
    let pass = args.pass.clone().or(cert_pass).map(Passphrase::new);
    Ok(ClientSettings {
        cafile,
        capath,
        insecure: args.insecure,
        pinned: args.pinnedpubkey.clone(),
        crlfile: args.crlfile.as_ref().map(PathBuf::from),
        cert,
        key: args.key.as_ref().map(PathBuf::from),
        pass,
        min,
        max,
        ciphers: args.ciphers.clone(),
        tls13_ciphers: args.tls13_ciphers.clone(),
        curves: args.curves.clone(),
        no_session_id: args.no_sessionid,
    })
}

/// curl's `--cert CERT[:PASSWORD]`: the file, and the key's pass phrase after a `:` (`\:`
/// is a colon of the name). A name that exists as given is taken whole.
fn cert_file(spec: &str) -> (PathBuf, Option<String>) {
    if std::path::Path::new(spec).exists() {
        return (PathBuf::from(spec), None);
    }
    let mut name = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => name.extend(chars.next()),
            ':' => return (PathBuf::from(name), Some(chars.collect())),
            c => name.push(c),
        }
    }
    (PathBuf::from(name), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_names_as_curl_reads_them() {
        let file = |name: &str, pass: Option<&str>| (PathBuf::from(name), pass.map(String::from));
        assert_eq!(cert_file("client.pem"), file("client.pem", None));
        assert_eq!(
            cert_file("client.pem:secret"),
            file("client.pem", Some("secret"))
        );
        assert_eq!(cert_file("a\\:b.pem:p:w"), file("a:b.pem", Some("p:w")));
    }
}
