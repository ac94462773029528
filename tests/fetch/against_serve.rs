//! `fetch` against our own `serve`: the two programs of this workspace talking to each other
//! over real sockets (TCP on port 0, and a Unix-domain socket).

use std::path::Path;

use super::{fetch, fetch_in};
use crate::support::repo_root;
use crate::support::serve::{Serve, site};

/// Every file of `www/`, as a path under the site root and the bytes on disk.
fn www_files() -> Vec<(String, Vec<u8>)> {
    let root = repo_root().join("www");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(&root).unwrap().to_string_lossy();
                out.push((rel.into_owned(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 5, "www/ has its files: {out:?}");
    out
}

/// A URL path for a file name: spaces and other awkward bytes percent-encoded.
fn url_path(rel: &str) -> String {
    let mut out = String::from("/");
    for b in rel.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn serve_www() -> Serve {
    let www = repo_root().join("www");
    Serve::start(&["-q", "-p", "0", www.to_str().unwrap()])
}

fn serve_dir(dir: &Path) -> Serve {
    Serve::start(&["-q", "-p", "0", dir.to_str().unwrap()])
}

fn url(s: &Serve, path: &str) -> String {
    format!("http://{}{path}", s.addr())
}

#[test]
fn every_www_file_arrives_byte_exact_on_stdout_and_in_a_file() {
    let s = serve_www();
    let dir = tempfile::tempdir().unwrap();
    for (rel, bytes) in www_files() {
        let u = url(&s, &url_path(&rel));
        fetch(&["-o", "-", &u]).code(0).stdout(&bytes);
        fetch_in(dir.path(), &["-s", "-o", "out", &u])
            .code(0)
            .stdout(b"");
        assert_eq!(
            std::fs::read(dir.path().join("out")).unwrap(),
            bytes,
            "{rel}"
        );
        assert!(!dir.path().join("out.part").exists(), "{rel}: .part left");
    }
}

#[test]
fn remote_names_are_decoded() {
    let s = serve_www();
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-O", &url(&s, "/files/data%20file.csv")]).code(0);
    assert_eq!(
        std::fs::read(dir.path().join("data file.csv")).unwrap(),
        std::fs::read(repo_root().join("www/files/data file.csv")).unwrap()
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["data file.csv"]);
}

#[test]
fn awkward_names_in_a_temp_site() {
    let site = site();
    let s = serve_dir(site.path());
    fetch(&[&url(&s, "/a%20b.txt")]).code(0).stdout(b"spaces\n");
    fetch(&[&url(&s, "/caf%C3%A9%20%22q%22%20%2520.txt")])
        .code(0)
        .stdout(b"awkward\n");
    // Dotfiles are not served: with -f that is exit 22 and no body.
    fetch(&["-f", &url(&s, "/.secret")])
        .code(22)
        .stdout(b"")
        .error("404");
    let dir = tempfile::tempdir().unwrap();
    fetch_in(
        dir.path(),
        &["-O", &url(&s, "/caf%C3%A9%20%22q%22%20%2520.txt")],
    )
    .code(0);
    assert_eq!(
        std::fs::read(dir.path().join("caf\u{e9} \"q\" %20.txt")).unwrap(),
        b"awkward\n"
    );
}

#[test]
fn several_targets_share_one_connection() {
    let s = serve_www();
    let files = www_files();
    let urls: Vec<String> = files.iter().map(|(r, _)| url(&s, &url_path(r))).collect();
    let mut args = vec!["-v"];
    let dashes: Vec<&str> = urls.iter().flat_map(|_| ["-o", "-"]).collect();
    args.extend(dashes);
    args.extend(urls.iter().map(String::as_str));
    let run = fetch(&args);
    run.code(0);
    let want: Vec<u8> = files.iter().flat_map(|(_, b)| b.clone()).collect();
    assert!(run.stdout == want, "bodies in target order");
    let connects = run.stderr.matches("* connected to ").count();
    let reuses = run.stderr.matches("* reusing the connection to ").count();
    assert_eq!(connects, 1, "{}", run.stderr);
    assert_eq!(reuses, files.len() - 1, "{}", run.stderr);
}

#[test]
fn head_and_include() {
    let s = serve_www();
    let index = std::fs::read(repo_root().join("www/index.html")).unwrap();
    let run = fetch(&["-I", &url(&s, "/")]);
    run.code(0);
    let text = String::from_utf8(run.stdout.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains(&format!("content-length: {}\r\n", index.len())),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "head only: {text}");

    let run = fetch(&["-i", &url(&s, "/")]);
    run.code(0);
    let split = run
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    assert!(run.stdout.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(&run.stdout[split + 4..], &index[..]);
}

#[test]
fn not_found_with_fail_is_exit_22() {
    let s = serve_www();
    fetch(&["-f", &url(&s, "/no-such-page")])
        .code(22)
        .stdout(b"")
        .error("the requested URL returned error: 404");
    // Without -f the 404 page is the result.
    let run = fetch(&[&url(&s, "/no-such-page")]);
    run.code(0);
    assert!(!run.stdout.is_empty());
}

#[test]
fn folder_without_slash_is_followed_with_location() {
    let site = site();
    let s = serve_dir(site.path());
    // Without -L: the 301 is the result.
    let run = fetch(&["-i", &url(&s, "/sub")]);
    run.code(0);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(text.starts_with("HTTP/1.1 301"), "{text}");
    fetch(&["-L", &url(&s, "/sub")]).code(0).stdout(b"sub\n");
    // www/files has no index.html: followed, it is a listing.
    let s = serve_www();
    let run = fetch(&["-L", "-f", &url(&s, "/files")]);
    run.code(0);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(text.contains("data file.csv"), "{text}");
}

#[test]
fn resume_against_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0u32..3 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let s = serve_dir(dir.path());
    let u = url(&s, "/big.bin");
    let out = tempfile::tempdir().unwrap();
    let got = || std::fs::read(out.path().join("big.bin")).unwrap();
    let part = out.path().join("big.bin.part");
    let meta = out.path().join("big.bin.part.meta");

    // A part file without a record: Range alone, 206, the tail appended.
    std::fs::write(&part, &data[..1 << 20]).unwrap();
    let run = fetch_in(out.path(), &["-s", "--report-json", "-C", "-", "-O", &u]);
    run.code(0);
    assert!(got() == data, "resumed file differs");
    assert!(run.stderr.contains("\"status\":206"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("\"resumed_from\":{}", 1 << 20))
    );

    // With the record of serve's ETag: If-Range matches, 206 again.
    let head = fetch(&["-I", &u]);
    let etag = String::from_utf8_lossy(&head.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("ETag: ").map(str::to_string))
        .expect("serve sends an ETag");
    std::fs::remove_file(out.path().join("big.bin")).unwrap();
    std::fs::write(&part, &data[..12345]).unwrap();
    std::fs::write(&meta, format!("fetch resume 1\nvalidator: {etag}\n")).unwrap();
    let run = fetch_in(out.path(), &["-s", "--report-json", "-C", "-", "-O", &u]);
    run.code(0);
    assert!(got() == data, "resumed file differs");
    assert!(run.stderr.contains("\"status\":206"), "{}", run.stderr);
    assert!(!meta.exists());

    // A stale record: serve sends the whole file (200) and the download starts over.
    std::fs::remove_file(out.path().join("big.bin")).unwrap();
    std::fs::write(&part, b"stale bytes of an older version").unwrap();
    std::fs::write(&meta, "fetch resume 1\nvalidator: \"old\"\n").unwrap();
    let run = fetch_in(out.path(), &["-s", "--report-json", "-C", "-", "-O", &u]);
    run.code(0);
    assert!(got() == data, "restarted file differs");
    assert!(run.stderr.contains("\"status\":200"), "{}", run.stderr);

    // Already complete: a 416 naming the same length, and the part is just renamed.
    std::fs::remove_file(out.path().join("big.bin")).unwrap();
    std::fs::write(&part, &data).unwrap();
    let run = fetch_in(out.path(), &["-s", "--report-json", "-C", "-", "-O", &u]);
    run.code(0);
    assert!(got() == data);
    assert!(run.stderr.contains("\"status\":416"), "{}", run.stderr);
}

#[test]
fn older_protocol_versions() {
    let s = serve_www();
    let notes = std::fs::read(repo_root().join("www/notes.txt")).unwrap();
    fetch(&["--http1.0", &url(&s, "/notes.txt")])
        .code(0)
        .stdout(&notes);
    let run = fetch(&["--http1.0", "-I", &url(&s, "/notes.txt")]);
    run.code(0);
    assert!(run.stdout.starts_with(b"HTTP/1."), "{:?}", run.stdout);
    // serve answers a simple request with the raw body, then closes.
    fetch(&["--http0.9", &url(&s, "/notes.txt")])
        .code(0)
        .stdout(&notes);
    // serve answers 0.9 only to a 0.9 request: an ordinary one still gets a status line.
    fetch(&[&url(&s, "/notes.txt")]).code(0).stdout(&notes);
}

#[test]
fn unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("serve sock");
    let www = repo_root().join("www");
    let s = Serve::start(&[
        "-q",
        "--unix",
        sock.to_str().unwrap(),
        www.to_str().unwrap(),
    ]);
    assert!(s.url.starts_with("unix:"), "{}", s.url);
    let notes = std::fs::read(www.join("notes.txt")).unwrap();
    fetch(&[
        "--unix-socket",
        sock.to_str().unwrap(),
        "localhost/notes.txt",
    ])
    .code(0)
    .stdout(&notes);
    // Two targets, one connection, over the Unix socket too.
    let run = fetch(&[
        "-v",
        "--unix-socket",
        sock.to_str().unwrap(),
        "localhost/notes.txt",
        "localhost/notes.txt",
    ]);
    run.code(0).stdout(&[notes.clone(), notes].concat());
    assert_eq!(run.stderr.matches("* connected to ").count(), 1);
}

#[test]
fn large_file_arrives_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    // 48 MiB of a pattern that is not periodic in any small power of two, so a lost or
    // repeated block changes the bytes.
    let mut big = Vec::with_capacity(48 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while big.len() < 48 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let s = serve_dir(dir.path());
    let out = tempfile::tempdir().unwrap();
    fetch_in(out.path(), &["-s", "-o", "big.bin", &url(&s, "/big.bin")]).code(0);
    let got = std::fs::read(out.path().join("big.bin")).unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got == big, "48 MiB file differs");
    // And through stdout (a pipe), binary allowed because stdout is not a terminal.
    let run = fetch(&["-s", &url(&s, "/big.bin")]);
    run.code(0);
    assert!(run.stdout == big, "48 MiB on stdout differs");
}
