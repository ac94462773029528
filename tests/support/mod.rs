//! What every end-to-end test needs: the real binaries, freshly built, and waiting on a
//! condition with a deadline instead of sleeping.

#![allow(dead_code)] // Each test module uses a different part of this kit.

pub mod jail;
pub mod serve;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The path of a workspace binary (`fetch`, `serve`), built once per test run.
///
/// `CARGO_BIN_EXE_*` is only set for binaries of the package under test, and these live in
/// other packages: build them with the same cargo and profile, next to this test binary.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        // target/<profile>/deps/e2e-<hash> → target/<profile>
        let dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target dir")
            .to_path_buf();
        let mut cmd = Command::new(env!("CARGO"));
        // The root manifest is a package too: without --workspace, cargo looks for the
        // binaries in the root package only.
        cmd.args([
            "build",
            "--quiet",
            "--workspace",
            "--bin",
            "fetch",
            "--bin",
            "serve",
        ]);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
        dir
    });
    dir.join(name)
}

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
