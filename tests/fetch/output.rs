//! Where bodies go: stdout byte-exact, files via NAME.part, -O names, -f, -i, a closed pipe.

use std::process::Command;

use super::scripted::{Script, Then, ok, path_of};
use super::{fetch, fetch_cmd, fetch_in};
use crate::support::bin;
use crate::support::child::{LIMIT, run};

#[test]
fn output_file_is_renamed_when_complete() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        Then::KeepAlive,
    );
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-o", "page one.html", &s.url("/")])
        .code(0)
        .stdout(b"");
    assert_eq!(
        std::fs::read(dir.path().join("page one.html")).unwrap(),
        b"hello"
    );
    assert!(!dir.path().join("page one.html.part").exists());
}

#[test]
fn failed_download_leaves_only_the_part_file() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel",
        Then::Close,
    );
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-o", "new.txt", &s.url("/")])
        .code(18)
        .stdout(b"")
        .error("transfer closed with 3 of 10 bytes received");
    assert!(!dir.path().join("new.txt").exists(), "final name created");
    assert_eq!(
        std::fs::read(dir.path().join("new.txt.part")).unwrap(),
        b"hel"
    );

    // An existing file is never overwritten by a failed download.
    std::fs::write(dir.path().join("old.txt"), b"previous").unwrap();
    fetch_in(dir.path(), &["-o", "old.txt", &s.url("/")]).code(18);
    assert_eq!(
        std::fs::read(dir.path().join("old.txt")).unwrap(),
        b"previous"
    );
    assert_eq!(
        std::fs::read(dir.path().join("old.txt.part")).unwrap(),
        b"hel"
    );
}

#[test]
fn outputs_are_taken_in_target_order() {
    let s = Script::start(|head| ok(path_of(head).as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    fetch_in(
        dir.path(),
        &[
            "-o",
            "1.txt",
            "-o",
            "-",
            &s.url("/one"),
            &s.url("/two"),
            &s.url("/three"),
        ],
    )
    .code(0)
    .stdout(b"/two/three");
    assert_eq!(std::fs::read(dir.path().join("1.txt")).unwrap(), b"/one");
}

#[test]
fn unwritable_output_is_a_write_error() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        Then::KeepAlive,
    );
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-o", "no/such/dir/x", &s.url("/")])
        .code(23)
        .error("writing to no/such/dir/x.part: no such file or directory");
}

#[test]
fn remote_names_are_sanitised() {
    let s = Script::start(|head| ok(path_of(head).as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("/files/some%20file.txt?v=2", "some file.txt"),
        ("/files/", "index.html"),
        ("/files/.hidden", "hidden"),
        ("/x/..%2F..%2Fescape", "_.._escape"),
    ];
    for (path, name) in cases {
        fetch_in(dir.path(), &["-O", &s.url(path)])
            .code(0)
            .stdout(b"");
        let got = std::fs::read(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{path} should be saved as {name:?}: {e}"));
        assert_eq!(got, path.as_bytes(), "{path}");
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["_.._escape", "hidden", "index.html", "some file.txt"]
    );
}

#[test]
fn fail_flag_writes_no_body() {
    let s = Script::fixed(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
        Then::KeepAlive,
    );
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-f", "-o", "x", &s.url("/nope")])
        .code(22)
        .stdout(b"")
        .error("the requested URL returned error: 404");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no file"
    );
    // Without -f, an error page is a page.
    fetch(&[&s.url("/nope")]).code(0).stdout(b"not found");
}

#[test]
fn include_prints_the_head_then_the_body() {
    let reply = b"HTTP/1.1 200 OK\r\nX-Thing: 1\r\nContent-Length: 4\r\n\r\nbody";
    let s = Script::fixed(reply, Then::KeepAlive);
    fetch(&["-i", &s.url("/")]).code(0).stdout(reply);
}

#[test]
fn closed_stdout_is_a_quiet_success() {
    // 4 MiB: far more than a pipe holds, so fetch is still writing when the reader leaves.
    let body = vec![b'x'; 4 * 1024 * 1024];
    let (reply, _) = ok(&body);
    let s = Script::fixed(&reply, Then::KeepAlive);
    // Like `fetch URL | head -c1`; bash reports fetch's own exit code.
    let run = fetch_cmd(Command::new("bash").args([
        "-c",
        r#""$0" "$1" | head -c1; exit "${PIPESTATUS[0]}""#,
        bin("fetch").to_str().unwrap(),
        &s.url("/"),
    ]));
    run.stdout(b"x");
    run.code(0);
    assert_eq!(run.stderr, "", "nothing on stderr");
    // The same with -Z, where the transfers are fibers writing to a pipe they wait on.
    let run = fetch_cmd(Command::new("bash").args([
        "-c",
        r#""$0" -s -Z "$1" "$1" | head -c1; exit "${PIPESTATUS[0]}""#,
        bin("fetch").to_str().unwrap(),
        &s.url("/"),
    ]));
    run.stdout(b"x");
    run.code(0);
}

#[test]
fn verbose_shows_both_heads_on_stderr() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        Then::KeepAlive,
    );
    let p = s.port();
    let resolve = format!("name.test:{p}:127.0.0.1");
    let run = fetch(&["-v", "--resolve", &resolve, &format!("name.test:{p}/x")]);
    run.code(0).stdout(b"ok");
    for want in [
        "* resolved name.test to 127.0.0.1\n".to_string(),
        format!("* connected to 127.0.0.1:{p}"),
        "> GET /x HTTP/1.1\n".into(),
        format!("> Host: name.test:{p}\n"),
        "> User-Agent: fetch/".into(),
        "< HTTP/1.1 200 OK\n".into(),
        "< Content-Length: 2\n".into(),
    ] {
        assert!(
            run.stderr.contains(&want),
            "want {want:?} in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn header_flags_edit_the_request() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        Then::KeepAlive,
    );
    fetch(&[
        "-A",
        "agent/1",
        "-H",
        "Accept:",
        "-H",
        "X-Empty;",
        "-H",
        "X-A: 1",
        &s.url("/"),
    ])
    .code(0);
    let p = s.port();
    assert_eq!(
        s.requests()[0],
        format!(
            // `Name;` is sent as `Name:`, nothing after the colon, as curl sends it.
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nUser-Agent: agent/1\r\nX-Empty:\r\n\
             X-A: 1\r\n\r\n"
        )
    );
    fetch(&["--http1.0", &s.url("/")]).code(0);
    assert!(s.requests()[1].starts_with("GET / HTTP/1.0\r\n"));
}

/// Runs `fetch args` with a terminal as its stdout and stderr (python's `pty.spawn`), and
/// returns the exit code and what the terminal showed.
pub fn fetch_on_a_terminal(args: &[&str]) -> (i32, Vec<u8>) {
    let out = run(
        Command::new(super::python())
            .args([
                "-c",
                "import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))",
            ])
            .arg(bin("fetch"))
            .args(args),
        LIMIT,
    );
    // This machine's pyenv sometimes writes a warning of its own onto the terminal (seen with
    // other tests running python at the same time); it is not fetch's output.
    let mut shown = out.stdout;
    while shown.starts_with(b"/root/.pyenv/")
        && let Some(end) = shown.iter().position(|&b| b == b'\n')
    {
        shown.drain(..=end);
    }
    (out.status.code().expect("exit code"), shown)
}

#[test]
fn binary_body_is_kept_off_a_terminal() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\x89PNG\0\0\0\x01",
        Then::KeepAlive,
    );
    let (code, shown) = fetch_on_a_terminal(&[&s.url("/logo.png")]);
    let shown = String::from_utf8_lossy(&shown);
    assert_eq!(code, 23, "{shown}");
    assert!(
        shown.starts_with("fetch: the body looks binary and stdout is a terminal"),
        "{shown}"
    );
    // `-o -` says "yes, really": the bytes go to the terminal.
    let (code, shown) = fetch_on_a_terminal(&["-o", "-", &s.url("/logo.png")]);
    assert_eq!(code, 0);
    assert_eq!(shown, b"\x89PNG\0\0\0\x01");
    // Text is fine on a terminal (the terminal turns \n into \r\n).
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n",
        Then::KeepAlive,
    );
    let (code, shown) = fetch_on_a_terminal(&[&s.url("/")]);
    assert_eq!((code, shown.as_slice()), (0, &b"hi\r\n"[..]));
}
