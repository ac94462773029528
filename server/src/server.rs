//! The server: one accept thread, a bounded queue, a fixed pool of blocking workers and the
//! parker (ARCHITECTURE.md, decisions 1–3).

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TrySendError, bounded};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use shared::{Address, Listener, Stream};

use crate::cidr::Cidr;
use crate::conn::{self, Conn, Next, OpenGuard, WORKER_WAIT};
use crate::files::{Jail, Root};
use crate::log::{AccessLog, Format};
use crate::park::{self, ParkHandle};

/// Default idle keep-alive limit.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Default limit for a whole request head to arrive.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit for one blocking write to make progress (a client that stops reading).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time in-flight responses get to finish after a shutdown is asked.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default length of the queue of connections waiting for a worker.
pub const DEFAULT_QUEUE: usize = 1024;

/// The default worker count: four per CPU, at least 8. Workers block on disk reads and on
/// slow writers, never on idle clients (those are parked), so a few per CPU keep the CPUs busy.
pub fn default_threads() -> usize {
    let cpus = thread::available_parallelism().map_or(2, |n| n.get());
    (4 * cpus).max(8)
}

/// How the server behaves. Build with [`Config::new`] and the setters.
#[derive(Debug, Clone)]
pub struct Config {
    root: PathBuf,
    threads: usize,
    max_connections: usize,
    queue: usize,
    keep_alive: Duration,
    header_timeout: Duration,
    write_timeout: Duration,
    drain_timeout: Duration,
    listing: bool,
    cache_control: String,
    cors: bool,
    headers: Vec<(String, String)>,
    not_found_page: Option<Arc<Vec<u8>>>,
    spa: bool,
    jail: Jail,
    allow: Vec<Cidr>,
    log_format: Format,
    panic_path: Option<String>,
    pub(crate) share: crate::share::Share,
}

/// The default `Cache-Control`: caches must revalidate, since the folder may change.
pub const DEFAULT_CACHE_CONTROL: &str = "no-cache";

impl Config {
    /// Serve the folder `root`, with every other setting at its default.
    pub fn new(root: impl Into<PathBuf>) -> Config {
        Config {
            root: root.into(),
            threads: default_threads(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            queue: DEFAULT_QUEUE,
            keep_alive: DEFAULT_KEEP_ALIVE,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            listing: true,
            cache_control: DEFAULT_CACHE_CONTROL.to_string(),
            cors: false,
            headers: Vec::new(),
            not_found_page: None,
            spa: false,
            jail: Jail::default(),
            allow: Vec::new(),
            log_format: Format::Common,
            panic_path: None,
            share: crate::share::Share::default(),
        }
    }
    /// List folders without `index.html` (default on; off is `--no-listing`: 404).
    pub fn listing(mut self, on: bool) -> Config {
        self.listing = on;
        self
    }
    /// The `Cache-Control` value on files and listings (default `no-cache`).
    pub fn cache_control(mut self, value: impl Into<String>) -> Config {
        self.cache_control = value.into();
        self
    }
    /// Send `Access-Control-Allow-Origin: *` and answer CORS preflights (default off).
    pub fn cors(mut self, on: bool) -> Config {
        self.cors = on;
        self
    }
    /// Add a header line to every response (the caller checks name and value are valid).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Config {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// The body of every 404 (HTML), instead of the short text.
    pub fn not_found_page(mut self, page: Vec<u8>) -> Config {
        self.not_found_page = Some(Arc::new(page));
        self
    }
    /// A missing path without an extension gets `/index.html` with 200 (single-page apps).
    pub fn spa(mut self, on: bool) -> Config {
        self.spa = on;
        self
    }
    /// Serve dotfiles (default: hidden, except `.well-known`).
    pub fn hidden(mut self, on: bool) -> Config {
        self.jail.hidden = on;
        self
    }
    /// Follow symlinks that lead outside the root (default: refused).
    pub fn follow_symlinks(mut self, on: bool) -> Config {
        self.jail.follow_symlinks = on;
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
        self.panic_path = target;
        self
    }
    /// Worker threads (at least 1; default [`default_threads`]).
    pub fn threads(mut self, n: usize) -> Config {
        self.threads = n.max(1);
        self
    }
    /// Open connections at most; beyond, new ones get 503 (default 4096).
    pub fn max_connections(mut self, n: usize) -> Config {
        self.max_connections = n.max(1);
        self
    }
    /// Connections waiting for a worker at most; beyond, 503 (default 1024).
    pub fn queue(mut self, n: usize) -> Config {
        self.queue = n.max(1);
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
    /// A blocked write fails after this (default 30 s).
    pub fn write_timeout(mut self, d: Duration) -> Config {
        self.write_timeout = d;
        self
    }
    /// After shutdown is asked, in-flight responses get this long (default 10 s).
    pub fn drain_timeout(mut self, d: Duration) -> Config {
        self.drain_timeout = d;
        self
    }
}

/// What the workers, the parker and the acceptor share.
#[derive(Debug)]
pub struct Ctx {
    pub(crate) root: Root,
    pub(crate) keep_alive: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) log: AccessLog,
    pub(crate) listing: bool,
    pub(crate) cache_control: String,
    pub(crate) cors: bool,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) not_found_page: Option<Arc<Vec<u8>>>,
    pub(crate) spa: bool,
    pub(crate) jail: Jail,
    pub(crate) panic_path: Option<String>,
    allow: Vec<Cidr>,
    stop: Arc<Stop>,
    jobs: Receiver<Conn>,
}

impl Ctx {
    /// True once shutdown has been asked.
    pub fn stopping(&self) -> bool {
        self.stop.flag.load(Ordering::Acquire)
    }
    /// True when no connection waits for a worker.
    pub fn queue_is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

#[derive(Debug)]
struct Stop {
    flag: AtomicBool,
    accept: Waker,
    parker: OnceLock<ParkHandle>,
}

/// Asks a running server to stop: it stops accepting, lets in-flight responses finish (up to
/// the drain timeout), closes idle connections and returns from [`Server::run`].
#[derive(Debug, Clone)]
pub struct Handle {
    stop: Arc<Stop>,
}

impl Handle {
    /// Starts the shutdown; returns at once.
    pub fn shutdown(&self) {
        self.stop.flag.store(true, Ordering::Release);
        let _ = self.stop.accept.wake();
        if let Some(p) = self.stop.parker.get() {
            p.wake();
        }
    }
}

const LISTENER: Token = Token(0);
const WAKE: Token = Token(1);

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
    poll: Poll,
    stop: Arc<Stop>,
}

impl Server {
    /// A server for `config.root` on `listener`. Fails when the root is not a readable
    /// directory.
    pub fn new(listener: Listener, config: Config) -> io::Result<Server> {
        let root = canonical_dir(&config.root)?;
        let poll = Poll::new()?;
        let accept = Waker::new(poll.registry(), WAKE)?;
        let stop = Arc::new(Stop {
            flag: AtomicBool::new(false),
            accept,
            parker: OnceLock::new(),
        });
        Ok(Server {
            listener,
            config,
            root,
            log_out: None,
            poll,
            stop,
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
        }
    }

    /// Serves until [`Handle::shutdown`], then drains and returns.
    pub fn run(self) -> io::Result<()> {
        let Server {
            listener,
            config,
            root,
            log_out,
            mut poll,
            stop,
        } = self;
        let log = match log_out {
            Some(out) => AccessLog::new(out, config.log_format),
            None => AccessLog::disabled(),
        };
        let (job_tx, job_rx) = bounded::<Conn>(config.queue);
        let ctx = Arc::new(Ctx {
            root: Root::open(root),
            keep_alive: config.keep_alive,
            header_timeout: config.header_timeout,
            write_timeout: config.write_timeout,
            log,
            listing: config.listing,
            cache_control: config.cache_control.clone(),
            cors: config.cors,
            headers: config.headers.clone(),
            not_found_page: config.not_found_page.clone(),
            spa: config.spa,
            jail: config.jail,
            panic_path: config.panic_path.clone(),
            allow: config.allow.clone(),
            stop: Arc::clone(&stop),
            jobs: job_rx.clone(),
        });
        let (parker, parker_thread) = park::start(Arc::clone(&ctx), job_tx.clone())?;
        let _ = stop.parker.set(parker.clone());
        if stop.flag.load(Ordering::Acquire) {
            parker.wake();
        }

        let (done_tx, done_rx) = bounded::<()>(config.threads);
        for i in 0..config.threads {
            let (rx, ctx, parker, done) = (
                job_rx.clone(),
                Arc::clone(&ctx),
                parker.clone(),
                done_tx.clone(),
            );
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    work(&rx, &ctx, &parker);
                    let _ = done.send(());
                })?;
        }
        drop((job_rx, done_tx, parker));

        let open = Arc::new(AtomicUsize::new(0));
        let result = accept_loop(&listener, &mut poll, &config, &ctx, &job_tx, &open);

        // Stop: no more connections (this also removes a Unix socket file we created), idle
        // ones are closed by the parker, in-flight ones get the drain deadline.
        drop(listener);
        drop(job_tx);
        let deadline = Instant::now() + config.drain_timeout;
        let _ = parker_thread.join();
        let mut finished = 0;
        while finished < config.threads {
            match done_rx.recv_deadline(deadline) {
                Ok(()) => finished += 1,
                Err(_) => break,
            }
        }
        if finished < config.threads {
            eprintln!(
                "serve: {} responses still in flight after the {} drain limit: dropping them",
                open.load(Ordering::Acquire),
                shared::duration_words(config.drain_timeout)
            );
        }
        result
    }
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

fn work(rx: &Receiver<Conn>, ctx: &Ctx, parker: &ParkHandle) {
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let conn = match rx.try_recv() {
            Ok(conn) => conn,
            Err(_) => {
                // About to wait for work: write out this worker's log lines first.
                ctx.log.flush();
                match rx.recv() {
                    Ok(conn) => conn,
                    Err(_) => return,
                }
            }
        };
        match catch_unwind(AssertUnwindSafe(|| conn::serve(conn, ctx, &mut out))) {
            Ok(Next::Park(conn, wait)) if !ctx.stopping() => parker.park(conn, wait),
            Ok(Next::Park(conn, conn::Wait::Write(_))) => {
                // Shutting down while a response waits for its reader: there is no parker
                // any more, so finish it here (blocking, within the drain deadline).
                let _ = catch_unwind(AssertUnwindSafe(|| conn::serve(conn, ctx, &mut out)));
            }
            Ok(_) => {}
            Err(_) => {
                // The panic hook has printed what happened; the connection was dropped (and
                // so closed) while unwinding. This worker goes on.
                out = Vec::with_capacity(64 * 1024);
            }
        }
    }
}

fn accept_loop(
    listener: &Listener,
    poll: &mut Poll,
    config: &Config,
    ctx: &Ctx,
    jobs: &crossbeam_channel::Sender<Conn>,
    open: &Arc<AtomicUsize>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    poll.registry().register(
        &mut SourceFd(&listener.as_raw_fd()),
        LISTENER,
        Interest::READABLE,
    )?;
    let mut events = Events::with_capacity(64);
    let mut pause: Option<Duration> = None;
    let mut last_complaint: Option<Instant> = None;
    loop {
        // 503 lines logged by this thread are written out before it sleeps.
        ctx.log.flush();
        if let Err(e) = poll.poll(&mut events, pause.take())
            && e.kind() != io::ErrorKind::Interrupted
        {
            return Err(e);
        }
        if ctx.stopping() {
            return Ok(());
        }
        // Edge-triggered: accept until the queue is empty.
        loop {
            match listener.accept() {
                Ok((stream, peer)) => admit(stream, &peer, config, ctx, jobs, open),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    ) =>
                {
                    // Out of descriptors or memory: pending connections stay in the kernel's
                    // queue; try again shortly instead of spinning, and say so once a second.
                    if last_complaint.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        eprintln!("serve: cannot accept: {} (pausing)", shared::io_words(&e));
                        last_complaint = Some(Instant::now());
                    }
                    pause = Some(Duration::from_millis(100));
                    break;
                }
                // The client gave up before we accepted, or a signal: nothing to report.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
                    ) => {}
                Err(e) => {
                    eprintln!("serve: accept: {}", shared::io_words(&e));
                    pause = Some(Duration::from_millis(100));
                    break;
                }
            }
        }
    }
}

fn admit(
    stream: Stream,
    peer: &Address,
    config: &Config,
    ctx: &Ctx,
    jobs: &crossbeam_channel::Sender<Conn>,
    open: &Arc<AtomicUsize>,
) {
    if let Address::Tcp(addr) = peer
        && !ctx.allow.is_empty()
        && !ctx.allow.iter().any(|block| block.contains(addr.ip()))
    {
        conn::refuse(stream, peer, 403, ctx);
        return;
    }
    if open.load(Ordering::Acquire) >= config.max_connections {
        conn::refuse(stream, peer, 503, ctx);
        return;
    }
    // Small heads and bodies go out at once; the short read timeout is the worker's brief
    // wait for a back-to-back request (see conn::WORKER_WAIT).
    let setup = stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(WORKER_WAIT)))
        .and_then(|()| stream.set_write_timeout(Some(config.write_timeout)));
    if setup.is_err() {
        return;
    }
    let conn = Conn::new(stream, peer, config.header_timeout, OpenGuard::new(open));
    match jobs.try_send(conn) {
        Ok(()) => {}
        Err(TrySendError::Full(conn)) => conn::refuse(conn.stream, peer, 503, ctx),
        Err(TrySendError::Disconnected(_)) => {}
    }
}
