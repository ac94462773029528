//! `serve`: a static-file server over HTTP/1.x, as a library.
//!
//! One accept thread hands connections through a bounded queue to a fixed pool of blocking
//! worker threads; idle keep-alive connections are parked on a readiness thread instead of
//! holding a worker. Files are mapped under a canonical root that nothing escapes. The
//! `serve` binary is a thin command line over [`Server`].
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod archive;
pub mod auth;
pub mod cidr;
#[cfg(feature = "cli")]
pub mod cli;
mod clock;
pub mod compress;
pub mod conditional;
pub mod conn;
pub mod files;
pub mod intake;
pub mod listing;
pub mod log;
pub mod multipart;
pub mod park;
pub mod range;
pub mod readbuf;
pub mod request;
pub mod respond;
pub mod response;
mod server;
pub mod share;
#[cfg(test)]
mod testdir;
pub mod upload;

pub use server::{
    Config, Ctx, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_QUEUE, DEFAULT_WRITE_TIMEOUT, Handle, Server, default_threads,
};
