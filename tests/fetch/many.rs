//! Many targets: `-j N`, `--input`, output in target order, the exit code of the first
//! failure, the summary line, and kept-alive connections shared between transfers.

use std::time::Duration;

use super::scripted::{Script, Then, ok, path_of};
use super::{fetch, fetch_in, fetch_with_stdin};
use crate::support::repo_root;
use crate::support::serve::Serve;

/// `/tN` answers `body N` after a delay that shrinks with N, so later targets finish first;
/// `/t5` is a 404 and `/t12` is cut short.
fn staggered() -> Script {
    Script::start(|head| {
        let path = path_of(head);
        let n: u64 = path.trim_start_matches("/t").parse().unwrap_or(0);
        // A slow server, not a test waiting on time: it makes the finishing order differ
        // from the input order.
        std::thread::sleep(Duration::from_millis(5 * (20 - n.min(20))));
        match n {
            5 => (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec(),
                Then::KeepAlive,
            ),
            12 => (
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut".to_vec(),
                Then::Close,
            ),
            _ => ok(format!("body {n}\n").as_bytes()),
        }
    })
}

#[test]
fn parallel_output_keeps_target_order_and_the_first_failure() {
    let s = staggered();
    let urls: Vec<String> = (0..20).map(|i| s.url(&format!("/t{i}"))).collect();
    let mut args = vec!["-Z", "--parallel-max", "4", "-f"];
    args.extend(urls.iter().map(String::as_str));
    let run = fetch(&args);
    run.code(22);
    let mut want = String::new();
    for i in 0..20 {
        match i {
            5 => {}
            12 => want.push_str("cut"),
            _ => want.push_str(&format!("body {i}\n")),
        }
    }
    run.stdout(want.as_bytes());
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    assert_eq!(lines[0], "fetch: the requested URL returned error: 404");
    assert_eq!(
        lines[1],
        "fetch: transfer closed with 3 of 100 bytes received"
    );
    assert!(
        lines[2].starts_with("fetch: 20 targets: 18 ok, 2 failed (first failure: exit 22); "),
        "{}",
        lines[2]
    );
    // -sS: no summary, errors still print; -s alone hides them too, as in curl.
    let mut args = vec!["-sS", "-Z", "--parallel-max", "4", "-f"];
    args.extend(urls.iter().map(String::as_str));
    assert_eq!(fetch(&args).code(22).stderr.lines().count(), 2);
    args[0] = "-s";
    assert_eq!(fetch(&args).code(22).stderr, "");
}

#[test]
fn parallel_bodies_of_any_size_stay_in_order() {
    // Large bodies that finish out of order go through the spool (and its files).
    let s = Script::start(|head| {
        let n: usize = path_of(head).trim_start_matches('/').parse().unwrap();
        std::thread::sleep(Duration::from_millis(20 * (6 - n as u64)));
        ok(&vec![b'a' + n as u8; 3 << 20])
    });
    let urls: Vec<String> = (0..6).map(|i| s.url(&format!("/{i}"))).collect();
    let mut args = vec!["-s", "-Z", "--parallel-max", "3"];
    args.extend(urls.iter().map(String::as_str));
    let run = fetch(&args);
    run.code(0);
    let want: Vec<u8> = (0..6).flat_map(|n| vec![b'a' + n as u8; 3 << 20]).collect();
    assert!(run.stdout == want, "bodies out of order or damaged");
}

#[test]
fn input_file_and_stdin() {
    let s = Script::start(|head| ok(path_of(head).as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        "# a comment\n{}\n\n   {}  \n#{}\n",
        s.url("/a"),
        s.url("/b"),
        s.url("/skipped")
    );
    std::fs::write(dir.path().join("list.txt"), &list).unwrap();
    fetch_in(dir.path(), &["-s", "--input", "list.txt", &s.url("/first")])
        .code(0)
        .stdout(b"/first/a/b");
    fetch_with_stdin(
        dir.path(),
        &["-s", "-Z", "--parallel-max", "2", "--input", "-"],
        list.as_bytes(),
    )
    .code(0)
    .stdout(b"/a/b");
    fetch_in(dir.path(), &["--input", "missing.txt"])
        .code(2)
        .error("--input missing.txt: no such file or directory");
    fetch_with_stdin(dir.path(), &["--input", "-"], b"# nothing\n")
        .code(2)
        .error("no target given");
}

#[test]
fn parallel_remote_names_each_get_their_file() {
    let s = Script::start(|head| ok(path_of(head).as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = (0..10).map(|i| s.url(&format!("/f{i}.txt"))).collect();
    let mut args = vec!["-s", "-Z", "--parallel-max", "4", "--remote-name-all"];
    args.extend(urls.iter().map(String::as_str));
    fetch_in(dir.path(), &args).code(0).stdout(b"");
    for i in 0..10 {
        let got = std::fs::read(dir.path().join(format!("f{i}.txt"))).unwrap();
        assert_eq!(got, format!("/f{i}.txt").as_bytes());
    }
}

#[test]
fn parallel_against_serve_reuses_connections() {
    let www = repo_root().join("www");
    let s = Serve::start(&["-q", "-p", "0", www.to_str().unwrap()]);
    let notes = std::fs::read(www.join("notes.txt")).unwrap();
    let url = format!("http://{}/notes.txt", s.addr());
    let urls = vec![url; 40];
    let mut args = vec!["-v", "-Z", "--parallel-max", "4"];
    args.extend(urls.iter().map(String::as_str));
    let run = fetch(&args);
    run.code(0).stdout(&notes.repeat(40));
    let connects = run.stderr.matches("* connected to ").count();
    let reuses = run.stderr.matches("* reusing the connection").count();
    assert!((1..=4).contains(&connects), "{connects} connections");
    assert_eq!(connects + reuses, 40);
}

#[test]
fn parallel_max_is_a_number() {
    fetch(&["-Z", "--parallel-max", "x", "y"])
        .code(2)
        .error("--parallel-max");
}

/// A server that answers no request until `n` requests have come, each on its own
/// connection: only transfers that really run at once get answers.
fn rendezvous(n: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut waiting = Vec::new();
        for conn in listener.incoming().take(n) {
            let mut conn = conn.unwrap();
            let mut head = Vec::new();
            let mut byte = [0; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            waiting.push(conn);
        }
        for (i, mut conn) in waiting.into_iter().enumerate() {
            let body = format!("met {i}\n");
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn parallel_transfers_wait_for_their_answers_side_by_side() {
    // Three transfers at once: two meet at a server that answers only when both have
    // asked, while the third waits on a server that never answers, until -m ends it.
    // Run one after the other, or with one blocking the rest, the first two never meet.
    let met = rendezvous(2);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://127.0.0.1:{}/", silent.local_addr().unwrap().port());
    let (a, b) = (format!("{met}/a"), format!("{met}/b"));
    let run = fetch(&[
        "-sS",
        "-Z",
        "--parallel-max",
        "3",
        "-m",
        "3",
        &silent_url,
        &a,
        &b,
    ]);
    run.code(28);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("met 0\n") && out.contains("met 1\n"), "{out}");
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
}
