//! What every end-to-end test needs, one copy of each:
//!
//! - `bins`: the binaries under test (`fetch`, `serve`, `shared`'s examples), built once
//!   per run and found next to the test binary;
//! - `child`: `Child`, the one process guard: stdout and stderr collected, `next_line` for
//!   an address printed first, every wait under a deadline, killed by its PID in `Drop`;
//!   and `run` for a command that runs to completion;
//! - `serve`: `Serve`, a running `serve` on port 0 (or a Unix socket), its address from its
//!   first stdout line, its access log and stderr;
//! - `raw`: the raw HTTP client: exact bytes out, and the reply back as bytes, as a parsed
//!   `Response`, or until the server closes;
//! - `script`: `Script`, a scripted HTTP server in the test process, for `fetch`;
//! - `echo`: `Echo`, a server that sends back the request it got (to compare clients);
//! - `python`: `python3 -m http.server` on port 0;
//! - `jail`: the site-root fixture with a secret beside it and every way out;
//! - `pki`: the test PKI for https:// (a CA, good and bad server certificates, a CRL, a
//!   client certificate), made by rcgen once per run;
//! - here: waiting on a condition, temp folders and small file fixtures.
//!
//! A new test of `serve` starts it, talks to it, and lets the guard stop it:
//!
//! ```ignore
//! let jail = Jail::new();
//! let s = Serve::start(&["-p", "0", "-q", jail.root_str()]);
//! let mut c = s.connect();
//! let r = raw::request(&mut c, "GET /file.txt HTTP/1.1\r\nHost: x\r\n\r\n");
//! assert_eq!((r.status, r.body.len()), (200, 1000));
//! ```
//!
//! A test of `fetch` scripts the server and runs the binary (`crate::fetch::fetch`):
//!
//! ```ignore
//! let s = Script::fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Then::Close);
//! fetch(&[&s.url("/")]).code(0).stdout(b"ok");
//! ```
//!
//! Another program is a `Child` (or `child::run` when it runs to completion); a peer that
//! prints its address reads it with `next_line` or `wait_output`, never a sleep.

#![allow(dead_code)] // Each test module uses a different part of this kit.

pub mod bins;
pub mod child;
pub mod echo;
pub mod jail;
pub mod pki;
pub mod python;
pub mod raw;
pub mod script;
pub mod serve;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use bins::bin;

/// Polls `check` until it returns `Some`, or panics after `limit` naming `what`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The repository's root (where `www/` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A new temp folder whose name starts with `prefix` (tests give it spaces or unicode, so
/// that every path the programs see is an awkward one).
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
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

/// A number unique within this test process.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Bytes as text for a failure message, cut after about 2000 bytes.
pub fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let cut = text.floor_char_boundary(2000);
    if cut < text.len() {
        format!("{}... (cut)", &text[..cut])
    } else {
        text.into_owned()
    }
}

/// Compares two byte strings, showing both (cut) when they differ.
#[track_caller]
pub fn same_bytes(what: &str, want: &[u8], got: &[u8]) {
    if want != got {
        panic!(
            "{what}: bytes differ\n--- want ({} bytes)\n{}\n--- got ({} bytes)\n{}",
            want.len(),
            shown(want),
            got.len(),
            shown(got)
        );
    }
}
