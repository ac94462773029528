//! The access log: one Common Log Format line per request.
//!
//! Workers format their line and hand it to a logger thread over a bounded channel; only that
//! thread writes, through one buffer flushed whenever the channel runs dry. So no worker ever
//! waits on a lock held across a write(2), and under load many lines share one syscall.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::thread::{self, JoinHandle};
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, bounded};

/// Lines that may wait for the logger thread before workers wait for it.
const QUEUE: usize = 16 * 1024;

/// A handle for writing access-log lines; cheap to clone, one per worker.
#[derive(Clone, Debug)]
pub struct AccessLog {
    tx: Option<Sender<String>>,
}

impl AccessLog {
    /// No log at all (`--quiet`).
    pub fn disabled() -> AccessLog {
        AccessLog { tx: None }
    }

    /// Starts the logger thread writing to `out`. The thread ends, flushing, once every
    /// clone of the returned handle has dropped.
    pub fn start(out: Box<dyn Write + Send>) -> (AccessLog, JoinHandle<()>) {
        let (tx, rx) = bounded(QUEUE);
        let thread = thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(rx, out))
            .expect("spawn the logger thread");
        (AccessLog { tx: Some(tx) }, thread)
    }

    /// True when lines are being written.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Logs one request: `peer - - [time] "request line" status bytes`. `line` must already
    /// be escaped (see `request::escape`).
    pub fn request(&self, peer: &str, line: &str, status: u16, bytes: u64) {
        let Some(tx) = &self.tx else { return };
        let mut text = String::with_capacity(peer.len() + line.len() + 64);
        let _ = write!(text, "{peer} - - [");
        with_clf_time(|t| text.push_str(t));
        let bytes = if bytes == 0 {
            "-".to_string()
        } else {
            bytes.to_string()
        };
        let _ = writeln!(text, "] \"{line}\" {status} {bytes}");
        // The logger only stops when every sender is gone, so this cannot fail while we
        // hold one.
        let _ = tx.send(text);
    }
}

fn write_lines(rx: Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut broken = false;
    for line in rx.iter() {
        if broken {
            continue;
        }
        // A closed stdout (`serve | head`) ends the log, not the server.
        broken = out.write_all(line.as_bytes()).is_err();
        if rx.is_empty() && !broken {
            broken = out.flush().is_err();
        }
    }
    let _ = out.flush();
}

thread_local! {
    static CLF_TIME: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with the time as the Common Log Format writes it, `22/Nov/2026:19:14:35 +0000`
/// (UTC), formatted at most once per second per thread.
fn with_clf_time(f: impl FnOnce(&str)) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CLF_TIME.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, clf_time(secs));
        }
        f(&cached.1);
    });
}

fn clf_time(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`: shift the year to start in March so the leap day
/// falls last, then count 400-year eras of 146 097 days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn clf_times() {
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(clf_time(1_795_374_875), "22/Nov/2026:19:14:35 +0000");
        assert_eq!(clf_time(4_133_980_799), "31/Dec/2100:23:59:59 +0000");
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_reach_the_writer_in_clf() {
        let sink = Shared::default();
        let (log, thread) = AccessLog::start(Box::new(sink.clone()));
        log.request("127.0.0.1", "GET / HTTP/1.1", 200, 1234);
        log.request("[::1]:5", "GET /x HTTP/1.0", 404, 0);
        drop(log);
        thread.join().unwrap();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("127.0.0.1 - - ["), "{text}");
        assert!(
            lines[0].ends_with(" +0000] \"GET / HTTP/1.1\" 200 1234"),
            "{text}"
        );
        assert!(lines[1].ends_with("\"GET /x HTTP/1.0\" 404 -"), "{text}");
    }
}
