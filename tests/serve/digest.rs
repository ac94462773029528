//! `Repr-Digest` (RFC 9530, issue 18): what curl and a raw client see from `serve` when they
//! ask with `Want-Repr-Digest`, and always with `--digest`; the whole file's digest on a
//! range; a large file's digest made in the background (its first response goes without);
//! never a stale digest after the file changes; the JSON listing's `sha256`.

use std::process::Command;
use std::time::Duration;

use shared::digest::{Algorithm, member};

use crate::peers::program;
use crate::support::child::run;
use crate::support::serve::{Serve, request};
use crate::support::{noise, put, temp_dir, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

fn field(a: Algorithm, body: &[u8]) -> String {
    member(a, &a.digest(body))
}

fn start(dir: &tempfile::TempDir, extra: &[&str]) -> Serve {
    let mut args = vec!["-q", "-p", "0"];
    args.extend_from_slice(extra);
    args.push(dir.path().to_str().unwrap());
    Serve::start(&args)
}

/// The `Repr-Digest` of `path`'s response to a request with the header lines `extra`.
fn digest_of(s: &Serve, method: &str, path: &str, extra: &str) -> (u16, Option<String>) {
    let mut c = s.connect();
    let r = request(
        &mut c,
        &format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"),
    );
    (r.status, r.header("repr-digest").map(str::to_string))
}

#[test]
fn curl_sees_repr_digest_when_it_asks_and_with_digest_always() {
    let Some(curl) = program("curl", "curl") else {
        return;
    };
    let dir = temp_dir("digest curl");
    let small = b"hello, digest\n".to_vec();
    put(dir.path(), "small.txt", &small);
    let s = start(&dir, &[]);
    let url = format!("{}small.txt", s.url);
    let head = |s: &Serve, args: &[&str]| {
        let url = format!("{}small.txt", s.url);
        let out = run(
            Command::new(&curl)
                .args(["-sS", "-D", "-", "-o", "/dev/null"])
                .args(args)
                .arg(&url),
            LIMIT,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Repr-Digest: "))
            .map(str::to_string)
    };
    // Not asked, not on: nothing.
    assert_eq!(head(&s, &[]), None, "{url}");
    assert_eq!(
        head(&s, &["-H", "Want-Repr-Digest: sha-256=1"]),
        Some(field(Algorithm::Sha256, &small))
    );
    assert_eq!(
        head(&s, &["-H", "Want-Repr-Digest: sha-256=2, sha-512=9"]),
        Some(field(Algorithm::Sha512, &small))
    );
    assert_eq!(head(&s, &["-H", "Want-Repr-Digest: md5=9"]), None);
    // HEAD carries it as GET does.
    assert_eq!(
        head(&s, &["-I", "-H", "Want-Repr-Digest: sha-256=1"]),
        Some(field(Algorithm::Sha256, &small))
    );
    drop(s);
    let s = start(&dir, &["--digest"]);
    assert_eq!(head(&s, &[]), Some(field(Algorithm::Sha256, &small)));
    // A range carries the whole file's digest.
    assert_eq!(
        head(&s, &["-r", "2-5"]),
        Some(field(Algorithm::Sha256, &small))
    );
    // q=0: not wanted, even with --digest.
    assert_eq!(head(&s, &["-H", "Want-Repr-Digest: sha-256=0"]), None);
}

#[test]
fn a_large_file_is_hashed_in_the_background_and_never_stale() {
    let dir = temp_dir("digest large");
    // Above the 1 MiB hashed inline.
    let v1 = noise(3 << 20, 11);
    put(dir.path(), "big.bin", &v1);
    let s = start(&dir, &["--digest"]);
    // The first answer does not wait for the hash: it goes without the field.
    assert_eq!(digest_of(&s, "HEAD", "/big.bin", ""), (200, None));
    let want = field(Algorithm::Sha256, &v1);
    let got = wait_for("the digest of big.bin", LIMIT, || {
        digest_of(&s, "HEAD", "/big.bin", "").1
    });
    assert_eq!(got, want);
    // A range of it: the whole file's digest.
    assert_eq!(
        digest_of(&s, "GET", "/big.bin", "Range: bytes=100-199\r\n"),
        (206, Some(want.clone()))
    );
    // Changed on disk (another size): the old digest is never sent again.
    let v2 = noise((3 << 20) + 1, 12);
    put(dir.path(), "big.bin", &v2);
    let want2 = field(Algorithm::Sha256, &v2);
    let got = wait_for("the new digest of big.bin", LIMIT, || {
        let (_, d) = digest_of(&s, "HEAD", "/big.bin", "");
        assert_ne!(d.as_deref(), Some(want.as_str()), "a stale digest");
        d
    });
    assert_eq!(got, want2);
    // Other requests are answered meanwhile: a small file with its digest at once.
    put(dir.path(), "small.txt", b"small");
    assert_eq!(
        digest_of(&s, "GET", "/small.txt", ""),
        (200, Some(field(Algorithm::Sha256, b"small")))
    );
}

#[test]
fn the_json_listing_carries_the_digests_known() {
    let dir = temp_dir("digest listing");
    put(dir.path(), "a.txt", b"alpha\n");
    put(dir.path(), "b.txt", b"beta\n");
    let s = start(&dir, &[]);
    let listing = || {
        let mut c = s.connect();
        request(
            &mut c,
            "GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        )
        .text()
    };
    assert!(!listing().contains("sha256"), "no digest known yet");
    assert_eq!(
        digest_of(&s, "GET", "/a.txt", "Want-Repr-Digest: sha-256=1\r\n").1,
        Some(field(Algorithm::Sha256, b"alpha\n"))
    );
    let text = listing();
    let hex = shared::hex(&Algorithm::Sha256.digest(b"alpha\n"));
    assert!(
        text.contains("\"name\":\"a.txt\",\"type\":\"file\",\"size\":6,")
            && text.contains(&format!(",\"sha256\":\"{hex}\"}}")),
        "{text}"
    );
    assert_eq!(
        text.matches("sha256").count(),
        1,
        "only a.txt's is known: {text}"
    );
}

#[test]
fn with_watch_an_html_pages_digest_is_of_the_page_sent_and_fetch_accepts_it() {
    // `--watch` sends HTML with the reload script: the file's digest would be wrong for
    // those bytes, and fetch would (rightly) refuse them.
    let dir = temp_dir("digest watch");
    let page = b"<!doctype html><html><body><p>hi</p></body></html>\n".to_vec();
    put(dir.path(), "index.html", &page);
    let s = start(&dir, &["--watch", "--digest"]);
    let mut c = s.connect();
    let r = request(
        &mut c,
        "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_ne!(r.body, page, "the script is in");
    assert_eq!(
        r.header("repr-digest"),
        Some(field(Algorithm::Sha256, &r.body).as_str())
    );
    let got = crate::fetch::fetch(&["-s", &format!("{}index.html", s.url)]);
    got.code(0);
    assert_eq!(got.stdout, r.body);
}
