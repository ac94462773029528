//! The readiness set: one epoll instance that the workers wait on themselves, the slots that
//! hold connections while they wait in it, and their deadlines.
//!
//! A connection is added to epoll once for its whole life, edge-triggered: each new readiness
//! (bytes arriving, room to write after a full buffer) is reported once, to one waiting
//! worker. That worker takes the connection out of its slot and serves it; putting it back
//! ([`Ready::arm`]) costs no system call unless what it waits for changes (read ↔ write,
//! one `epoll_ctl(MOD)`). Should readiness be reported while a worker holds the connection,
//! the worker that got the report finds the slot empty and marks it pending, and the holder,
//! when it puts the connection back, serves it again instead — so no readiness is lost, and
//! no two workers ever hold one connection. Everything about a slot happens under its lock,
//! so no other thread can close a connection while it is being put back.
//!
//! (The first version re-armed an `EPOLLONESHOT` registration with one `epoll_ctl(MOD)` per
//! response: 5 system calls per keep-alive request with the cache's `statx`, against 4 now.)
//!
//! Deadlines live in a heap beside the slots, checked by whichever worker the `timerfd` (also
//! in the set) wakes. Entries are lazy: a connection whose deadline only moves later keeps its
//! one heap entry, and when that entry comes due the slot's current deadline decides whether
//! it expires or gets a new entry — so a keep-alive request costs no heap operation.
//!
//! Nothing here knows what a connection is: `T` is any owner of a file descriptor.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};

/// Slots are made in chunks of this many, when first needed.
const CHUNK: usize = 256;

/// Which connection: a slot and the generation of its occupant (a reused slot has a new
/// generation, so a late event for the old occupant finds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    fn pack(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }
    fn unpack(data: u64) -> Key {
        Key {
            index: data as u32,
            generation: (data >> 32) as u32,
        }
    }
}

/// What a connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// A request (or late bytes to drain).
    Read,
    /// Room in the socket's buffer for the rest of a response.
    Write,
}

/// A worker's buffer of events (its capacity is how many one wait may return).
pub(crate) type Events = Vec<epoll::Event>;

/// What an event from [`Ready::wait`] woke the worker for.
pub(crate) fn wake(event: &epoll::Event) -> Wake {
    // Copied out: the kernel's struct is packed, so its fields cannot be borrowed.
    let (flags, data) = (event.flags, event.data);
    match data.u64() {
        LISTENER => Wake::Listener,
        TIMER => Wake::Timer,
        data => Wake::Conn(
            Key::unpack(data),
            // The peer shut its side (or the connection failed): with edge-triggered
            // readiness its end may be queued behind the bytes this event reports.
            flags.intersects(EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR),
        ),
    }
}

/// What a worker woke up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The listener has a connection to accept.
    Listener,
    /// The timer fired: call [`Ready::due`].
    Timer,
    /// This connection is ready; `true` when its peer has also closed (read to the end).
    Conn(Key, bool),
}

const LISTENER: u64 = u64::MAX;
const TIMER: u64 = u64::MAX - 1;
/// A heap entry that re-arms the listener (after running out of descriptors).
const LISTENER_KEY: Key = Key {
    index: u32::MAX,
    generation: u32::MAX,
};

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    /// The connection, while it waits in the set; `None` while a worker holds it (or free).
    conn: Option<T>,
    /// What epoll watches the connection's descriptor for, once it was added.
    registered: Option<Interest>,
    /// True while a worker holds the connection.
    held: bool,
    /// Set when readiness was reported while a worker held the connection: that worker
    /// serves it again instead of putting it back (`true`: the report said the peer closed).
    pending: Option<bool>,
    /// When the waiting connection's wait ends.
    deadline: Option<Instant>,
    /// The heap entry responsible for this slot, if any.
    entry: Option<Instant>,
}

/// Which slots are free: every index from `fresh` up, and those given back.
#[derive(Debug, Default)]
struct Free {
    fresh: u32,
    back: Vec<u32>,
}

/// At most this many connections, whatever `--max-connections` says: no process gets that
/// many descriptors by default, and the slot table stays small (4096 chunk pointers).
pub(crate) const MAX_CAPACITY: usize = 1 << 20;

/// A run of slots, made when first needed.
type Chunk<T> = Box<[Mutex<Slot<T>>]>;

#[derive(Debug, Default)]
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Key)>>,
    /// What the timerfd is set to, if anything.
    armed: Option<Instant>,
}

/// The readiness set. See the module documentation.
#[derive(Debug)]
pub(crate) struct Ready<T> {
    epoll: OwnedFd,
    timer: OwnedFd,
    capacity: usize,
    chunks: Vec<OnceLock<Chunk<T>>>,
    free: Mutex<Free>,
    timers: Mutex<Timers>,
}

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    // A panic while holding a slot cannot leave it half-changed in a way that matters: the
    // worst is a connection closed early.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T: AsFd> Ready<T> {
    /// A set for up to `capacity` connections, with its timer in it.
    pub(crate) fn new(capacity: usize) -> io::Result<Ready<T>> {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        let timer = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )?;
        epoll::add(
            &epoll,
            &timer,
            EventData::new_u64(TIMER),
            EventFlags::IN | EventFlags::ONESHOT,
        )?;
        let chunks = (0..capacity.div_ceil(CHUNK))
            .map(|_| OnceLock::new())
            .collect();
        Ok(Ready {
            epoll,
            timer,
            capacity,
            chunks,
            free: Mutex::default(),
            timers: Mutex::default(),
        })
    }

    fn slot(&self, index: u32) -> &Mutex<Slot<T>> {
        let i = index as usize;
        let chunk = self.chunks[i / CHUNK].get_or_init(|| {
            (0..CHUNK)
                .map(|_| {
                    Mutex::new(Slot {
                        generation: 0,
                        conn: None,
                        registered: None,
                        held: false,
                        pending: None,
                        deadline: None,
                        entry: None,
                    })
                })
                .collect()
        });
        &chunk[i % CHUNK]
    }

    /// Adds the listener (armed). [`Ready::arm_listener`] re-arms it after each wake-up.
    pub(crate) fn add_listener(&self, listener: impl AsFd) -> io::Result<()> {
        self.listener_ctl(listener, true)
    }

    /// Re-arms the listener now.
    pub(crate) fn arm_listener(&self, listener: impl AsFd) -> io::Result<()> {
        self.listener_ctl(listener, false)
    }

    fn listener_ctl(&self, listener: impl AsFd, add: bool) -> io::Result<()> {
        let (data, flags) = (
            EventData::new_u64(LISTENER),
            EventFlags::IN | EventFlags::ONESHOT,
        );
        if add {
            epoll::add(&self.epoll, listener, data, flags)?;
        } else {
            epoll::modify(&self.epoll, listener, data, flags)?;
        }
        Ok(())
    }

    /// Removes the listener (shutting down).
    pub(crate) fn remove_listener(&self, listener: impl AsFd) {
        let _ = epoll::delete(&self.epoll, listener);
    }

    /// Asks [`Ready::due`] to report the listener at `at`, to re-arm it then.
    pub(crate) fn listener_at(&self, at: Instant) {
        self.push(at, LISTENER_KEY);
    }

    /// Waits up to `timeout` (forever with `None`) for at most `events`' capacity of events,
    /// which replace its contents; read them with [`wake`].
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.clear();
        let timeout = timeout.map(|t| Timespec {
            tv_sec: t.as_secs() as i64,
            tv_nsec: t.subsec_nanos().into(),
        });
        let buf = rustix::buffer::spare_capacity(events);
        match epoll::wait(&self.epoll, buf, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A free slot for a new connection, or `None` when `capacity` are open.
    pub(crate) fn reserve(&self) -> Option<Key> {
        let index = {
            // Given-back slots first, so few chunks are ever made on a quiet server.
            let mut free = lock(&self.free);
            match free.back.pop() {
                Some(index) => index,
                None if (free.fresh as usize) < self.capacity => {
                    free.fresh += 1;
                    free.fresh - 1
                }
                None => return None,
            }
        };
        let slot = lock(self.slot(index));
        Some(Key {
            index,
            generation: slot.generation,
        })
    }

    /// Frees `key`'s slot; the connection itself was (or is being) dropped, which closes its
    /// descriptor and so removes it from epoll.
    pub(crate) fn release(&self, key: Key) {
        {
            let mut slot = lock(self.slot(key.index));
            if slot.generation != key.generation {
                return;
            }
            slot.generation = slot.generation.wrapping_add(1);
            slot.conn = None;
            slot.registered = None;
            slot.held = false;
            slot.pending = None;
            slot.deadline = None;
            slot.entry = None;
        }
        lock(&self.free).back.push(key.index);
    }

    /// Takes `key`'s connection out of the set for good, its descriptor staying open for
    /// whoever takes it over (`--watch`'s hub), and frees the slot.
    pub(crate) fn detach(&self, key: Key, conn: &T) {
        let _ = epoll::delete(&self.epoll, conn);
        self.release(key);
    }

    /// How many slots are taken (open connections).
    pub(crate) fn open(&self) -> usize {
        let free = lock(&self.free);
        free.fresh as usize - free.back.len()
    }

    /// Takes the ready connection `key` out of its slot: the worker holds it now. When
    /// another worker holds it, that worker is told to serve it again (and whether the peer
    /// has `closed`), and this gets `None`.
    pub(crate) fn take(&self, key: Key, closed: bool) -> Option<T> {
        let mut slot = lock(self.slot(key.index));
        if slot.generation != key.generation {
            return None;
        }
        if slot.conn.is_some() {
            slot.held = true;
            return slot.conn.take();
        }
        if slot.held {
            slot.pending = Some(closed || slot.pending == Some(true));
        }
        None
    }

    /// Takes the connection `key` out of its slot if it waits there and `pred` says so.
    pub(crate) fn take_if(&self, key: Key, pred: impl FnOnce(&T) -> bool) -> Option<T> {
        let mut slot = lock(self.slot(key.index));
        if slot.generation != key.generation || !slot.conn.as_ref().is_some_and(pred) {
            return None;
        }
        slot.held = true;
        slot.conn.take()
    }

    /// Puts `conn` back in its slot to wait for `interest` until `deadline` (adding it to
    /// epoll the first time, changing what epoll watches only when `interest` changed).
    /// Returns `Ok(Some((conn, closed)))` when it became ready again while held: serve it
    /// again (`closed`: the peer has closed its side). On failure the connection is handed
    /// back, to be dropped.
    pub(crate) fn arm(
        &self,
        key: Key,
        conn: T,
        interest: Interest,
        deadline: Instant,
    ) -> Result<Option<(T, bool)>, T> {
        let push = {
            let mut slot = lock(self.slot(key.index));
            if slot.generation != key.generation {
                return Err(conn);
            }
            if let Some(closed) = slot.pending.take() {
                return Ok(Some((conn, closed)));
            }
            if slot.registered != Some(interest) {
                // Edge-triggered: a readiness that arrives while the connection is held is
                // reported (and marks it pending); one already there when it is added or
                // changed is reported at once.
                let flags = match interest {
                    Interest::Read => EventFlags::IN | EventFlags::RDHUP,
                    Interest::Write => EventFlags::OUT,
                } | EventFlags::ET;
                let data = EventData::new_u64(key.pack());
                let done = match slot.registered {
                    Some(_) => epoll::modify(&self.epoll, &conn, data, flags),
                    None => epoll::add(&self.epoll, &conn, data, flags),
                };
                if done.is_err() {
                    return Err(conn);
                }
                slot.registered = Some(interest);
            }
            slot.held = false;
            slot.conn = Some(conn);
            slot.deadline = Some(deadline);
            let push = slot.entry.is_none_or(|e| e > deadline);
            if push {
                slot.entry = Some(deadline);
            }
            push
        };
        if push {
            self.push(deadline, key);
        }
        Ok(None)
    }

    fn push(&self, at: Instant, key: Key) {
        let mut timers = lock(&self.timers);
        timers.heap.push(Reverse((at, key)));
        if timers.armed.is_none_or(|a| at < a) {
            timers.armed = Some(at);
            self.set_timer(at);
        }
    }

    fn set_timer(&self, at: Instant) {
        // Zero would disarm the timer: a deadline already past fires in a nanosecond.
        let left = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos().into(),
            },
        };
        let _ = rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec);
    }

    /// Makes the timer fire now, waking one worker (to notice a shutdown, say).
    pub(crate) fn nudge(&self) {
        let mut timers = lock(&self.timers);
        let now = Instant::now();
        timers.armed = Some(now);
        self.set_timer(now);
    }

    /// After a [`Wake::Timer`]: collects the connections whose deadline has passed (taking
    /// them out of their slots, so the caller expires and drops them), says whether the
    /// listener is due to be re-armed, and re-arms the timer for the next deadline.
    pub(crate) fn due(&self, expired: &mut Vec<(Key, T)>) -> bool {
        let now = Instant::now();
        let mut listener = false;
        let mut popped = Vec::new();
        {
            let mut timers = lock(&self.timers);
            let mut count = [0u8; 8];
            let _ = rustix::io::read(&self.timer, &mut count);
            timers.armed = None;
            while let Some(Reverse((at, key))) = timers.heap.peek().copied() {
                if at > now {
                    break;
                }
                timers.heap.pop();
                popped.push((at, key));
            }
            if let Some(Reverse((next, _))) = timers.heap.peek().copied() {
                timers.armed = Some(next);
                self.set_timer(next);
            }
        }
        for (at, key) in popped {
            if key == LISTENER_KEY {
                listener = true;
                continue;
            }
            let mut slot = lock(self.slot(key.index));
            if slot.generation != key.generation || slot.entry != Some(at) {
                continue; // a stale entry: another one covers this slot
            }
            slot.entry = None;
            match slot.deadline {
                // Held by a worker: it sets a deadline (and an entry) when it puts it back.
                _ if slot.conn.is_none() => {}
                Some(d) if d <= now => {
                    slot.held = true;
                    if let Some(conn) = slot.conn.take() {
                        expired.push((key, conn));
                    }
                }
                Some(d) => {
                    slot.entry = Some(d);
                    drop(slot);
                    self.push(d, key);
                }
                None => {}
            }
        }
        let _ = epoll::modify(
            &self.epoll,
            &self.timer,
            EventData::new_u64(TIMER),
            EventFlags::IN | EventFlags::ONESHOT,
        );
        listener
    }

    /// Takes every waiting connection for which `close` says yes (shutting down: the idle
    /// ones), for the caller to drop.
    pub(crate) fn sweep(&self, mut close: impl FnMut(&T) -> bool) -> Vec<(Key, T)> {
        let mut out = Vec::new();
        for (c, chunk) in self.chunks.iter().enumerate() {
            let Some(chunk) = chunk.get() else { continue };
            for (i, slot) in chunk.iter().enumerate() {
                let mut slot = lock(slot);
                if slot.conn.as_ref().is_some_and(&mut close)
                    && let Some(conn) = slot.conn.take()
                {
                    slot.held = true;
                    let key = Key {
                        index: (c * CHUNK + i) as u32,
                        generation: slot.generation,
                    };
                    out.push((key, conn));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn next_wake(set: &Ready<UnixStream>) -> Wake {
        let mut events = Events::with_capacity(1);
        set.wait(&mut events, Some(Duration::from_secs(5))).unwrap();
        wake(events.first().expect("an event within 5 s"))
    }

    #[test]
    fn a_connection_is_held_by_one_worker_and_no_readiness_is_lost() {
        let set = Ready::new(4).unwrap();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let key = set.reserve().unwrap();
        assert_eq!(set.open(), 1);
        let far = Instant::now() + Duration::from_secs(60);
        assert!(set.arm(key, ours, Interest::Read, far).unwrap().is_none());
        theirs.write_all(b"x").unwrap();
        assert_eq!(next_wake(&set), Wake::Conn(key, false));
        let conn = set.take(key, false).expect("waiting in its slot");
        // More arrives while one worker holds it: another worker is woken, finds it held,
        // and the holder is told to serve it again instead of putting it back.
        theirs.write_all(b"y").unwrap();
        assert_eq!(next_wake(&set), Wake::Conn(key, false));
        assert!(set.take(key, false).is_none(), "held by one worker only");
        let conn = set
            .arm(key, conn, Interest::Read, far)
            .unwrap()
            .expect("pending: serve it again")
            .0;
        assert!(set.arm(key, conn, Interest::Read, far).unwrap().is_none());
        let mut events = Events::with_capacity(1);
        set.wait(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty(), "nothing new arrived");
        theirs.write_all(b"z").unwrap();
        assert_eq!(
            next_wake(&set),
            Wake::Conn(key, false),
            "and the next bytes wake it"
        );
        // The peer closing is reported as such.
        let conn = set.take(key, false).unwrap();
        assert!(set.arm(key, conn, Interest::Read, far).unwrap().is_none());
        drop(theirs);
        assert_eq!(next_wake(&set), Wake::Conn(key, true));
        // Released: the slot's next occupant has another key; the old one finds nothing.
        drop(set.take(key, false));
        set.release(key);
        assert_eq!(set.open(), 0);
        let again = set.reserve().unwrap();
        assert_ne!(again, key);
        assert!(set.take(key, false).is_none());
    }

    #[test]
    fn a_close_reported_while_held_reaches_the_holder() {
        let set = Ready::new(1).unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        let key = set.reserve().unwrap();
        let far = Instant::now() + Duration::from_secs(60);
        assert!(set.arm(key, ours, Interest::Read, far).unwrap().is_none());
        // Held by one worker (say, just woken for bytes) when the peer closes.
        let conn = set.take(key, false).unwrap();
        drop(theirs);
        let Wake::Conn(k, closed) = next_wake(&set) else {
            panic!("a connection event");
        };
        assert!(k == key && closed);
        assert!(set.take(key, closed).is_none());
        let (_conn, closed) = set.arm(key, conn, Interest::Read, far).unwrap().unwrap();
        assert!(closed, "the holder learns the peer closed");
    }

    #[test]
    fn capacity_bounds_the_open_connections() {
        let set: Ready<UnixStream> = Ready::new(2).unwrap();
        let (a, b) = (set.reserve().unwrap(), set.reserve().unwrap());
        assert!(set.reserve().is_none(), "full: the caller answers 503");
        set.release(a);
        assert_eq!(set.open(), 1);
        assert!(set.reserve().is_some_and(|c| c != a && c != b));
        let huge: Ready<UnixStream> = Ready::new(usize::MAX).unwrap();
        assert_eq!(huge.chunks.len(), MAX_CAPACITY / CHUNK);
    }

    #[test]
    fn deadlines_expire_through_the_timer_and_later_ones_wait() {
        let set = Ready::new(4).unwrap();
        let (soon, _a) = UnixStream::pair().unwrap();
        let (later, _b) = UnixStream::pair().unwrap();
        let (k1, k2) = (set.reserve().unwrap(), set.reserve().unwrap());
        let now = Instant::now();
        set.arm(k1, soon, Interest::Read, now + Duration::from_millis(20))
            .unwrap();
        set.arm(k2, later, Interest::Read, now + Duration::from_secs(60))
            .unwrap();
        assert_eq!(next_wake(&set), Wake::Timer);
        let mut expired = Vec::new();
        assert!(!set.due(&mut expired), "the listener is not due");
        let keys: Vec<Key> = expired.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec![k1]);
        assert!(set.take(k2, false).is_some(), "the later one still waits");
    }

    #[test]
    fn a_deadline_moved_later_keeps_the_connection_past_its_first_entry() {
        let set = Ready::new(2).unwrap();
        let (conn, _peer) = UnixStream::pair().unwrap();
        let key = set.reserve().unwrap();
        let start = Instant::now();
        set.arm(key, conn, Interest::Read, start + Duration::from_millis(20))
            .unwrap();
        // Served again before its deadline: it now waits until much later.
        let conn = set.take(key, false).unwrap();
        set.arm(key, conn, Interest::Read, start + Duration::from_secs(60))
            .unwrap();
        assert_eq!(next_wake(&set), Wake::Timer);
        let mut expired = Vec::new();
        set.due(&mut expired);
        assert!(expired.is_empty(), "not expired: its deadline moved");
        assert!(set.take(key, false).is_some());
    }
}
