//! `--watch`, the connection side: the watch hub, one thread that holds every browser
//! listening for changes (the Server-Sent Events connections of `reload.rs`).
//!
//! A watcher is an idle connection that lives for as long as its page is open, so it must
//! not hold a worker (ARCHITECTURE.md, decision 2) nor sit in the workers' readiness set,
//! where every change would have to visit thousands of slots. After a worker has sent the
//! SSE response head, the connection is handed here once, for good (the one exception to
//! "no connection changes hands", decision 2): the hub has its own epoll set with the
//! watchers (non-blocking sockets), the inotify descriptor (`inotify.rs`) and an eventfd to
//! stop it. It
//! - notices a watcher's close (readable: its end, an error, or bytes it should not send;
//!   dropped);
//! - sends a comment line every [`HEARTBEAT`], so proxies and NAT keep the connection and a
//!   vanished peer is found out;
//! - after a change and [`QUIET`] without another, writes one small event to each watcher;
//!   a watcher whose socket buffer cannot take it whole is dropped (its browser reconnects
//!   and is sent nothing stale: the page it then loads is new).
//!
//! At most `--max-connections` are held (a second budget beside the connections the workers
//! serve, since a watcher costs no worker); beyond that the endpoint answers 503
//! (`respond/live.rs` asks [`Hub::has_room`]). Memory per watcher: its socket and a map entry.
//!
//! Over HTTPS the watcher's TLS session comes with its socket (the one hand-off moves both):
//! the hub seals each event into a record itself and writes it, with the same rule (a
//! watcher whose socket cannot take the record whole is dropped), and reads a TLS watcher's
//! readable wake-up through the session (a `close_notify`, or anything else, drops it). A
//! TLS watcher costs its session besides (a few KiB: keys and rustls's empty buffers).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::event::{EventfdFlags, Timespec, eventfd};
use shared::Stream;
use shared::tls::rustls::ServerConnection;

use crate::watch::inotify::{Change, Tree};

/// A change is reported once nothing else changed for this long: an editor's save (write,
/// rename, chmod) or a build writing many files becomes one event.
pub(crate) const QUIET: Duration = Duration::from_millis(100);

/// A change is reported at the latest this long after it, even if more keep coming (a
/// build writing files for seconds still shows its progress).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(1);

/// A comment goes to every watcher this often.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(20);

/// The first bytes of the stream, sent by the hub once it holds the watcher: reconnect after
/// 1 s when the server goes away (the default is 3 s), and a comment so the browser sees the
/// stream open at once.
pub(crate) const GREETING: &[u8] = b"retry: 1000\n: watching\n\n";

const INOTIFY: u64 = u64::MAX;
const STOP: u64 = u64::MAX - 1;

/// One browser listening: its socket, and its TLS session over HTTPS.
#[derive(Debug)]
struct Watcher {
    stream: Stream,
    tls: Option<Box<ServerConnection>>,
}

impl Watcher {
    /// Sends `bytes` whole at once, or fails (the socket's buffer is full, or the peer gone).
    fn send(&mut self, bytes: &[u8]) -> bool {
        let Some(tls) = self.tls.as_deref_mut() else {
            return self.stream.write_nowait(bytes).ok() == Some(bytes.len());
        };
        use std::io::Write;
        // Sealed records waiting from before mean the socket did not take the last event.
        if tls.wants_write() || tls.writer().write_all(bytes).is_err() {
            return false;
        }
        let mut socket = &self.stream;
        while tls.wants_write() {
            match tls.write_tls(&mut socket) {
                Ok(n) if n > 0 => {}
                _ => return false,
            }
        }
        true
    }

    /// After a readable wake-up: true while the watcher has said nothing (no end, no error,
    /// no bytes: a browser sends nothing after its request).
    fn quiet(&mut self) -> bool {
        let mut scratch = [0u8; 64];
        let Some(tls) = self.tls.as_deref_mut() else {
            return matches!(self.stream.read_nowait(&mut scratch),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        };
        use std::io::Read;
        let mut socket = &self.stream;
        match tls.read_tls(&mut socket) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Ok(n) if n > 0 => {}
            _ => return false,
        }
        // Records: a close_notify, data, or garbage all end it; only a partial record
        // (nothing to read yet) keeps it.
        tls.process_new_packets().is_ok()
            && matches!(tls.reader().read(&mut scratch),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// The hub, shared by the workers (which hand it watchers) and its thread.
#[derive(Debug)]
pub(crate) struct Hub {
    epoll: OwnedFd,
    stop_fd: OwnedFd,
    stopping: AtomicBool,
    watchers: Mutex<HashMap<u64, Watcher>>,
    count: AtomicUsize,
    cap: usize,
}

impl Hub {
    /// Watches `root` and starts the hub's thread, which holds up to `cap` watchers.
    pub(crate) fn start(root: &Path, cap: usize) -> io::Result<Arc<Hub>> {
        let tree = Tree::new(root)?;
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        let stop_fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(&epoll, &tree, EventData::new_u64(INOTIFY), EventFlags::IN)?;
        epoll::add(&epoll, &stop_fd, EventData::new_u64(STOP), EventFlags::IN)?;
        let hub = Arc::new(Hub {
            epoll,
            stop_fd,
            stopping: AtomicBool::new(false),
            watchers: Mutex::default(),
            count: AtomicUsize::new(0),
            cap,
        });
        let mine = Arc::clone(&hub);
        thread::Builder::new()
            .name("watch-hub".into())
            .spawn(move || mine.run(tree))?;
        Ok(hub)
    }

    /// True while another watcher may be taken.
    pub(crate) fn has_room(&self) -> bool {
        self.count.load(Ordering::Relaxed) < self.cap
    }

    /// Takes a watcher whose response head has been sent (the socket is non-blocking). Past
    /// the cap (a race between `has_room` and here) or while stopping, it is closed.
    pub(crate) fn adopt(&self, stream: Stream, tls: Option<Box<ServerConnection>>) {
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let key = stream.as_fd().as_raw_fd() as u64;
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if watchers.len() >= self.cap {
            return;
        }
        // Counted before the greeting: a client that has read it and opens another stream at
        // once must find this one counted against the cap (it was counted only after, and a
        // watcher past the cap could get a 200).
        self.count.store(watchers.len() + 1, Ordering::Relaxed);
        // The greeting comes from here, under the lock every event is sent under: a client
        // that has read it is one the next change reaches.
        let mut watcher = Watcher { stream, tls };
        let greeted = watcher.send(GREETING);
        let flags = EventFlags::IN | EventFlags::RDHUP | EventFlags::ET;
        if greeted
            && epoll::add(&self.epoll, &watcher.stream, EventData::new_u64(key), flags).is_ok()
        {
            watchers.insert(key, watcher);
        }
        self.count.store(watchers.len(), Ordering::Relaxed);
    }

    /// Stops the thread, which closes every watcher.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = rustix::io::write(&self.stop_fd, &1u64.to_ne_bytes());
    }

    fn run(&self, mut tree: Tree) {
        let mut events = Vec::with_capacity(64);
        let mut pending = Change::None;
        let mut report_at: Option<Instant> = None;
        let mut first: Option<Instant> = None;
        let mut beat_at = Instant::now() + HEARTBEAT;
        while !self.stopping.load(Ordering::SeqCst) {
            let now = Instant::now();
            let next = report_at.map_or(beat_at, |r| r.min(beat_at));
            let wait = next.saturating_duration_since(now);
            let timeout = Timespec {
                tv_sec: wait.as_secs() as i64,
                tv_nsec: wait.subsec_nanos().into(),
            };
            events.clear();
            let buf = rustix::buffer::spare_capacity(&mut events);
            match epoll::wait(&self.epoll, buf, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    eprintln!(
                        "serve: --watch stopped: {}",
                        shared::io_words(&io::Error::from(e))
                    );
                    break;
                }
            }
            for event in &events {
                match event.data.u64() {
                    STOP => {}
                    INOTIFY => {
                        let change = tree.read();
                        if change != Change::None {
                            pending = pending.max(change);
                            // Debounce: each change pushes the report back, up to a limit.
                            let now = Instant::now();
                            let first = *first.get_or_insert(now);
                            report_at = Some((now + QUIET).min(first + MAX_DELAY));
                        }
                    }
                    key => self.readable(key),
                }
            }
            let now = Instant::now();
            if report_at.is_some_and(|r| now >= r) {
                let event: &[u8] = match pending {
                    Change::Css => b"event: css\ndata: css\n\n",
                    _ => b"event: reload\ndata: reload\n\n",
                };
                self.broadcast(event);
                pending = Change::None;
                report_at = None;
                first = None;
            }
            if now >= beat_at {
                self.broadcast(b": heartbeat\n\n");
                beat_at = now + HEARTBEAT;
            }
        }
        // Dropping the streams closes them; their browsers try again and find no server.
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        watchers.clear();
        self.count.store(0, Ordering::Relaxed);
    }

    /// A watcher is readable: its close, or bytes a browser never sends after its request
    /// (nothing is pipelined behind an event stream). Either way it is dropped, so a client
    /// that keeps sending cannot keep the hub reading.
    fn readable(&self, key: u64) {
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(watcher) = watchers.get_mut(&key) else {
            return;
        };
        if !watcher.quiet() {
            self.drop_watcher(&mut watchers, key);
        }
    }

    /// Writes `bytes` to every watcher; one that cannot take them whole at once is dropped.
    fn broadcast(&self, bytes: &[u8]) {
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        let failed: Vec<u64> = watchers
            .iter_mut()
            .filter_map(|(&k, w)| (!w.send(bytes)).then_some(k))
            .collect();
        for key in failed {
            self.drop_watcher(&mut watchers, key);
        }
    }

    fn drop_watcher(&self, watchers: &mut HashMap<u64, Watcher>, key: u64) {
        if let Some(watcher) = watchers.remove(&key) {
            let _ = epoll::delete(&self.epoll, &watcher.stream);
        }
        self.count.store(watchers.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// A watcher over a socket pair: the hub's end, and the browser's with a read timeout.
    fn watcher(hub: &Hub) -> UnixStream {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        hub.adopt(Stream::Unix(ours), None);
        assert_eq!(next_event(&mut theirs).as_bytes(), GREETING);
        theirs
    }

    fn next_event(theirs: &mut UnixStream) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b"\n\n") {
            let n = theirs.read(&mut buf).expect("an event within the timeout");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(got).unwrap()
    }

    #[test]
    fn an_edit_reaches_every_watcher_and_a_close_frees_its_room() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::start(dir.path(), 2).unwrap();
        let (mut a, mut b) = (watcher(&hub), watcher(&hub));
        assert!(!hub.has_room(), "two of two");
        std::fs::write(dir.path().join("index.html"), "x").unwrap();
        assert_eq!(next_event(&mut a), "event: reload\ndata: reload\n\n");
        assert_eq!(next_event(&mut b), "event: reload\ndata: reload\n\n");
        drop(a);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !hub.has_room() {
            assert!(Instant::now() < deadline, "the close was never noticed");
            thread::sleep(Duration::from_millis(10));
        }
        std::fs::write(dir.path().join("s.css"), "y").unwrap();
        // Had a stall split the first edit's events (create, close), the second comes first.
        while next_event(&mut b) != "event: css\ndata: css\n\n" {}
        hub.stop();
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "closed on stop: {rest:?}");
    }
}
