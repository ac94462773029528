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

/// A client that pipelines without end (and reads its answers) gets a worker for a bounded
/// turn at a time: with a single worker, another client's one request is answered while
/// the pipeline is still going, and every pipelined answer comes back, in order (a
/// connection whose turn ended is served again: no readiness is lost). Without turns the
/// other client waits for as long as the pipeline's socket never runs dry, which is most of
/// the time but depends on scheduling; `conn.rs`'s unit test checks the turn exactly.
#[test]
fn an_endless_pipeline_does_not_keep_a_worker_from_other_clients() {
    use crate::support::raw::read_response;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::AtomicUsize;
    let dir = tempfile::tempdir().unwrap();
    for d in 0..10 {
        std::fs::write(dir.path().join(format!("{d}.txt")), d.to_string()).unwrap();
    }
    std::fs::write(dir.path().join("end.txt"), "end").unwrap();
    // A Unix-domain socket: the client's writes queue up on the server's side, so it
    // seldom runs out of requests to read (over loopback TCP it catches up more often).
    let sock = dir.path().join("serve.sock");
    let sock = sock.to_str().unwrap();
    let _s = Serve::start(&[
        "--unix",
        sock,
        "-q",
        "-t",
        "1",
        dir.path().to_str().unwrap(),
    ]);
    // Requests larger than their answers: this client writes faster than the server
    // reads, and reads faster than the server writes, so the server seldom has to stop
    // for it; the end of its turn lets it go.
    let pad = "p".repeat(2000);
    let req = move |i: usize| {
        format!(
            "GET /{}.txt HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n",
            i % 10
        )
    };
    // Bounded: the writer stops once the other client is answered, or at this many.
    const MOST: usize = 100_000;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let pipe = UnixStream::connect(sock).unwrap();
    pipe.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut out = pipe.try_clone().unwrap();
    // Made once and written again and again, so the client writes faster than the server
    // answers: its socket always has more.
    let batch: String = (0..100).map(req).collect();
    let writer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut i = 0;
            while i < MOST && !stop.load(Ordering::SeqCst) {
                out.write_all(batch.as_bytes()).unwrap();
                i += 100;
            }
            let end = "GET /end.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            out.write_all(end.as_bytes()).unwrap();
            i
        })
    };
    let reader = {
        let (answered, mut pipe) = (Arc::clone(&answered), pipe);
        thread::spawn(move || {
            let mut answers = Answers::default();
            let mut i = 0;
            loop {
                let (status, body) = answers.next(&mut pipe);
                if body == b"end" {
                    return i;
                }
                let want = (i % 10).to_string().into_bytes();
                assert_eq!((status, body), (200, want), "answer {i}");
                i += 1;
                answered.store(i, Ordering::SeqCst);
            }
        })
    };
    // The pipeline is under way (and, without turns, would hold the only worker).
    wait_for(
        "the pipeline to be under way",
        Duration::from_secs(30),
        || (answered.load(Ordering::SeqCst) >= 1000).then_some(()),
    );
    let mut other = UnixStream::connect(sock).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    other
        .write_all(b"GET /7.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut other, &mut Vec::new(), false);
    stop.store(true, Ordering::SeqCst);
    assert_eq!((r.status, r.text()), (200, "7".to_string()));
    let written = writer.join().unwrap();
    let read = reader.join().unwrap();
    assert!(
        written < MOST,
        "the other client was answered only after the pipeline's {MOST} requests"
    );
    assert_eq!(read, written, "every pipelined request answered, in order");
}

/// Reads pipelined answers quickly, so a client's reading never slows the server down: big
/// reads, and no copying per answer (`raw::read_response` moves what follows each one).
#[derive(Default)]
struct Answers {
    buf: Vec<u8>,
    at: usize,
}

impl Answers {
    /// The next answer's status and body (framed by its `Content-Length`).
    fn next(&mut self, s: &mut impl Read) -> (u16, Vec<u8>) {
        let head_end = loop {
            if let Some(end) = self.buf[self.at..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break self.at + end + 4;
            }
            self.more(s);
        };
        let head = String::from_utf8_lossy(&self.buf[self.at..head_end]).to_ascii_lowercase();
        let status = head[9..12].parse().unwrap();
        let len: usize = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("a content-length")
            .parse()
            .unwrap();
        while self.buf.len() < head_end + len {
            self.more(s);
        }
        self.at = head_end + len;
        (status, self.buf[head_end..self.at].to_vec())
    }

    fn more(&mut self, s: &mut impl Read) {
        if self.at > 0 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        let have = self.buf.len();
        self.buf.resize(have + 256 * 1024, 0);
        let got = s.read(&mut self.buf[have..]).unwrap();
        assert!(got > 0, "closed before the end");
        self.buf.truncate(have + got);
    }
}
