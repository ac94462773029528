//! `fetch` against hostile servers: scripted replies (broken framing, endless heads and
//! bodies, floods, smuggling shapes, redirect tricks, slow drips), each with its documented
//! exit code, peak memory under a ceiling, and no file under the `-o` name unless the body
//! arrived whole.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::fetch::fetch_cmd;
use crate::support::bin;
use crate::support::script::Script;

/// The most memory `fetch` may use on any of these, in KiB (`/usr/bin/time`'s `%M`).
const CEILING_KB: u64 = 64 * 1024;

/// What a case's server writes for each request, on the scripted server. Bounded: every
/// writer here stops after at most 60 s or when the client goes away.
type Handler = dyn Fn(&mut dyn Write, &str) + Send + Sync;

fn fixed(bytes: &'static [u8]) -> Arc<Handler> {
    Arc::new(move |c: &mut dyn Write, _: &str| {
        let _ = c.write_all(bytes);
    })
}

/// Writes `first`, then `chunk` again and again until the client goes away or 60 s pass.
fn endless(first: &'static [u8], chunk: Vec<u8>, pause: Duration) -> Arc<Handler> {
    Arc::new(move |c: &mut dyn Write, _: &str| {
        let end = Instant::now() + Duration::from_secs(60);
        if c.write_all(first).is_err() {
            return;
        }
        while Instant::now() < end && c.write_all(&chunk).is_ok() {
            if !pause.is_zero() {
                thread::sleep(pause);
            }
        }
    })
}

/// Answers each request by its path: `/next` redirects to the location given.
fn redirect_to(location: &'static str) -> Arc<Handler> {
    Arc::new(move |c: &mut dyn Write, _: &str| {
        let reply =
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
        let _ = c.write_all(reply.as_bytes());
    })
}

struct Case {
    name: &'static str,
    handler: Arc<Handler>,
    args: &'static [&'static str],
    code: i32,
}

fn case(
    name: &'static str,
    handler: Arc<Handler>,
    args: &'static [&'static str],
    code: i32,
) -> Case {
    Case {
        name,
        handler,
        args,
        code,
    }
}

fn cases() -> Vec<Case> {
    let zeros = vec![0u8; 64 * 1024];
    let mut many_interim = Vec::new();
    for _ in 0..1000 {
        many_interim.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    many_interim.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let many_interim: &'static [u8] = many_interim.leak();
    let mut many_headers = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..200 {
        many_headers.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many_headers.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
    let many_headers: &'static [u8] = many_headers.leak();
    let mut trailers =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n".to_vec();
    for i in 0..5000 {
        trailers.extend_from_slice(format!("T-{i}: v\r\n").as_bytes());
    }
    let trailers: &'static [u8] = trailers.leak();
    let long_ext: &'static [u8] = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;{}\r\nok\r\n0\r\n\r\n",
        "e".repeat(10_000)
    )
    .into_bytes()
    .leak();
    let big_value: &'static [u8] = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\nok",
        "v".repeat(60_000)
    )
    .into_bytes()
    .leak();
    vec![
        // Bodies that end early or never.
        case("truncated content-length", fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"), &[], 18),
        case("huge content-length, short body", fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nabc"), &[], 18),
        case("truncated chunk", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc"), &[], 18),
        case("no last chunk", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"), &[], 18),
        case("empty reply", fixed(b""), &[], 52),
        case("head cut off", fixed(b"HTTP/1.1 200 OK\r\nContent-Len"), &[], 8),
        case("close-delimited, complete", fixed(b"HTTP/1.1 200 OK\r\n\r\nall of it"), &[], 0),
        // Broken chunked framing.
        case("bad chunk size", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"), &[], 56),
        case("negative chunk size", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n"), &[], 56),
        case("overflowing chunk size", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc\r\n0\r\n\r\n"), &[], 56),
        case("chunk longer than its size", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"), &[], 56),
        case("chunk extension 10 KB", fixed(long_ext), &[], 56),
        case("5000 trailer fields", fixed(trailers), &[], 56),
        case("max chunk size, endless data", endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", zeros.clone(), Duration::ZERO), &["-m", "2"], 28),
        case("endless tiny chunks", endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n".to_vec(), Duration::ZERO), &["-m", "2"], 28),
        // Heads that never end, or are too big, or malformed.
        case("endless header stream", endless(b"HTTP/1.1 200 OK\r\n", b"X-More: yes\r\n".to_vec(), Duration::ZERO), &[], 8),
        case("endless status line", endless(b"HTTP/1.1 200 ", b"O".repeat(4096), Duration::ZERO), &[], 8),
        case("200 header fields", fixed(many_headers), &[], 8),
        case("60 KB header value", fixed(big_value), &[], 0),
        case("header without colon", fixed(b"HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 2\r\n\r\nok"), &[], 8),
        case("nul in header", fixed(b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok"), &[], 8),
        case("space before colon", fixed(b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"), &[], 8),
        // RFC 9112 §5.2: a user agent replaces obs-fold with spaces and goes on, as curl does.
        case("obs-fold", fixed(b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok"), &[], 0),
        case("obs-fold in content-length", fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 3\r\n\r\nok"), &[], 8),
        case("bad status code", fixed(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok"), &[], 8),
        case("http/2 status line", fixed(b"HTTP/2 200\r\ncontent-length: 2\r\n\r\nok"), &[], 8),
        // Interim responses, upgrades, HTTP/0.9.
        case("flood of 1xx", fixed(many_interim), &[], 8),
        case("endless 1xx", endless(b"", b"HTTP/1.1 102 Processing\r\n\r\n".to_vec(), Duration::ZERO), &[], 8),
        case("unrequested 101", fixed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n\0\0\x12\x04"), &[], 8),
        case("http/0.9 body", fixed(b"<html>no head at all</html>"), &[], 1),
        case("http/0.9 body, allowed", fixed(b"<html>no head at all</html>"), &["--http0.9"], 0),
        // Framing conflicts (smuggling shapes).
        case("te and cl", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n2\r\nok\r\n0\r\n\r\n"), &[], 0),
        case("conflicting content-length", fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"), &[], 8),
        case("content-length list disagrees", fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok"), &[], 8),
        case("negative content-length", fixed(b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok"), &[], 8),
        case("unknown transfer coding", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok"), &[], 8),
        case("chunked twice", fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), &[], 8),
        // Redirect tricks.
        case("redirect loop", redirect_to("/again"), &["-L"], 47),
        case("redirect to file://", redirect_to("file:///etc/passwd"), &["-L"], 1),
        case("redirect to ftp://", redirect_to("ftp://127.0.0.1/x"), &["-L"], 1),
        case("redirect to ftp://", redirect_to("ftp://127.0.0.1/x"), &["-L"], 1),
        case("redirect to a closed port", redirect_to("http://127.0.0.1:1/x"), &["-L"], 7),
        // Slow and endless.
        case("slow drip past --max-time", endless(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b"x".to_vec(), Duration::from_millis(200)), &["-m", "2"], 28),
        case("slow head past --max-time", endless(b"HTTP/1.1 200 OK\r\n", b"X".to_vec(), Duration::from_millis(200)), &["-m", "2"], 28),
        case("endless close-delimited body", endless(b"HTTP/1.1 200 OK\r\n\r\n", zeros.clone(), Duration::ZERO), &["-m", "2"], 28),
        case("silence after the head", endless(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", Vec::new(), Duration::from_millis(100)), &["-m", "2"], 28),
        case("204 with a body", fixed(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"), &[], 0),
        // 64 MiB of zeros in about 64 KiB: decoded while streaming, it may cost output, never memory.
        case("gzip bomb with --compressed", fixed(gzip_bomb()), &["--compressed"], 0),
    ]
}

fn gzip_bomb() -> &'static [u8] {
    use flate2::{Compression, write::GzEncoder};
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let body = enc.finish().unwrap();
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    reply.extend_from_slice(&body);
    reply.leak()
}

#[test]
fn fetch_survives_hostile_servers_with_the_documented_code_bounded_memory_and_no_false_file() {
    survive(false);
}

/// The same matrix over https://: each scripted server behind a TLS terminator (python's
/// ssl module relaying to it), so every broken frame, flood and drip arrives inside TLS
/// records.
#[test]
fn fetch_survives_hostile_servers_over_tls() {
    if crate::peers::program("python3", "python3").is_none() {
        return;
    }
    survive(true);
}

fn survive(over_tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    assert!(cases.len() >= 35, "{} cases", cases.len());
    let mut failures = Vec::new();
    let mut peak_kb = 0;
    let root = crate::support::pki::Pki::get().arg("root.pem");
    for (i, c) in cases.into_iter().enumerate() {
        let handler = c.handler.clone();
        let server = Script::start_writer(move |conn, head| handler(conn, head));
        let out = dir.path().join(format!("out-{i}.bin"));
        let rss = dir.path().join(format!("rss-{i}.txt"));
        let mut args: Vec<String> = vec!["-o".into(), out.to_str().unwrap().into()];
        args.extend(c.args.iter().map(|a| a.to_string()));
        let mut _relay = None;
        if over_tls {
            let port = server
                .url("/")
                .rsplit(':')
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_string();
            let (relay, tls_port) =
                crate::peers::tls::origin("chain.pem", "leaf.key", &["--relay", &port]);
            _relay = Some(relay);
            args.extend(["--cacert".to_string(), root.clone()]);
            args.push(format!("https://localhost:{tls_port}/file"));
        } else {
            args.push(server.url("/file"));
        }
        let run = fetch_cmd(
            Command::new("/usr/bin/time")
                .arg("-o")
                .arg(&rss)
                .args(["-f", "%M"])
                .arg(bin("fetch"))
                .args(&args),
        );
        let kb: u64 = std::fs::read_to_string(&rss)
            .ok()
            .and_then(|t| t.lines().last()?.trim().parse().ok())
            .unwrap_or(0);
        peak_kb = peak_kb.max(kb);
        let file = out.exists();
        let part = dir.path().join(format!("out-{i}.bin.part")).exists();
        let stderr = run.stderr.trim().replace('\n', " | ");
        if run.code != c.code {
            failures.push(format!(
                "{}: exit {} (want {}): {stderr}",
                c.name, run.code, c.code
            ));
        }
        if kb > CEILING_KB {
            failures.push(format!("{}: {kb} KiB peak memory", c.name));
        }
        // A failed download may leave `NAME.part` (by design: it says what it is); never
        // a file under the final name.
        if run.code != 0 && file {
            failures.push(format!("{}: failed, yet left the file", c.name));
        }
        if run.code == 0 && part {
            failures.push(format!("{}: succeeded, yet left a .part", c.name));
        }
        if run.code == 0 && !file {
            failures.push(format!("{}: succeeded without the file", c.name));
        }
        if run.code != 0 && !(run.stderr.starts_with("fetch: ") && run.stderr.lines().count() == 1)
        {
            failures.push(format!("{}: not one 'fetch:' line: {stderr}", c.name));
        }
    }
    eprintln!("hostile responses (over TLS: {over_tls}): peak fetch memory {peak_kb} KiB");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
