//! `serve --tls-cert` against the clients people use: curl (TLS 1.2 and 1.3, resumption),
//! wget, python's urllib, `openssl s_client`, and fetch pinned to the key hash serve prints;
//! then every feature over HTTPS (ranges, conditions, precompressed and on-the-fly
//! encodings, JSON listings, --auth, --upload, archives, Repr-Digest, --watch's stream),
//! and a plain-HTTP request on the HTTPS port redirected.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{noise, program, put, run, same_bytes, temp_dir};
use crate::fetch::fetch;
use crate::support::pki::{Pki, pin_of};
use crate::support::serve::Serve;

/// `serve --tls-cert chain.pem --tls-key leaf.key` (the test PKI's leaf, for `localhost`,
/// `127.0.0.1` and `::1`, under its intermediate) on port 0, with `extra` flags.
pub(super) fn serve_https(root: &Path, extra: &[&str]) -> Serve {
    let pki = Pki::get();
    let (cert, key) = (pki.arg("chain.pem"), pki.arg("leaf.key"));
    let mut args = vec!["-p", "0", "--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    args.push(root.to_str().unwrap());
    Serve::start(&args)
}

/// The key hash serve printed after its first line.
pub(super) fn printed_hash(s: &Serve) -> String {
    let line = s.wait_log("the key hash", |l| l.contains("sha256//"));
    let at = line.find("sha256//").unwrap();
    line[at..].split_whitespace().next().unwrap().to_string()
}

fn curl_out(curl: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = run(Command::new(curl).args(args), Duration::from_secs(30));
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn real_clients_download_over_https() {
    let Some(curl) = program("curl", "curl") else {
        return;
    };
    let site = temp_dir("peers https \u{e9} ");
    let big = noise(3_000_000, 23);
    put(site.path(), "big file.bin", &big);
    put(site.path(), "hello.txt", b"hello over tls\n");
    let s = serve_https(site.path(), &[]);
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let pki = Pki::get();
    let root = pki.arg("root.pem");
    let port = s.addr().port();
    let url = |path: &str| format!("https://localhost:{port}/{path}");

    for version in [
        ["--tlsv1.2", "--tls-max", "1.2"],
        ["--tlsv1.3", "--tls-max", "1.3"],
    ] {
        let mut args = vec!["-sS", "--cacert", &root];
        args.extend_from_slice(&version);
        let want = url("big%20file.bin");
        args.extend_from_slice(&["-w", "%{http_version} %{scheme}", "-o", "-", &want]);
        let (ok, out, err) = curl_out(&curl, &args);
        assert!(ok, "curl {version:?}: {err}");
        same_bytes("curl's download", &big, &out[..big.len()]);
        assert_eq!(&out[big.len()..], b"1.1 HTTPS", "{version:?}");
    }

    // fetch, trusting nothing but the key hash serve printed.
    let hash = printed_hash(&s);
    let r = fetch(&["-sS", "-k", "--pinnedpubkey", &hash, &url("hello.txt")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"hello over tls\n");
    // ... and another key hash is refused (curl's exit 90).
    let wrong = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_eq!(
        fetch(&["-sS", "-k", "--pinnedpubkey", wrong, &url("hello.txt")]).code,
        90
    );
    // The same hash as curl's --pinnedpubkey takes it.
    let (ok, out, err) = curl_out(
        &curl,
        &[
            "-sS",
            "--cacert",
            &root,
            "--pinnedpubkey",
            &hash,
            &url("hello.txt"),
        ],
    );
    assert!(ok && out == b"hello over tls\n", "{err}");

    if let Some(wget) = program("wget", "wget") {
        let out = run(
            Command::new(wget).args([
                "-q",
                "-O",
                "-",
                "--ca-certificate",
                &root,
                &url("hello.txt"),
            ]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"hello over tls\n");
    }

    let python = format!(
        "import ssl,urllib.request\n\
         c=ssl.create_default_context(cafile={root:?})\n\
         r=urllib.request.urlopen({:?},context=c)\n\
         import sys; sys.stdout.buffer.write(r.read())",
        url("big%20file.bin")
    );
    let out = run(
        Command::new("python3").args(["-c", &python]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    same_bytes("urllib's download", &big, &out.stdout);

    // openssl s_client: the chain verifies, ALPN http/1.1; a second connection resumes
    // (TLS 1.2 by session ID or ticket, TLS 1.3 by ticket).
    if let Some(openssl) = program("openssl", "openssl") {
        let dir = temp_dir("s_client");
        for v in ["-tls1_2", "-tls1_3"] {
            let sess = dir.path().join(format!("sess{v}"));
            let sess = sess.to_str().unwrap();
            let connect = format!("localhost:{port}");
            let s_client = |extra: &[&str]| {
                let mut cmd = Command::new(&openssl);
                cmd.args(["s_client", "-connect", &connect, "-servername", "localhost"])
                    .args([
                        "-CAfile",
                        &root,
                        "-verify_return_error",
                        "-alpn",
                        "http/1.1",
                        v,
                    ])
                    .args(["-ign_eof"])
                    .args(extra);
                let child = super::Child::start_with_input(
                    "openssl",
                    &mut cmd,
                    b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                );
                let out = child.finish(Duration::from_secs(30));
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            let first = s_client(&["-sess_out", sess]);
            assert!(first.contains("Verify return code: 0 (ok)"), "{v}: {first}");
            assert!(first.contains("ALPN protocol: http/1.1"), "{v}: {first}");
            assert!(first.contains("hello over tls"), "{v}: {first}");
            let again = s_client(&["-sess_in", sess]);
            assert!(again.contains("\nReused, "), "{v} resumes: {again}");
        }
    }
}

#[test]
fn every_feature_works_over_https() {
    let Some(curl) = program("curl", "curl") else {
        return;
    };
    let site = temp_dir("peers https features ");
    put(site.path(), "notes.txt", "text ".repeat(2000).as_bytes());
    put(site.path(), "pre.txt", b"plain one");
    put(site.path(), "pre.txt.gz", b"pretend gzip");
    // At most 1 MiB: hashed at once, so its first response carries Repr-Digest.
    let big = noise(1_000_000, 5);
    put(site.path(), "sub/big.bin", &big);
    let s = serve_https(
        site.path(),
        &[
            "--auth",
            "u:p",
            "--upload",
            "--archive",
            "--compress",
            "--watch",
            "--digest",
        ],
    );
    let root = Pki::get().arg("root.pem");
    let port = s.addr().port();
    let url = |path: &str| format!("https://localhost:{port}/{path}");
    let get = |args: &[&str]| {
        let mut all = vec!["-sS", "--cacert", &root, "-u", "u:p"];
        all.extend_from_slice(args);
        curl_out(&curl, &all)
    };

    // --auth: no warning about clear text (the line goes to stderr before the first line).
    assert!(!s.stderr().contains("in the clear"), "{}", s.stderr());
    let (_, out, _) = curl_out(
        &curl,
        &[
            "-sS",
            "--cacert",
            &root,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url(""),
        ],
    );
    assert_eq!(out, b"401");

    // A range, and the whole file's Repr-Digest beside it.
    let (ok, out, err) = get(&["-i", "-r", "100-199", &url("sub/big.bin")]);
    assert!(ok, "{err}");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 206"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("repr-digest: sha-256=:"),
        "{text}"
    );
    assert!(out.ends_with(&big[100..200]));

    // Conditional: the ETag back gives 304.
    let (_, out, _) = get(&["-sI", &url("sub/big.bin")]);
    let head = String::from_utf8_lossy(&out).to_string();
    let etag = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("ETag: ")
                .or_else(|| l.strip_prefix("etag: "))
        })
        .expect("an ETag")
        .trim()
        .to_string();
    let (_, out, _) = get(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("If-None-Match: {etag}"),
        &url("sub/big.bin"),
    ]);
    assert_eq!(out, b"304");

    // Precompressed sibling, and an encoding made on the fly.
    let (_, out, _) = get(&["-H", "Accept-Encoding: gzip", &url("pre.txt")]);
    assert_eq!(out, b"pretend gzip");
    let (ok, out, err) = get(&[
        "--compressed",
        "-w",
        "\n%{size_download}",
        &url("notes.txt"),
    ]);
    assert!(ok, "{err}");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with(&"text ".repeat(2000)), "decoded");
    let wire: usize = text.rsplit('\n').next().unwrap().parse().unwrap();
    assert!(wire < 2000, "compressed on the wire: {wire}");

    // The JSON listing.
    let (_, out, _) = get(&["-H", "Accept: application/json", &url("sub/")]);
    assert!(
        String::from_utf8_lossy(&out).contains("\"big.bin\""),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // An upload, then read back.
    let up = noise(300_000, 9);
    let spool = temp_dir("upload");
    let file = spool.path().join("up.bin");
    std::fs::write(&file, &up).unwrap();
    let (ok, out, err) = get(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-T",
        file.to_str().unwrap(),
        &url("up.bin"),
    ]);
    assert!(
        ok && out == b"201",
        "{err} {}",
        String::from_utf8_lossy(&out)
    );
    same_bytes(
        "uploaded",
        &up,
        &std::fs::read(site.path().join("up.bin")).unwrap(),
    );

    // A folder's archive (a pipe, read and sealed over TLS).
    let (ok, out, err) = get(&[&url("sub/?download=tar")]);
    assert!(ok, "{err}");
    assert!(
        out.windows(7).any(|w| w == b"big.bin"),
        "the tar names the file"
    );
    let at = out
        .windows(64)
        .position(|w| w == &big[..64])
        .expect("the file's bytes");
    same_bytes("the archived file", &big, &out[at..at + big.len()]);

    // --watch's event stream over TLS: the greeting, then an event after an edit.
    let mut sse = std::process::Command::new(&curl)
        .args([
            "-sSN",
            "--cacert",
            &root,
            "-u",
            "u:p",
            &url("%00serve-reload"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = sse.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains(": watching") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    std::fs::File::create(site.path().join("page.html"))
        .unwrap()
        .write_all(b"<p>changed")
        .unwrap();
    while !String::from_utf8_lossy(&got).contains("event: reload") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let _ = sse.kill();
    let _ = sse.wait();
}

#[test]
fn plain_http_on_the_https_port_is_redirected() {
    let site = temp_dir("peers https redirect ");
    put(site.path(), "a b.txt", b"x");
    let s = serve_https(site.path(), &[]);
    let mut c = s.connect();
    let r = crate::support::serve::request(
        &mut c,
        "GET /a%20b.txt?q=1 HTTP/1.1\r\nHost: localhost:8443\r\n\r\n",
    );
    assert_eq!(r.status, 301);
    let location = r
        .headers
        .iter()
        .find(|(n, _)| n == "location")
        .map(|(_, v)| v.as_str());
    assert_eq!(location, Some("https://localhost:8443/a%20b.txt?q=1"));
    let mut c = s.connect();
    let r = crate::support::serve::request(
        &mut c,
        "PUT /x HTTP/1.1\r\nHost: [::1]:8443\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 308);
    // No usable Host: nowhere to send it.
    let mut c = s.connect();
    let r = crate::support::serve::request(&mut c, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 400);
    if let Some(curl) = program("curl", "curl") {
        let root = Pki::get().arg("root.pem");
        let port = s.addr().port();
        let (ok, out, err) = curl_out(
            &curl,
            &[
                "-sSL",
                "--cacert",
                &root,
                &format!("http://localhost:{port}/a%20b.txt"),
            ],
        );
        assert!(ok && out == b"x", "{err}");
    }
}

/// The serial number of the certificate a new TLS connection to `port` is shown
/// (`openssl s_client`, then `openssl x509 -serial`).
fn served_serial(openssl: &Path, port: u16) -> String {
    let connect = format!("127.0.0.1:{port}");
    let hello = run(
        Command::new(openssl)
            .args(["s_client", "-connect", &connect])
            .stdin(std::process::Stdio::null()),
        Duration::from_secs(30),
    );
    let parse = super::Child::start_with_input(
        "openssl x509",
        Command::new(openssl).args(["x509", "-noout", "-serial"]),
        &hello.stdout,
    )
    .finish(Duration::from_secs(30));
    String::from_utf8_lossy(&parse.stdout).trim().to_string()
}

/// A self-signed certificate for localhost with `serial`, and its new key, as PEM.
fn pair_with_serial(serial: u64) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

/// `serve -q --tls-cert CERT --tls-key KEY` with `extra` flags, serving `root` on port 0.
fn serve_pair(cert: &Path, key: &Path, extra: &[&str], root: &Path) -> Serve {
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut args = vec!["-p", "0", "-q", "--tls-cert", cert, "--tls-key", key];
    args.extend_from_slice(extra);
    args.push(root.to_str().unwrap());
    Serve::start(&args)
}

/// Replaces `path` at once (a rename), as certbot and mounted secrets do.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_ignored() {
    let Some(openssl) = program("openssl", "openssl") else {
        return;
    };
    let Some(curl) = program("curl", "curl") else {
        return;
    };
    let site = temp_dir("peers https renewal ");
    put(site.path(), "a.txt", b"still here");
    let certs = temp_dir("renewal certs");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let (c, k) = pair_with_serial(0x1111);
    std::fs::write(&cert, c).unwrap();
    std::fs::write(&key, k).unwrap();
    let s = serve_pair(&cert, &key, &[], site.path());
    let port = s.addr().port();
    assert_eq!(served_serial(&openssl, port), "serial=1111");

    // Requests keep going on new connections while the pair is replaced: none fails.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, curl) = (stop.clone(), curl.clone());
        let url = format!("https://localhost:{port}/a.txt");
        std::thread::spawn(move || {
            let mut done = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) || done < 5 {
                let out = run(
                    Command::new(&curl).args(["-sSk", &url]),
                    Duration::from_secs(30),
                );
                assert_eq!(
                    out.stdout,
                    b"still here",
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                done += 1;
            }
            done
        })
    };
    let (c, k) = pair_with_serial(0x2222);
    replace(&key, &k);
    replace(&cert, &c);
    super::wait_for(
        "the new serial on new handshakes",
        Duration::from_secs(20),
        || (served_serial(&openssl, port) == "serial=2222").then_some(()),
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let done = load.join().expect("no request failed during the renewal");
    assert!(done >= 5);

    // A broken pair (a certificate without its key) changes nothing and says so once.
    let (c, _) = pair_with_serial(0x3333);
    replace(&cert, &c);
    let err = super::wait_for("the broken pair reported", Duration::from_secs(20), || {
        let err = s.stderr();
        err.contains("still serving the previous one")
            .then_some(err)
    });
    assert_eq!(
        err.matches("still serving the previous one").count(),
        1,
        "{err}"
    );
    assert_eq!(served_serial(&openssl, port), "serial=2222");
}

#[test]
fn a_self_signed_certificate_is_made_kept_and_checked_by_its_printed_hash() {
    let site = temp_dir("peers https self-signed ");
    put(site.path(), "a.txt", b"pinned");
    let state = temp_dir("state home");
    let start = || {
        Serve::start_cmd(
            Command::new(crate::support::bin("serve"))
                .args([
                    "-p",
                    "0",
                    "--tls-self-signed",
                    site.path().to_str().unwrap(),
                ])
                .env("XDG_STATE_HOME", state.path()),
        )
    };
    let s = start();
    let hash = printed_hash(&s);
    s.wait_log("the curl line", |l| l.contains("curl --pinnedpubkey"));
    let lines = s.log();
    let line = |tool: &str| {
        lines
            .iter()
            .find(|l| {
                l.trim_start()
                    .starts_with(&format!("{tool} --pinnedpubkey"))
            })
            .unwrap_or_else(|| panic!("no {tool} line: {lines:?}"))
            .trim()
            .to_string()
    };
    let fetch_line = line("fetch");
    assert_eq!(
        fetch_line,
        format!("fetch --pinnedpubkey '{hash}' -k {}", s.url)
    );
    // The printed lines, run as printed (by a shell), get the file.
    let sh = |line: &str, bin_dir: &Path| {
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run(
            Command::new("sh")
                .args(["-c", &format!("{line}a.txt")])
                .env("PATH", path),
            Duration::from_secs(30),
        )
    };
    let bins = crate::support::bin("fetch");
    let out = sh(&fetch_line, bins.parent().unwrap());
    assert_eq!(
        out.stdout,
        b"pinned",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if program("curl", "curl").is_some() {
        let out = sh(&line("curl"), bins.parent().unwrap());
        assert_eq!(
            out.stdout,
            b"pinned",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The key is private and kept: a restart shows the same hash.
    let key = state.path().join("serve/self-signed.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    drop(s);
    let again = start();
    assert_eq!(
        printed_hash(&again),
        hash,
        "the fingerprint survives a restart"
    );
}

/// `--tls-password-file`: keys the openssl command line encrypted (PBKDF2 and AES-256,
/// scrypt, 3DES, `genpkey -aes256`'s RSA) are decrypted at the start: serve prints the
/// certificate's own key hash (as openssl computes it) and curl, checking the chain, gets
/// the file.
#[test]
fn encrypted_keys_are_decrypted_with_the_password_file() {
    let Some(curl) = program("curl", "curl") else {
        return;
    };
    let site = temp_dir("peers https encrypted ");
    put(site.path(), "a.txt", b"decrypted");
    let pki = Pki::get();
    let pass = pki.arg("key.pass");
    let cases = [
        ("chain.pem", "leaf_aes.key", "root.pem"),
        ("chain.pem", "leaf_scrypt.key", "root.pem"),
        ("chain.pem", "leaf_3des.key", "root.pem"),
        ("genpkey.pem", "genpkey.key", "genpkey.pem"),
    ];
    for (cert, key, ca) in cases {
        let s = Serve::start(&[
            "-p",
            "0",
            "--tls-cert",
            &pki.arg(cert),
            "--tls-key",
            &pki.arg(key),
            "--tls-password-file",
            &pass,
            site.path().to_str().unwrap(),
        ]);
        assert_eq!(printed_hash(&s), pin_of(&pki.path(cert)), "{key}");
        let url = format!("https://localhost:{}/a.txt", s.addr().port());
        let (ok, out, err) = curl_out(&curl, &["-sS", "--cacert", &pki.arg(ca), &url]);
        assert!(ok && out == b"decrypted", "{key}: {err}");
    }
}

/// A key that cannot be used stops serve at the start: one `serve:` line saying why, exit 2,
/// never a panic.
#[test]
fn a_key_that_cannot_be_decrypted_is_one_line_and_exit_2() {
    let pki = Pki::get();
    let site = temp_dir("peers https bad key ");
    let (chain, pass, wrong) = (
        pki.arg("chain.pem"),
        pki.arg("key.pass"),
        pki.arg("wrong.pass"),
    );
    let (aes, legacy) = (pki.arg("leaf_aes.key"), pki.arg("leaf_legacy.key"));
    let genpkey = pki.arg("genpkey.key");
    let missing = site.path().join("no such.pass");
    let missing = missing.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--tls-key", &aes],
            "the key is encrypted: give its pass phrase with --tls-password-file FILE",
        ),
        (
            &["--tls-key", &aes, "--tls-password-file", &wrong],
            "wrong pass phrase: the key does not decrypt with it",
        ),
        (
            &["--tls-key", &aes, "--tls-password-file", missing],
            &format!("--tls-password-file {missing}: no such file or directory"),
        ),
        (
            &["--tls-key", &legacy, "--tls-password-file", &pass],
            "legacy PEM form (Proc-Type: 4,ENCRYPTED), which is not read: convert it to \
             encrypted PKCS#8 with openssl pkcs8 -topk8",
        ),
        (
            &["--tls-key", &genpkey, "--tls-password-file", &pass],
            "is not the key of the certificate in",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["-p", "0", "--tls-cert", &chain];
        args.extend_from_slice(flags);
        args.push(site.path().to_str().unwrap());
        let out = run(
            Command::new(crate::support::bin("serve")).args(&args),
            Duration::from_secs(30),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(
            err.starts_with("serve: ") && err.lines().count() == 1 && err.contains(want),
            "{flags:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{flags:?}: nothing served");
    }
}

/// `openssl pkcs8 -topk8 -v2 aes-256-cbc` of `key` (PEM), under the pass phrase in `pass`.
fn encrypted(openssl: &Path, key: &str, pass: &Path) -> String {
    let passout = format!("file:{}", pass.display());
    let out = super::Child::start_with_input(
        "openssl pkcs8",
        Command::new(openssl).args([
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            &passout,
        ]),
        key.as_bytes(),
    )
    .finish(Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A renewed encrypted key is decrypted with the pass phrase read at the start; one
/// encrypted under another pass phrase changes nothing and is reported.
#[test]
fn a_renewed_encrypted_key_is_read_with_the_same_pass_phrase() {
    let Some(openssl) = program("openssl", "openssl") else {
        return;
    };
    let pki = Pki::get();
    let (pass, wrong) = (pki.path("key.pass"), pki.path("wrong.pass"));
    let site = temp_dir("peers https encrypted renewal ");
    let certs = temp_dir("encrypted renewal certs");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let (c, k) = pair_with_serial(0x1111);
    std::fs::write(&cert, c).unwrap();
    std::fs::write(&key, encrypted(&openssl, &k, &pass)).unwrap();
    let s = serve_pair(
        &cert,
        &key,
        &["--tls-password-file", pass.to_str().unwrap()],
        site.path(),
    );
    let port = s.addr().port();
    assert_eq!(served_serial(&openssl, port), "serial=1111");

    let (c, k) = pair_with_serial(0x2222);
    replace(&key, &encrypted(&openssl, &k, &pass));
    replace(&cert, &c);
    super::wait_for(
        "the renewed pair, its key decrypted",
        Duration::from_secs(20),
        || (served_serial(&openssl, port) == "serial=2222").then_some(()),
    );

    let (c, k) = pair_with_serial(0x3333);
    replace(&key, &encrypted(&openssl, &k, &wrong));
    replace(&cert, &c);
    let err = super::wait_for(
        "the undecryptable key reported",
        Duration::from_secs(20),
        || {
            let err = s.stderr();
            err.contains("still serving the previous one")
                .then_some(err)
        },
    );
    assert!(err.contains("wrong pass phrase"), "{err}");
    assert_eq!(served_serial(&openssl, port), "serial=2222");
}
