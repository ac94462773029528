//! A worker: waits on the readiness set itself, and handles what wakes it — a connection to
//! accept, a connection ready to read or write, or the timer — top to bottom, then waits
//! again. No connection is ever handed to another thread: the worker that accepts a
//! connection serves its first request, and the worker that a ready connection wakes serves
//! it (leader/followers on one epoll set; see `ready.rs`).

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use std::net::TcpStream;
use std::os::unix::net::UnixStream;

use rustix::net::SocketFlags;
use shared::{Address, Listener, Stream};

use crate::engine::cidr::Cidr;
use crate::engine::conn::{self, Conn, Env, Limits, Next, Scratch};
use crate::engine::log::AccessLog;
use crate::engine::ready::{self, Events, Interest, Key, Ready, Wake};
use crate::respond::Refusal;
use crate::site::Site;

/// Events one wait may return. Under load one wait then serves several connections (3.1
/// system calls per keep-alive request instead of 3.8 with one); when lightly loaded a wait
/// returns one event anyway, so no ready connection sits behind another while a worker idles.
const MAX_EVENTS: usize = 8;

/// Connections one listener wake-up accepts at most before it lets another worker have it.
const ACCEPT_BATCH: usize = 16;

/// After running out of descriptors, the listener rests this long before accepting again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The stop request, shared by the server's handles and its workers.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    flag: AtomicBool,
    asked: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// True once shutdown has been asked.
    pub(crate) fn asked(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Asks for shutdown and wakes whoever waits for it.
    pub(crate) fn ask(&self) {
        self.flag.store(true, Ordering::SeqCst);
        *self.asked.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Blocks until shutdown is asked.
    pub(crate) fn wait(&self) {
        let asked = self.asked.lock().unwrap_or_else(|p| p.into_inner());
        let _unused = self
            .cv
            .wait_while(asked, |asked| !*asked)
            .unwrap_or_else(|p| p.into_inner());
    }
}

/// What every worker shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// What to answer.
    pub site: Site,
    /// The access log.
    pub log: AccessLog,
    /// The timeouts.
    pub limits: Limits,
    /// `--allow` blocks (empty: everyone).
    pub allow: Vec<Cidr>,
    /// The readiness set, with the listener and the timer in it.
    pub ready: Arc<Ready<Conn>>,
    /// The listener, until shutdown drops it.
    pub listener: Mutex<Option<Listener>>,
    /// The stop request.
    pub stop: Arc<Stop>,
    /// Set by the worker that does the shutdown's one-time work.
    pub stopped: AtomicBool,
    /// `--tls-cert`: the configuration every connection's TLS session is made from.
    pub tls: Option<Arc<shared::tls::rustls::ServerConfig>>,
}

impl Shared {
    fn env(&self) -> Env<'_> {
        Env {
            site: &self.site,
            log: &self.log,
            limits: &self.limits,
            stopping: self.stop.asked(),
            tls: self.tls.as_ref(),
        }
    }
}

/// A worker's loop, until shutdown has closed every connection.
pub(crate) fn work(shared: &Shared) {
    let mut events: Events = Vec::with_capacity(MAX_EVENTS);
    let mut scratch = Scratch::default();
    // Connections whose turn ended with more to do (`Next::Yield`), served again after the
    // events of the next wait. This worker holds them meanwhile, as it holds any connection
    // it serves: a readiness reported for one marks its slot pending, and is not lost.
    let mut yielded: Vec<(Key, Conn)> = Vec::new();
    let ready = &*shared.ready;
    loop {
        if shared.stop.asked() {
            stop_once(shared);
            if ready.open() == 0 {
                // Wake the next worker to see that everything is done.
                ready.nudge();
                shared.log.flush();
                return;
            }
        }
        // With a log, look first without sleeping: before a sleep, this worker's log lines
        // are written out. With yielded connections, only look: they are work to do now.
        let logging = shared.log.enabled();
        let look = logging || !yielded.is_empty();
        let mut waited = ready.wait(&mut events, look.then_some(Duration::ZERO));
        if logging && yielded.is_empty() && waited.is_ok() && events.is_empty() {
            shared.log.flush();
            waited = ready.wait(&mut events, None);
        }
        if let Err(e) = waited {
            eprintln!("serve: waiting for readiness: {}", shared::io_words(&e));
            shared.stop.ask();
            ready.nudge();
            return;
        }
        let mut turns = Turns {
            scratch: &mut scratch,
            yielded: Vec::new(),
        };
        for event in &events {
            match ready::wake(event) {
                Wake::Listener => accept(shared, &mut turns),
                Wake::Timer => expire(shared),
                Wake::Conn(key, closed) => {
                    if let Some(mut conn) = ready.take(key, closed) {
                        if closed {
                            conn.peer_closed();
                        }
                        serve(shared, key, conn, &mut turns);
                    }
                }
            }
        }
        // The ones that yielded before this wait go now, after everything it reported.
        for (key, conn) in std::mem::take(&mut yielded) {
            serve(shared, key, conn, &mut turns);
        }
        yielded = turns.yielded;
    }
}

/// What serving connections needs from its worker: the reusable buffers, and where a
/// connection whose turn ended goes to wait for the next one.
struct Turns<'a> {
    scratch: &'a mut Scratch,
    yielded: Vec<(Key, Conn)>,
}

/// Serves `conn` for one turn, then puts it back to wait, or closes it, or keeps it for its
/// next turn.
fn serve(shared: &Shared, key: Key, mut conn: Conn, turns: &mut Turns<'_>) {
    conn.begin_turn();
    loop {
        let env = shared.env();
        let scratch = &mut *turns.scratch;
        let next = catch_unwind(AssertUnwindSafe(|| conn.serve(&env, scratch)));
        match next {
            Ok(Next::Wait(interest, deadline)) => {
                match park(shared, key, conn, interest, deadline) {
                    Some(again) => conn = again,
                    None => return,
                }
            }
            Ok(Next::Close) => return close(shared, key, conn),
            Ok(Next::Watch) => return hand_to_hub(shared, key, conn),
            Ok(Next::Yield) => return turns.yielded.push((key, conn)),
            Err(_) => {
                // The panic hook has printed what happened; closing the connection is all
                // that is left to do. This worker goes on.
                turns.scratch.clear();
                return close(shared, key, conn);
            }
        }
    }
}

fn close(shared: &Shared, key: Key, conn: Conn) {
    drop(conn);
    shared.ready.release(key);
}

/// `--watch`: the connection is now an event stream; the hub holds it from here on
/// (`watch/hub.rs`: it would otherwise sit in this set, or hold a worker, for hours).
fn hand_to_hub(shared: &Shared, key: Key, conn: Conn) {
    shared.ready.detach(key, &conn);
    if let Some(hub) = &shared.site.live {
        let (stream, session) = conn.into_watcher();
        hub.adopt(stream, session);
    }
}

/// Puts a connection back in the set to wait; while shutting down, an idle one is closed
/// instead. Returns it when it became ready again while being served: serve it again.
fn park(
    shared: &Shared,
    key: Key,
    conn: Conn,
    interest: Interest,
    deadline: Instant,
) -> Option<Conn> {
    let ready = &*shared.ready;
    if shared.stop.asked() && conn.idle() {
        close(shared, key, conn);
        return None;
    }
    match ready.arm(key, conn, interest, deadline) {
        Ok(None) => {}
        Ok(Some((mut again, closed))) => {
            if closed {
                again.peer_closed();
            }
            return Some(again);
        }
        Err(conn) => {
            close(shared, key, conn);
            return None;
        }
    }
    // Shutdown may have swept the set just before this one went back: look again.
    if shared.stop.asked()
        && let Some(conn) = ready.take_if(key, Conn::idle)
    {
        close(shared, key, conn);
    }
    None
}

/// Accepts the connections waiting (up to [`ACCEPT_BATCH`]), re-arms the listener, then
/// serves each one's first request. One wake-up thus admits a burst of new connections
/// instead of waking the other workers for one each, and the listener is armed again before
/// any of them is served, so another worker can accept the next burst meanwhile: with a
/// connection per request, serving a batch before re-arming left the other workers idle
/// (every new connection went through the one worker holding the listener).
fn accept(shared: &Shared, turns: &mut Turns<'_>) {
    let ready = &*shared.ready;
    let mut batch: [Option<(Stream, Address)>; ACCEPT_BATCH] = Default::default();
    let mut taken = 0;
    let mut rearm = true;
    {
        let guard = shared.listener.lock().unwrap_or_else(|p| p.into_inner());
        let Some(listener) = guard.as_ref() else {
            return;
        };
        while taken < ACCEPT_BATCH {
            match accept_nonblocking(listener) {
                Ok(accepted) => {
                    batch[taken] = Some(accepted);
                    taken += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if out_of_descriptors(&e) => {
                    // Pending connections stay in the kernel's queue; try again shortly
                    // instead of spinning, and say so once a second.
                    complain(&format!(
                        "cannot accept: {} (pausing)",
                        shared::io_words(&e)
                    ));
                    ready.listener_at(Instant::now() + ACCEPT_PAUSE);
                    rearm = false;
                    break;
                }
                Err(e) if quiet_accept_error(&e) => {}
                Err(e) => {
                    eprintln!("serve: accept: {}", shared::io_words(&e));
                    ready.listener_at(Instant::now() + ACCEPT_PAUSE);
                    rearm = false;
                    break;
                }
            }
        }
        if rearm {
            let _ = ready.arm_listener(listener);
        }
    }
    for (stream, peer) in batch.iter_mut().take(taken).filter_map(Option::take) {
        admit(shared, stream, &peer, turns);
    }
}

/// Accepts a connection already non-blocking (`accept4` with `SOCK_NONBLOCK`: no second
/// system call to switch it). A TCP connection inherits `TCP_NODELAY` from the listener.
fn accept_nonblocking(listener: &Listener) -> io::Result<(Stream, Address)> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let (fd, addr) = rustix::net::acceptfrom_with(listener, flags)?;
    Ok(match listener {
        Listener::Tcp(_) => {
            let peer = addr
                .and_then(|a| std::net::SocketAddr::try_from(a).ok())
                .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
            (Stream::Tcp(TcpStream::from(fd)), Address::Tcp(peer))
        }
        // A connecting Unix-domain client is unnamed.
        Listener::Unix(_) => (Stream::Unix(UnixStream::from(fd)), Address::Unix(None)),
    })
}

fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Nothing to report: the client gave up before we accepted, a signal.
fn quiet_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
    )
}

/// Says `what` on stderr, at most once a second.
fn complain(what: &str) {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
        *last = Some(Instant::now());
        eprintln!("serve: {what}");
    }
}

/// Takes a new connection in (or refuses it) and serves what it has sent so far.
fn admit(shared: &Shared, stream: Stream, peer: &Address, turns: &mut Turns<'_>) {
    let env = shared.env();
    if let Address::Tcp(addr) = peer
        && !shared.allow.is_empty()
        && !shared.allow.iter().any(|block| block.contains(addr.ip()))
    {
        return conn::refuse(stream, peer, Refusal::NotAllowed, &env);
    }
    let Some(key) = shared.ready.reserve() else {
        return conn::refuse(stream, peer, Refusal::Busy, &env);
    };
    let conn = Conn::new(stream, peer, &shared.limits, shared.tls.is_some());
    serve(shared, key, conn, turns);
}

/// The timer fired: expire what is due, re-arm the listener if its pause is over.
fn expire(shared: &Shared) {
    let mut expired = Vec::new();
    if shared.ready.due(&mut expired) {
        let guard = shared.listener.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(listener) = guard.as_ref() {
            let _ = shared.ready.arm_listener(listener);
        }
    }
    let env = shared.env();
    for (key, conn) in expired {
        let _ = catch_unwind(AssertUnwindSafe(|| conn.expire(&env)));
        shared.ready.release(key);
    }
}

/// The shutdown's one-time work, done by the first worker to see it: stop accepting (this
/// also removes a Unix socket file we created) and close the idle connections. Responses in
/// flight go on; each connection closes after its current response.
fn stop_once(shared: &Shared) {
    if shared.stopped.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Some(listener) = shared
        .listener
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        shared.ready.remove_listener(&listener);
    }
    for (key, conn) in shared.ready.sweep(Conn::idle) {
        close(shared, key, conn);
    }
}
