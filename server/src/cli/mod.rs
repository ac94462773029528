//! The `serve` command line, in two phases as ripgrep does it: flags parsed by clap
//! (`args.rs`), then checked into settings (`config.rs`); then listen, print the address and
//! run until a signal. Behind the default cargo feature `cli` (clap, signal-hook): the
//! library alone needs neither.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use shared::{ListenOptions, Listener};

use crate::Server;

mod args;
mod banner;
mod config;
mod self_signed;

pub use args::Args;
use config::Settings;

/// Exit codes, as documented in `--help` and the README.
mod exit {
    /// Stopped by SIGINT/SIGTERM after draining.
    pub(super) const OK: u8 = 0;
    /// Could not listen or serve (address in use, permission denied, ...).
    pub(super) const RUNTIME: u8 = 1;
    /// Bad command line or DIR.
    pub(super) const USAGE: u8 = 2;
}

/// The whole `serve` program: parse the process's arguments, serve until a signal, and
/// return the exit code. Errors are printed as one `serve: ...` line on stderr.
pub fn main() -> ExitCode {
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
    let args = match Args::try_parse() {
        Ok(args) => args,
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
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let mut first = lines
                .next()
                .unwrap_or("bad command line")
                .trim_start_matches("error: ")
                .to_string();
            // "the following required arguments were not provided:" names them next.
            if first.ends_with(':')
                && let Some(what) = lines.next()
            {
                first = format!("{first} {what}");
            }
            eprintln!("serve: {first} (see serve --help)");
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = Settings::from_args(args)
        .map_err(|m| (exit::USAGE, m))
        .and_then(run);
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err((code, msg)) => {
            eprintln!("serve: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Listens, prints `serving DIR at URL`, and serves until a signal has drained the pool.
fn run(s: Settings) -> Result<(), (u8, String)> {
    let listener = listen(s.unix.as_deref(), s.addr, &s.listen).map_err(|m| (exit::RUNTIME, m))?;
    let server = Server::new(listener, s.config).map_err(|e| {
        (
            exit::USAGE,
            format!("cannot serve {}: {}", s.dir.display(), shared::io_words(&e)),
        )
    })?;
    let server = if s.quiet {
        server
    } else {
        server.access_log(Box::new(io::stdout()))
    };
    let scheme = if s.https { "https" } else { "http" };
    let url = match server.local_addr() {
        Ok(shared::Address::Tcp(a)) => format!("{scheme}://{a}/"),
        Ok(other) => other.to_string(),
        Err(e) => return Err((exit::RUNTIME, shared::io_words(&e))),
    };
    for warning in &s.warnings {
        eprintln!("serve: {warning}");
    }
    {
        let mut out = io::stdout().lock();
        // A closed stdout is no reason not to serve.
        let _ = writeln!(out, "serving {} at {url}", s.dir.display());
        if let Ok(shared::Address::Tcp(bound)) = server.local_addr() {
            let _ = banner::print(&mut out, scheme, bound, s.qr);
        }
        if let Some(hash) = &s.key_hash {
            let _ = writeln!(out, "  certificate key {hash} (curl's --pinnedpubkey form)");
            if let Some(cert) = &s.self_signed {
                // A self-signed certificate is checked by its key, not by a CA.
                let _ = writeln!(
                    out,
                    "  self-signed: {}; check the key instead of a CA:",
                    cert.display()
                );
                let _ = writeln!(out, "    fetch --pinnedpubkey '{hash}' -k {url}");
                let _ = writeln!(out, "    curl --pinnedpubkey '{hash}' -k {url}");
            }
        }
        let _ = out.flush();
    }
    stop_on_signals(server.handle())
        .map_err(|e| (exit::RUNTIME, format!("signals: {}", shared::io_words(&e))))?;
    server
        .run()
        .map_err(|e| (exit::RUNTIME, shared::io_words(&e)))
}

/// The socket to serve on: one inherited from a service manager wins over `--unix`, which
/// wins over TCP.
fn listen(
    unix: Option<&std::path::Path>,
    addr: std::net::SocketAddr,
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

/// The first SIGINT or SIGTERM drains; a second one exits at once.
fn stop_on_signals(handle: crate::Handle) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};
    // An upload past a file-size limit (`ulimit -f`) must fail that write with EFBIG (a
    // 507 for that upload), not kill the server: SIGXFSZ's default action is to terminate.
    let noted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(SIGXFSZ, noted)?;
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
