//! Body framing against exact bytes: every way a server can end (or fail to end) a body.

use super::scripted::{Script, Then, ok, path_of};
use super::{fetch, fetch_in};

#[test]
fn truncated_content_length_is_a_partial_transfer() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel",
        Then::Close,
    );
    fetch(&[&s.url("/")])
        .code(18)
        .stdout(b"hel")
        .error("transfer closed with 3 of 10 bytes received");
}

#[test]
fn truncated_chunked_body_is_a_partial_transfer() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nwo",
        Then::Close,
    );
    fetch(&[&s.url("/")])
        .code(18)
        .stdout(b"hellowo")
        .error("transfer closed before the last chunk");
}

#[test]
fn missing_last_chunk_is_a_partial_transfer() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        Then::Close,
    );
    fetch(&[&s.url("/")]).code(18).stdout(b"hello");
}

#[test]
fn bad_chunk_size_is_a_receive_error() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        Then::Close,
    );
    fetch(&[&s.url("/")])
        .code(56)
        .stdout(b"")
        .error("bad chunked body: bad chunk size 'zz'");
}

#[test]
fn chunk_longer_than_its_size_is_a_receive_error() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
        Then::Close,
    );
    fetch(&[&s.url("/")])
        .code(56)
        .stdout(b"hel")
        .error("no CRLF after it");
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;name=value\r\nhello\r\n1 \r\n,\r\nA\r\n world!!!!\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n",
        Then::KeepAlive,
    );
    fetch(&[&s.url("/")]).code(0).stdout(b"hello, world!!!!");
}

#[test]
fn transfer_encoding_wins_over_content_length_and_the_connection_is_not_reused() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
        Then::KeepAlive,
    );
    fetch(&[&s.url("/1"), &s.url("/2")])
        .code(0)
        .stdout(b"hellohello");
    assert_eq!(s.accepted(), 2, "a TE+CL connection must not be reused");
}

#[test]
fn different_content_lengths_are_an_unparseable_reply() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        Then::Close,
    );
    fetch(&[&s.url("/")])
        .code(8)
        .stdout(b"")
        .error("conflicting Content-Length values (5 and 6)");
}

#[test]
fn non_numeric_content_length_is_an_unparseable_reply() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello",
        Then::Close,
    );
    fetch(&[&s.url("/")])
        .code(8)
        .error("bad Content-Length '5x'");
}

#[test]
fn interim_responses_are_skipped() {
    let s = Script::fixed(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        Then::KeepAlive,
    );
    fetch(&[&s.url("/")]).code(0).stdout(b"ok");
    fetch(&["-i", &s.url("/")])
        .code(0)
        .stdout(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

#[test]
fn unrequested_upgrade_is_refused() {
    let s = Script::fixed(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        Then::Hang,
    );
    fetch(&[&s.url("/")])
        .code(8)
        .error("101 Switching Protocols, but no upgrade was asked for");
}

#[test]
fn no_content_has_no_body_whatever_it_declares() {
    // The connection stays open: waiting for the 5 declared bytes would hang until -m.
    let s = Script::fixed(
        b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        Then::Hang,
    );
    fetch(&["-m", "10", &s.url("/")]).code(0).stdout(b"");
    let s = Script::fixed(
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
        Then::Hang,
    );
    fetch(&["-m", "10", &s.url("/")]).code(0).stdout(b"");
}

#[test]
fn head_response_has_no_body_whatever_it_declares() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n";
    let s = Script::fixed(head, Then::Hang);
    fetch(&["-m", "10", "-I", &s.url("/")]).code(0).stdout(head);
    assert!(s.requests()[0].starts_with("HEAD / HTTP/1.1\r\n"));
}

#[test]
fn body_without_length_runs_to_close() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\n\r\nevery byte\0until close",
        Then::Close,
    );
    fetch(&["-o", "-", &s.url("/")])
        .code(0)
        .stdout(b"every byte\0until close");
}

#[test]
fn oversized_head_is_an_unparseable_reply() {
    let mut reply = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    reply.extend(std::iter::repeat_n(b'a', 70 * 1024));
    reply.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
    let s = Script::fixed(&reply, Then::Close);
    fetch(&[&s.url("/")])
        .code(8)
        .stdout(b"")
        .error("response head larger than 64 KiB");
}

#[test]
fn too_many_header_fields_is_an_unparseable_reply() {
    let mut reply = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..150 {
        reply.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    reply.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
    let s = Script::fixed(&reply, Then::Close);
    fetch(&[&s.url("/")])
        .code(8)
        .error("more than 100 header fields");
}

#[test]
fn http09_reply_needs_the_flag() {
    let s = Script::fixed(b"<html>just the body</html>\n", Then::Close);
    fetch(&[&s.url("/page")])
        .code(1)
        .stdout(b"")
        .error("received HTTP/0.9");
    fetch(&["--http0.9", &s.url("/page")])
        .code(0)
        .stdout(b"<html>just the body</html>\n");
    assert_eq!(s.requests()[1], "GET /page\r\n", "a simple request");
}

#[test]
fn empty_reply() {
    let s = Script::fixed(b"", Then::Close);
    fetch(&[&s.url("/")])
        .code(52)
        .error(&format!("empty reply from 127.0.0.1:{}", s.port()));
}

#[test]
fn head_cut_short_is_an_unparseable_reply() {
    let s = Script::fixed(b"HTTP/1.1 200 OK\r\nContent-Le", Then::Close);
    fetch(&[&s.url("/")])
        .code(8)
        .error("closed in the middle of the response head");
}

#[test]
fn keep_alive_connection_is_reused_for_the_same_endpoint() {
    let s = Script::start(|head| ok(path_of(head).as_bytes()));
    fetch(&[
        &s.url("/one"),
        &s.url("/two"),
        &format!("127.0.0.1:{}/three", s.port()),
    ])
    .code(0)
    .stdout(b"/one/two/three");
    assert_eq!(s.accepted(), 1, "one connection for three targets");
    let s2 = Script::start(|head| ok(path_of(head).as_bytes()));
    fetch(&[&s.url("/a"), &s2.url("/b"), &s.url("/c")])
        .code(0)
        .stdout(b"/a/b/c");
    assert_eq!(
        s.accepted(),
        2,
        "the first connection was kept over another target"
    );
    assert_eq!(s2.accepted(), 1);
}

#[test]
fn connection_close_is_honoured() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        Then::Close,
    );
    fetch(&[&s.url("/1"), &s.url("/2")]).code(0).stdout(b"okok");
    assert_eq!(s.accepted(), 2);
}

#[test]
fn kept_alive_connection_closed_by_the_server_is_replaced() {
    // The server says keep-alive but closes after each response: the second request finds
    // the old connection dead and must go out again on a new one.
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        Then::Close,
    );
    fetch(&[&s.url("/1"), &s.url("/2")]).code(0).stdout(b"okok");
    assert_eq!(s.accepted(), 2);
}

#[test]
fn large_chunked_body_arrives_byte_exact() {
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for (i, piece) in data.chunks(70_001).enumerate() {
        let ext = if i % 2 == 0 { ";x=y" } else { "" };
        reply.extend_from_slice(format!("{:x}{ext}\r\n", piece.len()).as_bytes());
        reply.extend_from_slice(piece);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"0\r\n\r\n");
    let s = Script::fixed(&reply, Then::KeepAlive);
    let dir = tempfile::tempdir().unwrap();
    fetch_in(dir.path(), &["-o", "big.bin", &s.url("/big.bin")]).code(0);
    assert!(std::fs::read(dir.path().join("big.bin")).unwrap() == data);
}

#[test]
fn whole_transfer_limit_names_the_phase() {
    let s = Script::fixed(b"", Then::Hang);
    fetch(&["-m", "1", &s.url("/")])
        .code(28)
        .stdout(b"")
        .error(&format!(
            "timed out after 1 s waiting for the response head from 127.0.0.1:{}",
            s.port()
        ));
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel",
        Then::Hang,
    );
    fetch(&["-m", "0.5", &s.url("/")])
        .code(28)
        .stdout(b"hel")
        .error("timed out after 500 ms reading the body from 127.0.0.1");
}

#[test]
fn unix_socket_carries_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("app.sock");
    let s = Script::start_unix(&sock, |head| {
        ok(head.lines().next().unwrap_or("").as_bytes())
    });
    let sock = sock.to_str().unwrap();
    fetch(&["--unix-socket", sock, "name.test/status?x=1"])
        .code(0)
        .stdout(b"GET /status?x=1 HTTP/1.1");
    assert!(s.requests()[0].contains("\r\nHost: name.test\r\n"));
    fetch(&[&format!("unix:{sock}")])
        .code(0)
        .stdout(b"GET / HTTP/1.1");
}

#[test]
fn request_lost_on_a_kept_alive_connection_is_sent_again() {
    // The second request arrives on the kept-alive connection and the server closes it
    // without a word (as a server does when its idle timer fires at that moment): GET is
    // safe to repeat, so fetch sends it again on a new connection.
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = AtomicUsize::new(0);
    let s = Script::start(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        1 => (Vec::new(), Then::Close),
        _ => ok(b"ok"),
    });
    fetch(&[&s.url("/1"), &s.url("/2")]).code(0).stdout(b"okok");
    assert_eq!(s.accepted(), 2);
    assert_eq!(s.requests().len(), 3);
}

#[test]
fn address_family_filter() {
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        Then::KeepAlive,
    );
    let p = s.port();
    let resolve = format!("name.test:{p}:127.0.0.1");
    let target = format!("name.test:{p}/");
    fetch(&["-4", "--resolve", &resolve, &target])
        .code(0)
        .stdout(b"ok");
    fetch(&["-6", "--resolve", &resolve, &target])
        .code(6)
        .error("cannot resolve name.test: no IPv6 address");
}
