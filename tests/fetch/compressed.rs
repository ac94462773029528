//! `--compressed`: gzip and deflate bodies are asked for and decoded as they stream.

use std::io::Write;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

use super::fetch;
use super::scripted::{Script, Then};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn reply(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn text() -> Vec<u8> {
    "the quick brown fox jumps over the lazy dog\n"
        .repeat(2000)
        .into_bytes()
}

#[test]
fn gzip_is_asked_for_and_decoded() {
    let s = Script::fixed(&reply("gzip", &gzip(&text())), Then::KeepAlive);
    fetch(&["--compressed", &s.url("/")])
        .code(0)
        .stdout(&text());
    assert!(
        s.requests()[0].contains("\r\nAccept-Encoding: gzip, deflate\r\n"),
        "{}",
        s.requests()[0]
    );
    // Without --compressed: nothing asked, nothing decoded (the bytes as sent).
    fetch(&[&s.url("/")]).code(0).stdout(&gzip(&text()));
    assert!(!s.requests()[1].contains("Accept-Encoding"));
}

#[test]
fn chunked_gzip_and_both_deflate_flavours() {
    let z = gzip(&text());
    let mut chunked =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in z.chunks(1000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let s = Script::fixed(&chunked, Then::KeepAlive);
    fetch(&["--compressed", &s.url("/")])
        .code(0)
        .stdout(&text());

    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(&text()).unwrap();
    let s = Script::fixed(&reply("deflate", &zlib.finish().unwrap()), Then::KeepAlive);
    fetch(&["--compressed", &s.url("/")])
        .code(0)
        .stdout(&text());

    let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
    raw.write_all(&text()).unwrap();
    let s = Script::fixed(&reply("deflate", &raw.finish().unwrap()), Then::KeepAlive);
    fetch(&["--compressed", &s.url("/")])
        .code(0)
        .stdout(&text());
}

#[test]
fn a_bomb_streams_through_and_counts_as_output() {
    // 64 MiB of zeros in about 64 KiB: decoded as it streams, never held whole.
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(&zeros);
    assert!(bomb.len() < 200 * 1024);
    let s = Script::fixed(&reply("gzip", &bomb), Then::KeepAlive);
    let run = fetch(&["-s", "--compressed", "--report-json", &s.url("/")]);
    run.code(0);
    assert_eq!(run.stdout.len(), 64 << 20);
    assert!(run.stdout.iter().all(|&b| b == 0));
    let json = run.stderr.lines().last().unwrap();
    assert!(json.contains(&format!("\"bytes\":{},", 64 << 20)), "{json}");
    assert!(
        json.contains(&format!("\"bytes_received\":{},", bomb.len())),
        "{json}"
    );
}

#[test]
fn bad_or_unasked_codings_are_exit_61() {
    let s = Script::fixed(&reply("br", b"whatever"), Then::KeepAlive);
    fetch(&["--compressed", &s.url("/")])
        .code(61)
        .stdout(b"")
        .error("unsupported content coding 'br'");
    let mut broken = gzip(&text());
    broken.truncate(broken.len() / 2);
    let s = Script::fixed(&reply("gzip", &broken), Then::KeepAlive);
    let run = fetch(&["--compressed", &s.url("/")]);
    run.code(61).error("cannot decode the body");
    let s = Script::fixed(&reply("gzip", b"not gzip at all"), Then::KeepAlive);
    fetch(&["--compressed", &s.url("/")]).code(61).stdout(b"");
}
