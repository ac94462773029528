//! The curl options that were refused until issue 15's last round: the request line
//! (`--request-target`, `--url-query`), redirects with credentials (`--location-trusted`),
//! tunnels (`-p`, `--proxy1.0`, `--proxy-header`), files (`--no-clobber`,
//! `--create-file-mode`), framing (`--ignore-content-length`), traces, `--stderr`, `--rate`.
//! Each runs through fetch and curl on the same line where curl's output is deterministic
//! (exit code, stdout bytes, files); `--digest` and `--anyauth` are compared against
//! httpbin in `peers/origins.rs`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::curl_lines::{Tinyproxy, have_curl, same_as_curl};
use super::scripted::{Script, Then};
use super::{fetch_in, run_with_stdin};
use crate::support::echo::Echo;

#[test]
fn request_line_and_query_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo?x=1");
    let bare = echo.url("/echo");
    let hostport = format!("127.0.0.1:{}/echo", echo.port);
    let files: &[(&str, &[u8])] = &[("q.txt", b"a b\n")];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "--request-target", "*", "-X", "OPTIONS", &u],
        vec!["-s", "--request-target", "/other?q", &u],
        vec![
            "-s",
            "--url-query",
            "a=b c&d",
            "--url-query",
            "+raw=%20",
            &u,
        ],
        vec!["-s", "--url-query", "n@q.txt", "--url-query", "=x y", &bare],
        // (Not with -G: curl 7.88 then drops --url-query, which fetch does not copy.)
        vec![
            "-s",
            "--form-escape",
            "-F",
            "a\"b\\c=1",
            "-F",
            "f=@q.txt;filename=x\"y\\z",
            &u,
        ],
        vec!["-s", "-F", "a\"b\\c=1", &u],
        vec!["-s", "--proto-default", "http", &hostport],
        vec!["-s", "--styled-output", "-i", &u],
        vec!["-s", "--happy-eyeballs-timeout-ms", "100", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"");
    }
    // A default protocol fetch does not speak: the target fails as any ftp:// one does.
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-sS", "--proto-default", "ftp", &hostport])
        .code(1)
        .error("ftp");
}

#[test]
fn credentials_follow_a_redirect_only_when_trusted() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    // A redirect to another port is another origin: -u's credentials stay behind.
    let to = echo.url("/echo");
    let redirect = Script::start(move |_| {
        (
            format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes(),
            Then::KeepAlive,
        )
    });
    let u = redirect.url("/go");
    let trusted = same_as_curl(
        &[],
        &["-s", "-L", "-u", "a:b", "--location-trusted", &u],
        b"",
    );
    assert!(
        String::from_utf8_lossy(&trusted.stdout).contains("Authorization: Basic YTpi"),
        "{}",
        String::from_utf8_lossy(&trusted.stdout)
    );
    let kept = same_as_curl(&[], &["-s", "-L", "-u", "a:b", &u], b"");
    assert!(!String::from_utf8_lossy(&kept.stdout).contains("Authorization"));
}

#[test]
fn tunnels_and_proxy_headers_as_curl() {
    if !have_curl() {
        return;
    }
    let Some(proxy) = Tinyproxy::start() else {
        return;
    };
    let echo = Echo::start();
    let u = echo.url("/echo?t");
    let via = format!("127.0.0.1:{}", proxy.port);
    // Nobody listens there: the proxy answers the CONNECT with an error (curl's exit 56).
    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/x", l.local_addr().unwrap())
    };
    let echo_as_proxy = format!("127.0.0.1:{}", echo.port);
    let lines: Vec<Vec<&str>> = vec![
        // Through the tunnel the origin sees the request as if sent directly.
        vec!["-s", "-p", "-x", &via, &u],
        vec!["-s", "--proxytunnel", "--proxy1.0", &via, "-d", "a=1", &u],
        vec![
            "-s",
            "-p",
            "-x",
            &via,
            "--proxy-header",
            "X-P: 1",
            "-H",
            "X-H: 2",
            &u,
        ],
        vec!["-s", "-p", "-x", &via, "--suppress-connect-headers", &u],
        vec!["-s", "-p", "-x", &via, &nowhere],
        // Without a tunnel, the proxy (here the echo server) gets both kinds of header.
        vec![
            "-s",
            "-x",
            &echo_as_proxy,
            "--proxy-header",
            "X-P: 1",
            "--proxy-header",
            "User-Agent:",
            "-H",
            "X-H: 2",
            "http://e.test/p",
        ],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn files_as_curl_writes_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let files: &[(&str, &[u8])] = &[("out", b"old\n"), ("out.1", b"old 1\n")];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "--no-clobber", "-o", "out", &u],
        vec!["-s", "--no-clobber", "-o", "new", &u],
        vec!["-s", "--no-clobber", "-O", &u],
        vec!["-s", "-o", "out", &u],
        vec!["-s", "--create-file-mode", "0600", "-o", "m", &u],
        vec!["-s", "--xattr", "-o", "x", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"");
    }
    let dir = tempfile::tempdir().unwrap();
    fetch_in(
        dir.path(),
        &["-s", "--create-file-mode", "0600", "-o", "m", &u],
    )
    .code(0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("m"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}: no group or other bits");
}

#[test]
fn ignore_content_length_reads_to_the_close() {
    if !have_curl() {
        return;
    }
    let short = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabcdef",
        Then::Close,
    );
    let u = short.url("/");
    same_as_curl(&[], &["-s", "--ignore-content-length", &u], b"").stdout(b"abcdef");
    same_as_curl(&[], &["-s", &u], b"").stdout(b"abc");
}

/// The entries of a trace that name `kind` (`=> Send header`, ...), each with its lines.
fn entries(trace: &str, kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in trace.lines() {
        if line.starts_with("=>") || line.starts_with("<=") || line.starts_with("==") {
            out.extend(current.take());
            if line.starts_with(kind) {
                current = Some(String::new());
            }
        }
        if let Some(c) = &mut current {
            c.push_str(line);
            c.push('\n');
        }
    }
    out.extend(current);
    out
}

#[test]
fn traces_show_the_bytes_as_curl_does() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    for flag in ["--trace", "--trace-ascii"] {
        let line = ["-s", "-A", "same", flag, "t.txt", "-d", "a=1", &u];
        let theirs = tempfile::tempdir().unwrap();
        let ours = tempfile::tempdir().unwrap();
        let c = run_with_stdin(&mut Command::new("curl"), theirs.path(), &line, b"");
        let f = fetch_in(ours.path(), &line);
        f.code(c.code).stdout(&c.stdout);
        let read = |d: &Path| std::fs::read_to_string(d.join("t.txt")).unwrap();
        let (c, f) = (read(theirs.path()), read(ours.path()));
        for kind in ["=> Send header", "=> Send data", "<= Recv header"] {
            assert_eq!(
                entries(&f, kind),
                entries(&c, kind),
                "{flag}: the {kind} entries (fetch, then curl)"
            );
        }
        assert!(!entries(&f, "<= Recv data").is_empty(), "{f}");
    }
    // --trace-time: every entry starts with the time of day.
    let dir = tempfile::tempdir().unwrap();
    fetch_in(
        dir.path(),
        &["-s", "--trace-ascii", "-", "--trace-time", &u],
    )
    .code(0);
    let dir2 = tempfile::tempdir().unwrap();
    let run = fetch_in(
        dir2.path(),
        &["-s", "--trace-ascii", "%", "--trace-time", &u],
    );
    let stamped = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("00"))
        .all(|l| l.len() > 16 && l.as_bytes()[2] == b':' && l.as_bytes()[8] == b'.');
    assert!(stamped && !run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn stderr_goes_where_asked() {
    let echo = Echo::start();
    let fail = echo.url("/status/404");
    let dir = tempfile::tempdir().unwrap();
    let run = fetch_in(dir.path(), &["-sSf", "--stderr", "err.txt", &fail]);
    run.code(22);
    assert_eq!(run.stderr, "", "everything went to the file");
    let text = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    assert!(
        text.starts_with("fetch: ") && text.contains("404"),
        "{text}"
    );
    let run = fetch_in(dir.path(), &["-sSf", "--stderr", "-", &fail]);
    run.code(22);
    assert!(String::from_utf8_lossy(&run.stdout).contains("404"));
}

#[test]
fn rate_spaces_the_transfers() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let started = Instant::now();
    same_as_curl(&[], &["-s", "--rate", "4/s", &u, &u, &u], b"");
    // Three starts at 4 a second take at least half a second, for curl and fetch alike
    // (a lower bound only: a loaded machine may take longer).
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    fetch_in(dir.path(), &["-s", "--rate", "4/s", &u, &u, &u]).code(0);
    assert!(
        t.elapsed() >= Duration::from_millis(490),
        "{:?}",
        t.elapsed()
    );
    assert!(started.elapsed() >= Duration::from_millis(980));
    // With -Z the rate does not apply, as in curl.
    fetch_in(dir.path(), &["-s", "-Z", "--rate", "1/h", &u, &u]).code(0);
}

#[test]
fn credentials_and_braces_in_urls_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let with_user = format!("http://u%40x:p%3Aw@127.0.0.1:{}/echo", echo.port);
    let user_only = format!("http://u@127.0.0.1:{}/echo", echo.port);
    let braces = echo.url("/echo/{a}?b={c}&d=%7B");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", &with_user],
        vec!["-s", &user_only],
        // -u wins over the URL's.
        vec!["-s", "-u", "x:y", &with_user],
        vec!["-s", "--disallow-username-in-url", &user_only],
        vec!["-s", "-g", &braces],
        vec!["-s", "--globoff", "-o", "b.txt", &braces],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn connect_to_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let port = echo.port.to_string();
    let rule = format!("a.test:80:127.0.0.1:{port}");
    let any = format!("::127.0.0.1:{port}");
    let lines: Vec<Vec<&str>> = vec![
        // The request keeps its URL and Host; only where it connects changes.
        vec!["-s", "--connect-to", &rule, "http://a.test/echo"],
        vec![
            "-s",
            "--connect-to",
            "b.test:80:x.invalid:1",
            "--connect-to",
            &any,
            "http://a.test/p",
        ],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn the_client_side_of_connections() {
    let echo = Echo::start();
    let u = echo.url("/echo");
    let dir = tempfile::tempdir().unwrap();
    // A free range: bound for a moment to find it, let go.
    let first = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .min(65000);
    let range = format!("{first}-{}", first + 30);
    let run = fetch_in(
        dir.path(),
        &[
            "-s",
            "--local-port",
            &range,
            "--interface",
            "127.0.0.1",
            "--keepalive-time",
            "5",
            "--tcp-fastopen",
            "-o",
            "/dev/null",
            "-w",
            "%{local_ip} %{local_port}",
            &u,
        ],
    );
    run.code(0);
    let out = String::from_utf8_lossy(&run.stdout).to_string();
    let (ip, port) = out.split_once(' ').unwrap();
    let port: u16 = port.parse().unwrap();
    assert_eq!(ip, "127.0.0.1");
    assert!((first..=first + 30).contains(&port), "{port} in {range}");
    // An interface that does not exist: curl's exit 45, for both.
    if have_curl() {
        same_as_curl(&[], &["-s", "--interface", "if!nosuch0", &u], b"");
        same_as_curl(&[], &["-s", "--interface", "nosuch0", &u], b"");
    }
}

#[test]
fn haproxy_protocol_names_both_ends_first() {
    let script = Script::start(|_| super::scripted::ok(b"ok\n"));
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-s", "--haproxy-protocol", &script.url("/x")])
        .code(0)
        .stdout(b"ok\n");
    // However the PROXY line and the head arrived (one read or two), in this order.
    let head = &script.requests().join("\r\n");
    let mut lines = head.lines().filter(|l| !l.is_empty());
    let proxy: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(
        proxy[..4],
        ["PROXY", "TCP4", "127.0.0.1", "127.0.0.1"],
        "{head}"
    );
    assert_eq!(proxy[5], script.port().to_string(), "{head}");
    assert_eq!(lines.next(), Some("GET /x HTTP/1.1"), "{head}");
}

#[test]
fn raw_and_transfer_codings_as_curl() {
    if !have_curl() {
        return;
    }
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"hello, transfer coding\n").unwrap();
    let gz = gz.finish().unwrap();
    let mut gzipped = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        gz.len()
    )
    .into_bytes();
    gzipped.extend_from_slice(&gz);
    gzipped.extend_from_slice(b"\r\n0\r\nX-T: 1\r\n\r\n");
    let gzipped = Script::fixed(&gzipped, Then::Close);
    let chunked = Script::fixed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n1;x=y\r\n!\r\n0\r\n\r\n",
        Then::Close,
    );
    let echo = Echo::start();
    let u = echo.url("/echo");
    let (c, g) = (chunked.url("/"), gzipped.url("/"));
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "--raw", &c],
        vec!["-s", &c],
        vec!["-s", "--tr-encoding", &g],
        vec!["-s", "--tr-encoding", &u],
        vec!["-s", "--tr-encoding", "-H", "Connection: keep-alive", &u],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

/// Runs fetch on a new terminal (python's `pty`): waits for the password prompt, types
/// `typed` and returns everything the terminal showed.
fn on_a_terminal(args: &[&str], typed: &str) -> String {
    let script = r#"
import os, pty, signal, sys
signal.alarm(30)
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:-1])
out = b""
while b"':" not in out:
    out += os.read(fd, 1024)
os.write(fd, sys.argv[-1].encode() + b"\n")
try:
    while True:
        d = os.read(fd, 4096)
        if not d:
            break
        out += d
except OSError:
    pass
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
"#;
    let mut line = vec![
        "-c".to_string(),
        script.to_string(),
        crate::support::bin("fetch").display().to_string(),
    ];
    line.extend(args.iter().map(|a| a.to_string()));
    line.push(typed.to_string());
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<&str> = line.iter().map(String::as_str).collect();
    let run = run_with_stdin(&mut Command::new("python3"), dir.path(), &refs, b"");
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn a_password_is_asked_on_the_terminal_without_echo() {
    let echo = Echo::start();
    let u = echo.url("/echo");
    let shown = on_a_terminal(&["-s", "-u", "al", &u], "s3cret");
    assert!(
        shown.contains("Enter host password for user 'al':"),
        "{shown}"
    );
    // al:s3cret, sent; and what was typed never appeared on the terminal.
    assert!(
        shown.contains("Authorization: Basic YWw6czNjcmV0"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    // Without a terminal (a new session has none), the password is the first line of stdin.
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_stdin(
        Command::new("setsid")
            .arg("-w")
            .arg(crate::support::bin("fetch")),
        dir.path(),
        &["-s", "-u", "al", &u],
        b"pw\n",
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("Authorization: Basic YWw6cHc="),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
}

#[test]
fn header_json_as_curl_writes_it() {
    if !have_curl() {
        return;
    }
    // A tab inside a value: curl writes JSON's short form `\t`, not `\u0009`.
    let fields = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nX-Tab: a\tb\r\nSet-Cookie: a=1\r\nSet-Cookie: b=\"2\\\"\r\nContent-Type: text/plain\r\n\r\nok",
        Then::KeepAlive,
    );
    let u = fields.url("/");
    same_as_curl(
        &[],
        &["-s", "-o", "/dev/null", "-w", "%{header_json}", &u],
        b"",
    );
    same_as_curl(&[], &["-s", "-w", "[%{header_json}]", &u, &u], b"");
}

#[test]
fn xattr_records_where_a_file_came_from() {
    let echo = Echo::start();
    let u = echo.url("/echo");
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-s", "--xattr", "-o", "x", &u]).code(0);
    // python reads the attributes back; a file system without user attributes is a skip.
    let read = r#"
import os, sys
try:
    print(os.getxattr("x", "user.xdg.origin.url").decode())
except OSError as e:
    print("unsupported", e)
"#;
    let run = run_with_stdin(&mut Command::new("python3"), dir.path(), &["-c", read], b"");
    let shown = String::from_utf8_lossy(&run.stdout).trim().to_string();
    if shown.starts_with("unsupported") {
        eprintln!("skipped: {shown}");
        return;
    }
    assert_eq!(shown, u);
}
