//! Against a real peer: `python3 -m http.server`, started on port 0 for each test.

use std::path::Path;

use super::{fetch, fetch_in};
use crate::support::child::Child;
use crate::support::python::{http_server, python};

/// A running `python3 -m http.server` serving a folder; killed when dropped.
struct Python {
    _child: Child,
    port: u16,
}

impl Python {
    fn serve(dir: &Path) -> Python {
        let (child, port) = http_server(python(), dir);
        Python {
            _child: child,
            port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
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
