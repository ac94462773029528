//! `Echo`, a request-echo HTTP server in the test process: it sends back the request it
//! received (head without `User-Agent`, which names the program, then the body), so that two
//! clients given the same command line can be compared by what they print. A few paths
//! answer otherwise (redirects, statuses, cookies, `Content-Disposition`, validators, a slow
//! drip, `100 Continue` and `417`), listed on [`Echo`].

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// An echo server on 127.0.0.1 (a free port); stops accepting when dropped.
///
/// - `/r/NNN...`: answers status NNN with `Location: /echo` (a redirect);
/// - `/tolocal/PORT`: a 302 to `http://localhost:PORT/echo` (another host name);
/// - `/status/NNN...`: answers status NNN with the body `oops\n`;
/// - `/bytes/N`: N bytes of a fixed pattern; `/loop`: a redirect to itself; `/drip`: 20
///   bytes at 10 a second;
/// - `/dated`: `dated\n` with a `Last-Modified` (for `-R`); `/etag`: one with an `ETag`;
/// - `/disp/NAME`: `body\n` with `Content-Disposition: attachment; filename="NAME"`
///   (`%2F` and `%20` decoded); `/dispu/...`: the same, unquoted, with a parameter after;
/// - `/setc...`: a redirect to `/echo` that sets seven cookies of every kind;
/// - `/continue...`: answers `Expect: 100-continue` with `100 Continue`; `/reject...`
///   answers it with a 417 and closes, without reading the body;
/// - anything else: 200 with the request as the body, less its `User-Agent` line.
pub struct Echo {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Echo {
    pub fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    thread::spawn(move || echo(conn));
                }
            }
        });
        Echo { port, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn echo(mut conn: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let Some(end) = fill_until(&mut conn, &mut buf, |b| find(b, b"\r\n\r\n")) else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        if header("expect").is_some() && path.starts_with("/reject") {
            // Refuse the body before it comes: the client must not send it.
            let _ = conn.write_all(
                b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n",
            );
            return;
        }
        if header("expect").is_some() && path.starts_with("/continue") {
            let _ = conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let body = if header("transfer-encoding").is_some() {
            let Some(end) = fill_until(&mut conn, &mut buf, |b| find(b, b"0\r\n\r\n")) else {
                return;
            };
            buf.drain(..end + 5).collect::<Vec<u8>>()
        } else {
            let n: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
            if fill_until(&mut conn, &mut buf, |b| (b.len() >= n).then_some(n)).is_none() {
                return;
            }
            buf.drain(..n).collect()
        };
        if path == "/drip" {
            // 20 bytes, one every 100 ms: 10 bytes a second.
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n");
            for _ in 0..20 {
                if conn.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(std::time::Duration::from_millis(100));
            }
            continue;
        }
        let reply = if let Some(port) = path.strip_prefix("/tolocal/") {
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/echo\r\n\
                 Content-Length: 0\r\n\r\n"
            )
            .into_bytes()
        } else if let Some(code) = path.strip_prefix("/r/") {
            format!(
                "HTTP/1.1 {} Moved\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n",
                &code[..3]
            )
            .into_bytes()
        } else if path.starts_with("/setc") {
            b"HTTP/1.1 302 Found\r\nLocation: /echo\r\nSet-Cookie: a=1\r\n\
              Set-Cookie: b=2; Path=/; Expires=Wed, 01 Jan 2098 00:00:00 GMT; HttpOnly\r\n\
              Set-Cookie: c=3; Path=/sub; Domain=127.0.0.1\r\nSet-Cookie: d=4; Secure\r\n\
              Set-Cookie: e=5; Max-Age=0\r\nSet-Cookie: f=6; Domain=other.test\r\n\
              Set-Cookie: g=7; Path=/echo\r\nContent-Length: 0\r\n\r\n"
                .to_vec()
        } else if let Some(name) = path.strip_prefix("/disp/") {
            let name = name.replace("%2F", "/").replace("%20", " ");
            format!(
                "HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Length: 5\r\n\r\nbody\n"
            )
            .into_bytes()
        } else if path.starts_with("/dispu/") {
            b"HTTP/1.1 200 OK\r\nContent-Disposition: inline; filename=plain.txt; size=5\r\n\
              Content-Length: 5\r\n\r\nbody\n"
                .to_vec()
        } else if path == "/loop" {
            b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n".to_vec()
        } else if let Some(n) = path.strip_prefix("/bytes/") {
            let n: usize = n.parse().unwrap_or(0);
            let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
            reply.extend((0..n).map(|i| (i % 251) as u8));
            reply
        } else if path == "/etag" {
            b"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\netag\n".to_vec()
        } else if path == "/dated" {
            b"HTTP/1.1 200 OK\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n\
              Content-Length: 6\r\n\r\ndated\n"
                .to_vec()
        } else if let Some(code) = path.strip_prefix("/status/") {
            format!(
                "HTTP/1.1 {} Status\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\noops\n",
                &code[..3]
            )
            .into_bytes()
        } else {
            let mut out: Vec<u8> = head
                .split("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("user-agent:"))
                .flat_map(|l| [l.as_bytes(), b"\r\n"].concat())
                .collect();
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                out.len()
            )
            .into_bytes();
            reply.extend_from_slice(&out);
            reply
        };
        if conn.write_all(&reply).is_err() {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads into `buf` until `done` finds what it looks for; `None` when the client closed.
fn fill_until(
    conn: &mut TcpStream,
    buf: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> Option<usize>,
) -> Option<usize> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(at) = done(buf) {
            return Some(at);
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
