//! `serve --watch` on raw sockets: the injected page's and listing's framing and
//! validators, the event stream's events after edits (and none for hidden or editor temp
//! files), the reserved path off without `--watch`, `--auth` in front of the stream, the
//! watcher cap, and a thousand watchers held open while a normal client is answered
//! promptly in bounded memory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::serve::{Serve, request};
use crate::support::{put, raw, temp_dir, wait_for};

const ENDPOINT: &str = "/%00serve-reload";
const PAGE: &str = "<!doctype html><html><body><h1>v1</h1></body></html>\n";

fn site() -> tempfile::TempDir {
    let dir = temp_dir("serve watch ");
    put(dir.path(), "index.html", PAGE.as_bytes());
    put(dir.path(), "style.css", b"h1 { color: red }\n");
    put(dir.path(), "notes.txt", b"plain text\n");
    dir
}

fn start(dir: &tempfile::TempDir, extra: &[&str]) -> Serve {
    let mut args = vec!["-p", "0"];
    args.extend_from_slice(extra);
    args.push(dir.path().to_str().unwrap());
    Serve::start(&args)
}

fn get(s: &Serve, target: &str, headers: &str) -> raw::Response {
    let mut c = s.connect();
    request(
        &mut c,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"),
    )
}

/// Opens the event stream and reads its head and greeting.
fn watcher(s: &Serve) -> (TcpStream, String) {
    let mut c = s.connect();
    write!(c, "GET {ENDPOINT} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let got = read_until(&mut c, "\n\n");
    (c, got)
}

/// Reads from `c` until `want` has arrived (each read under the raw client's timeout).
fn read_until(c: &mut TcpStream, want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        let n = c
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("waiting for {want:?}: {e}; got {got:?}"));
        assert!(
            n > 0,
            "closed before {want:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn an_html_page_gets_the_script_with_its_own_length_and_etag() {
    let dir = site();
    let plain = start(&dir, &[]);
    let live = start(&dir, &["--watch"]);
    let without = get(&plain, "/", "");
    let with = get(&live, "/", "");
    assert_eq!(
        without.body,
        PAGE.as_bytes(),
        "nothing injected without --watch"
    );
    let page = with.text();
    let script = page.find("<script data-serve-reload>").expect("the script");
    assert!(
        script < page.find("</body>").unwrap(),
        "before </body>: {page}"
    );
    assert!(page.contains(ENDPOINT), "{page}");
    assert_eq!(
        with.header("content-length").unwrap(),
        with.body.len().to_string()
    );
    let (etag, file_etag) = (
        with.header("etag").unwrap().to_string(),
        without.header("etag").unwrap().to_string(),
    );
    assert_ne!(etag, file_etag);
    assert!(etag.ends_with("-live\""), "{etag}");
    // Each representation validates only itself.
    let revalidated = get(&live, "/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(revalidated.status, 304);
    let stale = get(&live, "/", &format!("If-None-Match: {file_etag}\r\n"));
    assert_eq!(stale.status, 200);
    // A range of an injected page is answered with the whole page.
    let ranged = get(&live, "/index.html", "Range: bytes=0-9\r\n");
    assert_eq!((ranged.status, ranged.body), (200, with.body.clone()));
    // --compress leaves the injected page alone: identity, same bytes.
    let dir2 = site();
    put(dir2.path(), "index.html", PAGE.repeat(100).as_bytes());
    let both = start(&dir2, &["--watch", "--compress"]);
    let page = get(&both, "/", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(page.header("content-encoding"), None);
    assert!(page.text().contains("<script data-serve-reload>"));
    // Other types are untouched, with the file's own ETag.
    let css = get(&live, "/style.css", "");
    assert_eq!(css.body, b"h1 { color: red }\n");
    assert!(!css.header("etag").unwrap().contains("-live"));
}

#[test]
fn an_html_listing_gets_the_script_too_and_json_does_not() {
    let dir = site();
    put(dir.path(), "docs/a.txt", b"a");
    let plain = start(&dir, &[]);
    let live = start(&dir, &["--watch"]);
    let (without, with) = (get(&plain, "/docs/", ""), get(&live, "/docs/", ""));
    assert!(!without.text().contains("serve-reload"));
    let page = with.text();
    assert!(page.contains("<script data-serve-reload>"), "{page}");
    assert!(page.find("data-serve-reload").unwrap() < page.rfind("</body>").unwrap());
    assert_eq!(
        with.header("content-length").unwrap(),
        with.body.len().to_string()
    );
    assert_ne!(with.header("etag"), without.header("etag"));
    let json = |s: &Serve| get(s, "/docs/", "Accept: application/json\r\n");
    let (j0, j1) = (json(&plain), json(&live));
    assert_eq!((&j0.body, j0.header("etag")), (&j1.body, j1.header("etag")));
}

#[test]
fn without_watch_the_reserved_path_is_not_found() {
    let dir = site();
    let s = start(&dir, &["--hidden"]);
    assert_eq!(get(&s, ENDPOINT, "").status, 404);
}

#[test]
fn edits_become_events_and_hidden_or_temp_files_do_not() {
    let dir = site();
    let s = start(&dir, &["--watch"]);
    let (mut c, head) = watcher(&s);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/event-stream\r\n"),
        "{head}"
    );
    assert!(head.contains("retry: 1000\n"), "{head}");
    // Only the style sheet counts: had the others triggered, the event would be `reload`
    // (alone or merged with the sheet's in one quiet period).
    for temp in [
        ".hidden",
        "index.html.swp",
        "index.html~",
        "4913",
        ".git/HEAD",
    ] {
        put(dir.path(), temp, b"x");
    }
    put(dir.path(), "style.css", b"h1 { color: blue }\n");
    let got = read_until(&mut c, "\n\n");
    assert_eq!(got, "event: css\ndata: css\n\n");
    // A new folder is watched: a page written into it is a reload.
    std::fs::create_dir(dir.path().join("new")).unwrap();
    assert_eq!(
        read_until(&mut c, "\n\n"),
        "event: reload\ndata: reload\n\n"
    );
    put(dir.path(), "new/page.html", b"<p>new</p>");
    assert_eq!(
        read_until(&mut c, "\n\n"),
        "event: reload\ndata: reload\n\n"
    );
}

#[test]
fn with_auth_the_stream_needs_the_credentials_too() {
    let dir = site();
    let s = start(&dir, &["--watch", "--auth", "ann:secret"]);
    assert_eq!(get(&s, ENDPOINT, "").status, 401);
    let mut c = s.connect();
    // ann:secret
    write!(
        c,
        "GET {ENDPOINT} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YW5uOnNlY3JldA==\r\n\r\n"
    )
    .unwrap();
    let head = read_until(&mut c, "retry:");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    put(dir.path(), "index.html", b"<p>v2</p>");
    read_until(&mut c, "event: reload\n");
}

#[test]
fn watchers_beyond_max_connections_get_503() {
    let dir = site();
    let s = start(&dir, &["--watch", "--max-connections", "4"]);
    let held: Vec<_> = (0..4).map(|_| watcher(&s).0).collect();
    let mut c = s.connect();
    write!(c, "GET {ENDPOINT} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let refused = raw::read_to_close(&mut c);
    assert_eq!(raw::status_of(&refused), Some(503));
    // The watchers hold no connection slot: files are still served.
    assert_eq!(get(&s, "/notes.txt", "").status, 200);
    drop(held);
    // Their closes are noticed, and the room is given back.
    wait_for(
        "the hub to notice the closes",
        Duration::from_secs(20),
        || {
            let mut c = s.connect();
            write!(c, "GET {ENDPOINT} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut head = [0u8; 12];
            c.read_exact(&mut head).ok()?;
            (&head == b"HTTP/1.1 200").then_some(())
        },
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[test]
fn a_thousand_watchers_hold_no_worker_and_little_memory() {
    const WATCHERS: usize = 1000;
    let dir = site();
    let s = start(&dir, &["--watch", "--threads", "2"]);
    let before = rss_kib(s.pid());
    let mut held = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        let (c, head) = watcher(&s);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        held.push(c);
    }
    // A normal client meanwhile: every request answered, each well within 2 s even on a
    // loaded machine (a watcher holding a worker would stall them all).
    let mut keep = s.connect();
    for i in 0..50 {
        let t = Instant::now();
        let target = if i % 2 == 0 { "/notes.txt" } else { "/" };
        let r = request(
            &mut keep,
            &format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"),
        );
        assert_eq!(r.status, 200);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "request {i} took {:?} with {WATCHERS} watchers",
            t.elapsed()
        );
    }
    let after = rss_kib(s.pid());
    eprintln!("serve RSS: {before} KiB, then {after} KiB with {WATCHERS} watchers");
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} to {after} KiB for {WATCHERS} watchers"
    );
    // One edit reaches every one of them.
    put(dir.path(), "index.html", b"<p>v2</p>");
    for c in &mut held {
        read_until(c, "event: reload\n");
    }
}
