//! A child process under test: its stdout and stderr are collected by threads (so a full
//! pipe never stalls it), read a line at a time or whole; every wait has a deadline, and the
//! guard kills the child, by its own PID, when it drops.
//!
//! Packages other than the root one include this file with `#[path]` (`shared/tests`).

use std::io::{ErrorKind, Read, Write};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any one wait on a child (a line, its output, its exit) takes by default
/// before the test gives up.
pub const LIMIT: Duration = Duration::from_secs(30);

/// What one output stream has written so far.
#[derive(Default)]
struct Pipe {
    bytes: Vec<u8>,
    /// How much of `bytes` `next_line` has taken off the front.
    taken: usize,
    closed: bool,
}

impl Pipe {
    /// What is left after the lines taken.
    fn rest(&self) -> &[u8] {
        &self.bytes[self.taken..]
    }

    /// Takes the next whole line (the last one may lack its newline once the pipe closed).
    fn take_line(&mut self) -> Option<String> {
        let rest = self.rest();
        let end = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if self.closed && !rest.is_empty() => rest.len(),
            None => return None,
        };
        let line = lines(&rest[..end]).pop().unwrap_or_default();
        self.taken += end;
        Some(line)
    }

    /// The whole lines left (and the last one without a newline once the pipe closed).
    fn lines(&self) -> Vec<String> {
        let rest = self.rest();
        let whole = match rest.iter().rposition(|&b| b == b'\n') {
            _ if self.closed => rest.len(),
            Some(i) => i + 1,
            None => 0,
        };
        lines(&rest[..whole])
    }
}

/// Both output streams, and the condition that says either changed.
#[derive(Default)]
struct Pipes {
    state: Mutex<[Pipe; 2]>,
    changed: Condvar,
}

const OUT: usize = 0;
const ERR: usize = 1;

impl Pipes {
    /// The streams, locked. A test that failed while holding the lock does not make every
    /// later look (the guard's `Drop`, the failure message) fail too.
    fn lock(&self) -> MutexGuard<'_, [Pipe; 2]> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies `from` into stream `which` until it closes, waking every waiter each time.
    fn collect(self: Arc<Self>, which: usize, mut from: impl Read + Send + 'static) {
        thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // An error other than EINTR on a pipe ends it, as its end does.
                    got => got.unwrap_or(0),
                };
                let mut state = self.lock();
                if n == 0 {
                    state[which].closed = true;
                } else {
                    state[which].bytes.extend_from_slice(&buf[..n]);
                }
                self.changed.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
    }

    /// Calls `check` on the streams each time they change, until it returns `Some` or
    /// `limit` passes (`None`). `check` is also called every 50 ms, for conditions that
    /// do not come from the streams (the child's exit).
    fn wait<T>(
        &self,
        limit: Duration,
        mut check: impl FnMut(&mut [Pipe; 2]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + limit;
        let mut state = self.lock();
        loop {
            if let Some(v) = check(&mut state) {
                return Some(v);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let slice = (deadline - now).min(Duration::from_millis(50));
            state = self
                .changed
                .wait_timeout(state, slice)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A running child process; killed (SIGKILL to its PID) and reaped when dropped.
pub struct Child {
    name: String,
    process: std::process::Child,
    pipes: Arc<Pipes>,
    term_first: bool,
}

impl Child {
    /// Starts `cmd` with stdin empty and stdout and stderr collected; `name` says which
    /// child it is in failure messages.
    pub fn start(name: &str, cmd: &mut Command) -> Child {
        Child::spawn(name, cmd.stdin(Stdio::null()))
    }

    /// Starts `cmd` like `start`, writing `input` to its stdin (then closing it).
    pub fn start_with_input(name: &str, cmd: &mut Command, input: &[u8]) -> Child {
        let mut child = Child::spawn(name, cmd.stdin(Stdio::piped()));
        let mut stdin = child.process.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        // A child that exits without reading all of it is not this writer's business.
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        child
    }

    fn spawn(name: &str, cmd: &mut Command) -> Child {
        let mut process = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let pipes = Arc::new(Pipes::default());
        Arc::clone(&pipes).collect(OUT, process.stdout.take().expect("piped stdout"));
        Arc::clone(&pipes).collect(ERR, process.stderr.take().expect("piped stderr"));
        Child {
            name: name.to_string(),
            process,
            pipes,
            term_first: false,
        }
    }

    /// Stops it with SIGTERM first (SIGKILL after 5 s) when dropped: for peers with worker
    /// processes (gunicorn), which the parent stops on SIGTERM but SIGKILL would orphan.
    pub fn term_first(mut self) -> Child {
        self.term_first = true;
        self
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Takes the next line off its stdout, waiting at most `LIMIT`; fails, with what it
    /// wrote on stderr, if none comes.
    #[track_caller]
    pub fn next_line(&self) -> String {
        self.next_line_of(OUT, "stdout")
    }

    /// Takes the next line off its stderr, waiting at most `LIMIT`.
    #[track_caller]
    pub fn next_err_line(&self) -> String {
        self.next_line_of(ERR, "stderr")
    }

    #[track_caller]
    fn next_line_of(&self, which: usize, stream: &str) -> String {
        let mut closed = false;
        let line = self.pipes.wait(LIMIT, |p| {
            closed = p[which].closed;
            p[which].take_line()
        });
        line.unwrap_or_else(|| {
            let why = if closed { "it closed" } else { "none came" };
            panic!(
                "{}: no {stream} line within {LIMIT:?} ({why}); stderr: {}",
                self.name,
                self.stderr()
            )
        })
    }

    /// Its stdout lines so far (after those taken by `next_line`), whole lines only.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.pipes.lock()[OUT].lines()
    }

    /// What it wrote on stderr so far (after the lines taken by `next_err_line`).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(self.pipes.lock()[ERR].rest()).into_owned()
    }

    /// Everything left on stdout, then everything left on stderr, as text.
    pub fn output(&self) -> String {
        let state = self.pipes.lock();
        let mut all = String::from_utf8_lossy(state[OUT].rest()).into_owned();
        all.push_str(&String::from_utf8_lossy(state[ERR].rest()));
        all
    }

    /// Waits until `find` on its whole output (as `output` gives it) says `Some`, failing
    /// early if it exits first.
    #[track_caller]
    pub fn wait_output<T>(&mut self, what: &str, mut find: impl FnMut(&str) -> Option<T>) -> T {
        let (pipes, process) = (&self.pipes, &mut self.process);
        let mut exited = None;
        let found = pipes.wait(LIMIT, |p| {
            let mut all = String::from_utf8_lossy(p[OUT].rest()).into_owned();
            all.push_str(&String::from_utf8_lossy(p[ERR].rest()));
            if let Some(v) = find(&all) {
                return Some(Some(v));
            }
            // Gone, and all it wrote is in: what was looked for will never come.
            exited = process.try_wait().unwrap();
            (exited.is_some() && p[OUT].closed && p[ERR].closed).then_some(None)
        });
        match (found, exited) {
            (Some(Some(v)), _) => v,
            (Some(None), Some(status)) => panic!(
                "{} exited ({status}) before {what}:\n{}",
                self.name,
                self.output()
            ),
            _ => panic!(
                "{}: gave up after {LIMIT:?} waiting for {what} (exit status: {exited:?}):\n{}",
                self.name,
                self.output()
            ),
        }
    }

    /// Waits until `find` on its stdout lines (as `stdout_lines` gives them) says `Some`.
    #[track_caller]
    pub fn wait_lines<T>(&self, what: &str, mut find: impl FnMut(&[String]) -> Option<T>) -> T {
        self.pipes
            .wait(LIMIT, |p| find(&p[OUT].lines()))
            .unwrap_or_else(|| {
                panic!(
                    "{}: gave up after {LIMIT:?} waiting for {what}; stderr: {}",
                    self.name,
                    self.stderr()
                )
            })
    }

    /// Waits until it has closed both stdout and stderr (it exited, and so did anything it
    /// passed them to).
    #[track_caller]
    pub fn wait_closed(&self) {
        self.pipes
            .wait(LIMIT, |p| (p[OUT].closed && p[ERR].closed).then_some(()))
            .unwrap_or_else(|| panic!("{}: output not closed within {LIMIT:?}", self.name));
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        self.process.try_wait().unwrap().is_some()
    }

    /// Waits for it to exit, within `limit`.
    #[track_caller]
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let process = &mut self.process;
        self.pipes
            .wait(limit, |_| process.try_wait().unwrap())
            .unwrap_or_else(|| panic!("{} still running after {limit:?}", self.name))
    }

    /// Sends it a signal (15 SIGTERM, 2 SIGINT, 9 SIGKILL, ...).
    #[track_caller]
    pub fn signal(&self, sig: i32) {
        assert!(self.send_signal(sig), "kill -{sig} {}", self.name);
    }

    fn send_signal(&self, sig: i32) -> bool {
        // The child is ours and alive until waited for: its PID cannot be reused yet.
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits for it to exit (within `limit`) and to close its output, and returns how it
    /// ended and what it wrote (after any lines taken). Killed if it runs too long.
    #[track_caller]
    pub fn finish(mut self, limit: Duration) -> Output {
        let status = self.wait_exit(limit);
        self.wait_closed();
        let state = self.pipes.lock();
        Output {
            status,
            stdout: state[OUT].rest().to_vec(),
            stderr: state[ERR].rest().to_vec(),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.term_first && self.process.try_wait().is_ok_and(|s| s.is_none()) {
            self.send_signal(15);
            let process = &mut self.process;
            self.pipes.wait(Duration::from_secs(5), |_| {
                process.try_wait().ok().flatten()
            });
        }
        // Child::kill signals this child's PID only; a reaped child is not touched.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Runs `cmd` to completion within `limit` (stdin empty), killing it and failing if it
/// runs longer.
#[track_caller]
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let name = format!("{cmd:?}");
    Child::start(&name, cmd).finish(limit)
}

/// `bytes` as text lines, without their `\n` or `\r\n`.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}
