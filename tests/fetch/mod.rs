//! `fetch` end to end: the real binary against a scripted raw-socket server (exact bytes,
//! every broken reply on purpose) and against `python3 -m http.server`.

mod against_serve;
mod body;
mod compressed;
pub(crate) mod curl_lines;
mod curl_options;
mod digest;
mod errors;
mod existing_file;
mod form_stream;
mod many;
pub mod mirror;
mod output;
mod proxy_auth;
mod python;
mod redirects;
mod resume;
mod retry;
mod timing;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::child::Child;
use crate::support::{bin, shown};
// Which python to run and the scripted server, where the fetch tests have always found them.
pub use crate::support::python::python;
pub use crate::support::script as scripted;

/// How a `fetch` run ended.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing stderr when it is not the expected one.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code {} (want {want}); stderr: {}",
            self.code, self.stderr
        );
        self
    }

    /// Asserts stdout byte for byte, printing both side by side when they differ.
    #[track_caller]
    pub fn stdout(&self, want: &[u8]) -> &Run {
        if self.stdout != want {
            panic!(
                "stdout differs\n--- want ({} bytes)\n{}\n--- got ({} bytes)\n{}\n--- stderr\n{}",
                want.len(),
                shown(want),
                self.stdout.len(),
                shown(&self.stdout),
                self.stderr
            );
        }
        self
    }

    /// Asserts stderr is the one line `fetch: {want}...`.
    #[track_caller]
    pub fn error(&self, want: &str) -> &Run {
        let line = self.stderr.trim_end_matches('\n');
        assert!(
            !line.contains('\n') && line.starts_with("fetch: ") && line.contains(want),
            "stderr should be one line 'fetch: ...{want}...', got: {:?}",
            self.stderr
        );
        self
    }
}

/// Runs `fetch args` in `dir` with `input` on its stdin.
pub fn fetch_with_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    run_with_stdin(&mut Command::new(bin("fetch")), dir, args, input)
}

/// Runs `program args` in `dir` with `input` on its stdin (curl, to compare with).
pub fn run_with_stdin(program: &mut Command, dir: &Path, args: &[&str], input: &[u8]) -> Run {
    let name = program.get_program().to_string_lossy().into_owned();
    finish(Child::start_with_input(
        &name,
        program.args(args).current_dir(dir),
        input,
    ))
}

/// Runs `fetch args` in the current folder.
pub fn fetch(args: &[&str]) -> Run {
    fetch_in(Path::new("."), args)
}

/// Runs `fetch args` in `dir`.
pub fn fetch_in(dir: &Path, args: &[&str]) -> Run {
    fetch_cmd(Command::new(bin("fetch")).args(args).current_dir(dir))
}

/// Runs a prepared command that runs `fetch` (under `/usr/bin/time`, in a shell pipe, ...).
pub fn fetch_cmd(cmd: &mut Command) -> Run {
    finish(Child::start("fetch", cmd))
}

/// Collects a started `fetch`'s output and exit code, killing it (and failing) if it runs
/// for more than 30 s.
fn finish(child: Child) -> Run {
    let out = child.finish(Duration::from_secs(30));
    Run {
        code: out.status.code().expect("fetch ended by a signal"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
