//! The run over every target: `-Z`'s fibers (one thread, see `shared::fiber`), bodies on
//! stdout in target order, the per-target report lines, and the summary line that ends
//! stderr. `on_pool`, the rayon pool, is the crawl's.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use shared::{bytes_words, duration_words};

use super::config::Config;
use super::order::{Finished, Sequencer, Slot};
use super::progress::Progress;
use super::report;
use super::transfer::{self, Outcome};
use super::writeout;
use crate::error::Error;

/// Fetches every target (up to `--parallel-max` at once with `-Z`, as fibers of this
/// thread); bodies on stdout
/// and the report lines on stderr come out in target order. Returns the exit code of the
/// first target, in input order, that failed (0 if none).
pub fn run(config: &Config) -> i32 {
    let started = Instant::now();
    let n = config.targets.len();
    let progress = Progress::new(config.progress, n);
    let seq = Arc::new(Sequencer::default());
    // Targets are handed out in input order, so a body that must wait for its turn waits
    // for at most about --parallel-max others.
    let next = AtomicUsize::new(0);
    let code = std::sync::Mutex::new(0);
    let failed = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let ran = AtomicUsize::new(0);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    // --rate (one transfer at a time): when the last transfer started.
    let last_start = std::sync::Mutex::new(None::<Instant>);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n || seq.stdout_closed() || stop.load(Ordering::Relaxed) {
                return;
            }
            if let Some(gap) = config.rate {
                let mut last = last_start
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(wait) =
                    last.and_then(|t| (t + gap).checked_duration_since(Instant::now()))
                {
                    std::thread::sleep(wait);
                }
                *last = Some(Instant::now());
            }
            ran.fetch_add(1, Ordering::Relaxed);
            let mut slot = Slot::new(i, seq.clone());
            let outcome = transfer::transfer(config, i, &mut slot, &progress);
            let done = finished(config, i, &outcome, &mut slot);
            if done.code != 0 {
                failed.fetch_add(1, Ordering::Relaxed);
                // --fail-early: no new transfer starts after a failure.
                if config.fail_early {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            bytes.fetch_add(outcome.written, Ordering::Relaxed);
            seq.finish(i, done, &mut |f: &Finished| {
                if !f.stderr.is_empty() {
                    progress.suspend(|| {
                        let _ = io::stderr().write_all(&f.stderr);
                    });
                }
                let mut code = code
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if *code == 0 && !f.stdout_closed {
                    *code = f.code;
                }
            });
        }
    };
    // -Z: the transfers are fibers of this one thread, parked where they would block; a
    // thread each cost a context switch per response (shared::fiber says more).
    shared::fiber::run(config.parallel.min(n), &work);
    progress.finish();
    if let Some((path, jar)) = &config.cookie_jar {
        save_cookies(path, jar);
    }
    let code = *code
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if n > 1 && !config.silent && !seq.stdout_closed() {
        let failed = failed.load(Ordering::Relaxed);
        let not_started = n - ran.load(Ordering::Relaxed);
        let skipped = if not_started > 0 {
            format!(", {not_started} not started")
        } else {
            String::new()
        };
        let first = if code != 0 {
            format!(" (first failure: exit {code})")
        } else {
            String::new()
        };
        let _ = writeln!(
            io::stderr(),
            "fetch: {n} targets: {} ok, {failed} failed{skipped}{first}; {} in {}",
            n - failed - not_started,
            bytes_words(bytes.load(Ordering::Relaxed)),
            duration_words(started.elapsed())
        );
    }
    code
}

/// Runs `work` on `threads` threads of a dedicated pool (the crawl's), at most `jobs` of them,
/// and returns when all have returned; on this thread when there is one (or no threads can
/// be had).
pub fn on_pool(threads: usize, jobs: usize, work: impl Fn() + Sync) {
    if threads.min(jobs) <= 1 {
        return work();
    }
    // No more threads than jobs: an idle rayon worker spins and yields while it looks for
    // work (one target with -Z made 267 context switches, 7 without).
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.min(jobs))
        .thread_name(|i| format!("fetch-{i}"))
        .build()
    {
        Ok(pool) => pool.scope(|s| {
            for _ in 0..threads.min(jobs) {
                s.spawn(|_| work());
            }
        }),
        // No threads to be had: fetch one after the other instead.
        Err(_) => work(),
    }
}

/// `-c`: the jar in curl's format, to `path` (`-`: stdout). As in curl, a jar that cannot
/// be written is a warning, not a failure of the transfers.
fn save_cookies(path: &str, jar: &std::sync::Mutex<crate::CookieJar>) {
    let text = jar
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .to_netscape();
    let written = if path == "-" {
        io::stdout().write_all(text.as_bytes())
    } else {
        std::fs::write(path, text)
    };
    if let Err(e) = written {
        let _ = writeln!(
            io::stderr(),
            "fetch: warning: cannot save the cookies in {path}: {}",
            shared::io_words(&e)
        );
    }
}

/// What a transfer leaves for its turn: its spooled body and its lines for stderr (the
/// error, the timing picture, the JSON line).
fn finished(config: &Config, index: usize, o: &Outcome, slot: &mut Slot) -> Finished {
    let mut stderr = Vec::new();
    let mut message = String::new();
    let (code, mut stdout_closed) = match &o.result {
        Ok(()) => (0, false),
        Err(Error::StdoutClosed) => (0, true),
        Err(e) => {
            message = e.to_string().replace(['\n', '\r'], " ");
            // curl's -s hides the error too; -S brings it back.
            if !config.silent || config.show_error {
                let _ = writeln!(stderr, "fetch: {message}");
            }
            (e.exit_code(), false)
        }
    };
    if let Some(format) = &config.write_out {
        let cx = writeout::Context {
            outcome: o,
            code,
            error: &message,
            filename: &o
                .file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            index: config.pattern_of.get(index).copied().unwrap_or(index),
            uploaded: o.uploaded,
        };
        let written = writeout::render(format, &cx);
        // After the body, in the same turn on stdout.
        if !stdout_closed && slot.write_all(&written.stdout).is_err() {
            stdout_closed = true;
        }
        stderr.extend_from_slice(&written.stderr);
    }
    let spool = slot.take_spool();
    if config.timing {
        stderr.extend_from_slice(report::timing(o).as_bytes());
    }
    if config.report_json {
        stderr.extend_from_slice(report::json(o, code).as_bytes());
        stderr.push(b'\n');
    }
    Finished {
        spool,
        stderr,
        code,
        stdout_closed,
    }
}
