//! The access log: one line per request, in the format `--log-format` chooses ([`Format`]).
//!
//! Each thread formats its lines into a buffer of its own and writes the buffer out, under
//! the one lock on the output, only when it fills, when its oldest line is a second old, or
//! when the thread is about to go idle (`AccessLog::flush`). So workers never wait on each
//! other per request, and under load many lines share one write(2). Lines from different
//! threads interleave in batches.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shared::json_string;

use crate::http::clock::{self, SecondCache, civil_from_days};
use crate::http::request::escape;

/// A thread's buffer is written out once it holds this much...
const BATCH: usize = 32 * 1024;
/// ...or once its oldest line has waited this long, so a busy worker's log never lags.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// How each access-log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Common Log Format: `peer - - [time] "request" status bytes`.
    #[default]
    Common,
    /// Combined: Common plus `"referer" "user-agent"`.
    Combined,
    /// One JSON object per line: time, peer, request, status, bytes, referer, user_agent.
    Json,
}

/// What one access-log line says.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Line<'a> {
    /// The client: its IP address, or `unix`.
    pub peer: &'a str,
    /// The request line, already escaped (see `request::escape`), or `-`.
    pub request: &'a str,
    /// The status sent.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// The `Referer` header, if any.
    pub referer: Option<&'a str>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<&'a str>,
}

/// Where access-log lines go; cheap to clone and share between threads.
#[derive(Clone)]
pub(crate) struct AccessLog {
    out: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
    format: Format,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("enabled", &self.enabled())
            .finish()
    }
}

thread_local! {
    // This thread's unwritten lines, and when the oldest of them was logged.
    static PENDING: RefCell<(Vec<u8>, Option<Instant>)> = const { RefCell::new((Vec::new(), None)) };
}

impl AccessLog {
    /// No log at all (`--quiet`).
    pub(crate) fn disabled() -> AccessLog {
        AccessLog {
            out: None,
            format: Format::Common,
        }
    }

    /// A log written to `out` in `format`.
    pub(crate) fn new(out: Box<dyn Write + Send>, format: Format) -> AccessLog {
        AccessLog {
            out: Some(Arc::new(Mutex::new(out))),
            format,
        }
    }

    /// True when lines are being written.
    pub(crate) fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Logs one request in the log's format. The line is written out within a second (at
    /// this thread's next request after that), when 32 KiB have gathered, or by the next
    /// [`flush`](AccessLog::flush) on this thread, whichever comes first.
    pub(crate) fn request(&self, line: &Line<'_>) {
        if self.out.is_none() {
            return;
        }
        let full = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let text = match self.format {
                Format::Common | Format::Combined => clf(line, self.format == Format::Combined),
                Format::Json => json(line),
            };
            let (buf, oldest) = &mut *p;
            buf.extend_from_slice(text.as_bytes());
            let oldest = *oldest.get_or_insert_with(Instant::now);
            buf.len() >= BATCH || oldest.elapsed() >= MAX_DELAY
        });
        if full {
            self.flush();
        }
    }

    /// Writes out this thread's pending lines. Call before the thread blocks or ends.
    pub(crate) fn flush(&self) {
        let Some(out) = &self.out else { return };
        PENDING.with(|p| {
            let (buf, oldest) = &mut *p.borrow_mut();
            if buf.is_empty() {
                return;
            }
            let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // A closed stdout (`serve | head`) loses the log, not the server.
            let _ = out.write_all(buf).and_then(|()| out.flush());
            buf.clear();
            *oldest = None;
        });
    }
}

fn clf(l: &Line<'_>, combined: bool) -> String {
    let mut text = String::with_capacity(l.peer.len() + l.request.len() + 64);
    let _ = write!(text, "{} - - [", l.peer);
    with_clf_time(|t| text.push_str(t));
    let _ = write!(text, "] \"{}\" {} ", l.request, l.status);
    if l.bytes == 0 {
        text.push('-');
    } else {
        let _ = write!(text, "{}", l.bytes);
    }
    if combined {
        let quoted = |v: Option<&str>| v.map_or_else(|| "-".to_string(), |v| escape(v.as_bytes()));
        let _ = write!(
            text,
            " \"{}\" \"{}\"",
            quoted(l.referer),
            quoted(l.user_agent)
        );
    }
    text.push('\n');
    text
}

fn json(l: &Line<'_>) -> String {
    let mut text = String::with_capacity(l.request.len() + 160);
    text.push_str("{\"time\":\"");
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    text.push_str(&clock::date_time(secs, 'T'));
    text.push_str("Z\",\"peer\":");
    json_string(&mut text, l.peer);
    text.push_str(",\"request\":");
    json_string(&mut text, l.request);
    let _ = write!(
        text,
        ",\"status\":{},\"bytes\":{},\"referer\":",
        l.status, l.bytes
    );
    match l.referer {
        Some(r) => json_string(&mut text, r),
        None => text.push_str("null"),
    }
    text.push_str(",\"user_agent\":");
    match l.user_agent {
        Some(u) => json_string(&mut text, u),
        None => text.push_str("null"),
    }
    text.push_str("}\n");
    text
}

thread_local! {
    static CLF_TIME: SecondCache = const { RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with the time as the Common Log Format writes it, `22/Nov/2026:19:14:35 +0000`
/// (UTC), formatted at most once per second per thread.
fn with_clf_time(f: impl FnOnce(&str)) {
    clock::per_second(&CLF_TIME, |_, secs| clf_time(secs), f);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn combined_and_json_lines() {
        let l = Line {
            peer: "10.0.0.1",
            request: "GET /a\\x22 HTTP/1.1",
            status: 206,
            bytes: 10,
            referer: Some("http://x/\""),
            user_agent: None,
        };
        let c = clf(&l, true);
        assert!(
            c.ends_with("] \"GET /a\\x22 HTTP/1.1\" 206 10 \"http://x/\\x22\" \"-\"\n"),
            "{c}"
        );
        let j = json(&l);
        assert!(j.starts_with("{\"time\":\""), "{j}");
        assert!(
            j.ends_with("Z\",\"peer\":\"10.0.0.1\",\"request\":\"GET /a\\\\x22 HTTP/1.1\",\"status\":206,\"bytes\":10,\"referer\":\"http://x/\\\"\",\"user_agent\":null}\n"),
            "{j}"
        );
    }

    #[test]
    fn a_busy_thread_writes_its_lines_within_a_second() {
        let sink = Shared::default();
        let log = AccessLog::new(Box::new(sink.clone()), Format::Common);
        let line = Line {
            peer: "p",
            request: "GET / HTTP/1.1",
            status: 200,
            bytes: 1,
            ..Line::default()
        };
        log.request(&line);
        assert!(sink.0.lock().unwrap().is_empty(), "batched at first");
        // A thread that never goes idle: its next line, a second later, takes both out.
        let started = Instant::now();
        while started.elapsed() < MAX_DELAY {
            std::hint::spin_loop();
        }
        log.request(&line);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }

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
        let log = AccessLog::new(Box::new(sink.clone()), Format::Common);
        log.request(&Line {
            peer: "127.0.0.1",
            request: "GET / HTTP/1.1",
            status: 200,
            bytes: 1234,
            ..Line::default()
        });
        log.request(&Line {
            peer: "[::1]:5",
            request: "GET /x HTTP/1.0",
            status: 404,
            bytes: 0,
            ..Line::default()
        });
        assert!(sink.0.lock().unwrap().is_empty(), "buffered until flushed");
        log.flush();
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
