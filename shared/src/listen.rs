//! Listening: TCP (port 0, dual-stack, SO_REUSEPORT), Unix-domain (stale-socket cleanup,
//! file mode) and a listener inherited from the service manager (`LISTEN_FDS`).

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::error::{Error, io_words};
use crate::stream::{Address, Stream};

/// The listen backlog when none is given: large enough that bursts of new connections wait
/// in the kernel instead of being refused (python's 5 gives second-long tails under load).
pub const DEFAULT_BACKLOG: i32 = 1024;

/// How to set up a listening socket.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// The accept queue length (default [`DEFAULT_BACKLOG`]; the kernel caps it at
    /// `net.core.somaxconn`).
    pub backlog: i32,
    /// Sets `SO_REUSEPORT`, so several processes can listen on one TCP port and the kernel
    /// spreads connections among them (default off).
    pub reuse_port: bool,
    /// Permissions for a Unix socket file, e.g. `0o660` (default: as the umask leaves them).
    pub unix_mode: Option<u32>,
    /// `TCP_DEFER_ACCEPT` for about this many seconds (TCP only; default off): the kernel
    /// hands a connection to `accept` once its first bytes have come, so a server that reads
    /// a request at once finds it there instead of waiting for it on epoll. A connection that
    /// sends nothing is handed over after the time all the same (Linux drops only the bare
    /// ACKs until the SYN-ACK has been resent that long).
    pub defer_accept: Option<u32>,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            reuse_port: false,
            unix_mode: None,
            defer_accept: None,
        }
    }
}

/// A listening stream socket, TCP or Unix-domain.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix-domain listener; the socket file it created (if any) is removed when it drops.
    Unix(UnixSocket),
}

/// A Unix-domain listener and the socket file it owns.
#[derive(Debug)]
pub struct UnixSocket {
    listener: UnixListener,
    // (path, device, inode) of the socket file we created; removed on drop only while it is
    // still that same file, so a newer server's socket at the same path is left alone.
    owned: Option<(PathBuf, u64, u64)>,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        if let Some((path, dev, ino)) = &self.owned
            && let Ok(meta) = fs::symlink_metadata(path)
            && meta.dev() == *dev
            && meta.ino() == *ino
        {
            let _ = fs::remove_file(path);
        }
    }
}

/// A new TCP listener, with a note when it had to settle for less than asked.
#[derive(Debug)]
pub struct Listening {
    /// The listener.
    pub listener: Listener,
    /// Set when `::` was asked on a host without IPv6 and `0.0.0.0` was used instead.
    pub note: Option<String>,
}

impl Listener {
    /// Waits for the next connection. Both the stream and the listener keep blocking mode.
    pub fn accept(&self) -> io::Result<(Stream, Address)> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, a)| (Stream::Tcp(s), Address::Tcp(a))),
            Listener::Unix(u) => u
                .listener
                .accept()
                .map(|(s, a)| (Stream::Unix(s), Address::from_unix(&a))),
        }
    }

    /// The bound address: the real port when port 0 was asked.
    pub fn local_addr(&self) -> io::Result<Address> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Address::Tcp),
            Listener::Unix(u) => u.listener.local_addr().map(|a| Address::from_unix(&a)),
        }
    }

    /// Moves the listener in or out of non-blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(on),
            Listener::Unix(u) => u.listener.set_nonblocking(on),
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(u) => u.listener.as_fd(),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// Listens on a TCP address with `SO_REUSEADDR` (a restart need not wait out TIME_WAIT).
///
/// Port 0 picks a free port: read it back with [`Listener::local_addr`]. `[::]` listens on
/// IPv6 and IPv4 both (dual-stack); on a host without IPv6 it falls back to `0.0.0.0` and
/// says so in [`Listening::note`].
pub fn listen_tcp(addr: SocketAddr, opts: &ListenOptions) -> Result<Listening, Error> {
    match bind_tcp(addr, opts) {
        Ok(l) => Ok(Listening {
            listener: Listener::Tcp(l),
            note: None,
        }),
        Err(e) if addr.ip().is_unspecified() && addr.is_ipv6() && no_ipv6(&e) => {
            let v4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), addr.port());
            let l = bind_tcp(v4, opts).map_err(|e| listen_error(&v4.to_string(), v4.port(), &e))?;
            let note =
                format!("no IPv6 on this host: listening on {v4} (IPv4 only) instead of {addr}");
            Ok(Listening {
                listener: Listener::Tcp(l),
                note: Some(note),
            })
        }
        Err(e) => Err(listen_error(&addr.to_string(), addr.port(), &e)),
    }
}

fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT)
    )
}

fn bind_tcp(addr: SocketAddr, opts: &ListenOptions) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.cloexec(), None)?;
    socket.set_reuse_address(true)?;
    if opts.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // Linux defaults to dual-stack but a sysctl can change that: ask for it.
        socket.set_only_v6(false)?;
    }
    if let Some(secs) = opts.defer_accept {
        let secs = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
        crate::sockopt::set_tcp_int(&socket, libc::TCP_DEFER_ACCEPT, secs)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(opts.backlog)?;
    Ok(socket.into())
}

fn listen_error(addr: &str, port: u16, e: &io::Error) -> Error {
    let mut reason = io_words(e);
    if e.raw_os_error() == Some(libc::EACCES) && port != 0 && port < 1024 {
        reason.push_str(" (ports below 1024 need privileges)");
    }
    Error::Listen {
        addr: addr.to_string(),
        reason,
    }
}

/// Listens on a Unix-domain socket at `path`.
///
/// Never touches a path that is not a socket. An existing socket file is removed only when
/// it is stale (nothing accepts on it); a live one is "address already in use". The file
/// mode, when given, is set before the socket starts listening, so no client can connect
/// through looser permissions. The file is removed when the listener drops.
pub fn listen_unix(path: &Path, opts: &ListenOptions) -> Result<Listener, Error> {
    let fail = |reason: String| Error::Listen {
        addr: format!("unix:{}", path.display()),
        reason,
    };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(io_words(&e))),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(fail(
                "the path exists and is not a socket; not touching it".into(),
            ));
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(fail(
                    "address already in use (a server answers there)".into(),
                ));
            }
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                // Stale: left by a server that died without cleaning up.
                fs::remove_file(path)
                    .map_err(|e| fail(format!("removing stale socket: {}", io_words(&e))))?;
            }
            Err(e) => return Err(fail(io_words(&e))),
        },
    }
    let socket =
        Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(|e| fail(io_words(&e)))?;
    let addr = SockAddr::unix(path).map_err(|e| fail(io_words(&e)))?;
    socket.bind(&addr).map_err(|e| fail(io_words(&e)))?;
    let meta = fs::symlink_metadata(path).map_err(|e| fail(io_words(&e)))?;
    let unix = UnixSocket {
        listener: UnixListener::from(OwnedFd::from(socket)),
        owned: Some((path.to_path_buf(), meta.dev(), meta.ino())),
    };
    // From here on, dropping `unix` removes the file again if a step fails.
    if let Some(mode) = opts.unix_mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| fail(io_words(&e)))?;
    }
    SockRef::from(&unix.listener)
        .listen(opts.backlog)
        .map_err(|e| fail(io_words(&e)))?;
    Ok(Listener::Unix(unix))
}

/// The first file descriptor a service manager passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// Reads the socket-activation protocol: `LISTEN_PID` must be `my_pid` and `LISTEN_FDS` at
/// least 1. Returns the descriptor to use (always [`LISTEN_FDS_START`]; further ones are
/// ignored), `None` when the variables are absent or meant for another process.
pub fn listen_fds(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    my_pid: u32,
) -> Result<Option<RawFd>, Error> {
    let (Some(pid), Some(fds)) = (listen_pid, listen_fds) else {
        return Ok(None);
    };
    let bad = |reason: String| Error::Inherited { reason };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| bad(format!("LISTEN_PID is not a number: '{pid}'")))?;
    if pid != my_pid {
        // Set for some other process (we inherited the environment, not the sockets).
        return Ok(None);
    }
    let n: u32 = fds
        .trim()
        .parse()
        .map_err(|_| bad(format!("LISTEN_FDS is not a number: '{fds}'")))?;
    Ok(if n == 0 { None } else { Some(LISTEN_FDS_START) })
}

static ADOPTED: AtomicBool = AtomicBool::new(false);

/// The listener passed by the service manager (systemd socket activation, the inetd idea),
/// if `LISTEN_PID`/`LISTEN_FDS` say there is one for this process. It must be a listening
/// stream socket (TCP or Unix); anything else is an error. Only the first call can adopt it.
#[allow(unsafe_code)] // Adopting an inherited descriptor has no safe wrapper.
pub fn inherited() -> Result<Option<Listener>, Error> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let Some(fd) = listen_fds(pid.as_deref(), fds.as_deref(), std::process::id())? else {
        return Ok(None);
    };
    if ADOPTED.swap(true, Ordering::SeqCst) {
        return Err(Error::Inherited {
            reason: "already adopted".into(),
        });
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; it is valid for any integer.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(Error::Inherited {
            reason: format!("descriptor {fd} is not open"),
        });
    }
    // SAFETY: the service manager passed fd 3 to this very process (LISTEN_PID matched), it
    // is open (checked above), and the ADOPTED flag guarantees this is the only owner we
    // ever create for it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    adopt_listener(owned).map(Some)
}

/// Turns a descriptor into a [`Listener`] after checking it is a listening stream socket,
/// TCP or Unix. The descriptor is marked close-on-exec.
pub fn adopt_listener(fd: OwnedFd) -> Result<Listener, Error> {
    let bad = |reason: String| Error::Inherited { reason };
    let socket = Socket::from(fd);
    let ty = socket
        .r#type()
        .map_err(|e| bad(format!("not a socket ({})", io_words(&e))))?;
    if ty != Type::STREAM {
        return Err(bad("not a stream socket".into()));
    }
    if !socket.is_listener().map_err(|e| bad(io_words(&e)))? {
        return Err(bad("the socket is not listening".into()));
    }
    socket.set_cloexec(true).map_err(|e| bad(io_words(&e)))?;
    let domain = socket.domain().map_err(|e| bad(io_words(&e)))?;
    if domain == Domain::IPV4 || domain == Domain::IPV6 {
        Ok(Listener::Tcp(socket.into()))
    } else if domain == Domain::UNIX {
        // The service manager owns the socket file: never remove it.
        Ok(Listener::Unix(UnixSocket {
            listener: UnixListener::from(OwnedFd::from(socket)),
            owned: None,
        }))
    } else {
        Err(bad("not a TCP or Unix-domain socket".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Ipv6Addr, TcpStream};

    #[test]
    fn port_zero_reports_the_real_port() {
        let l = listen_tcp("127.0.0.1:0".parse().unwrap(), &ListenOptions::default()).unwrap();
        let addr = l.listener.local_addr().unwrap().tcp().unwrap();
        assert_ne!(addr.port(), 0);
        let mut c = TcpStream::connect(addr).unwrap();
        let (mut s, peer) = l.listener.accept().unwrap();
        assert_eq!(peer.tcp().unwrap(), c.local_addr().unwrap());
        c.write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[test]
    fn port_in_use_is_said_in_words() {
        let l = listen_tcp("127.0.0.1:0".parse().unwrap(), &ListenOptions::default()).unwrap();
        let addr = l.listener.local_addr().unwrap().tcp().unwrap();
        let err = listen_tcp(addr, &ListenOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {addr}: address already in use")
        );
    }

    #[test]
    fn reuse_port_lets_two_listeners_share() {
        let opts = ListenOptions {
            reuse_port: true,
            ..ListenOptions::default()
        };
        let a = listen_tcp("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let addr = a.listener.local_addr().unwrap().tcp().unwrap();
        listen_tcp(addr, &opts).expect("second SO_REUSEPORT listener on the same port");
    }

    #[test]
    fn defer_accept_hands_over_a_connection_once_it_has_spoken() {
        use std::io::{Read, Write};
        let opts = ListenOptions {
            defer_accept: Some(1),
            ..ListenOptions::default()
        };
        let l = listen_tcp("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let addr = l.listener.local_addr().unwrap().tcp().unwrap();
        l.listener.set_nonblocking(true).unwrap();
        // Connected on the client's side, but silent: not yet the server's to accept.
        let _silent = std::net::TcpStream::connect(addr).unwrap();
        let err = l.listener.accept().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        // One that speaks is handed over with its bytes: a blocking accept returns it once
        // they have arrived (no timing assumed about when that is).
        let mut speaker = std::net::TcpStream::connect(addr).unwrap();
        speaker.write_all(b"GET").unwrap();
        l.listener.set_nonblocking(false).unwrap();
        let (stream, _) = l.listener.accept().unwrap();
        let Stream::Tcp(mut stream) = stream else {
            panic!("a TCP listener accepted a Unix stream")
        };
        let mut got = [0; 3];
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"GET");
    }

    #[test]
    fn ipv6_any_is_dual_stack_or_says_why_not() {
        let l = listen_tcp("[::]:0".parse().unwrap(), &ListenOptions::default()).unwrap();
        let addr = l.listener.local_addr().unwrap().tcp().unwrap();
        // Dual-stack (or the IPv4 fallback): an IPv4 client gets through either way.
        TcpStream::connect((Ipv4Addr::LOCALHOST, addr.port())).unwrap();
        match &l.note {
            None => {
                assert!(addr.is_ipv6());
                TcpStream::connect((Ipv6Addr::LOCALHOST, addr.port())).unwrap();
            }
            Some(note) => assert!(note.contains("no IPv6"), "{note}"),
        }
    }

    #[test]
    fn unix_socket_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a sock");
        let opts = ListenOptions {
            unix_mode: Some(0o600),
            ..ListenOptions::default()
        };
        let l = listen_unix(&path, &opts).unwrap();
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            l.local_addr().unwrap().to_string(),
            format!("unix:{}", path.display())
        );

        // A live socket is in use, and left alone.
        let err = listen_unix(&path, &opts).unwrap_err().to_string();
        assert!(err.contains("address already in use"), "{err}");
        assert!(path.exists());

        drop(l);
        assert!(
            !path.exists(),
            "the socket file is removed when the listener drops"
        );
    }

    #[test]
    fn stale_unix_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.sock");
        // A socket file with nothing listening: what a crashed server leaves behind.
        let stale = UnixListener::bind(&path).unwrap();
        drop(stale);
        assert!(path.exists());
        let l = listen_unix(&path, &ListenOptions::default()).unwrap();
        UnixStream::connect(&path).unwrap();
        let (_s, _peer) = l.accept().unwrap();
    }

    #[test]
    fn regular_file_is_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("precious.txt");
        fs::write(&path, "keep me").unwrap();
        let err = listen_unix(&path, &ListenOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a socket"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "keep me");
    }

    #[test]
    fn listen_fds_protocol() {
        assert_eq!(listen_fds(None, None, 42).unwrap(), None);
        assert_eq!(listen_fds(Some("42"), Some("1"), 42).unwrap(), Some(3));
        assert_eq!(listen_fds(Some("42"), Some("2"), 42).unwrap(), Some(3));
        assert_eq!(
            listen_fds(Some("41"), Some("1"), 42).unwrap(),
            None,
            "meant for another process"
        );
        assert_eq!(listen_fds(Some("42"), Some("0"), 42).unwrap(), None);
        assert!(listen_fds(Some("x"), Some("1"), 42).is_err());
        assert!(listen_fds(Some("42"), Some("y"), 42).is_err());
    }

    #[test]
    fn adopts_listening_sockets_only() {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        let adopted = adopt_listener(OwnedFd::from(tcp)).unwrap();
        assert_eq!(adopted.local_addr().unwrap().tcp(), Some(addr));
        TcpStream::connect(addr).unwrap();
        adopted.accept().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inherited.sock");
        let unix = UnixListener::bind(&path).unwrap();
        let adopted = adopt_listener(OwnedFd::from(unix)).unwrap();
        drop(adopted);
        assert!(
            path.exists(),
            "an inherited socket file belongs to the service manager"
        );

        // A connected (not listening) socket and a plain file are refused.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let err = adopt_listener(OwnedFd::from(c)).unwrap_err().to_string();
        assert!(err.contains("not listening"), "{err}");
        let file = fs::File::open("/dev/null").unwrap();
        let err = adopt_listener(OwnedFd::from(file)).unwrap_err().to_string();
        assert!(err.contains("not a socket"), "{err}");
    }
}
