//! Test-only helpers: a temporary folder holding `root/`, the folder a test serves, with
//! room beside it for what must stay outside the root; and a small mutation fuzzer.

use std::fs;
use std::path::PathBuf;

/// The folder; removed on drop.
pub(crate) struct TestDir {
    _dir: tempfile::TempDir,
    /// The canonical temporary folder (outside the root).
    pub(crate) base: PathBuf,
    /// `base/root`, created empty.
    pub(crate) root: PathBuf,
}

/// A new, empty test folder.
pub(crate) fn new() -> TestDir {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let root = base.join("root");
    fs::create_dir(&root).unwrap();
    TestDir {
        _dir: dir,
        base,
        root,
    }
}

/// Runs `check` on `n` deterministic mutations of `seed` (byte changes, insertions of
/// delimiter-ish bytes, cuts): a poor man's fuzzer for every `cargo test`.
pub(crate) fn mutations(seed: &[u8], n: usize, check: impl Fn(&[u8])) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..n {
        let mut v = seed.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % v.len();
            match next() % 4 {
                0 => v[at] = next() as u8,
                1 => v.insert(at, b"\r\n-;0"[(next() % 5) as usize]),
                2 => v.truncate(at.max(1)),
                _ if v.len() > 2 => {
                    v.remove(at.max(1).min(v.len() - 1));
                }
                _ => {}
            }
        }
        check(&v);
    }
}

/// Waits (up to 10 s, polling) until `done` holds; panics if it never does.
pub(crate) fn eventually(mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < until, "never happened");
        std::thread::yield_now();
    }
}
