//! `serve` under hostile requests: a table of malformed, smuggling, traversal and oversized
//! requests, each with the answer it must get (or a clean close), each followed by a normal
//! request that must still succeed — and not one byte from outside the root, ever.

use std::io::Write;
use std::net::Shutdown;
use std::time::Instant;

use super::{Jail, SECRET};
use crate::support::child::LIMIT;
use crate::support::raw::{read_reply, request, status_of};
use crate::support::serve::Serve;
use crate::support::wait_for;

/// What a hostile request must get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A response head with one of these statuses.
    Status(&'static [u16]),
    /// An HTTP/0.9 reply: bytes without a head, then close.
    Raw,
    /// A close without a single byte of response.
    Close,
}

use Want::{Close, Raw, Status};

const NOT_FOUND: Want = Status(&[404]);
const REFUSED: Want = Status(&[400, 404]);
const BAD: Want = Status(&[400]);

/// A TLS 1.3 ClientHello record, as a browser sends it first on an `https://` URL.
fn client_hello() -> Vec<u8> {
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0x4a, 0x01, 0x00, 0x00, 0x46, 0x03, 0x03,
    ];
    hello.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    hello.extend_from_slice(&[0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x0b]);
    hello.extend_from_slice(b"\x00\x00\x00\x07\x00\x05\x00\x00\x02hi");
    hello
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

fn with_header(line: &str) -> Vec<u8> {
    format!("GET /file.txt HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n").into_bytes()
}

/// The corpus: (name, bytes, what it must get).
fn corpus() -> Vec<(&'static str, Vec<u8>, Want)> {
    let ranges = |n: usize| {
        let list: Vec<String> = (0..n)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect();
        with_header(&format!("Range: bytes={}", list.join(",")))
    };
    let many_headers = |n: usize| {
        let extra: String = (0..n).map(|i| format!("X-{i}: y\r\n")).collect();
        format!("GET / HTTP/1.1\r\nHost: x\r\n{extra}\r\n").into_bytes()
    };
    let mut tiny_ranges = String::from("Range: bytes=0-0");
    while tiny_ranges.len() < 15_000 {
        tiny_ranges.push_str(",0-0");
    }
    vec![
        // Path traversal, in every encoding.
        ("dotdot", get("/../secret.txt"), NOT_FOUND),
        ("dotdot deep", get("/../../../../../../etc/passwd"), NOT_FOUND),
        ("encoded dots", get("/%2e%2e/secret.txt"), NOT_FOUND),
        ("encoded dots and slash", get("/%2e%2e%2fsecret.txt"), NOT_FOUND),
        ("upper-case encoding", get("/%2E%2E%2Fsecret.txt"), NOT_FOUND),
        ("half encoded", get("/.%2e/secret.txt"), NOT_FOUND),
        ("double encoding", get("/%252e%252e%252fsecret.txt"), NOT_FOUND),
        ("double encoding, dots", get("/%252e%252e/secret.txt"), NOT_FOUND),
        ("overlong utf-8 slash", get("/..%c0%afsecret.txt"), NOT_FOUND),
        ("overlong utf-8 dots", get("/%c0%ae%c0%ae/secret.txt"), NOT_FOUND),
        ("overlong 3-byte dot", get("/%e0%80%ae%e0%80%ae/secret.txt"), NOT_FOUND),
        ("four dots", get("/....//secret.txt"), NOT_FOUND),
        ("four dots twice", get("/....//....//secret.txt"), NOT_FOUND),
        ("dotdot semicolon", get("/..;/secret.txt"), NOT_FOUND),
        ("backslash raw", get("/..\\secret.txt"), REFUSED),
        ("backslash encoded", get("/..%5csecret.txt"), NOT_FOUND),
        ("backslashes encoded twice", get("/%2e%2e%5c%2e%2e%5csecret.txt"), NOT_FOUND),
        ("nul", get("/%00"), NOT_FOUND),
        ("nul before extension", get("/index.html%00.txt"), NOT_FOUND),
        ("nul after traversal", get("/../secret.txt%00"), NOT_FOUND),
        ("absolute-form traversal", get("http://x/../secret.txt"), NOT_FOUND),
        ("absolute-form encoded", get("http://x/%2e%2e/secret.txt"), NOT_FOUND),
        ("absolute-form no path", get("http://x"), Status(&[200])),
        ("other scheme", get("https://x/secret.txt"), BAD),
        ("file scheme", get("file:///etc/passwd"), BAD),
        ("relative target", get("../secret.txt"), BAD),
        ("double slash traversal", get("//../secret.txt"), NOT_FOUND),
        ("triple slash", get("///secret.txt"), NOT_FOUND),
        ("inside then out", get("/sub/../../secret.txt"), NOT_FOUND),
        ("dot then out", get("/./../secret.txt"), NOT_FOUND),
        ("windows drive", get("/C:/secret.txt"), NOT_FOUND),
        ("windows drive backslash", get("/C:%5csecret.txt"), NOT_FOUND),
        ("windows unc", get("/%5c%5cserver%5cshare"), NOT_FOUND),
        ("symlink out", get("/link-out"), NOT_FOUND),
        ("symlinked folder out", get("/updir/secret.txt"), NOT_FOUND),
        ("http/0.9 traversal", b"GET /../secret.txt\r\n".to_vec(), Raw),
        ("http/0.9 symlink out", b"GET /link-out\r\n".to_vec(), Raw),
        // Request smuggling shapes.
        (
            "cl and te",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG".to_vec(),
            BAD,
        ),
        ("te chunked", with_header("Transfer-Encoding: chunked"), BAD),
        ("te obfuscated", with_header("Transfer-Encoding: xchunked"), BAD),
        ("te twice", b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n".to_vec(), BAD),
        ("te on http/1.0", b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), BAD),
        ("te space before colon", with_header("Transfer-Encoding : chunked"), BAD),
        ("duplicate cl", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(), BAD),
        ("comma-joined cl", with_header("Content-Length: 3, 4"), BAD),
        ("cl plus sign", with_header("Content-Length: +3"), BAD),
        ("cl hex", with_header("Content-Length: 0x10"), BAD),
        ("cl negative", with_header("Content-Length: -1"), BAD),
        ("cl overflow", with_header("Content-Length: 18446744073709551616"), BAD),
        ("obs-fold", with_header("X-A: a\r\n folded"), BAD),
        ("obs-fold on host", b"GET / HTTP/1.1\r\nHost: x\r\n\tevil.com\r\n\r\n".to_vec(), BAD),
        ("bare cr", b"GET / HTTP/1.1\r\nHost: x\rX-Evil: 1\r\n\r\n".to_vec(), BAD),
        ("bare cr in line", b"GET / HTTP/1.1\rHost: x\r\n\r\n".to_vec(), BAD),
        ("bare lf", b"GET /file.txt HTTP/1.1\nHost: x\n\n".to_vec(), Status(&[200])),
        ("nul in header", with_header("X-A: a\0b"), BAD),
        ("nul in line", b"GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), BAD),
        ("space in header name", with_header("X A: b"), BAD),
        ("header without colon", with_header("NoColonHere"), BAD),
        // Oversized line, header, count, body.
        ("long request line", get(&format!("/{}", "a".repeat(9000))), Status(&[414])),
        ("long line without newline", format!("GET /{}", "a".repeat(9000)).into_bytes(), Status(&[414])),
        ("huge header", with_header(&format!("X-Big: {}", "b".repeat(17_000))), Status(&[431])),
        ("101 headers", many_headers(100), Status(&[431])),
        ("99 headers and host", many_headers(99), Status(&[200])),
        ("header just under the cap", with_header(&format!("X-Big: {}", "b".repeat(15_000))), Status(&[200])),
        ("body too large", with_header("Content-Length: 1000000"), Status(&[413])),
        // Bad versions.
        ("http/1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n".to_vec(), Status(&[505])),
        ("http/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(), Status(&[505])),
        ("http/3", b"GET / HTTP/3\r\nHost: x\r\n\r\n".to_vec(), Status(&[505])),
        ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), Status(&[505])),
        ("lowercase version", b"GET / http/1.1\r\nHost: x\r\n\r\n".to_vec(), BAD),
        ("version 1.10", b"GET / HTTP/1.10\r\nHost: x\r\n\r\n".to_vec(), Status(&[400, 505])),
        ("version 0.9 spelled out", b"GET / HTTP/0.9\r\nHost: x\r\n\r\n".to_vec(), Status(&[400, 505])),
        ("garbage version", b"GET / FOO/1.1\r\nHost: x\r\n\r\n".to_vec(), BAD),
        // Odd methods.
        ("lowercase get", b"get / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Status(&[405])),
        ("delete", b"DELETE /file.txt HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Status(&[405])),
        ("put with body", b"PUT /file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec(), Status(&[405])),
        ("trace", b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Status(&[405])),
        ("connect", b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n".to_vec(), BAD),
        ("long method", format!("{} / HTTP/1.1\r\nHost: x\r\n\r\n", "M".repeat(4000)).into_bytes(), Status(&[405])),
        ("non-token method", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), BAD),
        ("options star", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Status(&[204])),
        ("get star", get("*"), BAD),
        // Host.
        ("missing host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), BAD),
        ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), BAD),
        ("http/1.0 without host", b"GET /file.txt HTTP/1.0\r\n\r\n".to_vec(), Status(&[200])),
        // Range sets.
        ("17 ranges", ranges(17), Status(&[200])),
        ("16 ranges", ranges(16), Status(&[206])),
        ("overlapping ranges", with_header("Range: bytes=0-500,100-600"), Status(&[200])),
        ("15 KiB of ranges", with_header(&tiny_ranges), Status(&[200])),
        ("range past u64", with_header("Range: bytes=99999999999999999999999-"), Status(&[200])),
        ("range unsatisfiable", with_header("Range: bytes=5000-"), Status(&[416])),
        ("range backwards", with_header("Range: bytes=5-1"), Status(&[200])),
        ("range suffix zero", with_header("Range: bytes=-0"), Status(&[416])),
        // Invalid percent-encoding.
        ("percent zz", get("/%zz"), BAD),
        ("lone percent", get("/%"), BAD),
        ("half percent", get("/%4"), BAD),
        ("percent percent", get("/%%32%65"), BAD),
        ("unicode escape", get("/%u002e%u002e/secret.txt"), BAD),
        // Other hostile shapes.
        ("tls client hello", client_hello(), Close),
        ("only empty lines", b"\r\n\r\n\r\n".to_vec(), Status(&[408])),
        ("head never finished", b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec(), Status(&[408])),
        ("body never sent", with_header("Content-Length: 10"), Status(&[408])),
        ("terminal escape in path", get("/\x1b[31mred"), BAD),
        ("8-bit path", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), REFUSED),
        ("upgrade asked", with_header("Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__"), Status(&[200])),
        ("expect 100-continue", b"GET /file.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc".to_vec(), Status(&[200])),
        ("http/0.9 request", b"GET /file.txt\r\n".to_vec(), Raw),
    ]
}

#[test]
fn hostile_requests_get_their_answer_and_nothing_leaves_the_root() {
    let jail = Jail::new();
    // 3 s, not 1: the clock starts at accept, and a case written late by a starved test
    // thread would find its connection closed as idle instead of its 408.
    let s = Serve::start(&["-p", "0", "--header-timeout", "3", "-q", jail.root_str()]);
    let cases = corpus();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (name, raw, want) in &cases {
        let mut c = s.connect();
        // A refused request may be answered before all of it is written; that is fine.
        let _ = c.write_all(raw);
        let reply = read_reply(&mut c);
        let text = String::from_utf8_lossy(&reply);
        assert!(!text.contains(SECRET), "{name}: the secret leaked: {text}");
        assert!(!text.contains("root:x:0:0"), "{name}: /etc/passwd leaked");
        let ok = match want {
            Status(codes) => status_of(&reply).is_some_and(|st| codes.contains(&st)),
            Raw => !reply.is_empty() && !reply.starts_with(b"HTTP/"),
            Close => reply.is_empty(),
        };
        if !ok {
            let shown: String = text.chars().take(120).collect();
            failures.push(format!("{name}: want {want:?}, got {shown:?}"));
        }
        drop(c);
        // The server goes on: a normal request on a new connection succeeds.
        let mut c = s.connect();
        let r = request(&mut c, "GET /file.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 200, "after {name}");
        assert_eq!(r.body.len(), 1000, "after {name}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases got the wrong answer:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let err = s.stderr();
    assert!(!err.contains("internal error"), "stderr: {err}");
}

#[test]
fn a_tls_handshake_is_closed_without_a_reply_and_logged_once_a_second() {
    let jail = Jail::new();
    let s = Serve::start(&["-p", "0", "-q", jail.root_str()]);
    let start = Instant::now();
    for _ in 0..30 {
        let mut c = s.connect();
        c.write_all(&client_hello()).unwrap();
        let reply = read_reply(&mut c);
        assert!(reply.is_empty(), "{:?}", String::from_utf8_lossy(&reply));
    }
    // The close can reach us before the log line reaches the test's reader of serve's
    // stderr: wait for the line, then count.
    let complaint = "sent a TLS handshake to a plain-HTTP port; closing";
    let err = wait_for("the TLS complaint on stderr", LIMIT, || {
        let err = s.stderr();
        err.contains(complaint).then_some(err)
    });
    let elapsed = start.elapsed();
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(complaint)).collect();
    assert_eq!(
        lines[0],
        "serve: 127.0.0.1 sent a TLS handshake to a plain-HTTP port; closing \
         (serve speaks HTTPS with --tls-cert FILE --tls-key FILE)"
    );
    assert!(
        lines.len() as u64 <= elapsed.as_secs() + 1,
        "{} lines in {elapsed:?}",
        lines.len()
    );
    // A request that merely follows another is not mistaken for TLS: the byte is only
    // looked at on a fresh connection.
    let mut c = s.connect();
    assert_eq!(
        request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
    c.write_all(b"\x16\x03\x01\r\n\r\n").unwrap();
    let reply = read_reply(&mut c);
    assert_eq!(status_of(&reply), Some(400));
    let _ = c.shutdown(Shutdown::Both);
}
