//! One target from start to end: request it, retry what is worth retrying (resuming from
//! what already arrived), decode it when asked (`--compressed`), and write its head and body
//! where they go. Everything one transfer did is kept in an [`Outcome`] for the reports.

use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use shared::Target;

use crate::cli::{Config, DestSpec};
use crate::error::Error;
use crate::head::Head;
use crate::order::Slot;
use crate::output::{Dest, Sink, meta_path, part_path, remote_name};
use crate::progress::Progress;
use crate::request::{HeaderEdit, Method};
use crate::response::Response;
use crate::trace::Trace;

/// The longest wait between two tries, whatever the backoff says: 10 s.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured: 60 s (a longer one is cut to this).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Body reads of 128 KiB: big enough that a fast local transfer costs few system calls.
const BUF: usize = 128 * 1024;
/// The first line of a resume record (`NAME.part.meta`), naming its format.
const META_MAGIC: &str = "fetch resume 1";

/// What one transfer did, for the summary, `--timing` and `--json`.
#[derive(Debug)]
pub struct Outcome {
    /// The target as given.
    pub target: String,
    /// How it ended.
    pub result: Result<(), Error>,
    /// When each phase happened, hop by hop (every try).
    pub trace: Trace,
    /// The URL of the final response.
    pub url: Option<String>,
    /// The final response head.
    pub head: Option<Head>,
    /// Body bytes written (decoded, with `--compressed`), not counting a resumed prefix.
    pub written: u64,
    /// Body bytes received on the wire in the last try.
    pub received: u64,
    /// Where the last try resumed from (0: from the start).
    pub resumed_from: u64,
    /// Tries after the first.
    pub retries: u32,
}

/// How a try failed: for good, or in a way worth trying again.
enum Failure {
    Final(Error),
    Transient {
        error: Error,
        /// The server's `Retry-After`, if it sent one.
        after: Option<Duration>,
    },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Final(e)
    }
}

/// Errors worth another try: a connection that could not be made or went away, and any
/// timeout. (A bad reply or a refused write would fail the same way again.)
fn transient(e: Error) -> Failure {
    match e.exit_code() {
        7 | 18 | 28 | 52 | 55 | 56 => Failure::Transient {
            error: e,
            after: None,
        },
        _ => Failure::Final(e),
    }
}

/// The wait before try number `retry` (1 for the first retry): `base` doubling each time,
/// at most [`MAX_BACKOFF`] (or `base` itself when that is longer).
pub fn backoff(base: Duration, retry: u32) -> Duration {
    let factor = 1u32 << retry.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF.max(base))
}

/// Where a download continues: the bytes already in hand and the validator recorded when it
/// started (`ETag` when strong, else `Last-Modified`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Resume {
    offset: u64,
    validator: Option<String>,
}

impl Resume {
    /// `-C -` for the file `path`: its `.part` and resume record, or else an existing
    /// complete-looking `path` (copied to `.part` first, so that a failure never touches
    /// it; it has no record, so the range goes without `If-Range`, as curl sends it).
    fn load(path: &Path) -> Result<Resume, Error> {
        let part = part_path(path);
        let write_err = |what: &Path, e: io::Error| Error::Write {
            what: what.display().to_string(),
            reason: shared::io_words(&e),
        };
        let offset = match std::fs::metadata(&part) {
            Ok(m) => m.len(),
            Err(_) => match std::fs::metadata(path) {
                Ok(m) if m.is_file() => {
                    std::fs::copy(path, &part).map_err(|e| write_err(&part, e))?;
                    m.len()
                }
                _ => 0,
            },
        };
        let validator = std::fs::read_to_string(meta_path(path))
            .ok()
            .and_then(|text| parse_meta(&text));
        Ok(Resume { offset, validator })
    }

    /// `Range` and, when a validator is known, `If-Range` (so a changed file comes back
    /// whole, as a 200, instead of a mismatched tail).
    fn headers(&self) -> Vec<HeaderEdit> {
        if self.offset == 0 {
            return Vec::new();
        }
        let mut out = vec![HeaderEdit {
            name: "Range".into(),
            value: Some(format!("bytes={}-", self.offset)),
        }];
        if let Some(v) = &self.validator {
            out.push(HeaderEdit {
                name: "If-Range".into(),
                value: Some(v.clone()),
            });
        }
        out
    }
}

/// The validator in a resume record: its `validator: ` line.
fn parse_meta(text: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()? != META_MAGIC {
        return None;
    }
    lines
        .find_map(|l| l.strip_prefix("validator: "))
        .map(str::to_string)
        .filter(|v| !v.is_empty() && !v.contains(['\r', '\n', '\0']))
}

/// The validator `If-Range` may carry for `head`: a strong `ETag`, else `Last-Modified`
/// (RFC 9110 §13.1.5: a weak entity tag is never used for a range).
fn validator(head: &Head) -> Option<String> {
    let text = |v: &[u8]| String::from_utf8(v.trim_ascii().to_vec()).ok();
    head.header("etag")
        .and_then(text)
        .filter(|e| e.starts_with('"'))
        .or_else(|| head.header("last-modified").and_then(text))
        .filter(|v| !v.is_empty() && !v.contains(['\r', '\n', '\0']))
}

/// `Content-Range: bytes START-END/TOTAL` or `bytes */TOTAL`: the first byte (when a range
/// is given) and the total (when known).
pub fn content_range(head: &Head) -> (Option<u64>, Option<u64>) {
    let Some(value) = head.header("content-range") else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(value);
    let Some(rest) = text.trim().strip_prefix("bytes ") else {
        return (None, None);
    };
    let (range, total) = rest.split_once('/').unwrap_or((rest, "*"));
    let start = range
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok());
    (start, total.trim().parse().ok())
}

/// The wait a `Retry-After` asks for: delay-seconds or an HTTP date, at most
/// [`MAX_RETRY_AFTER`]; a date in the past is no wait.
pub fn retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let wait = if let Ok(secs) = text.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = http_date(text)?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), the form
/// servers send.
pub fn http_date(text: &str) -> Option<SystemTime> {
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
    // days_from_civil): shift the year to start in March so the leap day is last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Runs one target to its end.
pub(crate) fn transfer(
    config: &Config,
    input: &str,
    spec: &DestSpec,
    slot: &mut Slot,
    progress: &Progress,
) -> Outcome {
    let mut o = Outcome {
        target: input.to_string(),
        result: Ok(()),
        trace: Trace::new(),
        url: None,
        head: None,
        written: 0,
        received: 0,
        resumed_from: 0,
        retries: 0,
    };
    o.result = run(config, input, spec, slot, progress, &mut o);
    o
}

fn run(
    config: &Config,
    input: &str,
    spec: &DestSpec,
    slot: &mut Slot,
    progress: &Progress,
    o: &mut Outcome,
) -> Result<(), Error> {
    let target = Target::parse(input)?;
    let dest = match spec {
        DestSpec::Given(d) => d.clone(),
        DestSpec::Remote => Dest::File(PathBuf::from(remote_name(&target.path))),
    };
    let mut resume = match &dest {
        Dest::File(path) if config.resume => Resume::load(path)?,
        _ => Resume::default(),
    };
    loop {
        let can_retry = o.retries < config.retries;
        let first_hop = o.trace.hops.len();
        let tried = attempt(
            config,
            &target,
            &dest,
            &mut resume,
            slot,
            progress,
            o,
            can_retry,
        );
        for hop in &mut o.trace.hops[first_hop..] {
            hop.attempt = o.retries;
        }
        let (error, after) = match tried {
            Ok(()) => return Ok(()),
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Transient { error, .. }) if !can_retry => return Err(error),
            Err(Failure::Transient { error, after }) => (error, after),
        };
        o.retries += 1;
        let wait = after.unwrap_or_else(|| backoff(config.retry_delay, o.retries));
        if !config.silent {
            let left = config.retries - o.retries;
            let line = format!(
                "fetch: {error}; retrying in {} ({left} {} left)\n",
                shared::duration_words(wait),
                if left == 1 { "retry" } else { "retries" }
            );
            progress.suspend(|| {
                let _ = io::Write::write_all(&mut io::stderr(), line.as_bytes());
            });
        }
        std::thread::sleep(wait);
    }
}

/// One try. `resume` says where to continue from, and is kept up to date with what has
/// been written, so that the next try continues where this one stopped.
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
fn attempt(
    config: &Config,
    target: &Target,
    dest: &Dest,
    resume: &mut Resume,
    slot: &mut Slot,
    progress: &Progress,
    o: &mut Outcome,
    can_retry: bool,
) -> Result<(), Failure> {
    let method = if config.head {
        Method::Head
    } else {
        Method::Get
    };
    let extra = if method == Method::Get {
        resume.headers()
    } else {
        Vec::new()
    };
    let mut resp = config
        .client
        .send(method, target, &extra, &mut o.trace)
        .map_err(transient)?;
    o.url = Some(resp.url().to_string());
    o.head = Some(resp.head().clone());
    o.received = 0;
    let status = resp.status();
    if can_retry && matches!(status, 408 | 429 | 500 | 502 | 503 | 504) {
        let after = resp
            .head()
            .header("retry-after")
            .and_then(|v| retry_after(v, SystemTime::now()));
        return Err(Failure::Transient {
            error: Error::HttpStatus { status },
            after,
        });
    }
    if config.fail && status >= 400 {
        return Err(Error::HttpStatus { status }.into());
    }
    let file = match dest {
        Dest::File(p) => Some(p.as_path()),
        Dest::Stdout { .. } => None,
    };
    // What the server did with our range, if we sent one.
    let mut append = false;
    if !extra.is_empty() {
        let (start, total) = content_range(resp.head());
        match status {
            206 if start == Some(resume.offset) => append = true,
            206 => {
                return Err(Error::Range {
                    reason: format!(
                        "asked to resume at byte {}, the server sent a range starting at {}",
                        resume.offset,
                        start.map_or("an unknown byte".into(), |s| s.to_string())
                    ),
                }
                .into());
            }
            416 if total == Some(resume.offset) => {
                // Everything is already here.
                o.trace.body_done();
                o.resumed_from = resume.offset;
                return match file {
                    Some(path) => Ok(Sink::file(path, true)?.finish()?),
                    None => Ok(()),
                };
            }
            _ if file.is_none() => {
                return Err(Error::Range {
                    reason: format!(
                        "cannot resume on stdout: the server answered {status}, not 206"
                    ),
                }
                .into());
            }
            416 => {
                // The file changed size: fetch it whole.
                *resume = Resume::default();
                drop(resp);
                return attempt(config, target, dest, resume, slot, progress, o, can_retry);
            }
            // A 200 (the file changed, or no ranges here): start over.
            _ => *resume = Resume::default(),
        }
    }
    o.resumed_from = if append { resume.offset } else { 0 };
    let coding = if config.compressed && method == Method::Get {
        Coding::of(resp.head())?
    } else {
        Coding::Identity
    };
    if method == Method::Get && !append && status == 200 {
        // Record the validator before the first byte lands: for a retry, and beside a file
        // for a later `-C -`.
        resume.validator = validator(resp.head());
        if let Some(path) = file.filter(|p| !crate::output::is_special(p)) {
            write_meta(path, resume.validator.as_deref());
        }
    }
    let mut sink = match dest {
        Dest::File(path) => Sink::file(path, append)?,
        Dest::Stdout { explicit } => Sink::stdout(slot, *explicit),
    };
    let base = if append { resume.offset } else { 0 };
    let length = match content_range(resp.head()) {
        (_, Some(total)) if append => Some(total),
        _ => content_length(resp.head()),
    };
    let show = file.is_some() || !io::stdout().is_terminal();
    let name = match file {
        Some(p) => p.display().to_string(),
        None => target.to_string(),
    };
    let bar = progress.bar(&name, length, show && method == Method::Get);
    bar.start_at(base);
    let include = config.include;
    let result = body(config, &mut resp, coding, &mut sink, include, &bar, o);
    bar.done();
    // What is in the file (or on stdout) now, for the next try. A decoded body cannot be
    // resumed: a range counts encoded bytes.
    resume.offset = if coding == Coding::Identity && result.is_err() {
        base + o.written
    } else {
        0
    };
    if let Err(e) = result {
        o.trace.body_done();
        let _ = sink.flush();
        if resume.offset == 0 && file.is_none() && o.written > 0 {
            // Bytes on stdout cannot be taken back, and cannot be continued either.
            return Err(Failure::Final(e));
        }
        return Err(transient(e));
    }
    o.trace.body_done();
    sink.finish()?;
    Ok(())
}

/// Reads the body (decoding it if needed) and writes the heads (with `-i`) and the body.
fn body(
    config: &Config,
    resp: &mut Response,
    coding: Coding,
    sink: &mut Sink<'_>,
    include: bool,
    bar: &crate::progress::Bar,
    o: &mut Outcome,
) -> Result<(), Error> {
    o.written = 0;
    let heads: Vec<Vec<u8>> = if include {
        resp.history()
            .iter()
            .chain([resp.head()])
            .map(|h| h.raw().to_vec())
            .collect()
    } else {
        Vec::new()
    };
    let mut buf = vec![0u8; BUF];
    let mut reader = Decoder::new(resp, coding);
    let mut n = if config.head {
        0
    } else {
        reader.read(&mut buf)?
    };
    if sink.refuses_binary(&buf[..n]) {
        return Err(Error::BinaryToTerminal);
    }
    for head in &heads {
        sink.write(head)?;
    }
    let mut wire = 0;
    while n > 0 {
        sink.write(&buf[..n])?;
        o.written += n as u64;
        let now = reader.wire();
        // Progress counts what crossed the network (the length it knows is the encoded one).
        bar.add(now - wire);
        wire = now;
        o.received = now;
        n = reader.read(&mut buf)?;
    }
    o.received = reader.wire();
    Ok(())
}

fn content_length(head: &Head) -> Option<u64> {
    head.header("content-length")
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
}

/// Writes the resume record beside the `.part`: best effort (without it a resume still
/// works, only without `If-Range`).
fn write_meta(path: &Path, validator: Option<&str>) {
    let meta = meta_path(path);
    match validator {
        Some(v) => {
            let _ = std::fs::write(&meta, format!("{META_MAGIC}\nvalidator: {v}\n"));
        }
        None => {
            let _ = std::fs::remove_file(&meta);
        }
    }
}

/// The content coding of a body (`--compressed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
}

impl Coding {
    /// From `Content-Encoding`. Only what we asked for is decoded; anything else is an
    /// error (exit 61) rather than bytes the user cannot read.
    fn of(head: &Head) -> Result<Coding, Error> {
        let codings = head.tokens("content-encoding");
        match codings.as_slice() {
            [] => Ok(Coding::Identity),
            [c] if c == "identity" => Ok(Coding::Identity),
            [c] if c == "gzip" || c == "x-gzip" => Ok(Coding::Gzip),
            [c] if c == "deflate" => Ok(Coding::Deflate),
            _ => Err(Error::Decode {
                reason: format!(
                    "unsupported content coding '{}' (asked for gzip, deflate)",
                    codings.join(", ")
                ),
            }),
        }
    }
}

/// Counts the body bytes that crossed the network.
struct Wire<'a> {
    resp: &'a mut Response,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.resp.read(buf)
    }
}

/// The body, decoded as it streams: memory stays at the decoder's window and our buffer,
/// however large the decoded body grows (a "gzip bomb" only costs output).
enum Decoder<'a> {
    Plain(&'a mut Response),
    Gzip(Box<MultiGzDecoder<BufReader<Wire<'a>>>>),
    Zlib(Box<ZlibDecoder<BufReader<Wire<'a>>>>),
    Raw(Box<DeflateDecoder<BufReader<Wire<'a>>>>),
    /// Deflate whose flavour is not known until its first bytes arrive.
    Pending(Option<BufReader<Wire<'a>>>),
}

impl<'a> Decoder<'a> {
    fn new(resp: &'a mut Response, coding: Coding) -> Decoder<'a> {
        if coding == Coding::Identity {
            return Decoder::Plain(resp);
        }
        let wire = BufReader::with_capacity(64 * 1024, Wire { resp });
        match coding {
            Coding::Gzip => Decoder::Gzip(Box::new(MultiGzDecoder::new(wire))),
            _ => Decoder::Pending(Some(wire)),
        }
    }

    /// Body bytes received so far.
    fn wire(&self) -> u64 {
        match self {
            Decoder::Plain(r) => r.body_received(),
            Decoder::Gzip(d) => d.get_ref().get_ref().resp.body_received(),
            Decoder::Zlib(d) => d.get_ref().get_ref().resp.body_received(),
            Decoder::Raw(d) => d.get_ref().get_ref().resp.body_received(),
            Decoder::Pending(r) => r.as_ref().map_or(0, |r| r.get_ref().resp.body_received()),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Decoder::Pending(wire) = self {
            let mut wire = wire.take().expect("decided once");
            let first = wire.fill_buf().map_err(decode_error)?;
            // "deflate" is meant to be zlib-wrapped (RFC 9110 §8.4.1.2), but some servers
            // send raw deflate: a zlib stream starts with a header whose check bits make
            // CMF*256+FLG a multiple of 31, with method 8.
            let zlib = first.len() >= 2
                && first[0] & 0x0f == 8
                && (u16::from(first[0]) << 8 | u16::from(first[1])) % 31 == 0;
            *self = if first.is_empty() {
                return Ok(0);
            } else if zlib {
                Decoder::Zlib(Box::new(ZlibDecoder::new(wire)))
            } else {
                Decoder::Raw(Box::new(DeflateDecoder::new(wire)))
            };
        }
        let read = match self {
            Decoder::Plain(r) => return r.read_body(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zlib(d) => d.read(buf),
            Decoder::Raw(d) => d.read(buf),
            Decoder::Pending(_) => unreachable!("decided above"),
        };
        read.map_err(decode_error)
    }
}

/// An error from the decoder: ours (the transfer failed underneath) or a broken stream.
fn decode_error(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::from_io(e, "");
    }
    Error::Decode {
        reason: format!("cannot decode the body: {}", shared::io_words(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::parse_head;

    fn head(fields: &str) -> Head {
        let text = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n").replace('|', "\r\n");
        parse_head(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        let got: Vec<Duration> = (1..=6).map(|r| backoff(s(1), r)).collect();
        assert_eq!(got, [s(1), s(2), s(4), s(8), s(10), s(10)]);
        assert_eq!(
            backoff(Duration::from_millis(10), 3),
            Duration::from_millis(40)
        );
        assert_eq!(backoff(s(30), 2), s(30), "a long base is not cut");
        assert_eq!(backoff(s(1), 1000), s(10));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let cases: &[(&str, Option<Duration>)] = &[
            ("1", Some(Duration::from_secs(1))),
            (" 0 ", Some(Duration::ZERO)),
            ("3600", Some(MAX_RETRY_AFTER)),
            // 1994-11-06 08:49:37 is 784111777: 10 s later.
            (
                "Sun, 06 Nov 1994 08:49:47 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("Sun, 06 Nov 1994 08:49:00 GMT", Some(Duration::ZERO)),
            ("soon", None),
            ("-1", None),
            ("Sun, 06 Nov 1994 08:49:47 PST", None),
        ];
        for (value, want) in cases {
            assert_eq!(retry_after(value.as_bytes(), now), *want, "{value}");
        }
    }

    #[test]
    fn http_dates() {
        let secs = |t: &str| {
            http_date(t).map(|d| d.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs())
        };
        assert_eq!(secs("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(secs("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400));
        assert_eq!(secs("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(secs("Sun, 06 Nov 1994 25:49:37 GMT"), None);
    }

    #[test]
    fn content_ranges() {
        type Range = (Option<u64>, Option<u64>);
        let cases: &[(&str, Range)] = &[
            ("Content-Range: bytes 100-199/200", (Some(100), Some(200))),
            ("Content-Range: bytes 0-0/*", (Some(0), None)),
            ("Content-Range: bytes */4096", (None, Some(4096))),
            ("Content-Range: items 1-2/3", (None, None)),
            ("X-A: 1", (None, None)),
        ];
        for (fields, want) in cases {
            assert_eq!(content_range(&head(fields)), *want, "{fields}");
        }
    }

    #[test]
    fn validators_for_if_range() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ETag: \"abc\"", Some("\"abc\"")),
            (
                "ETag: W/\"weak\"|Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT",
                Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            ),
            ("ETag: W/\"weak\"", None),
            ("X-A: 1", None),
        ];
        for (fields, want) in cases {
            assert_eq!(validator(&head(fields)).as_deref(), *want, "{fields}");
        }
    }

    #[test]
    fn resume_records() {
        assert_eq!(
            parse_meta("fetch resume 1\nvalidator: \"x\"\n").as_deref(),
            Some("\"x\"")
        );
        assert_eq!(parse_meta("something else\nvalidator: \"x\"\n"), None);
        assert_eq!(parse_meta("fetch resume 1\n"), None);
        let r = Resume {
            offset: 10,
            validator: Some("\"x\"".into()),
        };
        let h: Vec<String> = r
            .headers()
            .iter()
            .map(|e| format!("{}: {}", e.name, e.value.as_deref().unwrap()))
            .collect();
        assert_eq!(h, ["Range: bytes=10-", "If-Range: \"x\""]);
        assert!(Resume::default().headers().is_empty());
    }

    #[test]
    fn content_codings() {
        let cases: &[(&str, Option<Coding>)] = &[
            ("X-A: 1", Some(Coding::Identity)),
            ("Content-Encoding: gzip", Some(Coding::Gzip)),
            ("Content-Encoding: X-Gzip", Some(Coding::Gzip)),
            ("Content-Encoding: deflate", Some(Coding::Deflate)),
            ("Content-Encoding: identity", Some(Coding::Identity)),
            ("Content-Encoding: br", None),
            ("Content-Encoding: gzip, gzip", None),
        ];
        for (fields, want) in cases {
            assert_eq!(Coding::of(&head(fields)).ok(), *want, "{fields}");
        }
    }
}
