//! `fetch --mirror`: a whole site from the real `serve` into a folder, byte for byte, and
//! again with a 304 for each listing and each file no listing shows, and no request for the
//! rest; files changed upstream fetched again; a file cut off resumed with Range; a hostile
//! scripted server whose links try every way out of the folder; the bounds (--level,
//! --no-parent, the regexes) and the flags that cannot go with a mirror.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use super::fetch_in;
use super::scripted::{Script, Then};
use crate::support::python::{http_server, python};
use crate::support::serve::Serve;
use crate::support::{put, same_bytes, temp_dir};

/// Every file under `root` (dotfiles and dot-folders left out when `skip_dot`; symlinks,
/// which only the tests make, always), by its path relative to `root`.
fn tree(root: &Path, skip_dot: bool) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if skip_dot && entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// A file's modification time in whole seconds (what HTTP dates carry).
fn mtime(p: &Path) -> u64 {
    let t = std::fs::metadata(p).unwrap().modified().unwrap();
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A site with pages that link, a style sheet with url() and @import, images by src and
/// srcset, folders that only serve's listing reveals, awkward names and hidden files.
fn awkward_site(root: &Path) {
    put(
        root,
        "index.html",
        b"<!doctype html><html><head><link rel=stylesheet href='style.css'>\
          <base href='/'></head><body>\
          <a href='page.html#top'>page</a> <a href='docs/'>docs</a>\
          <img src='img/logo.png' srcset='img/logo%402x.png 2x'>\
          <a href='http://elsewhere.invalid/x'>away</a> <a href='mailto:a@b'>mail</a>\
          </body></html>",
    );
    let noise = crate::support::noise;
    let files: &[(&str, Vec<u8>)] = &[
        ("page.html", b"<p>a page</p><a href='./'>home</a>".to_vec()),
        (
            "style.css",
            b"@import 'print.css';\nbody { background: url(\"img/bg%20image.png\") }\n\
              /* url(none.png) */"
                .to_vec(),
        ),
        ("print.css", b"p { color: black }".to_vec()),
        ("img/logo.png", noise(3000, 1)),
        ("img/logo@2x.png", noise(5000, 2)),
        ("img/bg image.png", noise(700, 3)),
        // A folder with no index.html: walked through serve's JSON listing.
        ("docs/a b.txt", b"spaces\n".to_vec()),
        ("docs/hash#.txt", b"hash\n".to_vec()),
        ("docs/q?.txt", b"question\n".to_vec()),
        ("docs/100%.txt", b"percent\n".to_vec()),
        ("docs/caf\u{e9} \u{fc}n\u{ef}.txt", b"unicode\n".to_vec()),
        ("docs/deep/er/still.bin", noise(70_000, 4)),
        ("docs/.secret", b"HIDDEN\n".to_vec()),
        ("docs/.hidden-dir/x.txt", b"HIDDEN\n".to_vec()),
        // A page inside a listed folder, linking to a file nothing else names.
        (
            "docs/site/index.html",
            b"<a href='../../only-linked-here.txt'>x</a>".to_vec(),
        ),
        ("only-linked-here.txt", b"found\n".to_vec()),
        (".env", b"HIDDEN\n".to_vec()),
    ];
    for (name, bytes) in files {
        put(root, name, bytes);
    }
}

#[test]
fn a_site_from_serve_arrives_byte_for_byte_and_a_second_run_asks_only_what_no_listing_shows() {
    let site = temp_dir("mirror site \u{e9} ");
    awkward_site(site.path());
    let mut s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let want = tree(site.path(), true);
    let out = temp_dir("mirror out ");
    let url = format!("http://{}/", s.addr());
    let args = ["--mirror", "-Z", "--parallel-max", "4", &url];
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--directory-prefix", out.path().to_str().unwrap()])
        .collect();
    let first = fetch_in(out.path(), &args);
    first.code(0);
    let n = want.len();
    assert!(
        first
            .stderr
            .contains(&format!("{n} new, 0 changed, 0 unchanged, 0 failed")),
        "{}",
        first.stderr
    );

    let host = out.path().join(s.addr().to_string());
    let got = tree(&host, false);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same files, and no hidden ones"
    );
    for (name, bytes) in &want {
        same_bytes(name, bytes, &got[name]);
        let (a, b) = (mtime(&site.path().join(name)), mtime(&host.join(name)));
        assert_eq!(a, b, "{name} keeps the server's time");
    }

    let second = fetch_in(out.path(), &[&args[..], &["--report-json"]].concat());
    second.code(0);
    // One JSON line per URL: each file unchanged, each listing listed (304: the folder is
    // walked from the listing the first run kept). A file that a listing shows with the
    // size and time of the copy is unchanged without a request (status null); the others,
    // reached by links, by a 304.
    let json: Vec<&str> = second
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .collect();
    let unchanged = |how: &str| {
        json.iter()
            .filter(|l| l.contains(&format!("\"outcome\":\"unchanged\",\"status\":{how}")))
            .count()
    };
    // docs/ is walked through its listing; img/, reached only through links, is listed
    // too (asked once for its listing, as it has no index.html).
    let listed_file =
        |k: &str| (k.starts_with("docs/") && !k.starts_with("docs/site/")) || k.starts_with("img/");
    let in_listed_folders = want.keys().filter(|k| listed_file(k)).count();
    assert_eq!(in_listed_folders, 9);
    assert_eq!(unchanged("null"), in_listed_folders, "{json:#?}");
    assert_eq!(unchanged("304"), n - in_listed_folders, "{json:#?}");
    assert!(
        json.iter()
            .filter(|l| l.contains("\"status\":null"))
            .all(|l| l.contains("listing")),
        "{json:#?}"
    );
    let listed = json
        .iter()
        .filter(|l| l.contains("\"outcome\":\"listed\",\"status\":304"))
        .count();
    assert_eq!(listed, 3, "{json:#?}");
    assert!(
        json.iter()
            .any(|l| l.contains("\"file\":\"") && l.contains("caf\u{e9} \u{fc}n\u{ef}.txt")),
        "{json:#?}"
    );
    assert!(
        second
            .stderr
            .contains(&format!("0 new, 0 changed, {n} unchanged, 0 failed")),
        "{}",
        second.stderr
    );
    assert_eq!(tree(&host, false), got, "nothing changed on disk");

    // A file in a listed folder was asked for once; every other file twice: 200, then 304.
    // Listings (folder URLs) are 200, then 304; robots.txt, which serve does not have, 404
    // twice.
    let log = s.stop_and_collect_log();
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, status) in served(&log) {
        by_path.entry(path).or_default().push(status);
    }
    let folders: Vec<_> = by_path
        .keys()
        .filter(|p| p.ends_with('/'))
        .cloned()
        .collect();
    assert_eq!(
        folders,
        [
            "/",
            "/docs/",
            "/docs/deep/",
            "/docs/deep/er/",
            "/docs/site/",
            "/img/"
        ]
    );
    for (path, statuses) in &by_path {
        let want: &[&str] = if path == "/robots.txt" {
            &["404", "404"]
        } else if listed_file(&path[1..]) && !path.ends_with('/') || path == "/img/" {
            &["200"]
        } else {
            &["200", "304"]
        };
        assert_eq!(statuses, &want, "{path}: {log:#?}");
    }
}

#[test]
fn a_site_from_python_http_server_arrives_through_its_html_listings() {
    let site = temp_dir("mirror python ");
    awkward_site(site.path());
    let (_python, port) = http_server(python(), site.path());
    let out = temp_dir("mirror python out ");
    let url = format!("http://127.0.0.1:{port}/");
    let args = ["--mirror", &url, "--no-host-directories", "-Z"];
    let first = fetch_in(out.path(), &args);
    first.code(0);
    let mut got = tree(out.path(), false);
    got.retain(|name, _| !name.starts_with(".fetch-mirror/"));
    // Every file a link or a listing leads to, byte for byte, with the server's time. The
    // copy also has python's listings, as FOLDER/index.html, and the dotfiles python lists.
    let want = tree(site.path(), true);
    for (name, bytes) in &want {
        let Some(copy) = got.get(name) else {
            panic!("{name} is missing; got {:?}\n{}", got.keys(), first.stderr)
        };
        same_bytes(name, bytes, copy);
    }
    let listings = [
        "docs/index.html",
        "docs/deep/index.html",
        "docs/deep/er/index.html",
    ];
    for listing in listings {
        assert!(got.contains_key(listing), "{listing} in {:?}", got.keys());
    }
    // python sends Last-Modified and honours If-Modified-Since, but no ETag: each file is a
    // 304; its generated listings (the three above and .hidden-dir's) come again.
    let files = got.len() - 4;
    let second = fetch_in(out.path(), &args);
    second.code(0);
    let summary = format!("0 new, 4 changed, {files} unchanged, 0 failed");
    assert!(second.stderr.contains(&summary), "{}", second.stderr);
}

#[test]
fn links_that_try_to_leave_the_folder_write_nothing_outside_it() {
    let other = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nOTHER",
        Then::Close,
    );
    let other_url = other.url("/stolen");
    let long = "n".repeat(300);
    let page = format!(
        "<a href='../../escaped-dots'>1</a>\
         <a href='/%2e%2e/%2e%2e/escaped-encoded'>2</a>\
         <a href='/a%2F..%2F..%2Fescaped-slash'>3</a>\
         <a href='/..%5C..%5Cescaped-backslash'>4</a>\
         <a href='/nul%00.txt'>5</a>\
         <a href='/{long}'>6</a>\
         <a href='{other_url}'>7</a>\
         <a href='//127.0.0.2:1/x'>8</a>\
         <a href='/link/through-symlink.txt'>9</a>\
         <a href='/redirect'>10</a>\
         <a href='/list/'>11</a>\
         <a href='/fine.txt'>12</a>"
    );
    let other_port = other.port();
    let s = Script::start(move |head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let (status, extra, body) = match path.as_str() {
            "/" => ("200 OK", "Content-Type: text/html\r\n".to_string(), page.clone()),
            "/redirect" => (
                "302 Found",
                format!("Location: http://127.0.0.1:{other_port}/via-redirect\r\n"),
                String::new(),
            ),
            "/list/" => (
                "200 OK",
                "Content-Type: application/json\r\n".to_string(),
                r#"{"path":"/list/","entries":[{"name":"../../escaped-listing","type":"file","size":1,"modified":"x"},{"name":"a/../../b","type":"file","size":1,"modified":"x"},{"name":"ok.txt","type":"file","size":1,"modified":"x"}],"truncated":0}"#.to_string(),
            ),
            _ => ("200 OK", String::new(), format!("body of {path}")),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        (reply.into_bytes(), Then::KeepAlive)
    });

    let outer = temp_dir("mirror jail ");
    let dir = outer.path().join("inner");
    let host = dir.join(format!("127.0.0.1:{}", s.port()));
    std::fs::create_dir_all(&host).unwrap();
    let outside = outer.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, host.join("link")).unwrap();

    let run = fetch_in(
        outer.path(),
        &[
            "--mirror",
            &s.url("/"),
            "--directory-prefix",
            dir.to_str().unwrap(),
        ],
    );
    // /link/... is skipped: a symlink is in the way.
    run.code(0);
    assert!(run.stderr.contains("skipped"), "{}", run.stderr);
    assert!(run.stderr.contains("symlink"), "{}", run.stderr);

    let names: Vec<String> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["inner", "outside"], "nothing beside DIR");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing through the symlink"
    );
    assert!(other.requests().is_empty(), "no request to another port");
    let got = tree(&dir, false);
    for name in got.keys() {
        assert!(
            Path::new(name)
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "{name}"
        );
        assert!(
            !name.contains("escaped-encoded") && !name.contains("escaped-slash"),
            "{name}"
        );
    }
    let host_name = format!("127.0.0.1:{}", s.port());
    for want in ["index.html", "fine.txt", "list/ok.txt", "escaped-dots"] {
        assert!(
            got.contains_key(&format!("{host_name}/{want}")),
            "{want} in {got:?}"
        );
    }
    // RFC 3986: ../../ above the root stays at the root, so that one is fetched, in DIR.
    let requests = s.requests().join("");
    for refused in ["%2e%2e", "%2F..", "%5C", "%00", "nnnnnnnnnn"] {
        assert!(
            !requests.contains(refused),
            "{refused} was requested: {requests}"
        );
    }
}

/// A 200 with `body` as HTML.
fn html_reply(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn level_and_no_parent_bound_the_crawl() {
    let s = Script::start(|head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        // /a/1 -> /a/2 -> /a/3 ..., and each links above its folder too.
        let n: u32 = path
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let body = format!("<a href='/a/{}'>next</a><a href='/up.txt'>up</a>", n + 1);
        if head
            .to_ascii_lowercase()
            .contains("\r\nif-modified-since: ")
        {
            return (
                b"HTTP/1.1 304 Not Modified\r\n\r\n".to_vec(),
                Then::KeepAlive,
            );
        }
        (html_reply(&body), Then::KeepAlive)
    });
    let dir = temp_dir("mirror level ");
    let url = s.url("/a/1");
    let args = [
        "--recursive",
        "--level",
        "2",
        "--no-parent",
        &url,
        "--no-host-directories",
        "--execute",
        "robots=off",
    ];
    let run = fetch_in(dir.path(), &args);
    run.code(0);
    assert_eq!(s.accepted(), 1, "one kept-alive connection");
    let got: Vec<String> = tree(dir.path(), true).into_keys().collect();
    assert_eq!(got, ["a/1", "a/2", "a/3"], "{}", run.stderr);
    assert!(
        run.stderr.contains("above the start (--no-parent)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("beyond --level"), "{}", run.stderr);

    // No ETag: the second run asks If-Modified-Since, still on one connection, and takes
    // the links of unchanged pages from the first run's record. Before the first file, it
    // asks for the listing of its folder once (in JSON: a page answers, so that folder
    // and its files are asked no more).
    let again = fetch_in(dir.path(), &args);
    again.code(0);
    assert!(
        again.stderr.contains("0 new, 0 changed, 3 unchanged"),
        "{}",
        again.stderr
    );
    assert_eq!(s.accepted(), 2, "one more kept-alive connection");
    let mut asked = s.requests();
    assert_eq!(asked.len(), 7, "{asked:#?}");
    let probe = asked.remove(3);
    assert!(
        probe.starts_with("GET /a/ ") && probe.contains("Accept: application/json"),
        "{probe}"
    );
    for head in &asked[3..] {
        assert!(
            head.to_ascii_lowercase().contains("if-modified-since: "),
            "{head}"
        );
    }
}

#[test]
fn page_requisites_come_past_the_level() {
    let s = Script::start(|head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let (kind, body) = match path.as_str() {
            "/" => ("text/html", "<a href=a.html>a</a>"),
            "/a.html" => (
                "text/html",
                "<img src=deep.png><link rel=stylesheet href=s.css><a href=b.html>b</a>",
            ),
            "/s.css" => ("text/css", "body{background:url(bg.png)}"),
            _ => ("application/octet-stream", "file"),
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        (reply.into_bytes(), Then::KeepAlive)
    });
    let url = s.url("/");
    let args = ["--recursive", "--level", "1", &url, "--no-host-directories"];
    let dir = temp_dir("mirror requisites ");
    let run = fetch_in(dir.path(), &[&args[..], &["--page-requisites"]].concat());
    run.code(0);
    let got: Vec<String> = tree(dir.path(), true).into_keys().collect();
    assert_eq!(
        got,
        ["a.html", "bg.png", "deep.png", "index.html", "s.css"],
        "{}",
        run.stderr
    );

    let without = temp_dir("mirror requisites without ");
    fetch_in(without.path(), &args).code(0);
    let got: Vec<String> = tree(without.path(), true).into_keys().collect();
    assert_eq!(got, ["a.html", "index.html"]);
}

#[test]
fn retry_takes_a_file_again_after_a_503() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let flaky = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = flaky.clone();
    let s = Script::start(move |head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        if path == "/flaky.txt" && seen.fetch_add(1, Ordering::SeqCst) == 0 {
            let reply = b"HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n";
            return (reply.to_vec(), Then::KeepAlive);
        }
        let body = if path == "/" {
            "<a href=flaky.txt>f</a>"
        } else {
            "fine"
        };
        (html_reply(body), Then::KeepAlive)
    });
    let dir = temp_dir("mirror retry ");
    let url = s.url("/");
    let args = ["--mirror", &url, "--no-host-directories", "--retry", "2"];
    let run = fetch_in(dir.path(), &args);
    run.code(0);
    assert!(
        run.stderr.contains("HTTP 503; retry 1 of 2"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(dir.path().join("flaky.txt")).unwrap(),
        b"fine"
    );
    assert_eq!(flaky.load(Ordering::SeqCst), 2);
}

#[test]
fn span_hosts_follows_other_hosts_within_domains() {
    let other = Script::start(|head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let body = if path == "/robots.txt" { "" } else { "other" };
        (html_reply(body), Then::KeepAlive)
    });
    let port = other.port();
    let home = Script::start(move |head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let body = match path.as_str() {
            "/" => format!(
                "<a href='http://other.test:{port}/x.txt'>x</a>\
                 <a href='http://127.0.0.1:{port}/y.txt'>y</a><a href=z.txt>z</a>"
            ),
            _ => "home".to_string(),
        };
        (html_reply(&body), Then::KeepAlive)
    });
    let url = home.url("/");
    let resolve = format!("other.test:{port}:127.0.0.1");
    let files = |extra: &[&str]| {
        let dir = temp_dir("mirror span ");
        let args = [
            "--mirror",
            &url,
            "--resolve",
            &resolve,
            "--execute",
            "robots=off",
        ];
        fetch_in(dir.path(), &[&args[..], extra].concat()).code(0);
        tree(dir.path(), true).into_keys().collect::<Vec<String>>()
    };
    let h = format!("127.0.0.1:{}", home.port());
    assert_eq!(
        files(&[]),
        [format!("{h}/index.html"), format!("{h}/z.txt")]
    );
    let mut all = vec![
        format!("127.0.0.1:{port}/y.txt"),
        format!("{h}/index.html"),
        format!("{h}/z.txt"),
        format!("other.test:{port}/x.txt"),
    ];
    all.sort();
    assert_eq!(files(&["--span-hosts"]), all);
    let within = files(&["--span-hosts", "--domains", "test"]);
    assert_eq!(
        within,
        [
            format!("{h}/index.html"),
            format!("{h}/z.txt"),
            format!("other.test:{port}/x.txt")
        ]
    );
}

/// A site whose page links by absolute paths and URLs, which only work offline once
/// converted: www/'s style sheet, script and logo, and docs/page.html that uses them.
pub fn absolute_site(root: &Path) {
    let www = crate::support::repo_root().join("www");
    for name in ["style.css", "app.js", "logo.png"] {
        put(root, name, &std::fs::read(www.join(name)).unwrap());
    }
    put(root, "docs/a b.txt", b"text");
    put(root, "listed/x.txt", b"x");
    put(
        root,
        "docs/page.html",
        b"<!doctype html><html><head><meta charset=utf-8>\
          <link rel=stylesheet href=/style.css></head><body>\
          <header><img src='/logo.png' width=48 height=48></header>\
          <p id=\"status\" class=\"status\">app.js did not run</p>\
          <a href='/docs/a%20b.txt#part'>text</a> <a href='/listed/'>listed</a>\
          <a href='/nowhere.html'>gone</a>\
          <script src=/app.js></script></body></html>",
    );
    put(root, "index.html", b"<a href=/docs/page.html>page</a>");
}

#[test]
fn convert_links_makes_the_copy_work_offline_and_survives_the_next_run() {
    let site = temp_dir("mirror convert ");
    absolute_site(site.path());
    let mut s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let url = format!("http://{}/", s.addr());
    let dir = temp_dir("mirror convert out ");
    let args = ["--mirror", &url, "--no-host-directories", "--convert-links"];
    let run = fetch_in(dir.path(), &args);
    run.code(22); // /nowhere.html is a broken link: it stays absolute
    assert!(
        run.stderr.contains("converted the links of 2 files"),
        "{}",
        run.stderr
    );
    let page =
        String::from_utf8(std::fs::read(dir.path().join("docs/page.html")).unwrap()).unwrap();
    for want in [
        "href=\"../style.css\"",
        "src=\"../logo.png\"",
        "src=\"../app.js\"",
        "href=\"a%20b.txt#part\"",
        "href=\"../listed/\"",
        &format!("href=\"{url}nowhere.html\""),
    ] {
        assert!(page.contains(want), "{want} in {page}");
    }
    assert_eq!(
        mtime(&dir.path().join("docs/page.html")),
        mtime(&site.path().join("docs/page.html")),
        "the converted page keeps the server's time"
    );

    // The next run: the converted page is still the server's (its ETag, a 304), and
    // converting it again changes nothing.
    let again = fetch_in(dir.path(), &args);
    again.code(22);
    assert!(
        again.stderr.contains("converted the links of 0 files"),
        "{}",
        again.stderr
    );
    let log = s.stop_and_collect_log();
    let page_lines: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("GET /docs/page.html "))
        .collect();
    assert_eq!(page_lines.len(), 2, "{log:#?}");
    assert!(page_lines[1].contains("\" 304 "), "{log:#?}");
}

#[test]
fn robots_txt_is_respected_unless_turned_off() {
    let s = Script::start(|head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let body = match path.as_str() {
            "/robots.txt" => {
                "User-agent: *\nDisallow: /private/\n\nUser-agent: fetch\nDisallow: /not-for-fetch\nDisallow: /private/\nAllow: /private/open\n"
            }
            "/" => {
                "<a href='private/secret.txt'>a</a><a href='private/open.txt'>b</a><a href='not-for-fetch.txt'>c</a><a href='public.txt'>d</a>"
            }
            _ => "file",
        };
        (html_reply(body), Then::KeepAlive)
    });
    let dir = temp_dir("mirror robots ");
    let url = s.url("/");
    let run = fetch_in(dir.path(), &["--mirror", &url, "--no-host-directories"]);
    run.code(0);
    let got: Vec<String> = tree(dir.path(), true).into_keys().collect();
    assert_eq!(
        got,
        ["index.html", "private/open.txt", "public.txt"],
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("2 disallowed by robots.txt"),
        "{}",
        run.stderr
    );
    let asked = s.requests().join("");
    assert!(
        !asked.contains("secret") && !asked.contains("not-for-fetch"),
        "{asked}"
    );

    let off = temp_dir("mirror robots off ");
    let run = fetch_in(
        off.path(),
        &[
            "--mirror",
            &url,
            "--no-host-directories",
            "--execute",
            "robots=off",
        ],
    );
    run.code(0);
    assert_eq!(tree(off.path(), true).len(), 5, "{}", run.stderr);
}

#[test]
fn accept_and_reject_keep_some_files_and_still_read_pages() {
    let site = temp_dir("mirror accept ");
    put(
        site.path(),
        "index.html",
        b"<a href='a.txt'>a</a><a href='b.pdf'>b</a><a href='sub/'>s</a>",
    );
    put(site.path(), "a.txt", b"a");
    put(site.path(), "b.pdf", b"b");
    put(site.path(), "sub/c.txt", b"c");
    put(site.path(), "sub/d.tar.gz", b"d");
    let mut s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let url = format!("http://{}/", s.addr());
    let dir = temp_dir("mirror accept out ");
    let args = ["--mirror", &url, "--no-host-directories"];
    let lists = ["--accept", "txt,*.gz", "--reject", "d.*"];
    let run = fetch_in(dir.path(), &[&args[..], &lists[..]].concat());
    run.code(0);
    let got: Vec<String> = tree(dir.path(), true).into_keys().collect();
    assert_eq!(got, ["a.txt", "sub/c.txt"], "{}", run.stderr);
    // index.html (read for its links, then removed), b.pdf and d.tar.gz (never fetched).
    assert!(
        run.stderr.contains("3 not kept by --accept/--reject"),
        "{}",
        run.stderr
    );
    let log = s.stop_and_collect_log().join("\n");
    assert!(!log.contains("b.pdf") && !log.contains("d.tar.gz"), "{log}");
}

#[test]
fn delete_removes_what_vanished_and_nothing_else() {
    let site = temp_dir("mirror delete ");
    put(site.path(), "keep.txt", b"k");
    put(site.path(), "gone.txt", b"g");
    put(site.path(), "old/gone too.txt", b"g");
    let s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let url = format!("http://{}/", s.addr());
    let dir = temp_dir("mirror delete out ");
    let args = ["--mirror", &url, "--no-host-directories", "--delete"];
    fetch_in(dir.path(), &args).code(0);
    put(dir.path(), "mine.txt", b"not written by fetch");
    std::fs::remove_file(site.path().join("gone.txt")).unwrap();
    std::fs::remove_dir_all(site.path().join("old")).unwrap();

    // Without --delete, nothing goes.
    fetch_in(dir.path(), &args[..3]).code(0);
    assert_eq!(tree(dir.path(), true).len(), 4);

    let run = fetch_in(dir.path(), &args);
    run.code(0);
    let got: Vec<String> = tree(dir.path(), true).into_keys().collect();
    assert_eq!(got, ["keep.txt", "mine.txt"], "{}", run.stderr);
    assert!(run.stderr.contains("2 removed"), "{}", run.stderr);
    assert!(
        run.stderr.contains("removed gone.txt (gone upstream)"),
        "{}",
        run.stderr
    );
}

#[test]
fn files_changed_upstream_in_a_listed_folder_are_fetched_again_and_counted() {
    let site = temp_dir("mirror listed changes ");
    for name in ["same.txt", "longer.txt", "touched.txt", "sub/deep.txt"] {
        put(site.path(), name, b"first");
    }
    let s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let url = format!("http://{}/", s.addr());
    let dir = temp_dir("mirror listed changes out ");
    let args = ["--mirror", &url, "--no-host-directories", "--report-json"];
    fetch_in(dir.path(), &args).code(0);

    // One file grows; one keeps its size but gets another time (an edit of the same
    // length); one in a subfolder changes: each must be fetched again, not taken on the
    // listing's word.
    // (The same-size edits get a time far from now, as an edit within the same second
    // would be invisible to a size-and-time check, wget -N's and rsync's alike.)
    put(site.path(), "longer.txt", b"first, and more");
    put(site.path(), "sub/deep.txt", b"again");
    put(site.path(), "touched.txt", b"FIRST");
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for name in ["touched.txt", "sub/deep.txt"] {
        let f = std::fs::File::options()
            .write(true)
            .open(site.path().join(name))
            .unwrap();
        f.set_modified(old).unwrap();
    }

    let run = fetch_in(dir.path(), &args);
    run.code(0);
    assert!(
        run.stderr
            .contains("0 new, 3 changed, 1 unchanged, 0 failed"),
        "{}",
        run.stderr
    );
    assert_eq!(tree(dir.path(), true), tree(site.path(), true));
    let line = |name: &str| {
        run.stderr
            .lines()
            .find(|l| l.contains(&format!("\"file\":\"{name}\"")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("same.txt").contains("\"outcome\":\"unchanged\",\"status\":null"));
    assert!(line("same.txt").contains("listing"));
    for name in ["longer.txt", "touched.txt", "sub/deep.txt"] {
        assert!(
            line(name).contains("\"outcome\":\"changed\",\"status\":200"),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn accept_regex_and_reject_regex_bound_the_urls_followed() {
    let site = temp_dir("mirror regex ");
    put(
        site.path(),
        "docs/a.html",
        b"<a href='../other/linked.txt'>x</a>",
    );
    put(site.path(), "docs/b.pdf", b"b");
    put(site.path(), "docs/keep.txt", b"k");
    put(site.path(), "other/c.txt", b"c");
    put(site.path(), "other/linked.txt", b"l");
    let mut s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let url = format!("http://{}/", s.addr());
    let dir = temp_dir("mirror regex out ");
    let args = [
        "--mirror",
        &url,
        "--no-host-directories",
        "--accept-regex",
        "/docs/",
        "--reject-regex",
        r"\.pdf$",
    ];
    let run = fetch_in(dir.path(), &args);
    run.code(0);
    let got: Vec<String> = tree(dir.path(), true).into_keys().collect();
    assert_eq!(got, ["docs/a.html", "docs/keep.txt"], "{}", run.stderr);
    assert!(
        run.stderr
            .contains("3 not followed by --accept-regex/--reject-regex"),
        "{}",
        run.stderr
    );
    let log = s.stop_and_collect_log().join("\n");
    assert!(!log.contains("b.pdf") && !log.contains("other/"), "{log}");

    let bad = fetch_in(dir.path(), &["--mirror", &url, "--reject-regex", "a(b"]);
    bad.code(2)
        .error("--reject-regex: not a regular expression");
    assert_eq!(bad.stderr.trim().lines().count(), 1, "{}", bad.stderr);
}

#[test]
fn a_file_cut_off_is_resumed_with_range_and_if_range_by_the_next_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let changed = std::sync::Arc::new(AtomicBool::new(false));
    let upstream = changed.clone();
    // The whole file is 0123456789; the first answer stops after 4 bytes. A Range with the
    // right If-Range gets the rest (206); once the file "changed", the whole (200).
    let s = Script::start(move |head| {
        let lower = head.to_ascii_lowercase();
        let etag = if upstream.load(Ordering::SeqCst) {
            "\"v2\""
        } else {
            "\"v1\""
        };
        if lower.contains("range: bytes=4-") && lower.contains(&format!("if-range: {etag}")) {
            let reply = format!(
                "HTTP/1.1 206 Partial Content\r\nETag: {etag}\r\nContent-Range: bytes 4-9/10\r\n\
                 Content-Length: 6\r\n\r\n456789"
            );
            return (reply.into_bytes(), Then::KeepAlive);
        }
        if upstream.load(Ordering::SeqCst) {
            let reply =
                format!("HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: 10\r\n\r\nABCDEFGHIJ");
            return (reply.into_bytes(), Then::KeepAlive);
        }
        let reply = format!("HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: 10\r\n\r\n0123");
        (reply.into_bytes(), Then::Close)
    });
    let url = s.url("/data.bin");
    let dir = temp_dir("mirror resume ");
    let args = [
        "--mirror",
        &url,
        "--no-host-directories",
        "--execute",
        "robots=off",
        "--report-json",
    ];
    fetch_in(dir.path(), &args).code(18);
    let part = dir.path().join("data.bin.part");
    assert_eq!(
        std::fs::read(&part).unwrap(),
        b"0123",
        "the cut-off .part stays"
    );
    assert!(!dir.path().join("data.bin").exists());

    let run = fetch_in(dir.path(), &args);
    run.code(0);
    assert_eq!(
        std::fs::read(dir.path().join("data.bin")).unwrap(),
        b"0123456789"
    );
    assert!(!part.exists());
    assert!(
        run.stderr.contains("\"outcome\":\"new\",\"status\":206")
            && run.stderr.contains("\"bytes\":6")
            && run.stderr.contains("resumed at byte 4"),
        "{}",
        run.stderr
    );
    let heads = s.requests();
    let last = heads.last().unwrap().to_ascii_lowercase();
    assert!(
        last.contains("range: bytes=4-") && last.contains("if-range: \"v1\""),
        "{last}"
    );

    // Cut off again, then changed upstream: If-Range does not match, the whole comes back.
    std::fs::remove_file(dir.path().join("data.bin")).unwrap();
    fetch_in(dir.path(), &args).code(18);
    changed.store(true, Ordering::SeqCst);
    let run = fetch_in(dir.path(), &args);
    run.code(0);
    assert_eq!(
        std::fs::read(dir.path().join("data.bin")).unwrap(),
        b"ABCDEFGHIJ"
    );
    assert!(run.stderr.contains("\"status\":200"), "{}", run.stderr);
}

#[test]
fn mirror_flags_are_checked() {
    let dir = temp_dir("mirror usage ");
    fetch_in(dir.path(), &["--level", "2", "http://127.0.0.1:1/"])
        .code(2)
        .error("--level goes with --mirror or --recursive");
    fetch_in(
        dir.path(),
        &["--mirror", "-r", "0-1", "http://127.0.0.1:1/"],
    )
    .code(2)
    .error("curl's --range");
    fetch_in(
        dir.path(),
        &["--mirror", "http://127.0.0.1:1/a", "http://127.0.0.1:1/b"],
    )
    .code(2)
    .error("exactly one start URL");
    fetch_in(
        dir.path(),
        &["--mirror", "--level", "deep", "http://127.0.0.1:1/"],
    )
    .code(2);
    let url = "http://127.0.0.1:1/";
    fetch_in(dir.path(), &["--mirror", "--execute", "tries=3", url])
        .code(2)
        .error("only robots=on|off");
    fetch_in(dir.path(), &["--mirror", "--delete", "--level", "3", url])
        .code(2)
        .error("--delete cannot go with --level");
    fetch_in(dir.path(), &["--mirror", "--limit-rate", "1k", url])
        .code(2)
        .error("--limit-rate cannot go with --mirror");
    fetch_in(dir.path(), &["--mirror", "-D", "h.txt", url])
        .code(2)
        .error("wget's -D is --domains");
    fetch_in(dir.path(), &["--recursive", "--delete", url])
        .code(2)
        .error("--delete cannot go with --level");
}

/// Each request's path and status in serve's access log, in order.
fn served(log: &[String]) -> Vec<(String, String)> {
    log.iter()
        .map(|line| {
            let request = line.split('"').nth(1).unwrap_or("");
            let path = request.split(' ').nth(1).unwrap_or("").to_string();
            let status = line
                .split('"')
                .nth(2)
                .unwrap_or("")
                .split_whitespace()
                .next();
            (path, status.unwrap_or("").to_string())
        })
        .collect()
}

/// Pages that link to each other and to images in a folder without index.html; the root
/// has one, so serve answers `/` with it: the site is walked through its HTML, as a real
/// documentation site is.
fn linked_site(root: &Path) {
    put(
        root,
        "index.html",
        b"<title>home</title><a href='a.html'>a</a><img src='img/x.png'>",
    );
    put(
        root,
        "a.html",
        b"<a href=\"b.html\">b</a> <img src='img/y.png'>",
    );
    put(root, "b.html", b"<a href='index.html'>home</a>");
    put(root, "img/x.png", &crate::support::noise(900, 7));
    put(root, "img/y.png", &crate::support::noise(1200, 8));
}

#[test]
fn an_unchanged_page_costs_its_304_and_its_links_come_from_the_record_not_the_page() {
    let site = temp_dir("journal site ");
    linked_site(site.path());
    let mut s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let out = temp_dir("journal out ");
    let dir = out.path().to_str().unwrap();
    let url = format!("http://{}/", s.addr());
    let args = [
        "--mirror",
        "--no-host-directories",
        "--directory-prefix",
        dir,
        &url,
    ];
    fetch_in(out.path(), &args).code(0);
    // serve's access log is buffered: wait for the first run's seven requests (robots.txt,
    // /, index.html, a.html, b.html and the two images) before counting from them.
    let logged = |n: usize| {
        crate::support::wait_for(
            "serve's access log",
            std::time::Duration::from_secs(10),
            || {
                let log = served(&s.log());
                (log.len() >= n).then_some(log)
            },
        )
    };
    let first = logged(7);
    // The copy of a.html is changed on disk, behind fetch's back, keeping its size, time
    // and record: a fetch that read the page again would follow c.html, which does not
    // exist; one that takes its links from the record follows b.html, as the server's page
    // says.
    let a = out.path().join("a.html");
    let t = std::fs::metadata(&a).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&a)
        .unwrap()
        .replace("b.html", "c.html");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&a)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.set_modified(t)
        })
        .unwrap();
    let second = fetch_in(out.path(), &[&args[..], &["--report-json"]].concat());
    second.code(0);
    assert!(
        second
            .stderr
            .contains("0 new, 0 changed, 5 unchanged, 0 failed"),
        "{}",
        second.stderr
    );
    // The second run: the five pages and the listing of img/.
    let log = logged(first.len() + 5);
    let again = &log[first.len()..];
    let asked = |p: &str| again.iter().filter(|(path, _)| path == p).count();
    assert_eq!(asked("/c.html"), 0, "a.html was parsed again: {again:?}");
    for page in ["/", "/a.html", "/b.html"] {
        let status: Vec<_> = again.iter().filter(|(p, _)| p == page).collect();
        assert!(
            status.iter().any(|(_, st)| st == "304"),
            "{page}: {again:?}"
        );
    }
    // img/ has no index.html: serve lists it in JSON, once, and its two files, which the
    // listing shows as the copies are, cost no request.
    assert_eq!(asked("/img/"), 1, "{again:?}");
    assert_eq!(asked("/img/x.png") + asked("/img/y.png"), 0, "{again:?}");

    // With the record lost, the page is read again (and now follows what the copy says).
    std::fs::remove_file(out.path().join(".fetch-mirror/links")).unwrap();
    let before = s.log().len();
    let third = fetch_in(out.path(), &args);
    third.code(22);
    let log = served(&s.stop_and_collect_log());
    assert!(
        log[before..]
            .iter()
            .any(|(p, st)| p == "/c.html" && st == "404"),
        "{log:?}"
    );
}

#[test]
fn a_mirror_runs_several_requests_at_once_by_default_and_one_with_parallel_max_1_or_wait() {
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::{Duration, Instant};
    // Each leaf answers only once another request is in flight with it (or after 10 s,
    // for a crawl that never has two: then the most seen at once stays 1).
    let flight = Arc::new((Mutex::new((0usize, 0usize)), Condvar::new()));
    let gate = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (f, g) = (flight.clone(), gate.clone());
    let s = Script::start(move |head| {
        let path = super::scripted::path_of(head);
        if path == "/" {
            let links: String = (0..8)
                .map(|i| format!("<a href='p{i}.html'>x</a>"))
                .collect();
            return super::scripted::ok(links.as_bytes());
        }
        if path == "/robots.txt" {
            return (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                Then::KeepAlive,
            );
        }
        let (lock, cv) = &*f;
        let mut n = lock.lock().unwrap();
        n.0 += 1;
        n.1 = n.1.max(n.0);
        cv.notify_all();
        let until = Instant::now() + Duration::from_secs(10);
        while g.load(std::sync::atomic::Ordering::SeqCst) && n.1 < 2 && Instant::now() < until {
            n = cv.wait_timeout(n, Duration::from_millis(50)).unwrap().0;
        }
        n.0 -= 1;
        drop(n);
        super::scripted::ok(b"leaf")
    });
    let out = temp_dir("parallel out ");
    let dir = out.path().to_str().unwrap();
    let url = s.url("/");
    fetch_in(out.path(), &["--mirror", "--directory-prefix", dir, &url]).code(0);
    assert!(
        flight.0.lock().unwrap().1 >= 2,
        "never two requests at once"
    );

    // One at a time: no leaf waits for another, and one kept-alive connection serves all.
    gate.store(false, std::sync::atomic::Ordering::SeqCst);
    for one in [&["--parallel-max", "1"][..], &["--wait", "0.001"][..]] {
        let s2 = Script::start(|head| match super::scripted::path_of(head) {
            "/" => super::scripted::ok(b"<a href=a>a</a><a href=b>b</a><a href=c>c</a>"),
            _ => super::scripted::ok(b"leaf"),
        });
        let out = temp_dir("sequential out ");
        let dir = out.path().to_str().unwrap();
        let url = s2.url("/");
        let args = [&["--mirror", "--directory-prefix", dir, &url][..], one].concat();
        fetch_in(out.path(), &args).code(0);
        assert_eq!(s2.requests().len(), 5, "{one:?}: {:?}", s2.requests());
        assert_eq!(
            s2.accepted(),
            1,
            "{one:?}: one connection, one request at a time"
        );
    }
}
