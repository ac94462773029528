//! Fibers: many transfers on one thread, each written as plain blocking code.
//!
//! [`run`] starts `n` fibers (stackful coroutines, corosensei) on the calling thread, each
//! running the same `work`, and drives them from one epoll set until all have returned.
//! Where a fiber would block, it parks instead and the thread runs another:
//! - [`crate::Stream`]'s reads and writes on a non-blocking socket that has nothing to give
//!   or no room park until the socket is ready, under the socket's own timeout
//!   (`SO_RCVTIMEO`/`SO_SNDTIMEO`, as set for a blocking read);
//! - [`sleep`] parks until its time;
//! - [`blocking`] runs a call that cannot be made non-blocking (getaddrinfo, a connect
//!   raced over addresses) on a thread of its own and parks until it returns.
//!
//! Why: with a thread per transfer, every response wakes a sleeping thread (a context switch
//! and, on two CPUs, usually a cross-CPU wake-up), and the requests reach the server one by
//! one. A fiber switch is a few dozen instructions, and one `epoll_wait` hands over every
//! response that has arrived. Measured on 1000 small files over TLS with 8 at once: see
//! BENCHMARKS.md.
//!
//! A fiber that never has to wait (its socket always has bytes) yields after a time slice
//! ([`maybe_yield`], after each read or write), so transfers advance side by side.
//!
//! Outside a fiber every function here behaves as its blocking counterpart, so code under
//! it need not know where it runs. A fiber must not park while it holds a lock another
//! fiber may take (it would block the thread for good): the transfer path holds none across
//! I/O, and the one it does (`-T -`'s stream) is taken by parking, not blocking.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use rustix::event::{EventfdFlags, epoll};

/// How long a fiber runs before it lets the others have a turn, when its socket always has
/// something for it (a fast download over loopback or a LAN never waits): curl's loop
/// interleaves its transfers, and `-Z`'s should advance side by side too.
const SLICE: Duration = Duration::from_millis(2);

/// Each fiber's stack: 2 MiB, what a rayon thread (which ran each `-Z` transfer before) has.
/// Address space reserved, memory touched only as used, with a guard page below it.
const STACK_SIZE: usize = 2 << 20;

/// Why a fiber parks.
#[derive(Debug, Clone, Copy)]
enum Park {
    /// Until `fd` is readable (or writable), or `until`.
    Fd {
        fd: RawFd,
        write: bool,
        until: Option<Instant>,
    },
    /// Until `Instant`.
    Sleep(Instant),
    /// Until the run's wake-up eventfd fires (a [`blocking`] call returned).
    Handoff,
    /// Not waiting: it has run its time slice ([`SLICE`]) and lets the others have a turn.
    Yield,
}

/// How a parked fiber is resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// What it waited for may have happened: it looks again (a wake may be spurious).
    Ready,
    /// Its deadline passed.
    TimedOut,
}

type FiberYielder = Yielder<Wake, Park>;

thread_local! {
    /// The running fiber's yielder: `Some` exactly while a fiber of this thread runs (set
    /// by the fiber itself when it starts and each time it is resumed, taken before it
    /// parks and when it ends), so the scheduler and other threads always see `None`.
    static CURRENT: Cell<Option<NonNull<FiberYielder>>> = const { Cell::new(None) };
    /// The eventfd of the run on this thread, for [`blocking`]'s hand-back.
    static HANDOFF: RefCell<Option<Arc<OwnedFd>>> = const { RefCell::new(None) };
    /// When the running fiber was last resumed, for its time slice.
    static RESUMED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// True inside a fiber of [`run`].
pub fn active() -> bool {
    CURRENT.with(|c| c.get().is_some())
}

/// Parks the running fiber (which must be one: `active()`), returning how it was woken.
#[allow(unsafe_code)]
fn park(why: Park) -> Wake {
    let me = CURRENT.with(|c| c.take()).expect("park outside a fiber");
    // SAFETY: `CURRENT` holds the yielder of the fiber that is running now (this code runs
    // on its stack), set by that fiber from the `&Yielder` its body was given, which lives
    // as long as the fiber; nobody else reads it while the fiber runs.
    let wake = unsafe { me.as_ref() }.suspend(why);
    CURRENT.with(|c| c.set(Some(me)));
    RESUMED.with(|r| r.set(Some(Instant::now())));
    wake
}

/// Lets the other fibers have a turn if the running one has had its time slice since it
/// last waited; nothing outside a fiber. Called after each read or write that did not wait.
pub fn maybe_yield() {
    if !active() {
        return;
    }
    let since = RESUMED.with(Cell::get);
    if since.is_some_and(|t| t.elapsed() >= SLICE) {
        park(Park::Yield);
    }
}

/// Waits until `fd` is readable (`write`: writable) or `timeout` passes (`None`: no
/// limit): `Ok(())` when it may be ready (look again: it can be spurious), `Err` of kind
/// `WouldBlock` when the time is up, as a blocking socket's `SO_RCVTIMEO` reports it. In a
/// fiber the fiber parks; elsewhere `poll(2)` waits.
pub fn wait(fd: BorrowedFd<'_>, write: bool, timeout: Option<Duration>) -> io::Result<()> {
    wait_until(fd, write, timeout.map(|t| Instant::now() + t))
}

/// [`wait`] until the instant `until` (`None`: no limit).
pub fn wait_until(fd: BorrowedFd<'_>, write: bool, until: Option<Instant>) -> io::Result<()> {
    if active() {
        let park = Park::Fd {
            fd: fd.as_raw_fd(),
            write,
            until,
        };
        return match self::park(park) {
            Wake::Ready => Ok(()),
            Wake::TimedOut => Err(io::ErrorKind::WouldBlock.into()),
        };
    }
    let flags = if write {
        rustix::event::PollFlags::OUT
    } else {
        rustix::event::PollFlags::IN
    };
    let mut fds = [rustix::event::PollFd::new(&fd, flags)];
    let limit = until.map(|t| timespec(t.saturating_duration_since(Instant::now())));
    match rustix::event::poll(&mut fds, limit.as_ref()) {
        Ok(0) => Err(io::ErrorKind::WouldBlock.into()),
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sleeps for `d`: in a fiber, the others run meanwhile.
pub fn sleep(d: Duration) {
    if !active() {
        return std::thread::sleep(d);
    }
    let until = Instant::now() + d;
    while Instant::now() < until {
        park(Park::Sleep(until));
    }
}

/// Runs `call` where it may block without holding up other fibers: on a thread of its own
/// when in a fiber (which parks until it returns), else right here.
pub fn blocking<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> T {
    let Some(handoff) = HANDOFF.with(|h| h.borrow().clone()).filter(|_| active()) else {
        return call();
    };
    let call = Arc::new(Mutex::new(Some(call)));
    let slot = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let (call2, slot2, done2) = (call.clone(), slot.clone(), done.clone());
    let spawned = std::thread::Builder::new()
        .name("fiber-blocking".into())
        .spawn(move || {
            // Whatever happens to the call, a panic included, the fiber hears of it: else
            // it would wait for a hand-back that never comes.
            let _hand_back = scopeguard(move || {
                done2.store(true, Ordering::Release);
                let _ = rustix::io::write(&*handoff, &1u64.to_ne_bytes());
            });
            if let Some(call) = lock(&call2).take() {
                let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
                *lock(&slot2) = Some(value);
            }
        });
    if spawned.is_err() {
        // No thread to be had: the call blocks this thread (and its fibers) instead.
        let call = lock(&call).take().expect("the thread never started");
        return call();
    }
    while !done.load(Ordering::Acquire) {
        park(Park::Handoff);
    }
    let value = lock(&slot).take();
    match value.expect("the blocking call's thread stores its outcome before it says done") {
        Ok(value) => value,
        // The call panicked on its thread: the panic goes on here, as if it had run here.
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One fiber and what it waits for.
struct Fiber<'w> {
    co: Coroutine<Wake, Park, (), DefaultStack>,
    park: Option<Park>,
    /// The descriptor this fiber last armed in the epoll set (one-shot), if any.
    armed: Option<RawFd>,
    /// The coroutine borrows `work` for 'w (see `Scheduler::new`): this keeps the borrow in
    /// the type, so a scheduler cannot outlive the `work` its fibers run.
    _work: std::marker::PhantomData<&'w ()>,
}

/// Runs `work` on `n` fibers of this thread (see the module's text) and returns when all
/// have returned. Falls back to running `work` once, here, when `n <= 1`, when called from
/// a fiber, or when the fibers cannot be set up (no memory for stacks, no epoll).
pub fn run(n: usize, work: &(dyn Fn() + Sync)) {
    if n <= 1 || active() {
        return work();
    }
    match Scheduler::new(n, work) {
        Ok(mut s) => s.drive(),
        Err(_) => work(),
    }
}

struct Scheduler<'w> {
    fibers: Vec<Fiber<'w>>,
    epoll: OwnedFd,
    handoff: Arc<OwnedFd>,
    ready: std::collections::VecDeque<(usize, Wake)>,
    /// Fibers that yielded their turn, resumed after the next look at the epoll set.
    yielded: Vec<usize>,
}

/// The epoll data of the hand-back eventfd (fibers use their index).
const HANDOFF_KEY: u64 = u64::MAX;

impl<'w> Scheduler<'w> {
    #[allow(unsafe_code)]
    fn new(n: usize, work: &'w (dyn Fn() + Sync)) -> io::Result<Scheduler<'w>> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let handoff = Arc::new(rustix::event::eventfd(
            0,
            EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
        )?);
        epoll::add(
            &epoll,
            &*handoff,
            epoll::EventData::new_u64(HANDOFF_KEY),
            epoll::EventFlags::IN,
        )?;
        let mut fibers = Vec::with_capacity(n);
        for _ in 0..n {
            let stack = DefaultStack::new(STACK_SIZE)?;
            let body = move |y: &FiberYielder, _first: Wake| {
                CURRENT.with(|c| c.set(Some(NonNull::from(y))));
                RESUMED.with(|r| r.set(Some(Instant::now())));
                // Cleared however the body ends, a panic included.
                let _clear = scopeguard(|| CURRENT.with(|c| c.set(None)));
                work();
            };
            // SAFETY: `body` borrows `work`, which outlives the scheduler ('w); every
            // coroutine is owned by `fibers` and so is run to its end or dropped (which
            // unwinds its stack) before the scheduler, and `run`, return.
            let co = unsafe { Coroutine::with_stack_unchecked(stack, body) };
            fibers.push(Fiber {
                co,
                park: None,
                armed: None,
                _work: std::marker::PhantomData,
            });
        }
        Ok(Scheduler {
            ready: (0..n).map(|i| (i, Wake::Ready)).collect(),
            yielded: Vec::new(),
            fibers,
            epoll,
            handoff,
        })
    }

    /// Resumes ready fibers until every one has returned.
    fn drive(&mut self) {
        let previous = HANDOFF.with(|h| h.replace(Some(self.handoff.clone())));
        let _restore = scopeguard(move || HANDOFF.with(|h| *h.borrow_mut() = previous));
        let mut live = self.fibers.len();
        // Room for every fiber's event and the hand-back's: a ready fiber left out of one
        // `epoll_wait` could be taken for one whose time is up.
        let mut events = Vec::with_capacity(self.fibers.len() + 1);
        while live > 0 {
            while let Some((i, wake)) = self.ready.pop_front() {
                if self.resume(i, wake) {
                    live -= 1;
                }
            }
            if live == 0 {
                break;
            }
            // Fibers that yielded go again after the others' events are in, not before.
            let yielded = std::mem::take(&mut self.yielded);
            self.wait_for_events(&mut events, !yielded.is_empty());
            self.ready
                .extend(yielded.into_iter().map(|i| (i, Wake::Ready)));
        }
    }

    /// Resumes fiber `i`; true when it has returned.
    fn resume(&mut self, i: usize, wake: Wake) -> bool {
        let f = &mut self.fibers[i];
        f.park = None;
        match f.co.resume(wake) {
            CoroutineResult::Return(()) => true,
            CoroutineResult::Yield(Park::Yield) => {
                self.yielded.push(i);
                false
            }
            CoroutineResult::Yield(park) => {
                if let Park::Fd { fd, write, .. } = park
                    && self.arm(i, fd, write).is_err()
                {
                    // Cannot wait on it (not a pollable descriptor): let it look again.
                    self.ready.push_back((i, Wake::Ready));
                    return false;
                }
                self.fibers[i].park = Some(park);
                false
            }
        }
    }

    /// Arms `fd` one-shot in the epoll set for fiber `i`.
    #[allow(unsafe_code)]
    fn arm(&mut self, i: usize, fd: RawFd, write: bool) -> io::Result<()> {
        let flags = epoll::EventFlags::ONESHOT
            | if write {
                epoll::EventFlags::OUT
            } else {
                epoll::EventFlags::IN | epoll::EventFlags::RDHUP
            };
        let data = epoll::EventData::new_u64(i as u64);
        // SAFETY: the fiber parked on `fd` holds it open (it is its socket) until resumed,
        // and only the epoll set's bookkeeping uses the number meanwhile.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        // Re-arm what this fiber armed last time (one system call); a descriptor that was
        // closed since, or is new, is added instead.
        let f = &mut self.fibers[i];
        if f.armed == Some(fd.as_raw_fd()) {
            match epoll::modify(&self.epoll, fd, data, flags) {
                Ok(()) => return Ok(()),
                Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let added = match epoll::add(&self.epoll, fd, data, flags) {
            Err(rustix::io::Errno::EXIST) => epoll::modify(&self.epoll, fd, data, flags),
            other => other,
        };
        f.armed = added.is_ok().then_some(fd.as_raw_fd());
        added.map_err(Into::into)
    }

    /// Waits in `epoll_wait` until a parked fiber's socket is ready, a blocking call hands
    /// back, or the nearest deadline passes (`poll`: does not wait); moves those fibers to
    /// the ready queue.
    fn wait_for_events(&mut self, events: &mut Vec<epoll::Event>, poll: bool) {
        let now = Instant::now();
        let nearest = self
            .fibers
            .iter()
            .filter_map(|f| match f.park? {
                Park::Fd { until, .. } => until,
                Park::Sleep(t) => Some(t),
                Park::Handoff | Park::Yield => None,
            })
            .min();
        let timeout = if poll {
            Some(timespec(Duration::ZERO))
        } else {
            nearest.map(|t| timespec(t.saturating_duration_since(now)))
        };
        events.clear();
        match epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(events),
            timeout.as_ref(),
        ) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => {
                // The set is unusable: let every parked fiber look again rather than hang.
                self.wake_all(|_| true, Wake::Ready);
                return;
            }
        }
        let mut handed_back = false;
        for ev in events.iter() {
            let key = ev.data.u64();
            if key == HANDOFF_KEY {
                handed_back = true;
            } else if let Some(f) = self.fibers.get_mut(key as usize)
                && matches!(f.park, Some(Park::Fd { .. }))
            {
                f.park = None;
                self.ready.push_back((key as usize, Wake::Ready));
            }
        }
        if handed_back {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(&*self.handoff, &mut count);
            self.wake_all(|p| matches!(p, Park::Handoff), Wake::Ready);
        }
        let now = Instant::now();
        self.wake_all(
            |p| match p {
                Park::Fd { until, .. } => until.is_some_and(|t| t <= now),
                Park::Sleep(t) => *t <= now,
                Park::Handoff | Park::Yield => false,
            },
            Wake::TimedOut,
        );
    }

    /// Moves every parked fiber whose park `pick` chooses to the ready queue.
    fn wake_all(&mut self, pick: impl Fn(&Park) -> bool, wake: Wake) {
        for (i, f) in self.fibers.iter_mut().enumerate() {
            if f.park.as_ref().is_some_and(&pick) {
                f.park = None;
                self.ready.push_back((i, wake));
            }
        }
    }
}

/// A timeout for poll(2) and epoll_wait(2), which take at most `c_int::MAX` milliseconds
/// (about 24 days): a longer one waits that long and the caller looks again.
fn timespec(d: Duration) -> rustix::event::Timespec {
    let d = d.min(Duration::from_millis(i32::MAX as u64));
    rustix::event::Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

/// Runs `n` fibers, the i-th running `body(i)` (for tests here and in `stream.rs`).
#[cfg(test)]
pub(crate) fn fibers(n: usize, body: impl Fn(usize) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    run(n, &|| body(next.fetch_add(1, Ordering::Relaxed)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use crate::fiber::fibers;

    #[test]
    fn a_sleeping_fiber_lets_the_others_run() {
        let log = Mutex::new(Vec::new());
        fibers(2, |i| {
            assert!(active());
            // Fiber 0 sleeps longer, so fiber 1 (started after it) is done first.
            sleep(Duration::from_millis(if i == 0 { 60 } else { 5 }));
            log.lock().unwrap().push(i);
        });
        assert_eq!(*log.lock().unwrap(), [1, 0]);
        assert!(!active(), "no fiber once run returns");
    }

    #[test]
    fn a_blocking_call_runs_beside_the_fibers() {
        // Fiber 0's call blocks until fiber 1 has run: on this thread it would never end.
        let (tx, rx) = std::sync::mpsc::channel::<u8>();
        let rx = Mutex::new(Some(rx));
        let got = Mutex::new(None);
        fibers(2, |i| {
            if i == 0 {
                let rx = rx.lock().unwrap().take().unwrap();
                *got.lock().unwrap() = Some(blocking(move || rx.recv().unwrap()));
            } else {
                sleep(Duration::from_millis(10));
                tx.send(7).unwrap();
            }
        });
        assert_eq!(*got.lock().unwrap(), Some(7));
    }

    #[test]
    fn a_panic_in_a_fiber_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            fibers(2, |i| {
                if i == 1 {
                    panic!("fiber 1 fails");
                }
                sleep(Duration::from_millis(20));
            });
        });
        assert!(caught.is_err());
        assert!(!active());
    }

    #[test]
    fn a_panic_in_a_blocking_call_reaches_its_fiber() {
        // It used to leave the fiber waiting for a hand-back that never came.
        let caught = std::panic::catch_unwind(|| {
            fibers(2, |i| {
                if i == 0 {
                    blocking(|| panic!("the call fails"));
                }
            });
        });
        assert!(caught.is_err());
    }

    #[test]
    fn outside_a_fiber_everything_blocks_as_usual() {
        assert!(!active());
        assert_eq!(blocking(|| 5), 5);
        let (a, _b) = UnixStream::pair().unwrap();
        let waited = wait(a.as_fd(), false, Some(Duration::from_millis(10)));
        assert_eq!(waited.map_err(|e| e.kind()), Err(io::ErrorKind::WouldBlock));
        let ran = std::sync::atomic::AtomicUsize::new(0);
        run(1, &|| {
            assert!(!active(), "one transfer runs on the thread itself");
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }
}
