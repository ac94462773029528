//! `udp_echo`: a datagram (UDP) echo server and client in one program, using std's
//! `UdpSocket` with `recv_from` / `send_to` (datagrams need no listener or connection, so
//! `shared`'s stream types do not apply; its resolver and error words still do).
//!
//! Shows the two things that set datagrams apart from streams:
//! - message boundaries are kept: each `recv_from` returns exactly one whole datagram, so
//!   `one`, `two` sent as two datagrams never come back as `onetwo` (as they could on TCP);
//! - nothing guarantees delivery (or order): the client waits 500 ms for the replies, sends
//!   again whatever went unanswered, and after 3 tries reports each message as lost.
//!
//! ```sh
//! cargo run -p shared --example udp_echo -- server                 # 127.0.0.1, a free port
//! cargo run -p shared --example udp_echo -- client 127.0.0.1:PORT one two "three four"
//! ```
//!
//! Expect the server to print `listening on 127.0.0.1:PORT`, then `3 bytes from ADDR: one`
//! for each datagram; the client prints one line per reply, such as `reply: "one" (3 bytes)`.
//! A message with no reply after 3 tries is said on stderr (`lost: no reply to "one" ...`).
//!
//! Exit: client 0 when every message came back, 1 when any was lost or the network failed;
//! server 1 when it cannot bind, else it runs until killed; 2 on bad arguments.

use std::io::ErrorKind::{TimedOut, WouldBlock};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use shared::{Endpoint, Resolver, Target, io_words};

const USAGE: &str = "usage: udp_echo server [ADDR] | udp_echo client HOST:PORT MESSAGE...";
/// How many times the client sends a message that gets no reply.
const TRIES: u32 = 3;
/// How long the client waits for replies after each round of sending.
const WAIT: Duration = Duration::from_millis(500);

type Failure = (u8, String);

fn main() -> ExitCode {
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let result = match args {
        Ok(args) => match args.split_first() {
            Some((mode, rest)) if mode == "server" => server(rest),
            Some((mode, rest)) if mode == "client" => client(rest),
            _ => Err((2, USAGE.to_string())),
        },
        Err(_) => Err((2, "arguments must be UTF-8".to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("udp_echo: {message}");
            ExitCode::from(code)
        }
    }
}

fn server(args: &[String]) -> Result<(), Failure> {
    let addr = match args {
        [] => "127.0.0.1:0",
        [a] => a.as_str(),
        _ => return Err((2, USAGE.into())),
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| (2, format!("'{addr}' is not an address like 127.0.0.1:0")))?;
    let socket = UdpSocket::bind(addr).and_then(|s| Ok((s.local_addr()?, s)));
    let (local, socket) =
        socket.map_err(|e| (1, format!("cannot listen on {addr}: {}", io_words(&e))))?;
    say(&format!("listening on {local}"));
    // 64 KiB holds the largest UDP payload, so no datagram is ever cut short.
    let mut buf = vec![0; 64 * 1024];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) => {
                eprintln!("udp_echo: receiving: {}", io_words(&e));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&buf[..n]);
        say(&format!("{n} bytes from {peer}: {text}"));
        if let Err(e) = socket.send_to(&buf[..n], peer) {
            eprintln!("udp_echo: replying to {peer}: {}", io_words(&e));
        }
    }
}

fn client(args: &[String]) -> Result<(), Failure> {
    let [target, messages @ ..] = args else {
        return Err((2, USAGE.into()));
    };
    if messages.is_empty() {
        return Err((2, USAGE.into()));
    }
    let server = resolve(target)?;
    let any = match server.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind((any, 0)).map_err(|e| (1, io_words(&e)))?;
    let mut answered = vec![false; messages.len()];
    let mut buf = vec![0; 64 * 1024];
    for _ in 0..TRIES {
        // Every unanswered message goes out as its own datagram, all before any reply.
        for (m, _) in messages.iter().zip(&answered).filter(|(_, done)| !**done) {
            let sent = socket.send_to(m.as_bytes(), server);
            sent.map_err(|e| (1, format!("sending to {server}: {}", io_words(&e))))?;
        }
        let deadline = Instant::now() + WAIT;
        while answered.contains(&false) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket
                .set_read_timeout(Some(left))
                .map_err(|e| (1, io_words(&e)))?;
            let (n, from) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => break,
                Err(e) => return Err((1, format!("receiving: {}", io_words(&e)))),
            };
            // A retry may bring two copies back: a reply counts for one unanswered message
            // with the same bytes; anything else (a duplicate, a stranger) is ignored.
            let reply = &buf[..n];
            let mut pending = messages.iter().zip(answered.iter_mut());
            if from == server
                && let Some((m, done)) = pending.find(|(m, done)| !**done && m.as_bytes() == reply)
            {
                *done = true;
                say(&format!("reply: {m:?} ({n} bytes)"));
            }
        }
    }
    let mut lost = 0;
    for (m, _) in messages.iter().zip(&answered).filter(|(_, done)| !**done) {
        eprintln!("udp_echo: lost: no reply to {m:?} after {TRIES} tries");
        lost += 1;
    }
    match lost {
        0 => Ok(()),
        n => Err((1, format!("{n} of {} messages lost", messages.len()))),
    }
}

/// The first address of `HOST:PORT`.
fn resolve(target: &str) -> Result<SocketAddr, Failure> {
    let parsed = Target::parse(target).map_err(|e| (2, e.to_string()))?;
    let Endpoint::Tcp { host, port } = &parsed.endpoint else {
        return Err((2, format!("'{target}' is not HOST:PORT")));
    };
    // Never empty: the resolver says "no address" as an error instead.
    let addrs = Resolver::new().resolve(host, *port, Duration::from_secs(5));
    let addrs = addrs.map_err(|e| (1, e.to_string()))?;
    Ok(addrs[0])
}

/// Prints one line and flushes it; a closed stdout is no reason to stop.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
