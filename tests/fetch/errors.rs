//! Failures before any reply: each with its curl exit code and one line on stderr.

use std::net::TcpListener;

use super::fetch;

#[test]
fn connection_refused_names_the_address() {
    // Bind, then drop: nothing listens on the port now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    fetch(&[&format!("http://{addr}/")])
        .code(7)
        .stdout(b"")
        .error(&format!("connect to {addr}: connection refused"));
}

#[test]
fn unresolvable_name() {
    // RFC 6761: .invalid never resolves.
    fetch(&["--connect-timeout", "10", "no-such-host.invalid"])
        .code(6)
        .error("cannot resolve no-such-host.invalid");
}

#[test]
fn malformed_target() {
    fetch(&["http://ho st/"]).code(3).error("bad target");
    fetch(&["host:99999"]).code(3).error("port out of range");
}

#[test]
fn other_schemes_are_unsupported() {
    fetch(&["ftp://example.test/"])
        .code(1)
        .error("ftp is not supported");
    fetch(&["gopher://example.test/"])
        .code(1)
        .error("gopher is not supported");
}

#[test]
fn usage_errors_exit_2() {
    fetch(&["--no-such-flag", "x"])
        .code(2)
        .error("unexpected argument '--no-such-flag'");
    fetch(&[]).code(2).error("required");
    fetch(&["-m", "soon", "x"])
        .code(2)
        .error("not a number of seconds");
    fetch(&["--resolve", "bad", "x"]).code(2).error("--resolve");
}

#[test]
fn help_documents_the_exit_codes() {
    let run = fetch(&["--help"]);
    run.code(0);
    let text = String::from_utf8_lossy(&run.stdout);
    for want in [
        "Exit codes",
        "47  too many redirects",
        "--connect-timeout",
        "default 30 s",
    ] {
        assert!(text.contains(want), "--help lacks {want:?}");
    }
}

#[test]
fn each_target_is_tried_and_the_first_failure_sets_the_code() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = fetch(&["ho st", &format!("{addr}")]);
    run.code(3);
    // One line per failure, in target order, then the summary.
    assert_eq!(run.stderr.lines().count(), 3, "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("fetch: 2 targets: 0 ok, 2 failed (first failure: exit 3); 0 B in "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .nth(1)
            .unwrap()
            .contains("connection refused")
    );
}
