//! Connecting: each address in turn under one deadline, or a Unix socket by path.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::error::{Attempt, Error, duration_words, io_words};
use crate::stream::Stream;

/// The least time an attempt gets when several addresses share one deadline, so that a slow
/// first address cannot leave nothing for the last ones (unless the deadline itself is
/// shorter).
pub const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// A connection that succeeded, and what it took.
#[derive(Debug)]
pub struct Connected {
    /// The connected socket (blocking, no timeouts set).
    pub stream: Stream,
    /// The address that accepted.
    pub addr: SocketAddr,
    /// When the successful attempt started, counted from the start of the connect call.
    pub started: Duration,
    /// How long the successful attempt took.
    pub elapsed: Duration,
    /// Addresses tried before it, with the reason each failed.
    pub failed: Vec<Attempt>,
}

/// Tries each address in order until one accepts, all within `timeout`.
///
/// Each attempt gets a fair share of the time left, `left / addresses left`, but at least
/// [`MIN_ATTEMPT`] (never more than what is left), so one address that drops packets cannot
/// eat the whole budget while the next would answer at once. A refused, unreachable or
/// timed-out address moves on to the next. `target` (e.g. `example.com:80`) names what we
/// are connecting to in the error, which lists every address tried with its reason.
pub fn connect(target: &str, addrs: &[SocketAddr], timeout: Duration) -> Result<Connected, Error> {
    connect_with(target, addrs, timeout, &Local::default())
}

/// The client side of a TCP connection, set before connecting (curl's `--interface`,
/// `--local-port`, `--keepalive-time`, `--tcp-fastopen`). The default sets nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Local {
    /// Bind to this address (the port per `ports`, else any).
    pub addr: Option<std::net::IpAddr>,
    /// Bind to this network interface (SO_BINDTODEVICE).
    pub device: Option<String>,
    /// Take a local port in this range, inclusive (the first that is free).
    pub ports: Option<(u16, u16)>,
    /// Send TCP keep-alive probes after this long idle, and as often after.
    pub keepalive: Option<Duration>,
    /// Send the first data in the SYN when the server allows (TCP_FASTOPEN_CONNECT).
    pub fastopen: bool,
}

impl Local {
    /// Whether the settings can be applied at all, tried on a socket of `addr`'s family
    /// that is then closed: a missing interface or a taken address is one clear error,
    /// not a failure per address.
    pub(crate) fn check(&self, addr: &SocketAddr) -> Result<(), Error> {
        if *self == Local::default() {
            return Ok(());
        }
        let what = || {
            let mut parts = Vec::new();
            if let Some(d) = &self.device {
                parts.push(format!("interface {d}"));
            }
            if let Some(a) = self.addr {
                parts.push(a.to_string());
            }
            if let Some((a, b)) = self.ports {
                parts.push(format!("ports {a}-{b}"));
            }
            if parts.is_empty() {
                parts.push("the socket options asked for".into());
            }
            parts.join(", ")
        };
        Socket::new(Domain::for_address(*addr), Type::STREAM.cloexec(), None)
            .and_then(|s| self.apply(&s, addr))
            .map_err(|e| Error::Bind {
                what: what(),
                reason: io_words(&e),
            })
    }

    /// Applies the settings to `socket`, for a connection to `addr`.
    fn apply(&self, socket: &Socket, addr: &SocketAddr) -> io::Result<()> {
        if let Some(device) = &self.device {
            socket.bind_device(Some(device.as_bytes()))?;
        }
        if self.addr.is_some() || self.ports.is_some() {
            let ip = self.addr.unwrap_or(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
            });
            let (first, last) = self.ports.unwrap_or((0, 0));
            let mut result = Ok(());
            // Bounded by the range: the first port that binds is kept.
            for port in first..=last {
                result = socket.bind(&SockAddr::from(SocketAddr::new(ip, port)));
                if result.is_ok() {
                    break;
                }
            }
            result?;
        }
        if let Some(idle) = self.keepalive {
            let params = socket2::TcpKeepalive::new()
                .with_time(idle)
                .with_interval(idle);
            socket.set_tcp_keepalive(&params)?;
        }
        if self.fastopen {
            fastopen_connect(socket)?;
        }
        Ok(())
    }
}

/// TCP_FASTOPEN_CONNECT (Linux 4.11): `connect` returns at once and the first write goes
/// in the SYN with the server's cookie (socket2 and rustix have no setter for it).
fn fastopen_connect(socket: &Socket) -> io::Result<()> {
    const TCP_FASTOPEN_CONNECT: libc::c_int = 30;
    crate::sockopt::set_tcp_int(socket, TCP_FASTOPEN_CONNECT, 1)
}

/// [`connect`] with the client side of each attempt set as `local` says.
pub fn connect_with(
    target: &str,
    addrs: &[SocketAddr],
    timeout: Duration,
    local: &Local,
) -> Result<Connected, Error> {
    if let Some(first) = addrs.first() {
        local.check(first)?;
    }
    let start = Instant::now();
    let deadline = start + timeout;
    let mut failed = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        // The first attempt starts with the whole budget (so a lone address reports the
        // timeout the user gave, not a few microseconds less).
        let left = if i == 0 {
            timeout
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        if left.is_zero() {
            failed.push(Attempt {
                addr: *addr,
                started: start.elapsed(),
                elapsed: Duration::ZERO,
                reason: format!(
                    "not tried: the {} deadline had passed",
                    duration_words(timeout)
                ),
                timed_out: true,
            });
            continue;
        }
        let share = (left / (addrs.len() - i) as u32).max(MIN_ATTEMPT.min(left));
        let began = Instant::now();
        match connect_one(addr, share, local) {
            Ok(stream) => {
                return Ok(Connected {
                    stream,
                    addr: *addr,
                    started: began - start,
                    elapsed: began.elapsed(),
                    failed,
                });
            }
            Err(e) => {
                let elapsed = began.elapsed();
                let timed_out = matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                );
                let reason = if timed_out {
                    format!("timed out after {}", duration_words(share))
                } else {
                    io_words(&e)
                };
                let elapsed = if timed_out { share } else { elapsed };
                failed.push(Attempt {
                    addr: *addr,
                    started: began - start,
                    elapsed,
                    reason,
                    timed_out,
                });
            }
        }
    }
    Err(Error::Connect {
        target: target.to_string(),
        attempts: failed,
    })
}

pub(crate) fn connect_one(
    addr: &SocketAddr,
    timeout: Duration,
    local: &Local,
) -> io::Result<Stream> {
    let socket = Socket::new(Domain::for_address(*addr), Type::STREAM.cloexec(), None)?;
    local.apply(&socket, addr)?;
    socket.connect_timeout(&SockAddr::from(*addr), timeout)?;
    Ok(Stream::Tcp(socket.into()))
}

/// Connects to a Unix-domain socket at `path` within `timeout`. (A Unix connect can block
/// when the listener's queue is full, so it gets a deadline too.)
pub fn connect_unix(path: &Path, timeout: Duration) -> Result<Stream, Error> {
    let fail = |e: io::Error| Error::UnixConnect {
        path: path.to_path_buf(),
        reason: io_words(&e),
    };
    let addr = SockAddr::unix(path).map_err(fail)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(fail)?;
    match socket.connect_timeout(&addr, timeout) {
        Ok(()) => Ok(Stream::Unix(socket.into())),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Err(Error::Timeout {
                phase: format!("connecting to unix:{}", path.display()),
                after: timeout,
            })
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn connects_to_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = connect("test", &[addr], Duration::from_secs(5)).unwrap();
        assert_eq!(c.addr, addr);
        assert!(c.failed.is_empty());
    }

    #[test]
    fn closed_port_names_the_address() {
        // Bind then drop: the port was free a moment ago and nothing listens on it now.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = connect("test", &[addr], Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("connect to {addr}: connection refused")
        );
        assert!(!err.is_timeout());
    }

    #[test]
    fn moves_on_to_the_next_address() {
        // The live listener first: a port bound and dropped before it could be handed out
        // again to the live one (seen once under load), and then nothing would be refused.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let live = l.local_addr().unwrap();
        let dead = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert_ne!(dead, live);
        let c = connect("test", &[dead, live], Duration::from_secs(5)).unwrap();
        assert_eq!(c.addr, live);
        assert_eq!(c.failed.len(), 1);
        assert_eq!(c.failed[0].addr, dead);
        assert_eq!(c.failed[0].reason, "connection refused");
    }

    #[test]
    fn unix_connect_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let err = connect_unix(&path, Duration::from_secs(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "connect to unix:{}: no such file or directory",
                path.display()
            )
        );
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(matches!(
            connect_unix(&path, Duration::from_secs(1)).unwrap(),
            Stream::Unix(_)
        ));
    }

    #[test]
    fn every_address_is_listed_when_all_fail() {
        let a = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let b = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = connect("name.test:80", &[a, b], Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot connect to name.test:80: {a} connection refused; {b} connection refused"
            )
        );
    }
}

#[cfg(test)]
mod timeout_tests {
    use super::*;
    use crate::listen::{ListenOptions, listen_tcp};
    use std::time::Instant;

    #[test]
    fn connect_timeout_is_honoured() {
        // A listener that never accepts, with the smallest backlog: once its queue is full
        // the kernel drops new handshakes, so a connect hangs until our deadline (loopback
        // only: no packets leave the machine).
        let opts = ListenOptions {
            backlog: 0,
            ..ListenOptions::default()
        };
        let l = listen_tcp("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let addr = l.listener.local_addr().unwrap().tcp().unwrap();
        let mut held = Vec::new();
        let limit = Duration::from_millis(300);
        for _ in 0..64 {
            let started = Instant::now();
            match connect("full.test:1", &[addr], limit) {
                Ok(c) => held.push(c.stream),
                Err(e) => {
                    let waited = started.elapsed();
                    assert!(e.is_timeout(), "{e}");
                    assert_eq!(
                        e.to_string(),
                        format!("timed out after 300 ms connecting to {addr}")
                    );
                    assert!(waited >= limit / 2, "gave up early: {waited:?}");
                    // Without the deadline the kernel retries the handshake for a minute
                    // or more; 30 s is room enough for a loaded machine.
                    assert!(
                        waited < Duration::from_secs(30),
                        "deadline not honoured: {waited:?}"
                    );
                    return;
                }
            }
        }
        panic!("64 connections were all accepted into a backlog of 0");
    }
}
