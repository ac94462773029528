//! The small-file cache is never stale: a file edited on disk is served fresh on the very
//! next request, on the same kept-alive connection, however quickly the edit follows.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::support::serve::{Serve, request};
use crate::support::wait_for;

#[test]
fn a_file_edited_on_disk_is_served_fresh_on_the_very_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.txt");
    std::fs::write(&path, "v0000").unwrap();
    let s = Serve::start(&["-p", "0", "-q", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    let get = "GET /page.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    // Twice first: the second answer comes from the cache.
    assert_eq!(request(&mut c, get).text(), "v0000");
    assert_eq!(request(&mut c, get).text(), "v0000");
    // Each edit keeps the length, and the request follows it at once.
    for i in 1..=200 {
        let want = format!("v{i:04}");
        std::fs::write(&path, &want).unwrap();
        let r = request(&mut c, get);
        assert_eq!((r.status, r.text()), (200, want), "edit {i}");
    }
    // A longer file, a replaced file (a new inode by rename), a removed one.
    std::fs::write(&path, "longer now").unwrap();
    assert_eq!(request(&mut c, get).text(), "longer now");
    let tmp = dir.path().join("page.tmp");
    std::fs::write(&tmp, "renamed in").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert_eq!(request(&mut c, get).text(), "renamed in");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(request(&mut c, get).status, 404);
}

/// The same through every other road to a cached file: a folder on its path replaced by
/// another, and the file written in place (same length) through a hard link outside the
/// served folder, which no folder under the root sees change.
#[test]
fn a_cached_file_changed_through_a_replaced_folder_or_a_hard_link_is_served_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("d/e")).unwrap();
    std::fs::write(root.join("d/e/page.txt"), "first").unwrap();
    let s = Serve::start(&["-p", "0", "-q", root.to_str().unwrap()]);
    let mut c = s.connect();
    let get = "GET /d/e/page.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(request(&mut c, get).text(), "first");
    assert_eq!(request(&mut c, get).text(), "first");
    std::fs::rename(root.join("d"), root.join("old")).unwrap();
    std::fs::create_dir_all(root.join("d/e")).unwrap();
    std::fs::write(root.join("d/e/page.txt"), "again").unwrap();
    assert_eq!(request(&mut c, get).text(), "again", "folder replaced");
    assert_eq!(request(&mut c, get).text(), "again");
    let link = elsewhere.path().join("link.txt");
    std::fs::hard_link(root.join("d/e/page.txt"), &link).unwrap();
    assert_eq!(request(&mut c, get).text(), "again");
    for i in 0..50 {
        use std::io::Write;
        let want = format!("ag{i:03}");
        let mut f = std::fs::OpenOptions::new().write(true).open(&link).unwrap();
        f.write_all(want.as_bytes()).unwrap();
        drop(f);
        assert_eq!(
            request(&mut c, get).text(),
            want,
            "written through the link"
        );
    }
}

#[test]
fn a_fragment_in_the_request_target_is_400() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "home").unwrap();
    let s = Serve::start(&["-p", "0", "-q", dir.path().to_str().unwrap()]);
    let got = s.raw(b"GET /index.html#x HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    let mut c = s.connect();
    let r = request(&mut c, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "home");
}

/// A cached file also answers browsers (which accept gzip and br) while its folder is
/// unchanged since it had no precompressed sibling; a sibling added or removed changes the
/// folder, so the very next request sees it. Checked for a file at the root and one in a
/// folder, for a sibling made as a file, renamed in, and behind a symlink whose target
/// appears later (the folder holding the symlink does not change then).
#[test]
fn a_precompressed_sibling_added_or_removed_is_seen_by_the_very_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("assets")).unwrap();
    std::fs::create_dir(root.join("store")).unwrap();
    std::fs::write(root.join("app.js"), "PLAIN-ROOT").unwrap();
    std::fs::write(root.join("assets/app.js"), "PLAIN-SUB").unwrap();
    // A sibling whose target is not there yet.
    std::os::unix::fs::symlink("../store/app.js.br", root.join("assets/app.js.br")).unwrap();
    // The cache trusts a folder only once it has been still for 2 s (a name added in the
    // same clock tick would not change its times): wait for that, so these requests take
    // the cached path.
    wait_for(
        "the folders to be still for 3 s",
        Duration::from_secs(30),
        || {
            ["", "assets"]
                .iter()
                .all(|f| still_for(&root.join(f), Duration::from_secs(3)))
                .then_some(())
        },
    );
    let s = Serve::start(&["-p", "0", "-q", root.to_str().unwrap()]);
    let mut c = s.connect();
    let ask = |c: &mut std::net::TcpStream, path: &str, ae: &str| {
        let r = request(
            c,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {ae}\r\n\r\n"),
        );
        (r.text(), r.header("content-encoding").map(str::to_string))
    };
    // First, while the folders are still: the symlink's target appears, which changes
    // the folder of the target but not the folder of the symlink.
    let sub = || (String::from("PLAIN-SUB"), None);
    assert_eq!(ask(&mut c, "/assets/app.js", "gzip, br"), sub());
    assert_eq!(ask(&mut c, "/assets/app.js", "gzip, br"), sub());
    std::fs::write(root.join("store/app.js.br"), "BR").unwrap();
    let br = (String::from("BR"), Some(String::from("br")));
    assert_eq!(ask(&mut c, "/assets/app.js", "gzip, br"), br);
    std::fs::remove_file(root.join("store/app.js.br")).unwrap();
    assert_eq!(ask(&mut c, "/assets/app.js", "gzip, br"), sub());
    for (path, plain) in [("/app.js", "PLAIN-ROOT"), ("/assets/app.js", "PLAIN-SUB")] {
        let folder = root
            .join(path.trim_start_matches('/'))
            .parent()
            .unwrap()
            .to_owned();
        let gz = folder.join("app.js.gz");
        let plain = (plain.to_string(), None);
        let gzipped = |body: &str| (body.to_string(), Some("gzip".to_string()));
        // Twice: the second answer comes from the cache.
        assert_eq!(ask(&mut c, path, "gzip, br"), plain);
        assert_eq!(ask(&mut c, path, "gzip, br"), plain);
        std::fs::write(&gz, "GZ-1").unwrap();
        assert_eq!(
            ask(&mut c, path, "gzip, br"),
            gzipped("GZ-1"),
            "{path}: .gz added"
        );
        assert_eq!(ask(&mut c, path, "identity"), plain, "{path}: not accepted");
        std::fs::remove_file(&gz).unwrap();
        assert_eq!(ask(&mut c, path, "gzip, br"), plain, "{path}: .gz removed");
        let tmp = folder.join("gz.tmp");
        std::fs::write(&tmp, "GZ-2").unwrap();
        std::fs::rename(&tmp, &gz).unwrap();
        assert_eq!(
            ask(&mut c, path, "gzip"),
            gzipped("GZ-2"),
            "{path}: .gz renamed in"
        );
        std::fs::remove_file(&gz).unwrap();
        assert_eq!(
            ask(&mut c, path, "gzip, br"),
            plain,
            "{path}: removed again"
        );
    }
}

/// True when `path` last changed (its change time, which cannot be set back) at least
/// `long` ago.
fn still_for(path: &std::path::Path, long: Duration) -> bool {
    let meta = std::fs::metadata(path).unwrap();
    let changed =
        std::time::UNIX_EPOCH + Duration::new(meta.ctime() as u64, meta.ctime_nsec() as u32);
    changed.elapsed().is_ok_and(|age| age >= long)
}

/// With `--compress`, a small file's encoding is made from the cache's copy (the file is
/// not opened again), and an edit on disk gives the next request a fresh encoding with a
/// new ETag.
#[test]
fn with_compress_a_cached_file_is_encoded_fresh_after_an_edit() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.txt");
    let version = |v: u32| -> String { (0..300).map(|i| format!("v{v} line {i}\n")).collect() };
    std::fs::write(&path, version(1)).unwrap();
    let s = Serve::start(&["-p", "0", "-q", "--compress", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    let mut gunzip = |v: u32| {
        let get = "GET /page.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
        let r = request(&mut c, get);
        assert_eq!(r.header("content-encoding"), Some("gzip"), "version {v}");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, version(v));
        r.header("etag").unwrap().to_string()
    };
    // Three times: filled, then from the cache, then its encoding from the cache too.
    let tag = gunzip(1);
    assert!(tag.ends_with("-gz\""), "{tag}");
    assert_eq!(gunzip(1), tag);
    assert_eq!(gunzip(1), tag);
    std::fs::write(&path, version(2)).unwrap();
    assert_ne!(gunzip(2), tag, "a new version, a new tag");
    let plain = request(&mut c, "GET /page.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        (plain.text(), plain.header("vary")),
        (version(2), Some("Accept-Encoding"))
    );
}
