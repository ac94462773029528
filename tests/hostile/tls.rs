//! `serve --tls-cert` under hostile TLS clients: garbage instead of a ClientHello, a huge
//! ClientHello, a handshake dribbled then stalled (slowloris), hundreds of half-open
//! handshakes, and a client that stops reading. Each gets a clean close at a bounded cost,
//! and a real client is served all along.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::fetch::fetch;
use crate::support::pki::Pki;
use crate::support::serve::Serve;
use crate::support::{noise, put, temp_dir};

fn serve_tls(root: &std::path::Path, extra: &[&str]) -> Serve {
    let pki = Pki::get();
    let (cert, key) = (pki.arg("chain.pem"), pki.arg("leaf.key"));
    let mut args = vec!["-p", "0", "-q", "--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    args.push(root.to_str().unwrap());
    Serve::start(&args)
}

/// A real client gets the file, over a new TLS connection.
fn still_served(s: &Serve) {
    let url = format!("https://localhost:{}/a.txt", s.addr().port());
    let root = Pki::get().arg("root.pem");
    let r = fetch(&["-sS", "--cacert", &root, "-m", "10", &url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"fine");
}

/// Reads until the server closes (or 15 s pass): what it sent before closing.
fn until_closed(c: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return (got, start.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn garbage_and_huge_hellos_are_closed_and_others_served() {
    let site = temp_dir("hostile tls ");
    put(site.path(), "a.txt", b"fine");
    let s = serve_tls(site.path(), &[]);
    // A handshake record of garbage: an alert at most, then the close.
    let mut c = s.connect();
    c.write_all(&[0x16, 0x03, 0x01, 0x00, 0x10]).unwrap();
    c.write_all(&noise(16, 3)).unwrap();
    let (got, took) = until_closed(&mut c);
    assert!(
        got.len() < 64 && took < Duration::from_secs(5),
        "{got:?} {took:?}"
    );
    // A ClientHello that claims 16 MiB, sent as 20 full records (320 KiB): rustls caps a
    // handshake message at 64 KiB, then closes.
    let mut c = s.connect();
    let mut sent = 0usize;
    let mut first = true;
    for _ in 0..20 {
        let mut record = vec![0x16, 0x03, 0x01, 0x40, 0x00];
        let mut body = noise(0x4000, 9);
        if first {
            body[..4].copy_from_slice(&[0x01, 0xff, 0xff, 0xff]);
            first = false;
        }
        record.extend_from_slice(&body);
        if c.write_all(&record).is_err() {
            break;
        }
        sent += record.len();
    }
    let (_, took) = until_closed(&mut c);
    assert!(
        took < Duration::from_secs(5),
        "closed after {sent} bytes in {took:?}"
    );
    // Bytes that are neither TLS nor HTTP: a 400 in plain text, then the close.
    let mut c = s.connect();
    c.write_all(b"\x00\x01\x02garbage\r\n\r\n").unwrap();
    let (got, _) = until_closed(&mut c);
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 400"),
        "{got:?}"
    );
    still_served(&s);
}

#[test]
fn stalled_and_half_open_handshakes_cost_a_slot_not_a_worker() {
    let site = temp_dir("hostile tls slow ");
    put(site.path(), "a.txt", b"fine");
    // Two workers, so stalls that held a worker would stop everyone at once.
    let s = serve_tls(site.path(), &["--threads", "2", "--header-timeout", "2"]);
    // 300 handshakes that start and stall (half a ClientHello record each).
    let mut stalled: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut c = s.connect();
            c.write_all(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00])
                .unwrap();
            c
        })
        .collect();
    // One that dribbles a byte at a time (slowloris), on one more connection.
    let mut drip = s.connect();
    drip.write_all(&[0x16]).unwrap();
    still_served(&s);
    let _ = drip.write_all(&[0x03]);
    still_served(&s);
    // Past --header-timeout every stalled handshake is closed, quietly.
    let (got, took) = until_closed(&mut stalled[0]);
    assert!(got.len() < 64, "{got:?}");
    assert!(
        took < Duration::from_secs(6),
        "closed by the header deadline: {took:?}"
    );
    let (_, took) = until_closed(&mut drip);
    assert!(took < Duration::from_secs(6), "the slowloris too: {took:?}");
    for c in stalled.iter_mut().skip(1) {
        let (_, took) = until_closed(c);
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
    still_served(&s);
}

#[test]
fn a_client_that_never_reads_holds_no_worker() {
    let site = temp_dir("hostile tls reader ");
    put(site.path(), "a.txt", b"fine");
    put(site.path(), "big.bin", &noise(20_000_000, 4));
    let s = serve_tls(site.path(), &["--threads", "2"]);
    let Some(curl) = crate::peers::which("curl") else {
        eprintln!("skipped: curl not installed");
        return;
    };
    // Two clients (as many as workers) start a big download and read 1 KiB/s.
    let url = format!("https://localhost:{}/big.bin", s.addr().port());
    let root = Pki::get().arg("root.pem");
    let slow: Vec<_> = (0..2)
        .map(|_| {
            crate::support::child::Child::start(
                "curl",
                std::process::Command::new(&curl).args([
                    "-sS",
                    "--cacert",
                    &root,
                    "--limit-rate",
                    "1K",
                    "-o",
                    "/dev/null",
                    &url,
                ]),
            )
        })
        .collect();
    // Both downloads under way and stuck: serve holds bytes neither client has taken, so a
    // worker that waited on them would be blocked now.
    crate::support::wait_for(
        "serve blocked writing to both slow readers",
        Duration::from_secs(30),
        || (super::queued_sends(s.addr().port()) >= 2).then_some(()),
    );
    still_served(&s);
    still_served(&s);
    drop(slow);
}
