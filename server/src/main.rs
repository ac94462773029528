//! The `serve` command line: parse, validate, listen, print the address, run until a signal.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
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

The first line on stdout is `serving DIR at URL`; then one Common Log Format line per request
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

    /// Worker threads [default: 4 per CPU, at least 8]
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
    let config = match cli.threads {
        Some(n) => config.threads(n as usize),
        None => config,
    };
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
        ..ListenOptions::default()
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
