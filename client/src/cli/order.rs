//! Many transfers, one stdout: bodies come out in target order whatever order the transfers
//! finish in. The transfer whose turn it is writes straight to stdout; a later one that runs
//! ahead spools its body (in memory up to a shared budget, then in an anonymous temporary
//! file) and the spool is copied out when its turn comes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Memory all spools together may hold before new spool bytes go to temporary files: 8 MiB.
/// (The transfers are started in target order, so with `--parallel-max N` usually at most about N bodies
/// are ahead of the one being written; large ones go to disk.)
const SPOOL_BUDGET: usize = 8 * 1024 * 1024;

/// What a finished transfer leaves for its turn: the body it spooled, and its report lines
/// for stderr (error, timing picture, JSON line), printed in target order too.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    pub(crate) spool: Option<Spool>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) code: i32,
    pub(crate) stdout_closed: bool,
}

/// The order keeper shared by every transfer of one run.
#[derive(Debug, Default)]
pub(crate) struct Sequencer {
    /// The index of the transfer whose output goes out now.
    turn: AtomicUsize,
    /// Finished transfers waiting for their turn.
    pending: Mutex<BTreeMap<usize, Finished>>,
    /// Bytes held by in-memory spools.
    memory: AtomicUsize,
    /// Stdout was closed by its reader: nobody wants more.
    closed: AtomicBool,
}

/// A body written ahead of its turn.
#[derive(Debug)]
pub(crate) enum Spool {
    Memory(Vec<u8>),
    File(io::BufWriter<File>),
}

impl Sequencer {
    /// True once stdout has been closed by its reader.
    pub(crate) fn stdout_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn is_turn(&self, index: usize) -> bool {
        self.turn.load(Ordering::Acquire) == index
    }

    /// Transfer `index` is done. Its output, and that of every finished transfer after it
    /// whose turn follows, goes out now if it is its turn; `emit` writes each one's stderr
    /// lines (so a progress display can step aside) and learns its exit code.
    ///
    /// The lock is held only to file a finished transfer and to take the run that is ready,
    /// never across a write: with eight transfers on two cores, a write under the lock made
    /// three in four finishes wait on it (a futex sleep and wake each). Only the thread that
    /// took the run at `turn` writes, and `turn` moves on (under the lock) after it has
    /// written, so the output stays in order and a later finisher files its own and leaves.
    pub(crate) fn finish(&self, index: usize, done: Finished, emit: &mut dyn FnMut(&Finished)) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.insert(index, done);
        loop {
            let turn = self.turn.load(Ordering::Acquire);
            let mut next = turn;
            let mut ready = Vec::new();
            while let Some(f) = pending.remove(&next) {
                ready.push(f);
                next += 1;
            }
            if ready.is_empty() {
                return;
            }
            drop(pending);
            for mut f in ready {
                self.write_out(&mut f);
                emit(&f);
            }
            pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            self.turn.store(next, Ordering::Release);
        }
    }

    /// A finished transfer's turn: its spool goes to stdout.
    fn write_out(&self, f: &mut Finished) {
        if let Some(spool) = f.spool.take() {
            self.release(&spool);
            if !self.stdout_closed() && copy_out(spool).is_err() {
                self.closed.store(true, Ordering::Release);
            }
        }
        if f.stdout_closed {
            self.closed.store(true, Ordering::Release);
        }
    }

    fn release(&self, spool: &Spool) {
        if let Spool::Memory(v) = spool {
            self.memory.fetch_sub(v.len(), Ordering::AcqRel);
        }
    }
}

/// Copies a spool to stdout. Any error means stdout is unusable (a closed pipe, most often).
fn copy_out(spool: Spool) -> io::Result<()> {
    let mut out = Unbuffered::lock()?;
    match spool {
        Spool::Memory(v) => out.write_all(&v),
        Spool::File(w) => {
            let mut file = w.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            io::copy(&mut file, &mut out).map(drop)
        }
    }
}

/// Stdout for body bytes, without std's line buffering: std's stdout is a LineWriter, which
/// splits every write that holds a newline into two system calls (up to the last newline,
/// then the rest on flush). The lock keeps other writers out; what std holds goes first.
struct Unbuffered<'a>(io::StdoutLock<'a>);

impl Unbuffered<'_> {
    fn lock() -> io::Result<Self> {
        let mut out = io::stdout().lock();
        out.flush()?;
        Ok(Unbuffered(out))
    }

    /// In -Z's fibers, a stdout pipe that is not being read must not hold up the other
    /// transfers: this waits, as a fiber, until the pipe (of `size` bytes; 0: a socket, size
    /// unknown) has room, and says how much a `write` can put in without blocking. (Only the
    /// transfer whose turn it is writes.)
    fn room(&self, size: usize) -> io::Result<usize> {
        // The pipe's size less its unread bytes, counted in whole pages with one more for a
        // page the reader is part way through, and one kept in hand.
        let unread = rustix::io::ioctl_fionread(&self.0).map_or(size, |n| n as usize);
        let room = (size / PAGE).saturating_sub(unread.div_ceil(PAGE) + 2) * PAGE;
        if room > 0 {
            return Ok(room);
        }
        // Full (or a socket): wait for room, then a page, which a pipe or socket with room
        // takes. A reader that has gone also wakes the wait; the write then says so (EPIPE).
        shared::fiber::wait(self.0.as_fd(), true, None)?;
        Ok(PAGE)
    }
}

impl Write for Unbuffered<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let bytes = match stdout_pipe_size() {
            Some(size) if shared::fiber::active() => &bytes[..bytes.len().min(self.room(size)?)],
            _ => bytes,
        };
        Ok(rustix::io::write(&self.0, bytes)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A pipe's unit of room: it holds its bytes in pages, and one with a free page takes a
/// page's worth without blocking.
const PAGE: usize = 4096;

/// When stdout is a pipe (its size) or a socket (0), a reader that may stall; asked once.
fn stdout_pipe_size() -> Option<usize> {
    static SIZE: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        let out = io::stdout();
        let kind = rustix::fs::fstat(&out)
            .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode))
            .ok()?;
        match kind {
            rustix::fs::FileType::Fifo => {
                Some(rustix::pipe::fcntl_getpipe_size(&out).unwrap_or(16 * PAGE))
            }
            rustix::fs::FileType::Socket => Some(0),
            _ => None,
        }
    })
}

/// Transfer `index`'s view of stdout: straight through on its turn, into a spool before.
#[derive(Debug)]
pub(crate) struct Slot {
    index: usize,
    seq: Arc<Sequencer>,
    spool: Option<Spool>,
}

impl Slot {
    pub(crate) fn new(index: usize, seq: Arc<Sequencer>) -> Slot {
        Slot {
            index,
            seq,
            spool: None,
        }
    }

    /// What is still spooled (for [`Sequencer::finish`]).
    pub(crate) fn take_spool(&mut self) -> Option<Spool> {
        self.spool.take()
    }

    fn spool_write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let seq = &self.seq;
        let spool = self.spool.get_or_insert(Spool::Memory(Vec::new()));
        if let Spool::Memory(v) = spool {
            let held = seq.memory.fetch_add(bytes.len(), Ordering::AcqRel) + bytes.len();
            if held <= SPOOL_BUDGET {
                v.extend_from_slice(bytes);
                return Ok(());
            }
            // Over budget: this spool moves to disk, and gives its memory back.
            seq.memory
                .fetch_sub(bytes.len() + v.len(), Ordering::AcqRel);
            let mut file = io::BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
            file.write_all(v)?;
            *spool = Spool::File(file);
        }
        match spool {
            Spool::File(f) => f.write_all(bytes),
            Spool::Memory(_) => unreachable!("moved to a file above"),
        }
    }
}

impl Write for Slot {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.seq.is_turn(self.index) {
            return self.spool_write(bytes);
        }
        if let Some(spool) = self.spool.take() {
            // Our turn came while we were spooling: what we held goes first.
            self.seq.release(&spool);
            copy_out(spool)?;
        }
        Unbuffered::lock()?.write_all(bytes)
    }

    /// Nothing to do: bytes on their turn went straight out, and a spool waits for its turn.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(spool) = self.spool.take() {
            self.seq.release(&spool);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_transfers_go_out_in_order() {
        let seq = Sequencer::default();
        let seen = std::cell::RefCell::new(Vec::new());
        let mut emit = |f: &Finished| seen.borrow_mut().push(f.code);
        let done = |code| Finished {
            code,
            ..Finished::default()
        };
        seq.finish(2, done(2), &mut emit);
        seq.finish(1, done(1), &mut emit);
        assert!(seen.borrow().is_empty());
        seq.finish(0, done(0), &mut emit);
        assert_eq!(*seen.borrow(), [0, 1, 2]);
        seq.finish(3, done(3), &mut emit);
        assert_eq!(*seen.borrow(), [0, 1, 2, 3]);
    }

    #[test]
    fn finishes_from_many_threads_come_out_in_order() {
        // Eight threads finish 2000 transfers in whatever order they get to them; each
        // finish is emitted exactly once, in target order, whoever happens to write it.
        let seq = Sequencer::default();
        let next = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= 2000 {
                            return;
                        }
                        if i.is_multiple_of(7) {
                            std::thread::yield_now();
                        }
                        let done = Finished {
                            code: i as i32,
                            ..Finished::default()
                        };
                        seq.finish(i, done, &mut |f: &Finished| {
                            seen.lock().unwrap().push(f.code)
                        });
                    }
                });
            }
        });
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen, (0..2000).collect::<Vec<i32>>());
    }

    #[test]
    fn spools_move_to_disk_past_the_budget() {
        let seq = Arc::new(Sequencer::default());
        // Index 1 is not the turn: everything spools.
        let mut slot = Slot::new(1, seq.clone());
        slot.write_all(&[1; 1024]).unwrap();
        assert!(matches!(slot.spool, Some(Spool::Memory(_))));
        assert_eq!(seq.memory.load(Ordering::Acquire), 1024);
        slot.write_all(&vec![2; SPOOL_BUDGET]).unwrap();
        assert!(matches!(slot.spool, Some(Spool::File(_))));
        assert_eq!(seq.memory.load(Ordering::Acquire), 0);
        drop(slot);
        let mut small = Slot::new(2, seq.clone());
        small.write_all(b"x").unwrap();
        drop(small);
        assert_eq!(seq.memory.load(Ordering::Acquire), 0, "released on drop");
    }
}
