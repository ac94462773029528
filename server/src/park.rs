//! The parker: one thread holding idle and lingering connections, and responses waiting for
//! a slow reader, so that no worker waits on a client (ARCHITECTURE.md, decision 2). It sleeps
//! in epoll (through mio) until a parked connection is readable (or, for a response being
//! sent, writable), then puts it back on the worker queue; at its deadline it closes it (with
//! 408 when a request head was cut off).

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::conn::{Conn, Wait};
use crate::server::Ctx;

const WAKE: Token = Token(usize::MAX);

/// Where workers hand connections to park. The channel is unbounded but never holds more
/// than the open connections, which `--max-connections` bounds; a worker must never block
/// here, or it could deadlock with a parker blocked on a full worker queue.
#[derive(Clone, Debug)]
pub struct ParkHandle {
    tx: Sender<(Conn, Wait)>,
    waker: Arc<Waker>,
    // True while the parker is (about to be) asleep in epoll: only then does a park need to
    // wake it, so a busy parker costs its workers no eventfd write per park.
    sleeping: Arc<AtomicBool>,
}

impl ParkHandle {
    /// Parks `conn` until it is readable or `wait`'s deadline passes.
    pub fn park(&self, conn: Conn, wait: Wait) {
        // The send comes before the check, and the parker announces its sleep before it
        // looks at the channel one last time: one of the two always sees the other.
        if self.tx.send((conn, wait)).is_ok() && self.sleeping.swap(false, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    /// Wakes the parker (to notice a shutdown).
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }
}

/// Starts the parker thread. Readable connections go back to `jobs`.
pub fn start(ctx: Arc<Ctx>, jobs: Sender<Conn>) -> io::Result<(ParkHandle, JoinHandle<()>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
    let (tx, rx) = unbounded();
    let sleeping = Arc::new(AtomicBool::new(false));
    let asleep = Arc::clone(&sleeping);
    let thread = thread::Builder::new()
        .name("parker".into())
        .spawn(move || run(poll, rx, ctx, jobs, &asleep))?;
    Ok((
        ParkHandle {
            tx,
            waker,
            sleeping,
        },
        thread,
    ))
}

struct Parked {
    conns: HashMap<usize, (Conn, Wait)>,
    deadlines: BTreeSet<(Instant, usize)>,
    next_id: usize,
}

impl Parked {
    fn add(&mut self, poll: &Poll, conn: Conn, wait: Wait) {
        let id = self.next_id;
        self.next_id = (self.next_id + 1) % (usize::MAX - 1);
        let fd = conn.stream.as_raw_fd();
        let interest = match wait {
            Wait::Write(_) => Interest::WRITABLE,
            Wait::Request(_) | Wait::Linger(_) => Interest::READABLE,
        };
        // A connection that cannot be watched cannot be woken: dropping it closes it.
        if poll
            .registry()
            .register(&mut SourceFd(&fd), Token(id), interest)
            .is_ok()
        {
            self.deadlines.insert((wait.deadline(), id));
            self.conns.insert(id, (conn, wait));
        }
    }

    fn remove(&mut self, poll: &Poll, id: usize) -> Option<(Conn, Wait)> {
        let (conn, wait) = self.conns.remove(&id)?;
        self.deadlines.remove(&(wait.deadline(), id));
        let _ = poll
            .registry()
            .deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
        Some((conn, wait))
    }
}

fn run(
    mut poll: Poll,
    rx: Receiver<(Conn, Wait)>,
    ctx: Arc<Ctx>,
    jobs: Sender<Conn>,
    sleeping: &AtomicBool,
) {
    let mut events = Events::with_capacity(1024);
    let mut parked = Parked {
        conns: HashMap::new(),
        deadlines: BTreeSet::new(),
        next_id: 0,
    };
    loop {
        let mut timeout = parked
            .deadlines
            .first()
            .map(|(d, _)| d.saturating_duration_since(Instant::now()));
        sleeping.store(true, Ordering::SeqCst);
        if !rx.is_empty() {
            // A park arrived since the last look: do not sleep on it.
            timeout = Some(Duration::ZERO);
        }
        let polled = poll.poll(&mut events, timeout);
        sleeping.store(false, Ordering::SeqCst);
        if let Err(e) = polled
            && e.kind() != io::ErrorKind::Interrupted
        {
            eprintln!("serve: parker: {}", shared::io_words(&e));
            return;
        }
        if ctx.stopping() {
            // Idle connections are closed at once on shutdown; dropping them does it. A
            // response still being sent goes back to a worker, which finishes it (blocking,
            // within the drain deadline).
            while let Ok((conn, wait)) = rx.try_recv() {
                parked.add(&poll, conn, wait);
            }
            for (_, (conn, wait)) in parked.conns.drain() {
                if matches!(wait, Wait::Write(_)) {
                    let _ = jobs.send(conn);
                }
            }
            return;
        }
        for event in events.iter() {
            if event.token() == WAKE {
                continue;
            }
            let id = event.token().0;
            let Some((conn, wait)) = parked.conns.get_mut(&id) else {
                continue;
            };
            if let Wait::Linger(_) = wait {
                // Still registered: more late bytes will wake us again.
                if conn.drain() {
                    parked.remove(&poll, id);
                }
                continue;
            }
            if let Some((conn, _)) = parked.remove(&poll, id) {
                // Blocks while the worker queue is full: workers never wait on us, so it drains.
                let _ = jobs.send(conn);
            }
        }
        while let Ok((conn, wait)) = rx.try_recv() {
            parked.add(&poll, conn, wait);
        }
        let now = Instant::now();
        while parked
            .deadlines
            .first()
            .is_some_and(|(deadline, _)| *deadline <= now)
        {
            let Some((_, id)) = parked.deadlines.pop_first() else {
                break;
            };
            if let Some((conn, wait)) = parked.remove(&poll, id) {
                conn.expire(&ctx, wait);
            }
        }
    }
}
