//! A test PKI, made once per run by rcgen (never fetched): a root CA and an intermediate,
//! a good server certificate for `localhost`, `127.0.0.1` and `::1` signed by the
//! intermediate, and the bad ones the TLS tests need (expired, not yet valid, another
//! host's, self-signed, from an unknown root, a CN without SAN, an RSA-1024 key, revoked
//! with its CRL), plus a client CA and a client certificate, and keys encrypted by the
//! openssl command line. All ECDSA P-256 unless named.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber, date_time_ymd,
};

/// The files of the test PKI, in one folder that lives as long as the test run.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The PKI, made on first use.
    pub fn get() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(make)
    }

    /// A file of it: `root.pem`, `chain.pem` (leaf and intermediate), `leaf.pem`,
    /// `leaf.key`, `expired.pem`, `future.pem`, `wrong.pem`, `self.pem`, `unknown.pem`,
    /// `cn_only.pem` (each with the leaf's key unless named), `leaf.pub` (its public key), `selfca.pem` with `selfca.key` (`openssl req -x509`'s
    /// self-signed certificate, marked a CA), `rsa1024.pem` with
    /// `rsa1024.key`, `revoked.pem` with `crl.pem` (the intermediate's CRL naming it, and the root's),
    /// `inter_crl.pem` (the intermediate's alone),
    /// `client_ca.pem`, `client.pem` with `client.key`; encrypted by the openssl command
    /// line under [`PASSPHRASE`] (in `key.pass`; `wrong.pass` holds another): `leaf_aes.key`
    /// (`pkcs8 -topk8 -v2 aes-256-cbc`), `leaf_scrypt.key` (`-scrypt`), `leaf_3des.key`
    /// (`-v2 des3`, as `req -newkey` writes), `leaf_legacy.key` (`pkey -aes256
    /// -traditional`: `Proc-Type: 4,ENCRYPTED`), `client_aes.key`, and `genpkey.key`
    /// (`genpkey -aes256`, RSA-2048) with its self-signed `genpkey.pem`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// [`Pki::path`] as a string, for command lines.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2099, 1, 1);
    p
}

fn leaf_params(names: &[&str], serial: u64) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2099, 1, 1);
    p.serial_number = Some(SerialNumber::from(serial));
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    p
}

fn make() -> Pki {
    let dir = crate::support::bins::artifacts_dir().join(format!("pki-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();

    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params("fetch test root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    write("root.pem", &root.pem());

    let inter_key = KeyPair::generate().unwrap();
    let inter_params = ca_params("fetch test intermediate");
    let inter = inter_params.signed_by(&inter_key, &root_issuer).unwrap();
    let inter_issuer = Issuer::new(inter_params, inter_key);

    let leaf_key = KeyPair::generate().unwrap();
    write("leaf.key", &leaf_key.serialize_pem());
    let names = ["localhost", "127.0.0.1", "::1"];
    let leaf = leaf_params(&names, 1)
        .signed_by(&leaf_key, &inter_issuer)
        .unwrap();
    write("leaf.pem", &leaf.pem());
    write("chain.pem", &format!("{}{}", leaf.pem(), inter.pem()));

    let signed = |name: &str, params: CertificateParams| {
        let cert = params.signed_by(&leaf_key, &inter_issuer).unwrap();
        write(name, &format!("{}{}", cert.pem(), inter.pem()));
    };
    let mut expired = leaf_params(&names, 2);
    expired.not_before = date_time_ymd(2020, 1, 1);
    expired.not_after = date_time_ymd(2021, 1, 1);
    signed("expired.pem", expired);
    let mut future = leaf_params(&names, 3);
    future.not_before = date_time_ymd(2090, 1, 1);
    signed("future.pem", future);
    signed("wrong.pem", leaf_params(&["other.test"], 5));
    signed("revoked.pem", leaf_params(&names, 4242));
    let mut cn_only = leaf_params(&names, 6);
    cn_only.subject_alt_names.clear();
    signed("cn_only.pem", cn_only);

    write(
        "self.pem",
        &leaf_params(&names, 7).self_signed(&leaf_key).unwrap().pem(),
    );
    let other_key = KeyPair::generate().unwrap();
    let other_params = ca_params("someone else's root");
    let other_issuer = Issuer::new(other_params, other_key);
    write(
        "unknown.pem",
        &leaf_params(&names, 8)
            .signed_by(&leaf_key, &other_issuer)
            .unwrap()
            .pem(),
    );

    // RSA-1024: rcgen makes no RSA keys (and its provider refuses 1024 bits), so openssl
    // makes the key and signs it with the intermediate.
    write("inter.pem", &inter.pem());
    write("inter.key", &inter_issuer.key().serialize_pem());
    write("rsa1024.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl (Debian package openssl) makes the RSA-1024 certificate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "rsa1024.key",
        "-out",
        "rsa1024.csr",
    ]);
    openssl(&[
        "x509", "-in", "leaf.pem", "-pubkey", "-noout", "-out", "leaf.pub",
    ]);
    // What people make with one openssl line: self-signed, and marked a CA (CA:TRUE).
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        "selfca.key",
        "-out",
        "selfca.pem",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "rsa1024.csr",
        "-CA",
        "inter.pem",
        "-CAkey",
        "inter.key",
        "-set_serial",
        "9",
        "-days",
        "3650",
        "-extfile",
        "rsa1024.ext",
        "-out",
        "rsa1024.leaf",
    ]);
    let rsa = std::fs::read_to_string(dir.join("rsa1024.leaf")).unwrap();
    write("rsa1024.pem", &format!("{rsa}{}", inter.pem()));

    let crl = CertificateRevocationListParams {
        this_update: date_time_ymd(2024, 1, 1),
        next_update: date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(4242u64),
            revocation_time: date_time_ymd(2024, 1, 1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&inter_issuer)
    .unwrap();
    // The root's CRL too (revoking nothing): curl checks every certificate of the chain.
    let root_crl = CertificateRevocationListParams {
        revoked_certs: Vec::new(),
        this_update: date_time_ymd(2024, 1, 1),
        next_update: date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&root_issuer)
    .unwrap();
    write(
        "crl.pem",
        &format!("{}{}", crl.pem().unwrap(), root_crl.pem().unwrap()),
    );
    write("inter_crl.pem", &crl.pem().unwrap());

    let client_ca_key = KeyPair::generate().unwrap();
    let client_ca_params = ca_params("fetch test clients");
    write(
        "client_ca.pem",
        &client_ca_params.self_signed(&client_ca_key).unwrap().pem(),
    );
    let client_issuer = Issuer::new(client_ca_params, client_ca_key);
    let client_key = KeyPair::generate().unwrap();
    let mut client = leaf_params(&["fetch client"], 10);
    client.subject_alt_names.clear();
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    write(
        "client.pem",
        &client.signed_by(&client_key, &client_issuer).unwrap().pem(),
    );
    write("client.key", &client_key.serialize_pem());

    // Encrypted keys, as the openssl command line writes them, under the pass phrase on the
    // first line of key.pass (which openssl's `file:` reads the same way).
    write("key.pass", &format!("{PASSPHRASE}\n"));
    write("wrong.pass", "not the pass phrase\n");
    let topk8 = |input: &str, out: &str, how: &[&str]| {
        let mut args = vec!["pkcs8", "-topk8", "-in", input, "-out", out];
        args.extend_from_slice(how);
        args.extend_from_slice(&["-passout", "file:key.pass"]);
        openssl(&args);
    };
    topk8("leaf.key", "leaf_aes.key", &["-v2", "aes-256-cbc"]);
    topk8("leaf.key", "leaf_scrypt.key", &["-scrypt"]);
    topk8("leaf.key", "leaf_3des.key", &["-v2", "des3"]);
    topk8("client.key", "client_aes.key", &["-v2", "aes-256-cbc"]);
    openssl(&[
        "pkey",
        "-in",
        "leaf.key",
        "-aes256",
        "-traditional",
        "-passout",
        "file:key.pass",
        "-out",
        "leaf_legacy.key",
    ]);
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-aes256",
        "-pass",
        "file:key.pass",
        "-out",
        "genpkey.key",
    ]);
    openssl(&[
        "req",
        "-x509",
        "-key",
        "genpkey.key",
        "-passin",
        "file:key.pass",
        "-days",
        "30",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-out",
        "genpkey.pem",
    ]);
    Pki { dir }
}

/// The pass phrase of the encrypted keys (`key.pass` holds it, and a line end).
pub const PASSPHRASE: &str = "correct horse battery";

/// The `sha256//` hash of the public key in the certificate `cert` (PEM), as openssl
/// computes it: curl's `--pinnedpubkey` form, made without the code under test.
pub fn pin_of(cert: &Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | base64",
        cert.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success());
    format!("sha256//{}", String::from_utf8_lossy(&out.stdout).trim())
}
