//! The progress display on stderr (indicatif): a line per active transfer (bytes, rate, and
//! the ETA when the length is known, a spinner otherwise) and, with several targets, a total
//! line. Shown only when stderr is a terminal; never with `-s` or `-v`.

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The display shared by every transfer of a run (or nothing at all).
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
    total: Option<ProgressBar>,
    bytes: Arc<AtomicU64>,
}

impl Progress {
    /// A display for `targets` transfers, if `wanted` (not `-s`, not `-v`) and stderr is a
    /// terminal.
    pub(crate) fn new(wanted: bool, targets: usize) -> Progress {
        if !wanted || !io::stderr().is_terminal() {
            return Progress {
                multi: None,
                total: None,
                bytes: Arc::default(),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let total = (targets > 1).then(|| {
            let bar = multi.add(ProgressBar::new(targets as u64));
            bar.set_style(
                ProgressStyle::with_template(
                    "total {pos}/{len} done, {msg} {spinner} {elapsed_precise}",
                )
                .expect("a valid template"),
            );
            bar.set_message("0 B");
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            multi: Some(multi),
            total,
            bytes: Arc::default(),
        }
    }

    /// A line for one transfer named `name` of `len` bytes (when known), or a bar that draws
    /// nothing when the display is off or `show` is false (the body goes to this terminal).
    ///
    /// `name` is asked for only when the bar is drawn (a URL is written out for it).
    pub(crate) fn bar(&self, name: impl FnOnce() -> String, len: Option<u64>, show: bool) -> Bar {
        let Some(multi) = self.multi.as_ref().filter(|_| show) else {
            return Bar {
                bar: None,
                total: self.total.clone(),
                bytes: self.bytes.clone(),
            };
        };
        let (bar, template) = match len {
            Some(n) => (
                ProgressBar::new(n),
                "{msg:30!} [{bar:25}] {binary_bytes}/{binary_total_bytes} \
                 {binary_bytes_per_sec} ETA {eta}",
            ),
            None => (
                ProgressBar::no_length(),
                "{msg:30!} {spinner} {binary_bytes} {binary_bytes_per_sec}",
            ),
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(name());
        let bar = match &self.total {
            Some(total) => multi.insert_before(total, bar),
            None => multi.add(bar),
        };
        Bar {
            bar: Some(bar),
            total: self.total.clone(),
            bytes: self.bytes.clone(),
        }
    }

    /// The total line counts `n` transfers in all (a crawl learns of more as it goes).
    pub(crate) fn set_targets(&self, n: u64) {
        if let Some(total) = &self.total {
            total.set_length(n);
        }
    }

    /// One more transfer is over (a crawl's URL, whatever became of it).
    pub(crate) fn tick(&self) {
        if let Some(total) = &self.total {
            total.inc(1);
        }
    }

    /// Runs `f` (which writes to stderr) with the display out of the way.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(m) => m.suspend(f),
            None => f(),
        }
    }

    /// Removes the display.
    pub(crate) fn finish(&self) {
        if let Some(total) = &self.total {
            total.finish_and_clear();
        }
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

/// One transfer's line.
#[derive(Debug)]
pub(crate) struct Bar {
    bar: Option<ProgressBar>,
    total: Option<ProgressBar>,
    bytes: Arc<AtomicU64>,
}

impl Bar {
    /// Counts `n` more bytes (both here and in the total line).
    pub(crate) fn add(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        if let Some(t) = &self.total {
            let all = self.bytes.fetch_add(n, Ordering::Relaxed) + n;
            t.set_message(shared::bytes_words(all));
        }
    }

    /// Starts the count at `n` (a resumed download).
    pub(crate) fn start_at(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
            b.reset_eta();
        }
    }

    /// The line goes away, the total not counting it (a crawl counts each URL with
    /// [`Progress::tick`], whatever became of it).
    pub(crate) fn clear(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// The transfer ended: its line goes away and the total counts it.
    pub(crate) fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if let Some(t) = &self.total {
            t.inc(1);
        }
    }
}
