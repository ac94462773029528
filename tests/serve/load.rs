//! Many clients: idle keep-alive connections never starve the pool, and beyond
//! --max-connections the answer is 503 with Retry-After.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::child::LIMIT;
use crate::support::repo_root;
use crate::support::serve::{Serve, read_to_close, request};

#[test]
fn four_times_more_keep_alive_clients_than_workers_all_get_answers() {
    // 2 workers, 8 clients that each keep their connection open between requests. If an idle
    // connection held a worker, the third client would wait for a keep-alive timeout (60 s).
    let www = repo_root().join("www");
    let s = Serve::start(&[
        "-p",
        "0",
        "-t",
        "2",
        "--keep-alive-timeout",
        "60",
        www.to_str().unwrap(),
    ]);
    let mut clients: Vec<TcpStream> = (0..8).map(|_| s.connect()).collect();
    for c in &clients {
        c.set_read_timeout(Some(LIMIT)).unwrap();
    }
    for round in 0..3 {
        for (i, c) in clients.iter_mut().enumerate() {
            let started = Instant::now();
            let r = request(c, "GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(r.status, 200, "round {round}, client {i}");
            // A held worker would cost the 60 s keep-alive timeout; 20 s leaves room for a
            // loaded machine.
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "round {round}, client {i} waited {:?}",
                started.elapsed()
            );
        }
    }
}

#[test]
fn beyond_max_connections_is_503_with_retry_after() {
    let www = repo_root().join("www");
    let s = Serve::start(&["-p", "0", "--max-connections", "2", www.to_str().unwrap()]);
    let mut held: Vec<TcpStream> = (0..2).map(|_| s.connect()).collect();
    for c in &mut held {
        // Answered, so certainly accepted and counted.
        assert_eq!(request(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    }
    let mut extra = s.connect();
    let got = read_to_close(&mut extra);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nRetry-After: 1\r\n"), "{text}");
    // Once a slot frees up, new clients are served again.
    drop(held.pop());
    crate::support::wait_for("a free slot", LIMIT, || {
        let mut c = s.connect();
        let got = read_to_close_after(
            &mut c,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        got.starts_with(b"HTTP/1.1 200").then_some(())
    });
}

fn read_to_close_after(c: &mut TcpStream, req: &[u8]) -> Vec<u8> {
    use std::io::Write;
    // The server may already have answered 503 and closed: a failed write is fine.
    let _ = c.write_all(req);
    read_to_close(c)
}
