//! A running `serve` for tests: started on port 0 (or a Unix socket), its first stdout line
//! read for the address, its access log collected, and killed when dropped.

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use super::bin;
use super::child::Child;
use super::raw;

// What tests of serve use alongside it, where they have always found it.
pub use super::raw::{Response, read_response, read_to_close, request};
pub use super::{exists, site};

/// A `serve` child process.
pub struct Serve {
    child: Child,
    /// The URL from the startup line (`http://127.0.0.1:PORT/`, `https://...` under
    /// `--tls-cert`, or `unix:PATH`).
    pub url: String,
    /// The TCP address, when listening on TCP.
    pub addr: Option<SocketAddr>,
}

impl Serve {
    /// Starts `serve ARGS...` (add `-p 0`, a DIR, ... yourself) and waits for its first line.
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_cmd(Command::new(bin("serve")).args(args))
    }

    /// Starts a prepared command (e.g. with environment) that runs `serve`.
    pub fn start_cmd(cmd: &mut Command) -> Serve {
        let child = Child::start("serve", cmd);
        // "serving DIR at http://127.0.0.1:PORT/" (or "at unix:PATH").
        let first = child.next_line();
        assert!(first.starts_with("serving "), "startup line: {first}");
        let url = first
            .split(" at ")
            .last()
            .expect("startup line has ' at '")
            .to_string();
        let addr = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .and_then(|r| r.trim_end_matches('/').parse().ok());
        Serve { child, url, addr }
    }

    /// The TCP address (panics for a Unix-socket server).
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("a TCP server")
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Access-log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.child.stdout_lines()
    }

    /// Stops serve with SIGTERM and returns its whole access log once stdout has closed.
    pub fn stop_and_collect_log(&mut self) -> Vec<String> {
        self.signal(15);
        let status = self.wait_exit(Duration::from_secs(30));
        assert!(
            status.success(),
            "serve exited with {status}; stderr: {}",
            self.stderr()
        );
        self.child.wait_closed();
        self.log()
    }

    /// Kills serve with SIGKILL (no draining, no last flush) and returns the access-log lines
    /// it had written out, once its stdout has closed.
    pub fn kill_and_collect_log(&mut self) -> Vec<String> {
        self.signal(9);
        self.wait_exit(Duration::from_secs(30));
        self.child.wait_closed();
        self.log()
    }

    /// Waits until an access-log line satisfies `pred`, and returns it.
    pub fn wait_log(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.child
            .wait_lines(what, |log| log.iter().find(|l| pred(l)).cloned())
    }

    /// What serve wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.child.stderr()
    }

    /// Sends a signal (SIGTERM, SIGINT, ...).
    pub fn signal(&self, sig: i32) {
        self.child.signal(sig);
    }

    /// Waits for the process to exit, within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        self.child.wait_exit(limit)
    }

    /// Opens a TCP connection with 10 s read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        raw::connect(self.addr())
    }

    /// Sends `raw` on a new connection and returns everything until the server closes.
    pub fn raw(&self, raw: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut s = self.connect();
        s.write_all(raw).unwrap();
        raw::read_to_close(&mut s)
    }
}
