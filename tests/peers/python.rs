//! Python's standard library as a client of `serve`: `http.client` with keep-alive and
//! HTTP/1.0, and a pipelined burst on a raw socket (http.client cannot pipeline), whose
//! responses are then parsed by http.client's own response parser.

use std::process::Command;
use std::time::Duration;

use super::{peer, put, run, temp_dir, which};
use crate::support::serve::Serve;

/// Runs a python script with arguments; returns its stdout, failing with its stderr.
fn python(script: &str, args: &[&str]) -> Option<String> {
    let python = which("python3");
    if !peer("python3", python.is_some(), "apt-get install python3") {
        return None;
    }
    let out = run(
        Command::new(python.unwrap())
            .arg("-c")
            .arg(script)
            .args(args),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn site() -> (tempfile::TempDir, Serve) {
    let dir = temp_dir("peers python \u{e9} ");
    put(dir.path(), "a b.txt", b"spaces\n");
    put(dir.path(), "caf\u{e9}.txt", "caf\u{e9}\n".as_bytes());
    put(dir.path(), "big.bin", &vec![b'x'; 1_000_000]);
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    (dir, s)
}

const HTTP_CLIENT: &str = r#"
import http.client, sys
host, port = "127.0.0.1", int(sys.argv[1])

def show(tag, conn, resp, body):
    print(tag, resp.status, resp.version, len(body), "close" if resp.will_close else "keep",
          resp.getheader("Content-Length"), conn.sock.getsockname()[1] if conn.sock else "-")

# HTTP/1.1: three requests and a HEAD on one kept-alive connection.
c = http.client.HTTPConnection(host, port, timeout=10)
for path in ["/a%20b.txt", "/caf%C3%A9.txt", "/big.bin"]:
    c.request("GET", path)
    r = c.getresponse(); body = r.read()
    show("1.1 GET " + path, c, r, body)
c.request("HEAD", "/big.bin")
r = c.getresponse(); body = r.read()
show("1.1 HEAD /big.bin", c, r, body)
c.close()

class Http10(http.client.HTTPConnection):
    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"

# HTTP/1.0 without keep-alive: the server closes after the response.
c = Http10(host, port, timeout=10)
c.request("GET", "/a%20b.txt")
r = c.getresponse(); body = r.read()
print("1.0 GET", r.status, len(body), "close" if r.will_close else "keep", r.getheader("Connection"))
c.close()

# HTTP/1.0 asking for keep-alive: two requests on one connection.
c = Http10(host, port, timeout=10)
ports = []
for path in ["/a%20b.txt", "/caf%C3%A9.txt"]:
    c.request("GET", path, headers={"Connection": "keep-alive"})
    r = c.getresponse(); body = r.read()
    ports.append(c.sock.getsockname()[1])
    print("1.0 keep-alive GET", path, r.status, len(body), "close" if r.will_close else "keep",
          r.getheader("Connection"))
print("1.0 keep-alive same connection:", ports[0] == ports[1])
"#;

#[test]
fn http_client_keep_alive_and_http_1_0() {
    let (_dir, s) = site();
    let Some(out) = python(HTTP_CLIENT, &[&s.addr().port().to_string()]) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    // The first four share one local port: one connection for all of them.
    let port = lines[0].rsplit(' ').next().unwrap();
    let want_11 = [
        format!("1.1 GET /a%20b.txt 200 11 7 keep 7 {port}"),
        format!("1.1 GET /caf%C3%A9.txt 200 11 6 keep 6 {port}"),
        format!("1.1 GET /big.bin 200 11 1000000 keep 1000000 {port}"),
        format!("1.1 HEAD /big.bin 200 11 0 keep 1000000 {port}"),
    ];
    assert_eq!(&lines[..4], &want_11, "{out}");
    assert_eq!(
        &lines[4..],
        &[
            "1.0 GET 200 7 close close",
            "1.0 keep-alive GET /a%20b.txt 200 7 keep keep-alive",
            "1.0 keep-alive GET /caf%C3%A9.txt 200 6 keep keep-alive",
            "1.0 keep-alive same connection: True",
        ],
        "{out}"
    );
    s.wait_log("an HTTP/1.0 request", |l| {
        l.contains("\"GET /a%20b.txt HTTP/1.0\" 200 7")
    });
}

const PIPELINE: &str = r#"
import http.client, io, socket, sys
port = int(sys.argv[1])
reqs = [("GET", "/a%20b.txt"), ("HEAD", "/big.bin"), ("GET", "/caf%C3%A9.txt"),
        ("GET", "/missing"), ("GET", "/big.bin")]
raw = b"".join(
    f"{m} {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{'Connection: close' + chr(13) + chr(10) if i == len(reqs) - 1 else ''}\r\n".encode()
    for i, (m, p) in enumerate(reqs))
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(raw)  # all five requests in one write, before reading anything
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()

# Parse the stream of responses with http.client's parser, one after another.
class Wire:
    def __init__(self, buf):
        self.buf = buf
    def makefile(self, *a, **k):
        return self.buf
class Unclosable(io.BufferedReader):
    def close(self):  # each response "closes" its file when its body is read
        pass
wire = Wire(Unclosable(io.BytesIO(data)))
for m, p in reqs:
    r = http.client.HTTPResponse(wire, method=m)
    r.begin()
    body = r.read()
    print(m, p, r.status, len(body), body[:7])
print("left over:", len(wire.buf.read()))
"#;

#[test]
fn pipelined_requests_come_back_in_order() {
    let (_dir, s) = site();
    let Some(out) = python(PIPELINE, &[&s.addr().port().to_string()]) else {
        return;
    };
    assert_eq!(
        out,
        "GET /a%20b.txt 200 7 b'spaces\\n'\n\
         HEAD /big.bin 200 0 b''\n\
         GET /caf%C3%A9.txt 200 6 b'caf\\xc3\\xa9\\n'\n\
         GET /missing 404 14 b'404 Not'\n\
         GET /big.bin 200 1000000 b'xxxxxxx'\n\
         left over: 0\n"
    );
}
