//! The server: its configuration, and a fixed pool of workers that wait on one readiness
//! set themselves (`worker.rs`, `ready.rs`). This file starts them and stops them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use shared::{Address, Listener};

use crate::auth::Auth;
use crate::certs::Tls;
use crate::engine::cidr::Cidr;
use crate::engine::conn::{Conn, Limits};
use crate::engine::log::AccessLog;
use crate::engine::log::Format;
use crate::engine::ready::Ready;
use crate::engine::worker::{self, Shared, Stop};
use crate::share::Uploads;
use crate::site::{Settings, Site};

/// Default idle keep-alive limit.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Default limit for a whole request head to arrive.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit for a response to make progress (a client that stops reading is cut off).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time in-flight responses get to finish after a shutdown is asked.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The default worker count: one per CPU, at least 2. Workers wait on nothing but the
/// readiness set (sockets never block), so more threads than CPUs would only contend for
/// the same events; the second one keeps the server answering while one reads a cold file.
pub fn default_threads() -> usize {
    let cpus = thread::available_parallelism().map_or(2, |n| n.get());
    cpus.max(2)
}

/// How the server behaves. Build with [`Config::new`] and the setters.
#[derive(Debug, Clone)]
pub struct Config {
    root: PathBuf,
    threads: usize,
    max_connections: usize,
    keep_alive: Duration,
    header_timeout: Duration,
    write_timeout: Duration,
    drain_timeout: Duration,
    pub(crate) site: Settings,
    allow: Vec<Cidr>,
    log_format: Format,
    tls: Option<Tls>,
}

impl Config {
    /// Serve the folder `root`, with every other setting at its default.
    pub fn new(root: impl Into<PathBuf>) -> Config {
        Config {
            root: root.into(),
            threads: default_threads(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            keep_alive: DEFAULT_KEEP_ALIVE,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            site: Settings::default(),
            allow: Vec::new(),
            log_format: Format::Common,
            tls: None,
        }
    }
    /// List folders without `index.html` (default on; off is `--no-listing`: 404).
    pub fn listing(mut self, on: bool) -> Config {
        self.site.listing = on;
        self
    }
    /// The `Cache-Control` value on files and listings (default `no-cache`).
    pub fn cache_control(mut self, value: impl Into<String>) -> Config {
        self.site.cache_control = value.into();
        self
    }
    /// Send `Access-Control-Allow-Origin: *` and answer CORS preflights (default off).
    pub fn cors(mut self, on: bool) -> Config {
        self.site.cors = on;
        self
    }
    /// Add a header line to every response (the caller checks name and value are valid).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Config {
        self.site.headers.push((name.into(), value.into()));
        self
    }
    /// The body of every 404 (HTML), instead of the short text.
    pub fn not_found_page(mut self, page: Vec<u8>) -> Config {
        self.site.not_found_page = Some(Arc::new(page));
        self
    }
    /// A missing path without an extension gets `/index.html` with 200 (single-page apps).
    pub fn spa(mut self, on: bool) -> Config {
        self.site.spa = on;
        self
    }
    /// Send `Repr-Digest: sha-256=…` (RFC 9530) with every file, not only when a request
    /// asks with `Want-Repr-Digest` (default off). A large file's first digest is made in
    /// the background: until it is known, its responses go without the field.
    pub fn digest(mut self, on: bool) -> Config {
        self.site.repr_digest_always = on;
        self
    }
    /// Serve dotfiles (default: hidden, except `.well-known`).
    pub fn hidden(mut self, on: bool) -> Config {
        self.site.jail.hidden = on;
        self
    }
    /// Live reload (default off): watch the folder, put a script into HTML files that
    /// listens for changes, and tell it when files change (`watch/reload.rs`).
    pub fn watch(mut self, on: bool) -> Config {
        self.site.watch = on;
        self
    }
    /// Follow symlinks that lead outside the root (default: refused).
    pub fn follow_symlinks(mut self, on: bool) -> Config {
        self.site.jail.follow_symlinks = on;
        self
    }
    /// Let clients in this block connect; once any block is given, everyone else gets 403.
    /// Unix-socket clients are not filtered (the socket file's mode governs them).
    pub fn allow(mut self, block: Cidr) -> Config {
        self.allow.push(block);
        self
    }
    /// The access-log line format (default Common Log Format).
    pub fn log_format(mut self, format: Format) -> Config {
        self.log_format = format;
        self
    }
    /// Test-only: a request for exactly this target panics inside request handling, to
    /// prove a panic is contained to its connection. Harmless: the panic is caught, that one
    /// connection closes, and the worker goes on. The `serve` binary sets it from the
    /// `SERVE_TEST_PANIC_PATH` environment variable, read once at startup.
    pub fn panic_path(mut self, target: Option<String>) -> Config {
        self.site.panic_path = target;
        self
    }
    /// Worker threads (at least 1; default [`default_threads`]).
    pub fn threads(mut self, n: usize) -> Config {
        self.threads = n.max(1);
        self
    }
    /// Open connections at most; beyond, new ones get 503 (default 4096; at most 1,048,576).
    pub fn max_connections(mut self, n: usize) -> Config {
        self.max_connections = n.max(1);
        self
    }
    /// Idle keep-alive connections close after this (default 5 s).
    pub fn keep_alive_timeout(mut self, d: Duration) -> Config {
        self.keep_alive = d;
        self
    }
    /// A whole request head must arrive within this, else 408 (default 10 s).
    pub fn header_timeout(mut self, d: Duration) -> Config {
        self.header_timeout = d;
        self
    }
    /// A response that makes no progress for this long is cut off (default 30 s).
    pub fn write_timeout(mut self, d: Duration) -> Config {
        self.write_timeout = d;
        self
    }
    /// After shutdown is asked, in-flight responses get this long (default 10 s).
    pub fn drain_timeout(mut self, d: Duration) -> Config {
        self.drain_timeout = d;
        self
    }
    /// Accept uploads (PUT, and multipart POST to a folder) with these rules (default off).
    pub fn uploads(mut self, uploads: Option<Uploads>) -> Config {
        self.site.share.uploads = uploads;
        self
    }
    /// Require HTTP Basic credentials for everything (default: no accounts, no password).
    pub fn auth(mut self, auth: Auth) -> Config {
        self.site.share.auth = (!auth.is_empty()).then(|| Arc::new(auth));
        self
    }
    /// Offer folders as tar and tar.gz downloads (default off).
    pub fn archive(mut self, on: bool) -> Config {
        self.site.share.archive = on;
        self
    }
    /// Compress compressible files on the fly (default off).
    pub fn compress(mut self, on: bool) -> Config {
        self.site.share.compress = on;
        self
    }
    /// Speak HTTPS with this certificate and key (default: plain HTTP). A plain-HTTP
    /// request that reaches the port is redirected to `https://`.
    pub fn tls(mut self, tls: Tls) -> Config {
        self.tls = Some(tls);
        self
    }
    /// The sharing features' settings (for the command line's tests).
    #[cfg(test)]
    pub(crate) fn share(&self) -> &crate::share::Share {
        &self.site.share
    }
}

/// Asks a running server to stop: it stops accepting, lets in-flight responses finish (up to
/// the drain timeout), closes idle connections and returns from [`Server::run`].
#[derive(Debug, Clone)]
pub struct Handle {
    stop: Arc<Stop>,
    ready: Arc<Ready<Conn>>,
}

impl Handle {
    /// Starts the shutdown; returns at once.
    pub fn shutdown(&self) {
        self.stop.ask();
        // Wakes a worker, which does the shutdown's work and wakes the next.
        self.ready.nudge();
    }
}

/// A static-file server on a listener.
///
/// ```no_run
/// use server::{Config, Server};
/// let listening = shared::listen_tcp("127.0.0.1:0".parse().unwrap(), &Default::default()).unwrap();
/// let server = Server::new(listening.listener, Config::new("www")).unwrap();
/// println!("at {}", server.local_addr().unwrap());
/// let handle = server.handle(); // handle.shutdown() from another thread stops it
/// server.run().unwrap();
/// ```
pub struct Server {
    listener: Listener,
    config: Config,
    root: PathBuf,
    log_out: Option<Box<dyn Write + Send>>,
    ready: Arc<Ready<Conn>>,
    stop: Arc<Stop>,
}

impl Server {
    /// A server for `config.root` on `listener`. Fails when the root is not a readable
    /// directory.
    pub fn new(listener: Listener, config: Config) -> io::Result<Server> {
        let root = canonical_dir(&config.root)?;
        let ready = Arc::new(Ready::new(config.max_connections)?);
        Ok(Server {
            listener,
            config,
            root,
            log_out: None,
            ready,
            stop: Arc::default(),
        })
    }

    /// Writes the access log (Common Log Format) to `out`; without this, there is none.
    pub fn access_log(mut self, out: Box<dyn Write + Send>) -> Server {
        self.log_out = Some(out);
        self
    }

    /// The address the server listens on (the real port when port 0 was asked).
    pub fn local_addr(&self) -> io::Result<Address> {
        self.listener.local_addr()
    }

    /// The canonical folder being served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A handle that stops the server from any thread.
    pub fn handle(&self) -> Handle {
        Handle {
            stop: Arc::clone(&self.stop),
            ready: Arc::clone(&self.ready),
        }
    }

    /// Serves until [`Handle::shutdown`], then drains and returns.
    pub fn run(self) -> io::Result<()> {
        let Server {
            listener,
            config,
            root,
            log_out,
            ready,
            stop,
        } = self;
        let log = match log_out {
            Some(out) => AccessLog::new(out, config.log_format),
            None => AccessLog::disabled(),
        };
        listener.set_nonblocking(true)?;
        if let Listener::Tcp(tcp) = &listener {
            // Accepted connections inherit it: small heads and bodies go out at once.
            rustix::net::sockopt::set_tcp_nodelay(tcp, true)?;
        }
        ready.add_listener(&listener)?;
        let site = site(root, &config)?;
        let live = site.live.clone();
        // Renewed certificate files are read again while serving (stopped when `run` ends).
        let _renewal = match &config.tls {
            Some(tls) => Some(crate::certs::Renewal::start(tls).map_err(|e| {
                io::Error::other(format!(
                    "--tls-cert: watching for renewals: {}",
                    shared::io_words(&e)
                ))
            })?),
            None => None,
        };
        let shared = Arc::new(Shared {
            site,
            log,
            limits: Limits {
                header_timeout: config.header_timeout,
                keep_alive: config.keep_alive,
                write_timeout: config.write_timeout,
            },
            allow: config.allow.clone(),
            ready: Arc::clone(&ready),
            listener: Mutex::new(Some(listener)),
            stop: Arc::clone(&stop),
            stopped: AtomicBool::new(false),
            tls: config.tls.as_ref().map(|t| Arc::clone(t.config())),
        });
        let done = start_workers(&shared, config.threads)?;

        // Serve until asked to stop; then in-flight responses get the drain deadline.
        stop.wait();
        let finished = wait_for(&done, config.threads, config.drain_timeout);
        // Whatever happened, stop listening (this also removes a Unix socket file we made).
        drop(
            shared
                .listener
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        if let Some(hub) = live {
            hub.stop();
        }
        if finished < config.threads {
            eprintln!("{}", dropped(ready.open(), config.drain_timeout));
        }
        Ok(())
    }
}

/// Waits for the workers (`threads` of them) to say they have ended, for at most `drain`;
/// returns how many did.
fn wait_for(done: &mpsc::Receiver<()>, threads: usize, drain: Duration) -> usize {
    let deadline = Instant::now() + drain;
    let mut finished = 0;
    while finished < threads {
        let left = deadline.saturating_duration_since(Instant::now());
        match done.recv_timeout(left) {
            Ok(()) => finished += 1,
            Err(_) => break,
        }
    }
    finished
}

/// The line that says `open` responses were still going when the `drain` limit ended.
fn dropped(open: usize, drain: Duration) -> String {
    let (what, them) = if open == 1 {
        ("response", "it")
    } else {
        ("responses", "them")
    };
    format!(
        "serve: {open} {what} still in flight after the {} drain limit: dropping {them}",
        shared::duration_words(drain)
    )
}

/// The site served from `root`, with its `--watch` hub started when asked for.
fn site(root: PathBuf, config: &Config) -> io::Result<Site> {
    let mut site = Site::new(root, config.site.clone());
    if config.site.watch {
        // One line that says which feature failed (inotify limits are per user).
        let hub = crate::watch::hub::Hub::start(site.root.path(), config.max_connections)
            .map_err(|e| io::Error::other(format!("--watch: {}", shared::io_words(&e))))?;
        site.live = Some(hub);
    }
    Ok(site)
}

/// Starts `threads` workers on `shared`; each says on the channel returned when it has
/// ended. If one cannot start, those started are asked to stop.
fn start_workers(shared: &Arc<Shared>, threads: usize) -> io::Result<mpsc::Receiver<()>> {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    for i in 0..threads {
        let (worker_shared, done) = (Arc::clone(shared), done_tx.clone());
        let spawned = thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || {
                worker::work(&worker_shared);
                let _ = done.send(());
            });
        if let Err(e) = spawned {
            shared.stop.ask();
            shared.ready.nudge();
            return Err(e);
        }
    }
    Ok(done_rx)
}

fn canonical_dir(root: &Path) -> io::Result<PathBuf> {
    let real = std::fs::canonicalize(root)?;
    if !real.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    std::fs::read_dir(&real)?;
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_waits_for_the_workers_that_end_and_no_longer() {
        let (tx, rx) = mpsc::channel();
        tx.send(()).unwrap();
        tx.send(()).unwrap();
        let began = Instant::now();
        assert_eq!(wait_for(&rx, 3, Duration::from_millis(50)), 2);
        assert!(began.elapsed() >= Duration::from_millis(50));
        drop(tx);
        assert_eq!(wait_for(&rx, 3, Duration::from_secs(60)), 0);
    }

    #[test]
    fn the_dropped_line_counts_in_words() {
        let s = Duration::from_secs;
        assert_eq!(
            dropped(1, s(2)),
            format!(
                "serve: 1 response still in flight after the {} drain limit: dropping it",
                shared::duration_words(s(2))
            )
        );
        assert!(dropped(3, s(2)).starts_with("serve: 3 responses still in flight"));
        assert!(dropped(3, s(2)).ends_with("dropping them"));
    }
}
