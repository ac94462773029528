//! `--retry`: transient failures are tried again, after Retry-After or a doubling delay, and
//! a download that was cut resumes from what arrived.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::scripted::{Script, Then, ok, range_start, rest_from};
use super::{fetch, fetch_in};

/// Answers the first `busy` requests with 503 and `Retry-After: {after}`, then 200 "done".
fn busy_then_ok(busy: usize, after: &'static str) -> Script {
    let seen = AtomicUsize::new(0);
    Script::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < busy {
            (
                format!("HTTP/1.1 503 Service Unavailable\r\nRetry-After: {after}\r\nContent-Length: 4\r\n\r\nbusy")
                    .into_bytes(),
                Then::KeepAlive,
            )
        } else {
            ok(b"done")
        }
    })
}

#[test]
fn retry_after_is_honoured() {
    let s = busy_then_ok(1, "1");
    let began = Instant::now();
    let run = fetch(&["--retry", "3", "--retry-delay", "0.01", &s.url("/")]);
    let took = began.elapsed();
    // The 503's body goes out before the retry, as curl writes it.
    run.code(0).stdout(b"busydone");
    assert_eq!(s.requests().len(), 2);
    // The server asked for 1 s; the 10 ms delay was not used instead.
    assert!(took >= Duration::from_millis(900), "retried after {took:?}");
    assert!(
        run.stderr.starts_with(
            "fetch: the requested URL returned error: 503; retrying in 1 s (2 retries left)"
        ),
        "{}",
        run.stderr
    );
    // -s keeps the notice quiet.
    let s = busy_then_ok(1, "0");
    fetch(&["-s", "--retry", "1", &s.url("/")])
        .code(0)
        .stdout(b"busydone");
}

#[test]
fn without_retry_the_503_is_the_result() {
    let s = busy_then_ok(1, "0");
    fetch(&[&s.url("/")]).code(0).stdout(b"busy");
    let s = busy_then_ok(1, "0");
    fetch(&["-f", &s.url("/")]).code(22);
}

#[test]
fn retries_run_out() {
    let s = busy_then_ok(usize::MAX, "0");
    let run = fetch(&["-f", "--retry", "2", "--retry-delay", "0.01", &s.url("/")]);
    run.code(22);
    assert_eq!(s.requests().len(), 3);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    assert!(lines[1].ends_with("(0 retries left)"), "{}", run.stderr);
    assert_eq!(lines[2], "fetch: the requested URL returned error: 503");
    // A final answer like 404 is not retried.
    let s = Script::fixed(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        Then::KeepAlive,
    );
    fetch(&["-f", "--retry", "3", "--retry-delay", "0.01", &s.url("/")]).code(22);
    assert_eq!(s.requests().len(), 1);
}

#[test]
fn refused_connections_are_retried_only_with_retry_connrefused() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // As curl: --retry alone does not retry a refused connection.
    let run = fetch(&["--retry", "2", "--retry-delay", "0.01", &addr.to_string()]);
    run.code(7);
    assert!(!run.stderr.contains("retrying in"), "{}", run.stderr);
    let run = fetch(&[
        "--retry",
        "2",
        "--retry-connrefused",
        "--retry-delay",
        "0.01",
        &addr.to_string(),
    ]);
    run.code(7);
    assert_eq!(
        run.stderr.matches("retrying in").count(),
        2,
        "{}",
        run.stderr
    );
}

/// First request: the head and half the body, then the connection drops; later ones with a
/// Range get the rest.
fn drops_half_way(data: Vec<u8>) -> Script {
    let first = AtomicUsize::new(0);
    Script::start(move |head| match range_start(head) {
        Some(start) => rest_from(&data, start, ""),
        None => {
            let n = if first.fetch_add(1, Ordering::SeqCst) == 0 {
                data.len() / 2
            } else {
                data.len()
            };
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nETag: \"e\"\r\nContent-Length: {}\r\n\r\n",
                data.len()
            )
            .into_bytes();
            out.extend_from_slice(&data[..n]);
            (out, Then::Close)
        }
    })
}

#[test]
fn a_retried_download_resumes_from_its_part_file() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let s = drops_half_way(data.clone());
    let dir = tempfile::tempdir().unwrap();
    fetch_in(
        dir.path(),
        &[
            "-s",
            "--retry",
            "1",
            "--retry-delay",
            "0.01",
            "-o",
            "f",
            &s.url("/f"),
        ],
    )
    .code(0);
    assert!(std::fs::read(dir.path().join("f")).unwrap() == data);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1].contains("Range: bytes=50000-\r\nIf-Range: \"e\"\r\n"),
        "{}",
        reqs[1]
    );
}

#[test]
fn a_retried_body_on_stdout_continues_where_it_stopped() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let s = drops_half_way(data.clone());
    let run = fetch(&["-s", "--retry", "1", "--retry-delay", "0.01", &s.url("/f")]);
    run.code(0);
    assert!(
        run.stdout == data,
        "stdout differs ({} bytes)",
        run.stdout.len()
    );
}
