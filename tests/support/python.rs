//! Python as a peer: which python3 to run, and `python3 -m http.server` on port 0.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use super::child::Child;

/// The python to run: the system's when there is one. A version manager's shim (pyenv)
/// may write warnings to the controlling terminal, which spoils the pty tests running at the
/// same time.
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Starts `PYTHON -m http.server` on 127.0.0.1, port 0, serving `dir`; returns it and the
/// port it printed.
pub fn http_server(python: impl AsRef<OsStr>, dir: &Path) -> (Child, u16) {
    let child = Child::start(
        "python3 -m http.server",
        Command::new(python)
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir),
    );
    // First stdout line: "Serving HTTP on 127.0.0.1 port 40097 (http://127.0.0.1:40097/) ..."
    let line = child.next_line();
    let port = line
        .split(" port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("python's 'Serving HTTP' line: {line}"));
    (child, port)
}
