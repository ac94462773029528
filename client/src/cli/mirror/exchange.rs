//! One request of a crawl on the wire: paced by `--wait`, tried again as `--retry` says.

use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use shared::{Target, duration_words};

use crate::cli::config::Config;
use crate::cli::retry;
use crate::error::Error;
use crate::request::Request;
use crate::response::Response;
use crate::trace::Trace;

/// Sends the crawl's requests.
pub struct Sender<'a> {
    config: &'a Config,
    /// `--wait`, and whether `--random-wait` varies it.
    wait: Option<(Duration, bool)>,
    /// `--wait`: when the next request may start.
    next_request: Mutex<Option<Instant>>,
    /// Where `--random-wait`'s randomness comes from.
    hasher: RandomState,
}

impl<'a> Sender<'a> {
    pub fn new(config: &'a Config, wait: Option<(Duration, bool)>) -> Sender<'a> {
        Sender {
            config,
            wait,
            next_request: Mutex::new(None),
            hasher: RandomState::new(),
        }
    }

    /// Sends `req`, after `--wait`, and again up to `--retry` times after a failure worth
    /// another try (a timeout, a dropped connection, 408, 429, 500, 502, 503, 504; a refused
    /// connection with `--retry-connrefused`; anything with `--retry-all-errors`), waiting
    /// as `--retry-delay` or `Retry-After` says, else 1 s doubling.
    pub fn send(
        &self,
        url: &str,
        req: &Request,
        target: &Target,
        say: impl Fn(&str),
    ) -> Result<Response, Error> {
        let config = self.config;
        let mut tries = 0;
        loop {
            self.pace();
            let result = config.client.send(req, target, &mut Trace::new());
            let (worth, after) = match &result {
                Ok(r) => (
                    matches!(r.status(), 408 | 429 | 500 | 502 | 503 | 504),
                    r.head()
                        .header("retry-after")
                        .and_then(|v| retry::retry_after(v, std::time::SystemTime::now())),
                ),
                Err(e) => (
                    match e.exit_code() {
                        6 | 18 | 28 | 52 | 55 | 56 => true,
                        7 => config.retry_connrefused,
                        _ => false,
                    } || config.retry_all_errors,
                    None,
                ),
            };
            if !worth || tries >= config.retries {
                return result;
            }
            tries += 1;
            let what = match result {
                Ok(mut r) => {
                    drain(&mut r);
                    format!("HTTP {}", r.status())
                }
                Err(e) => e.to_string(),
            };
            let wait = after.unwrap_or_else(|| {
                config
                    .retry_delay
                    .unwrap_or_else(|| retry::backoff(std::time::Duration::from_secs(1), tries))
            });
            say(&format!(
                "fetch: {url}: {what}; retry {tries} of {} in {}",
                config.retries,
                duration_words(wait)
            ));
            std::thread::sleep(wait);
        }
    }

    /// `--wait`: sleeps until this request's turn, `--wait` after the one before it (across
    /// all threads), and books the next turn.
    fn pace(&self) {
        let Some((wait, random)) = self.wait else {
            return;
        };
        let wait = if random {
            // 0.5 to 1.5 times: a fresh random 64-bit hash as a fraction.
            let r = self.hasher.hash_one(Instant::now()) as f64 / u64::MAX as f64;
            wait.mul_f64(0.5 + r)
        } else {
            wait
        };
        let now = Instant::now();
        let at = {
            let mut next = self
                .next_request
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + wait);
            at
        };
        std::thread::sleep(at - now);
    }
}

/// A header's value as text ("" when absent).
pub fn header(resp: &Response, name: &str) -> String {
    resp.head()
        .header(name)
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
        .unwrap_or_default()
}

/// Reads what is left of a small body, so the connection can be used again.
pub fn drain(resp: &mut Response) {
    let _ = io::copy(&mut resp.take(1 << 20), &mut io::sink());
}
