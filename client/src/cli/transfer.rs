//! One target from start to end: request it, retry what is worth retrying (resuming from
//! what already arrived), decode it when asked (`--compressed`), and write its head and body
//! where they go. Everything one transfer did is kept in an [`Outcome`] for the reports.

use std::io;
use std::path::PathBuf;
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

/// Runs target number `index` to its end.
pub(crate) fn transfer(
    config: &Config,
    index: usize,
    slot: &mut Slot,
    progress: &Progress,
) -> Outcome {
    let input = config.targets[index].as_str();
    let spec = &config.dests[index];
    let mut o = Outcome {
        target: input.to_string(),
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
    };
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

fn run(
    config: &Config,
    index: usize,
    spec: &DestSpec,
    slot: &mut Slot,
    progress: &Progress,
    o: &mut Outcome,
) -> Result<(), Error> {
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
        let (path, query) = match target.path.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.path.clone(), None),
        };
        let path = crate::redirect::remove_dot_segments(&path);
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        target.path = match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
    }
    if (config.http_off && !target.tls) || (config.https_off && target.tls) {
        return Err(Error::HttpDisabled {
            by: "--proto",
            scheme: target.scheme(),
        });
    }
    let mut request = config.request.clone();
    if let Some((user, password)) = &userinfo {
        let token = shared::base64(format!("{user}:{password}").as_bytes());
        request.authorization = Some(format!("Basic {token}"));
    }
    if let (Some(text), shared::Endpoint::Tcp { host, .. }) = (&config.netrc, &target.endpoint)
        && let Some((login, password)) = netrc::lookup(text, &host.to_string())
    {
        let token = shared::base64(format!("{login}:{password}").as_bytes());
        request.authorization = Some(format!("Basic {token}"));
    }
    if let Some(Some(upload)) = config.uploads.get(index) {
        request.method = Method::Put;
        request.body = Some(upload.clone());
    }
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
        let tried = attempt(
            config,
            &request,
            &target,
            (&dest, matches!(spec, DestSpec::Remote)),
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
            Err(Failure::Final(e)) if !config.retry_all_errors || !can_retry => return Err(e),
            // --retry-all-errors: anything but a reader gone from stdout.
            Err(Failure::Final(e @ Error::StdoutClosed)) => return Err(e),
            Err(Failure::Final(error)) => (error, None),
            Err(Failure::Transient { error, .. }) if !can_retry => return Err(error),
            // As curl: a connection refused is retried only when asked.
            Err(Failure::Transient { error, .. })
                if error.exit_code() == 7
                    && !config.retry_connrefused
                    && !config.retry_all_errors =>
            {
                return Err(error);
            }
            Err(Failure::Transient { error, after }) => (error, after),
        };
        o.retries += 1;
        let wait = after.unwrap_or_else(|| match config.retry_delay {
            Some(fixed) => fixed,
            None => retry::backoff(Duration::from_secs(1), o.retries),
        });
        // Never wait past --retry-max-time.
        let wait = match config.retry_max_time {
            Some(max) => wait.min(max.saturating_sub(started.elapsed())),
            None => wait,
        };
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
    request: &Request,
    target: &Target,
    (dest, remote): (&Dest, bool),
    resume: &mut Resume,
    slot: &mut Slot,
    progress: &Progress,
    o: &mut Outcome,
    can_retry: bool,
) -> Result<(), Failure> {
    let method = request.method;
    let extra = if method == Method::Get {
        resume.headers()
    } else {
        Vec::new()
    };
    let mut req = request.clone();
    req.headers.extend(extra.iter().cloned());
    let mut resp = config
        .client
        .send(&req, target, &mut o.trace)
        .map_err(transient)?;
    o.url = Some(resp.url().to_string());
    o.head = Some(resp.head().clone());
    o.history = resp.history().to_vec();
    o.uploaded = resp.body_sent();
    o.received = 0;
    if let Some(dump) = &config.dump_header {
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
                    .map_err(|e| Error::from_io(e, "stdout"))?;
            }
            HeaderDump::File { .. } => dump.write_file(&heads)?,
        }
    }
    let status = resp.status();
    // A status worth another try. Without -f its body is written first, as curl writes it
    // (to stdout; a file's goes to `NAME.part`, which the next try starts afresh).
    let retrying = (can_retry && matches!(status, 408 | 429 | 500 | 502 | 503 | 504)).then(|| {
        let after = resp
            .head()
            .header("retry-after")
            .and_then(|v| retry::retry_after(v, SystemTime::now()));
        Failure::Transient {
            error: Error::HttpStatus { status },
            after,
        }
    });
    let retrying = match retrying {
        Some(retry) if config.fail => return Err(retry),
        other => other,
    };
    if config.fail && status >= 400 {
        return Err(Error::HttpStatus { status }.into());
    }
    if let Some(path) = &config.etag_save {
        // The ETag and a newline, or an empty file, as curl writes it.
        let text = resp
            .head()
            .header("etag")
            .map(|e| [e, b"\n"].concat())
            .unwrap_or_default();
        std::fs::write(path, text).map_err(|e| Error::Write {
            what: path.display().to_string(),
            reason: shared::io_words(&e),
        })?;
    }
    if let (Some(max), Some(size)) = (config.max_filesize, content_length(resp.head()))
        && size > max
    {
        return Err(Error::TooLarge { size, max }.into());
    }
    if let Dest::File(path) = dest
        && keeps_file(status, path, config.include || config.head)
    {
        // Nothing to write, and nothing to replace the user's copy with.
        io::copy(&mut resp, &mut io::sink()).map_err(|e| Error::from_io(e, "the body"))?;
        o.trace.body_done();
        return Ok(());
    }
    // -J: the name the server gives, when it gives one (-O's name otherwise).
    let named;
    let dest = match disposition_name(resp.head()).filter(|_| remote && config.remote_header_name) {
        Some(name) => {
            let path = PathBuf::from(match &config.output_dir {
                Some(dir) => format!("{dir}/{name}"),
                None => name,
            });
            if path.exists() {
                return Err(Error::Write {
                    what: path.display().to_string(),
                    reason: "the file exists, and -J never overwrites one".into(),
                }
                .into());
            }
            o.file = Some(path.clone());
            named = Dest::File(path);
            &named
        }
        None => dest,
    };
    let file = match dest {
        Dest::File(p) => Some(p.as_path()),
        Dest::Stdout { .. } => None,
    };
    // What the server did with our range, if we sent one.
    let mut append = false;
    if !extra.is_empty() {
        let (start, total) = content_range(resp.head());
        match status {
            206 if start == Some(resume.offset) => {
                if let Some(path) = file {
                    resume.move_to_part(path)?;
                }
                append = true;
            }
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
                    // The file itself is complete: nothing to rename, and its time stays.
                    Some(_) if resume.in_final => Ok(()),
                    Some(path) => Sink::file(path, true)?
                        .finish()
                        .map(drop)
                        .map_err(Into::into),
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
                return attempt(
                    config,
                    request,
                    target,
                    (dest, remote),
                    resume,
                    slot,
                    progress,
                    o,
                    can_retry,
                );
            }
            // A 200 (the file changed, or no ranges here): start over.
            _ => *resume = Resume::default(),
        }
    }
    o.resumed_from = if append { resume.offset } else { 0 };
    let coding = if config.raw {
        // --raw: the body as it came.
        Coding::Identity
    } else {
        let content = if config.compressed && method == Method::Get {
            Coding::of(resp.head())?
        } else {
            Coding::Identity
        };
        let transfer = if config.tr_encoding {
            Coding::of_transfer(resp.head())
        } else {
            Coding::Identity
        };
        Coding::either(content, transfer)?
    };
    if method == Method::Get && !append && status == 200 {
        // Record the validator before the first byte lands: for a retry, and beside a file
        // for a later `-C -`.
        resume.validator = resume::validator(resp.head());
        if let Some(path) = file.filter(|p| !output::is_special(p)) {
            resume::write_meta(path, resume.validator.as_deref());
        }
    }
    let checksum = digests(
        config,
        &mut resp,
        file.filter(|_| append),
        resume.offset,
        progress,
    )?;
    let mut sink = match dest {
        Dest::File(path) => Sink::file_with(path, append, config.file_rules)?,
        Dest::Stdout { explicit } => Sink::stdout(slot, *explicit),
    };
    let base = if append { resume.offset } else { 0 };
    let length = match content_range(resp.head()) {
        (_, Some(total)) if append => Some(total),
        _ => content_length(resp.head()),
    };
    let show = file.is_some() || !output::stdout_is_terminal();
    let name = match file {
        Some(p) => p.display().to_string(),
        None => target.to_string(),
    };
    let bar = progress.bar(&name, length, show && method == Method::Get);
    bar.start_at(base);
    // -D - with -i has written the heads already.
    let include = config.include && !matches!(config.dump_header, Some(HeaderDump::Stdout));
    let result = body(
        config, &mut resp, coding, &mut sink, include, &bar, o, checksum,
    );
    bar.done();
    // What is in the file (or on stdout) now, for the next try. A decoded body cannot be
    // resumed: a range counts encoded bytes.
    resume.offset = if coding == Coding::Identity && result.is_err() {
        base + o.written
    } else {
        0
    };
    if let Some(retry) = retrying {
        // The body was the server's word on why to try again, not the resource: nothing
        // to resume, and a file keeps its old contents (its `.part` holds this body).
        o.trace.body_done();
        *resume = Resume::default();
        match result {
            Err(e @ Error::StdoutClosed) => return Err(Failure::Final(e)),
            _ => {
                sink.flush()?;
                return Err(retry);
            }
        }
    }
    if let Err(e @ Error::Digest { .. }) = result {
        // Bytes known to be wrong: nothing may look complete, and nothing is worth resuming.
        o.trace.body_done();
        drop(sink);
        resume.offset = 0;
        if let Some(path) = file.filter(|p| !output::is_special(p)) {
            let _ = std::fs::remove_file(output::part_path(path));
            let _ = std::fs::remove_file(output::meta_path(path));
        }
        return Err(Failure::Final(e));
    }
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
                std::thread::sleep(wait);
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
