//! Redirects with -L: chains, relative locations, loops, methods, and headers that stay
//! with their host.

use super::fetch;
use super::scripted::{Script, Then, ok, path_of};

fn redirect(status: u16, location: &str) -> (Vec<u8>, Then) {
    let body = format!("go to {location}");
    let head = format!(
        "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    (head.into_bytes(), Then::KeepAlive)
}

#[test]
fn redirects_are_followed_in_order() {
    let s = Script::start(|head| match path_of(head) {
        "/a" => redirect(302, "/dir/b"),
        "/dir/b" => redirect(301, "../c?x=1"),
        "/c?x=1" => redirect(303, "d"),
        "/d" => redirect(308, "?only=query"),
        "/d?only=query" => ok(b"done"),
        other => ok(format!("unexpected {other}").as_bytes()),
    });
    fetch(&["-L", &s.url("/a")]).code(0).stdout(b"done");
    let paths: Vec<String> = s
        .requests()
        .iter()
        .map(|h| path_of(h).to_string())
        .collect();
    assert_eq!(paths, ["/a", "/dir/b", "/c?x=1", "/d", "/d?only=query"]);
    assert_eq!(s.accepted(), 1, "every hop on the kept-alive connection");
}

#[test]
fn without_location_flag_the_redirect_is_the_result() {
    let s = Script::start(|_| redirect(302, "/elsewhere"));
    fetch(&[&s.url("/a")]).code(0).stdout(b"go to /elsewhere");
    assert_eq!(s.requests().len(), 1);
}

#[test]
fn a_loop_stops_at_max_redirs() {
    let s = Script::start(|_| redirect(302, "/loop"));
    fetch(&["-L", "--max-redirs", "3", &s.url("/loop")])
        .code(47)
        .stdout(b"")
        .error("maximum (3) redirects followed");
    assert_eq!(
        s.requests().len(),
        4,
        "the first request and three redirects"
    );
    // curl's default limit.
    fetch(&["-L", &s.url("/loop")])
        .code(47)
        .error("maximum (50) redirects followed");
}

#[test]
fn network_path_redirect_goes_to_the_other_server() {
    let target = Script::start(|head| ok(path_of(head).as_bytes()));
    let port = target.port();
    let s = Script::start(move |_| redirect(301, &format!("//127.0.0.1:{port}/there")));
    fetch(&["-L", &s.url("/")]).code(0).stdout(b"/there");
}

#[test]
fn head_stays_head_and_include_shows_every_head() {
    let s = Script::start(|head| match path_of(head) {
        "/a" => (
            b"HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 3\r\n\r\n".to_vec(),
            Then::KeepAlive,
        ),
        _ => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n".to_vec(),
            Then::KeepAlive,
        ),
    });
    fetch(&["-I", "-L", &s.url("/a")]).code(0).stdout(
        b"HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 3\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n",
    );
    let methods: Vec<String> = s
        .requests()
        .iter()
        .map(|h| h.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(methods, ["HEAD", "HEAD"]);
}

#[test]
fn credentials_stay_with_their_host() {
    let s = Script::start(|head| {
        let host = head
            .lines()
            .find_map(|l| l.strip_prefix("Host: "))
            .unwrap_or("")
            .to_string();
        let port = host.rsplit(':').next().unwrap_or("").to_string();
        match path_of(head) {
            "/first" => redirect(302, "/second"),
            "/second" => redirect(302, &format!("http://b.test:{port}/third")),
            _ => ok(b"end"),
        }
    });
    let p = s.port();
    let (ra, rb) = (
        format!("a.test:{p}:127.0.0.1"),
        format!("b.test:{p}:127.0.0.1"),
    );
    fetch(&[
        "-L",
        "--resolve",
        &ra,
        "--resolve",
        &rb,
        "-H",
        "Authorization: Bearer secret",
        "-H",
        "Cookie: id=1",
        "-H",
        "X-Other: kept",
        &format!("http://a.test:{p}/first"),
    ])
    .code(0)
    .stdout(b"end");
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3);
    for same_host in &reqs[..2] {
        assert!(
            same_host.contains("Authorization: Bearer secret\r\n"),
            "{same_host}"
        );
        assert!(same_host.contains("Cookie: id=1\r\n"), "{same_host}");
    }
    assert!(!reqs[2].contains("Authorization"), "{}", reqs[2]);
    assert!(!reqs[2].contains("Cookie"), "{}", reqs[2]);
    assert!(reqs[2].contains("X-Other: kept\r\n"), "{}", reqs[2]);
    assert!(
        reqs[2].contains(&format!("Host: b.test:{p}\r\n")),
        "{}",
        reqs[2]
    );
}

#[test]
fn redirect_to_another_scheme_is_refused() {
    let s = Script::start(|_| redirect(301, "ftp://example.test/"));
    fetch(&["-L", &s.url("/")])
        .code(1)
        .stdout(b"")
        .error("cannot follow the redirect to 'ftp://example.test/': ftp is not supported");
}
