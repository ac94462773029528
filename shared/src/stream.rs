//! `Stream { Tcp, Unix }`: one connected stream socket, whatever its namespace.

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::net::{RecvFlags, SendFlags};

/// The address of one end of a connection or of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// An IPv4 or IPv6 address and port.
    Tcp(SocketAddr),
    /// A Unix-domain socket: its path, or `None` for an unnamed socket (a connecting client).
    Unix(Option<PathBuf>),
}

impl Address {
    /// The TCP address, if this is one.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            Address::Tcp(a) => Some(*a),
            Address::Unix(_) => None,
        }
    }

    pub(crate) fn from_unix(addr: &net::SocketAddr) -> Address {
        Address::Unix(addr.as_pathname().map(PathBuf::from))
    }
}

impl fmt::Display for Address {
    /// `127.0.0.1:8080`, `[::1]:8080`, `unix:/run/serve.sock`, or `unix` for an unnamed peer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(a) => write!(f, "{a}"),
            Address::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            Address::Unix(None) => f.write_str("unix"),
        }
    }
}

/// A connected stream socket, TCP or Unix-domain. `Read`, `Write`, shutdown and timeouts pass
/// straight through, so code above never matches on the kind.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain stream connection.
    Unix(UnixStream),
}

macro_rules! both {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Stream::Tcp($s) => $e,
            Stream::Unix($s) => $e,
        }
    };
}

impl Stream {
    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        both!(self, s => s.shutdown(how))
    }

    /// Bounds every blocking read; `None` waits forever. A read that times out fails with
    /// `WouldBlock` or `TimedOut`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        both!(self, s => s.set_read_timeout(t))
    }

    /// Bounds every blocking write; `None` waits forever.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        both!(self, s => s.set_write_timeout(t))
    }

    /// Moves the socket in or out of non-blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        both!(self, s => s.set_nonblocking(on))
    }

    /// Sets `TCP_NODELAY` (no Nagle delay); does nothing on a Unix socket, which has none.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(on),
            Stream::Unix(_) => Ok(()),
        }
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<Address> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(Address::Tcp),
            Stream::Unix(s) => s.peer_addr().map(|a| Address::from_unix(&a)),
        }
    }

    /// The address of this end.
    pub fn local_addr(&self) -> io::Result<Address> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(Address::Tcp),
            Stream::Unix(s) => s.local_addr().map(|a| Address::from_unix(&a)),
        }
    }

    /// A second handle on the same socket (e.g. one thread reads while another writes).
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
        }
    }

    /// Reads what has already arrived without waiting: `WouldBlock` when nothing has, even
    /// on a blocking socket with no timeout (`recv` with `MSG_DONTWAIT`). `Ok(0)` means the
    /// peer closed its side.
    pub fn read_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        // std has no per-call non-blocking read, and toggling O_NONBLOCK costs two syscalls.
        retry_on_eintr(|| rustix::net::recv(self, &mut *buf, RecvFlags::DONTWAIT).map(|(n, _)| n))
    }

    /// True when bytes have arrived that nobody has read yet (a `recv` with `MSG_PEEK` and
    /// `MSG_DONTWAIT`: nothing is taken, nothing waited for). False at the end of the
    /// stream and on errors.
    pub fn has_unread(&self) -> bool {
        let mut one = [0u8; 1];
        retry_on_eintr(|| {
            rustix::net::recv(self, &mut one, RecvFlags::DONTWAIT | RecvFlags::PEEK).map(|(n, _)| n)
        })
        .is_ok_and(|n| n > 0)
    }

    /// Writes what the socket takes now without waiting: `WouldBlock` when its buffer is
    /// full, even on a blocking socket (`send` with `MSG_DONTWAIT`).
    pub fn write_nowait(&self, buf: &[u8]) -> io::Result<usize> {
        // std has no per-call non-blocking write, and toggling O_NONBLOCK costs two syscalls.
        // MSG_NOSIGNAL: a peer that went away is an EPIPE error here, not a SIGPIPE.
        retry_on_eintr(|| rustix::net::send(self, buf, SendFlags::DONTWAIT | SendFlags::NOSIGNAL))
    }

    /// Sends up to `len` bytes of `file` starting at `*offset` with one `sendfile(2)`,
    /// moving `*offset` by what was sent; the file's own position is left alone. Returns the
    /// bytes sent: 0 at the end of the file, fewer than `len` when the socket took only that
    /// much. On a non-blocking socket that is full, fails with `WouldBlock` having sent
    /// nothing — so no progress is ever lost.
    pub fn send_file_at(&self, file: &File, offset: &mut u64, len: u64) -> io::Result<u64> {
        // The kernel takes an off_t: an offset past i64::MAX is the caller's mistake.
        if i64::try_from(*offset).is_err() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let mut off = *offset;
        // One call moves at most 2 GiB - 4 KiB on Linux anyway.
        let count = usize::try_from(len.min(1 << 30)).unwrap_or(1 << 30);
        let n = retry_on_eintr(|| rustix::fs::sendfile(self, file, Some(&mut off), count))?;
        *offset = off;
        Ok(n as u64)
    }

    /// Sends up to `len` bytes of `file` from `*offset` out of a read-only mapping of that
    /// window (`send(2)` straight from the page cache's pages: one copy, made by the
    /// sender's core, and no `read` copy), moving `*offset` by what was sent. The same
    /// contract as [`Stream::send_file_at`], which it falls back to where a file cannot be
    /// mapped: the bytes sent, 0 at (or past) the end of the file, and on a socket that
    /// times out or would block, the error only when nothing was sent.
    ///
    /// Why not sendfile on loopback: sendfile leaves the one copy to the receiver, which on
    /// loopback reads the page-cache pages cold from another core; copying them into the
    /// socket here is what curl's read+write loop gets right, minus its `read` copy (fetch -T
    /// of 1 GiB to nginx: 0.9-1.0x curl's wall time at 0.7-0.9x its CPU, where sendfile took
    /// 1.1-1.5x the wall time; BENCHMARKS.md, issue 15).
    ///
    /// Why a file that shrinks while mapped is safe here: this process never reads the
    /// mapping itself, only the kernel does, inside `send`. A page past the new end of the
    /// file faults in kernel mode, where the fault is fixed up into `EFAULT` (SIGBUS is sent
    /// only for a fault in user mode), so `send` returns what it copied before it, or
    /// `EFAULT` (read here as the end of the file). The test below truncates a mapped file.
    /// No Rust reference to the mapping is ever made, so nothing assumes its bytes hold still.
    #[allow(unsafe_code)] // mmap, send from a raw pointer and munmap have no safe wrapper here.
    pub fn send_mapped_at(&self, file: &File, offset: &mut u64, len: u64) -> io::Result<u64> {
        const PAGE: u64 = 4096; // mmap's offset must be a multiple of the page size.
        let start = *offset - *offset % PAGE;
        let (Ok(skip), Ok(want), Ok(at)) = (
            usize::try_from(*offset - start),
            usize::try_from(len),
            libc::off_t::try_from(start),
        ) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        if want == 0 {
            return Ok(0);
        }
        let map_len = skip + want;
        // SAFETY: a fresh private address range, read-only, of a file we hold open; nothing
        // else aliases it and it is unmapped below before returning.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                at,
            )
        };
        if base == libc::MAP_FAILED {
            // A file system or special file that cannot be mapped: sendfile does it instead.
            return self.parking(true, || self.send_file_at(file, offset, len));
        }
        let mut sent = 0;
        let outcome = loop {
            if sent == want {
                break Ok(());
            }
            // SAFETY: `skip + sent < map_len`, inside the mapping; only the kernel reads it
            // (see above for a file that shrank). MSG_NOSIGNAL: a peer that went away is
            // EPIPE, not SIGPIPE.
            let n = unsafe {
                libc::send(
                    self.as_raw_fd(),
                    base.cast::<u8>().add(skip + sent).cast(),
                    want - sent,
                    libc::MSG_NOSIGNAL,
                )
            };
            match usize::try_from(n) {
                Ok(n) => {
                    sent += n;
                    crate::fiber::maybe_yield();
                }
                Err(_) => match io::Error::last_os_error() {
                    e if e.kind() == io::ErrorKind::Interrupted => continue,
                    // In a fiber the socket is non-blocking: wait for room, as a blocking
                    // send would (see `parking`).
                    e if e.kind() == io::ErrorKind::WouldBlock && crate::fiber::active() => {
                        match self.park(true) {
                            Ok(()) => continue,
                            Err(_) => break Err(e),
                        }
                    }
                    e => break Err(e),
                },
            }
        };
        // SAFETY: the mapping made above, with its length; no pointer into it outlives this.
        unsafe { libc::munmap(base, map_len) };
        *offset += sent as u64;
        match outcome {
            Err(e) if sent == 0 && e.raw_os_error() != Some(libc::EFAULT) => Err(e),
            _ => Ok(sent as u64),
        }
    }

    /// The pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        both!(self, s => s.take_error())
    }
}

/// Runs a syscall again while a signal interrupts it (`EINTR`); any other error becomes an
/// `io::Error` with the same errno.
fn retry_on_eintr<T>(mut call: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(rustix::io::Errno::INTR) => continue,
            done => return done.map_err(io::Error::from),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

/// In a fiber ([`crate::fiber`]), a socket is non-blocking and a read or write that would
/// block parks the fiber until the socket is ready, within the timeout a blocking call
/// would have had (`SO_RCVTIMEO`/`SO_SNDTIMEO`); past it, the call fails with
/// `WouldBlock`, as the blocking one would. Elsewhere the call is made as it is.
impl Stream {
    fn parking<T>(&self, write: bool, mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        // The deadline, from the first time the call would block: a spurious wake must not
        // start the socket's timeout over.
        let mut until = None;
        loop {
            match call() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && crate::fiber::active() => {
                    let until = match until {
                        Some(until) => until,
                        None => *until.insert(self.timeout(write)?.map(|t| Instant::now() + t)),
                    };
                    if crate::fiber::wait_until(self.as_fd(), write, until).is_err() {
                        // The time is up: one last look, as a blocking call returns what
                        // came just in time (the fiber may have waited its turn past it).
                        return call();
                    }
                }
                done => {
                    crate::fiber::maybe_yield();
                    return done;
                }
            }
        }
    }

    /// The socket's own timeout for a read (`write`: a write), as a blocking call has it.
    fn timeout(&self, write: bool) -> io::Result<Option<Duration>> {
        if write {
            both!(self, s => s.write_timeout())
        } else {
            both!(self, s => s.read_timeout())
        }
    }

    /// Parks the running fiber until the socket is readable (`write`: writable), within
    /// the socket's own timeout: `Err` (`WouldBlock`) when that passes first.
    fn park(&self, write: bool) -> io::Result<()> {
        crate::fiber::wait(self.as_fd(), write, self.timeout(write)?)
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s: &Stream = self;
        s.parking(false, || match s {
            Stream::Tcp(t) => (&*t).read(buf),
            Stream::Unix(u) => (&*u).read(buf),
        })
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let s: &Stream = self;
        s.parking(true, || match s {
            Stream::Tcp(t) => (&*t).write(buf),
            Stream::Unix(u) => (&*u).write(buf),
        })
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let s: &Stream = self;
        s.parking(true, || match s {
            Stream::Tcp(t) => (&*t).write_vectored(bufs),
            Stream::Unix(u) => (&*u).write_vectored(bufs),
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        both!(self, s => s.as_fd())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        both!(self, s => s.as_raw_fd())
    }
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Stream {
        Stream::Tcp(s)
    }
}

impl From<UnixStream> for Stream {
    fn from(s: UnixStream) -> Stream {
        Stream::Unix(s)
    }
}

#[cfg(test)]
mod tests {

    /// In a fiber, a read on a non-blocking socket that has nothing parks the fiber, and
    /// the socket's read timeout still ends it.
    mod in_a_fiber {
        use std::io::{self, Read, Write};
        use std::os::unix::net::UnixStream;
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::Duration;

        use crate::Stream;
        use crate::fiber::{fibers, sleep};

        fn pair() -> (Stream, Stream) {
            let (a, b) = UnixStream::pair().unwrap();
            (Stream::from(a), Stream::from(b))
        }

        #[test]
        fn more_ready_fibers_than_one_look_holds_all_get_their_bytes() {
            // 99 fibers park on reads with a 300 ms limit; the last writes a byte to each,
            // then holds the thread past their limits. Every byte had come in time, so
            // every read returns it, however many came at once.
            let pairs: Vec<(Stream, Stream)> = (0..99).map(|_| pair()).collect();
            for (a, _) in &pairs {
                a.set_nonblocking(true).unwrap();
                a.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
            }
            let got = std::sync::atomic::AtomicUsize::new(0);
            fibers(100, |i| {
                if i < 99 {
                    let mut byte = [0; 1];
                    if (&pairs[i].0).read(&mut byte).is_ok_and(|n| n == 1) {
                        got.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                sleep(Duration::from_millis(50));
                for (_, b) in &pairs {
                    (&*b).write_all(b"x").unwrap();
                }
                std::thread::sleep(Duration::from_millis(400));
            });
            assert_eq!(got.load(Ordering::Relaxed), 99);
        }

        #[test]
        fn a_fiber_whose_socket_never_runs_dry_lets_the_others_run() {
            // Fiber 0 reads 64 KiB a byte at a time without ever waiting; fiber 1, due
            // after 1 ms, must get its turn long before fiber 0 is through.
            let (a, b) = pair();
            a.set_nonblocking(true).unwrap();
            (&b).write_all(&[7; 64 * 1024]).unwrap();
            let other_ran = AtomicBool::new(false);
            let read_before = Mutex::new(None);
            fibers(2, |i| {
                if i == 1 {
                    sleep(Duration::from_millis(1));
                    other_ran.store(true, Ordering::Relaxed);
                    return;
                }
                let mut n = 0;
                let mut byte = [0; 1];
                while n < 64 * 1024 && !other_ran.load(Ordering::Relaxed) {
                    n += (&a).read(&mut byte).unwrap();
                }
                *read_before.lock().unwrap() = Some(n);
            });
            let n = read_before.lock().unwrap().unwrap();
            assert!(
                n < 64 * 1024,
                "fiber 1 ran only after fiber 0 read all {n} bytes"
            );
        }

        #[test]
        fn a_read_that_would_block_parks_only_its_fiber() {
            // Fiber 0 reads what fiber 1 writes later: on one thread, this needs fiber 0 to
            // park (a blocking read would wait forever).
            let (a, b) = pair();
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            let got = Mutex::new(Vec::new());
            fibers(2, |i| {
                if i == 0 {
                    let mut buf = [0; 16];
                    let n = (&a).read(&mut buf).unwrap();
                    got.lock().unwrap().extend_from_slice(&buf[..n]);
                } else {
                    sleep(Duration::from_millis(10));
                    (&b).write_all(b"hello").unwrap();
                }
            });
            assert_eq!(*got.lock().unwrap(), b"hello");
        }

        #[test]
        fn a_parked_read_ends_at_the_socket_timeout() {
            let (a, _b) = pair();
            a.set_nonblocking(true).unwrap();
            a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            let other_ran = AtomicBool::new(false);
            let result = Mutex::new(None);
            fibers(2, |i| {
                if i == 0 {
                    let r = (&a).read(&mut [0; 4]).map_err(|e| e.kind());
                    *result.lock().unwrap() = Some(r);
                } else {
                    other_ran.store(true, Ordering::Relaxed);
                }
            });
            assert_eq!(
                *result.lock().unwrap(),
                Some(Err(io::ErrorKind::WouldBlock)),
                "as a blocking read under SO_RCVTIMEO reports it"
            );
            assert!(other_ran.load(Ordering::Relaxed));
        }
    }
    use super::*;
    use std::io::Seek;

    #[test]
    fn write_nowait_stops_when_the_buffer_is_full() {
        let (a, _b) = UnixStream::pair().unwrap();
        let a = Stream::Unix(a);
        let chunk = [7u8; 64 * 1024];
        let mut total = 0;
        let err = loop {
            match a.write_nowait(&chunk) {
                Ok(n) => total += n,
                Err(e) => break e,
            }
            assert!(total < 1 << 30, "a socket buffer never fills up");
        };
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(total > 0);
    }

    #[test]
    fn read_nowait_never_waits() {
        let (a, b) = UnixStream::pair().unwrap();
        let (a, mut b) = (Stream::Unix(a), Stream::Unix(b));
        let mut buf = [0u8; 8];
        let err = a.read_nowait(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        b.write_all(b"hi").unwrap();
        assert_eq!(a.read_nowait(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"hi");
        drop(b);
        assert_eq!(
            a.read_nowait(&mut buf).unwrap(),
            0,
            "EOF once the peer closed"
        );
    }

    #[test]
    fn send_file_at_sends_from_the_offset_and_reports_the_end() {
        let file = tempfile_with(b"0123456789");
        let (a, b) = UnixStream::pair().unwrap();
        let a = Stream::Unix(a);
        let mut at = 2;
        assert_eq!(a.send_file_at(&file, &mut at, 5).unwrap(), 5);
        assert_eq!(at, 7);
        assert_eq!(a.send_file_at(&file, &mut at, 100).unwrap(), 3);
        assert_eq!(
            a.send_file_at(&file, &mut at, 100).unwrap(),
            0,
            "end of file"
        );
        drop(a);
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"23456789");
    }

    #[test]
    fn send_file_at_on_a_full_socket_would_block_and_loses_nothing() {
        let file = tempfile_with(&vec![9u8; 4 << 20]);
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let a = Stream::Unix(a);
        let mut at = 0;
        let err = loop {
            let left = (4 << 20) - at;
            match a.send_file_at(&file, &mut at, left) {
                Ok(n) => assert!(n > 0),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        a.set_nonblocking(false).unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            (&b).read_to_end(&mut got).unwrap();
            got.len()
        });
        while at < 4 << 20 {
            let left = (4 << 20) - at;
            a.send_file_at(&file, &mut at, left).unwrap();
        }
        drop(a);
        assert_eq!(reader.join().unwrap(), 4 << 20);
    }

    #[test]
    fn send_file_at_refuses_an_offset_past_off_t() {
        let file = tempfile_with(b"x");
        let (a, _b) = UnixStream::pair().unwrap();
        let mut at = u64::MAX;
        let err = Stream::Unix(a).send_file_at(&file, &mut at, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(at, u64::MAX, "the offset is left alone");
    }

    #[test]
    fn send_mapped_at_sends_from_the_offset_and_reports_the_end() {
        let bytes: Vec<u8> = (0..3 * 4096 + 100).map(|i| (i % 251) as u8).collect();
        let file = tempfile_with(&bytes);
        let (a, b) = UnixStream::pair().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            (&b).read_to_end(&mut got).unwrap();
            got
        });
        let a = Stream::Unix(a);
        let mut at = 5; // not on a page boundary
        assert_eq!(a.send_mapped_at(&file, &mut at, 4096).unwrap(), 4096);
        assert_eq!(at, 4101);
        let rest = bytes.len() as u64 - at;
        assert_eq!(a.send_mapped_at(&file, &mut at, rest).unwrap(), rest);
        assert_eq!(
            a.send_mapped_at(&file, &mut at, 4096).unwrap(),
            0,
            "end of file"
        );
        drop(a);
        assert_eq!(reader.join().unwrap(), bytes[5..]);
    }

    #[test]
    fn send_mapped_at_of_a_file_that_shrank_ends_without_a_signal() {
        // The pages asked for are past the end of the file now: a user-mode read of them
        // would raise SIGBUS and kill the test binary; send must report the end instead.
        let file = tempfile_with(&vec![7u8; 8 * 4096]);
        file.set_len(4096).unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let a = Stream::Unix(a);
        let mut at = 2 * 4096;
        assert_eq!(a.send_mapped_at(&file, &mut at, 4 * 4096).unwrap(), 0);
        assert_eq!(at, 2 * 4096, "nothing sent");
    }

    fn tempfile_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(io::SeekFrom::Start(0)).unwrap();
        f
    }
}
