//! `fetch`, the library: a blocking HTTP/1.x client that trusts nothing it receives.
//!
//! [`Client`] holds the settings (timeouts, redirects, headers, name resolution) and a pool
//! of kept-alive connections; [`Client::request`] returns a [`Response`] once its head has
//! arrived, and the body is read through it. Body length follows RFC 9112 §6.3 exactly, and
//! a body that ends early is an error, never a short success. Every error carries curl's
//! exit code ([`Error::exit_code`]).
//!
//! `https://` is spoken through rustls behind the `tls` cargo feature (on by default), with
//! curl's checks: the system's roots, the URL's host, and `tls` settings
//! ([`Builder::tls`]).
//!
//! The `cli` module (the `cli` cargo feature, on by default) is the `fetch` command line
//! built on top; `--no-default-features` leaves the library alone, without clap, indicatif,
//! rayon or flate2.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod auth;
mod body;
mod builder;
mod chunked;
mod client;
mod connection;
mod cookie;
pub mod digest;
mod error;
mod event;
mod head;
mod length;
mod payload;
mod pool;
mod proxy;
mod redirect;
mod request;
mod response;
mod run;
#[cfg(feature = "tls")]
mod tls;
mod trace;

#[cfg(feature = "cli")]
pub mod cli;
pub mod wire;

pub use auth::{Credentials, Scheme as AuthScheme};
pub use body::Body;
pub use builder::{
    Builder, ConnectTo, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EXPECT_TIMEOUT, DEFAULT_HEAD_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE_PER_ENDPOINT, DEFAULT_MAX_REDIRECTS,
    DEFAULT_SEND_TIMEOUT, HostLogin,
};
pub use client::Client;
pub use cookie::CookieJar;
pub use error::Error;
pub use event::{Event, Observer};
pub use head::{Head, MAX_HEAD, MAX_HEADERS};
pub use payload::{Payload, Piece};
pub use proxy::{DEFAULT_PROXY_PORT, Proxy};
pub use redirect::resolve as resolve_location;
pub use request::{HeaderEdit, Method, Request, USER_AGENT, Version};
pub use response::Response;
#[cfg(feature = "tls")]
pub use tls::TlsInfo;
pub use trace::{AddrTry, Hop, TlsHop, Trace};
