//! `-C -`: a download cut half-way is continued with a range, and the result is the same
//! bytes as a one-shot download.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::fetch_in;
use super::scripted::{Script, Then, range_start, rest_from};

/// 200 KiB that are not periodic in any small power of two.
fn body() -> Vec<u8> {
    (0u32..200 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn if_range(head: &str) -> Option<&str> {
    head.lines().find_map(|l| l.strip_prefix("If-Range: "))
}

/// A server for `data` with ETag `etag`: a request without Range gets the head and only the
/// first `cut` bytes, then the connection drops (as long as `drops` is above 0); a request
/// with Range and a matching If-Range gets a 206 with the rest; a stale If-Range gets the
/// whole body (200).
fn flaky(data: Vec<u8>, etag: &'static str, cut: usize, drops: Arc<AtomicUsize>) -> Script {
    Script::start(move |head| {
        let whole = |n: usize| {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\nContent-Length: {}\r\n\r\n",
                data.len()
            )
            .into_bytes();
            out.extend_from_slice(&data[..n]);
            out
        };
        match (range_start(head), if_range(head)) {
            (Some(start), Some(tag)) if tag == etag => {
                rest_from(&data, start, &format!("ETag: {etag}\r\n"))
            }
            _ if drops.load(Ordering::SeqCst) > 0 => {
                drops.fetch_sub(1, Ordering::SeqCst);
                (whole(cut), Then::Close)
            }
            _ => (whole(data.len()), Then::KeepAlive),
        }
    })
}

#[test]
fn a_cut_download_is_resumed_byte_identical() {
    let data = body();
    let cut = 77_777;
    let s = flaky(data.clone(), "\"v1\"", cut, Arc::new(AtomicUsize::new(1)));
    let dir = tempfile::tempdir().unwrap();
    let url = s.url("/big.bin");
    fetch_in(dir.path(), &["-sS", "-O", &url])
        .code(18)
        .error(&format!(
            "transfer closed with {cut} of {} bytes",
            data.len()
        ));
    let part = dir.path().join("big.bin.part");
    assert_eq!(std::fs::read(&part).unwrap(), &data[..cut]);
    let meta = std::fs::read_to_string(dir.path().join("big.bin.part.meta")).unwrap();
    assert_eq!(meta, "fetch resume 1\nvalidator: \"v1\"\n");
    assert!(!dir.path().join("big.bin").exists());

    fetch_in(dir.path(), &["-s", "-C", "-", "-O", &url])
        .code(0)
        .stdout(b"");
    assert!(std::fs::read(dir.path().join("big.bin")).unwrap() == data);
    assert!(!part.exists(), ".part left");
    assert!(!dir.path().join("big.bin.part.meta").exists(), ".meta left");
    let last = s.requests().pop().unwrap();
    assert_eq!(range_start(&last), Some(cut), "{last}");
    assert_eq!(if_range(&last), Some("\"v1\""), "{last}");
}

#[test]
fn a_changed_file_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    // A part file from an older version of the file, with its record.
    std::fs::write(dir.path().join("f.part"), b"OLD CONTENT").unwrap();
    std::fs::write(
        dir.path().join("f.part.meta"),
        "fetch resume 1\nvalidator: \"v0\"\n",
    )
    .unwrap();
    let data = body();
    let s = flaky(data.clone(), "\"v1\"", 0, Arc::new(AtomicUsize::new(0)));
    fetch_in(dir.path(), &["-C", "-", "-o", "f", &s.url("/f")]).code(0);
    assert!(std::fs::read(dir.path().join("f")).unwrap() == data);
    let req = &s.requests()[0];
    assert_eq!(range_start(req), Some(11), "{req}");
    assert_eq!(if_range(req), Some("\"v0\""));
}

#[test]
fn an_already_complete_file_is_just_renamed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.part"), b"0123456789").unwrap();
    let s = Script::fixed(
        b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */10\r\nContent-Length: 0\r\n\r\n",
        Then::KeepAlive,
    );
    fetch_in(dir.path(), &["-C", "-", "-o", "f", &s.url("/f")]).code(0);
    assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"0123456789");
    assert!(!dir.path().join("f.part").exists());
    // Without a record, the range goes alone (as curl sends it).
    let req = &s.requests()[0];
    assert!(
        req.contains("Range: bytes=10-\r\n") && !req.contains("If-Range"),
        "{req}"
    );
}

#[test]
fn an_existing_output_file_is_continued_without_being_touched_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"01234").unwrap();
    let s = Script::fixed(
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\n\r\n56",
        Then::Close,
    );
    fetch_in(dir.path(), &["-C", "-", "-o", "f", &s.url("/f")]).code(18);
    assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"01234");
    assert_eq!(
        std::fs::read(dir.path().join("f.part")).unwrap(),
        b"0123456"
    );
    let s = Script::fixed(
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 7-9/10\r\nContent-Length: 3\r\n\r\n789",
        Then::KeepAlive,
    );
    fetch_in(dir.path(), &["-C", "-", "-o", "f", &s.url("/f")]).code(0);
    assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"0123456789");
}

#[test]
fn a_range_from_elsewhere_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.part"), b"01234").unwrap();
    let s = Script::fixed(
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/10\r\nContent-Length: 10\r\n\r\n0123456789",
        Then::KeepAlive,
    );
    fetch_in(dir.path(), &["-C", "-", "-o", "f", &s.url("/f")])
        .code(33)
        .error("cannot resume: asked to resume at byte 5, the server sent a range starting at 0");
    assert_eq!(std::fs::read(dir.path().join("f.part")).unwrap(), b"01234");
    assert!(!dir.path().join("f").exists());
}

#[test]
fn resume_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["-C", "100", "-o", "f", "x"], "only `-C -` is supported"),
        (&["-C", "-", "x"], "-C - needs a file for every target"),
        (&["-C", "-", "-o", "-", "x"], "-C - needs a file"),
        (
            &["-C", "-", "-I", "-o", "f", "x"],
            "cannot go with -I or -i",
        ),
        (
            &["-C", "-", "--compressed", "-o", "f", "x"],
            "cannot go with --compressed",
        ),
    ];
    for (args, want) in cases {
        fetch_in(dir.path(), args).code(2).error(want);
    }
}
