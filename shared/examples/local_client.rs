//! `local_client`: sends messages to [`local_server`](./local_server.rs) over a Unix-domain
//! stream socket, the classic `socket-client` program rebuilt on `shared`.
//!
//! Shows [`shared::connect_unix`] (a connect with a deadline, errors in words) and writing
//! length-prefixed messages through a [`shared::Stream`].
//!
//! ```sh
//! cargo run -p shared --example local_client -- /tmp/demo.sock hello "two words" quit
//! ```
//!
//! Expect no output and exit 0: the server prints the messages, one per line, in order;
//! `quit` stops the server. Each message goes out as a 4-byte big-endian (network order)
//! unsigned length, then its UTF-8 bytes: the originals sent a host-order `int`, which breaks
//! between machines of different byte order. Messages over 64 KiB are refused before anything
//! is sent, since the server would drop them.
//!
//! Exit: 0 when every message was sent; 1 when the server cannot be reached or the send
//! fails; 2 on bad arguments.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use shared::{connect_unix, io_words};

/// The largest message the server accepts, in bytes (64 KiB).
const MAX_MESSAGE: usize = 64 * 1024;
/// The deadline for connecting, and for each write.
const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("local_client: {message}");
            ExitCode::from(code)
        }
    }
}

fn run() -> Result<(), (u8, String)> {
    let usage = || (2, "usage: local_client SOCKET_PATH MESSAGE...".to_string());
    let mut args = std::env::args_os().skip(1);
    let path = args.next().ok_or_else(usage)?;
    let messages = args
        .map(|m| {
            m.into_string()
                .map_err(|_| (2, "a message is not UTF-8".to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if messages.is_empty() {
        return Err(usage());
    }
    if let Some(m) = messages.iter().find(|m| m.len() > MAX_MESSAGE) {
        let len = m.len();
        return Err((
            2,
            format!("a message of {len} bytes is over the 64 KiB limit"),
        ));
    }
    let stream = connect_unix(Path::new(&path), TIMEOUT).map_err(|e| (1, e.to_string()))?;
    let sending = |e: std::io::Error| (1, format!("sending: {}", io_words(&e)));
    stream.set_write_timeout(Some(TIMEOUT)).map_err(sending)?;
    for m in &messages {
        // Fits: MAX_MESSAGE is far below u32::MAX.
        let len = m.len() as u32;
        let frame = [&len.to_be_bytes()[..], m.as_bytes()].concat();
        (&stream).write_all(&frame).map_err(sending)?;
    }
    Ok(())
}
