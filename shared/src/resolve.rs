//! Names to addresses: getaddrinfo (through `dns-lookup`) under a deadline, with overrides,
//! an address-family filter and a cache of answers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, lookup_words};
use crate::target::Host;

/// Which address families to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// IPv6 and IPv4, in the resolver's order (the default).
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Family {
    fn keeps(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }
}

/// Resolves host names, consulting overrides first.
///
/// ```
/// use std::time::Duration;
/// use shared::{Host, Resolver};
/// let mut r = Resolver::new();
/// r.add_override_spec("example.test:80:127.0.0.1").unwrap();
/// let addrs = r.resolve(&Host::Name("example.test".into()), 80, Duration::from_secs(1)).unwrap();
/// assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
/// ```
///
/// A name's answer is kept for [`CACHE_TTL`] and shared by every clone, so the transfers of
/// one run ask getaddrinfo once per name, as curl's DNS cache does; transfers that ask for
/// a name at the same time wait for one lookup.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    family: Family,
    overrides: HashMap<(String, u16), Vec<IpAddr>>,
    cache: Arc<Cache>,
}

/// How long an answer is reused: curl's default (`CURLOPT_DNS_CACHE_TIMEOUT`, 60 s).
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Answers by lowercased name and family. Each name has its own slot, so a lookup of one
/// name never waits for another name's.
#[derive(Debug, Default)]
struct Cache {
    slots: Mutex<HashMap<(String, Family), Arc<Slot>>>,
}

/// One name's last answer, and whether a lookup of it is under way; those who ask
/// meanwhile wait on `done`, each no longer than its own timeout.
#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    answer: Option<Answer>,
    busy: bool,
}

/// One lookup's outcome and when it came.
#[derive(Debug)]
struct Answer {
    at: Instant,
    ips: Result<Vec<IpAddr>, Failure>,
}

/// Why a lookup failed, kept so that those who waited for it learn the same.
#[derive(Debug, Clone)]
enum Failure {
    Words(String),
    TimedOut(Duration),
}

impl Failure {
    fn into_error(self, name: &str) -> Error {
        match self {
            Failure::Words(reason) => Error::Resolve {
                host: name.into(),
                reason,
            },
            Failure::TimedOut(after) => Error::Timeout {
                phase: format!("resolving {name}"),
                after,
            },
        }
    }
}

impl Resolver {
    /// A resolver for both families with no overrides.
    pub fn new() -> Resolver {
        Resolver::default()
    }

    /// Keeps only addresses of `family`.
    pub fn with_family(mut self, family: Family) -> Resolver {
        self.family = family;
        self
    }

    /// Answers `host:port` with `addrs` without asking DNS (curl's `--resolve`). The host is
    /// compared without regard to case.
    pub fn add_override(&mut self, host: &str, port: u16, addrs: Vec<IpAddr>) {
        self.overrides
            .insert((host.to_ascii_lowercase(), port), addrs);
    }

    /// Adds an override written as curl writes it: `HOST:PORT:ADDR[,ADDR...]`, IPv6 addresses
    /// with or without brackets (`example.test:80:[::1],127.0.0.1`).
    pub fn add_override_spec(&mut self, spec: &str) -> Result<(), Error> {
        let bad = |reason: &str| Error::BadTarget {
            input: spec.to_string(),
            reason: format!("{reason} (expected HOST:PORT:ADDR[,ADDR...])"),
        };
        let mut parts = spec.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("missing parts"));
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(bad(&format!("bad port '{port}'"))),
        };
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim_start_matches('[').trim_end_matches(']');
                a.parse::<IpAddr>()
                    .map_err(|_| bad(&format!("'{a}' is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.add_override(host, port, addrs);
        Ok(())
    }

    /// Every address for `host:port`, in the resolver's order, filtered by family.
    ///
    /// IP literals skip the resolver; overrides are consulted next; otherwise getaddrinfo runs
    /// on a helper thread, because it has no timeout of its own, and we stop waiting after
    /// `timeout` (the thread finishes in the background and its answer is dropped).
    pub fn resolve(
        &self,
        host: &Host,
        port: u16,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, Error> {
        let (name, ips) = match host {
            Host::Ip(ip) => (ip.to_string(), vec![*ip]),
            Host::Name(name) => match self.overrides.get(&(name.to_ascii_lowercase(), port)) {
                Some(ips) => (name.clone(), ips.clone()),
                None => (name.clone(), self.cached_lookup(name, timeout)?),
            },
        };
        self.kept(name, ips, port)
    }

    /// The addresses of `ips` the family allows, with `port`; none is an error for `name`.
    fn kept(&self, name: String, ips: Vec<IpAddr>, port: u16) -> Result<Vec<SocketAddr>, Error> {
        let kept: Vec<SocketAddr> = ips
            .into_iter()
            .filter(|ip| self.family.keeps(ip))
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        if kept.is_empty() {
            let reason = match self.family {
                Family::V4 => "no IPv4 address",
                Family::V6 => "no IPv6 address",
                Family::Any => "no address",
            };
            return Err(Error::Resolve {
                host: name,
                reason: reason.into(),
            });
        }
        Ok(kept)
    }

    /// [`Resolver::resolve`]'s answer if it has one at once, without a lookup or a wait:
    /// for an IP literal, an override, or a name with a fresh answer in the cache. A fiber
    /// ([`crate::fiber`]) asks this before it hands a lookup to a thread of its own.
    pub fn resolve_now(&self, host: &Host, port: u16) -> Option<Result<Vec<SocketAddr>, Error>> {
        let (name, ips) = match host {
            Host::Ip(ip) => (ip.to_string(), vec![*ip]),
            Host::Name(name) => match self.overrides.get(&(name.to_ascii_lowercase(), port)) {
                Some(ips) => (name.clone(), ips.clone()),
                None => (name.clone(), self.cached(name)?),
            },
        };
        Some(self.kept(name, ips, port))
    }

    /// A fresh answer for `name` from the cache, if there is one.
    fn cached(&self, name: &str) -> Option<Vec<IpAddr>> {
        let slot = {
            let slots = self
                .cache
                .slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            slots
                .get(&(name.to_ascii_lowercase(), self.family))
                .cloned()
        }?;
        let state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &state.answer {
            Some(Answer { at, ips: Ok(ips) }) if at.elapsed() < CACHE_TTL => Some(ips.clone()),
            _ => None,
        }
    }

    /// getaddrinfo's answer for `name`: a fresh one from the cache, else a new lookup, all
    /// within `timeout`. While another transfer looks the name up, this one waits for its
    /// answer (at most `timeout`); a "no such name" that came meanwhile is this one's too,
    /// but a lookup that timed out is not (this one's time may be longer: it asks itself).
    /// No failure is kept for later askers (curl keeps none).
    fn cached_lookup(&self, name: &str, timeout: Duration) -> Result<Vec<IpAddr>, Error> {
        let asked = Instant::now();
        let until = asked + timeout;
        let slot = {
            let mut slots = self
                .cache
                .slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let key = (name.to_ascii_lowercase(), self.family);
            slots.entry(key).or_default().clone()
        };
        let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match &state.answer {
                Some(Answer { at, ips: Ok(ips) }) if at.elapsed() < CACHE_TTL => {
                    return Ok(ips.clone());
                }
                Some(Answer {
                    at,
                    ips: Err(why @ Failure::Words(_)),
                }) if *at >= asked => return Err(why.clone().into_error(name)),
                _ => {}
            }
            if !state.busy {
                break;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::TimedOut(timeout).into_error(name));
            }
            state = slot
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.busy = true;
        drop(state);
        let ips = lookup(
            name,
            self.family,
            until.saturating_duration_since(Instant::now()),
        )
        .map_err(|why| match why {
            Failure::TimedOut(_) => Failure::TimedOut(timeout),
            other => other,
        });
        let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.busy = false;
        state.answer = Some(Answer {
            at: Instant::now(),
            ips: ips.clone(),
        });
        slot.done.notify_all();
        drop(state);
        ips.map_err(|why| why.into_error(name))
    }
}

fn lookup(name: &str, family: Family, timeout: Duration) -> Result<Vec<IpAddr>, Failure> {
    let hints = dns_lookup::AddrInfoHints {
        socktype: libc::SOCK_STREAM,
        address: match family {
            Family::Any => libc::AF_UNSPEC,
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        },
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let answer = dns_lookup::getaddrinfo(Some(&owned), None, Some(hints)).map(|it| {
                let mut ips: Vec<IpAddr> = Vec::new();
                for ai in it.flatten() {
                    let ip = ai.sockaddr.ip();
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
                ips
            });
            // The receiver may have given up waiting: nothing to do then.
            let _ = tx.send(answer);
        })
        .map_err(|e| Failure::Words(crate::io_words(&e)))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(ips)) => Ok(ips),
        Ok(Err(e)) => Err(Failure::Words(lookup_words(&e))),
        Err(_) => Err(Failure::TimedOut(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn localhost_resolves_to_loopback() {
        let addrs = Resolver::new()
            .resolve(&Host::Name("localhost".into()), 8080, T)
            .unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080),
            "{addrs:?}"
        );
        let v4 = Resolver::new().with_family(Family::V4);
        let addrs = v4.resolve(&Host::Name("localhost".into()), 80, T).unwrap();
        assert!(addrs.iter().all(|a| a.is_ipv4()), "{addrs:?}");
    }

    #[test]
    fn an_answer_is_reused_by_every_clone() {
        let r = Resolver::new();
        let first = r.resolve(&Host::Name("localhost".into()), 80, T).unwrap();
        // A zero timeout would fail a real lookup: the answer comes from the cache, for
        // another port and for a clone too.
        let again = r
            .clone()
            .resolve(&Host::Name("LocalHost".into()), 81, Duration::ZERO)
            .unwrap();
        assert_eq!(
            first.iter().map(SocketAddr::ip).collect::<Vec<_>>(),
            again.iter().map(SocketAddr::ip).collect::<Vec<_>>()
        );
    }

    /// The slot of `name` in `r`'s cache, marked as being looked up by someone else.
    fn busy_slot(r: &Resolver, name: &str) -> Arc<Slot> {
        let slot = r
            .cache
            .slots
            .lock()
            .unwrap()
            .entry((name.into(), Family::Any))
            .or_default()
            .clone();
        slot.state.lock().unwrap().busy = true;
        slot
    }

    #[test]
    fn one_waiting_for_anothers_lookup_stops_at_its_own_timeout() {
        let r = Resolver::new();
        // A lookup under way that never ends.
        let _slot = busy_slot(&r, "slow.test");
        let err = r
            .resolve(
                &Host::Name("slow.test".into()),
                80,
                Duration::from_millis(50),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            Failure::TimedOut(Duration::from_millis(50))
                .into_error("slow.test")
                .to_string()
        );
    }

    #[test]
    fn one_waiting_for_anothers_lookup_takes_its_answer() {
        let r = Resolver::new();
        let slot = busy_slot(&r, "shared.test");
        let waiter = {
            let r = r.clone();
            std::thread::spawn(move || r.resolve(&Host::Name("shared.test".into()), 80, T))
        };
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));
        {
            let mut state = slot.state.lock().unwrap();
            state.answer = Some(Answer {
                at: Instant::now(),
                ips: Ok(vec![ip]),
            });
            state.busy = false;
        }
        slot.done.notify_all();
        // shared.test is no real name: only the other's answer gives this.
        assert_eq!(waiter.join().unwrap().unwrap(), [SocketAddr::new(ip, 80)]);
    }

    #[test]
    fn ip_literals_skip_the_resolver() {
        let ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        // A zero timeout would fail any real lookup: literals never get there.
        let addrs = Resolver::new()
            .resolve(&Host::Ip(ip), 9, Duration::ZERO)
            .unwrap();
        assert_eq!(addrs, [SocketAddr::new(ip, 9)]);
        let err = Resolver::new()
            .with_family(Family::V4)
            .resolve(&Host::Ip(ip), 9, T)
            .unwrap_err();
        assert_eq!(err.to_string(), "cannot resolve ::1: no IPv4 address");
    }

    #[test]
    fn overrides_answer_without_dns() {
        let mut r = Resolver::new();
        r.add_override_spec("Fake.Test:8080:[::1],127.0.0.2")
            .unwrap();
        let addrs = r
            .resolve(&Host::Name("fake.test".into()), 8080, Duration::ZERO)
            .unwrap();
        let want: Vec<SocketAddr> = vec![
            "[::1]:8080".parse().unwrap(),
            "127.0.0.2:8080".parse().unwrap(),
        ];
        assert_eq!(addrs, want);
        // Another port is not covered by the override and the name is not real.
        assert!(r.resolve(&Host::Name("fake.test".into()), 81, T).is_err());
        let v4 = r.clone().with_family(Family::V4);
        let addrs = v4
            .resolve(&Host::Name("fake.test".into()), 8080, Duration::ZERO)
            .unwrap();
        assert_eq!(
            addrs,
            [SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
                8080
            )]
        );
    }

    #[test]
    fn bad_override_specs() {
        for spec in [
            "x",
            "x:80",
            ":80:1.2.3.4",
            "x:0:1.2.3.4",
            "x:http:1.2.3.4",
            "x:80:nope",
        ] {
            assert!(Resolver::new().add_override_spec(spec).is_err(), "{spec}");
        }
    }

    #[test]
    fn invalid_name_is_not_found() {
        // RFC 6761: .invalid never resolves, and resolvers may answer it locally.
        let err = Resolver::new()
            .resolve(&Host::Name("no-such-host.invalid".into()), 80, T)
            .unwrap_err();
        let text = err.to_string();
        // A machine whose name server is unreachable may time out instead: either way the
        // message names the host and says what happened in words.
        assert!(text.contains("no-such-host.invalid"), "{text}");
        assert!(
            matches!(err, Error::Resolve { .. } | Error::Timeout { .. }),
            "{text}"
        );
        assert!(!text.contains("os error"), "{text}");
    }
}
