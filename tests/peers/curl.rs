//! curl as a client of `serve`: keep-alive reuse, ranges, resume, HEAD and conditional GETs,
//! on files with awkward names.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{Child, noise, program, put, run, same_bytes, temp_dir};
use crate::support::serve::Serve;

fn curl() -> Option<PathBuf> {
    program("curl", "curl")
}

/// A site whose file names need percent-encoding; returns (dir, served path, bytes).
fn awkward_site() -> (tempfile::TempDir, &'static str, Vec<u8>) {
    let dir = temp_dir("peers curl 'q' ");
    let data = noise(2_500_000, 7);
    put(dir.path(), "d\u{e9}p\u{f4}t/big file #1.bin", &data);
    put(dir.path(), "a b.txt", b"spaces\n");
    put(dir.path(), "100%.txt", b"percent\n");
    (dir, "d%C3%A9p%C3%B4t/big%20file%20%231.bin", data)
}

fn start(dir: &tempfile::TempDir) -> Serve {
    Serve::start(&["-p", "0", dir.path().to_str().unwrap()])
}

#[test]
fn curl_fetches_three_files_on_one_connection() {
    let Some(curl) = curl() else { return };
    let (dir, big, data) = awkward_site();
    let s = start(&dir);
    let out_dir = tempfile::tempdir().unwrap();
    let o = |n: &str| out_dir.path().join(n).to_str().unwrap().to_string();
    let out = run(
        Command::new(&curl)
            .args([
                "-sS",
                "-w",
                "%{http_code} %{num_connects} %{size_download}\\n",
            ])
            .args(["-o", &o("1"), &format!("{}{big}", s.url)])
            .args(["-o", &o("2"), &format!("{}a%20b.txt", s.url)])
            .args(["-o", &o("3"), &format!("{}100%25.txt", s.url)]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("200 1 {}\n200 0 7\n200 0 8\n", data.len()),
        "one connect, then two reuses of it"
    );
    same_bytes("big file", &data, &std::fs::read(o("1")).unwrap());
    assert_eq!(std::fs::read(o("2")).unwrap(), b"spaces\n");
    assert_eq!(std::fs::read(o("3")).unwrap(), b"percent\n");
}

#[test]
fn curl_ranges_single_suffix_open_and_several() {
    let Some(curl) = curl() else { return };
    let (dir, big, data) = awkward_site();
    let s = start(&dir);
    let url = format!("{}{big}", s.url);
    let len = data.len();
    for (range, want) in [
        ("0-99", &data[..100]),
        ("-500", &data[len - 500..]),
        ("2000000-", &data[2_000_000..]),
        ("1000-1000", &data[1000..1001]),
    ] {
        let out = run(
            Command::new(&curl).args(["-sS", "-r", range, "-w", "%{http_code}", "-o", "-", &url]),
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "{out:?}");
        let (body, code) = out.stdout.split_at(out.stdout.len() - 3);
        assert_eq!(code, b"206", "-r {range}");
        same_bytes(&format!("-r {range}"), want, body);
    }
    // Two ranges: a multipart/byteranges body with both slices in it.
    let out = run(
        Command::new(&curl).args(["-sS", "-r", "0-9,100-109", "-D", "-", &url]),
        Duration::from_secs(30),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("multipart/byteranges; boundary=")
            && text.contains(&format!("Content-Range: bytes 0-9/{len}"))
            && text.contains(&format!("Content-Range: bytes 100-109/{len}")),
        "{text}"
    );
    // Past the end: 416, and curl -f says so with its exit code 22.
    let out = run(
        Command::new(&curl).args(["-sS", "-f", "-r", &format!("{len}-"), &url]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(22), "{out:?}");
    s.wait_log("the 416", |l| l.contains("\" 416 "));
}

#[test]
fn curl_resumes_with_c_dash_and_knows_when_it_is_complete() {
    let Some(curl) = curl() else { return };
    let (dir, big, data) = awkward_site();
    let s = start(&dir);
    let url = format!("{}{big}", s.url);
    let out_dir = tempfile::tempdir().unwrap();
    let part = out_dir.path().join("big file #1.bin");
    std::fs::write(&part, &data[..777_777]).unwrap();
    let resume = || {
        run(
            Command::new(&curl)
                .args(["-sS", "-C", "-", "-w", "%{http_code}", "-o"])
                .arg(&part)
                .arg(&url),
            Duration::from_secs(30),
        )
    };
    let out = resume();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"206");
    same_bytes("resumed file", &data, &std::fs::read(&part).unwrap());
    let rest = data.len() - 777_777;
    s.wait_log("the resumed 206", |l| l.contains(&format!("\" 206 {rest}")));
    // Again: the file is complete, serve answers 416 and curl takes it as done.
    let out = resume();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"416");
    same_bytes(
        "file after a second -C -",
        &data,
        &std::fs::read(&part).unwrap(),
    );
}

#[test]
fn curl_head_shows_the_get_headers_without_a_body() {
    let Some(curl) = curl() else { return };
    let (dir, big, data) = awkward_site();
    let s = start(&dir);
    let url = format!("{}{big}", s.url);
    let head = run(
        Command::new(&curl).args(["-sS", "-I", &url]),
        Duration::from_secs(30),
    );
    assert!(head.status.success(), "{head:?}");
    let head = String::from_utf8(head.stdout).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "no body after the head: {head:?}"
    );
    let get = run(
        Command::new(&curl).args(["-sS", "-D", "-", "-o", "/dev/null", &url]),
        Duration::from_secs(30),
    );
    let get = String::from_utf8(get.stdout).unwrap();
    let fields = |h: &str| -> Vec<String> {
        h.lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        fields(&head),
        fields(&get),
        "HEAD and GET heads (Date aside)"
    );
    assert!(head.contains(&format!("Content-Length: {}\r\n", data.len())));
    s.wait_log("the HEAD", |l| l.contains("\"HEAD /d%C3%A9p"));
}

#[test]
fn curl_z_downloads_only_what_changed() {
    let Some(curl) = curl() else { return };
    let (dir, _, _) = awkward_site();
    let s = start(&dir);
    let url = format!("{}a%20b.txt", s.url);
    let out_dir = tempfile::tempdir().unwrap();
    let local = out_dir.path().join("a b.txt");
    let z = |cond: &str| {
        run(
            Command::new(&curl)
                .args(["-sS", "-z", cond, "-w", "%{http_code}", "-o", "-"])
                .arg(&url),
            Duration::from_secs(30),
        )
    };
    // A local copy newer than the file: If-Modified-Since from its mtime, 304, no body.
    std::fs::write(&local, "old copy").unwrap();
    let out = z(local.to_str().unwrap());
    assert_eq!(out.stdout, b"304", "{out:?}");
    // A date long ago: modified since, the whole body.
    let out = z("1 Jan 1990 00:00:00 GMT");
    assert_eq!(out.stdout, b"spaces\n200", "{out:?}");
    // "-DATE" is If-Unmodified-Since: modified after 1990, so 412 and not the file.
    let out = z("-1 Jan 1990 00:00:00 GMT");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("412") && !text.contains("spaces"), "{out:?}");
}

/// `curl -o /dev/null URL` is the everyday way to time or check a URL, and fetch takes curl's
/// flags. fetch writes files as FILE.part and renames them when complete; for a device or a
/// FIFO that rename replaced the node itself with a regular file: as root,
/// `fetch -o /dev/null` turns /dev/null into a regular file for the whole machine. Like
/// curl, fetch now writes such a FILE in place.
#[test]
fn fetch_like_curl_writes_o_into_a_fifo_or_device_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let Some(curl) = curl() else { return };
    let (dir, _, _) = awkward_site();
    let s = start(&dir);
    let url = format!("{}a%20b.txt", s.url);
    let tmp = temp_dir("peers fifo ");
    let fifo = tmp.path().join("pipe");
    let made = run(Command::new("mkfifo").arg(&fifo), Duration::from_secs(10));
    assert!(made.status.success(), "mkfifo: {made:?}");

    for client in ["curl", "fetch"] {
        // A reader on the FIFO: it gets the body only if the client writes into the FIFO.
        let reader = Child::start("cat", Command::new("cat").arg(&fifo));
        let code = if client == "curl" {
            run(
                Command::new(&curl).args(["-sS", "-o"]).arg(&fifo).arg(&url),
                Duration::from_secs(30),
            )
            .status
            .code()
        } else {
            Some(crate::fetch::fetch(&["-o", fifo.to_str().unwrap(), &url]).code)
        };
        let still_fifo = std::fs::symlink_metadata(&fifo).is_ok_and(|m| m.file_type().is_fifo());
        // If not, the reader waits on the old FIFO, which nobody will ever open: its guard
        // stops it.
        assert!(
            still_fifo,
            "{client} -o FIFO replaced the FIFO with a regular file"
        );
        let got = reader.finish(Duration::from_secs(30));
        assert_eq!(code, Some(0), "{client}");
        assert_eq!(
            got.stdout, b"spaces\n",
            "{client} wrote the body into the FIFO"
        );
    }

    // A character device like /dev/null (making one needs root, as CI has; else skipped).
    let null = tmp.path().join("null");
    let made = run(
        Command::new("mknod")
            .args(["-m", "666"])
            .arg(&null)
            .args(["c", "1", "3"]),
        Duration::from_secs(10),
    );
    if !made.status.success() {
        eprintln!("skipped: a device node needs root to make");
        return;
    }
    crate::fetch::fetch(&["-o", null.to_str().unwrap(), &url]).code(0);
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "fetch -o DEVICE kept the device: {kind:?}"
    );
    assert!(!crate::support::serve::exists(
        &tmp.path().join("null.part")
    ));
}

/// `serve --watch` seen by curl: the injected page's `Content-Length` is the number of bytes
/// curl receives (and no script without `--watch`), and `curl -N` on the event stream gets
/// an event after an edit.
#[test]
fn curl_gets_the_injected_page_whole_and_the_event_stream_after_an_edit() {
    let Some(curl) = curl() else { return };
    let dir = temp_dir("peers curl watch ");
    put(
        dir.path(),
        "index.html",
        b"<html><body><p>v1</p></body></html>\n",
    );
    let live = Serve::start(&["-p", "0", "--watch", dir.path().to_str().unwrap()]);
    let plain = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let page = |s: &Serve| {
        let out = run(
            Command::new(&curl).args(["-sS", "-D", "-", "-w", "\\n%{size_download}", &s.url]),
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let injected = page(&live);
    let length = injected
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .trim()
        .to_string();
    let received = injected.lines().last().unwrap();
    assert_eq!(length, received, "{injected}");
    assert!(
        injected.contains("<script data-serve-reload>"),
        "{injected}"
    );
    assert!(
        !page(&plain).contains("<script"),
        "nothing injected without --watch"
    );

    let events = Child::start(
        "curl -N",
        Command::new(&curl).args(["-sSN", &format!("{}%00serve-reload", live.url)]),
    );
    events.wait_lines("the stream's greeting", |l| {
        l.iter().any(|l| l == ": watching").then_some(())
    });
    put(
        dir.path(),
        "index.html",
        b"<html><body><p>v2</p></body></html>\n",
    );
    events.wait_lines("the reload event", |l| {
        l.iter().any(|l| l == "event: reload").then_some(())
    });
}
