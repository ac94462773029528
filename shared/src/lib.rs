//! The ground `fetch` and `serve` stand on: parsing what users type as a target, resolving
//! names (getaddrinfo under a deadline, with overrides), connecting (every address in turn
//! under one deadline, or raced Happy Eyeballs style), listening (TCP, Unix-domain,
//! inherited from the service manager), and one place where OS errors become plain words.
//! Also the small pieces both programs must do alike: the strict `Content-Length` rule
//! ([`fold_content_length`]), the RFC 9530 digests ([`digest`]) and the text helpers ([`percent_encode`], [`json_string`],
//! [`bytes_words`]).
//!
//! Nothing above this crate matches on the socket kind: [`Listener`] and [`Stream`] carry
//! TCP and Unix-domain sockets alike.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod connect;
mod content_length;
pub mod digest;
mod error;
pub mod fiber;
mod happy;
mod listen;
mod resolve;
mod sockopt;
mod stream;
mod target;
mod text;
#[cfg(feature = "tls")]
pub mod tls;

pub use connect::{Connected, Local, MIN_ATTEMPT, connect, connect_unix, connect_with};
pub use content_length::{LengthError, fold_content_length};
pub use error::{Attempt, Error, duration_words, io_words, lookup_words};
pub use happy::{HAPPY_EYEBALLS_DELAY, connect_happy, connect_happy_with, interleave};
pub use listen::{
    DEFAULT_BACKLOG, LISTEN_FDS_START, ListenOptions, Listener, Listening, UnixSocket,
    adopt_listener, inherited, listen_fds, listen_tcp, listen_unix,
};
pub use resolve::{Family, Resolver};
pub use stream::{Address, Stream};
pub use target::{DEFAULT_PORT, Endpoint, Host, Target, percent_decode};
pub use text::{
    Keep, base64, base64_decode, bytes_words, hex, hex_decode, json_string, percent_encode,
};
