//! The `fetch` command line: flags (clap), their validation into a [`Config`], and the loop
//! over the targets that writes each body where it belongs.

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use shared::{Family, Resolver, duration_words};

use crate::error::Error;
use crate::order::{Finished, Sequencer, Slot};
use crate::output::{Dest, bytes_words};
use crate::progress::Progress;
use crate::report;
use crate::request::{HeaderEdit, Version};
use crate::transfer::{self, Outcome};
use crate::{Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_IDLE_PER_ENDPOINT, Event};

const EXIT_CODES_SHORT: &str = "\
Exit codes: 0 ok, 1 unsupported protocol, 2 usage, 3 malformed target, 6 resolve, 7 connect,
8 unparseable reply, 18 partial body, 22 HTTP error (-f), 23 write error, 28 timeout,
33 cannot resume, 47 too many redirects, 52 empty reply, 55 send failure, 56 receive failure,
61 bad content encoding (more: --help)";

const EXIT_CODES: &str = "\
Exit codes (curl's numbers):
   0  success (also when stdout is closed early, as by `| head -1`)
   1  unsupported protocol: https:// and other schemes, a redirect to one, an HTTP/0.9
      reply without --http0.9
   2  usage: unknown flag, bad value, more -o than targets
   3  malformed target
   6  could not resolve the host name
   7  could not connect (every address listed with its reason)
   8  unparseable reply: bad or oversized head (64 KiB, 100 fields), conflicting
      Content-Length, an unrequested 101
  18  partial body: the connection closed before the declared length or the last chunk
  22  HTTP error with -f: status 400 or more
  23  write error: the output file or stdout (or a binary body refused on a terminal)
  28  timeout (the message names the phase and the limit)
  33  cannot resume (-C -): the server sent another range than the one asked for, or a
      whole body where part of it already went to stdout
  47  too many redirects (--max-redirs)
  52  empty reply: the server closed without a byte
  55  the request could not be sent
  56  receive failure: connection reset, malformed chunked body
  61  bad content encoding (--compressed): a coding not asked for, or a broken stream

Timeouts: --connect-timeout (default 30 s) covers resolving and connecting; then 30 s to
send the request, 60 s for the whole response head, and 60 s of silence at most while
reading the body. -m bounds the whole transfer, redirects included (default: none).

Many targets (on the command line and with --input FILE): -j N runs N transfers at once on
a pool of N threads, reusing kept-alive connections per host and port (up to max(4, N) idle
per endpoint). Bodies on stdout come out in target order whatever order they finish in
(bodies that finish early wait in memory, up to 8 MiB in all, then in temporary files); with
-O each goes to its own file. The exit code is that of the first target, in input order, that
failed; with more than one target a one-line summary ends stderr (not with -s).

Resume (-C -): continue NAME.part (or an existing -o file) with `Range: bytes=N-`. When a
download starts, the validator of the response (a strong ETag, else Last-Modified) is stored
beside the part file in NAME.part.meta (a small text file: it travels with the part file, works
on every file system, and is removed with the rename); a resume sends it in If-Range, so a
changed file comes back whole (200: start over) rather than as a mismatched tail. 206: the
tail is appended (its Content-Range must start at N); 416 with `Content-Range: bytes */N`: the
file was already complete. The result is the same bytes as a one-shot download.

Retries (--retry N): after a connect failure, a timeout, a dropped connection (empty reply,
reset, partial body) or a 408, 429, 500, 502, 503 or 504 answer, wait and try again, up to N
times: --retry-delay (default 1 s) doubling each time, at most 10 s, or what Retry-After says
(seconds or an HTTP date, at most 60 s). A download retried after some of its body arrived
resumes from there (its .part, or the bytes already on stdout) when the server honours ranges.
-m bounds each try.

--timing draws, after each transfer, its phases on stderr (resolve, each connect attempt,
request sent, first byte, body done) for every hop, as bars on one time scale with the
numbers in ms. --json writes one JSON line per transfer on stderr (stdout carries the bodies),
schema 1, documented in docs/fetch-json.md.

Connecting: a name with several addresses is raced, Happy Eyeballs style (RFC 8305): the next
address (families alternating) is tried when the previous one has not connected within 250 ms.";

/// fetch: fetch pages over plain HTTP/1.x from the terminal.
///
/// fetch resolves the host, connects to it (port 80 unless given), sends `GET /path` and
/// writes the body to stdout, byte for byte. It speaks curl's flags and returns curl's exit
/// codes, and is strict about what arrives: a body shorter than declared is an error, never
/// a quiet success, and files are written as FILE.part and renamed only when complete.
#[derive(Parser, Debug)]
#[command(name = "fetch", version, after_help = EXIT_CODES_SHORT, after_long_help = EXIT_CODES)]
pub struct Args {
    /// What to fetch: host, host:port, host/path, http://host:port/path?query, [::1]:8080/x,
    /// unix:/path/to.sock
    #[arg(value_name = "TARGET", required_unless_present = "input")]
    pub targets: Vec<String>,

    /// Write the body to FILE (one -o per target, in order; `-o -` = stdout)
    ///
    /// The body goes to FILE.part first, renamed to FILE only when it is complete; after a
    /// failure FILE is neither created nor overwritten, and FILE.part stays.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<String>,

    /// Save targets without an -o under their remote name, in the current folder
    ///
    /// The name is the last segment of the path, percent-decoded, without `/`, `\` or
    /// leading dots; `index.html` when the path ends in `/`.
    #[arg(short = 'O', long = "remote-name")]
    pub remote_name: bool,

    /// Send HEAD and print the response head
    #[arg(short = 'I', long = "head")]
    pub head: bool,

    /// Print the response head before the body
    #[arg(short = 'i', long = "include")]
    pub include: bool,

    /// On stderr: resolution, each address tried, `>` request and `<` response heads
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// No progress or informational output (errors still print)
    #[arg(short = 's', long = "silent")]
    pub silent: bool,

    /// Status 400 or more: write no body, exit 22
    #[arg(short = 'f', long = "fail")]
    pub fail: bool,

    /// Follow redirects (301, 302, 303, 307, 308)
    ///
    /// 301, 302 and 303 continue with GET (HEAD stays HEAD), 307 and 308 keep the method.
    /// Authorization, Cookie and Host given with -H are not sent to another host or port.
    #[arg(short = 'L', long = "location")]
    pub location: bool,

    /// Follow at most N redirects with -L, then exit 47
    #[arg(long = "max-redirs", value_name = "N", default_value_t = crate::DEFAULT_MAX_REDIRECTS)]
    pub max_redirs: u32,

    /// Add or replace a request header (`Name:` removes a default one, `Name;` sends it
    /// empty)
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = HeaderEdit::parse)]
    pub headers: Vec<HeaderEdit>,

    /// The User-Agent header (default fetch/VERSION; empty: none)
    #[arg(short = 'A', long = "user-agent", value_name = "STRING")]
    pub user_agent: Option<String>,

    /// Limit for resolving and connecting (default 30 s)
    #[arg(long = "connect-timeout", value_name = "SECS", value_parser = parse_secs)]
    pub connect_timeout: Option<Duration>,

    /// Limit for the whole transfer, redirects and body included
    #[arg(short = 'm', long = "max-time", value_name = "SECS", value_parser = parse_secs)]
    pub max_time: Option<Duration>,

    /// Connect to this Unix-domain socket; the target still gives Host and path
    #[arg(long = "unix-socket", value_name = "PATH")]
    pub unix_socket: Option<PathBuf>,

    /// Send HTTP/1.0 (one request per connection)
    #[arg(long = "http1.0", conflicts_with = "http09")]
    pub http10: bool,

    /// Send a simple request (`GET /path`) and take the raw reply up to close
    #[arg(long = "http0.9")]
    pub http09: bool,

    /// Use ADDR for HOST:PORT instead of asking DNS (repeatable)
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR[,ADDR]")]
    pub resolve: Vec<String>,

    /// Use IPv4 addresses only
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Use IPv6 addresses only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Read more targets from FILE (`-` for stdin): one per line; blank lines and lines
    /// starting with `#` are skipped
    #[arg(long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Run up to N transfers at once
    ///
    /// Bodies on stdout still come out in target order; kept-alive connections are shared
    /// between the transfers.
    #[arg(short = 'j', long = "parallel", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,

    /// Resume a download: `-C -` continues NAME.part (or an existing -o file) where it ends
    ///
    /// Only the form `-C -` (curl's "find the offset yourself") is accepted. Needs -o or -O.
    #[arg(short = 'C', long = "continue-at", value_name = "-", value_parser = parse_continue)]
    pub continue_at: Option<bool>,

    /// Retry up to N times after a transient failure (connect, timeout, dropped connection,
    /// 408/429/500/502/503/504)
    #[arg(long = "retry", value_name = "N", default_value_t = 0)]
    pub retry: u32,

    /// The first wait before a retry, doubling each time up to 10 s (default 1 s)
    #[arg(long = "retry-delay", value_name = "SECS", value_parser = parse_secs)]
    pub retry_delay: Option<Duration>,

    /// After each transfer, draw its phases (resolve, connect, sent, first byte, done) on
    /// stderr
    #[arg(long = "timing")]
    pub timing: bool,

    /// After each transfer, one JSON line on stderr (schema 1: docs/fetch-json.md)
    #[arg(long = "json")]
    pub json: bool,

    /// Ask for a gzip or deflate body (Accept-Encoding) and decode it as it arrives
    #[arg(long = "compressed")]
    pub compressed: bool,
}

fn parse_continue(s: &str) -> Result<bool, String> {
    if s == "-" {
        Ok(true)
    } else {
        Err(format!(
            "'{s}': only `-C -` is supported (resume where the part file ends)"
        ))
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("'{s}' must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// What to do, validated: the client to fetch with and where each body goes.
#[derive(Debug)]
pub struct Config {
    /// The targets, as typed (each is parsed when its turn comes, so a bad one does not
    /// stop the others).
    pub targets: Vec<String>,
    /// Where each target's body goes, in order.
    pub dests: Vec<DestSpec>,
    /// HEAD instead of GET (`-I`).
    pub head: bool,
    /// Print response heads before the body (`-i`, and `-I`).
    pub include: bool,
    /// `-f`.
    pub fail: bool,
    /// Show progress on a terminal (not `-s`, not `-v`).
    pub progress: bool,
    /// `-s`: no summary, no retry notices.
    pub silent: bool,
    /// Transfers at once (`-j`).
    pub parallel: usize,
    /// `-C -`.
    pub resume: bool,
    /// `--retry`.
    pub retries: u32,
    /// `--retry-delay` (default 1 s).
    pub retry_delay: Duration,
    /// `--timing`.
    pub timing: bool,
    /// `--json`.
    pub json: bool,
    /// `--compressed`.
    pub compressed: bool,
    /// The client.
    pub client: Client,
}

/// Where one target's body goes, before its name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestSpec {
    /// Stdout or a named file.
    Given(Dest),
    /// `-O`: the file name comes from the target.
    Remote,
}

impl Config {
    /// Checks the flags and builds the client. Every problem here is a usage error (exit 2).
    pub fn from_args(mut args: Args) -> Result<Config, Error> {
        let usage = |m: String| Error::Usage(m);
        if let Some(file) = &args.input {
            args.targets.extend(read_targets(file)?);
        }
        if args.targets.is_empty() {
            return Err(usage(
                "no target given (on the command line or with --input)".into(),
            ));
        }
        let resume = args.continue_at.unwrap_or(false);
        if resume {
            if args.head || args.include {
                return Err(usage(
                    "-C - resumes a body into a file: it cannot go with -I or -i".into(),
                ));
            }
            if args.compressed {
                return Err(usage(
                    "-C - cannot go with --compressed (a range counts encoded bytes)".into(),
                ));
            }
            if !args.remote_name && args.output.len() < args.targets.len()
                || args.output.iter().any(|o| o == "-")
            {
                return Err(usage(
                    "-C - needs a file for every target (-o FILE or -O)".into(),
                ));
            }
        }
        if args.output.len() > args.targets.len() {
            return Err(usage(format!(
                "{} -o given for {} target(s): one -o per target",
                args.output.len(),
                args.targets.len()
            )));
        }
        if args.http09 && args.head {
            return Err(usage("--http0.9 has no HEAD: it cannot go with -I".into()));
        }
        let family = match (args.ipv4, args.ipv6) {
            (true, _) => Family::V4,
            (_, true) => Family::V6,
            _ => Family::Any,
        };
        let mut resolver = Resolver::new().with_family(family);
        for spec in &args.resolve {
            resolver
                .add_override_spec(spec)
                .map_err(|e| usage(format!("--resolve: {e}")))?;
        }
        let version = if args.http09 {
            Version::Http09
        } else if args.http10 {
            Version::Http10
        } else {
            Version::Http11
        };
        let parallel = usize::from(args.parallel);
        let mut builder = Client::builder()
            .max_idle_per_endpoint(parallel.max(DEFAULT_MAX_IDLE_PER_ENDPOINT))
            .connect_timeout(args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
            .max_time(args.max_time)
            .redirects(args.location.then_some(args.max_redirs))
            .version(version)
            .resolver(resolver)
            .unix_socket(args.unix_socket);
        if args.compressed {
            // Before -H, so that a -H naming Accept-Encoding still wins.
            builder = builder.header(HeaderEdit {
                name: "Accept-Encoding".into(),
                value: Some("gzip, deflate".into()),
            });
        }
        if let Some(agent) = args.user_agent {
            // -A goes first, so that a -H naming User-Agent still wins.
            builder = builder.header(HeaderEdit {
                name: "User-Agent".into(),
                value: (!agent.is_empty()).then_some(agent),
            });
        }
        for edit in args.headers {
            builder = builder.header(edit);
        }
        if args.verbose {
            builder = builder.observer(verbose);
        }
        let dests = (0..args.targets.len())
            .map(|i| match args.output.get(i) {
                Some(o) if o == "-" => DestSpec::Given(Dest::Stdout { explicit: true }),
                Some(o) => DestSpec::Given(Dest::File(PathBuf::from(o))),
                None if args.remote_name => DestSpec::Remote,
                None => DestSpec::Given(Dest::Stdout { explicit: false }),
            })
            .collect();
        Ok(Config {
            targets: args.targets,
            dests,
            head: args.head,
            include: args.include || args.head,
            fail: args.fail,
            progress: !args.silent && !args.verbose,
            silent: args.silent,
            parallel,
            resume,
            retries: args.retry,
            retry_delay: args.retry_delay.unwrap_or(Duration::from_secs(1)),
            timing: args.timing,
            json: args.json,
            compressed: args.compressed,
            client: builder.build(),
        })
    }
}

/// The targets in `file` (`-`: stdin): one a line, trimmed; blank lines and `#` comments
/// skipped.
fn read_targets(file: &std::path::Path) -> Result<Vec<String>, Error> {
    let fail = |e: io::Error| {
        Error::Usage(format!(
            "--input {}: {}",
            file.display(),
            shared::io_words(&e)
        ))
    };
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(io::BufReader::new(std::fs::File::open(file).map_err(fail)?))
    };
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(fail)?;
        let line = line.trim();
        if !line.is_empty() && !line.starts_with('#') {
            out.push(line.to_string());
        }
    }
    Ok(out)
}

/// `-v`: what happens, on stderr.
fn verbose(event: &Event<'_>) {
    let mut err = io::stderr().lock();
    // Diagnostics must never stop a transfer: a closed stderr is ignored.
    let _ = match event {
        Event::Resolved { host, addrs } => {
            let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            writeln!(err, "* resolved {host} to {}", list.join(", "))
        }
        Event::Connected {
            peer,
            failed,
            elapsed,
        } => {
            for a in *failed {
                let _ = writeln!(err, "* trying {}: {}", a.addr, a.reason);
            }
            writeln!(err, "* connected to {peer} in {}", duration_words(*elapsed))
        }
        Event::Reused { peer } => writeln!(err, "* reusing the connection to {peer}"),
        Event::Retry { peer, reason } => writeln!(
            err,
            "* the kept-alive connection to {peer} failed ({reason}); sending again on a new one"
        ),
        Event::RequestHead(bytes) => head_lines(&mut err, "> ", bytes),
        Event::ResponseHead(bytes) => head_lines(&mut err, "< ", bytes),
        Event::Redirect { status, to } => writeln!(err, "* following the {status} to {to}"),
    };
}

fn head_lines(err: &mut impl Write, prefix: &str, bytes: &[u8]) -> io::Result<()> {
    let text = String::from_utf8_lossy(bytes);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.is_empty() {
            writeln!(err, "{prefix}{line}")?;
        }
    }
    writeln!(err, "{}", prefix.trim_end())
}

/// The whole command: parse `args`, fetch every target, and return the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap prints them; a closed stdout is fine.
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            report(&Error::Usage(clap_message(&e)));
            return 2;
        }
    };
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            report(&e);
            return e.exit_code();
        }
    };
    run(&config)
}

/// Fetches every target (up to `-j` at once, on a dedicated thread pool); bodies on stdout
/// and the report lines on stderr come out in target order. Returns the exit code of the
/// first target, in input order, that failed (0 if none).
pub fn run(config: &Config) -> i32 {
    let started = Instant::now();
    let n = config.targets.len();
    let progress = Progress::new(config.progress, n);
    let seq = Arc::new(Sequencer::default());
    // Targets are handed out in input order, so a body that must wait for its turn waits
    // for at most about -j others.
    let next = AtomicUsize::new(0);
    let code = std::sync::Mutex::new(0);
    let failed = AtomicUsize::new(0);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n || seq.stdout_closed() {
                return;
            }
            let mut slot = Slot::new(i, seq.clone());
            let outcome = transfer::transfer(
                config,
                &config.targets[i],
                &config.dests[i],
                &mut slot,
                &progress,
            );
            let done = finished(config, &outcome, slot.take_spool());
            if done.code != 0 {
                failed.fetch_add(1, Ordering::Relaxed);
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
    if config.parallel <= 1 {
        work();
    } else {
        match rayon::ThreadPoolBuilder::new()
            .num_threads(config.parallel)
            .thread_name(|i| format!("fetch-{i}"))
            .build()
        {
            Ok(pool) => pool.scope(|s| {
                for _ in 0..config.parallel.min(n) {
                    s.spawn(|_| work());
                }
            }),
            // No threads to be had: fetch one after the other instead.
            Err(_) => work(),
        }
    }
    progress.finish();
    let code = *code
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if n > 1 && !config.silent && !seq.stdout_closed() {
        let failed = failed.load(Ordering::Relaxed);
        let first = if code != 0 {
            format!(" (first failure: exit {code})")
        } else {
            String::new()
        };
        let _ = writeln!(
            io::stderr(),
            "fetch: {n} targets: {} ok, {failed} failed{first}; {} in {}",
            n - failed,
            bytes_words(bytes.load(Ordering::Relaxed)),
            duration_words(started.elapsed())
        );
    }
    code
}

/// What a transfer leaves for its turn: its spooled body and its lines for stderr (the
/// error, the timing picture, the JSON line).
fn finished(config: &Config, o: &Outcome, spool: Option<crate::order::Spool>) -> Finished {
    let mut stderr = Vec::new();
    let (code, stdout_closed) = match &o.result {
        Ok(()) => (0, false),
        Err(Error::StdoutClosed) => (0, true),
        Err(e) => {
            let text = e.to_string().replace(['\n', '\r'], " ");
            let _ = writeln!(stderr, "fetch: {text}");
            (e.exit_code(), false)
        }
    };
    if config.timing {
        stderr.extend_from_slice(report::timing(o).as_bytes());
    }
    if config.json {
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

/// Prints `fetch: <error>` on stderr, as one line.
fn report(e: &Error) {
    let text = e.to_string().replace(['\n', '\r'], " ");
    let _ = writeln!(io::stderr(), "fetch: {text}");
}

/// clap's message on one line: `unexpected argument '--x' found (see 'fetch --help')`.
fn clap_message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() && !line.starts_with("tip:") {
            parts.push(line.strip_prefix("error: ").unwrap_or(line).to_string());
        }
    }
    format!("{} (see 'fetch --help')", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, Error> {
        let mut all = vec!["fetch"];
        all.extend_from_slice(args);
        let args = Args::try_parse_from(all).map_err(|e| Error::Usage(clap_message(&e)))?;
        Config::from_args(args)
    }

    #[test]
    fn clap_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    #[test]
    fn outputs_go_to_targets_in_order() {
        let c = parse(&["-o", "a", "-o", "-", "-O", "x/1", "y/2", "z/3"]).unwrap();
        assert_eq!(
            c.dests,
            [
                DestSpec::Given(Dest::File("a".into())),
                DestSpec::Given(Dest::Stdout { explicit: true }),
                DestSpec::Remote,
            ]
        );
        let c = parse(&["x"]).unwrap();
        assert_eq!(c.dests, [DestSpec::Given(Dest::Stdout { explicit: false })]);
    }

    #[test]
    fn usage_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "required"),
            (&["--bogus", "x"], "unexpected argument '--bogus'"),
            (&["-o", "a", "-o", "b", "x"], "2 -o given for 1 target(s)"),
            (&["-m", "soon", "x"], "'soon' is not a number of seconds"),
            (&["-m", "0", "x"], "must be a positive number"),
            (&["--resolve", "nope", "x"], "--resolve: bad target 'nope'"),
            (&["-H", "no colon", "x"], "expected 'Name: value'"),
            (&["--http0.9", "-I", "x"], "cannot go with -I"),
            (&["-4", "-6", "x"], "cannot be used with"),
            (&["--max-redirs", "-1", "x"], "'-1'"),
            (
                &["--max-redirs", "lots", "x"],
                "invalid value 'lots' for '--max-redirs <N>'",
            ),
        ];
        for (args, want) in cases {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let text = err.to_string();
            assert!(text.contains(want), "{args:?}: {text}");
            assert!(!text.contains('\n'), "{args:?}: {text}");
        }
    }
}
