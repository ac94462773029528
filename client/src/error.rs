//! Everything that can go wrong while fetching, each with curl's exit code.

use std::fmt;
use std::io;
use std::time::Duration;

use shared::duration_words;

/// What went wrong, in words a user can act on. [`Error::exit_code`] gives curl's number.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Target parsing, resolution or connecting failed in `shared` (exit 1, 3, 6, 7 or 28).
    Net(shared::Error),
    /// The command line is wrong (exit 2).
    Usage(String),
    /// A phase did not finish in time (exit 28).
    Timeout {
        /// What was going on: `waiting for the response head from 127.0.0.1:8080`.
        phase: String,
        /// The limit that ran out.
        after: Duration,
    },
    /// The request could not be sent (exit 55).
    Send {
        /// The peer: `127.0.0.1:8080` or `unix:/run/app.sock`.
        peer: String,
        /// Why, in words.
        reason: String,
    },
    /// Reading from the connection failed: reset, or a broken chunked body (exit 56).
    Receive {
        /// The peer.
        peer: String,
        /// Why, in words.
        reason: String,
    },
    /// The connection closed before a single byte of the response arrived (exit 52).
    EmptyReply {
        /// The peer.
        peer: String,
    },
    /// The response head could not be understood: malformed, too large, conflicting
    /// `Content-Length`, an upgrade nobody asked for (exit 8).
    BadResponse {
        /// The peer.
        peer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server answered with HTTP/0.9 (no status line) and `--http0.9` was not given
    /// (exit 1).
    Http09NotAllowed {
        /// The peer.
        peer: String,
    },
    /// The body ended before the length the server declared (exit 18).
    Partial {
        /// Bytes received.
        got: u64,
        /// Bytes declared by `Content-Length`.
        want: u64,
    },
    /// The connection closed in the middle of a chunked body (exit 18).
    PartialChunked {
        /// Body bytes received before the close.
        got: u64,
    },
    /// A redirect names a target we cannot follow: another scheme, or an unparsable
    /// `Location` (exit 1 or 3, from the inner error).
    Redirect {
        /// The `Location` value, as sent.
        location: String,
        /// Why it cannot be followed.
        cause: shared::Error,
    },
    /// `--max-redirs` redirects were followed and the server sent another (exit 47).
    TooManyRedirects {
        /// The limit.
        max: u32,
    },
    /// `-f`: the server answered with a status of 400 or more (exit 22).
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// Plain HTTP is turned off for targets or for redirects (curl's `--proto`,
    /// `--proto-redir`; exit 1).
    HttpDisabled {
        /// The option that turned it off.
        by: &'static str,
        /// `http` or `https`.
        scheme: &'static str,
    },
    /// The proxy's name could not be resolved (exit 5).
    ProxyResolve(shared::Error),
    /// The body is larger than allowed (`--max-filesize`; exit 63).
    TooLarge {
        /// The size the server declared.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The request body could not be read: a file to upload (exit 26).
    Read {
        /// What: a file path, or `the upload stream`.
        what: String,
        /// Why, in words.
        reason: String,
    },
    /// The body could not be written where it was asked to go (exit 23).
    Write {
        /// Where: `stdout` or a file path.
        what: String,
        /// Why, in words.
        reason: String,
    },
    /// The body looks binary and stdout is a terminal (exit 23).
    BinaryToTerminal,
    /// A resumed download cannot continue: the server sent another range than the one
    /// asked for, or a whole body where bytes already went to stdout (exit 33).
    Range {
        /// What happened.
        reason: String,
    },
    /// The body's content coding cannot be decoded: not one we asked for, or a broken
    /// gzip/deflate stream (exit 61).
    Decode {
        /// What is wrong.
        reason: String,
    },
    /// The body does not match its digest: `Repr-Digest`, `Content-Digest` or `--checksum`
    /// (exit 120, fetch's own: curl has no such check).
    Digest {
        /// Where the expected digest came from: `Repr-Digest`, `Content-Digest`, `--checksum`.
        source: &'static str,
        /// The algorithm: `sha-256` or `sha-512`.
        algorithm: &'static str,
        /// The expected digest, in hex.
        expected: String,
        /// The digest of what arrived, in hex.
        got: String,
    },
    /// Stdout was closed by its reader (`fetch URL | head -1`): not a failure (exit 0, and
    /// nothing is printed).
    StdoutClosed,
    /// TLS failed: the settings could not be used, the handshake failed, or the server's
    /// certificate or key was refused (exit 35, 58, 59, 60, 77, 82 or 90: see [`TlsKind`]).
    Tls {
        /// The peer, when a connection was made.
        peer: Option<String>,
        /// Which of curl's failures it is.
        kind: TlsKind,
        /// Why, in words.
        reason: String,
    },
    /// Credentials the user forbade (`--disallow-username-in-url` and a URL with a user
    /// name): curl's exit 67.
    LoginDenied {
        /// Why, in words.
        reason: String,
    },
}

/// Which TLS failure, each one of curl's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsKind {
    /// The handshake failed, or a TLS version asked for cannot be spoken (35).
    Handshake,
    /// The server's certificate is not trusted: unknown issuer, expired, not yet valid,
    /// another host's, revoked (60).
    Untrusted,
    /// The server's key is not the pinned one (90).
    Pinned,
    /// The client certificate or key cannot be used (58).
    ClientCert,
    /// A cipher or curve rustls lacks (59).
    Cipher,
    /// The CA certificates cannot be read (77).
    CaFile,
    /// The CRL file cannot be read (82).
    CrlFile,
}

impl TlsKind {
    /// curl's exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            TlsKind::Handshake => 35,
            TlsKind::Untrusted => 60,
            TlsKind::Pinned => 90,
            TlsKind::ClientCert => 58,
            TlsKind::Cipher => 59,
            TlsKind::CaFile => 77,
            TlsKind::CrlFile => 82,
        }
    }
}

impl Error {
    /// curl's exit code for this error, as documented in `fetch --help`.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Net(e) => match e {
                shared::Error::UnsupportedScheme { .. } => 1,
                shared::Error::BadTarget { .. } => 3,
                shared::Error::Resolve { .. } => 6,
                shared::Error::Bind { .. } => 45,
                e if e.is_timeout() => 28,
                _ => 7,
            },
            Error::Usage(_) => 2,
            Error::Timeout { .. } => 28,
            Error::Send { .. } => 55,
            Error::Receive { .. } => 56,
            Error::EmptyReply { .. } => 52,
            Error::BadResponse { .. } => 8,
            Error::Http09NotAllowed { .. } => 1,
            Error::Partial { .. } | Error::PartialChunked { .. } => 18,
            Error::Redirect { cause, .. } => match cause {
                shared::Error::UnsupportedScheme { .. } => 1,
                _ => 3,
            },
            Error::TooManyRedirects { .. } => 47,
            Error::HttpStatus { .. } => 22,
            Error::TooLarge { .. } => 63,
            Error::ProxyResolve(_) => 5,
            Error::HttpDisabled { .. } => 1,
            Error::Write { .. } | Error::BinaryToTerminal => 23,
            Error::Read { .. } => 26,
            Error::Range { .. } => 33,
            Error::Decode { .. } => 61,
            // Above curl's codes (the highest is 101), so a script can tell it apart.
            Error::Digest { .. } => 120,
            Error::StdoutClosed => 0,
            Error::LoginDenied { .. } => 67,
            Error::Tls { kind, .. } => kind.exit_code(),
        }
    }

    /// Recovers an [`Error`] carried inside an `io::Error` by the body's `Read` impl, or wraps
    /// a plain I/O error as a receive failure from `peer`.
    pub fn from_io(err: io::Error, peer: &str) -> Error {
        let reason = shared::io_words(&err);
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(ours)) => *ours,
            _ => Error::Receive {
                peer: peer.to_string(),
                reason,
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Net(e) => write!(f, "{e}"),
            Error::Usage(m) => f.write_str(m),
            Error::Timeout { phase, after } => {
                write!(f, "timed out after {} {phase}", duration_words(*after))
            }
            Error::Send { peer, reason } => write!(f, "sending the request to {peer}: {reason}"),
            Error::Receive { peer, reason } => write!(f, "receiving from {peer}: {reason}"),
            Error::EmptyReply { peer } => {
                write!(f, "empty reply from {peer}: it closed the connection")
            }
            Error::BadResponse { peer, reason } => {
                write!(f, "unparseable reply from {peer}: {reason}")
            }
            Error::Http09NotAllowed { peer } => write!(
                f,
                "received HTTP/0.9 from {peer} when not allowed (no status line; use --http0.9)"
            ),
            Error::Partial { got, want } => {
                write!(f, "transfer closed with {got} of {want} bytes received")
            }
            Error::PartialChunked { got } => write!(
                f,
                "transfer closed before the last chunk ({got} bytes of chunked body received)"
            ),
            Error::Redirect { location, cause } => {
                write!(f, "cannot follow the redirect to '{location}': {cause}")
            }
            Error::TooManyRedirects { max } => write!(f, "maximum ({max}) redirects followed"),
            Error::HttpStatus { status } => {
                write!(f, "the requested URL returned error: {status}")
            }
            Error::Write { what, reason } => write!(f, "writing to {what}: {reason}"),
            Error::ProxyResolve(e) => write!(f, "the proxy: {e}"),
            Error::HttpDisabled { by, scheme } => write!(f, "{scheme} is disabled by {by}"),
            Error::TooLarge { size, max } => write!(
                f,
                "maximum file size exceeded: the body is {size} bytes, --max-filesize is {max}"
            ),
            Error::Read { what, reason } => write!(f, "reading {what}: {reason}"),
            Error::BinaryToTerminal => f.write_str(
                "the body looks binary and stdout is a terminal: use -o FILE to save it, \
                 or -o - to print it anyway",
            ),
            Error::Range { reason } => write!(f, "cannot resume: {reason}"),
            Error::Decode { reason } => f.write_str(reason),
            Error::Digest {
                source,
                algorithm,
                expected,
                got,
            } => write!(
                f,
                "{source} mismatch ({algorithm}): expected {expected}, got {got}"
            ),
            Error::StdoutClosed => f.write_str("stdout was closed by its reader"),
            Error::LoginDenied { reason } => f.write_str(reason),
            Error::Tls {
                peer: Some(peer),
                reason,
                ..
            } => write!(f, "TLS with {peer}: {reason}"),
            Error::Tls { reason, .. } => write!(f, "TLS: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<shared::Error> for Error {
    fn from(e: shared::Error) -> Error {
        Error::Net(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_curl() {
        let cases: Vec<(Error, i32)> = vec![
            (
                Error::Net(shared::Error::UnsupportedScheme {
                    scheme: "https".into(),
                }),
                1,
            ),
            (Error::Usage("x".into()), 2),
            (
                Error::Net(shared::Error::BadTarget {
                    input: "x".into(),
                    reason: "y".into(),
                }),
                3,
            ),
            (
                Error::Net(shared::Error::Resolve {
                    host: "x".into(),
                    reason: "y".into(),
                }),
                6,
            ),
            (
                Error::Net(shared::Error::Connect {
                    target: "x".into(),
                    attempts: vec![],
                }),
                7,
            ),
            (
                Error::BadResponse {
                    peer: "p".into(),
                    reason: "r".into(),
                },
                8,
            ),
            (Error::Partial { got: 1, want: 2 }, 18),
            (Error::HttpStatus { status: 404 }, 22),
            (Error::BinaryToTerminal, 23),
            (
                Error::Timeout {
                    phase: "p".into(),
                    after: Duration::from_secs(1),
                },
                28,
            ),
            (Error::Range { reason: "r".into() }, 33),
            (Error::TooManyRedirects { max: 3 }, 47),
            (Error::EmptyReply { peer: "p".into() }, 52),
            (Error::Decode { reason: "r".into() }, 61),
            (
                Error::Receive {
                    peer: "p".into(),
                    reason: "r".into(),
                },
                56,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), code, "{err}");
        }
    }

    #[test]
    fn errors_survive_a_trip_through_io_error() {
        let io = io::Error::other(Error::Partial { got: 3, want: 10 });
        let back = Error::from_io(io, "peer");
        assert_eq!(
            back.to_string(),
            "transfer closed with 3 of 10 bytes received"
        );
        let plain = Error::from_io(io::ErrorKind::ConnectionReset.into(), "127.0.0.1:1");
        assert_eq!(plain.exit_code(), 56);
    }
}
