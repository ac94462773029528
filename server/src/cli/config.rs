//! Phase two of the `serve` command line: the parsed flags checked and turned into what the
//! server needs — a [`Config`] for the site and where to listen. The I/O that can refuse a
//! command line happens here (DIR readable, the `--404` page, a `--bind` name resolved), so
//! nothing is half-started when the command line is wrong.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use shared::ListenOptions;

use super::args::{Args, LogFormat};
use crate::Config;
use crate::log::Format;

/// Everything `serve` needs to start, checked.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The folder served, as the user named it (for the first line on stdout).
    pub(crate) dir: PathBuf,
    /// The site and the pool.
    pub(crate) config: Config,
    /// A Unix-domain socket path, or else the TCP address.
    pub(crate) unix: Option<PathBuf>,
    /// The TCP address (`--bind`, `--port`).
    pub(crate) addr: SocketAddr,
    /// Backlog, `SO_REUSEPORT`, the Unix socket's mode.
    pub(crate) listen: ListenOptions,
    /// No access log (`-q`).
    pub(crate) quiet: bool,
}

impl Settings {
    /// Checks the flags; the error is the one line to print (always a usage error, exit 2).
    pub(crate) fn from_args(args: Args) -> Result<Settings, String> {
        let dir = args
            .dir
            .or(args.directory)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut config = Config::new(&dir)
            .keep_alive_timeout(args.keep_alive_timeout)
            .header_timeout(args.header_timeout)
            .max_connections(args.max_connections as usize)
            .listing(!args.no_listing)
            .cors(args.cors)
            .spa(args.spa)
            .hidden(args.hidden)
            .follow_symlinks(args.follow_symlinks)
            // Test-only (see Config::panic_path): unset in any real deployment.
            .panic_path(std::env::var("SERVE_TEST_PANIC_PATH").ok())
            .log_format(match args.log_format {
                LogFormat::Common => Format::Common,
                LogFormat::Combined => Format::Combined,
                LogFormat::Json => Format::Json,
            });
        if let Some(n) = args.threads {
            config = config.threads(n as usize);
        }
        if let Some(cc) = args.cache_control {
            config = config.cache_control(cc);
        }
        for (name, value) in args.headers {
            config = config.header(name, value);
        }
        for block in args.allow {
            config = config.allow(block);
        }
        if let Some(page) = &args.not_found {
            config = config.not_found_page(read_page(page)?);
        }
        // Check DIR before taking the port, so a typo does not leave anything half-started.
        if let Err(e) = std::fs::read_dir(&dir) {
            return Err(format!(
                "cannot serve {}: {}",
                dir.display(),
                shared::io_words(&e)
            ));
        }
        let ip = bind_ip(&args.bind)?;
        Ok(Settings {
            dir,
            config,
            unix: args.unix,
            addr: SocketAddr::new(ip, args.port),
            listen: ListenOptions {
                backlog: args.backlog,
                reuse_port: args.reuse_port,
                unix_mode: args.unix_mode,
            },
            quiet: args.quiet,
        })
    }
}

/// Reads the --404 page: a regular file of at most 1 MiB.
fn read_page(path: &Path) -> Result<Vec<u8>, String> {
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

/// `--bind`: an IP literal (brackets allowed around IPv6), or a name resolved once, here.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_takes_literals_with_or_without_brackets() {
        for (bind, want) in [
            ("127.0.0.1", "127.0.0.1"),
            ("::", "::"),
            ("[::1]", "::1"),
            ("localhost", ""),
        ] {
            match bind_ip(bind) {
                Ok(ip) if want.is_empty() => assert!(ip.is_loopback(), "{bind} -> {ip}"),
                Ok(ip) => assert_eq!(ip.to_string(), want, "{bind}"),
                Err(e) => panic!("{bind}: {e}"),
            }
        }
        assert!(bind_ip("not a host!").is_err());
    }
}
