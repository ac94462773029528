//! `socketpair`: two connected local sockets, one per thread, talking both ways.
//!
//! Shows `UnixStream::pair()` (socketpair(2): a connected pair with no file, no address and no
//! listener, the usual way to talk to a thread or a child process) wrapped as
//! [`shared::Stream::Unix`], so the talking code is the same that would run over TCP; lines
//! as message framing; a half-close (`shutdown(Write)`) to say "done"; and a read timeout so
//! a silent peer cannot hang a thread forever.
//!
//! ```sh
//! cargo run -p shared --example socketpair          # 3 rounds
//! cargo run -p shared --example socketpair -- 5
//! ```
//!
//! Expect, for 2 rounds:
//!
//! ```text
//! right got: ping 1
//! left got: pong 1
//! right got: ping 2
//! left got: pong 2
//! right: left closed its end
//! ```
//!
//! Exit: 0 after the exchange; 1 when a side fails (said on stderr); 2 on bad arguments
//! (ROUNDS must be 1 to 1000).

use std::io::{self, BufRead, BufReader, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use shared::{Stream, io_words};

/// How long either side waits for the other to speak.
const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let rounds = match args.as_slice() {
        [] => Some(3),
        [n] => n
            .to_str()
            .and_then(|n| n.parse().ok())
            .filter(|n| (1..=1000).contains(n)),
        _ => None,
    };
    let Some(rounds) = rounds else {
        eprintln!("socketpair: usage: socketpair [ROUNDS]   (1 to 1000, default 3)");
        return ExitCode::from(2);
    };
    let result = UnixStream::pair()
        .map_err(|e| io_words(&e))
        .and_then(|(a, b)| {
            let (left, right) = (Stream::Unix(a), Stream::Unix(b));
            let right = thread::spawn(move || answer(&right));
            let asked = ask(&left, rounds);
            let answered = right
                .join()
                .unwrap_or_else(|_| Err("the right side panicked".into()));
            asked.and(answered)
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socketpair: {e}");
            ExitCode::from(1)
        }
    }
}

/// The left side: sends `ping N`, waits for the answer, `rounds` times; then says it is done.
fn ask(stream: &Stream, rounds: u32) -> Result<(), String> {
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| io_words(&e))?;
    let mut lines = BufReader::new(stream);
    for i in 1..=rounds {
        send(stream, &format!("ping {i}"))?;
        let line = read_line(&mut lines)?.ok_or("the right side closed early")?;
        say(&format!("left got: {line}"));
    }
    // No more pings: shutting down our write half is what the right side sees as the end.
    stream.shutdown(Shutdown::Write).map_err(|e| io_words(&e))
}

/// The right side: answers each `ping N` with `pong N` until the left side closes its end.
fn answer(stream: &Stream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| io_words(&e))?;
    let mut lines = BufReader::new(stream);
    while let Some(line) = read_line(&mut lines)? {
        say(&format!("right got: {line}"));
        send(stream, &line.replacen("ping", "pong", 1))?;
    }
    say("right: left closed its end");
    Ok(())
}

fn send(mut stream: &Stream, line: &str) -> Result<(), String> {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|e| format!("sending: {}", io_words(&e)))
}

/// The next line without its newline, or `None` at the end of the stream.
fn read_line(lines: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut line = String::new();
    match lines.read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => Ok(Some(line.trim_end_matches('\n').to_string())),
        Err(e) => Err(format!("receiving: {}", io_words(&e))),
    }
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
