//! Against a real peer: `python3 -m http.server`, started on port 0 for each test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{fetch, fetch_in};
use crate::support::wait_for;

/// A running `python3 -m http.server` serving a folder; killed when dropped.
struct Python {
    child: Child,
    port: u16,
}

impl Python {
    fn serve(dir: &Path) -> Python {
        let mut child = Command::new(super::python())
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 (bash .ci/run installs it)");
        // First stdout line: "Serving HTTP on 127.0.0.1 port 40097 (http://127.0.0.1:40097/) ..."
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = wait_for(
            "python's 'Serving HTTP' line",
            Duration::from_secs(20),
            || {
                let line = lines.next()?.ok()?;
                let rest = line.split(" port ").nth(1)?;
                rest.split_whitespace().next()?.parse::<u16>().ok()
            },
        );
        Python { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        // Only the process this test started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn real_file_arrives_byte_exact() {
    let site = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(site.path().join("data file.bin"), &data).unwrap();
    std::fs::write(site.path().join("notes.txt"), "caf\u{e9}\nsecond line\n").unwrap();
    let py = Python::serve(site.path());

    fetch(&[&py.url("/notes.txt")])
        .code(0)
        .stdout("caf\u{e9}\nsecond line\n".as_bytes());
    fetch(&["-o", "-", &py.url("/data%20file.bin")])
        .code(0)
        .stdout(&data);
    let out = tempfile::tempdir().unwrap();
    fetch_in(out.path(), &["-O", &py.url("/data%20file.bin")]).code(0);
    assert!(std::fs::read(out.path().join("data file.bin")).unwrap() == data);
}

#[test]
fn head_request() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("a.txt"), "12345").unwrap();
    let py = Python::serve(site.path());
    let run = fetch(&["-I", &py.url("/a.txt")]);
    run.code(0);
    let text = String::from_utf8(run.stdout.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 5\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
}

#[test]
fn not_found_with_fail() {
    let site = tempfile::tempdir().unwrap();
    let py = Python::serve(site.path());
    fetch(&["-f", &py.url("/missing")])
        .code(22)
        .stdout(b"")
        .error("the requested URL returned error: 404");
}
