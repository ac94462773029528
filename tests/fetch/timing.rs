//! `--timing` (the waterfall picture) and `--report-json` (one line per transfer, schema 1), and the
//! progress display on a terminal.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::Duration;

use super::fetch;
use super::output::fetch_on_a_terminal;
use crate::support::child::{Child, LIMIT};
use crate::support::repo_root;
use crate::support::serve::{Serve, site};

fn serve_site() -> (tempfile::TempDir, Serve) {
    let dir = site();
    let s = Serve::start(&["-q", "-p", "0", dir.path().to_str().unwrap()]);
    (dir, s)
}

#[test]
fn timing_draws_every_phase_of_every_hop() {
    let (_dir, s) = serve_site();
    let url = format!("http://{}/sub", s.addr());
    let run = fetch(&["-L", "--timing", &url]);
    run.code(0).stdout(b"sub\n");
    let text = &run.stderr;
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("timing {url}: 200, 4 body bytes in ")),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("  hop 1 {url} 301")),
        "{text}"
    );
    let hop2 = lines
        .iter()
        .position(|l| l.starts_with("  hop 2 "))
        .expect(text);
    assert!(lines[hop2].ends_with("/sub/ 200"), "{text}");
    for want in [
        "resolve",
        "connect 127.0.0.1:",
        "request sent",
        "first byte",
        "body done",
    ] {
        assert!(
            lines[2..hop2]
                .iter()
                .any(|l| l.trim_start().starts_with(want)),
            "hop 1 lacks {want}: {text}"
        );
    }
    // The second hop reuses the connection: no resolving, no connecting.
    assert!(
        lines[hop2 + 1].trim_start().starts_with("reuse 127.0.0.1:"),
        "{text}"
    );
    assert!(
        !lines[hop2..].iter().any(|l| l.contains("connect ")),
        "{text}"
    );
    // Every phase row: a label, a bar of 40 cells between pipes, start and duration in ms.
    for l in lines.iter().filter(|l| l.starts_with("    ")) {
        let bar = l.split('|').nth(1).expect(l);
        assert_eq!(bar.chars().count(), 40, "{l}");
        assert!(bar.contains('█'), "{l}");
        assert!(l.contains(" ms"), "{l}");
    }
}

/// Checks each line is JSON with python's parser and returns what the checks printed.
fn python_check(lines: &str, script: &str) -> String {
    let child = Child::start_with_input(
        "python3",
        Command::new(super::python()).args(["-c", script]),
        lines.as_bytes(),
    );
    let out = child.finish(LIMIT);
    assert!(
        out.status.success(),
        "python: {}\non: {lines}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn json_lines_follow_schema_1() {
    let (_dir, s) = serve_site();
    let ok = format!("http://{}/sub", s.addr());
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = fetch(&["-s", "-L", "--report-json", &ok, &refused.to_string()]);
    run.code(7);
    let json: String = run
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| format!("{l}\n"))
        .collect();
    let got = python_check(
        &json,
        r#"
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    assert j["schema"] == 1
    for k in ["target", "url", "exit_code", "error", "status", "http_version", "headers",
              "bytes", "bytes_received", "resumed_from", "retries", "time_ms", "hops"]:
        assert k in j, k
    for h in j["hops"]:
        for k in ["attempt", "url", "status", "peer", "reused", "began_ms", "resolve_ms",
                  "addresses", "sent_ms", "first_byte_ms", "head_ms", "done_ms"]:
            assert k in h, k
    print(j["exit_code"], j["status"], j["bytes"], len(j["hops"]),
          [h["status"] for h in j["hops"]],
          [a["error"] for h in j["hops"] for a in h["addresses"]],
          j["error"])
"#,
    );
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 2, "{got}");
    assert_eq!(lines[0], "0 200 4 2 [301, 200] [None] None", "{got}");
    assert!(
        lines[1].starts_with("7 None 0 1 [None] ['connection refused'] connect to 127.0.0.1:"),
        "{got}"
    );
}

#[test]
fn json_headers_and_strings_are_escaped() {
    let www = repo_root().join("www");
    let s = Serve::start(&["-q", "-p", "0", www.to_str().unwrap()]);
    let url = format!("http://{}/files/data%20file.csv?q=\"x\"", s.addr());
    let run = fetch(&["-s", "--report-json", "-o", "-", &url]);
    let got = python_check(
        run.stderr.lines().last().unwrap(),
        r#"
import json, sys
j = json.loads(sys.stdin.read())
print(j["target"])
print(dict((k.lower(), v) for k, v in j["headers"])["content-length"])
"#,
    );
    assert_eq!(got, format!("{url}\n12\n"));
}

/// A server that sends a 4 KiB body slowly (1 KiB every 100 ms), so a progress display
/// has time to draw.
fn slow_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for conn in l.incoming().take(4) {
            let Ok(mut c): Result<TcpStream, _> = conn else {
                continue;
            };
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = std::io::Read::read(&mut c, &mut buf);
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n");
                for _ in 0..4 {
                    thread::sleep(Duration::from_millis(100));
                    let _ = c.write_all(&[b'x'; 1024]);
                }
            });
        }
    });
    addr
}

#[test]
fn progress_shows_on_a_terminal_only_when_the_body_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let addr = slow_server();
    let file = dir.path().join("out");
    let url = format!("http://{addr}/big");
    let (code, shown) = fetch_on_a_terminal(&["-o", file.to_str().unwrap(), &url]);
    let shown = String::from_utf8_lossy(&shown);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("KiB"),
        "no progress on the terminal: {shown:?}"
    );
    assert!(shown.contains("/4.00 KiB"), "no total: {shown:?}");
    assert_eq!(std::fs::read(&file).unwrap(), vec![b'x'; 4096]);
    // -s: no progress. (Asserted by its marks, not as an empty screen: on this machine other
    // programs started by concurrent tests have been seen writing onto the test's terminal.)
    let (code, shown) = fetch_on_a_terminal(&["-s", "-o", file.to_str().unwrap(), &url]);
    let shown = String::from_utf8_lossy(&shown);
    assert_eq!(code, 0);
    assert!(
        !shown.contains("KiB") && !shown.contains("ETA"),
        "{shown:?}"
    );
    // The body on the terminal: no progress mixed into it.
    let (code, shown) = fetch_on_a_terminal(&[&url]);
    assert_eq!(code, 0);
    let shown = String::from_utf8_lossy(&shown);
    assert!(shown.contains(&"x".repeat(4096)), "{shown:?}");
    assert!(
        !shown.contains("KiB") && !shown.contains("ETA"),
        "{shown:?}"
    );
}
