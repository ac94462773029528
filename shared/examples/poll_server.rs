//! `poll_server`: one thread serving many TCP clients through readiness (poll(2)), the
//! classic single-process concurrent server, for contrast with `serve`'s pool of blocking
//! worker threads. It sends back every byte a client sends, upper-cased.
//!
//! Shows a non-blocking [`shared::Listener`] and [`shared::Stream`]s watched with
//! `rustix::event::poll` (a safe poll(2): no `unsafe` here); each client a small state
//! machine (read what is ready, write what fits); and bounded memory: at most 16 KiB waits to
//! go back to a client, and while that is full the server stops reading from it, so a client
//! that sends without reading is slowed down (backpressure) and never stalls the others. An
//! idle client costs a socket, not a thread. At most 1000 clients at once (under the usual
//! limit of 1024 open files); more wait in the kernel's listen queue.
//!
//! ```sh
//! cargo run -p shared --example poll_server          # 127.0.0.1, a free port
//! nc 127.0.0.1 PORT                                  # type lines: they come back upper-cased
//! ```
//!
//! Expect `listening on 127.0.0.1:PORT` first; each client gets its bytes back upper-cased,
//! and its connection closed once it has closed its side and everything was sent.
//!
//! Exit: 1 when it cannot listen (or poll fails), 2 on bad arguments; else runs until killed.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use rustix::event::{PollFd, PollFlags, poll};
use shared::{ListenOptions, Listener, Stream, io_words, listen_tcp};

const USAGE: &str = "usage: poll_server [ADDR]   (like [::1]:7000; default 127.0.0.1:0)";
/// The most bytes held for one client: what it sent that it has not yet read back.
const BUF: usize = 16 * 1024;
/// The most clients served at once.
const MAX_CLIENTS: usize = 1000;

struct Client {
    stream: Stream,
    /// Upper-cased bytes waiting to be written back (at most `BUF`).
    out: Vec<u8>,
    /// The client has closed its write half: send what is left, then close.
    eof: bool,
}

impl Client {
    /// What to wait for: room to read into, and bytes to write out.
    fn interest(&self) -> PollFlags {
        let mut flags = PollFlags::empty();
        if !self.eof && self.out.len() < BUF {
            flags |= PollFlags::IN;
        }
        if !self.out.is_empty() {
            flags |= PollFlags::OUT;
        }
        flags
    }

    /// Does what `ready` allows without blocking; `false` once the client is finished.
    fn on_ready(&mut self, ready: PollFlags, buf: &mut [u8]) -> bool {
        if ready.is_empty() {
            return true;
        }
        // A hang-up or error is reported by the read or write that follows.
        if self.interest().contains(PollFlags::IN) {
            match (&self.stream).read(&mut buf[..BUF - self.out.len()]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.out.extend(buf[..n].iter().map(u8::to_ascii_uppercase)),
                Err(e) if is_transient(&e) => {}
                Err(_) => return false,
            }
        }
        // Writing straight away saves a round of poll; a full socket just says WouldBlock.
        if !self.out.is_empty() {
            match (&self.stream).write(&self.out) {
                Ok(n) => drop(self.out.drain(..n)),
                Err(e) if is_transient(&e) => {}
                Err(_) => return false,
            }
        }
        !(self.eof && self.out.is_empty())
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted)
}

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
    let listener = match listen_tcp(addr, &ListenOptions::default()) {
        Ok(l) => l.listener,
        Err(e) => return fail(1, &e.to_string()),
    };
    let ready = listener
        .set_nonblocking(true)
        .and_then(|()| listener.local_addr());
    match ready {
        Ok(a) => {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "listening on {a}").and_then(|()| out.flush());
        }
        Err(e) => return fail(1, &io_words(&e)),
    }
    let mut clients: Vec<Client> = Vec::new();
    let mut buf = vec![0; BUF];
    loop {
        // Slot 0 is the listener, left out while full; slot i + 1 is clients[i].
        let accepting = if clients.len() < MAX_CLIENTS {
            PollFlags::IN
        } else {
            PollFlags::empty()
        };
        let mut fds = vec![PollFd::new(&listener, accepting)];
        fds.extend(clients.iter().map(|c| PollFd::new(&c.stream, c.interest())));
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return fail(1, &format!("poll: {}", io_words(&e.into()))),
        }
        let ready: Vec<PollFlags> = fds.iter().map(PollFd::revents).collect();
        drop(fds);
        let mut slot = 0;
        clients.retain_mut(|c| {
            slot += 1;
            c.on_ready(ready[slot], &mut buf)
        });
        if !ready[0].is_empty() {
            accept_all(&listener, &mut clients);
        }
    }
}

/// Takes every connection waiting in the listen queue, up to `MAX_CLIENTS`.
fn accept_all(listener: &Listener, clients: &mut Vec<Client>) {
    while clients.len() < MAX_CLIENTS {
        match listener.accept() {
            Ok((stream, peer)) => match stream.set_nonblocking(true) {
                Ok(()) => clients.push(Client {
                    stream,
                    out: Vec::new(),
                    eof: false,
                }),
                Err(e) => eprintln!("poll_server: {peer}: {}", io_words(&e)),
            },
            Err(e) if is_transient(&e) => return,
            Err(e) => {
                // e.g. out of file descriptors: say so, and try again on the next round.
                eprintln!("poll_server: accept: {}", io_words(&e));
                return;
            }
        }
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("poll_server: {message}");
    ExitCode::from(code)
}
