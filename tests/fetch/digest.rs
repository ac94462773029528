//! Verified downloads between our two programs (RFC 9530, issue 18): fetch checks the
//! `Repr-Digest` serve sends, over the whole file when it resumes one (`-C -`); and
//! `--checksum` for a server that sends none.

use shared::digest::Algorithm;

use super::fetch_in;
use crate::support::serve::Serve;
use crate::support::{noise, put, temp_dir};

fn serve(dir: &tempfile::TempDir, extra: &[&str]) -> Serve {
    let mut args = vec!["-q", "-p", "0"];
    args.extend_from_slice(extra);
    args.push(dir.path().to_str().unwrap());
    Serve::start(&args)
}

#[test]
fn fetch_checks_serves_digest_over_the_whole_file_when_resuming() {
    let site = temp_dir("digest site");
    let data = noise(600 * 1024, 21);
    put(site.path(), "f.bin", &data);
    let s = serve(&site, &["--digest"]);
    let url = format!("{}f.bin", s.url);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let part = dir.path().join("out.part");
    // Whole, and resumed from a good part: the same bytes.
    fetch_in(dir.path(), &["-sS", "-o", "out", &url]).code(0);
    assert!(std::fs::read(&out).unwrap() == data);
    std::fs::remove_file(&out).unwrap();
    std::fs::write(&part, &data[..250_000]).unwrap();
    fetch_in(dir.path(), &["-sS", "-C", "-", "-o", "out", &url]).code(0);
    assert!(std::fs::read(&out).unwrap() == data);
    std::fs::remove_file(&out).unwrap();
    // A part that went bad on disk: the 206 carries the whole file's digest, which the
    // part and the rest together do not have.
    let mut bad = data[..250_000].to_vec();
    bad[1234] ^= 1;
    std::fs::write(&part, &bad).unwrap();
    let r = fetch_in(dir.path(), &["-sS", "-C", "-", "-o", "out", &url]);
    let want = shared::hex(&Algorithm::Sha256.digest(&data));
    r.code(120).error(&format!(
        "Repr-Digest mismatch (sha-256): expected {want}, got "
    ));
    assert!(
        !out.exists() && !part.exists(),
        "a file left after a mismatch"
    );
}

/// A body past the first MiB is hashed on a second thread (client/src/digest.rs, `Offload`):
/// a good digest passes, a wrong one still fails with exit 120 and leaves no file.
#[test]
fn a_large_body_is_checked_on_a_second_thread() {
    use super::scripted::{Script, Then};
    let data = noise(3 * 1024 * 1024 + 17, 23);
    let site = temp_dir("digest site");
    put(site.path(), "big.bin", &data);
    let s = serve(&site, &["--digest"]);
    let dir = tempfile::tempdir().unwrap();
    fetch_in(
        dir.path(),
        &["-sS", "-o", "out", &format!("{}big.bin", s.url)],
    )
    .code(0);
    assert!(std::fs::read(dir.path().join("out")).unwrap() == data);
    let mut other = data.clone();
    other[2 * 1024 * 1024] ^= 1;
    let wrong = shared::digest::member(Algorithm::Sha256, &Algorithm::Sha256.digest(&other));
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\nRepr-Digest: {wrong}\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    reply.extend_from_slice(&data);
    let bad = Script::fixed(&reply, Then::Close);
    fetch_in(dir.path(), &["-sS", "-o", "bad", &bad.url("/")])
        .code(120)
        .error("Repr-Digest mismatch (sha-256)");
    assert!(!dir.path().join("bad").exists() && !dir.path().join("bad.part").exists());
}

#[test]
fn checksum_verifies_a_body_from_a_server_without_digests() {
    let site = temp_dir("checksum site");
    let data = noise(200 * 1024, 22);
    put(site.path(), "f.bin", &data);
    let s = serve(&site, &[]);
    let url = format!("{}f.bin", s.url);
    let dir = tempfile::tempdir().unwrap();
    let sha256 = shared::hex(&Algorithm::Sha256.digest(&data));
    let sha512 = shared::hex(&Algorithm::Sha512.digest(&data));
    for spec in [
        format!("sha256:{sha256}"),
        format!("sha512:{}", sha512.to_uppercase()),
    ] {
        fetch_in(dir.path(), &["-sS", "--checksum", &spec, "-o", "out", &url]).code(0);
        assert!(std::fs::read(dir.path().join("out")).unwrap() == data);
        std::fs::remove_file(dir.path().join("out")).unwrap();
    }
    let wrong = shared::hex(&Algorithm::Sha256.digest(b"something else"));
    fetch_in(
        dir.path(),
        &[
            "-sS",
            "--checksum",
            &format!("sha256:{wrong}"),
            "-o",
            "out",
            &url,
        ],
    )
    .code(120)
    .error(&format!(
        "--checksum mismatch (sha-256): expected {wrong}, got {sha256}"
    ));
    assert!(!dir.path().join("out").exists() && !dir.path().join("out.part").exists());
    // A bad spec is a usage error, before anything is fetched.
    for bad in [
        "sha256",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:abc",
    ] {
        fetch_in(dir.path(), &["-sS", "--checksum", bad, &url])
            .code(2)
            .error("--checksum");
    }
}
