//! The engine: accepting connections, the readiness set that holds them while they wait,
//! each connection's loop (read a request, have it answered, send the answer), and every
//! deadline on the way. It knows HTTP only as far as framing: what to answer is decided by
//! `respond/`, which the connection loop calls. A connection's transport state (the socket
//! today, and the TLS session beside it) lives in `conn.rs`.

pub(crate) mod cidr;
pub(crate) mod conn;
pub(crate) mod log;
pub(crate) mod readbuf;
pub(crate) mod ready;
pub(crate) mod send;
pub(crate) mod server;
pub(crate) mod tls;
pub(crate) mod worker;
