//! The protocol as a client sees it: exact bytes, persistence, pipelining, HTTP/1.0 and 0.9,
//! and every refusal with its status.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::support::child::{LIMIT, run};
use crate::support::repo_root;
use crate::support::serve::{Serve, read_response, read_to_close, request, site};

fn www() -> Serve {
    let www = repo_root().join("www");
    Serve::start(&["-p", "0", www.to_str().unwrap()])
}

#[test]
fn serves_the_default_site_byte_exact() {
    let s = www();
    assert!(
        s.url.starts_with("http://127.0.0.1:"),
        "binds loopback by default: {}",
        s.url
    );
    for (path, file, ctype) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/app.js", "app.js", "javascript; charset=utf-8"),
        ("/logo.png", "logo.png", "image/png"),
        ("/notes.txt", "notes.txt", "text/plain; charset=utf-8"),
    ] {
        let mut c = s.connect();
        let r = request(&mut c, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.body,
            std::fs::read(repo_root().join("www").join(file)).unwrap(),
            "{path}"
        );
        assert!(
            r.header("content-type").unwrap().ends_with(ctype),
            "{path}: {:?}",
            r.header("content-type")
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(r.header("date").unwrap().ends_with(" GMT"));
        assert!(r.header("server").unwrap().starts_with("serve/"));
        assert_eq!(
            r.header("connection"),
            None,
            "HTTP/1.1 stays open without saying so"
        );
    }
}

#[test]
fn curl_gets_the_site_and_reuses_the_connection() {
    let s = www();
    // curl is installed (.ci/run installs it).
    let out = run(
        std::process::Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{num_connects}\\n",
            ])
            .arg(format!("{}style.css", s.url))
            .arg(format!("{}notes.txt", s.url)),
        LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 1\n200 0\n",
        "second transfer reused the connection"
    );
}

#[test]
fn head_has_the_same_headers_and_no_body() {
    let s = www();
    let mut c = s.connect();
    let get = request(&mut c, "GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = request(&mut c, "HEAD /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), get.header("content-length"));
    assert_eq!(head.header("content-type"), get.header("content-type"));
    // And nothing follows the head: the next request's answer comes right after.
    let again = request(&mut c, "GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(again.body, get.body);
}

#[test]
fn request_dribbled_one_byte_at_a_time() {
    let s = www();
    let mut c = s.connect();
    c.set_nodelay(true).unwrap();
    for b in b"GET /notes.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" {
        c.write_all(&[*b]).unwrap();
        c.flush().unwrap();
    }
    let got = read_to_close(&mut c);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with(&std::fs::read_to_string(repo_root().join("www/notes.txt")).unwrap()));
}

#[test]
fn three_pipelined_requests_in_one_write() {
    let s = www();
    let mut c = s.connect();
    c.write_all(
        b"GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut pending = Vec::new();
    let a = read_response(&mut c, &mut pending, false);
    let b = read_response(&mut c, &mut pending, true);
    let d = read_response(&mut c, &mut pending, false);
    assert_eq!((a.status, b.status, d.status), (200, 200, 404));
    assert!(a.text().starts_with("Notes served"));
    assert_eq!(b.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(d.text(), "404 Not Found\n");
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let s = www();
    let got = s.raw(b"GET /notes.txt HTTP/1.0\r\n\r\n");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");

    let mut c = s.connect();
    let r = request(
        &mut c,
        "GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(r.header("connection"), Some("keep-alive"));
    let r = request(
        &mut c,
        "GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(r.status, 200, "the connection stayed open");
}

#[test]
fn http11_connection_close_is_echoed_and_honoured() {
    let s = www();
    let got = s.raw(b"GET /notes.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    assert_eq!(
        text.matches("HTTP/1.1 ").count(),
        1,
        "nothing after the closing response: {text}"
    );
}

#[test]
fn http09_simple_request_gets_the_raw_body() {
    let s = www();
    let got = s.raw(b"GET /notes.txt\r\n");
    assert_eq!(
        got,
        std::fs::read(repo_root().join("www/notes.txt")).unwrap()
    );
    let got = s.raw(b"GET /missing\r\n");
    assert_eq!(String::from_utf8_lossy(&got), "404 Not Found\n");
}

#[test]
fn options_and_other_methods_say_what_is_allowed() {
    let s = www();
    let mut c = s.connect();
    let r = request(&mut c, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(r.header("content-length"), None, "no Content-Length on 204");
    for method in ["POST", "PUT", "DELETE", "PATCH", "BREW"] {
        let r = request(&mut c, &format!("{method} / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "{method}");
    }
}

#[test]
fn refusals_get_their_status_then_close_and_the_server_goes_on() {
    let s = www();
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(17_000)
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n".to_vec(), "413"),
        (b"GET / HTTP/1.2\r\nHost: x\r\n\r\n".to_vec(), "505"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), "505"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n".to_vec(), "400"),
        (long_line.into_bytes(), "414"),
        (big_head.into_bytes(), "431"),
    ];
    for (raw, status) in cases {
        let got = s.raw(&raw);
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status}: {}",
            &text[..text.len().min(200)]
        );
        assert!(
            text.contains("\r\nConnection: close\r\n"),
            "{status}: {text}"
        );
        // Still serving.
        let mut c = s.connect();
        assert_eq!(
            request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
            200
        );
    }
}

#[test]
fn small_body_on_get_is_skipped() {
    let s = www();
    let mut c = s.connect();
    let r = request(
        &mut c,
        "GET /notes.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.status, 200);
    let r = request(&mut c, "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200, "the body was not taken for the next request");
}

#[test]
fn header_timeout_answers_408() {
    let s = Serve::start(&[
        "-p",
        "0",
        // Not 1 s: the clock starts when serve accepts, and a test thread starved for longer
        // between connecting and writing would find the connection closed as idle instead.
        "--header-timeout",
        "3",
        repo_root().join("www").to_str().unwrap(),
    ]);
    let mut c = s.connect();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let got = read_to_close(&mut c);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    // The bound is the point: under the 10 s default, so --header-timeout 3 took effect,
    // with 6 s of slack for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_that_sends_its_request_then_shuts_its_side_gets_the_answer_and_a_close() {
    // `printf 'GET / ...' | nc -N`: the request and the FIN arrive together. The answer
    // comes, and the close follows at once, not after the keep-alive timeout.
    let s = Serve::start(&[
        "-p",
        "0",
        "--keep-alive-timeout",
        "60",
        repo_root().join("www").to_str().unwrap(),
    ]);
    for round in 0..20 {
        let mut c = s.connect();
        c.write_all(b"GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let started = Instant::now();
        let got = read_to_close(&mut c);
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "round {round}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "round {round}: closed after {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn idle_keep_alive_is_closed_after_its_timeout() {
    let s = Serve::start(&[
        "-p",
        "0",
        "--keep-alive-timeout",
        "0.5",
        repo_root().join("www").to_str().unwrap(),
    ]);
    let mut c = s.connect();
    assert_eq!(
        request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
    let started = Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(
        c.read(&mut buf).unwrap(),
        0,
        "the server closed the idle connection"
    );
    // The bound is the point: under the 5 s default, so --keep-alive-timeout 0.5 took
    // effect; 4.5 s of slack is the most a bound below the default can leave.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn access_log_is_common_log_format_with_escapes() {
    let s = www();
    s.raw(b"GET /notes.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let line = s.wait_log("the notes.txt line", |l| l.contains("/notes.txt"));
    let re_ok = line.starts_with("127.0.0.1 - - [")
        && line.contains(" +0000] \"GET /notes.txt HTTP/1.1\" 200 ");
    assert!(re_ok, "{line}");
    // A control byte in the request line cannot reach the terminal that shows the log.
    s.raw(b"GET /\x1b[31mred HTTP/1.1\r\nHost: x\r\n\r\n");
    let line = s.wait_log("the escaped line", |l| l.contains("red"));
    assert!(line.contains("\\x1b[31mred"), "{line}");
    assert!(!line.contains('\x1b'));
}

#[test]
fn quiet_means_no_access_log() {
    let www = repo_root().join("www");
    for (quiet, lines) in [(false, 2), (true, 0)] {
        let mut args = vec!["-p", "0", www.to_str().unwrap()];
        if quiet {
            args.push("--quiet");
        }
        let mut s = Serve::start(&args);
        for _ in 0..2 {
            s.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        }
        // After a clean stop every line has been flushed: count them.
        assert_eq!(s.stop_and_collect_log().len(), lines, "quiet: {quiet}");
    }
}

#[test]
fn awkward_names_are_served() {
    let dir = site();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    let r = request(&mut c, "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "spaces\n");
    let r = request(
        &mut c,
        "GET /caf%C3%A9%20%22q%22%20%2520.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.text(), "awkward\n");
    let r = request(&mut c, "GET /sub HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.header("location")), (301, Some("/sub/")));
    let r = request(&mut c, "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "sub\n");
    let r = request(&mut c, "GET /empty/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        r.status == 200 && r.text().contains("Index of /empty/"),
        "no index.html: a listing"
    );
}
