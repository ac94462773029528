//! Exhausted resources and faults: a low descriptor limit under a flood of connections,
//! files that change under a transfer, SIGTERM during a 128 MiB download and during a load
//! run, SIGKILL and an immediate restart, and a panic inside request handling.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Jail, cpu_ticks};
use crate::support::child::LIMIT;
use crate::support::exists;
use crate::support::raw::{self, read_to_close, request};
use crate::support::serve::Serve;
use crate::support::{bin, wait_for};

/// Whether a GET on a new connection gets a 200 (false if it cannot connect).
fn get_ok(addr: SocketAddr, target: &str) -> bool {
    raw::exchange(addr, &raw::get_close(target)).is_some_and(|r| r.starts_with(b"HTTP/1.1 200 "))
}

#[test]
fn a_panic_in_request_handling_is_contained_to_its_connection() {
    let jail = Jail::new();
    let s = Serve::start_cmd(
        Command::new(bin("serve"))
            .args(["-p", "0", "-q", "-t", "2", jail.root_str()])
            .env("SERVE_TEST_PANIC_PATH", "/__panic"),
    );
    for round in 0..3 {
        // The client sees the connection close with no response...
        let got = s.raw(b"GET /__panic HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            got.is_empty(),
            "round {round}: {:?}",
            String::from_utf8_lossy(&got)
        );
        // ...and the next request, on every worker, works.
        for _ in 0..4 {
            let mut c = s.connect();
            assert_eq!(
                request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
                200
            );
        }
    }
    let err = wait_for("three panic lines", LIMIT, || {
        let err = s.stderr();
        (err.lines().count() >= 3).then_some(err)
    });
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "one line per panic: {err}");
    for line in lines {
        assert!(
            line.starts_with("serve: internal error in worker-")
                && line.contains("test-only panic for /__panic"),
            "{line}"
        );
    }
}

#[test]
fn a_file_deleted_mid_transfer_is_sent_whole_and_one_truncated_is_cut_and_logged() {
    // Tests run as root here, and root reads a file whatever its mode: "made unreadable" is
    // not testable this way, so deletion and truncation are.
    let jail = Jail::new();
    let size = 32 * 1024 * 1024;
    std::fs::write(jail.path("deleted.bin"), vec![3u8; size]).unwrap();
    std::fs::write(jail.path("halved.bin"), vec![4u8; size]).unwrap();
    let s = Serve::start(&["-p", "0", "-q", jail.root_str()]);

    // Deleted: the open file keeps its bytes (Unix semantics), so the response completes.
    let mut c = s.connect();
    c.write_all(b"GET /deleted.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 1024 * 1024];
    c.read_exact(&mut first).unwrap();
    std::fs::remove_file(jail.path("deleted.bin")).unwrap();
    let rest = read_to_close(&mut c);
    let head = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        first.len() - head + rest.len(),
        size,
        "sent whole, as opened"
    );
    assert!(
        !get_ok(s.addr(), "/deleted.bin"),
        "gone for the next request"
    );

    // Truncated to half: the connection ends early and the log says why.
    let mut c = s.connect();
    c.write_all(b"GET /halved.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    c.read_exact(&mut first).unwrap();
    std::fs::File::options()
        .write(true)
        .open(jail.path("halved.bin"))
        .unwrap()
        .set_len(size as u64 / 2)
        .unwrap();
    let rest = read_to_close(&mut c);
    assert!(first.len() + rest.len() < size, "cut short, never padded");
    wait_for("the log to say why", LIMIT, || {
        s.stderr()
            .contains("halved.bin shrank while being sent")
            .then_some(())
    });
    assert!(get_ok(s.addr(), "/halved.bin"), "the server goes on");
}

#[test]
fn sigterm_during_a_big_download_on_a_unix_socket_finishes_it_and_removes_the_socket() {
    let jail = Jail::new();
    // Sparse: 128 MiB to send, nothing on disk. Far more than the socket buffers hold, so it
    // is in flight at the signal; not 1 GiB (as it was): on a loaded machine that did not
    // arrive within the default 10 s drain limit (384 MiB had, in a hunt with 6 test threads
    // and 4 busy loops on 2 cores).
    let len: u64 = 128 << 20;
    let f = std::fs::File::create(jail.path("big.bin")).unwrap();
    f.set_len(len).unwrap();
    drop(f);
    let sock = jail.dir.path().join("serve.sock");
    let mut s = Serve::start(&["--unix", sock.to_str().unwrap(), "-q", jail.root_str()]);
    let mut c = UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 1024 * 1024];
    c.read_exact(&mut first).unwrap();
    let head = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let started = Instant::now();
    s.signal(15);
    wait_for("new connections to be refused", LIMIT, || {
        UnixStream::connect(&sock).is_err().then_some(())
    });
    let mut total = (first.len() - head) as u64;
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => panic!("read after {total}: {e}"),
        }
    }
    assert_eq!(total, len, "the whole file arrived");
    let status = s.wait_exit(LIMIT);
    assert!(status.success(), "{status}; stderr: {}", s.stderr());
    // Exited once the download was done: within the 10 s drain limit, plus slack for a
    // loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "within the drain limit: {:?}",
        started.elapsed()
    );
    assert!(!exists(&sock), "socket file removed");
}

#[test]
fn sigterm_during_a_load_run_loses_no_response_and_exits_0() {
    let jail = Jail::new();
    let mut s = Serve::start(&["-p", "0", "-q", jail.root_str()]);
    let addr = s.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let (complete, torn) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (stop, complete, torn) = (stop.clone(), complete.clone(), torn.clone());
            thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Acquire) && Instant::now() < deadline {
                    let Ok(mut c) = TcpStream::connect(addr) else {
                        return; // refused: the server is stopping
                    };
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    for _ in 0..50 {
                        if c.write_all(b"GET /file.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                            .is_err()
                        {
                            break;
                        }
                        // A response either arrives whole or not at all (closed before it
                        // started); a torn one is a loss.
                        let mut pending = Vec::new();
                        match raw::try_read_response(&mut c, &mut pending, false) {
                            Ok(r) if r.status == 200 && r.body.len() == 1000 => {
                                complete.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(_) => {
                                torn.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Err(_) if pending.is_empty() => break,
                            Err(_) => {
                                torn.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    wait_for("some load", LIMIT, || {
        (complete.load(Ordering::Relaxed) > 500).then_some(())
    });
    s.signal(15);
    let status = s.wait_exit(LIMIT);
    stop.store(true, Ordering::Release);
    for c in clients {
        let _ = c.join();
    }
    assert!(status.success(), "{status}; stderr: {}", s.stderr());
    assert_eq!(torn.load(Ordering::Relaxed), 0, "torn responses");
    assert!(TcpStream::connect(addr).is_err(), "refused after exit");
}

#[test]
fn sigkill_then_an_immediate_restart_on_the_same_port_works() {
    let jail = Jail::new();
    let s = Serve::start(&["-p", "0", "-q", jail.root_str()]);
    let addr = s.addr();
    // Leave connections in every state: idle kept-alive, mid-request, and closed.
    let mut idle = s.connect();
    request(&mut idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut half = s.connect();
    half.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    assert!(get_ok(addr, "/"));
    s.signal(9);
    drop(s); // reaps the killed child
    let port = addr.port().to_string();
    let again = Serve::start(&["-p", &port, "-q", jail.root_str()]);
    assert_eq!(again.addr(), addr);
    assert!(get_ok(addr, "/file.txt"));
}

#[test]
fn a_low_descriptor_limit_under_1000_connections_neither_spins_nor_floods_the_log() {
    let jail = Jail::new();
    let script = format!(
        "ulimit -n 256 && exec '{}' -p 0 -q --header-timeout 30 '{}'",
        bin("serve").display(),
        jail.root_str()
    );
    let s = Serve::start_cmd(Command::new("sh").args(["-c", &script]));
    let pid = s.pid();
    let addr = s.addr();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 256 ")),
        "{limits}"
    );
    let cpu_before = cpu_ticks(pid);
    let start = Instant::now();
    // 1000 connections held open: far more than 256 descriptors.
    let mut held = Vec::new();
    for _ in 0..1000 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(c) => held.push(c),
            Err(_) => break, // the backlog is full too: that is the point
        }
    }
    assert!(held.len() > 400, "only {} connections", held.len());
    // serve has hit the limit once it says so; wait for that line rather than assume it came.
    wait_for("the 'cannot accept' complaint", LIMIT, || {
        s.stderr().contains("cannot accept").then_some(())
    });
    // Then under the flood for 3 s in all: serve must wait, not spin. This sleep is the
    // measuring window for its CPU time, not a wait for something to happen.
    thread::sleep(Duration::from_secs(3).saturating_sub(start.elapsed()));
    let cpu = cpu_ticks(pid) - cpu_before;
    // stderr before the clock: a line written after the clock was read would not be
    // allowed for by it.
    let err = s.stderr();
    let elapsed = start.elapsed();
    let complaints = err.lines().filter(|l| l.contains("cannot accept")).count();
    assert!(
        complaints as u64 <= elapsed.as_secs() + 1,
        "{complaints} lines in {elapsed:?}: {err}"
    );
    // 1 tick is 10 ms: under 1 s of CPU in 3+ s of exhaustion (a spin would take them all).
    assert!(cpu < 100, "{cpu} ticks of CPU in {elapsed:?}");
    assert!(
        err.lines().all(|l| l.contains("cannot accept")),
        "only that: {err}"
    );
    // The load goes; serve recovers fully.
    drop(held);
    let recovered = Instant::now();
    wait_for("a normal request to succeed", LIMIT, || {
        get_ok(addr, "/file.txt").then_some(())
    });
    eprintln!(
        "fd limit 256, 1000 connections: {cpu} ticks CPU in {elapsed:?}, {complaints} log lines, \
         recovered in {:?}",
        recovered.elapsed()
    );
    for _ in 0..20 {
        assert!(get_ok(addr, "/file.txt"));
    }
}
