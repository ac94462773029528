//! `serve`: a static-file server over HTTP/1.x, as a library.
//!
//! A fixed pool of worker threads waits on one readiness set (epoll) themselves: whichever
//! worker a connection's readiness wakes accepts it, or reads its request, answers it top to
//! bottom and puts it back — no connection is ever handed between threads, and an idle one
//! holds no thread. Files are mapped under a canonical root that nothing escapes; small ones
//! are cached, revalidated on every use. The `serve` binary is a thin command line over
//! [`Server`].
//!
//! What an embedder uses: [`Server`] (bound to a `shared::Listener`, run on a thread of its
//! own), [`Config`] (every setting, with the types its setters take: [`Cidr`],
//! [`LogFormat`], [`Auth`] and [`Account`], [`Uploads`]) and [`Handle`] (to stop it).
//!
//! # Example: a server inside a test
//!
//! What the project exists for, in a few lines: serve a folder on a free port, fetch a file
//! from it with the [`client`](../client/index.html) library, and shut the server down (it
//! drains what is in flight, then [`Server::run`] returns).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::Read;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("hello.txt"), "hello\n")?;
//!
//! let listening = shared::listen_tcp("127.0.0.1:0".parse()?, &Default::default())?;
//! let server = server::Server::new(listening.listener, server::Config::new(dir.path()))?;
//! let shared::Address::Tcp(addr) = server.local_addr()? else { unreachable!() };
//! let stop = server.handle();
//! let running = std::thread::spawn(move || server.run());
//!
//! let fetch = client::Client::builder().build();
//! let mut response = fetch.get(&format!("http://{addr}/hello.txt"))?;
//! let mut body = String::new();
//! response.read_to_string(&mut body)?;
//! assert_eq!((response.status(), body.as_str()), (200, "hello\n"));
//! drop(response);
//!
//! stop.shutdown();
//! running.join().expect("the server thread ended cleanly")?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]
// The rooms (ARCHITECTURE.md, "How a request travels through serve"): the engine runs
// connections, `respond/` decides each answer by calling the features, `http/` is the
// protocol's vocabulary that all of them speak. Imports run downward only. Everything is
// `pub(crate)` unless an embedder needs it (re-exported below) or it is `cli`.
#![deny(unreachable_pub)]

mod auth;
mod cache;
mod certs;
#[cfg(feature = "cli")]
pub mod cli;
mod compress;
mod engine;
mod http;
mod jail;
// Its items are narrowed to `pub(crate)` once the change under way in it lands.
#[allow(unreachable_pub)]
mod listing;
mod repr_digest;
mod respond;
mod share;
mod site;
#[cfg(test)]
mod testdir;
mod watch;

pub use auth::{Account, Auth};
pub use certs::Tls;
pub use engine::cidr::Cidr;
pub use engine::log::Format as LogFormat;
pub use engine::server::{
    Config, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_WRITE_TIMEOUT, Handle, Server, default_threads,
};
pub use share::Uploads;
// What `Tls::load` takes for an encrypted key.
pub use shared::tls::Passphrase;
// `listing.rs` names these as `crate::reload` and `crate::digest` (its own change is under
// way; the paths are updated when that lands).
pub(crate) use repr_digest as digest;
pub(crate) use watch::reload;

/// The parsers of untrusted bytes, for the fuzz targets (`fuzz/`) and their corpus replays
/// (`tests/hostile/corpora.rs`; decision 9). A seam for those two, not an API: nothing here
/// is kept stable.
#[doc(hidden)]
pub mod fuzz {
    /// URL path to file under the root (`url_map`).
    pub mod jail {
        pub use crate::jail::{Jail, Mapped, Root, map};
    }
    /// `Range` against a length (`range`).
    pub mod range {
        pub use crate::http::range::{MAX_RANGES, Ranges, Span, parse};
    }
    /// The request head (`request_head`).
    pub mod request {
        pub use crate::http::request::{BODY_CAP, HEAD_CAP, MAX_LINE, Parsed, parse};
    }
    pub use crate::share::intake::fuzz_dechunk as dechunk;
    pub use crate::share::multipart::fuzz_one as multipart;
}
