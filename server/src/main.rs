//! The `serve` command line: parse, validate, listen, print the address, run until a signal.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use server::cidr::Cidr;
use server::log::Format;
use server::{Config, Server};
use shared::{ListenOptions, Listener};

/// Exit codes, as documented in `--help` and the README.
mod exit {
    /// Stopped by SIGINT/SIGTERM after draining.
    pub const OK: u8 = 0;
    /// Could not listen or serve (address in use, permission denied, ...).
    pub const RUNTIME: u8 = 1;
    /// Bad command line or DIR.
    pub const USAGE: u8 = 2;
}

const AFTER_HELP: &str = "\
Defaults: binds 127.0.0.1 (only this machine); `--bind ::` or `--bind 0.0.0.0` exposes it.
Dotfiles are hidden (except .well-known), symlinks leaving DIR are refused, and a directory
serves its index.html. Idle keep-alive connections never hold a worker thread.

When started by a service manager with a listening socket (LISTEN_PID/LISTEN_FDS, systemd
socket activation), serve uses that socket and ignores --bind, --port and --unix.

Files carry a strong ETag (size and modification time to the nanosecond) and Last-Modified;
conditional requests get 304/412, Range requests 206 (several ranges as multipart/byteranges,
at most 16 and not overlapping, else the whole file), 416 when unsatisfiable. FILE.br or
FILE.gz beside FILE is sent to clients that accept that encoding. A folder without
index.html is listed (HTML, or JSON for `Accept: application/json`) unless --no-listing.

The first line on stdout is `serving DIR at URL`; then one access-log line per request
(unless --quiet). Errors go to stderr. SIGINT/SIGTERM: stop accepting, finish in-flight
responses (up to 10 s), exit 0; a second signal exits at once.

Exit codes:
  0  stopped by a signal after draining
  1  could not listen or serve (address in use, permission denied, ...)
  2  bad command line (flag, value, --bind address), or DIR is missing or not a directory";

/// Serve a folder over HTTP/1.x: static files, fast and safely.
#[derive(Parser, Debug)]
#[command(name = "serve", version, after_help = AFTER_HELP)]
struct Cli {
    /// The folder to serve [default: the current directory]
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,

    /// The folder to serve (same as DIR, as python's http.server spells it)
    #[arg(
        short = 'd',
        long = "directory",
        value_name = "DIR",
        conflicts_with = "dir"
    )]
    directory: Option<PathBuf>,

    /// Address to listen on: an IP (`::` or 0.0.0.0 to expose to the network) or a name
    #[arg(short, long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: String,

    /// Port to listen on; 0 picks a free one (printed on the first line)
    #[arg(short, long, value_name = "PORT", default_value_t = 8080)]
    port: u16,

    /// Listen on a Unix-domain socket at PATH instead of TCP (a stale socket file is replaced;
    /// any other file is left alone)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["bind", "port"])]
    unix: Option<PathBuf>,

    /// Worker threads, each waiting on the readiness set itself [default: one per CPU, at least 2]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    threads: Option<u32>,

    /// Listen backlog: connections the kernel holds before we accept them
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(i32).range(1..))]
    backlog: i32,

    /// Open connections at most; beyond, answer 503 with Retry-After and close
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Close idle keep-alive connections after SECS
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = seconds)]
    keep_alive_timeout: Duration,

    /// A whole request head must arrive within SECS, else 408 and close
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    header_timeout: Duration,

    /// No access log
    #[arg(short, long)]
    quiet: bool,

    /// Access-log line format
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Common)]
    log_format: LogFormat,

    /// Cache-Control on files and listings [default: no-cache, i.e. revalidate each time]
    #[arg(long, value_name = "VALUE", value_parser = header_value)]
    cache_control: Option<String>,

    /// Allow cross-origin requests: Access-Control-Allow-Origin: * and answered preflights
    #[arg(long)]
    cors: bool,

    /// Add a header to every response, as 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = header_line)]
    headers: Vec<(String, String)>,

    /// Answer 404 with this HTML file's content (read once at start, at most 1 MiB)
    #[arg(long = "404", value_name = "FILE")]
    not_found: Option<PathBuf>,

    /// Single-page app: a missing path without an extension gets /index.html with 200
    #[arg(long)]
    spa: bool,

    /// Serve dotfiles too (default: hidden, except .well-known)
    #[arg(long)]
    hidden: bool,

    /// Follow symlinks that lead outside DIR (default: refused with 404)
    #[arg(long)]
    follow_symlinks: bool,

    /// No directory listings: a folder without index.html is 404
    #[arg(long)]
    no_listing: bool,

    /// Only clients in this address block may connect, e.g. 10.0.0.0/8 or ::1 (repeatable);
    /// others get 403 and a close. Does not apply to --unix clients
    #[arg(long, value_name = "CIDR")]
    allow: Vec<Cidr>,

    /// Permissions of the --unix socket file, in octal (e.g. 660)
    #[arg(long, value_name = "MODE", value_parser = octal_mode, requires = "unix")]
    unix_mode: Option<u32>,

    /// Set SO_REUSEPORT so several serve processes can share one port
    #[arg(long)]
    reuse_port: bool,
}

/// Access-log formats.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    /// peer - - [time] "request" status bytes
    Common,
    /// common plus "referer" "user-agent"
    Combined,
    /// one JSON object per line
    Json,
}

fn header_value(s: &str) -> Result<String, String> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("a header value cannot contain CR, LF or NUL".into());
    }
    Ok(s.trim().to_string())
}

fn header_line(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once(':') else {
        return Err(format!("'{s}' is not 'Name: value'"));
    };
    let name = name.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("'{name}' is not a valid header name"));
    }
    Ok((name.to_string(), header_value(value)?))
}

fn octal_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("'{s}' is not an octal mode like 660")),
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 86400"
        )),
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("main");
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("serve: internal error in {name}: {msg}{at}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad command line")
                .trim_start_matches("error: ");
            eprintln!("serve: {first} (see serve --help)");
            return ExitCode::from(exit::USAGE);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err((code, msg)) => {
            eprintln!("serve: {msg}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<(), (u8, String)> {
    let dir = cli
        .dir
        .or(cli.directory)
        .unwrap_or_else(|| PathBuf::from("."));
    let config = Config::new(&dir)
        .keep_alive_timeout(cli.keep_alive_timeout)
        .header_timeout(cli.header_timeout)
        .max_connections(cli.max_connections as usize);
    let mut config = match cli.threads {
        Some(n) => config.threads(n as usize),
        None => config,
    }
    .listing(!cli.no_listing)
    .cors(cli.cors)
    .spa(cli.spa)
    .hidden(cli.hidden)
    .follow_symlinks(cli.follow_symlinks)
    // Test-only (see Config::panic_path): unset in any real deployment.
    .panic_path(std::env::var("SERVE_TEST_PANIC_PATH").ok())
    .log_format(match cli.log_format {
        LogFormat::Common => Format::Common,
        LogFormat::Combined => Format::Combined,
        LogFormat::Json => Format::Json,
    });
    if let Some(cc) = cli.cache_control {
        config = config.cache_control(cc);
    }
    for (name, value) in cli.headers {
        config = config.header(name, value);
    }
    for block in cli.allow {
        config = config.allow(block);
    }
    if let Some(page) = &cli.not_found {
        config = config.not_found_page(read_page(page).map_err(|m| (exit::USAGE, m))?);
    }
    // Check DIR before taking the port, so a typo does not leave anything half-started.
    if let Err(e) = std::fs::read_dir(&dir) {
        return Err((
            exit::USAGE,
            format!("cannot serve {}: {}", dir.display(), shared::io_words(&e)),
        ));
    }
    let ip = bind_ip(&cli.bind).map_err(|m| (exit::USAGE, m))?;
    let opts = ListenOptions {
        backlog: cli.backlog,
        reuse_port: cli.reuse_port,
        unix_mode: cli.unix_mode,
    };
    let listener = listen(cli.unix.as_deref(), SocketAddr::new(ip, cli.port), &opts)
        .map_err(|m| (exit::RUNTIME, m))?;
    let server = Server::new(listener, config).map_err(|e| {
        (
            exit::USAGE,
            format!("cannot serve {}: {}", dir.display(), shared::io_words(&e)),
        )
    })?;
    let server = if cli.quiet {
        server
    } else {
        server.access_log(Box::new(io::stdout()))
    };
    let url = match server.local_addr() {
        Ok(shared::Address::Tcp(a)) => format!("http://{a}/"),
        Ok(other) => other.to_string(),
        Err(e) => return Err((exit::RUNTIME, shared::io_words(&e))),
    };
    {
        let mut out = io::stdout().lock();
        // A closed stdout is no reason not to serve.
        let _ = writeln!(out, "serving {} at {url}", dir.display());
        let _ = out.flush();
    }
    stop_on_signals(server.handle())
        .map_err(|e| (exit::RUNTIME, format!("signals: {}", shared::io_words(&e))))?;
    server
        .run()
        .map_err(|e| (exit::RUNTIME, shared::io_words(&e)))
}

fn listen(
    unix: Option<&std::path::Path>,
    addr: SocketAddr,
    opts: &ListenOptions,
) -> Result<Listener, String> {
    if let Some(l) = shared::inherited().map_err(|e| e.to_string())? {
        return Ok(l);
    }
    if let Some(path) = unix {
        return shared::listen_unix(path, opts).map_err(|e| e.to_string());
    }
    let listening = shared::listen_tcp(addr, opts).map_err(|e| e.to_string())?;
    if let Some(note) = listening.note {
        eprintln!("serve: {note}");
    }
    Ok(listening.listener)
}

/// Reads the --404 page: a regular file of at most 1 MiB.
fn read_page(path: &std::path::Path) -> Result<Vec<u8>, String> {
    const MAX: u64 = 1024 * 1024;
    let fail = |why: String| format!("--404 {}: {why}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| fail(shared::io_words(&e)))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    if meta.len() > MAX {
        return Err(fail("larger than 1 MiB".into()));
    }
    std::fs::read(path).map_err(|e| fail(shared::io_words(&e)))
}

fn bind_ip(bind: &str) -> Result<IpAddr, String> {
    let trimmed = bind.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse() {
        return Ok(ip);
    }
    let host = match shared::Target::parse(bind) {
        Ok(shared::Target {
            endpoint: shared::Endpoint::Tcp { host, .. },
            ..
        }) => host,
        _ => {
            return Err(format!(
                "--bind: '{bind}' is not an IP address or host name"
            ));
        }
    };
    let addrs = shared::Resolver::new()
        .resolve(&host, 0, Duration::from_secs(5))
        .map_err(|e| format!("--bind: {e}"))?;
    Ok(addrs[0].ip())
}

fn stop_on_signals(handle: server::Handle) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut seen = 0;
            for _ in signals.forever() {
                seen += 1;
                if seen == 1 {
                    handle.shutdown();
                } else {
                    eprintln!("serve: second signal: exiting without draining");
                    std::process::exit(exit::RUNTIME.into());
                }
            }
        })?;
    Ok(())
}
