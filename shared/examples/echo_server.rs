//! `echo_server`: a TCP echo server with a thread per connection, the classic forking echo
//! server rebuilt on `shared` (a thread where the original forked a process).
//!
//! Shows [`shared::listen_tcp`] on port 0 and reading the real port back, accepting with
//! [`shared::Listener::accept`], one [`shared::Stream`] used as both reader and writer, read
//! and write timeouts, and OS errors in words.
//!
//! ```sh
//! cargo run -p shared --example echo_server                    # 127.0.0.1, a free port
//! cargo run -p shared --example echo_server -- 127.0.0.1:7000
//! cargo run -p shared --example echo_client -- 127.0.0.1:PORT hello
//! ```
//!
//! Expect `listening on 127.0.0.1:PORT` first; then every client gets its bytes back until it
//! closes its side. A client silent for 30 s is dropped; at most 64 are served at once (more
//! are closed at once, said on stderr). `serve` does this job differently: a fixed pool of
//! threads and a bounded queue, so load cannot grow the thread count.
//!
//! Exit: 1 when it cannot listen, 2 on bad arguments; otherwise it runs until killed.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use shared::{ListenOptions, Listening, Stream, io_words, listen_tcp};

const USAGE: &str = "usage: echo_server [ADDR]   (like [::1]:7000; default 127.0.0.1:0)";
/// The most clients served at once.
const MAX_CLIENTS: usize = 64;
/// How long a client may stay silent (or leave our replies unread) before it is dropped.
const IDLE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let arg = match args.as_slice() {
        [] => "127.0.0.1:0".into(),
        [a] => a.to_string_lossy(),
        _ => return fail(2, USAGE),
    };
    let Ok(addr) = arg.parse::<SocketAddr>() else {
        return fail(2, &format!("'{arg}' is not an address; {USAGE}"));
    };
    let Listening { listener, note } = match listen_tcp(addr, &ListenOptions::default()) {
        Ok(l) => l,
        Err(e) => return fail(1, &e.to_string()),
    };
    if let Some(note) = note {
        eprintln!("echo_server: {note}");
    }
    match listener.local_addr() {
        // Flushed at once: whoever started us reads the real port from this line.
        Ok(a) => {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "listening on {a}").and_then(|()| out.flush());
        }
        Err(e) => return fail(1, &io_words(&e)),
    }
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("echo_server: accept: {}", io_words(&e));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
            active.fetch_sub(1, Ordering::SeqCst);
            eprintln!("echo_server: {peer}: {MAX_CLIENTS} clients already, closing");
            continue;
        }
        let active = Arc::clone(&active);
        thread::spawn(move || {
            if let Err(e) = echo(&stream) {
                eprintln!("echo_server: {peer}: {}", io_words(&e));
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Sends back every byte until the client closes its write half, then closes ours.
fn echo(stream: &Stream) -> io::Result<u64> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    // `&Stream` is both `Read` and `Write`: one socket, two handles, no clone needed.
    let (mut from, mut to) = (stream, stream);
    let n = io::copy(&mut from, &mut to)?;
    stream.shutdown(Shutdown::Write)?;
    Ok(n)
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("echo_server: {message}");
    ExitCode::from(code)
}
