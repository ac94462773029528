//! A running `serve` for tests: started on port 0 (or a Unix socket), its first stdout line
//! read for the address, its log collected, and killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::{bin, wait_for};

/// A `serve` child process.
pub struct Serve {
    child: Child,
    /// The URL from the startup line (`http://127.0.0.1:PORT/` or `unix:PATH`).
    pub url: String,
    /// The TCP address, when listening on TCP.
    pub addr: Option<SocketAddr>,
    log: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<String>>,
    stdout_closed: Arc<AtomicBool>,
}

impl Serve {
    /// Starts `serve ARGS...` (add `-p 0`, a DIR, ... yourself) and waits for its first line.
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_cmd(Command::new(bin("serve")).args(args))
    }

    /// Starts a prepared command (e.g. with environment) that runs `serve`.
    pub fn start_cmd(cmd: &mut Command) -> Serve {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let err = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let err2 = Arc::clone(&err);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = Arc::clone(&log);
        let stdout_closed = Arc::new(AtomicBool::new(false));
        let closed2 = Arc::clone(&stdout_closed);
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut lines = stdout.lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = first_tx.send(first);
            }
            for line in lines.map_while(Result::ok) {
                log2.lock().unwrap().push(line);
            }
            closed2.store(true, Ordering::Release);
        });
        let first = match first_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve printed no startup line; stderr: {}",
                    err.lock().unwrap()
                );
            }
        };
        let url = first
            .split(" at ")
            .last()
            .expect("startup line has ' at '")
            .to_string();
        assert!(first.starts_with("serving "), "startup line: {first}");
        let addr = url
            .strip_prefix("http://")
            .and_then(|r| r.trim_end_matches('/').parse().ok());
        Serve {
            child,
            url,
            addr,
            log,
            err,
            stdout_closed,
        }
    }

    /// The TCP address (panics for a Unix-socket server).
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("a TCP server")
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Access-log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Stops serve with SIGTERM and returns its whole access log once stdout has closed.
    pub fn stop_and_collect_log(&mut self) -> Vec<String> {
        self.signal(15);
        let status = self.wait_exit(Duration::from_secs(20));
        assert!(
            status.success(),
            "serve exited with {status}; stderr: {}",
            self.stderr()
        );
        wait_for("serve's stdout to close", Duration::from_secs(10), || {
            self.stdout_closed.load(Ordering::Acquire).then_some(())
        });
        self.log()
    }

    /// Kills serve with SIGKILL (no draining, no last flush) and returns the access-log lines
    /// it had written out, once its stdout has closed.
    pub fn kill_and_collect_log(&mut self) -> Vec<String> {
        self.signal(9);
        self.wait_exit(Duration::from_secs(10));
        wait_for("serve's stdout to close", Duration::from_secs(10), || {
            self.stdout_closed.load(Ordering::Acquire).then_some(())
        });
        self.log()
    }

    /// Waits until an access-log line satisfies `pred`, and returns it.
    pub fn wait_log(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        wait_for(what, Duration::from_secs(10), || {
            self.log().into_iter().find(|l| pred(l))
        })
    }

    /// What serve wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Sends a signal (SIGTERM, SIGINT, ...).
    pub fn signal(&self, sig: i32) {
        // The child is ours and alive until waited for: its PID cannot be reused yet.
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_for("serve to exit", limit, || self.child.try_wait().unwrap())
    }

    /// Opens a TCP connection with 10 s read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).expect("connect to serve");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends `raw` on a new connection and returns everything until the server closes.
    pub fn raw(&self, raw: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.write_all(raw).unwrap();
        read_to_close(&mut s)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads until the peer closes (a reset after the data counts as a close).
pub fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("read: {e} after {} bytes", out.len()),
        }
    }
}

/// One parsed response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body bytes (Content-Length framed; none for HEAD when `head` is set).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one Content-Length-framed response from a persistent connection, keeping any
/// bytes after it in `pending` for the next call.
pub fn read_response(s: &mut impl Read, pending: &mut Vec<u8>, head_only: bool) -> Response {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(n) = resp.parse(pending).expect("a valid response head") {
            let status = resp.code.unwrap();
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let len: usize = if head_only || status == 204 || status == 304 {
                0
            } else {
                headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map(|(_, v)| v.parse().unwrap())
                    .expect("content-length")
            };
            while pending.len() < n + len {
                let got = s.read(&mut buf).expect("read body");
                assert!(
                    got > 0,
                    "closed after {} of {len} body bytes",
                    pending.len() - n
                );
                pending.extend_from_slice(&buf[..got]);
            }
            let body = pending[n..n + len].to_vec();
            pending.drain(..n + len);
            return Response {
                status,
                headers,
                body,
            };
        }
        let got = s.read(&mut buf).expect("read head");
        assert!(
            got > 0,
            "closed before a whole response head: {:?}",
            String::from_utf8_lossy(pending)
        );
        pending.extend_from_slice(&buf[..got]);
    }
}

/// Sends one request on `s` and reads its response.
pub fn request(s: &mut TcpStream, raw: &str) -> Response {
    s.write_all(raw.as_bytes()).unwrap();
    let mut pending = Vec::new();
    let r = read_response(s, &mut pending, raw.starts_with("HEAD "));
    assert!(pending.is_empty(), "unexpected bytes after the response");
    r
}

/// A temp folder for a site, with awkward names.
pub fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(root.join("a b.txt"), "spaces\n").unwrap();
    std::fs::write(root.join("caf\u{e9} \"q\" %20.txt"), "awkward\n").unwrap();
    std::fs::write(root.join(".secret"), "DOTFILE-SECRET\n").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/index.html"), "sub\n").unwrap();
    std::fs::create_dir(root.join("empty")).unwrap();
    dir
}

/// Checks a path exists or not, for socket files.
pub fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}
