//! `fetch` end to end: the real binary against a scripted raw-socket server (exact bytes,
//! every broken reply on purpose) and against `python3 -m http.server`.

mod against_serve;
mod body;
mod compressed;
mod curl_lines;
mod errors;
mod many;
mod output;
mod python;
mod redirects;
mod resume;
mod retry;
pub mod scripted;
mod timing;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::support::{bin, wait_for};

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

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 2000 {
        format!("{}... (cut)", &text[..text.floor_char_boundary(2000)])
    } else {
        text.into_owned()
    }
}

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

/// Runs `fetch args` with `input` on its stdin.
pub fn fetch_with_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    run_with_stdin(&mut Command::new(bin("fetch")), dir, args, input)
}

/// Runs `program args` in `dir` with `input` on its stdin (curl, to compare with).
pub fn run_with_stdin(program: &mut Command, dir: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = program
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fetch");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let run = finish(child, args);
    feeder.join().unwrap();
    run
}

/// Runs `fetch args` in the current folder.
pub fn fetch(args: &[&str]) -> Run {
    fetch_in(Path::new("."), args)
}

/// Runs `fetch args` in `dir`, killing it (and failing) if it runs for more than 30 s.
pub fn fetch_in(dir: &Path, args: &[&str]) -> Run {
    let child = Command::new(bin("fetch"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fetch");
    finish(child, args)
}

/// Collects a started `fetch`'s output and exit code, under a 30 s deadline.
pub fn finish(mut child: Child, args: &[&str]) -> Run {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_for_exit(&mut child, args);
    Run {
        code: status.code().expect("fetch ended by a signal"),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn wait_for_exit(child: &mut Child, args: &[&str]) -> std::process::ExitStatus {
    let limit = Duration::from_secs(30);
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(&format!("fetch {args:?} to exit"), limit, || {
            child.try_wait().expect("wait for fetch")
        })
    }));
    match waited {
        Ok(status) => status,
        Err(panic) => {
            // It hangs: stop it (we started it) and report the hang.
            let _ = child.kill();
            let _ = child.wait();
            std::panic::resume_unwind(panic)
        }
    }
}
