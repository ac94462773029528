//! `serve` end to end: the real binary on port 0, real sockets, exact bytes, and curl.

mod cache;
mod digest;
mod features;
mod http;
mod lifecycle;
mod load;
mod paths;
mod share;
mod watch;
