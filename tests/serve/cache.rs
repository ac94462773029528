//! The small-file cache is never stale: a file edited on disk is served fresh on the very
//! next request, on the same kept-alive connection, however quickly the edit follows.

use crate::support::serve::{Serve, request};

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
