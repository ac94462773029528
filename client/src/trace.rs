//! `Trace`: when each phase of a transfer happened, hop by hop (for `--timing` and `--report-json`).

use std::time::{Duration, Instant};

/// The phases of one transfer, filled in as it runs (so a failed transfer keeps what it got
/// to). Every time is an offset from [`Trace::start`].
#[derive(Debug, Clone)]
pub struct Trace {
    /// When the transfer began.
    pub start: Instant,
    /// One entry per request sent: the first, then one per redirect followed (and per retry
    /// when the caller retries with the same trace).
    pub hops: Vec<Hop>,
}

/// One request and its response.
#[derive(Debug, Clone, Default)]
pub struct Hop {
    /// The URL asked for.
    pub url: String,
    /// Which try this hop belongs to: 0 for the first, 1 for the first retry, ...
    pub attempt: u32,
    /// When this hop began.
    pub began: Duration,
    /// The peer that answered (`127.0.0.1:8080`, `unix:/run/app.sock`), once connected.
    pub peer: Option<String>,
    /// Our end of the connection (TCP only), once connected.
    pub local: Option<std::net::SocketAddr>,
    /// The name on the request line (`GET`, `POST`, what `-X` gave).
    pub method: String,
    /// Bytes of request head sent.
    pub request_bytes: u64,
    /// True when a kept-alive connection was used (no resolving, no connecting).
    pub reused: bool,
    /// Resolving the name: start and end (none for a reused connection or a Unix socket).
    pub resolve: Option<(Duration, Duration)>,
    /// Each address tried, in the order started.
    pub addrs: Vec<AddrTry>,
    /// The request head was written.
    pub sent: Option<Duration>,
    /// The first byte of the response arrived.
    pub first_byte: Option<Duration>,
    /// The final response head was complete.
    pub head: Option<Duration>,
    /// The response status.
    pub status: Option<u16>,
    /// The TLS handshake, when this hop made one.
    pub tls: Option<TlsHop>,
    /// The body was complete (set by whoever read it).
    pub done: Option<Duration>,
}

/// A TLS handshake: when, and what it settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsHop {
    /// When it started.
    pub start: Duration,
    /// When it was done.
    pub end: Duration,
    /// `TLSv1.3`.
    pub version: String,
    /// The suite, by OpenSSL's name.
    pub cipher: String,
    /// How many certificates the server sent.
    pub certs: u32,
}

/// One connection attempt to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrTry {
    /// The address.
    pub addr: String,
    /// When the attempt started.
    pub start: Duration,
    /// How long it took (or ran before being abandoned).
    pub took: Duration,
    /// Why it did not become the connection; `None` for the one that did.
    pub error: Option<String>,
}

impl Default for Trace {
    fn default() -> Trace {
        Trace::new()
    }
}

impl Trace {
    /// An empty trace starting now.
    pub fn new() -> Trace {
        Trace {
            start: Instant::now(),
            hops: Vec::new(),
        }
    }

    /// Time since the start.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Marks the last hop's body complete, now.
    pub fn body_done(&mut self) {
        let now = self.now();
        if let Some(hop) = self.hops.last_mut() {
            hop.done = Some(now);
        }
    }

    /// The offset of the last thing that happened (the end of the picture).
    pub fn end(&self) -> Duration {
        self.hops
            .iter()
            .flat_map(|h| {
                [
                    h.done,
                    h.head,
                    h.first_byte,
                    h.sent,
                    h.resolve.map(|r| r.1),
                    h.tls.as_ref().map(|t| t.end),
                ]
                .into_iter()
                .flatten()
                .chain(h.addrs.iter().map(|a| a.start + a.took))
            })
            .max()
            .unwrap_or_default()
    }
}
