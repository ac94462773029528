//! Happy Eyeballs (the idea of RFC 8305): race connection attempts, started a short delay
//! apart, instead of waiting for each address in turn.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::connect::{Connected, Local, connect_one, connect_with};
use crate::error::{Attempt, Error, duration_words, io_words};
use crate::stream::Stream;

/// The delay before the next attempt starts while the earlier ones are still pending: 250 ms,
/// RFC 8305's recommended "Connection Attempt Delay".
pub const HAPPY_EYEBALLS_DELAY: Duration = Duration::from_millis(250);

/// The order attempts are started in: the families alternate, starting with the family of
/// the first address (RFC 8305 §4), each family keeping the resolver's order.
///
/// `[v6a, v6b, v4a, v4b]` becomes `[v6a, v4a, v6b, v4b]`.
pub fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut same, mut other): (Vec<_>, Vec<_>) = addrs
        .iter()
        .copied()
        .partition(|a| a.is_ipv6() == first.is_ipv6());
    same.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(addrs.len());
    loop {
        match (same.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// What one racing attempt reports: its index, its outcome, and how long it took.
type Report = (usize, io::Result<Stream>, Duration);

/// Connects to the first of `addrs` that accepts, racing them: the next attempt starts when
/// the previous one fails or has not connected within `delay` (RFC 8305 suggests 250 ms,
/// [`HAPPY_EYEBALLS_DELAY`]), so a name with a dead IPv6 address and a live IPv4 one connects
/// in about `delay`, not after the IPv6 attempt times out. Addresses are tried with the
/// families alternating ([`interleave`]).
///
/// Everything stays within `timeout`. One address (or none) is [`connect`]. The winner's
/// [`Connected::failed`] lists every other attempt: those that failed with their reason,
/// those still pending when the winner connected as `abandoned` (they are dropped: each
/// attempt runs on a short-lived thread that closes its socket when it ends), and those
/// never started. An error lists every address with its reason.
pub fn connect_happy(
    target: &str,
    addrs: &[SocketAddr],
    timeout: Duration,
    delay: Duration,
) -> Result<Connected, Error> {
    connect_happy_with(target, addrs, timeout, delay, &Local::default())
}

/// [`connect_happy`] with the client side of each attempt set as `local` says.
pub fn connect_happy_with(
    target: &str,
    addrs: &[SocketAddr],
    timeout: Duration,
    delay: Duration,
    local: &Local,
) -> Result<Connected, Error> {
    if addrs.len() <= 1 {
        return connect_with(target, addrs, timeout, local);
    }
    if let Some(first) = addrs.first() {
        local.check(first)?;
    }
    let (tx, rx) = mpsc::channel::<Report>();
    let mut race = Race::new(interleave(addrs), local, timeout, delay, tx);
    loop {
        let now = Instant::now();
        if now >= race.deadline {
            break;
        }
        if race.next < race.order.len() && (race.running == 0 || now >= race.next_start) {
            race.launch(now);
            continue;
        }
        if race.running == 0 {
            break;
        }
        let until = if race.next < race.order.len() {
            race.next_start.min(race.deadline)
        } else {
            race.deadline
        };
        if let Ok((i, result, elapsed)) = rx.recv_timeout(until.saturating_duration_since(now))
            && let Some(connected) = race.reported(i, result, elapsed)
        {
            return Ok(connected);
        }
    }
    Err(Error::Connect {
        target: target.to_string(),
        attempts: race.lost(),
    })
}

/// The state of one race: the attempts started, reported and failed so far.
struct Race<'a> {
    /// The addresses in the order their attempts start.
    order: Vec<SocketAddr>,
    local: &'a Local,
    start: Instant,
    timeout: Duration,
    deadline: Instant,
    delay: Duration,
    /// Where each attempt's thread reports.
    tx: mpsc::Sender<Report>,
    /// When each attempt started (offset from `start`), and whether it has reported.
    started: Vec<Option<Duration>>,
    done: Vec<bool>,
    failed: Vec<Attempt>,
    /// The next attempt to start, and when at the latest (while others are pending).
    next: usize,
    next_start: Instant,
    /// Attempts started that have not reported.
    running: usize,
}

impl<'a> Race<'a> {
    fn new(
        order: Vec<SocketAddr>,
        local: &'a Local,
        timeout: Duration,
        delay: Duration,
        tx: mpsc::Sender<Report>,
    ) -> Race<'a> {
        let start = Instant::now();
        Race {
            started: vec![None; order.len()],
            done: vec![false; order.len()],
            order,
            local,
            start,
            timeout,
            deadline: start + timeout,
            delay,
            tx,
            failed: Vec::new(),
            next: 0,
            next_start: start,
            running: 0,
        }
    }

    /// Starts the next attempt at `now`, on a thread of its own, with what is left of the
    /// timeout; the one after it starts `delay` later unless a failure comes first.
    fn launch(&mut self, now: Instant) {
        let (i, addr, tx, local) = (
            self.next,
            self.order[self.next],
            self.tx.clone(),
            self.local.clone(),
        );
        let left = self.deadline - now;
        let spawned = thread::Builder::new()
            .name("connect".into())
            .spawn(move || {
                let began = Instant::now();
                let result = connect_one(&addr, left, &local);
                // The race may be over: then nobody listens and the socket is dropped.
                let _ = tx.send((i, result, began.elapsed()));
            });
        self.started[i] = Some(now - self.start);
        self.next += 1;
        self.next_start = now + self.delay;
        match spawned {
            Ok(_) => self.running += 1,
            Err(e) => {
                self.done[i] = true;
                self.failed
                    .push(attempt(addr, now - self.start, Duration::ZERO, &e, left));
            }
        }
    }

    /// Attempt `i` reported `result` after `elapsed`: the race is won (the others listed
    /// as abandoned or not tried), or the failure is listed and the next attempt may start
    /// at once (RFC 8305 §5).
    fn reported(
        &mut self,
        i: usize,
        result: io::Result<Stream>,
        elapsed: Duration,
    ) -> Option<Connected> {
        self.running -= 1;
        self.done[i] = true;
        let began = self.started[i].unwrap_or_default();
        let stream = match result {
            Ok(stream) => stream,
            Err(e) => {
                let left = self.timeout.saturating_sub(began);
                self.failed
                    .push(attempt(self.order[i], began, elapsed, &e, left));
                self.next_start = Instant::now();
                return None;
            }
        };
        let winner = self.order[i];
        for (j, addr) in self.order.iter().enumerate() {
            match self.started[j] {
                Some(at) if !self.done[j] => self.failed.push(Attempt {
                    addr: *addr,
                    started: at,
                    elapsed: self.start.elapsed().saturating_sub(at),
                    reason: format!("abandoned: {winner} connected first"),
                    timed_out: false,
                }),
                None => self.failed.push(Attempt {
                    addr: *addr,
                    started: self.start.elapsed(),
                    elapsed: Duration::ZERO,
                    reason: format!("not tried: {winner} connected first"),
                    timed_out: false,
                }),
                Some(_) => {}
            }
        }
        Some(Connected {
            stream,
            addr: winner,
            started: began,
            elapsed,
            failed: std::mem::take(&mut self.failed),
        })
    }

    /// The race is lost (the deadline passed, or every attempt failed): every attempt,
    /// those still pending as timed out and those never started as such.
    fn lost(mut self) -> Vec<Attempt> {
        let timeout = self.timeout;
        for (j, addr) in self.order.iter().enumerate() {
            match self.started[j] {
                Some(at) if !self.done[j] => {
                    let waited = timeout.saturating_sub(at);
                    self.failed.push(Attempt {
                        addr: *addr,
                        started: at,
                        elapsed: waited,
                        reason: format!("timed out after {}", duration_words(waited)),
                        timed_out: true,
                    });
                }
                None => self.failed.push(Attempt {
                    addr: *addr,
                    started: timeout,
                    elapsed: Duration::ZERO,
                    reason: format!(
                        "not tried: the {} deadline had passed",
                        duration_words(timeout)
                    ),
                    timed_out: true,
                }),
                Some(_) => {}
            }
        }
        self.failed
    }
}

fn attempt(
    addr: SocketAddr,
    started: Duration,
    elapsed: Duration,
    e: &io::Error,
    limit: Duration,
) -> Attempt {
    let timed_out = matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    );
    Attempt {
        addr,
        started,
        elapsed: if timed_out { limit } else { elapsed },
        reason: if timed_out {
            format!("timed out after {}", duration_words(limit))
        } else {
            io_words(e)
        },
        timed_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::{ListenOptions, Listening, listen_tcp};
    use std::net::TcpListener;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_alternate() {
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["[::1]:1"], &["[::1]:1"]),
            (
                &["[::1]:1", "[::2]:1", "127.0.0.1:1", "127.0.0.2:1"],
                &["[::1]:1", "127.0.0.1:1", "[::2]:1", "127.0.0.2:1"],
            ),
            (
                &["127.0.0.1:1", "[::1]:1", "[::2]:1", "[::3]:1"],
                &["127.0.0.1:1", "[::1]:1", "[::2]:1", "[::3]:1"],
            ),
            (
                &["127.0.0.1:1", "127.0.0.2:1", "[::1]:1"],
                &["127.0.0.1:1", "[::1]:1", "127.0.0.2:1"],
            ),
        ];
        for (input, want) in cases {
            let input: Vec<SocketAddr> = input.iter().map(|s| a(s)).collect();
            let want: Vec<SocketAddr> = want.iter().map(|s| a(s)).collect();
            assert_eq!(interleave(&input), want, "{input:?}");
        }
    }

    /// A listener that never accepts, with its queue full: a connect to it hangs (loopback
    /// only; the kernel drops the handshake). Returns the listener and the connections that
    /// fill its queue, which must stay alive while it is used.
    fn blackhole(ip: &str) -> Option<(Listening, Vec<Stream>, SocketAddr)> {
        let opts = ListenOptions {
            backlog: 0,
            ..ListenOptions::default()
        };
        let l = listen_tcp(format!("{ip}:0").parse().unwrap(), &opts).ok()?;
        let addr = l.listener.local_addr().unwrap().tcp().unwrap();
        let mut held = Vec::new();
        for _ in 0..64 {
            match connect_one(&addr, Duration::from_millis(200), &Local::default()) {
                Ok(s) => held.push(s),
                Err(_) => return Some((l, held, addr)),
            }
        }
        None
    }

    #[test]
    fn a_live_address_wins_over_a_blackholed_first_one() {
        let (_l, _held, dead) = blackhole("127.0.0.1").expect("a full backlog");
        let live_l = TcpListener::bind("127.0.0.1:0").unwrap();
        let live = live_l.local_addr().unwrap();
        let began = Instant::now();
        let c = connect_happy(
            "race.test:1",
            &[dead, live],
            Duration::from_secs(60),
            Duration::from_millis(100),
        )
        .unwrap();
        let took = began.elapsed();
        assert_eq!(c.addr, live);
        // Sequential connect would give the dead address half of 60 s first; 20 s is room
        // enough for a loaded machine.
        assert!(took < Duration::from_secs(20), "took {took:?}");
        assert!(c.started >= Duration::from_millis(90), "{:?}", c.started);
        assert_eq!(c.failed.len(), 1, "{:?}", c.failed);
        assert_eq!(c.failed[0].addr, dead);
        assert!(
            c.failed[0].reason.starts_with("abandoned"),
            "{:?}",
            c.failed[0]
        );
    }

    #[test]
    fn ipv4_wins_over_a_blackholed_ipv6_address() {
        // Needs ::1 (some sandboxes have no IPv6 loopback): skip quietly without it.
        let Some((_l, _held, dead)) = blackhole("[::1]") else {
            return;
        };
        let live_l = TcpListener::bind("127.0.0.1:0").unwrap();
        let live = live_l.local_addr().unwrap();
        let began = Instant::now();
        let c = connect_happy(
            "dual.test:1",
            &[dead, live],
            Duration::from_secs(60),
            HAPPY_EYEBALLS_DELAY,
        )
        .unwrap();
        assert_eq!(c.addr, live);
        // Sequential connect would give the dead address half of 60 s first.
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "{:?}",
            began.elapsed()
        );
    }

    #[test]
    fn a_quick_first_address_starts_no_other_attempt() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let live = l.local_addr().unwrap();
        let other = a("127.0.0.2:9");
        // A delay longer than a loaded machine can stall the first attempt's thread: the
        // second must wait for the first to fail, not for a CPU.
        let c = connect_happy(
            "x:1",
            &[live, other],
            Duration::from_secs(60),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(c.addr, live);
        assert_eq!(c.failed.len(), 1);
        assert!(
            c.failed[0].reason.starts_with("not tried"),
            "{:?}",
            c.failed
        );
    }

    #[test]
    fn a_refused_attempt_moves_on_at_once_and_all_failures_are_listed() {
        let dead = |_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
        };
        let (x, y) = (dead(0), dead(1));
        let began = Instant::now();
        let err = connect_happy(
            "gone.test:1",
            &[x, y],
            Duration::from_secs(60),
            Duration::from_secs(30),
        )
        .unwrap_err();
        // The refusal starts the second attempt without waiting out the 30 s delay.
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(
            err.to_string(),
            format!(
                "cannot connect to gone.test:1: {x} connection refused; {y} connection refused"
            )
        );
        let live_l = TcpListener::bind("127.0.0.1:0").unwrap();
        let live = live_l.local_addr().unwrap();
        let c = connect_happy(
            "x:1",
            &[x, live],
            Duration::from_secs(60),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(c.addr, live);
        assert_eq!(c.failed[0].reason, "connection refused");
    }

    #[test]
    fn every_pending_attempt_times_out_at_the_deadline() {
        let (_l, _held, dead) = blackhole("127.0.0.1").expect("a full backlog");
        let err = connect_happy(
            "slow.test:1",
            &[dead, dead],
            Duration::from_millis(400),
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(err.is_timeout(), "{err}");
    }
}
