//! One target from start to end: request it, retry what is worth retrying (resuming from
//! what already arrived), decode it when asked (`--compressed`), and write its head and body
//! where they go. Everything one transfer did is kept in an [`Outcome`] for the reports.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use shared::Target;

use super::config::{Config, DestSpec};
use super::decode::{Coding, Decoder};
use super::dump::HeaderDump;
use super::idn;
use super::netrc;
use super::order::Slot;
use super::output::{self, Dest, Sink, remote_name};
use super::progress::{Bar, Progress};
use super::resume::{self, Resume, content_range};
use super::retry::{self, Failure, transient};
use super::userinfo;
use crate::digest::{Source, Verifier};
use crate::error::Error;
use crate::head::Head;
use crate::request::{Method, Request};
use crate::response::Response;
use crate::trace::Trace;

/// Body reads of 128 KiB: big enough that a fast local transfer costs few system calls.
const BUF: usize = 128 * 1024;

/// What one transfer did, for the summary, `--timing` and `--report-json`.
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
    /// The heads of the redirects followed before it, oldest first.
    pub history: Vec<Head>,
    /// Request body bytes sent with the final request.
    pub uploaded: u64,
    /// The file the body went to, if any.
    pub file: Option<PathBuf>,
    /// Body bytes written (decoded, with `--compressed`), not counting a resumed prefix.
    pub written: u64,
    /// Body bytes received on the wire in the last try.
    pub received: u64,
    /// Where the last try resumed from (0: from the start).
    pub resumed_from: u64,
    /// Tries after the first.
    pub retries: u32,
}

impl Outcome {
    /// A transfer of `target` before it starts: nothing done yet.
    pub(crate) fn new(target: &str) -> Outcome {
        Outcome {
            target: target.to_string(),
            result: Ok(()),
            trace: Trace::new(),
            url: None,
            head: None,
            history: Vec::new(),
            uploaded: 0,
            file: None,
            written: 0,
            received: 0,
            resumed_from: 0,
            retries: 0,
        }
    }
}

/// Runs target number `index` to its end.
pub(crate) fn transfer(
    config: &Config,
    index: usize,
    slot: &mut Slot,
    progress: &Progress,
) -> Outcome {
    let input = config.targets[index].as_str();
    let spec = &config.dests[index];
    let mut o = Outcome::new(input);
    o.result = run(config, index, spec, slot, progress, &mut o);
    if let (true, Err(_), Some(path)) = (config.remove_on_error, &o.result, &o.file)
        && !output::is_special(path)
    {
        // What a failed transfer left: the part file and its resume record.
        let part = output::part_path(path);
        let _ = std::fs::remove_file(output::meta_path(path));
        let _ = std::fs::remove_file(part);
    }
    o
}

/// Target `index` to its end: its URL, request and destination made, then tried until it
/// succeeds, fails for good, or the retries (`--retry`, `--retry-max-time`) run out.
fn run(
    config: &Config,
    index: usize,
    spec: &DestSpec,
    slot: &mut Slot,
    progress: &Progress,
    o: &mut Outcome,
) -> Result<(), Error> {
    let (target, userinfo) = target_of(config, index)?;
    let request = request_for(config, index, &target, userinfo);
    let dest = destination(config, spec, &target)?;
    if let Dest::File(path) = &dest {
        o.file = Some(path.clone());
    }
    let mut resume = match &dest {
        Dest::File(path) if config.resume => Resume::load(path)?,
        _ => Resume::default(),
    };
    let started = std::time::Instant::now();
    loop {
        let in_time = config
            .retry_max_time
            .is_none_or(|max| started.elapsed() < max);
        let can_retry = o.retries < config.retries && in_time;
        let first_hop = o.trace.hops.len();
        let tried = Try {
            config,
            request: &request,
            target: &target,
            progress,
            remote: matches!(spec, DestSpec::Remote),
            can_retry,
            resume: &mut resume,
            slot,
            o,
        }
        .attempt(&dest);
        for hop in &mut o.trace.hops[first_hop..] {
            hop.attempt = o.retries;
        }
        let Err(failure) = tried else {
            return Ok(());
        };
        let (error, after) = to_retry(config, failure, can_retry)?;
        o.retries += 1;
        let wait = retry_wait(config, after, o.retries, started);
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
        shared::fiber::sleep(wait);
    }
}

/// Target `index` as fetch sends it, and the `user:password@` taken out of it: names in
/// punycode, `{` and `}` as typed with -g, dot segments resolved (but with
/// `--path-as-is`). An error for a user name `--disallow-username-in-url` forbids, a URL
/// that does not parse, or a scheme `--proto` turned off.
fn target_of(config: &Config, index: usize) -> Result<(Target, Option<userinfo::Login>), Error> {
    let typed = idn::to_ascii(&config.targets[index]);
    // curl takes `user:password@` in a URL and sends it as Basic authentication (-u wins).
    let (typed, userinfo) = userinfo::split(&typed);
    if userinfo.is_some() && config.disallow_username_in_url {
        return Err(Error::LoginDenied {
            reason: "the URL has a user name, and --disallow-username-in-url forbids it".into(),
        });
    }
    let mut target = Target::parse(&typed)?;
    if config.globoff {
        // With -g, `{` and `}` are plain characters, which curl sends as typed.
        userinfo::keep_braces(&typed, &mut target);
    }
    if !config.path_as_is {
        // As curl: `.` and `..` segments are resolved before sending (RFC 3986 §5.2.4).
        target.path = without_dot_segments(&target.path);
    }
    if (config.http_off && !target.tls) || (config.https_off && target.tls) {
        return Err(Error::HttpDisabled {
            by: "--proto",
            scheme: target.scheme(),
        });
    }
    Ok((target, userinfo))
}

/// `path` (a request target: path and query) with the path's `.` and `..` segments
/// resolved, `/` when nothing is left of it; the query as it was.
fn without_dot_segments(path: &str) -> String {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let path = crate::redirect::remove_dot_segments(path);
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    }
}

/// The request for target `index` at `target`: the line's own, with Basic credentials
/// from the URL's `userinfo` and `--netrc` as curl combines them, and `-T`'s upload as a PUT.
fn request_for(
    config: &Config,
    index: usize,
    target: &Target,
    userinfo: Option<userinfo::Login>,
) -> Request {
    let mut request = config.request.clone();
    let credentials = match (&config.netrc, &target.endpoint) {
        (Some(text), shared::Endpoint::Tcp { host, .. }) => {
            netrc::credentials(text, &host.to_string(), userinfo, config.netrc_optional)
        }
        _ => userinfo.map(|(user, password)| (user, password.unwrap_or_default())),
    };
    if let Some((user, password)) = credentials {
        request.authorization = Some(crate::auth::basic(&user, &password));
    }
    if let Some(Some(upload)) = config.uploads.get(index) {
        request.method = Method::Put;
        request.body = Some(upload.clone());
    }
    request
}

/// Where the body goes: as `spec` gives it, or (`-O`) the URL's last segment, in
/// `--output-dir` if given; with `--create-dirs`, the file's folder is made.
fn destination(config: &Config, spec: &DestSpec, target: &Target) -> Result<Dest, Error> {
    let dest = match spec {
        DestSpec::Given(d) => d.clone(),
        DestSpec::Remote => {
            let name = remote_name(&target.path);
            Dest::File(PathBuf::from(match &config.output_dir {
                Some(dir) => format!("{dir}/{name}"),
                None => name,
            }))
        }
    };
    if let (Dest::File(path), true) = (&dest, config.create_dirs)
        && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| Error::Write {
            what: parent.display().to_string(),
            reason: format!("cannot create the folder: {}", shared::io_words(&e)),
        })?;
    }
    Ok(dest)
}

/// What a failed try leads to: `Ok` to try again (with the error, for the line that says
/// so, and the server's `Retry-After`), `Err` to stop with. `can_retry`: tries and time
/// are left.
fn to_retry(
    config: &Config,
    failure: Failure,
    can_retry: bool,
) -> Result<(Error, Option<Duration>), Error> {
    match failure {
        Failure::Final(e) if !config.retry_all_errors || !can_retry => Err(e),
        // --retry-all-errors: anything but a reader gone from stdout.
        Failure::Final(e @ Error::StdoutClosed) => Err(e),
        Failure::Final(error) => Ok((error, None)),
        Failure::Transient { error, .. } if !can_retry => Err(error),
        // As curl: a connection refused is retried only when asked.
        Failure::Transient { error, .. }
            if error.exit_code() == 7 && !config.retry_connrefused && !config.retry_all_errors =>
        {
            Err(error)
        }
        Failure::Transient { error, after } => Ok((error, after)),
    }
}

/// The wait before retry number `retries`: the server's `Retry-After` (`after`), else
/// `--retry-delay`, else the doubling backoff from 1 s; never past `--retry-max-time`
/// counted from `started`.
fn retry_wait(
    config: &Config,
    after: Option<Duration>,
    retries: u32,
    started: std::time::Instant,
) -> Duration {
    let wait = after.unwrap_or_else(|| match config.retry_delay {
        Some(fixed) => fixed,
        None => retry::backoff(Duration::from_secs(1), retries),
    });
    match config.retry_max_time {
        Some(max) => wait.min(max.saturating_sub(started.elapsed())),
        None => wait,
    }
}

/// One try of a transfer: what its steps read, and what they keep up to date.
struct Try<'a> {
    config: &'a Config,
    request: &'a Request,
    target: &'a Target,
    progress: &'a Progress,
    /// `-O`: the file is named from the URL, which `-J` lets the server's name replace.
    remote: bool,
    /// Tries and time are left for another.
    can_retry: bool,
    /// Where to continue from, kept up to date with what has been written, so that the
    /// next try continues where this one stopped.
    resume: &'a mut Resume,
    slot: &'a mut Slot,
    o: &'a mut Outcome,
}

impl Try<'_> {
    /// One try, its body to `dest`: the request sent, the answer's head checked, and how
    /// its body continues what is there (a range answered, or a fresh start).
    fn attempt(&mut self, dest: &Dest) -> Result<(), Failure> {
        let config = self.config;
        let (mut resp, ranged) = send(config, self.request, self.target, self.resume, self.o)?;
        dump_heads(config, &resp, self.slot)?;
        let status = resp.status();
        let retrying = verdict(config, resp.head(), self.can_retry, SystemTime::now())?;
        check_head(config, resp.head())?;
        if let Dest::File(path) = dest
            && keeps_file(status, path, config.include || config.head)
        {
            // Nothing to write, and nothing to replace the user's copy with.
            io::copy(&mut resp, &mut io::sink()).map_err(|e| Error::from_io(e, "the body"))?;
            self.o.trace.body_done();
            return Ok(());
        }
        let named;
        let dest = match header_named(config, resp.head(), self.remote)? {
            Some(path) => {
                self.o.file = Some(path.clone());
                named = Dest::File(path);
                &named
            }
            None => dest,
        };
        let file = file_of(dest);
        let answer = match ranged {
            true => range_answer(status, resp.head(), self.resume.offset, file.is_some())?,
            false => Ranged::Whole,
        };
        let append = match answer {
            Ranged::Continues => {
                if let Some(path) = file {
                    self.resume.move_to_part(path)?;
                }
                true
            }
            Ranged::Complete => {
                self.o.trace.body_done();
                self.o.resumed_from = self.resume.offset;
                return complete(file, self.resume);
            }
            Ranged::Changed => {
                // The file changed size: fetch it whole.
                *self.resume = Resume::default();
                drop(resp);
                return self.attempt(dest);
            }
            Ranged::Whole => {
                if ranged {
                    // A 200 (the file changed, or no ranges here): start over.
                    *self.resume = Resume::default();
                }
                false
            }
        };
        self.write(resp, dest, append, retrying)
    }

    /// The body of `resp` into `dest` (after what is there, when `append`), decoded,
    /// checked and shown on the progress line; then what the try comes to: a retry
    /// (`retrying`: the body was the server's word on why), a failure, or done.
    fn write(
        &mut self,
        mut resp: Response,
        dest: &Dest,
        append: bool,
        retrying: Option<Failure>,
    ) -> Result<(), Failure> {
        let (config, method) = (self.config, self.request.method);
        let file = file_of(dest);
        let base = if append { self.resume.offset } else { 0 };
        self.o.resumed_from = base;
        let coding = coding(config, method, resp.head())?;
        if method == Method::Get && !append && resp.status() == 200 {
            // Record the validator before the first byte lands: for a retry, and beside a
            // file for a later `-C -`.
            self.resume.validator = resume::validator(resp.head());
            if let Some(path) = file.filter(|p| !output::is_special(p)) {
                resume::write_meta(path, self.resume.validator.as_deref());
            }
        }
        let checksum = digests(
            config,
            &mut resp,
            file.filter(|_| append),
            base,
            self.progress,
        )?;
        let mut sink = match dest {
            Dest::File(path) => Sink::file_with(path, append, config.file_rules)?,
            Dest::Stdout { explicit } => Sink::stdout(self.slot, *explicit),
        };
        let name = || file.map_or_else(|| self.target.to_string(), |p| p.display().to_string());
        let show = (file.is_some() || !output::stdout_is_terminal()) && method == Method::Get;
        let bar = self
            .progress
            .bar(name, expected_length(resp.head(), append), show);
        bar.start_at(base);
        // -D - with -i has written the heads already.
        let include = config.include && !matches!(config.dump_header, Some(HeaderDump::Stdout));
        let result = body(
            config, &mut resp, coding, &mut sink, include, &bar, self.o, checksum,
        );
        bar.done();
        // What is in the file (or on stdout) now, for the next try. A decoded body cannot be
        // resumed: a range counts encoded bytes.
        self.resume.offset = if coding == Coding::Identity && result.is_err() {
            base + self.o.written
        } else {
            0
        };
        self.o.trace.body_done();
        if let Some(retry) = retrying {
            // The body was the server's word on why to try again, not the resource: nothing
            // to resume, and a file keeps its old contents (its `.part` holds this body).
            *self.resume = Resume::default();
            return match result {
                Err(e @ Error::StdoutClosed) => Err(Failure::Final(e)),
                _ => Err(sink.flush().map_or_else(Failure::from, |()| retry)),
            };
        }
        if let Err(e) = result {
            return Err(failed(e, sink, file, self.resume, self.o.written));
        }
        completed(config, &resp, sink, file, self.o)
    }
}

/// The file a body goes to (`None`: stdout).
fn file_of(dest: &Dest) -> Option<&Path> {
    match dest {
        Dest::File(p) => Some(p.as_path()),
        Dest::Stdout { .. } => None,
    }
}

/// Sends `request`, with the headers that resume a GET from `resume.offset`, and keeps the
/// answer's head, its history and what was sent in `o`. Returns the response and whether
/// it was asked for a range.
fn send(
    config: &Config,
    request: &Request,
    target: &Target,
    resume: &Resume,
    o: &mut Outcome,
) -> Result<(Response, bool), Failure> {
    let extra = if request.method == Method::Get {
        resume.headers()
    } else {
        Vec::new()
    };
    let ranged = !extra.is_empty();
    let mut req = request.clone();
    req.headers.extend(extra);
    let resp = config
        .client
        .send(&req, target, &mut o.trace)
        .map_err(transient)?;
    o.url = Some(resp.url().to_string());
    o.head = Some(resp.head().clone());
    o.history = resp.history().to_vec();
    o.uploaded = resp.body_sent();
    o.received = 0;
    Ok((resp, ranged))
}

/// `-D`: every head of the exchange (redirects first) to stdout or to its file.
fn dump_heads(config: &Config, resp: &Response, slot: &mut Slot) -> Result<(), Error> {
    let Some(dump) = &config.dump_header else {
        return Ok(());
    };
    let heads: Vec<&[u8]> = resp
        .history()
        .iter()
        .chain([resp.head()])
        .map(|h| h.raw())
        .collect();
    match dump {
        HeaderDump::Stdout => {
            // With -i too, curl writes each line twice as it arrives: -D's, then -i's.
            let copies = if config.include { 2 } else { 1 };
            heads
                .iter()
                .flat_map(|h| h.split_inclusive(|&b| b == b'\n'))
                .flat_map(|line| std::iter::repeat_n(line, copies))
                .try_for_each(|line| io::Write::write_all(slot, line))
                .map_err(|e| Error::from_io(e, "stdout"))
        }
        HeaderDump::File { .. } => dump.write_file(&heads),
    }
}

/// What the status says before any body: `Ok(Some(retry))` for a status worth another try
/// whose body is written first, as curl writes it (to stdout; a file's goes to
/// `NAME.part`, which the next try starts afresh); with `-f`, the retry (or an error
/// status) at once, without the body. `now` reads a `Retry-After` date.
fn verdict(
    config: &Config,
    head: &Head,
    can_retry: bool,
    now: SystemTime,
) -> Result<Option<Failure>, Failure> {
    let status = head.status();
    let retrying = (can_retry && matches!(status, 408 | 429 | 500 | 502 | 503 | 504)).then(|| {
        let after = head
            .header("retry-after")
            .and_then(|v| retry::retry_after(v, now));
        Failure::Transient {
            error: Error::HttpStatus { status },
            after,
        }
    });
    match retrying {
        Some(retry) if config.fail => Err(retry),
        _ if config.fail && status >= 400 => Err(Error::HttpStatus { status }.into()),
        other => Ok(other),
    }
}

/// `--etag-save` writes the head's ETag; `--max-filesize` refuses a body announced larger.
fn check_head(config: &Config, head: &Head) -> Result<(), Error> {
    if let Some(path) = &config.etag_save {
        // The ETag and a newline, or an empty file, as curl writes it.
        let text = head
            .header("etag")
            .map(|e| [e, b"\n"].concat())
            .unwrap_or_default();
        std::fs::write(path, text).map_err(|e| Error::Write {
            what: path.display().to_string(),
            reason: shared::io_words(&e),
        })?;
    }
    if let (Some(max), Some(size)) = (config.max_filesize, content_length(head))
        && size > max
    {
        return Err(Error::TooLarge { size, max });
    }
    Ok(())
}

/// -J: the file the server names (under `--output-dir`), for a `-O` target; `None` when
/// there is no -J or no name (-O's name stays). A file of that name that exists is an
/// error: -J never overwrites one.
fn header_named(config: &Config, head: &Head, remote: bool) -> Result<Option<PathBuf>, Error> {
    let Some(name) = disposition_name(head).filter(|_| remote && config.remote_header_name) else {
        return Ok(None);
    };
    let path = PathBuf::from(match &config.output_dir {
        Some(dir) => format!("{dir}/{name}"),
        None => name,
    });
    if path.exists() {
        return Err(Error::Write {
            what: path.display().to_string(),
            reason: "the file exists, and -J never overwrites one".into(),
        });
    }
    Ok(Some(path))
}

/// What the server did with a range asked from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    /// A 206 from `offset`: the body continues the bytes in hand.
    Continues,
    /// A 416 whose length is `offset`: everything is in hand already.
    Complete,
    /// Another 416: the file changed size, and is asked again whole.
    Changed,
    /// Anything else into a file (a 200: the file changed, or no ranges here): the body is
    /// the whole of it. Also what a try without a range gets.
    Whole,
}

/// The answer to a range from `offset`: a 206 from elsewhere is an error, and so is
/// anything but a 206 or a complete 416 when the bytes in hand went to stdout (`to_file`
/// false), which cannot be started over.
fn range_answer(status: u16, head: &Head, offset: u64, to_file: bool) -> Result<Ranged, Error> {
    let (start, total) = content_range(head);
    Ok(match status {
        206 if start == Some(offset) => Ranged::Continues,
        206 => {
            return Err(Error::Range {
                reason: format!(
                    "asked to resume at byte {offset}, the server sent a range starting at {}",
                    start.map_or("an unknown byte".into(), |s| s.to_string())
                ),
            });
        }
        416 if total == Some(offset) => Ranged::Complete,
        _ if !to_file => {
            return Err(Error::Range {
                reason: format!("cannot resume on stdout: the server answered {status}, not 206"),
            });
        }
        416 => Ranged::Changed,
        _ => Ranged::Whole,
    })
}

/// A range answered "you have it all": the `.part` becomes the file (the file itself, when
/// the bytes in hand were the file, stays as it is, and keeps its time).
fn complete(file: Option<&Path>, resume: &Resume) -> Result<(), Failure> {
    match file {
        Some(_) if resume.in_final => Ok(()),
        Some(path) => Sink::file(path, true)?
            .finish()
            .map(drop)
            .map_err(Into::into),
        None => Ok(()),
    }
}

/// How the body is decoded: not at all with `--raw`; else `--compressed`'s content coding
/// (a GET's only) or `--tr-encoding`'s transfer coding.
fn coding(config: &Config, method: Method, head: &Head) -> Result<Coding, Error> {
    if config.raw {
        return Ok(Coding::Identity);
    }
    let content = if config.compressed && method == Method::Get {
        Coding::of(head)?
    } else {
        Coding::Identity
    };
    let transfer = if config.tr_encoding {
        Coding::of_transfer(head)
    } else {
        Coding::Identity
    };
    Coding::either(content, transfer)
}

/// The length the progress bar counts to: a continued body's whole length, else the
/// announced one.
fn expected_length(head: &Head, append: bool) -> Option<u64> {
    match content_range(head) {
        (_, Some(total)) if append => Some(total),
        _ => content_length(head),
    }
}

/// A body that stopped on `e`. Bytes known to be wrong (a digest): nothing may look
/// complete, and nothing is worth resuming. Bytes already on stdout cannot be taken back,
/// and cannot be continued either. Anything else may be tried again.
fn failed(
    e: Error,
    mut sink: Sink<'_>,
    file: Option<&Path>,
    resume: &mut Resume,
    written: u64,
) -> Failure {
    if let Error::Digest { .. } = e {
        drop(sink);
        resume.offset = 0;
        if let Some(path) = file.filter(|p| !output::is_special(p)) {
            let _ = std::fs::remove_file(output::part_path(path));
            let _ = std::fs::remove_file(output::meta_path(path));
        }
        return Failure::Final(e);
    }
    let _ = sink.flush();
    if resume.offset == 0 && file.is_none() && written > 0 {
        return Failure::Final(e);
    }
    transient(e)
}

/// A body written whole: the `.part` renamed, then `-R`, `--xattr`, and
/// `--fail-with-body`'s verdict on the status.
fn completed(
    config: &Config,
    resp: &Response,
    sink: Sink<'_>,
    file: Option<&Path>,
    o: &mut Outcome,
) -> Result<(), Failure> {
    let renamed = sink.finish()?;
    let file = renamed.as_deref().or(file);
    if let Some(path) = &renamed {
        o.file = Some(path.clone());
    }
    if let (true, Some(path)) = (config.remote_time, file) {
        remote_time(path, resp.head());
    }
    if let (true, Some(path)) = (config.xattr, file) {
        output::set_xattrs(path, o.url.as_deref(), resp.head().header("content-type"));
    }
    let status = resp.status();
    if config.fail_with_body && status >= 400 {
        return Err(Error::HttpStatus { status }.into());
    }
    Ok(())
}

/// RFC 9530 and `--checksum`: attaches to `resp` the check of the digests its head
/// announces (on the bytes as they come), and returns the `--checksum` check (on the bytes
/// as saved). `part`: the file this body continues, whose first `offset` bytes are hashed
/// first, so that `Repr-Digest` and `--checksum` cover the whole file (the one pass over
/// what is already on disk a resumed download costs).
fn digests(
    config: &Config,
    resp: &mut Response,
    part: Option<&std::path::Path>,
    offset: u64,
    progress: &Progress,
) -> Result<Option<Verifier>, Error> {
    if config.head {
        return Ok(None);
    }
    let mut announced = Verifier::from_head(resp.head(), part.is_some());
    let notes = announced.take_notes();
    if config.verbose && !notes.is_empty() {
        progress.suspend(|| {
            for note in &notes {
                eprintln!("* {note}");
            }
        });
    }
    // A body continuing bytes that went to stdout (a retry) cannot be checked whole.
    let mut checksum = config
        .checksum
        .as_ref()
        .filter(|_| part.is_some() || resp.status() != 206)
        .map(|(algorithm, hex)| {
            let mut v = Verifier::new();
            v.expect(Source::Checksum, *algorithm, hex.clone(), part.is_some());
            v
        });
    if let Some(path) = part
        && (announced.needs_prefix() || checksum.is_some())
    {
        let part = output::part_path(path);
        let read_err = |e: io::Error| Error::Write {
            what: part.display().to_string(),
            reason: format!(
                "cannot read it back to check its digest: {}",
                shared::io_words(&e)
            ),
        };
        let mut file = io::Read::take(std::fs::File::open(&part).map_err(read_err)?, offset);
        let mut buf = vec![0u8; BUF];
        loop {
            let n = io::Read::read(&mut file, &mut buf).map_err(read_err)?;
            if n == 0 {
                break;
            }
            announced.prefix(&buf[..n]);
            if let Some(c) = &mut checksum {
                c.prefix(&buf[..n]);
            }
        }
    }
    resp.verify(announced);
    Ok(checksum)
}

/// Reads the body (decoding it if needed) and writes the heads (with `-i`) and the body;
/// `checksum` (`--checksum`) sees the body as written.
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
fn body(
    config: &Config,
    resp: &mut Response,
    coding: Coding,
    sink: &mut Sink<'_>,
    include: bool,
    bar: &Bar,
    o: &mut Outcome,
    mut checksum: Option<Verifier>,
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
    // --limit-rate: smaller reads, so that the pace is even rather than bursts.
    let chunk = config
        .limit_rate
        .map_or(BUF, |rate| (rate / 8).clamp(1024, BUF as u64) as usize);
    // A body of known length, not decoded, needs no larger buffer than itself (one byte
    // more, to see its end): zeroing 128 KiB for each 1 KiB file was two thirds of the
    // instructions of a 1000-file -Z run (callgrind: 204 M, 130 M of them in memset). At
    // least 4 KiB, for a body longer than announced (--ignore-content-length).
    let known = match coding {
        Coding::Identity => content_length(resp.head())
            .and_then(|n| usize::try_from(n).ok())
            .map_or(usize::MAX, |n| n.saturating_add(1).max(4096)),
        _ => usize::MAX,
    };
    let mut buf = vec![0u8; chunk.min(known)];
    let started = std::time::Instant::now();
    // --speed-limit: the start of the window being measured, and the bytes by then.
    let mut window = (std::time::Duration::ZERO, 0u64);
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
        if let Some(c) = &mut checksum {
            c.update(&buf[..n]);
        }
        if let Some(t) = &config.trace {
            t.received(&buf[..n]);
        }
        sink.write(&buf[..n])?;
        if config.no_buffer {
            sink.flush()?;
        }
        o.written += n as u64;
        let now = reader.wire();
        // Progress counts what crossed the network (the length it knows is the encoded one).
        bar.add(now - wire);
        wire = now;
        o.received = now;
        if let Some((limit, time)) = config.low_speed {
            // Measured over windows of --speed-time: below the limit for a whole one ends it.
            let in_window = started.elapsed().saturating_sub(window.0);
            if in_window >= time {
                if ((now - window.1) as f64) < limit as f64 * in_window.as_secs_f64() {
                    return Err(Error::Timeout {
                        phase: format!("receiving at less than {limit} bytes a second"),
                        after: time,
                    });
                }
                window = (started.elapsed(), now);
            }
        }
        if let Some(rate) = config.limit_rate {
            // Ahead of RATE bytes a second: wait until the average is back to it.
            let due = std::time::Duration::from_secs_f64(now as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                shared::fiber::sleep(wait);
            }
        }
        n = reader.read(&mut buf)?;
    }
    o.received = reader.wire();
    match checksum {
        Some(c) if !config.head => c.finish(),
        _ => Ok(()),
    }
}

/// True when an answer leaves the file at `path` as it is: a `304` never writes one (it
/// carries no representation, only the news that the user's copy is current; curl writes
/// nothing either), and a `204` (no content) does not replace one that exists (curl empties
/// it; a missing file is created empty, as curl creates it). `heads`: with `-i` or `-I`
/// the head itself is the output, written as for any status.
fn keeps_file(status: u16, path: &std::path::Path, heads: bool) -> bool {
    !heads && (status == 304 || status == 204 && path.exists())
}

/// The file name in a `Content-Disposition` (`filename="a.txt"` or `filename=a.txt`), as
/// curl reads it for `-J`: without any folder (everything up to the last `/` or `\` goes),
/// `None` when there is none or nothing is left.
fn disposition_name(head: &Head) -> Option<String> {
    let value = String::from_utf8_lossy(head.header("content-disposition")?).into_owned();
    let lower = value.to_ascii_lowercase();
    let at = lower
        .match_indices("filename=")
        .find(|(i, _)| *i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric())?
        .0;
    let rest = &value[at + "filename=".len()..];
    let name = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap_or(""),
        None => rest.split(';').next().unwrap_or("").trim(),
    };
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    (!base.is_empty() && base != "." && base != "..").then(|| base.to_string())
}

/// `-R`: gives `path` the response's `Last-Modified` time, when there is one (as curl,
/// quietly nothing otherwise).
fn remote_time(path: &std::path::Path, head: &Head) {
    let modified = head
        .header("last-modified")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok());
    if let Some(time) = modified
        && let Ok(file) = std::fs::File::options().write(true).open(path)
    {
        let _ = file.set_modified(time);
    }
}

fn content_length(head: &Head) -> Option<u64> {
    head.header("content-length")
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Args;
    use crate::head::test_head;

    fn config(line: &[&str]) -> Config {
        let mut all = vec!["fetch"];
        all.extend_from_slice(line);
        all.push("http://x/");
        Config::from_args(Args::parse_ordered(all).unwrap()).unwrap()
    }

    /// The verdict as words: "write" (no retry), "retry after N s" (retry once the body is
    /// written), "retry now" or "stop STATUS" (before the body, with -f).
    fn verdict_of(line: &[&str], head: &str, can_retry: bool) -> String {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let after = |a: Option<Duration>| a.map_or("-".into(), |a| a.as_secs().to_string());
        match verdict(&config(line), &test_head(head), can_retry, now) {
            Ok(None) => "write".into(),
            Ok(Some(Failure::Transient { after: a, .. })) => format!("retry after {}", after(a)),
            Err(Failure::Transient { after: a, .. }) => format!("retry now after {}", after(a)),
            Err(Failure::Final(e)) => format!("stop {}", e.exit_code()),
            Ok(Some(Failure::Final(_))) => unreachable!("a retry is transient"),
        }
    }

    #[test]
    fn statuses_worth_a_retry_write_their_body_first_unless_f() {
        let cases: &[(&[&str], &str, bool, &str)] = &[
            (&[], "HTTP/1.1 200 OK", true, "write"),
            (&[], "HTTP/1.1 404 Not Found", true, "write"),
            (
                &[],
                "HTTP/1.1 503 Busy|Retry-After: 7",
                true,
                "retry after 7",
            ),
            (&[], "HTTP/1.1 429 Slow down", true, "retry after -"),
            (&[], "HTTP/1.1 503 Busy", false, "write"),
            (
                &["-f"],
                "HTTP/1.1 503 Busy|Retry-After: 7",
                true,
                "retry now after 7",
            ),
            (&["-f"], "HTTP/1.1 503 Busy", false, "stop 22"),
            (&["-f"], "HTTP/1.1 404 Not Found", true, "stop 22"),
            (&["-f"], "HTTP/1.1 304 Not Modified", true, "write"),
            (
                &["--fail-with-body"],
                "HTTP/1.1 404 Not Found",
                true,
                "write",
            ),
        ];
        for (line, head, can_retry, want) in cases {
            assert_eq!(verdict_of(line, head, *can_retry), *want, "{line:?} {head}");
        }
    }

    #[test]
    fn dot_segments_go_from_the_path_and_the_query_stays() {
        let cases = [
            ("/a/./b/../c", "/a/c"),
            ("/..", "/"),
            ("/a/..?x=/../y", "/?x=/../y"),
            ("/a/b?", "/a/b?"),
            ("/", "/"),
        ];
        for (path, want) in cases {
            assert_eq!(without_dot_segments(path), want, "{path}");
        }
    }

    #[test]
    fn failures_are_retried_as_curl_retries_them() {
        let timeout = || Error::Timeout {
            phase: "x".into(),
            after: Duration::from_secs(1),
        };
        let refused = || {
            Error::Net(shared::Error::Connect {
                target: "x".into(),
                attempts: vec![],
            })
        };
        let transient = |error, after| Failure::Transient { error, after };
        let second = Some(Duration::from_secs(2));
        // (line, failure, can_retry, retried, and after what)
        type Case = (
            &'static [&'static str],
            Failure,
            bool,
            bool,
            Option<Duration>,
        );
        let cases: Vec<Case> = vec![
            (&[], transient(timeout(), second), true, true, second),
            (&[], transient(timeout(), None), false, false, None),
            (&[], transient(refused(), None), true, false, None),
            (
                &["--retry-connrefused"],
                transient(refused(), None),
                true,
                true,
                None,
            ),
            (
                &["--retry-all-errors"],
                transient(refused(), None),
                true,
                true,
                None,
            ),
            (&[], Failure::Final(timeout()), true, false, None),
            (
                &["--retry-all-errors"],
                Failure::Final(timeout()),
                true,
                true,
                None,
            ),
            (
                &["--retry-all-errors"],
                Failure::Final(timeout()),
                false,
                false,
                None,
            ),
            (
                &["--retry-all-errors"],
                Failure::Final(Error::StdoutClosed),
                true,
                false,
                None,
            ),
        ];
        for (i, (line, failure, can_retry, retried, after)) in cases.into_iter().enumerate() {
            match to_retry(&config(line), failure, can_retry) {
                Ok((_, a)) => assert!(retried && a == after, "case {i}: retried after {a:?}"),
                Err(e) => assert!(!retried, "case {i}: stopped with {e}"),
            }
        }
    }

    #[test]
    fn the_wait_is_the_servers_then_the_delay_then_the_backoff_within_the_max_time() {
        let s = Duration::from_secs;
        let now = std::time::Instant::now();
        let wait = |line: &[&str], after, retries| retry_wait(&config(line), after, retries, now);
        assert_eq!(wait(&[], Some(s(7)), 1), s(7));
        assert_eq!(wait(&["--retry-delay", "3"], None, 4), s(3));
        assert_eq!(wait(&["--retry-delay", "3"], Some(s(7)), 4), s(7));
        assert_eq!(wait(&[], None, 3), s(4));
        assert!(wait(&["--retry-max-time", "2"], Some(s(7)), 1) <= s(2));
    }

    #[test]
    fn range_answers() {
        use Ranged::*;
        let cases: &[(&str, u64, bool, Result<Ranged, &str>)] = &[
            (
                "206 Partial|Content-Range: bytes 10-19/20",
                10,
                true,
                Ok(Continues),
            ),
            (
                "206 Partial|Content-Range: bytes 10-19/20",
                10,
                false,
                Ok(Continues),
            ),
            (
                "206 Partial|Content-Range: bytes 0-19/20",
                10,
                true,
                Err("starting at 0"),
            ),
            ("206 Partial", 10, true, Err("starting at an unknown byte")),
            (
                "416 Range|Content-Range: bytes */10",
                10,
                true,
                Ok(Complete),
            ),
            (
                "416 Range|Content-Range: bytes */10",
                10,
                false,
                Ok(Complete),
            ),
            ("416 Range|Content-Range: bytes */30", 10, true, Ok(Changed)),
            (
                "416 Range|Content-Range: bytes */30",
                10,
                false,
                Err("on stdout"),
            ),
            ("200 OK", 10, true, Ok(Whole)),
            ("200 OK", 10, false, Err("answered 200, not 206")),
        ];
        for (head, offset, to_file, want) in cases {
            let head = test_head(&format!("HTTP/1.1 {head}"));
            let got = range_answer(head.status(), &head, *offset, *to_file);
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{head:?}"),
                (Err(e), Err(want)) => {
                    assert_eq!(e.exit_code(), 33);
                    assert!(e.to_string().contains(want), "{e}");
                }
                (got, want) => panic!("{head:?} {offset} {to_file}: {got:?}, not {want:?}"),
            }
        }
    }

    #[test]
    fn codings_follow_the_flags() {
        let gzip = "HTTP/1.1 200 OK|Content-Encoding: gzip";
        let chunked_gzip = "HTTP/1.1 200 OK|Transfer-Encoding: gzip, chunked";
        let cases: &[(&[&str], Method, &str, Coding)] = &[
            (&[], Method::Get, gzip, Coding::Identity),
            (&["--compressed"], Method::Get, gzip, Coding::Gzip),
            (&["--compressed"], Method::Post, gzip, Coding::Identity),
            (
                &["--compressed", "--raw"],
                Method::Get,
                gzip,
                Coding::Identity,
            ),
            (&[], Method::Get, chunked_gzip, Coding::Identity),
            (&["--tr-encoding"], Method::Get, chunked_gzip, Coding::Gzip),
        ];
        for (line, method, head, want) in cases {
            let got = coding(&config(line), *method, &test_head(head)).unwrap();
            assert_eq!(got, *want, "{line:?} {method:?} {head}");
        }
    }

    #[test]
    fn the_bar_counts_to_the_whole_file_when_continuing() {
        let head =
            test_head("HTTP/1.1 206 Partial|Content-Range: bytes 10-19/20|Content-Length: 10");
        assert_eq!(expected_length(&head, true), Some(20));
        assert_eq!(expected_length(&head, false), Some(10));
        assert_eq!(expected_length(&test_head("HTTP/1.1 200 OK"), false), None);
    }

    #[test]
    fn head_checks_save_the_etag_and_refuse_a_large_body() {
        let dir = tempfile::tempdir().unwrap();
        let etag = dir.path().join("etag file");
        let c = config(&["--etag-save", etag.to_str().unwrap(), "--max-filesize", "5"]);
        let small = test_head("HTTP/1.1 200 OK|ETag: \"a\"|Content-Length: 5");
        check_head(&c, &small).unwrap();
        assert_eq!(std::fs::read(&etag).unwrap(), b"\"a\"\n");
        let large = test_head("HTTP/1.1 200 OK|Content-Length: 6");
        assert_eq!(check_head(&c, &large).unwrap_err().exit_code(), 63);
        assert_eq!(std::fs::read(&etag).unwrap(), b"", "no ETag: an empty file");
    }

    #[test]
    fn j_takes_the_servers_name_for_o_only_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let head =
            test_head("HTTP/1.1 200 OK|Content-Disposition: attachment; filename=\"../a b.txt\"");
        let c = config(&["-J", "--output-dir", out]);
        let want = dir.path().join("a b.txt");
        assert_eq!(header_named(&c, &head, true).unwrap(), Some(want.clone()));
        assert_eq!(
            header_named(&c, &head, false).unwrap(),
            None,
            "-o names its file"
        );
        assert_eq!(
            header_named(&config(&[]), &head, true).unwrap(),
            None,
            "no -J"
        );
        std::fs::write(&want, "mine").unwrap();
        assert_eq!(header_named(&c, &head, true).unwrap_err().exit_code(), 23);
    }

    #[test]
    fn disposition_names_lose_their_folders() {
        let cases = [
            ("attachment; filename=\"a.txt\"", Some("a.txt")),
            ("attachment; filename=b.txt; size=3", Some("b.txt")),
            ("attachment; FileName=\"x/y\\\\z.txt\"", Some("z.txt")),
            ("attachment; xfilename=c.txt", None),
            ("attachment; filename=\"..\"", None),
            ("inline", None),
        ];
        for (value, want) in cases {
            let head = test_head(&format!("HTTP/1.1 200 OK|Content-Disposition: {value}"));
            assert_eq!(disposition_name(&head).as_deref(), want, "{value}");
        }
    }

    #[test]
    fn a_304_or_a_204_over_a_file_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let there = dir.path().join("there");
        std::fs::write(&there, "mine").unwrap();
        let absent = dir.path().join("absent");
        assert!(keeps_file(304, &absent, false));
        assert!(keeps_file(204, &there, false));
        assert!(!keeps_file(204, &absent, false));
        assert!(!keeps_file(200, &there, false));
        assert!(!keeps_file(304, &there, true), "-i writes the head");
    }
}
