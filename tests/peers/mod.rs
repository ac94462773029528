//! Against the software people already use: curl, wget, python, headless Chromium as clients
//! of `serve`; python's http.server, nginx and httpbin as servers for `fetch`; HAProxy,
//! nginx, SO_REUSEPORT and systemd socket activation around several `serve` processes.
//!
//! A peer that is not installed fails the test in CI (`CI` set, as `.ci/run` does) with a
//! message naming the package; locally the test prints `skipped: ...` and passes.

mod browser;
mod curl;
mod origins;
mod python;
mod scale;
mod wget;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::wait_for;

/// Whether this run is CI, where a missing peer is a failure rather than a skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The full path of `program` on PATH, or in the sbin folders (nginx and haproxy live
/// there, and a non-root PATH often lacks them).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Checks that a peer is usable; `found` is the result of looking for it. In CI a missing
/// peer panics with `how` (what installs it); locally the test prints why it skips.
#[must_use]
pub fn peer(name: &str, found: bool, how: &str) -> bool {
    if found {
        return true;
    }
    assert!(
        !in_ci(),
        "peer {name} is not installed, and CI must test with it: {how} (.ci/run does this)"
    );
    eprintln!("skipped: {name} not installed ({how})");
    false
}

/// `peer` for a program found by `which`: its path, or `None` to skip.
pub fn program(name: &str, debian_package: &str) -> Option<PathBuf> {
    let found = which(name);
    peer(
        name,
        found.is_some(),
        &format!("apt-get install {debian_package}"),
    )
    .then(|| found.unwrap())
}

/// Whether python3 can import `module` (a PyPI package); skips or fails as `peer` does.
pub fn python_module(module: &str, pip: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    peer(
        &format!("python module {module}"),
        found,
        &format!("pip install {pip}"),
    )
}

/// Runs a command to completion within `limit`, killing it (ours) and failing if it hangs.
#[track_caller]
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {limit:?}: killed");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// A long-running peer (nginx, haproxy, gunicorn, ...) started by a test: its stdout and
/// stderr are collected, and it is killed (by its own PID) when dropped.
pub struct Daemon {
    name: String,
    child: Child,
    output: Arc<Mutex<String>>,
    /// Stop with SIGTERM first (and SIGKILL after 5 s): for peers with worker processes
    /// (gunicorn), which the parent stops on SIGTERM but SIGKILL would orphan.
    pub term_first: bool,
}

impl Daemon {
    /// Starts `cmd`, collecting both output streams into one text.
    pub fn start(name: &str, cmd: &mut Command) -> Daemon {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for stream in [Box::new(out) as Box<dyn Read + Send>, Box::new(err)] {
            let output = Arc::clone(&output);
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut o = output.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Daemon {
            name: name.to_string(),
            child,
            output,
            term_first: false,
        }
    }

    /// Everything it printed so far (stdout and stderr, interleaved by line).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until its output satisfies `find`, failing early if it exits.
    pub fn wait_output<T>(&mut self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let name = self.name.clone();
        wait_for(&format!("{name}: {what}"), Duration::from_secs(20), || {
            if let Some(v) = find(&self.output()) {
                return Some(v);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{name} exited ({status}) before {what}:\n{}", self.output());
            }
            None
        })
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.term_first && self.child.try_wait().is_ok_and(|s| s.is_none()) {
            // Our own child, not yet waited for: its PID is still ours.
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && self.child.try_wait().is_ok_and(|s| s.is_none()) {
                thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a peer that cannot listen on port 0 (nginx, haproxy) on a free loopback port.
///
/// The port is found by binding 127.0.0.1:0 and releasing it, so another process may take it
/// before the peer binds. Two guards make that harmless: the peer adds a response header
/// `X-Peer-Token: TOKEN` (a value unique to this start), and it is ready only when an HTTP
/// probe on the port gets that header back — never someone else's server; if the peer exits
/// (address in use), a new port is tried, up to 10 times.
pub fn start_on_free_port(name: &str, mut start: impl FnMut(u16, &str) -> Daemon) -> (Daemon, u16) {
    for attempt in 0..10 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let token = format!("{}-{}-{attempt}", std::process::id(), unique());
        let mut d = start(port, &token);
        let ready = wait_for(
            &format!("{name} to answer on port {port}"),
            Duration::from_secs(20),
            || {
                if d.exited() {
                    return Some(false);
                }
                probe_token(port, &token).then_some(true)
            },
        );
        if ready {
            return (d, port);
        }
        // Only a lost race for the port is worth another try; anything else is a real error.
        assert!(
            d.output().contains("already in use"),
            "{name} exited:\n{}",
            d.output()
        );
        eprintln!(
            "{name} could not start on port {port}, trying another:\n{}",
            d.output()
        );
    }
    panic!("{name} could not start on any of 10 free ports");
}

/// A number unique within this test process.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether a HEAD / on the port answers with `X-Peer-Token: token`.
fn probe_token(port: u16, token: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = Vec::new();
    let _ = s.read_to_end(&mut head);
    String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .contains(&format!("x-peer-token: {token}"))
}

/// Where tests leave files for people to look at (screenshots): `target/test-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/e2e-<hash> → target/test-artifacts
    let dir = exe
        .ancestors()
        .nth(3)
        .expect("target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compares two byte strings, showing both (cut) when they differ.
#[track_caller]
pub fn same_bytes(what: &str, want: &[u8], got: &[u8]) {
    if want != got {
        let show = |b: &[u8]| {
            let t = String::from_utf8_lossy(b);
            let cut = t.floor_char_boundary(1500);
            format!(
                "{}{}",
                &t[..cut],
                if cut < t.len() { "... (cut)" } else { "" }
            )
        };
        panic!(
            "{what}: bytes differ\n--- want ({} bytes)\n{}\n--- got ({} bytes)\n{}",
            want.len(),
            show(want),
            got.len(),
            show(got)
        );
    }
}

/// Writes a file, creating its folder.
pub fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// Bytes that are not all the same and not text: `len` of them, from `seed`.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            // xorshift32: cheap, deterministic, every byte value occurs.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}
