//! What happens during a request, told to an observer (`-v` is one).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shared::{Attempt, Target};

/// Something that happened during a request, for `-v` and other observers.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A name was resolved.
    Resolved {
        /// The name.
        host: &'a str,
        /// Its addresses, in the order they will be tried.
        addrs: &'a [SocketAddr],
    },
    /// A new connection is open.
    Connected {
        /// The peer: `127.0.0.1:8080` or `unix:/run/app.sock`.
        peer: &'a str,
        /// Addresses tried before it, with the reason each failed.
        failed: &'a [Attempt],
        /// How long the successful attempt took.
        elapsed: Duration,
    },
    /// A kept-alive connection is used again.
    Reused {
        /// The peer.
        peer: &'a str,
    },
    /// A kept-alive connection turned out closed; the request is sent again on a new one.
    Retry {
        /// The peer.
        peer: &'a str,
        /// What happened on the old connection.
        reason: String,
    },
    /// The request head, as sent.
    RequestHead(&'a [u8]),
    /// A request body held in memory, as sent after its head (a file or stream body is
    /// not told).
    RequestBody(&'a [u8]),
    /// A response head (interim or final), as received.
    ResponseHead(&'a [u8]),
    /// A TLS handshake is done.
    #[cfg(feature = "tls")]
    Tls(&'a crate::tls::TlsInfo),
    /// A redirect is being followed.
    Redirect {
        /// Its status.
        status: u16,
        /// Where it leads.
        to: &'a Target,
    },
}

/// A function told about each [`Event`].
pub type Observer = Arc<dyn Fn(&Event<'_>) + Send + Sync>;
