//! `local_server`: a stream socket in the local (Unix-domain) namespace, the classic
//! `socket-server` program rebuilt on `shared`. It prints every message its clients send.
//!
//! Shows [`shared::listen_unix`] (a stale socket file left by a crash is replaced, a live one
//! is refused, and the file is removed when the listener drops), [`shared::Listener::accept`],
//! and framing messages on a byte stream with a length prefix.
//!
//! ```sh
//! cargo run -p shared --example local_server -- /tmp/demo.sock
//! cargo run -p shared --example local_client -- /tmp/demo.sock hello "two words" quit
//! ```
//!
//! Expect `listening on unix:/tmp/demo.sock`, then each message on its own line: `hello`,
//! `two words`, `quit`. The message `quit` makes the server remove its socket file and exit 0.
//!
//! Wire format: each message is a 4-byte unsigned length in big-endian (network) byte order,
//! then that many bytes of UTF-8. The originals sent a C `int` in host byte order, which only
//! works while both ends agree on byte order and `int` width; a fixed width and order work
//! between any two machines. The server accepts at most 64 KiB per message (`MAX_MESSAGE`),
//! so a wild length cannot make it allocate 4 GiB. A client that breaks these rules, or stays
//! silent for 10 s, is dropped (said on stderr) and the server waits for the next one.
//!
//! Exit: 0 after `quit`; 1 when it cannot listen; 2 on bad arguments.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use shared::{ListenOptions, Stream, io_words, listen_unix};

/// The largest message the server accepts, in bytes (64 KiB).
const MAX_MESSAGE: u32 = 64 * 1024;
/// How long a connected client may stay silent before it is dropped.
const IDLE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("local_server: usage: local_server SOCKET_PATH");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    let listener = match listen_unix(&path, &ListenOptions::default()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("local_server: {e}");
            return ExitCode::from(1);
        }
    };
    say(&format!("listening on unix:{}", path.display()));
    // One client at a time, as in the original: the next waits in the listen queue.
    loop {
        match listener.accept() {
            // Returning drops `listener`, which removes the socket file.
            Ok((stream, _)) => match serve(&stream) {
                Ok(true) => return ExitCode::SUCCESS,
                Ok(false) => {}
                Err(e) => eprintln!("local_server: dropping a client: {e}"),
            },
            Err(e) => eprintln!("local_server: accept: {}", io_words(&e)),
        }
    }
}

/// Prints each message from one client: `Ok(true)` once it sends `quit`, `Ok(false)` when it
/// hangs up between messages.
fn serve(mut stream: &Stream) -> Result<bool, String> {
    let words = |e: io::Error| io_words(&e);
    stream.set_read_timeout(Some(IDLE)).map_err(words)?;
    loop {
        let mut prefix = [0u8; 4];
        // End of stream before a prefix is the client being done; anywhere else it is a
        // message cut short ("connection closed early").
        if stream.read(&mut prefix[..1]).map_err(words)? == 0 {
            return Ok(false);
        }
        stream.read_exact(&mut prefix[1..]).map_err(words)?;
        let len = u32::from_be_bytes(prefix);
        if len > MAX_MESSAGE {
            return Err(format!(
                "a message of {len} bytes is over the {MAX_MESSAGE}-byte limit"
            ));
        }
        let mut text = vec![0; len as usize];
        stream.read_exact(&mut text).map_err(words)?;
        let text = String::from_utf8(text).map_err(|_| "a message is not UTF-8".to_string())?;
        say(&text);
        if text == "quit" {
            return Ok(true);
        }
    }
}

/// Prints one line and flushes it, so a reader of a pipe sees it at once.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    // Nobody reading our output (a closed pipe) is no reason to stop serving.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
