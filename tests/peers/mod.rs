//! Against the software people already use: curl, wget, python, headless Chromium as clients
//! of `serve`; python's http.server, nginx and httpbin as servers for `fetch`; HAProxy,
//! nginx, SO_REUSEPORT and systemd socket activation around several `serve` processes.
//!
//! A peer that is not installed fails the test in CI (`CI` set, as `.ci/run` does) with a
//! message naming the package; locally the test prints `skipped: ...` and passes.

mod browser;
mod curl;
mod https;
mod origins;
mod python;
mod scale;
pub(crate) mod tls;
mod wget;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::raw;
// The kit the peer tests share, from tests/support.
pub use crate::support::bins::artifacts_dir;
pub use crate::support::child::{Child, run};
pub use crate::support::{noise, put, same_bytes, temp_dir, unique, wait_for};

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

/// Starts a peer that cannot listen on port 0 (nginx, haproxy) on a free loopback port.
///
/// The port is found by binding 127.0.0.1:0 and releasing it, so another process may take it
/// before the peer binds. Two guards make that harmless: the peer adds a response header
/// `X-Peer-Token: TOKEN` (a value unique to this start), and it is ready only when an HTTP
/// probe on the port gets that header back — never someone else's server; if the peer exits
/// (address in use), a new port is tried, up to 10 times.
pub fn start_on_free_port(name: &str, mut start: impl FnMut(u16, &str) -> Child) -> (Child, u16) {
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
        // It exited: let everything it said arrive before reading why.
        d.wait_closed();
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

/// Whether a HEAD / on the port answers with `X-Peer-Token: token`.
fn probe_token(port: u16, token: &str) -> bool {
    let req = format!("HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    raw::exchange(("127.0.0.1", port), req.as_bytes()).is_some_and(|head| {
        String::from_utf8_lossy(&head)
            .to_ascii_lowercase()
            .contains(&format!("x-peer-token: {token}"))
    })
}
