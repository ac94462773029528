//! Starting, stopping and failing: exit codes, one-line errors, Unix sockets, socket
//! activation, draining on SIGTERM, and files that change under a transfer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use crate::support::child::{LIMIT, run};
use crate::support::serve::{Serve, exists, read_response, read_to_close, request, site};
use crate::support::{bin, repo_root, wait_for};

fn run_serve(args: &[&str]) -> (i32, String) {
    let out = run(Command::new(bin("serve")).args(args), LIMIT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn port_in_use_is_one_line_and_exit_1() {
    let s = Serve::start(&["-p", "0", repo_root().join("www").to_str().unwrap()]);
    let port = s.addr().port().to_string();
    let (code, err) = run_serve(&["-p", &port, repo_root().join("www").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("serve: cannot listen on 127.0.0.1:{port}: address already in use\n")
    );
}

#[test]
fn bad_command_lines_are_one_line_and_exit_2() {
    let www = repo_root().join("www");
    let www = www.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--no-such-flag"],
            "serve: unexpected argument '--no-such-flag'",
        ),
        (&["-p", "70000", www], "serve: invalid value '70000'"),
        (&["-p", "http", www], "serve: invalid value 'http'"),
        (&["-t", "0", www], "serve: invalid value '0'"),
        (&["--keep-alive-timeout", "-1", www], "serve: "),
        (
            &["--header-timeout", "soon", www],
            "not a number of seconds",
        ),
        (
            &["-p", "0", "/no/such/folder"],
            "serve: cannot serve /no/such/folder: no such file or directory",
        ),
        (
            &["-p", "0", "Cargo.toml"],
            "serve: cannot serve Cargo.toml: not a directory",
        ),
        (&["-p", "0", "--bind", "999.1.1.1", www], "serve: --bind"),
    ];
    for (args, want) in cases {
        let out = run(
            Command::new(bin("serve"))
                .args(*args)
                .current_dir(repo_root()),
            LIMIT,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("serve: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Error {"),
            "{err}"
        );
    }
}

#[test]
fn help_documents_every_flag_and_the_exit_codes() {
    let out = run(Command::new(bin("serve")).arg("--help"), LIMIT);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bind",
        "--port",
        "--unix",
        "--threads",
        "--backlog",
        "--max-connections",
        "--keep-alive-timeout",
        "--header-timeout",
        "--quiet",
        "--directory",
        "Exit codes",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn unix_socket_serves_and_is_removed_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("serve.sock");
    let mut s = Serve::start(&[
        "--unix",
        sock.to_str().unwrap(),
        repo_root().join("www").to_str().unwrap(),
    ]);
    assert_eq!(s.url, format!("unix:{}", sock.display()));
    let mut c = UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /notes.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status, 200);
    drop(c);
    // curl speaks to it too.
    let out = run(
        Command::new("curl").args([
            "-s",
            "--unix-socket",
            sock.to_str().unwrap(),
            "http://localhost/notes.txt",
        ]),
        LIMIT,
    );
    assert_eq!(
        out.stdout,
        std::fs::read(repo_root().join("www/notes.txt")).unwrap()
    );

    s.signal(15);
    assert!(
        s.wait_exit(Duration::from_secs(20)).success(),
        "exit 0 on SIGTERM; stderr: {}",
        s.stderr()
    );
    assert!(!exists(&sock), "socket file removed");
}

#[test]
fn unix_socket_refuses_to_replace_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("precious");
    std::fs::write(&path, "keep").unwrap();
    let (code, err) = run_serve(&[
        "--unix",
        path.to_str().unwrap(),
        repo_root().join("www").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep");
}

#[test]
fn uses_a_listener_passed_by_the_service_manager() {
    // Socket activation the way systemd does it: a listening socket as fd 3, LISTEN_PID set to
    // the pid that exec()s serve (python keeps its pid across exec), LISTEN_FDS=1.
    let script = r#"
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1], sys.argv[1:])
"#;
    let serve = bin("serve");
    let www = repo_root().join("www");
    let s = Serve::start_cmd(Command::new("python3").args([
        "-c",
        script,
        serve.to_str().unwrap(),
        "-p",
        "1",
        www.to_str().unwrap(),
    ]));
    // The address is the inherited socket's, not the --port we passed.
    assert_ne!(s.addr().port(), 1);
    let mut c = s.connect();
    assert_eq!(
        request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
}

/// An idle serve exits on SIGTERM at once: it closes its idle connections (kept alive, never
/// used, half a head) itself, long before their own deadlines (10 minutes here), and does
/// not wait out the drain limit (10 s) with nothing in flight. Typically a few
/// milliseconds; the bound is for a loaded machine, and the structural checks (who closed,
/// no drain-limit line) are what fail if the exit waits for a deadline.
#[test]
fn an_idle_serve_exits_at_once_on_sigterm_closing_its_idle_connections() {
    let dir = site();
    let root = dir.path().to_str().unwrap();
    let mut s = Serve::start(&[
        "-p",
        "0",
        "-q",
        "--keep-alive-timeout",
        "600",
        "--header-timeout",
        "600",
        root,
    ]);
    let mut kept = s.connect();
    assert_eq!(
        request(&mut kept, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
    let mut silent = s.connect();
    let mut half = s.connect();
    half.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    // The server holds all three (the last two are accepted once it answers another).
    assert_eq!(
        request(
            &mut s.connect(),
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .status,
        200
    );
    let asked = std::time::Instant::now();
    s.signal(15);
    let status = s.wait_exit(Duration::from_secs(8));
    let took = asked.elapsed();
    assert!(status.success(), "{status:?} after {took:?}");
    assert!(!s.stderr().contains("still in flight"), "{}", s.stderr());
    for (name, c) in [
        ("kept alive", &mut kept),
        ("silent", &mut silent),
        ("half a head", &mut half),
    ] {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        // Closed by the server (no 408 for a head cut short by a shutdown).
        let _ = c.read_to_end(&mut rest);
        assert!(
            !String::from_utf8_lossy(&rest).contains(" 200 "),
            "{name}: {rest:?}"
        );
    }
}

#[test]
fn sigterm_drains_in_flight_downloads_and_refuses_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![7u8; 48 * 1024 * 1024];
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let mut s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let addr = s.addr();
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 1024 * 1024];
    c.read_exact(&mut first).unwrap();

    s.signal(15);
    // New connections are refused once the listener is closed.
    wait_for("the listener to close", LIMIT, || {
        TcpStream::connect(addr).is_err().then_some(())
    });
    // The download in flight completes, then the server closes the connection.
    let rest = read_to_close(&mut c);
    let text_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        first.len() - text_end + rest.len(),
        big.len(),
        "the whole body arrived"
    );
    assert!(s.wait_exit(Duration::from_secs(20)).success());
}

#[test]
fn a_file_that_shrinks_mid_transfer_closes_the_connection_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinks.bin");
    std::fs::write(&path, vec![1u8; 64 * 1024 * 1024]).unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    c.write_all(b"GET /shrinks.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 1024 * 1024];
    c.read_exact(&mut first).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let rest = read_to_close(&mut c);
    assert!(
        first.len() + rest.len() < 64 * 1024 * 1024,
        "the connection ended early instead of pretending"
    );
    wait_for("the log to say why", LIMIT, || {
        s.stderr().contains("shrank while being sent").then_some(())
    });
    // And the server goes on.
    let mut c = s.connect();
    std::fs::write(dir.path().join("ok.txt"), "fine").unwrap();
    assert_eq!(
        request(&mut c, "GET /ok.txt HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "fine"
    );
}

#[test]
fn an_aborted_download_logs_the_bytes_actually_sent() {
    let dir = tempfile::tempdir().unwrap();
    let len = 48 * 1024 * 1024;
    std::fs::write(dir.path().join("big.bin"), vec![3u8; len]).unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 1024 * 1024];
    c.read_exact(&mut first).unwrap();
    drop(c);
    let line = s.wait_log("the aborted transfer", |l| l.contains("/big.bin"));
    let bytes: usize = line.rsplit(' ').next().unwrap().parse().expect(&line);
    assert!(bytes > 0 && bytes < len, "logged {bytes} of {len}: {line}");
}

#[test]
fn dir_defaults_to_the_current_directory() {
    let dir = site();
    let s = Serve::start_cmd(
        Command::new(bin("serve"))
            .args(["-p", "0"])
            .current_dir(dir.path()),
    );
    let mut c = s.connect();
    assert_eq!(
        request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "<h1>home</h1>\n"
    );
}

/// `--drain-timeout`: a client that stops reading mid-download keeps its response in flight
/// after SIGTERM; serve waits for it only as long as asked (1 s here, 10 s by default),
/// says so, and exits.
#[test]
fn drain_timeout_bounds_how_long_a_stalled_response_keeps_serve_running() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![5u8; 32 * 1024 * 1024]).unwrap();
    let mut s = Serve::start(&[
        "-p",
        "0",
        "-q",
        "--drain-timeout",
        "1",
        dir.path().to_str().unwrap(),
    ]);
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 64 * 1024];
    c.read_exact(&mut first).unwrap();
    // The client reads no more: the response cannot finish.
    let asked = std::time::Instant::now();
    s.signal(15);
    let status = s.wait_exit(Duration::from_secs(9));
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        s.stderr()
            .contains("1 response still in flight after the 1 s drain limit: dropping it"),
        "{}",
        s.stderr()
    );
    // Well short of the default 10 s, whatever the machine's load.
    assert!(took < Duration::from_secs(9), "{took:?}");
    drop(c);
}
