//! What people expect of a real static server: validators and conditional requests, ranges,
//! listings, Cache-Control, precompressed files, and the options that change the defaults.

use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::Command;

use crate::support::child::{LIMIT, run};
use crate::support::repo_root;
use crate::support::serve::{Serve, read_response, read_to_close, request, site};

fn get(s: &Serve, path: &str, extra: &str) -> crate::support::serve::Response {
    let mut c = s.connect();
    request(
        &mut c,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n"),
    )
}

fn www() -> Serve {
    Serve::start(&["-p", "0", repo_root().join("www").to_str().unwrap()])
}

#[test]
fn validators_and_conditional_requests() {
    let s = www();
    let r = get(&s, "/notes.txt", "");
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    let r = get(&s, "/notes.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(
        get(&s, "/notes.txt", "If-None-Match: \"other\"\r\n").status,
        200
    );
    assert_eq!(
        get(&s, "/notes.txt", &format!("If-Modified-Since: {lm}\r\n")).status,
        304
    );
    // Compared as dates, not strings: a later date in the asctime format is "not modified".
    assert_eq!(
        get(
            &s,
            "/notes.txt",
            "If-Modified-Since: Sun Nov  7 08:49:37 2094\r\n"
        )
        .status,
        304
    );
    assert_eq!(
        get(
            &s,
            "/notes.txt",
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )
        .status,
        200
    );
    // If-None-Match wins over If-Modified-Since.
    assert_eq!(
        get(
            &s,
            "/notes.txt",
            &format!("If-None-Match: \"x\"\r\nIf-Modified-Since: {lm}\r\n")
        )
        .status,
        200
    );
    assert_eq!(get(&s, "/notes.txt", "If-Match: \"x\"\r\n").status, 412);
    assert_eq!(
        get(&s, "/notes.txt", &format!("If-Match: {etag}\r\n")).status,
        200
    );
    assert_eq!(
        get(
            &s,
            "/notes.txt",
            "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )
        .status,
        412
    );

    // curl -z (If-Modified-Since from a date) sees the 304 as nothing to download.
    let out = run(
        Command::new("curl").args([
            "-s",
            "-z",
            &lm,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}notes.txt", s.url),
        ]),
        LIMIT,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "304");
}

#[test]
fn ranges_single_suffix_open_and_unsatisfiable() {
    let s = www();
    let notes = std::fs::read(repo_root().join("www/notes.txt")).unwrap();
    let len = notes.len();
    let r = get(&s, "/notes.txt", "Range: bytes=0-9\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &notes[..10]));
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-9/{len}").as_str())
    );
    let r = get(&s, "/notes.txt", "Range: bytes=-5\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &notes[len - 5..]));
    let r = get(&s, "/notes.txt", "Range: bytes=100-\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &notes[100..]));
    let r = get(&s, "/notes.txt", &format!("Range: bytes={len}-\r\n"));
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    // A malformed range is ignored: the whole file.
    let r = get(&s, "/notes.txt", "Range: bytes=oops\r\n");
    assert_eq!((r.status, r.body.len()), (200, len));

    let etag = get(&s, "/notes.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = get(
        &s,
        "/notes.txt",
        &format!("Range: bytes=0-9\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!(r.status, 206, "If-Range matches");
    let r = get(
        &s,
        "/notes.txt",
        "Range: bytes=0-9\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!(
        (r.status, r.body.len()),
        (200, len),
        "If-Range fails: the whole file"
    );

    // curl -r agrees.
    let out = run(
        Command::new("curl").args(["-s", "-r", "5-14", &format!("{}notes.txt", s.url)]),
        LIMIT,
    );
    assert_eq!(out.stdout, &notes[5..15]);
}

#[test]
fn several_ranges_come_as_multipart_byteranges() {
    let s = www();
    let notes = std::fs::read(repo_root().join("www/notes.txt")).unwrap();
    let r = get(&s, "/notes.txt", "Range: bytes=0-3,10-12\r\n");
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect(ct);
    let text = r.text();
    let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
    assert_eq!(parts.len(), 4, "two parts between three boundaries: {text}");
    assert!(
        parts[1].contains("Content-Range: bytes 0-3/")
            && parts[1].ends_with(&format!(
                "\r\n\r\n{}\r\n",
                String::from_utf8_lossy(&notes[..4])
            ))
    );
    assert!(parts[2].contains("Content-Range: bytes 10-12/"));
    assert_eq!(parts[3], "--\r\n");
    // Overlapping ranges, or too many, get the whole file rather than an amplified answer.
    assert_eq!(
        get(&s, "/notes.txt", "Range: bytes=0-10,5-20\r\n").status,
        200
    );
    let many: Vec<String> = (0..17).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
    assert_eq!(
        get(
            &s,
            "/notes.txt",
            &format!("Range: bytes={}\r\n", many.join(","))
        )
        .status,
        200
    );
}

#[test]
fn curl_resumes_a_download_with_c_dash() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let out = tempfile::tempdir().unwrap();
    let part = out.path().join("big.bin");
    std::fs::write(&part, &data[..1_234_567]).unwrap();
    let status = run(
        Command::new("curl").args([
            "-s",
            "-C",
            "-",
            "-o",
            part.to_str().unwrap(),
            &format!("{}big.bin", s.url),
        ]),
        LIMIT,
    )
    .status;
    assert!(status.success());
    assert!(
        std::fs::read(&part).unwrap() == data,
        "resumed file equals the original"
    );
    s.wait_log("the 206", |l| {
        l.contains("/big.bin") && l.contains("\" 206 1765433")
    });
}

#[test]
fn directory_listing_html_and_json() {
    let dir = site();
    std::fs::write(dir.path().join("empty/<script>&\"'.txt"), "x").unwrap();
    std::fs::write(dir.path().join("empty/B.txt"), "bb").unwrap();
    std::fs::write(dir.path().join("empty/a.txt"), "a").unwrap();
    std::fs::write(dir.path().join("empty/.hidden"), "h").unwrap();
    std::fs::create_dir(dir.path().join("empty/zdir")).unwrap();
    symlink("/etc/passwd", dir.path().join("empty/passwd-link")).unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let r = get(&s, "/empty/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert!(
        page.contains("&lt;script&gt;&amp;&quot;&#39;.txt") && !page.contains("<script>"),
        "{page}"
    );
    assert!(page.contains("href=\"./%3Cscript%3E&%22'.txt\""), "{page}");
    assert!(
        !page.contains(".hidden") && !page.contains("passwd-link"),
        "{page}"
    );
    let order: Vec<usize> = ["zdir/", "&lt;script", ">a.txt<", ">B.txt<"]
        .iter()
        .map(|n| page.find(n).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "folders first, then names: {order:?}"
    );
    assert!(page.contains("href=\"../\""));
    assert_eq!(get(&s, "/empty/", "").body, r.body, "deterministic");

    let r = get(&s, "/empty/", "Accept: application/json\r\n");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let text = r.text();
    assert!(
        text.starts_with("{\"path\":\"/empty/\",\"entries\":[{\"name\":\"zdir\",\"type\":\"dir\""),
        "{text}"
    );
    assert!(
        text.contains("{\"name\":\"B.txt\",\"type\":\"file\",\"size\":2,"),
        "{text}"
    );

    let s = Serve::start(&["-p", "0", "--no-listing", dir.path().to_str().unwrap()]);
    assert_eq!(get(&s, "/empty/", "").status, 404);
}

/// The names a listing shows, in order: the HTML rows' links or the JSON entries.
fn listed(body: &str) -> Vec<String> {
    let json = body.starts_with('{');
    let (start, end) = if json {
        ("{\"name\":\"", "\"")
    } else {
        ("<a href=\"./", "</a>")
    };
    body.split(start)
        .skip(1)
        .map(|rest| {
            let name = rest.split(end).next().unwrap();
            let name = if json {
                name
            } else {
                name.split_once("\">").unwrap().1
            };
            name.trim_end_matches('/').to_string()
        })
        .collect()
}

/// Issue 28: names in a file manager's order (numbers by value, case and accents folded,
/// leading zeros after the plain number), in the HTML and the JSON listing, either way.
#[test]
fn listing_orders_names_as_a_file_manager_does() {
    let dir = crate::support::temp_dir("natural order ");
    let files = [
        "file 10.txt",
        "File 2.txt",
        "file 02.txt",
        "file 1.txt",
        "file 9.txt",
        "\u{c9}mile.txt",
        "emile.txt",
        "Eve.txt",
        "Zo\u{eb}.txt",
        "zebra.txt",
        "\u{c4}rger.txt",
        "apple.txt",
        "IMG_0100.jpg",
        "img_99.jpg",
    ];
    for name in files {
        std::fs::write(dir.path().join(name), name).unwrap();
    }
    for name in ["dir 10", "Dir 9"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
    }
    let ascending = [
        "Dir 9",
        "dir 10",
        "apple.txt",
        "\u{c4}rger.txt",
        "emile.txt",
        "\u{c9}mile.txt",
        "Eve.txt",
        "file 1.txt",
        "File 2.txt",
        "file 02.txt",
        "file 9.txt",
        "file 10.txt",
        "img_99.jpg",
        "IMG_0100.jpg",
        "zebra.txt",
        "Zo\u{eb}.txt",
    ];
    // Descending reverses the names; folders still come first.
    let mut descending = ascending;
    descending[..2].reverse();
    descending[2..].reverse();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    for (target, want) in [
        ("/", ascending),
        ("/?sort=name", ascending),
        ("/?sort=name&order=desc", descending),
    ] {
        for accept in ["", "Accept: application/json\r\n"] {
            let r = get(&s, target, accept);
            assert_eq!(r.status, 200);
            assert_eq!(listed(&r.text()), want, "{target} {accept:?}");
        }
    }
}

#[test]
fn cache_control_and_extra_headers() {
    let www = repo_root().join("www");
    let s = Serve::start(&[
        "-p",
        "0",
        "--cache-control",
        "public, max-age=60",
        "-H",
        "X-Frame-Options: DENY",
        "--header",
        "X-Team: serve",
        www.to_str().unwrap(),
    ]);
    let r = get(&s, "/notes.txt", "");
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-team"), Some("serve"));
    let r = get(&s, "/missing", "");
    assert_eq!(
        (r.status, r.header("x-frame-options")),
        (404, Some("DENY")),
        "on every response"
    );
    let out = run(
        Command::new(crate::support::bin("serve")).args(["-H", "Bad Name: x", "-p", "0"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn precompressed_files_for_clients_that_accept_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.js"), "plain").unwrap();
    std::fs::write(dir.path().join("app.js.gz"), "GZ-BYTES").unwrap();
    std::fs::write(dir.path().join("app.js.br"), "BR-BYTES").unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let r = get(&s, "/app.js", "Accept-Encoding: gzip, deflate, br\r\n");
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("BR-BYTES", Some("br"))
    );
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8"),
        "type of the original name"
    );
    let r = get(&s, "/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("GZ-BYTES", Some("gzip"))
    );
    let r = get(&s, "/app.js", "Accept-Encoding: br;q=0, gzip;q=0\r\n");
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("plain", None)
    );
    let r = get(&s, "/app.js", "");
    assert_eq!(r.text(), "plain");
}

#[test]
fn cors_and_preflight() {
    let www = repo_root().join("www");
    let s = Serve::start(&["-p", "0", "--cors", www.to_str().unwrap()]);
    let r = get(&s, "/notes.txt", "Origin: http://other.test\r\n");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let mut c = s.connect();
    let r = request(
        &mut c,
        "OPTIONS /notes.txt HTTP/1.1\r\nHost: x\r\nOrigin: http://other.test\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: X-Custom, Range\r\n\r\n",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("X-Custom, Range")
    );
    // Without --cors, no CORS headers.
    let plain = www_plain_cors_header();
    assert_eq!(plain, None);
}

fn www_plain_cors_header() -> Option<String> {
    let s = www();
    get(&s, "/notes.txt", "Origin: http://other.test\r\n")
        .header("access-control-allow-origin")
        .map(str::to_string)
}

#[test]
fn custom_404_and_spa() {
    let dir = site();
    let page = dir.path().join("404.html");
    std::fs::write(&page, "<h1>lost</h1>").unwrap();
    let s = Serve::start(&[
        "-p",
        "0",
        "--404",
        page.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    let r = get(&s, "/nope", "");
    assert_eq!((r.status, r.text().as_str()), (404, "<h1>lost</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

    let s = Serve::start(&["-p", "0", "--spa", dir.path().to_str().unwrap()]);
    let r = get(&s, "/app/route/42", "");
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>home</h1>\n"));
    assert_eq!(
        get(&s, "/missing.js", "").status,
        404,
        "paths with an extension stay 404"
    );
}

#[test]
fn hidden_and_follow_symlinks_open_the_jail_on_purpose() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("shared.txt"), "from outside").unwrap();
    let dir = site();
    symlink(
        outside.path().join("shared.txt"),
        dir.path().join("link.txt"),
    )
    .unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    assert_eq!(get(&s, "/.secret", "").status, 404);
    assert_eq!(get(&s, "/link.txt", "").status, 404);
    let s = Serve::start(&[
        "-p",
        "0",
        "--hidden",
        "--follow-symlinks",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(get(&s, "/.secret", "").text(), "DOTFILE-SECRET\n");
    assert_eq!(get(&s, "/link.txt", "").text(), "from outside");
    assert_eq!(
        get(&s, "/../etc/passwd", "").status,
        404,
        "`..` stays refused"
    );
}

#[test]
fn allow_lists_who_may_connect() {
    let www = repo_root().join("www");
    let s = Serve::start(&[
        "-p",
        "0",
        "--allow",
        "10.0.0.0/8",
        "--allow",
        "::1",
        www.to_str().unwrap(),
    ]);
    let mut c = s.connect();
    let got = read_to_close(&mut c);
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 403 Forbidden\r\n"));
    s.wait_log("the refusal", |l| l.contains("\"-\" 403"));
    let s = Serve::start(&["-p", "0", "--allow", "127.0.0.0/8", www.to_str().unwrap()]);
    assert_eq!(get(&s, "/", "").status, 200);
    let out = run(
        Command::new(crate::support::bin("serve")).args(["--allow", "10.0.0.0/99", "-p", "0"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unix_mode_sets_the_socket_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let _s = Serve::start(&[
        "--unix",
        sock.to_str().unwrap(),
        "--unix-mode",
        "600",
        repo_root().join("www").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    let www = repo_root().join("www");
    let a = Serve::start(&["-p", "0", "--reuse-port", www.to_str().unwrap()]);
    let port = a.addr().port().to_string();
    let b = Serve::start(&["-p", &port, "--reuse-port", www.to_str().unwrap()]);
    assert_eq!(a.addr(), b.addr());
    assert_eq!(get(&b, "/", "").status, 200);
}

#[test]
fn combined_and_json_log_formats() {
    let www = repo_root().join("www");
    let s = Serve::start(&["-p", "0", "--log-format", "combined", www.to_str().unwrap()]);
    get(
        &s,
        "/notes.txt",
        "Referer: http://ref.test/\r\nUser-Agent: tester/1\r\n",
    );
    let line = s.wait_log("a combined line", |l| l.contains("/notes.txt"));
    assert!(
        line.ends_with("\" 200 420 \"http://ref.test/\" \"tester/1\"")
            || line.contains("\"http://ref.test/\" \"tester/1\""),
        "{line}"
    );
    let s = Serve::start(&["-p", "0", "--log-format", "json", www.to_str().unwrap()]);
    get(&s, "/notes.txt", "User-Agent: tester/1\r\n");
    let line = s.wait_log("a JSON line", |l| l.contains("/notes.txt"));
    assert!(
        line.starts_with("{\"time\":\"")
            && line.contains("\"status\":200")
            && line.contains("\"user_agent\":\"tester/1\"")
            && line.contains("\"referer\":null"),
        "{line}"
    );
}

#[test]
fn head_on_a_listing_and_a_range_has_no_body() {
    let s = www();
    let mut c = s.connect();
    c.write_all(b"HEAD /files/ HTTP/1.1\r\nHost: x\r\n\r\nHEAD /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut pending = Vec::new();
    let a = read_response(&mut c, &mut pending, true);
    let b = read_response(&mut c, &mut pending, true);
    let d = read_response(&mut c, &mut pending, false);
    assert_eq!((a.status, b.status, d.status), (200, 200, 200));
    assert!(a.header("content-length").unwrap().parse::<u64>().unwrap() > 0);
    assert!(d.text().contains("--accent"));
}
