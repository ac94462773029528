//! `echo_client`: sends one word to an echo server and prints what comes back, checking that
//! every byte returned: the classic echo client rebuilt on `shared`.
//!
//! Shows the client path `fetch` uses: [`shared::Target::parse`] for what the user typed,
//! [`shared::Resolver`] to turn the host into addresses (getaddrinfo under a deadline), and
//! [`shared::connect`] to try each address in turn; then a half-close (`shutdown(Write)`) to
//! say "that was all", and reads bounded by a timeout.
//!
//! ```sh
//! cargo run -p shared --example echo_server          # prints: listening on 127.0.0.1:PORT
//! cargo run -p shared --example echo_client -- 127.0.0.1:PORT hello
//! ```
//!
//! Expect the word back on stdout (`hello`), exit 0. If the server returns a different
//! number of bytes (or different bytes) than were sent, that is said on stderr and the exit
//! code is 1; so are a refused connection and a 5 s timeout.
//!
//! Exit: 0 when the echo matches; 1 on a network failure or a mismatch; 2 on bad arguments.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::process::ExitCode;
use std::time::Duration;

use shared::{Endpoint, Resolver, Target, connect, io_words};

/// The deadline for resolving, for connecting, and for each read and write.
const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("echo_client: {message}");
            ExitCode::from(code)
        }
    }
}

fn run() -> Result<(), (u8, String)> {
    let args = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|_| (2, "arguments must be UTF-8".to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let [target, word] = args.as_slice() else {
        return Err((2, "usage: echo_client HOST:PORT WORD".into()));
    };
    let parsed = Target::parse(target).map_err(|e| (2, e.to_string()))?;
    let Endpoint::Tcp { host, port } = &parsed.endpoint else {
        return Err((2, format!("'{target}' is not HOST:PORT")));
    };
    let addrs = Resolver::new()
        .resolve(host, *port, TIMEOUT)
        .map_err(|e| (1, e.to_string()))?;
    let connected =
        connect(&parsed.endpoint.to_string(), &addrs, TIMEOUT).map_err(|e| (1, e.to_string()))?;
    let mut stream = &connected.stream;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(failed("reading"))?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(failed("sending"))?;
    stream
        .write_all(word.as_bytes())
        .map_err(failed("sending"))?;
    // Closing our write half tells the server we are done: it sends the rest and closes.
    stream
        .shutdown(Shutdown::Write)
        .map_err(failed("sending"))?;
    let mut back = Vec::new();
    // Read at most one byte more than we sent: enough to notice a longer answer.
    let sent = word.len();
    stream
        .take(sent as u64 + 1)
        .read_to_end(&mut back)
        .map_err(failed("reading the echo"))?;
    if back.len() != sent {
        let got = match back.len() {
            n if n > sent => "more".to_string(),
            n => n.to_string(),
        };
        return Err((1, format!("sent {sent} bytes, got {got} back")));
    }
    if back != word.as_bytes() {
        return Err((
            1,
            format!("sent {sent} bytes, got {sent} different ones back"),
        ));
    }
    let mut out = io::stdout().lock();
    // A closed stdout (`| head -c0`) is the reader going away: not an error.
    let _ = writeln!(out, "{word}");
    Ok(())
}

/// Turns an I/O error during `what` into an exit code and a message.
fn failed(what: &'static str) -> impl Fn(io::Error) -> (u8, String) {
    move |e| (1, format!("{what}: {}", io_words(&e)))
}
