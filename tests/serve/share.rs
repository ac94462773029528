//! Sharing a folder (issue 16), end to end: complete listings over the wire, the command
//! line's hints and refusals, and the QR code.

use std::io::{Read, Write};
use std::process::Command;

use crate::support::child::{LIMIT, run};
use crate::support::serve::{Serve, read_response, request};
use crate::support::{bin, temp_dir};

/// Runs `serve ARGS` to its exit: (exit code, stderr).
fn serve_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = run(Command::new(bin("serve")).args(args), LIMIT);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_folder_of_twelve_thousand_files_is_listed_whole() {
    let dir = temp_dir("serve share many ");
    for i in 0..12_000 {
        std::fs::File::create(dir.path().join(format!("f{i:05}.txt"))).unwrap();
    }
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    let html = request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").text();
    assert_eq!(html.matches("<tr><td class=\"n\">").count(), 12_000);
    assert!(html.contains(">f00000.txt<") && html.contains(">f11999.txt<"));
    assert!(!html.contains("more entries not shown"));
    let json = request(
        &mut c,
        "GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n",
    )
    .text();
    assert_eq!(json.matches("\"type\":\"file\"").count(), 12_000);
    assert!(
        json.contains("\"truncated\":0"),
        "{}",
        &json[json.len() - 80..]
    );
}

#[test]
fn a_port_number_for_dir_gets_a_hint() {
    let (code, err) = serve_exit(&["8000"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "serve: cannot serve 8000: no such file or directory (to listen on port 8000: serve -p 8000)\n"
    );
}

#[test]
fn upload_options_need_upload_and_bad_values_are_one_line() {
    let dir = temp_dir("serve share flags ");
    let d = dir.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--overwrite", d], "--upload"),
        (&["--max-upload", "1G", d], "--upload"),
        (&["--upload", "--max-upload", "lots", d], "not a size"),
        (&["--auth", "nopassword", d], "USER:PASSWORD"),
        (&["--auth", "a:sha256:123", d], "64 hexadecimal"),
        (&["--upload", "--upload-dir", "../x", d], "--upload-dir"),
        (&["--upload", "--upload-dir", "missing", d], "--upload-dir"),
        (&["--auth-file", "/no/such/file", d], "--auth-file"),
    ];
    for (args, want) in cases {
        let (code, err) = serve_exit(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("serve: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn qr_prints_a_code_and_the_url_after_the_first_line() {
    let dir = temp_dir("serve share qr ");
    let s = Serve::start(&["-p", "0", "--qr", dir.path().to_str().unwrap()]);
    let url = s.url.clone();
    let lines = crate::support::wait_for("the QR code", LIMIT, || {
        let lines = s.log();
        lines.iter().any(|l| l.contains(&url)).then_some(lines)
    });
    let blocks = lines.iter().filter(|l| l.contains('\u{2588}')).count();
    assert!(blocks >= 10, "{lines:?}");
    let last = lines.iter().find(|l| l.contains(&url)).unwrap();
    assert!(last.contains("this machine only"), "{last}");
}

/// `cmd` run to its end, which must succeed; its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd, LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A raw request to `s` with extra header lines; the whole response.
fn ask(s: &Serve, head: &str) -> crate::support::serve::Response {
    request(&mut s.connect(), head)
}

#[test]
fn auth_guards_every_method_path_and_header() {
    let dir = temp_dir("serve share auth ");
    std::fs::write(dir.path().join("a b.txt"), "secret text").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let d = dir.path().to_str().unwrap();
    // alice:wonder, and bob by the SHA-256 of "builder" (as sha256sum prints it).
    let digest = run(
        Command::new("sh").args(["-c", "printf builder | sha256sum"]),
        LIMIT,
    );
    let digest = String::from_utf8(digest.stdout).unwrap();
    let bob = format!("bob:sha256:{}", digest.split_whitespace().next().unwrap());
    let s = Serve::start(&["-p", "0", "--auth", "alice:wonder", "--auth", &bob, d]);
    // "alice:wonder" and "bob:builder" in base64.
    let alice = "Authorization: Basic YWxpY2U6d29uZGVy\r\n";
    let bob_ok = "Authorization: Basic Ym9iOmJ1aWxkZXI=\r\n";
    let unauthorized = [
        "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        "HEAD /a%20b.txt HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\n\r\n".into(),
        "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n".into(),
        "GET /%61%20b.txt HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "GET //sub/../a%20b.txt HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n".into(),
        "GET /sub HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "GET / HTTP/1.0\r\n\r\n".into(),
        "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6V29uZGVy\r\n\r\n"
            .into(),
        "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer YWxpY2U6d29uZGVy\r\n\r\n"
            .into(),
        "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6d29uZGVy=\r\n\r\n"
            .into(),
        format!(
            "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\r\n",
            "QUFB".repeat(1100)
        ),
        // Two headers: the first one counts.
        format!("GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5\r\n{alice}\r\n"),
    ];
    for raw in &unauthorized {
        let r = ask(&s, raw);
        assert_eq!(r.status, 401, "{raw}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"serve\", charset=\"UTF-8\""),
            "{raw}"
        );
        assert!(!r.text().contains("secret"), "{raw}");
    }
    // Non-UTF-8 credentials, as raw bytes.
    let mut c = s.connect();
    c.write_all(b"GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe==\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status, 401);
    for good in [alice, bob_ok] {
        let r = ask(
            &s,
            &format!("GET /a%20b.txt HTTP/1.1\r\nHost: x\r\n{good}\r\n"),
        );
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "secret text"),
            "{good}"
        );
    }
    let r = ask(
        &s,
        &format!("GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-5\r\n{alice}\r\n"),
    );
    assert_eq!((r.status, r.text().as_str()), (206, "secret"));
    // curl: -u works, a wrong password is 401.
    let curl = |user: &str| {
        let out = run(
            Command::new("curl").args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                user,
                &format!("{}a%20b.txt", s.url),
            ]),
            LIMIT,
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(curl("alice:wonder"), "200");
    assert_eq!(curl("alice:nope"), "401");
    // Failures are logged on stderr, without the password.
    let err = crate::support::wait_for("an auth line on stderr", LIMIT, || {
        let e = s.stderr();
        e.contains("serve: auth: ").then_some(e)
    });
    assert!(!err.contains("nope") && !err.contains("V29uZGVy"), "{err}");
}

#[test]
fn listings_sort_by_the_query_and_revalidate_with_their_etag() {
    let dir = temp_dir("serve share sort ");
    std::fs::write(dir.path().join("small.txt"), "1").unwrap();
    std::fs::write(dir.path().join("big.txt"), "12345678").unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let get = |target: &str, extra: &str| {
        ask(
            &s,
            &format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n"),
        )
    };
    let order = |text: &str| {
        let at = |n: &str| text.find(n).unwrap_or_else(|| panic!("{n} in {text}"));
        (at("folder"), at("big.txt"), at("small.txt"))
    };
    let by_size = get("/?sort=size&order=desc", "");
    assert_eq!(by_size.status, 200);
    let (f, b, sm) = order(&by_size.text());
    assert!(f < b && b < sm, "folders first, then the biggest");
    let (f, b, sm) = order(&get("/?sort=size", "").text());
    assert!(f < sm && sm < b);
    let json = get("/?sort=size&order=desc", "Accept: application/json\r\n").text();
    let (f, b, sm) = order(&json);
    assert!(f < b && b < sm, "{json}");
    assert!(
        json.ends_with("\"sort\":\"size\",\"order\":\"desc\"}\n"),
        "{json}"
    );
    // Same query, same bytes and tag; a 304 while nothing changes; a new tag after.
    let again = get("/?sort=size&order=desc", "");
    assert_eq!(again.body, by_size.body);
    let tag = by_size.header("etag").unwrap().to_string();
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    assert_ne!(get("/", "").header("etag"), Some(tag.as_str()));
    let r = get(
        "/?sort=size&order=desc",
        &format!("If-None-Match: {tag}\r\n"),
    );
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("etag"), Some(tag.as_str()));
    std::fs::write(dir.path().join("new.txt"), "n").unwrap();
    let r = get(
        "/?sort=size&order=desc",
        &format!("If-None-Match: {tag}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("new.txt"));
    // The column headers sort; the breadcrumb and the dark theme are there.
    let page = get("/folder/", "").text();
    assert!(
        page.contains("<button name=\"sort\" value=\"size\">"),
        "{page}"
    );
    assert!(page.contains("<a href=\"/folder/\">folder/</a>"), "{page}");
    assert!(page.contains("prefers-color-scheme:dark"));
}

#[test]
fn compress_picks_the_encoding_by_q_values_and_caches_it() {
    use std::io::Read;
    let dir = temp_dir("serve share compress ");
    let text: String = (0..2000)
        .map(|i| format!("line {i} of a text file\n"))
        .collect();
    std::fs::write(dir.path().join("big.txt"), &text).unwrap();
    std::fs::write(dir.path().join("small.txt"), "tiny").unwrap();
    std::fs::write(dir.path().join("pic.png"), text.as_bytes()).unwrap();
    std::fs::write(dir.path().join("pre.css"), &text).unwrap();
    std::fs::write(dir.path().join("pre.css.gz"), b"precompressed bytes").unwrap();
    let s = Serve::start(&["-p", "0", "--compress", dir.path().to_str().unwrap()]);
    let get = |target: &str, extra: &str| {
        ask(
            &s,
            &format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n"),
        )
    };

    let gz = get("/big.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    let gz_tag = gz.header("etag").unwrap().to_string();
    assert!(gz_tag.ends_with("-gz\""), "{gz_tag}");
    let mut back = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut back)
        .unwrap();
    assert_eq!(back, text);
    assert!(gz.body.len() < text.len() / 4);

    let br = get("/big.txt", "Accept-Encoding: gzip;q=0.5, br\r\n");
    assert_eq!(br.header("content-encoding"), Some("br"));
    let br_tag = br.header("etag").unwrap().to_string();
    assert!(br_tag.ends_with("-br\"") && br_tag != gz_tag, "{br_tag}");
    let mut back = Vec::new();
    brotli::Decompressor::new(&br.body[..], 4096)
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, text.as_bytes());
    // The same again: the same bytes, from the cache; and each encoding revalidates alone.
    assert_eq!(
        get("/big.txt", "Accept-Encoding: gzip;q=0.5, br\r\n").body,
        br.body
    );
    let r = get(
        "/big.txt",
        &format!("Accept-Encoding: br\r\nIf-None-Match: {br_tag}\r\n"),
    );
    assert_eq!(r.status, 304);
    let r = get(
        "/big.txt",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {br_tag}\r\n"),
    );
    assert_eq!(r.status, 200);

    let plain = get("/big.txt", "");
    assert_eq!(
        (plain.header("content-encoding"), plain.header("vary")),
        (None, Some("Accept-Encoding"))
    );
    assert_eq!(plain.text(), text);
    let range = get("/big.txt", "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n");
    assert_eq!(
        (range.status, range.header("content-encoding")),
        (206, None)
    );
    assert_eq!(range.text(), &text[..10]);
    for (target, why) in [
        ("/small.txt", "too small"),
        ("/pic.png", "not compressible"),
    ] {
        let r = get(target, "Accept-Encoding: gzip, br\r\n");
        assert_eq!(r.header("content-encoding"), None, "{why}");
    }
    let refused = get("/big.txt", "Accept-Encoding: gzip;q=0, br;q=0\r\n");
    assert_eq!(refused.header("content-encoding"), None);
    // A precompressed file on disk still wins.
    let pre = get("/pre.css", "Accept-Encoding: br, gzip\r\n");
    assert_eq!(
        (pre.header("content-encoding"), pre.body.as_slice()),
        (Some("gzip"), &b"precompressed bytes"[..])
    );
    // curl --compressed gets the text back.
    let out = run(
        Command::new("curl").args(["-s", "--compressed", &format!("{}big.txt", s.url)]),
        LIMIT,
    );
    assert!(out.stdout == text.as_bytes());
}

/// The names in a folder, sorted (to see that nothing half-written lingers).
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// curl with `args` against `url`: (status code, body).
fn curl(args: &[&str], url: &str) -> (String, String) {
    let out = run(
        Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}"])
            .args(args)
            .arg(url),
        LIMIT,
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or_else(|| {
        panic!(
            "curl {args:?} {url}: {text:?} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code.to_string(), body.to_string())
}

#[test]
fn uploads_with_curl_put_and_form_whole_or_not_at_all() {
    let dir = temp_dir("serve share upload ");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(dir.path().join("outside.txt"), "keep").unwrap();
    let data = crate::support::noise(3 << 20, 7);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let src = src.to_str().unwrap();
    let r = root.to_str().unwrap();
    let s = Serve::start(&["-p", "0", "--upload", "--max-upload", "8M", r]);
    let u = &s.url;

    // PUT with Content-Length (curl sends Expect: 100-continue for this size): 201 + Location.
    let (code, body) = curl(&["-T", src, "-D", "-"], &format!("{u}sub/a%20file.bin"));
    assert_eq!(code, "201", "{body}");
    assert!(body.contains("Location: /sub/a%20file.bin"), "{body}");
    assert!(std::fs::read(root.join("sub/a file.bin")).unwrap() == data);
    // Again: 409 without --overwrite, and the file is untouched.
    let (code, _) = curl(&["-T", "/etc/hostname"], &format!("{u}sub/a%20file.bin"));
    assert_eq!(code, "409");
    assert!(std::fs::read(root.join("sub/a file.bin")).unwrap() == data);
    // Chunked.
    let (code, _) = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "@/etc/hostname",
        ],
        &format!("{u}chunked.txt"),
    );
    assert_eq!(code, "201");
    // A form with two files: 201 (curl takes no HTML); the folder needs its slash.
    let (code, body) = curl(
        &[
            "-F",
            &format!("file=@{src};filename=one.bin"),
            "-F",
            &format!("file=@{src};filename=caf\u{e9}.bin"),
        ],
        &format!("{u}sub/"),
    );
    assert_eq!(code, "201", "{body}");
    assert!(std::fs::read(root.join("sub/one.bin")).unwrap() == data);
    assert!(std::fs::read(root.join("sub/caf\u{e9}.bin")).unwrap() == data);
    // A browser's form post (Accept: text/html) is sent back to the folder.
    let (code, _) = curl(
        &[
            "-H",
            "Accept: text/html",
            "-F",
            "file=@/etc/hostname;filename=b.txt",
        ],
        &format!("{u}sub/"),
    );
    assert_eq!(code, "303");
    // Too large: 413 before the body is read, and nothing written.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![1u8; 9 << 20]).unwrap();
    let (code, _) = curl(&["-T", big.to_str().unwrap()], &format!("{u}big.bin"));
    assert_eq!(code, "413");
    // Hostile names, as a path and as a form's file name.
    for (args, target, want) in [
        (
            vec!["-T", "/etc/hostname", "--path-as-is"],
            "../escape.txt",
            "404",
        ),
        (vec!["-T", "/etc/hostname"], "%2e%2e/escape.txt", "404"),
        (vec!["-T", "/etc/hostname"], ".env", "404"),
        (vec!["-T", "/etc/hostname"], "no/such/folder/x.txt", "409"),
        (
            vec!["-F", "file=@/etc/hostname;filename=../escape.txt"],
            "",
            "400",
        ),
        (vec!["-F", "file=@/etc/hostname;filename=.env"], "", "400"),
        (
            vec!["-F", "file=@/etc/hostname;filename=a\\\\b.txt"],
            "",
            "400",
        ),
        (vec!["-F", "file=@/etc/hostname"], "sub", "400"),
    ] {
        let (code, body) = curl(&args, &format!("{u}{target}"));
        assert_eq!(code, want, "{args:?} {target}: {body}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("outside.txt")).unwrap(),
        "keep"
    );
    assert!(!dir.path().join("escape.txt").exists());
    // A body cut short leaves nothing behind.
    let mut c = s.connect();
    c.write_all(
        b"PUT /cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly this much",
    )
    .unwrap();
    drop(c);
    // Once the server has seen the close, a later request on another connection is
    // answered; by then the cut upload is gone (and it was never visible).
    assert_eq!(ask(&s, "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    assert!(!root.join("cut.bin").exists());
    assert_eq!(names(&root), ["chunked.txt", "sub"]);
    assert_eq!(
        names(&root.join("sub")),
        ["a file.bin", "b.txt", "caf\u{e9}.bin", "one.bin"]
    );
}

#[test]
fn expect_100_continue_gets_the_error_first_and_overwrite_gets_204() {
    let dir = temp_dir("serve share expect ");
    std::fs::write(dir.path().join("old.txt"), "old").unwrap();
    let d = dir.path().to_str().unwrap();
    let s = Serve::start(&[
        "-p",
        "0",
        "--upload",
        "--overwrite",
        "--max-upload",
        "10",
        d,
    ]);
    // Over the limit: 413 without waiting for a byte of the body.
    let mut c = s.connect();
    c.write_all(
        b"PUT /x.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status, 413);
    // Within it: 100 first, then the body, then 204 for the replaced file.
    let mut c = s.connect();
    c.write_all(
        b"PUT /old.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut head = [0u8; 25];
    std::io::Read::read_exact(&mut c, &mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"new").unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status, 204);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("old.txt")).unwrap(),
        "new"
    );
    // The connection stays open for the next request.
    c.write_all(b"GET /old.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c, &mut Vec::new(), false).text(), "new");
    // A chunked body over the limit is cut at the limit: 413, nothing written.
    let mut c = s.connect();
    c.write_all(b"PUT /y.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c, &mut Vec::new(), false).status, 413);
    assert!(!dir.path().join("y.txt").exists());
    // Without --upload, PUT is 405.
    let s = Serve::start(&["-p", "0", d]);
    let r = ask(
        &s,
        "PUT /z.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz",
    );
    assert_eq!(r.status, 405);
    assert!(!dir.path().join("z.txt").exists());
}

#[test]
fn a_slow_upload_holds_no_worker() {
    let dir = temp_dir("serve share slow ");
    std::fs::write(dir.path().join("page.txt"), "served").unwrap();
    let d = dir.path().to_str().unwrap();
    // One worker thread: if the dribbling upload held it, the GET would wait.
    let s = Serve::start(&["-p", "0", "-t", "1", "--upload", d]);
    let mut slow = s.connect();
    slow.write_all(b"PUT /slow.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab")
        .unwrap();
    for _ in 0..3 {
        let r = ask(&s, "GET /page.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.text(), "served");
    }
    assert!(
        !dir.path().join("slow.bin").exists(),
        "visible before its end"
    );
    slow.write_all(b"cdef").unwrap();
    let r = read_response(&mut slow, &mut Vec::new(), false);
    assert_eq!(r.status, 201);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("slow.bin")).unwrap(),
        "abcdef"
    );
}

#[test]
fn archives_stream_what_browsing_shows_to_curl_and_wget() {
    let dir = temp_dir("serve share archive ");
    let root = dir.path().join("my files");
    std::fs::create_dir_all(root.join("sub dir")).unwrap();
    let big = crate::support::noise(300_000, 3);
    std::fs::write(root.join("sub dir/big.bin"), &big).unwrap();
    std::fs::write(root.join("a.txt"), "alpha").unwrap();
    std::fs::write(root.join(".env"), "SECRET").unwrap();
    std::fs::write(dir.path().join("outside.txt"), "SECRET").unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("escape.txt")).unwrap();
    let r = root.to_str().unwrap();
    let s = Serve::start(&["-p", "0", "--archive", "--auth", "u:p", r]);
    let work = temp_dir("serve share archive out ");
    let w = work.path();
    // curl: the tar.gz, with credentials; tar lists it and the bytes match.
    ok(Command::new("curl")
        .args(["-sf", "-u", "u:p", "-o"])
        .arg(w.join("all.tar.gz"))
        .arg(format!("{}?download=tar.gz", s.url)));
    let listed = ok(Command::new("tar").arg("-tzf").arg(w.join("all.tar.gz")));
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    let want = ["", "/a.txt", "/sub dir", "/sub dir/big.bin"].map(|n| format!("my files{n}"));
    assert_eq!(names, want);
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(w.join("all.tar.gz"))
        .arg("-C")
        .arg(w));
    assert!(std::fs::read(w.join("my files/sub dir/big.bin")).unwrap() == big);
    let a = std::fs::read_to_string(w.join("my files/a.txt")).unwrap();
    assert_eq!(a, "alpha");
    // wget: a sub folder's plain tar, named by Content-Disposition.
    ok(Command::new("wget")
        .args([
            "-q",
            "--content-disposition",
            "--user=u",
            "--password=p",
            "-P",
        ])
        .arg(w)
        .arg(format!("{}sub%20dir/?download=tar", s.url)));
    let listed = ok(Command::new("tar").arg("-tf").arg(w.join("sub dir.tar")));
    assert_eq!(listed, "sub dir\nsub dir/big.bin\n");
    // Without the password: 401, no archive.
    let r = ask(&s, "GET /?download=tar HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 401);
    // The head says what comes; a missing folder is 404.
    let auth = "Authorization: Basic dTpw\r\n";
    let r = ask(
        &s,
        &format!("HEAD /sub%20dir/?download=tar.gz HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
    );
    assert_eq!(r.header("content-type"), Some("application/gzip"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"sub dir.tar.gz\"; filename*=UTF-8''sub%20dir.tar.gz")
    );
    let r = ask(
        &s,
        &format!("GET /nope/?download=tar HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
    );
    assert_eq!(r.status, 404);
    // Close-delimited: the whole archive, then the close.
    let mut c = s.connect();
    write!(c, "GET /?download=tar HTTP/1.1\r\nHost: x\r\n{auth}\r\n").unwrap();
    let raw = crate::support::serve::read_to_close(&mut c);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n") && !text.contains("Content-Length"));
    assert!(raw.len() > 300_000);
    // The listing links to it.
    let page = ask(&s, &format!("GET / HTTP/1.1\r\nHost: x\r\n{auth}\r\n")).text();
    assert!(page.contains("value=\"tar.gz\""), "{page}");
    // Off by default: without --archive the query changes nothing.
    let plain = Serve::start(&["-p", "0", root.to_str().unwrap()]);
    let page = ask(&plain, "GET /?download=tar HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(!page.text().contains("name=\"download\""));
}

#[test]
fn zip_downloads_follow_browsing_and_read_back_with_python_and_unzip() {
    let dir = temp_dir("serve share zip ");
    let root = dir.path().join("my files");
    std::fs::create_dir_all(root.join("sub dir")).unwrap();
    let big = crate::support::noise(300_000, 5);
    std::fs::write(root.join("sub dir/big.bin"), &big).unwrap();
    std::fs::write(root.join("caf\u{e9}.txt"), "unicode").unwrap();
    std::fs::write(root.join(".env"), "SECRET").unwrap();
    std::fs::write(dir.path().join("outside.txt"), "SECRET").unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("escape.txt")).unwrap();
    let s = Serve::start(&[
        "-p",
        "0",
        "--archive",
        "--auth",
        "u:p",
        root.to_str().unwrap(),
    ]);
    let work = temp_dir("serve share zip out ");
    let zip = work.path().join("all.zip");
    ok(Command::new("curl")
        .args(["-sf", "-u", "u:p", "-o"])
        .arg(&zip)
        .arg(format!("{}?download=zip", s.url)));
    // python's zipfile checks every CRC, lists what browsing shows, and extracts it.
    let script = "import sys,zipfile\n\
        z=zipfile.ZipFile(sys.argv[1])\n\
        assert z.testzip() is None\n\
        for i in z.infolist(): print(i.filename, i.file_size)";
    let listed = ok(Command::new("python3").args(["-c", script]).arg(&zip));
    assert_eq!(
        listed,
        "my files/ 0\nmy files/caf\u{e9}.txt 7\nmy files/sub dir/ 0\nmy files/sub dir/big.bin 300000\n"
    );
    ok(Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(work.path()));
    let cafe = std::fs::read_to_string(work.path().join("my files/caf\u{e9}.txt")).unwrap();
    assert_eq!(cafe, "unicode");
    assert!(std::fs::read(work.path().join("my files/sub dir/big.bin")).unwrap() == big);
    // unzip, where it is installed, tests it too.
    if Command::new("unzip").arg("-v").output().is_ok() {
        let tested = ok(Command::new("unzip").arg("-t").arg(&zip));
        assert!(tested.contains("No errors detected"), "{tested}");
    }
    // Named and typed as a zip; the password and the listing's link as for tar.
    let auth = "Authorization: Basic dTpw\r\n";
    let r = ask(
        &s,
        &format!("HEAD /sub%20dir/?download=zip HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
    );
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"sub dir.zip\"; filename*=UTF-8''sub%20dir.zip")
    );
    let r = ask(&s, "GET /?download=zip HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 401);
    let page = ask(&s, &format!("GET / HTTP/1.1\r\nHost: x\r\n{auth}\r\n")).text();
    assert!(page.contains("value=\"zip\""), "{page}");
}

#[test]
fn a_stalled_upload_is_cut_after_header_timeout_leaving_nothing_while_others_are_served() {
    let dir = temp_dir("serve share stall ");
    std::fs::write(dir.path().join("here.txt"), "here").unwrap();
    let names = || {
        let mut v: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = names();
    let d = dir.path().to_str().unwrap();
    let s = Serve::start(&["-p", "0", "--upload", "--header-timeout", "1", d]);
    // Half a body, then nothing.
    let mut stalled = s.connect();
    write!(
        stalled,
        "PUT /stall.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    )
    .unwrap();
    stalled.write_all(&[b'x'; 50_000]).unwrap();
    // Meanwhile others are served, and the half upload is nowhere to be seen.
    assert_eq!(
        ask(&s, "GET /here.txt HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "here"
    );
    let r = ask(&s, "GET /stall.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
    // The stalled one gets 408 and a close once the body has stopped for a second (the raw
    // client's own read timeout, 10 s, is far past that, and short of the 30 s this waited
    // before it followed --header-timeout).
    let got = crate::support::serve::read_to_close(&mut stalled);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    // No file, no temporary file: the folder holds what it held.
    assert_eq!(names(), before);
    assert_eq!(
        ask(&s, "GET /stall.bin HTTP/1.1\r\nHost: x\r\n\r\n").status,
        404
    );
    // And the server still takes a whole upload.
    let r = ask(
        &s,
        "PUT /whole.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nwhole",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        std::fs::read(dir.path().join("whole.txt")).unwrap(),
        b"whole"
    );
}

#[test]
fn a_full_disk_is_507_and_leaves_nothing_and_sigterm_lets_an_upload_finish() {
    let dir = temp_dir("serve share full ");
    let d = dir.path().to_str().unwrap();
    // A file-size limit of 1 MiB (ulimit -f counts KiB) stands in for a full disk.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -f 1024 && exec \"$0\" \"$@\""])
        .arg(crate::support::bin("serve"))
        .args(["-p", "0", "--upload", d]);
    let mut s = Serve::start_cmd(&mut cmd);
    let (code, body) = curl(&["-T", "-"], &format!("{}fits.txt", s.url));
    assert_eq!(code, "201", "{body}");
    let big = dir
        .path()
        .join("..")
        .join(format!("big-{}.bin", std::process::id()));
    std::fs::write(&big, vec![7u8; 3 << 20]).unwrap();
    let (code, body) = curl(&["-T", big.to_str().unwrap()], &format!("{}big.bin", s.url));
    std::fs::remove_file(&big).unwrap();
    assert_eq!(code, "507", "{body}");
    assert_eq!(names(dir.path()), ["fits.txt"]);
    // Still serving; then an upload under way when SIGTERM comes is finished, not cut.
    let mut c = s.connect();
    c.write_all(
        b"PUT /late.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    // The 100 says the upload is under way. (An answer on another connection did not: the
    // head could still be unread in the socket, and shutdown closes such a connection.)
    let mut interim = [0u8; 25];
    c.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"half ").unwrap();
    s.signal(15);
    c.write_all(b"done!").unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status, 201);
    assert_eq!(s.wait_exit(LIMIT).code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("late.txt")).unwrap(),
        "half done!"
    );
}

#[test]
fn two_uploads_of_one_name_at_once_one_wins_whole_and_upload_dir_limits_the_form() {
    let dir = temp_dir("serve share race ");
    std::fs::create_dir(dir.path().join("in")).unwrap();
    let d = dir.path().to_str().unwrap();
    let s = Serve::start(&["-p", "0", "--upload", "--upload-dir", "in", d]);
    let head = b"PUT /in/same.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n";
    let (mut a, mut b) = (s.connect(), s.connect());
    a.write_all(head).unwrap();
    b.write_all(head).unwrap();
    // Both are under way before either ends.
    a.write_all(&[b'a'; 100_000]).unwrap();
    b.write_all(&[b'b'; 100_000]).unwrap();
    a.write_all(&[b'a'; 100_000]).unwrap();
    b.write_all(&[b'b'; 100_000]).unwrap();
    let mut statuses = [
        read_response(&mut a, &mut Vec::new(), false).status,
        read_response(&mut b, &mut Vec::new(), false).status,
    ];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let got = std::fs::read(dir.path().join("in/same.bin")).unwrap();
    assert_eq!(got.len(), 200_000);
    assert!(got.iter().all(|&c| c == got[0]), "a torn file");
    assert_eq!(names(&dir.path().join("in")), ["same.bin"]);
    // Outside --upload-dir: 403, and the listing there has no form; inside, it has one.
    let r = ask(
        &s,
        "PUT /x.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(r.status, 403);
    let form = |path: &str| {
        let page = ask(&s, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).text();
        page.contains("multipart/form-data")
    };
    assert!(!form("/") && form("/in/"));
    let r = ask(&s, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS, PUT, POST"));
}

#[test]
fn wget_mirroring_fetches_each_listing_once_not_each_order() {
    let dir = temp_dir("serve share mirror ");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a.txt"), "a").unwrap();
    std::fs::write(root.join("sub/b.txt"), "b").unwrap();
    let s = Serve::start(&["-p", "0", "--archive", root.to_str().unwrap()]);
    let out = dir.path().join("out");
    ok(Command::new("wget")
        .args(["-q", "-r", "-np", "-nH", "-P"])
        .arg(&out)
        .arg(&s.url));
    let mut got = names(&out);
    got.extend(
        names(&out.join("sub"))
            .into_iter()
            .map(|n| format!("sub/{n}")),
    );
    assert_eq!(
        got,
        ["a.txt", "index.html", "sub", "sub/b.txt", "sub/index.html"]
    );
}

#[test]
fn fetch_uploads_with_t_and_f() {
    let dir = temp_dir("serve share fetch ");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("in")).unwrap();
    // Over two of fetch's 4 MiB send windows, the last one partial.
    let data = crate::support::noise((9 << 20) + 12_345, 11);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let src = src.to_str().unwrap();
    let r = root.to_str().unwrap();
    let s = Serve::start(&["-p", "0", "--upload", "--auth", "u:p", r]);
    let put_url = format!("{}in/t%20file.bin", s.url);
    let run = crate::fetch::fetch(&["-s", "-u", "u:p", "-T", src, "-w", "%{http_code}", &put_url]);
    run.code(0);
    assert!(String::from_utf8_lossy(&run.stdout).ends_with("201"));
    assert!(std::fs::read(root.join("in/t file.bin")).unwrap() == data);
    // Again: 409, and with -f that is exit 22.
    crate::fetch::fetch(&["-s", "-f", "-u", "u:p", "-T", src, &put_url]).code(22);
    // A form, as curl -F would send it.
    let form = format!("file=@{src};filename=f.bin");
    let run = crate::fetch::fetch(&[
        "-s",
        "-u",
        "u:p",
        "-F",
        &form,
        "-w",
        "%{http_code}",
        &format!("{}in/", s.url),
    ]);
    run.code(0);
    assert!(String::from_utf8_lossy(&run.stdout).ends_with("201"));
    assert!(std::fs::read(root.join("in/f.bin")).unwrap() == data);
    // Without the password: 401, nothing written.
    crate::fetch::fetch(&["-s", "-f", "-T", src, &format!("{}in/x.bin", s.url)]).code(22);
    assert!(!root.join("in/x.bin").exists());
}
