//! Errors in words: the one place where errno and getaddrinfo codes become plain text.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in `shared`, each variant with a short, lowercase description.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The target the user typed could not be understood; `reason` names the problem.
    BadTarget {
        /// What the user typed.
        input: String,
        /// What is wrong with it, e.g. `empty host`.
        reason: String,
    },
    /// The URL names a scheme other than `http` (`https`, `ftp`, ...).
    UnsupportedScheme {
        /// The scheme, lowercased.
        scheme: String,
    },
    /// The name could not be turned into addresses.
    Resolve {
        /// The name that was looked up.
        host: String,
        /// Why, in words: `name not found`, `no IPv6 address`, ...
        reason: String,
    },
    /// A phase did not finish in time.
    Timeout {
        /// What was going on, e.g. `resolving example.com` or `connecting to 127.0.0.1:9`.
        phase: String,
        /// How long we waited.
        after: Duration,
    },
    /// Every address was tried and none accepted the connection.
    Connect {
        /// What we were connecting to, e.g. `example.com:80`.
        target: String,
        /// Each address tried, in order, with the reason it failed.
        attempts: Vec<Attempt>,
    },
    /// The client side of a connection could not be set as asked (an interface, a local
    /// address or port that cannot be bound).
    Bind {
        /// What was asked, e.g. `interface eth9` or `127.0.0.2, ports 4000-4010`.
        what: String,
        /// Why, in words.
        reason: String,
    },
    /// A Unix-domain socket could not be connected to.
    UnixConnect {
        /// The socket path.
        path: PathBuf,
        /// Why, in words: `no such file or directory`, `connection refused`, ...
        reason: String,
    },
    /// A listening socket could not be set up.
    Listen {
        /// The address or path, e.g. `127.0.0.1:8080` or `unix:/run/serve.sock`.
        addr: String,
        /// Why, in words: `address already in use`, ...
        reason: String,
    },
    /// A listener passed by the service manager (`LISTEN_FDS`) is unusable.
    Inherited {
        /// Why, in words.
        reason: String,
    },
}

/// One connection attempt to one address, and how it ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The address tried.
    pub addr: SocketAddr,
    /// When the attempt started, counted from the start of the whole connect call (for a
    /// timing picture: Happy Eyeballs attempts overlap).
    pub started: Duration,
    /// How long the attempt took (zero when it was never started).
    pub elapsed: Duration,
    /// Why it failed, in words (`connection refused`, `timed out after 2 s`, `not tried: ...`).
    pub reason: String,
    /// True when the attempt ran out of time rather than being refused.
    pub timed_out: bool,
}

impl Error {
    /// True when the failure is a deadline that passed (curl's exit 28), including a connect
    /// where every address that was tried timed out.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Connect { attempts, .. } => {
                !attempts.is_empty() && attempts.iter().all(|a| a.timed_out)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadTarget { input, reason } => write!(f, "bad target '{input}': {reason}"),
            Error::UnsupportedScheme { scheme } => {
                write!(f, "{scheme} is not supported: this is a plain-HTTP tool")
            }
            Error::Resolve { host, reason } => write!(f, "cannot resolve {host}: {reason}"),
            Error::Timeout { phase, after } => {
                write!(f, "timed out after {} {phase}", duration_words(*after))
            }
            Error::Connect { target, attempts } => match attempts.as_slice() {
                [one] if one.timed_out => {
                    write!(
                        f,
                        "timed out after {} connecting to {}",
                        duration_words(one.elapsed),
                        one.addr
                    )
                }
                [one] => write!(f, "connect to {}: {}", one.addr, one.reason),
                _ => {
                    write!(f, "cannot connect to {target}:")?;
                    for (i, a) in attempts.iter().enumerate() {
                        let sep = if i == 0 { " " } else { "; " };
                        write!(f, "{sep}{} {}", a.addr, a.reason)?;
                    }
                    Ok(())
                }
            },
            Error::UnixConnect { path, reason } => {
                write!(f, "connect to unix:{}: {reason}", path.display())
            }
            Error::Bind { what, reason } => write!(f, "cannot connect from {what}: {reason}"),
            Error::Listen { addr, reason } => write!(f, "cannot listen on {addr}: {reason}"),
            Error::Inherited { reason } => write!(f, "inherited listener (LISTEN_FDS): {reason}"),
        }
    }
}

impl std::error::Error for Error {}

/// A duration the way people say it: `250 ms`, `3 s`, `2.5 s`.
pub fn duration_words(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// An I/O error in plain words: `connection refused`, `address already in use`, ...
///
/// OS errors are named by their errno; anything else falls back to the error's own text
/// without the `(os error N)` suffix.
pub fn io_words(err: &io::Error) -> String {
    if let Some(words) = err.raw_os_error().and_then(errno_words) {
        return words.to_string();
    }
    match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => return "timed out".into(),
        io::ErrorKind::UnexpectedEof => return "connection closed early".into(),
        _ => {}
    }
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    lowercase_first(&text)
}

fn errno_words(code: i32) -> Option<&'static str> {
    Some(match code {
        libc::ECONNREFUSED => "connection refused",
        libc::ECONNRESET => "connection reset by peer",
        libc::ECONNABORTED => "connection aborted",
        libc::EPIPE => "broken pipe (the peer closed the connection)",
        libc::EADDRINUSE => "address already in use",
        libc::EADDRNOTAVAIL => "address not available on this machine",
        libc::EAFNOSUPPORT => "address family not supported on this machine",
        libc::EACCES | libc::EPERM => "permission denied",
        libc::ENETUNREACH => "network unreachable",
        libc::EHOSTUNREACH => "host unreachable",
        libc::ENETDOWN => "network is down",
        libc::ETIMEDOUT => "timed out",
        libc::ENOENT => "no such file or directory",
        libc::ENOTDIR => "not a directory",
        libc::EISDIR => "is a directory",
        libc::ENAMETOOLONG => "name too long",
        libc::EMFILE => "too many open files (per-process limit; see ulimit -n)",
        libc::ENFILE => "too many open files on this system",
        libc::ENOSPC => "no space left on device",
        libc::ENOTSOCK => "not a socket",
        libc::EINVAL => "invalid argument",
        libc::ENOBUFS | libc::ENOMEM => "out of memory",
        libc::EROFS => "read-only file system",
        _ => return None,
    })
}

/// A getaddrinfo failure in plain words: `name not found`, `temporary failure in name
/// resolution`, ...
pub fn lookup_words(err: &dns_lookup::LookupError) -> String {
    use dns_lookup::LookupErrorKind as K;
    match err.kind() {
        K::NoName | K::NoData => "name not found".into(),
        K::Again => "temporary failure in name resolution (is the network up?)".into(),
        K::Fail => "the name server failed".into(),
        K::Family => "address family not supported".into(),
        K::Memory => "out of memory".into(),
        K::System | K::IO => io_words(&io::Error::from(copy_lookup_error(err))),
        _ => format!("resolver error {}", err.error_num()),
    }
}

// LookupError converts into io::Error only by value; rebuild one from its number to keep
// `lookup_words` taking a reference.
fn copy_lookup_error(err: &dns_lookup::LookupError) -> dns_lookup::LookupError {
    dns_lookup::LookupError::new(err.error_num())
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_in_words() {
        let cases = [
            (libc::ECONNREFUSED, "connection refused"),
            (libc::EADDRINUSE, "address already in use"),
            (libc::EACCES, "permission denied"),
            (libc::ENETUNREACH, "network unreachable"),
        ];
        for (code, words) in cases {
            assert_eq!(io_words(&io::Error::from_raw_os_error(code)), words);
        }
        // Unknown errno: std's own text, without "(os error N)".
        let odd = io_words(&io::Error::from_raw_os_error(libc::EXDEV));
        assert!(!odd.contains("os error"), "{odd}");
        assert_eq!(io_words(&io::Error::other("Weird thing")), "weird thing");
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(Duration::from_millis(250)), "250 ms");
        assert_eq!(duration_words(Duration::from_secs(3)), "3 s");
        assert_eq!(duration_words(Duration::from_millis(2500)), "2.5 s");
    }

    #[test]
    fn timeout_names_its_phase() {
        let e = Error::Timeout {
            phase: "connecting to 127.0.0.1:9".into(),
            after: Duration::from_secs(3),
        };
        assert_eq!(
            e.to_string(),
            "timed out after 3 s connecting to 127.0.0.1:9"
        );
        assert!(e.is_timeout());
    }

    #[test]
    fn name_not_found_in_words() {
        let e = dns_lookup::LookupError::new(libc::EAI_NONAME);
        assert_eq!(lookup_words(&e), "name not found");
    }
}
