//! Slow and greedy clients: slowloris, slow readers and idle keep-alive connections, each
//! while a normal client measures its success rate and latency, and serve's threads and
//! memory are sampled. `cargo test` runs a short version; `HOSTILE_SCALE=full` (see
//! `bench/hostile.sh`) runs the long one: 1000 slowloris connections, 2000 idle ones.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Jail, proc_status};
use crate::support::raw;
use crate::support::serve::Serve;
use crate::support::wait_for;

/// How big the runs are: short in CI, long with `HOSTILE_SCALE=full`.
struct Scale {
    slowloris: usize,
    slow_readers: usize,
    idle: usize,
    run: Duration,
    drip: Duration,
}

fn scale() -> Scale {
    if std::env::var("HOSTILE_SCALE").is_ok_and(|v| v == "full") {
        Scale {
            slowloris: 1000,
            slow_readers: 200,
            idle: 2000,
            run: Duration::from_secs(30),
            drip: Duration::from_secs(3),
        }
    } else {
        Scale {
            slowloris: 200,
            slow_readers: 24,
            idle: 500,
            run: Duration::from_secs(4),
            drip: Duration::from_secs(1),
        }
    }
}

/// What the normal client saw, and what serve used, during one run.
#[derive(Debug)]
struct Figures {
    ok: usize,
    failed: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    threads: u64,
    rss_kb: u64,
}

impl Figures {
    fn success(&self) -> f64 {
        self.ok as f64 / (self.ok + self.failed).max(1) as f64
    }
}

/// One normal request on a new connection: whole 200 within 5 s, or a failure.
fn normal_request(addr: SocketAddr) -> bool {
    raw::exchange(addr, &raw::get_close("/file.txt"))
        .is_some_and(|got| got.starts_with(b"HTTP/1.1 200 ") && got.ends_with(b"xyzabcdefghijkl"))
}

/// Runs a normal client (one request every 20 ms) for `run`, sampling serve's threads and
/// memory, while the load set up by the caller goes on.
fn measure(s: &Serve, run: Duration) -> Figures {
    let addr = s.addr();
    let mut lat = Vec::new();
    let mut failed = 0;
    let (mut threads, mut rss_kb) = (0, 0);
    let end = Instant::now() + run;
    while Instant::now() < end {
        let t = Instant::now();
        if normal_request(addr) {
            lat.push(t.elapsed());
        } else {
            failed += 1;
        }
        threads = threads.max(proc_status(s.pid(), "Threads").unwrap_or(0));
        rss_kb = rss_kb.max(proc_status(s.pid(), "VmRSS").unwrap_or(0));
        thread::sleep(Duration::from_millis(20));
    }
    lat.sort();
    let at = |q: f64| lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)));
    Figures {
        ok: lat.len(),
        failed,
        p50: at(0.5).copied().unwrap_or_default(),
        p99: at(0.99).copied().unwrap_or_default(),
        max: lat.last().copied().unwrap_or_default(),
        threads,
        rss_kb,
    }
}

fn check(what: &str, f: &Figures) {
    eprintln!(
        "{what}: {} ok, {} failed ({:.1}%), latency p50 {:?} p99 {:?} max {:?}, \
         serve peak {} threads, {} MiB RSS",
        f.ok,
        f.failed,
        100.0 * f.success(),
        f.p50,
        f.p99,
        f.max,
        f.threads,
        f.rss_kb / 1024
    );
    assert!(f.ok >= 20, "{what}: too few requests: {f:?}");
    assert!(f.success() >= 0.99, "{what}: {f:?}");
    // A starved client waits out a timeout (10 s for a head, 5 s in `normal_request`) or
    // fails. The median stays quick; the tail is given room for a loaded machine, where a
    // request's thread alone can wait that long for a CPU.
    assert!(f.p50 < Duration::from_millis(500), "{what}: {f:?}");
    assert!(f.p99 < Duration::from_secs(3), "{what}: {f:?}");
    // A fixed pool: workers, signals, main.
    assert!(f.threads <= 20, "{what}: {f:?}");
    assert!(f.rss_kb < 256 * 1024, "{what}: {f:?}");
}

fn start(jail: &Jail) -> Serve {
    Serve::start(&["-p", "0", "-q", "-t", "8", jail.root_str()])
}

/// Opens `n` connections, pausing now and then so the listen backlog keeps up.
fn open_many(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|i| {
            if i % 100 == 99 {
                thread::sleep(Duration::from_millis(5));
            }
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()
        })
        .collect()
}

#[test]
fn slowloris_does_not_starve_normal_clients() {
    let sc = scale();
    let jail = Jail::new();
    let s = start(&jail);
    let addr = s.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let dripping = Arc::new(AtomicBool::new(false));
    let dripping2 = dripping.clone();
    let (n, drip, run) = (sc.slowloris, sc.drip, sc.run);
    let loris = thread::spawn(move || {
        // Each connection sends a request line, then one header byte every `drip`; one that
        // the server closed (408 after --header-timeout) is opened again, like the real tool.
        let mut conns: Vec<TcpStream> = open_many(addr, n);
        for c in &mut conns {
            let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Loris: ");
            let _ = c.set_nonblocking(true);
        }
        dripping2.store(true, Ordering::Release);
        let deadline = Instant::now() + run + Duration::from_secs(30);
        let mut reopened = 0;
        while !stop2.load(Ordering::Acquire) && Instant::now() < deadline {
            for c in conns.iter_mut() {
                let alive = match c.write(b"a") {
                    Ok(_) => true,
                    Err(e) => e.kind() == ErrorKind::WouldBlock,
                };
                if !alive && let Ok(fresh) = TcpStream::connect(addr) {
                    let _ = (&fresh).write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Loris: ");
                    let _ = fresh.set_nonblocking(true);
                    *c = fresh;
                    reopened += 1;
                }
            }
            thread::sleep(drip);
        }
        (conns.len(), reopened)
    });
    wait_for(
        "the slowloris connections to open",
        Duration::from_secs(30),
        || dripping.load(Ordering::Acquire).then_some(()),
    );
    let f = measure(&s, sc.run);
    stop.store(true, Ordering::Release);
    let (held, reopened) = loris.join().unwrap();
    eprintln!("slowloris: {held} connections dripping, {reopened} reopened");
    assert_eq!(held, sc.slowloris);
    check(&format!("slowloris x{}", sc.slowloris), &f);
}

#[test]
fn slow_readers_do_not_starve_normal_clients() {
    let sc = scale();
    let jail = Jail::new();
    // Sparse: big to send, nothing on disk.
    let f = std::fs::File::create(jail.path("big.bin")).unwrap();
    f.set_len(256 << 20).unwrap();
    drop(f);
    let s = start(&jail);
    // Each asks for the big file and never reads a byte: the server's writes block once
    // the socket buffers are full.
    let mut readers = open_many(s.addr(), sc.slow_readers);
    for c in &mut readers {
        c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    // Under way once the server has begun every response (peek reads nothing out).
    wait_for(
        "a response to start on every reader",
        Duration::from_secs(30),
        || {
            readers
                .iter()
                .all(|c| {
                    c.set_nonblocking(true).unwrap();
                    let started = c.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0);
                    c.set_nonblocking(false).unwrap();
                    started
                })
                .then_some(())
        },
    );
    let f = measure(&s, sc.run);
    check(&format!("slow readers x{}", sc.slow_readers), &f);
    drop(readers);
}

#[test]
fn idle_keep_alive_connections_hold_no_worker() {
    let sc = scale();
    let jail = Jail::new();
    let jail_root = jail.root_str().to_string();
    // A keep-alive limit longer than the run, so every idle connection stays open.
    let s = Serve::start(&[
        "-p",
        "0",
        "-q",
        "-t",
        "8",
        "--keep-alive-timeout",
        "120",
        &jail_root,
    ]);
    let mut idle = open_many(s.addr(), sc.idle);
    // Each makes one request, then idles on its kept-alive connection.
    for c in &mut idle {
        c.write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    for c in &mut idle {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
    }
    let f = measure(&s, sc.run);
    check(&format!("idle keep-alive x{}", sc.idle), &f);
    // Still open at the end: the server did not shed them to cope.
    let mut alive = 0;
    for c in &mut idle {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        if matches!(c.read(&mut b), Err(e) if e.kind() == ErrorKind::WouldBlock) {
            alive += 1;
        }
    }
    assert_eq!(alive, sc.idle, "idle connections kept");
}
