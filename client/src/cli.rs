//! The `fetch` command line: flags (clap), their validation into a [`Config`], and the loop
//! over the targets that writes each body where it belongs.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shared::{Family, Resolver, Target, duration_words};

use crate::client::{Client, DEFAULT_CONNECT_TIMEOUT, Event};
use crate::error::Error;
use crate::output::{Dest, Progress, Sink, remote_name};
use crate::request::{HeaderEdit, Method, Version};

const EXIT_CODES_SHORT: &str = "\
Exit codes: 0 ok, 1 unsupported protocol, 2 usage, 3 malformed target, 6 resolve, 7 connect,
8 unparseable reply, 18 partial body, 22 HTTP error (-f), 23 write error, 28 timeout,
47 too many redirects, 52 empty reply, 55 send failure, 56 receive failure (more: --help)";

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
  47  too many redirects (--max-redirs)
  52  empty reply: the server closed without a byte
  55  the request could not be sent
  56  receive failure: connection reset, malformed chunked body

Timeouts: --connect-timeout (default 30 s) covers resolving and connecting; then 30 s to
send the request, 60 s for the whole response head, and 60 s of silence at most while
reading the body. -m bounds the whole transfer, redirects included (default: none).

With several targets, each is fetched in order (reusing a kept-alive connection to the
same host and port) and the exit code is that of the first that failed.";

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
    #[arg(value_name = "TARGET", required = true)]
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
    /// Show the progress line when saving to a file.
    pub progress: bool,
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
    pub fn from_args(args: Args) -> Result<Config, Error> {
        let usage = |m: String| Error::Usage(m);
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
        let mut builder = Client::builder()
            .connect_timeout(args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
            .max_time(args.max_time)
            .redirects(args.location.then_some(args.max_redirs))
            .version(version)
            .resolver(resolver)
            .unix_socket(args.unix_socket);
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
            client: builder.build(),
        })
    }
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

/// Fetches each target in order; returns the exit code of the first failure (0 if none).
pub fn run(config: &Config) -> i32 {
    let mut code = 0;
    for (input, dest) in config.targets.iter().zip(&config.dests) {
        match fetch_one(config, input, dest) {
            Ok(()) => {}
            // The reader went away: nobody wants the rest, and that is not a failure.
            Err(Error::StdoutClosed) => return code,
            Err(e) => {
                report(&e);
                if code == 0 {
                    code = e.exit_code();
                }
            }
        }
    }
    code
}

/// One target: request it, then write its head (with -i/-I) and body where it goes.
fn fetch_one(config: &Config, input: &str, dest: &DestSpec) -> Result<(), Error> {
    let target = Target::parse(input)?;
    let method = if config.head {
        Method::Head
    } else {
        Method::Get
    };
    let mut response = config.client.request(method, &target)?;
    if config.fail && response.status() >= 400 {
        return Err(Error::HttpStatus {
            status: response.status(),
        });
    }
    let dest = match dest {
        DestSpec::Given(d) => d.clone(),
        DestSpec::Remote => Dest::File(PathBuf::from(remote_name(&target.path))),
    };
    let mut sink = Sink::open(&dest)?;
    // 128 KiB reads: big enough that a fast local transfer costs few system calls.
    let mut buf = vec![0u8; 128 * 1024];
    let mut n = if config.head {
        0
    } else {
        response.read_body(&mut buf)?
    };
    if sink.refuses_binary(&buf[..n]) {
        return Err(Error::BinaryToTerminal);
    }
    if config.include {
        for head in response.history() {
            sink.write(head.raw())?;
        }
        sink.write(response.head().raw())?;
    }
    let total = response
        .head()
        .header("content-length")
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok());
    let mut progress = Progress::new(config.progress && matches!(dest, Dest::File(_)), total);
    while n > 0 {
        sink.write(&buf[..n])?;
        progress.add(n);
        n = match response.read_body(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                progress.done();
                return Err(e);
            }
        };
    }
    progress.done();
    sink.finish()
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
