//! `serve`: a static-file server over HTTP/1.x, as a library.
//!
//! A fixed pool of worker threads waits on one readiness set (epoll) themselves: whichever
//! worker a connection's readiness wakes accepts it, or reads its request, answers it top to
//! bottom and puts it back — no connection is ever handed between threads, and an idle one
//! holds no thread. Files are mapped under a canonical root that nothing escapes; small ones
//! are cached, revalidated on every use. The `serve` binary is a thin command line over
//! [`Server`].
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod archive;
pub mod auth;
pub mod cache;
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
pub mod range;
pub mod readbuf;
pub mod ready;
pub mod request;
pub mod respond;
pub mod response;
pub mod send;
mod server;
pub mod share;
pub mod site;
#[cfg(test)]
mod testdir;
pub mod upload;
mod worker;

pub use server::{
    Config, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_WRITE_TIMEOUT, Handle, Server, default_threads,
};
