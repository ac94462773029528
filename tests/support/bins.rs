//! The binaries under test, built once per test run, found next to the test binary.
//!
//! `CARGO_BIN_EXE_*` is only set for binaries of the package under test, and `fetch`, `serve`
//! and `shared`'s examples live in other packages: build them with the same cargo and profile,
//! and find them in `target/<profile>/`, the folder above this test binary's `deps/`.
//!
//! Packages other than the root one include this file with `#[path]` (`shared/tests`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `target/<profile>`: where cargo puts the binaries of the profile this test was built with.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test>-<hash> → target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// Runs `cargo build --quiet ARGS` from this package's folder, in this test's profile.
fn cargo_build(args: &[&str]) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet"]).args(args);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir().ends_with("release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
}

/// The path of a workspace binary (`fetch`, `serve`), built once per test run.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    // The root manifest is a package too: without --workspace, cargo looks for the
    // binaries in the root package only.
    BUILT.get_or_init(|| cargo_build(&["--workspace", "--bin", "fetch", "--bin", "serve"]));
    profile_dir().join(name)
}

/// The path of one of `shared`'s examples (`echo_server`, ...), built once per test run.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| cargo_build(&["-p", "shared", "--examples"]));
    profile_dir().join("examples").join(name)
}

/// Where tests leave files for people to look at (screenshots): `target/test-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = profile_dir()
        .parent()
        .expect("target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
