//! A scripted HTTP server for `fetch`'s tests, in the test process: it reads each request
//! head and answers with exact bytes chosen by the test (or lets the test write whatever it
//! wants, for as long as it wants), so every broken or unusual reply can be produced on
//! purpose. It counts the connections it accepts and keeps every request head it read.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// What the server does after writing its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Close the connection.
    Close,
    /// Wait for the next request on the same connection.
    KeepAlive,
    /// Keep the connection open, reading nothing more, until the client closes it.
    Hang,
}

/// Answers one request head on the connection, and says what to do next.
type Handler = dyn Fn(&mut dyn Write, &str) -> Then + Send + Sync;

#[derive(Default)]
struct State {
    accepted: AtomicUsize,
    requests: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// A running scripted server; stops accepting when dropped.
pub struct Script {
    addr: Option<SocketAddr>,
    socket: Option<PathBuf>,
    state: Arc<State>,
}

impl Script {
    /// Starts a server on 127.0.0.1 (a free port) answering each request head with
    /// `handler(head)`.
    pub fn start(handler: impl Fn(&str) -> (Vec<u8>, Then) + Send + Sync + 'static) -> Script {
        Script::start_tcp(Arc::new(replying(handler)))
    }

    /// Starts a server on 127.0.0.1 (a free port) that lets `write(conn, head)` write
    /// whatever it wants for each request, then closes the connection. The writer must end
    /// by itself (when the client goes away, or after a bound of its own).
    pub fn start_writer(write: impl Fn(&mut dyn Write, &str) + Send + Sync + 'static) -> Script {
        Script::start_tcp(Arc::new(move |conn: &mut dyn Write, head: &str| {
            write(conn, head);
            Then::Close
        }))
    }

    fn start_tcp(handler: Arc<Handler>) -> Script {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        accept_all(state.clone(), handler, move || {
            listener.accept().map(|(c, _)| c)
        });
        Script {
            addr: Some(addr),
            socket: None,
            state,
        }
    }

    /// The same, on a Unix-domain socket at `path`.
    pub fn start_unix(
        path: &Path,
        handler: impl Fn(&str) -> (Vec<u8>, Then) + Send + Sync + 'static,
    ) -> Script {
        let listener = UnixListener::bind(path).expect("bind unix socket");
        let state = Arc::new(State::default());
        accept_all(state.clone(), Arc::new(replying(handler)), move || {
            listener.accept().map(|(c, _)| c)
        });
        Script {
            addr: None,
            socket: Some(path.to_path_buf()),
            state,
        }
    }

    /// A server that answers every request with the same bytes.
    pub fn fixed(reply: &[u8], then: Then) -> Script {
        let reply = reply.to_vec();
        Script::start(move |_| (reply.clone(), then))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.expect("a TCP script").port()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Every request head read so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag and ends.
        if let Some(addr) = self.addr {
            let _ = TcpStream::connect(addr);
        }
        if let Some(path) = &self.socket {
            let _ = UnixStream::connect(path);
        }
    }
}

/// A handler that answers each head with the bytes `reply(head)` gives.
fn replying(
    reply: impl Fn(&str) -> (Vec<u8>, Then) + Send + Sync,
) -> impl Fn(&mut dyn Write, &str) -> Then + Send + Sync {
    move |conn: &mut dyn Write, head: &str| {
        let (bytes, then) = reply(head);
        // The client may have gone already: the test looks at what it saw, not at this.
        let _ = conn.write_all(&bytes);
        then
    }
}

trait Conn: Read + Write {
    fn close_write(&self);
}
impl Conn for TcpStream {
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}
impl Conn for UnixStream {
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Accepts connections with `accept` on a thread of their own, each served on its own
/// thread, until the script is stopped.
fn accept_all<C: Conn + Send + 'static>(
    state: Arc<State>,
    handler: Arc<Handler>,
    accept: impl Fn() -> std::io::Result<C> + Send + 'static,
) {
    thread::spawn(move || {
        loop {
            let conn = accept();
            if state.stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(conn) = conn else { continue };
            state.accepted.fetch_add(1, Ordering::SeqCst);
            let (st, handler) = (state.clone(), handler.clone());
            thread::spawn(move || serve(conn, &st, &*handler));
        }
    });
}

fn serve(mut conn: impl Conn, state: &State, handler: &Handler) {
    let mut buf = Vec::new();
    loop {
        let Some(head) = read_head(&mut conn, &mut buf) else {
            return;
        };
        state.requests.lock().unwrap().push(head.clone());
        match handler(&mut conn, &head) {
            Then::Close => {
                conn.close_write();
                return;
            }
            Then::KeepAlive => {}
            Then::Hang => {
                let mut sink = [0u8; 1024];
                while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
        }
    }
}

/// Reads one request head (up to the empty line, or the one line of an HTTP/0.9 simple
/// request); `None` when the client closed first.
fn read_head(conn: &mut impl Conn, buf: &mut Vec<u8>) -> Option<String> {
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(buf).into_owned();
        if let Some(i) = text.find("\r\n\r\n") {
            buf.drain(..i + 4);
            return Some(text[..i + 4].to_string());
        }
        if let Some(i) = text.find("\r\n")
            && !text[..i].contains(" HTTP/")
        {
            buf.drain(..i + 2);
            return Some(text[..i + 2].to_string());
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The path of a request head's request line (`/x` in `GET /x HTTP/1.1`).
pub fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

/// A 200 response with `Content-Length`, keeping the connection open.
pub fn ok(body: &[u8]) -> (Vec<u8>, Then) {
    let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    (out, Then::KeepAlive)
}

/// The `N` of a request head's `Range: bytes=N-`, if it has one.
pub fn range_start(head: &str) -> Option<usize> {
    head.lines()
        .find_map(|l| l.strip_prefix("Range: bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
}

/// A 206 with `data` from `start` to its end (`Content-Range`, `Content-Length`) after the
/// header lines `extra` (each ending in CRLF), keeping the connection open.
pub fn rest_from(data: &[u8], start: usize, extra: &str) -> (Vec<u8>, Then) {
    let mut out = format!(
        "HTTP/1.1 206 Partial Content\r\n{extra}Content-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\n\r\n",
        data.len() - 1,
        data.len(),
        data.len() - start
    )
    .into_bytes();
    out.extend_from_slice(&data[start..]);
    (out, Then::KeepAlive)
}
