//! `fetch` against servers whose digests lie (RFC 9530, issue 18): a wrong `Repr-Digest` or
//! `Content-Digest` is exit 120 with one line naming the algorithm, expected and got, and
//! leaves no file under the final name and no `.part` to resume; a body that changes
//! between a cut download and its resume (`-C -`) is caught over the whole file; a
//! malformed field is ignored (RFC 8941 §4.2), with a note under `-v`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use shared::digest::{Algorithm, member};

use crate::fetch::fetch_in;
use crate::support::script::{Script, Then, range_start, rest_from};

fn data(seed: u32) -> Vec<u8> {
    crate::support::noise(300 * 1024, seed)
}

fn field(a: Algorithm, body: &[u8]) -> String {
    member(a, &a.digest(body))
}

/// A 200 with `body` after the header lines `extra`.
fn ok(extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Runs `fetch -sS ARGS -o out URL` against a server answering every request with `reply`,
/// and returns the run and the folder.
fn run(reply: Vec<u8>, args: &[&str]) -> (crate::fetch::Run, tempfile::TempDir) {
    let s = Script::fixed(&reply, Then::Close);
    let dir = tempfile::tempdir().unwrap();
    let url = s.url("/f.bin");
    let mut all = vec!["-sS"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "out", &url]);
    (fetch_in(dir.path(), &all), dir)
}

fn nothing_left(dir: &tempfile::TempDir) {
    for name in ["out", "out.part", "out.part.meta"] {
        assert!(!dir.path().join(name).exists(), "{name} left behind");
    }
}

#[test]
fn a_wrong_digest_is_exit_120_and_leaves_no_file() {
    let body = data(1);
    let other = data(2);
    for (name, extra) in [
        (
            "Repr-Digest",
            format!("Repr-Digest: {}\r\n", field(Algorithm::Sha256, &other)),
        ),
        (
            "Content-Digest",
            format!("Content-Digest: {}\r\n", field(Algorithm::Sha512, &other)),
        ),
        // One right, one wrong: the wrong one counts.
        (
            "Repr-Digest",
            format!(
                "Repr-Digest: {}, {}\r\n",
                field(Algorithm::Sha256, &body),
                field(Algorithm::Sha512, &other)
            ),
        ),
    ] {
        let (r, dir) = run(ok(&extra, &body), &[]);
        let algo = if extra.contains("sha-512") {
            "sha-512"
        } else {
            "sha-256"
        };
        let got = shared::hex(&Algorithm::Sha256.digest(&body));
        r.code(120)
            .error(&format!("{name} mismatch ({algo}): expected "));
        if algo == "sha-256" {
            assert!(r.stderr.contains(&format!("got {got}")), "{}", r.stderr);
        }
        nothing_left(&dir);
    }
    // The same body with its right digests is saved.
    let extra = format!(
        "Repr-Digest: {}\r\nContent-Digest: {}\r\n",
        field(Algorithm::Sha512, &body),
        field(Algorithm::Sha256, &body)
    );
    let (r, dir) = run(ok(&extra, &body), &[]);
    r.code(0);
    assert!(std::fs::read(dir.path().join("out")).unwrap() == body);
}

#[test]
fn content_digest_covers_the_bytes_as_sent_before_compressed_decodes_them() {
    use flate2::{Compression, write::GzEncoder};
    let body = data(3);
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(&body).unwrap();
    let gz = enc.finish().unwrap();
    let good = format!(
        "Content-Encoding: gzip\r\nContent-Digest: {}\r\n",
        field(Algorithm::Sha256, &gz)
    );
    let (r, dir) = run(ok(&good, &gz), &["--compressed"]);
    r.code(0);
    assert!(std::fs::read(dir.path().join("out")).unwrap() == body);
    // The digest of the decoded bytes is not the content's: refused.
    let bad = format!(
        "Content-Encoding: gzip\r\nContent-Digest: {}\r\n",
        field(Algorithm::Sha256, &body)
    );
    let (r, dir) = run(ok(&bad, &gz), &["--compressed"]);
    r.code(120).error("Content-Digest mismatch (sha-256)");
    nothing_left(&dir);
}

#[test]
fn malformed_or_unknown_digests_are_ignored_with_a_note_under_v() {
    let body = data(4);
    for extra in [
        "Repr-Digest: sha-256=:not base64!:\r\n",
        "Repr-Digest: SHA-256=:AAAA:\r\n",
        "Content-Digest: sha-256=:YWJj:\r\n",
        "Repr-Digest: sha-256=(1 2)\r\n",
    ] {
        let (r, dir) = run(ok(extra, &body), &["-v"]);
        r.code(0);
        assert!(
            r.stderr.contains("not checked"),
            "{extra}: no note under -v: {}",
            r.stderr
        );
        assert!(std::fs::read(dir.path().join("out")).unwrap() == body);
    }
    // Other algorithms are not ours to check, and say nothing.
    let (r, _dir) = run(
        ok("Repr-Digest: md5=:AAAAAAAAAAAAAAAAAAAAAA==:\r\n", &body),
        &["-v"],
    );
    r.code(0);
    assert!(!r.stderr.contains("not checked"), "{}", r.stderr);
}

/// A server whose file is `first` until the download is cut at `cut`, then `second`, with a
/// `Repr-Digest` for each; a range request gets the rest of the current one (ignoring
/// `If-Range`, as a careless or hostile server would).
fn changing(first: Vec<u8>, second: Vec<u8>, cut: usize) -> Script {
    let served = Arc::new(AtomicUsize::new(0));
    Script::start(move |head| {
        let n = served.fetch_add(1, Ordering::SeqCst);
        let now = if n == 0 { &first } else { &second };
        let extra = format!(
            "ETag: \"v\"\r\nRepr-Digest: {}\r\n",
            field(Algorithm::Sha256, now)
        );
        match range_start(head) {
            Some(start) => rest_from(now, start, &extra),
            None => {
                let mut out = ok(&extra, now);
                out.truncate(out.len() - (now.len() - cut));
                (out, Then::Close)
            }
        }
    })
}

#[test]
fn a_body_that_changes_during_a_resume_is_caught_over_the_whole_file() {
    let (a, b) = (data(5), data(6));
    let cut = 100_000;
    for (second, code) in [(a.clone(), 0), (b.clone(), 120)] {
        let s = changing(a.clone(), second.clone(), cut);
        let dir = tempfile::tempdir().unwrap();
        let url = s.url("/f.bin");
        fetch_in(dir.path(), &["-sS", "-o", "out", &url]).code(18);
        assert_eq!(
            std::fs::metadata(dir.path().join("out.part"))
                .unwrap()
                .len(),
            cut as u64
        );
        let r = fetch_in(dir.path(), &["-sS", "-C", "-", "-o", "out", &url]);
        assert_eq!(range_start(&s.requests()[1]), Some(cut));
        if code == 0 {
            r.code(0);
            assert!(std::fs::read(dir.path().join("out")).unwrap() == a);
        } else {
            // a[..cut] + b[cut..] is neither file: the whole-file digest says so.
            r.code(120)
                .error("Repr-Digest mismatch (sha-256): expected ");
            let spliced = [&a[..cut], &b[cut..]].concat();
            assert!(
                r.stderr
                    .contains(&shared::hex(&Algorithm::Sha256.digest(&spliced)))
            );
            for name in ["out", "out.part", "out.part.meta"] {
                assert!(!dir.path().join(name).exists(), "{name} left behind");
            }
        }
    }
}

#[test]
fn a_mirror_keeps_the_file_whose_digest_holds_and_drops_the_one_whose_digest_lies() {
    let good = data(3);
    let bad = data(4);
    let (good_field, lie) = (
        field(Algorithm::Sha256, &good),
        field(Algorithm::Sha256, &data(5)),
    );
    let s = Script::start(move |head| {
        let path = crate::support::script::path_of(head);
        let reply = match path {
            "/" => ok(
                "Content-Type: text/html\r\n",
                b"<a href=\"good.bin\">g</a> <a href=\"bad.bin\">b</a>",
            ),
            "/good.bin" => ok(&format!("Repr-Digest: {good_field}\r\n"), &good),
            "/bad.bin" => ok(&format!("Repr-Digest: {lie}\r\n"), &bad),
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        (reply, crate::support::script::Then::KeepAlive)
    });
    let out = tempfile::tempdir().unwrap();
    let url = s.url("/");
    let r = fetch_in(out.path(), &["--mirror", "--no-host-directories", &url]);
    r.code(120);
    assert!(r.stderr.contains("bad.bin"), "{}", r.stderr);
    assert!(
        r.stderr.contains("Repr-Digest mismatch (sha-256)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("1 failed"), "{}", r.stderr);
    assert_eq!(std::fs::read(out.path().join("good.bin")).unwrap(), data(3));
    for left in ["bad.bin", "bad.bin.part"] {
        assert!(!out.path().join(left).exists(), "{left} left behind");
    }
}
