//! End-to-end tests of the examples in `shared/examples/`: each runs as a user would run it,
//! on loopback or in a temp dir, with servers on port 0 (they print their real address
//! first), every wait under a deadline, and every child killed when its guard drops.

use std::ffi::OsStr;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

// The end-to-end kit of the workspace's tests (tests/support), one copy for both packages.
#[allow(dead_code)] // Only the examples' builder is used here.
#[path = "../../tests/support/bins.rs"]
mod bins;
#[allow(dead_code)] // Not every wait and view of a child is needed here.
#[path = "../../tests/support/child.rs"]
mod child;

use child::{Child, lines};

/// The longest any one wait may take before the test gives up: as long as the e2e kit's, for
/// a loaded 2-core CI machine.
const LIMIT: Duration = Duration::from_secs(30);

/// Starts an example with `args`; killed, by its PID, when the guard drops.
fn start<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Child {
    Child::start(name, Command::new(bins::example(name)).args(args))
}

/// The address from a server's first line, `listening on ADDR`.
fn address(server: &Child) -> String {
    let line = server.next_line();
    match line.strip_prefix("listening on ") {
        Some(addr) => addr.to_string(),
        None => panic!("first line is {line:?}"),
    }
}

/// How a finished example ended and the lines it printed (after those already taken).
struct Finished {
    status: ExitStatus,
    out: Vec<String>,
    err: Vec<String>,
}

/// Waits for a started example to exit and collects the rest of its output.
fn finish(example: Child) -> Finished {
    let done = example.finish(LIMIT);
    Finished {
        status: done.status,
        out: lines(&done.stdout),
        err: lines(&done.stderr),
    }
}

/// Runs an example to completion.
fn run<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Finished {
    finish(start(name, args))
}

#[track_caller]
fn assert_exit(f: &Finished, code: i32) {
    assert_eq!(
        f.status.code(),
        Some(code),
        "stdout: {:?}\nstderr: {:?}",
        f.out,
        f.err
    );
}

// ---- local_server / local_client --------------------------------------------------------

#[test]
fn local_messages_are_printed_in_order_and_quit_removes_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local sock ü");
    let server = start("local_server", &[&path]);
    assert_eq!(
        server.next_line(),
        format!("listening on unix:{}", path.display())
    );
    assert!(path.exists());

    let p = path.to_str().unwrap();
    let sent = run("local_client", &[p, "hello", "two words", "ünïcødé", ""]);
    assert_exit(&sent, 0);
    assert!(sent.out.is_empty() && sent.err.is_empty());
    for expected in ["hello", "two words", "ünïcødé", ""] {
        assert_eq!(server.next_line(), expected);
    }
    assert_exit(&run("local_client", &[p, "again"]), 0);
    assert_eq!(server.next_line(), "again");

    assert_exit(&run("local_client", &[p, "quit"]), 0);
    let done = finish(server);
    assert_eq!(done.out, ["quit"]);
    assert_exit(&done, 0);
    assert!(!path.exists(), "quit removes the socket file");
}

#[test]
fn local_server_drops_a_client_that_breaks_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let server = start("local_server", &[&path]);
    address(&server);

    // A length over the 64 KiB cap: refused before anything is allocated.
    let mut bad = UnixStream::connect(&path).unwrap();
    bad.set_read_timeout(Some(LIMIT)).unwrap();
    bad.write_all(&u32::MAX.to_be_bytes()).unwrap();
    assert_eq!(
        server.next_err_line(),
        "local_server: dropping a client: a message of 4294967295 bytes is over the 65536-byte limit"
    );
    assert_eq!(
        bad.read(&mut [0; 1]).unwrap(),
        0,
        "the server closed the connection"
    );

    // A message cut short by the client hanging up.
    let mut short = UnixStream::connect(&path).unwrap();
    short.write_all(&[0, 0, 0, 10, b'a', b'b']).unwrap();
    short.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        server.next_err_line(),
        "local_server: dropping a client: connection closed early"
    );

    // The server goes on serving.
    let p = path.to_str().unwrap();
    assert_exit(&run("local_client", &[p, "still here", "quit"]), 0);
    let done = finish(server);
    assert_eq!(done.out, ["still here", "quit"]);
    assert_exit(&done, 0);
}

#[test]
fn local_errors_are_said_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nobody.sock");
    let p = path.to_str().unwrap();

    let missing = run("local_client", &[p, "hello"]);
    assert_exit(&missing, 1);
    assert_eq!(
        missing.err,
        [format!(
            "local_client: connect to unix:{p}: no such file or directory"
        )]
    );

    let usage = run::<&str>("local_client", &[]);
    assert_exit(&usage, 2);
    assert_eq!(
        usage.err,
        ["local_client: usage: local_client SOCKET_PATH MESSAGE..."]
    );

    let big = "x".repeat(64 * 1024 + 1);
    let too_big = run("local_client", &[p, &big]);
    assert_exit(&too_big, 2);
    assert_eq!(
        too_big.err,
        ["local_client: a message of 65537 bytes is over the 64 KiB limit"]
    );

    // A path that is not a socket is never touched.
    let file = dir.path().join("precious.txt");
    std::fs::write(&file, "keep me").unwrap();
    let refused = run("local_server", &[&file]);
    assert_exit(&refused, 1);
    assert!(
        refused.err[0].contains("is not a socket"),
        "{:?}",
        refused.err
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

// ---- echo_server / echo_client ----------------------------------------------------------

#[test]
fn echo_returns_the_exact_word() {
    let server = start::<&str>("echo_server", &[]);
    let addr = address(&server);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    // A few clients at once, each on its own connection and thread of the server.
    let words = [
        "hello",
        "héllo wörld",
        "x",
        "a much longer word with spaces in it",
    ];
    let clients: Vec<_> = words
        .iter()
        .map(|w| {
            let (addr, w) = (addr.clone(), w.to_string());
            thread::spawn(move || run("echo_client", &[addr.as_str(), &w]))
        })
        .collect();
    for (client, word) in clients.into_iter().zip(words) {
        let done = client.join().unwrap();
        assert_exit(&done, 0);
        assert_eq!(done.out, [word]);
    }
}

#[test]
fn echo_client_checks_the_byte_count() {
    // A broken echo server: it returns only the first 3 bytes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peer = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(&got[..3]).unwrap();
    });
    let short = run("echo_client", &[addr.as_str(), "hello"]);
    peer.join().unwrap();
    assert_exit(&short, 1);
    assert!(short.out.is_empty());
    assert_eq!(short.err, ["echo_client: sent 5 bytes, got 3 back"]);

    // Nothing listens there any more.
    let refused = run("echo_client", &[addr.as_str(), "hello"]);
    assert_exit(&refused, 1);
    assert_eq!(
        refused.err,
        [format!(
            "echo_client: connect to {addr}: connection refused"
        )]
    );

    let usage = run("echo_client", &["127.0.0.1:1"]);
    assert_exit(&usage, 2);
    assert_eq!(
        usage.err,
        ["echo_client: usage: echo_client HOST:PORT WORD"]
    );
}

// ---- udp_echo ---------------------------------------------------------------------------

#[test]
fn udp_returns_each_message_whole_and_separately() {
    let server = start("udp_echo", &["server"]);
    let addr = address(&server);
    let client = run("udp_echo", &["client", &addr, "one", "two", "three four"]);
    assert_exit(&client, 0);
    // Loopback keeps the order, but UDP promises none: compare as sets.
    let mut got = client.out.clone();
    got.sort();
    assert_eq!(
        got,
        [
            r#"reply: "one" (3 bytes)"#,
            r#"reply: "three four" (10 bytes)"#,
            r#"reply: "two" (3 bytes)"#,
        ]
    );
    // The server saw three datagrams, never one merged "onetwothree four".
    let seen: Vec<String> = (0..3).map(|_| server.next_line()).collect();
    let mut texts: Vec<(&str, &str)> = seen.iter().map(|l| l.split_once(": ").unwrap()).collect();
    texts.sort_by_key(|(_, text)| *text);
    let sizes = [
        "3 bytes from 127.0.0.1:",
        "10 bytes from 127.0.0.1:",
        "3 bytes from 127.0.0.1:",
    ];
    for ((from, text), (size, expected)) in
        texts
            .iter()
            .zip(sizes.iter().zip(["one", "three four", "two"]))
    {
        assert!(from.starts_with(size), "{seen:?}");
        assert_eq!(*text, expected);
    }
}

#[test]
fn udp_client_retries_then_reports_a_loss() {
    // A peer that receives and never answers: every datagram is "lost".
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let started = Instant::now();
    let client = run("udp_echo", &["client", &addr, "hello"]);
    assert_exit(&client, 1);
    assert!(client.out.is_empty());
    assert_eq!(
        client.err,
        [
            r#"udp_echo: lost: no reply to "hello" after 3 tries"#,
            "udp_echo: 1 of 1 messages lost",
        ]
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "3 waits of 500 ms"
    );

    // It was sent three times, each a whole datagram.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0; 64];
    let mut copies = 0;
    loop {
        match silent.recv_from(&mut buf) {
            Ok((n, _)) => {
                assert_eq!(&buf[..n], b"hello");
                copies += 1;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(copies, 3);
}

// ---- socketpair -------------------------------------------------------------------------

#[test]
fn socketpair_prints_the_exchange() {
    let done = run("socketpair", &["2"]);
    assert_exit(&done, 0);
    assert_eq!(
        done.out,
        [
            "right got: ping 1",
            "left got: pong 1",
            "right got: ping 2",
            "left got: pong 2",
            "right: left closed its end",
        ]
    );
    assert_exit(&run("socketpair", &["0"]), 2);
}

// ---- poll_server ------------------------------------------------------------------------

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.set_write_timeout(Some(LIMIT)).unwrap();
    s
}

/// The number of threads in process `pid` (Linux: `/proc/PID/status`).
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line["Threads:".len()..].trim().parse().unwrap()
}

#[test]
fn poll_server_serves_many_clients_from_one_thread() {
    let server = start::<&str>("poll_server", &[]);
    let addr = address(&server);

    // 20 clients, all connected at once, each served while the others wait.
    let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(&addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(format!("hello from client {i}\n").as_bytes())
            .unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let expected = format!("HELLO FROM CLIENT {i}\n");
        let mut got = vec![0; expected.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
    assert_eq!(threads(server.pid()), 1, "one thread serves all 20");

    // Each says goodbye and closes its side; the server sends the rest and closes too.
    for (i, c) in clients.iter_mut().enumerate().rev() {
        c.write_all(format!("bye {i}").as_bytes()).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
    }
    for (i, mut c) in clients.into_iter().enumerate() {
        let mut rest = String::new();
        c.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, format!("BYE {i}"));
    }
}

#[test]
fn poll_server_keeps_serving_past_a_client_that_does_not_read() {
    let server = start::<&str>("poll_server", &[]);
    let addr = address(&server);

    // A hog sends without ever reading: once the server's 16 KiB for it and the socket
    // buffers are full, its writes would block. The single thread must not.
    let hog = connect(&addr);
    hog.set_nonblocking(true).unwrap();
    let chunk = [b'x'; 64 * 1024];
    let deadline = Instant::now() + LIMIT;
    let mut pushed = 0;
    loop {
        match (&hog).write(&chunk) {
            Ok(n) => pushed += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("hog: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "{pushed} bytes and the server still reads"
        );
    }

    // Meanwhile a well-behaved client gets 1 MiB through: a writer thread and a reader.
    let data: Vec<u8> = (0..1 << 20).map(|i| b"abcdefghij\n"[i % 11]).collect();
    let client = connect(&addr);
    let writer = {
        let (mut c, data) = (client.try_clone().unwrap(), data.clone());
        thread::spawn(move || {
            c.write_all(&data).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::new();
    (&client).read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == data.to_ascii_uppercase(), "1 MiB came back changed");

    // The hog hangs up with data unread (a reset): the server shrugs and goes on.
    drop(hog);
    let mut after = connect(&addr);
    after.write_all(b"still there?").unwrap();
    after.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    after.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "STILL THERE?");
}

// ---- all servers ------------------------------------------------------------------------

#[test]
fn servers_refuse_a_bad_address_in_words() {
    for (name, args) in [
        ("echo_server", &["nonsense"][..]),
        ("poll_server", &["nonsense"][..]),
        ("udp_echo", &["server", "nonsense"][..]),
    ] {
        let done = run(name, args);
        assert_exit(&done, 2);
        let prefix = format!("{name}: 'nonsense' is not an address");
        assert!(done.err[0].starts_with(&prefix), "{:?}", done.err);
    }
}
