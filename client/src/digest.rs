//! Verified transfers (RFC 9530): a [`Verifier`] hashes a body as it streams, with no
//! second pass, and at its end compares what it computed with what was expected:
//! `Content-Digest` (over this response's content, as sent: before any `--compressed`
//! decoding), `Repr-Digest` (over the whole representation: for a `206` that only works
//! when the bytes before it are fed in first, as a resumed download does) and a user's
//! `--checksum`. SHA-256 and SHA-512 are checked; other algorithms are ignored, and so is a
//! field that does not parse (RFC 8941 §4.2), with a note for `-v`.
//!
//! Any body consumer can use it: [`Response::verify`](crate::Response::verify) attaches one
//! so that reading the body to its end checks it (the end of the body becomes
//! [`Error::Digest`] on a mismatch); or feed [`Verifier::update`] and call
//! [`Verifier::finish`] yourself.

use shared::digest::{self, Algorithm, Hasher, Item};

use crate::error::Error;
use crate::head::Head;

/// Where an expected digest came from: named in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `Repr-Digest` field.
    ReprDigest,
    /// The `Content-Digest` field.
    ContentDigest,
    /// The user's `--checksum`.
    Checksum,
}

impl Source {
    /// As the user knows it: `Repr-Digest`, `Content-Digest`, `--checksum`.
    pub fn name(self) -> &'static str {
        match self {
            Source::ReprDigest => "Repr-Digest",
            Source::ContentDigest => "Content-Digest",
            Source::Checksum => "--checksum",
        }
    }
}

#[derive(Debug, Clone)]
struct Check {
    source: Source,
    algorithm: Algorithm,
    /// Over the bytes before this body too ([`Verifier::prefix`]), not this body alone.
    whole: bool,
    expected: Vec<u8>,
}

/// Expected digests and the hashers that will compute them. One hasher per algorithm and
/// scope, so a `200` with both fields in SHA-256 is hashed once.
#[derive(Debug, Default)]
pub struct Verifier {
    checks: Vec<Check>,
    hashers: Vec<(Algorithm, bool, Hasher)>,
    notes: Vec<String>,
}

impl Verifier {
    /// A verifier expecting nothing yet.
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// The digests `head` announces for its body. `resumed`: this is a `206` continuing
    /// bytes the caller holds and will feed to [`Verifier::prefix`] first, so `Repr-Digest`
    /// can be checked over the whole; a `206` that is not resumed cannot check it (it covers
    /// bytes never received) and only `Content-Digest` applies.
    pub fn from_head(head: &Head, resumed: bool) -> Verifier {
        let mut v = Verifier::new();
        let partial = head.status() == 206;
        for (source, name) in [
            (Source::ContentDigest, "content-digest"),
            (Source::ReprDigest, "repr-digest"),
        ] {
            let whole = source == Source::ReprDigest && partial;
            if whole && !resumed {
                continue;
            }
            let lines: Vec<&[u8]> = head.all(name).collect();
            if lines.is_empty() {
                continue;
            }
            // Several lines of one field are one list (RFC 9110 §5.3).
            let field = lines.join(&b", "[..]);
            let Some(members) = digest::dictionary(&field) else {
                v.notes.push(format!(
                    "{} is malformed, not checked: {}",
                    source.name(),
                    String::from_utf8_lossy(&field)
                ));
                continue;
            };
            for (key, item) in members {
                let Some(algorithm) = Algorithm::from_token(&key) else {
                    continue;
                };
                match item {
                    Item::Bytes(b) if b.len() == algorithm.bytes() => {
                        v.expect(source, algorithm, b, whole);
                    }
                    _ => v.notes.push(format!(
                        "{}'s {key} is not a {}-byte sequence, not checked",
                        source.name(),
                        algorithm.bytes()
                    )),
                }
            }
        }
        v
    }

    /// Expects `algorithm`'s digest of the body (`whole`: of the prefix and the body) to be
    /// `expected`.
    pub fn expect(&mut self, source: Source, algorithm: Algorithm, expected: Vec<u8>, whole: bool) {
        if !self
            .hashers
            .iter()
            .any(|(a, w, _)| *a == algorithm && *w == whole)
        {
            self.hashers.push((algorithm, whole, algorithm.hasher()));
        }
        self.checks.push(Check {
            source,
            algorithm,
            whole,
            expected,
        });
    }

    /// True when nothing is expected (no field of ours, or none usable).
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// True when some check covers bytes before this body: the caller must feed them to
    /// [`Verifier::prefix`] before the body.
    pub fn needs_prefix(&self) -> bool {
        self.checks.iter().any(|c| c.whole)
    }

    /// Why a field present was not checked (malformed, a digest of the wrong length), for
    /// `-v`; taken once.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Feeds bytes that came before this body (a resumed download's part on disk).
    pub fn prefix(&mut self, bytes: &[u8]) {
        for (_, whole, h) in &mut self.hashers {
            if *whole {
                h.update(bytes);
            }
        }
    }

    /// Feeds body bytes, as they stream.
    pub fn update(&mut self, bytes: &[u8]) {
        for (_, _, h) in &mut self.hashers {
            h.update(bytes);
        }
    }

    /// The body has ended: every expected digest must match ([`Error::Digest`], exit 120,
    /// names the first that does not).
    pub fn finish(self) -> Result<(), Error> {
        let got: Vec<(Algorithm, bool, Vec<u8>)> = self
            .hashers
            .into_iter()
            .map(|(a, w, h)| (a, w, h.finish()))
            .collect();
        for c in self.checks {
            let Some((_, _, digest)) = got
                .iter()
                .find(|(a, w, _)| *a == c.algorithm && *w == c.whole)
            else {
                continue;
            };
            if *digest != c.expected {
                return Err(Error::Digest {
                    source: c.source.name(),
                    algorithm: c.algorithm.token(),
                    expected: shared::hex(&c.expected),
                    got: shared::hex(digest),
                });
            }
        }
        Ok(())
    }
}

/// Bytes hashed on the reading thread before the rest moves to a thread of its own: a small
/// body is done before a thread would have started (a 1000-file `--mirror` pays nothing).
pub(crate) const INLINE: u64 = 1024 * 1024;
/// What the reader gathers before handing it over: a hand-over wakes the other thread, and
/// at one per 128 KiB read those wake-ups cost a tenth of the hash itself.
const BATCH: usize = 512 * 1024;
/// Filled buffers waiting for the hashing thread: the reader blocks when it is this far
/// ahead. Alive at most: these, the one being hashed, the one filling and one handed back
/// for reuse: [`IN_FLIGHT`] + 3 buffers of [`BATCH`], 2.5 MiB.
const IN_FLIGHT: usize = 2;

/// How often a `-Z` fiber looks again while the hashing thread is behind: a 512 KiB batch
/// takes it about a millisecond.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

/// A [`Verifier`] fed on a second thread, so that hashing a large body costs the reading
/// thread one copy of each buffer instead of the hash itself (ARCHITECTURE.md: hashing
/// sha-256 runs at about the speed the loopback delivers, so on one thread the check
/// nearly doubled a download's time). Buffers go over a bounded channel and come back
/// emptied for reuse. Dropped before [`Offload::finish`], the thread ends by itself.
#[derive(Debug)]
pub(crate) struct Offload {
    filling: Vec<u8>,
    full: std::sync::mpsc::SyncSender<Vec<u8>>,
    empty: std::sync::mpsc::Receiver<Vec<u8>>,
    worker: std::thread::JoinHandle<Verifier>,
}

impl Offload {
    /// Moves `verifier` to a new thread; gives it back if no thread can be started.
    pub(crate) fn start(verifier: Verifier) -> Result<Offload, Verifier> {
        use std::sync::mpsc::{channel, sync_channel};
        let (full, filled) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (emptied, empty) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        // The verifier is sent once the thread runs, so a failed spawn leaves it here.
        let (hand_over, handed) = channel::<Verifier>();
        let spawned = std::thread::Builder::new()
            .name("fetch-digest".into())
            .spawn(move || {
                let mut v = handed.recv().unwrap_or_default();
                for buf in filled {
                    v.update(&buf);
                    // Full only when the reader holds spare buffers already: this one goes.
                    let _ = emptied.try_send(buf);
                }
                v
            });
        let Ok(worker) = spawned else {
            return Err(verifier);
        };
        // The thread holds the receiver until it has taken the verifier: this cannot fail.
        let _ = hand_over.send(verifier);
        Ok(Offload {
            filling: Vec::with_capacity(BATCH),
            full,
            empty,
            worker,
        })
    }

    /// Copies `bytes` for the thread, handing them over by the [`BATCH`]; waits while
    /// [`IN_FLIGHT`] batches are ahead.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.filling.extend_from_slice(bytes);
        if self.filling.len() >= BATCH {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let mut next = self.empty.try_recv().unwrap_or_default();
        next.clear();
        next.reserve(BATCH);
        let mut full = std::mem::replace(&mut self.filling, next);
        // A send fails only when the thread has gone (a panic): `finish` reports it. While
        // the thread is behind, a -Z fiber waits as a fiber (shared::fiber), not by
        // blocking the thread the other transfers run on.
        loop {
            match self.full.try_send(full) {
                Err(std::sync::mpsc::TrySendError::Full(back)) if shared::fiber::active() => {
                    full = back;
                    shared::fiber::sleep(HASH_WAIT);
                }
                Err(std::sync::mpsc::TrySendError::Full(back)) => {
                    let _ = self.full.send(back);
                    return;
                }
                _ => return,
            }
        }
    }

    /// Waits for the thread to hash what it was given, then checks as [`Verifier::finish`].
    pub(crate) fn finish(mut self) -> Result<(), Error> {
        if !self.filling.is_empty() {
            self.hand_over();
        }
        drop(self.full);
        while shared::fiber::active() && !self.worker.is_finished() {
            shared::fiber::sleep(HASH_WAIT);
        }
        match self.worker.join() {
            Ok(v) => v.finish(),
            Err(_) => Err(Error::Read {
                what: "the body's digest".into(),
                reason: "its hashing thread failed".into(),
            }),
        }
    }
}

/// Reads `--checksum`'s `ALGO:HEX` (`sha256:…` or `sha512:…`, the hex of the right length,
/// either case); the error is the one line to print.
pub fn parse_checksum(spec: &str) -> Result<(Algorithm, Vec<u8>), String> {
    let (name, hex) = spec
        .split_once(':')
        .ok_or_else(|| format!("--checksum '{spec}': expected sha256:HEX or sha512:HEX"))?;
    let algorithm = [Algorithm::Sha256, Algorithm::Sha512]
        .into_iter()
        .find(|a| name.eq_ignore_ascii_case(a.short()) || name.eq_ignore_ascii_case(a.token()))
        .ok_or_else(|| {
            format!("--checksum '{spec}': unknown algorithm '{name}' (sha256 or sha512)")
        })?;
    match shared::hex_decode(hex) {
        Some(bytes) if bytes.len() == algorithm.bytes() => Ok((algorithm, bytes)),
        _ => Err(format!(
            "--checksum '{spec}': a {} digest is {} hex digits",
            algorithm.short(),
            algorithm.bytes() * 2
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::test_head;

    fn head(fields: &str) -> Head {
        test_head(&format!("HTTP/1.1 200 OK|{fields}"))
    }

    fn field(a: Algorithm, body: &[u8]) -> String {
        digest::member(a, &a.digest(body))
    }

    #[test]
    fn a_second_thread_checks_as_this_one_does() {
        // Pieces of every size, more of them than the channel holds: the reader waits.
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let pieces = || body.chunks(100_003);
        for (fields, ok) in [
            (
                format!("Repr-Digest: {}", field(Algorithm::Sha256, &body)),
                true,
            ),
            (
                format!("Content-Digest: {}", field(Algorithm::Sha512, &body[1..])),
                false,
            ),
        ] {
            let mut o = Offload::start(Verifier::from_head(&head(&fields), false)).unwrap();
            pieces().for_each(|p| o.update(p));
            assert_eq!(o.finish().is_ok(), ok, "{fields}");
        }
    }

    #[test]
    fn checks_what_the_head_announces() {
        let good = field(Algorithm::Sha256, b"hello");
        let good512 = field(Algorithm::Sha512, b"hello");
        let bad = field(Algorithm::Sha256, b"hellO");
        let cases: Vec<(String, Option<&str>, usize)> = vec![
            (String::new(), None, 0),
            (format!("Repr-Digest: {good}"), None, 0),
            (format!("Content-Digest: {good}, {good512}"), None, 0),
            (format!("Repr-Digest: {bad}"), Some("Repr-Digest"), 0),
            (format!("Content-Digest: {bad}"), Some("Content-Digest"), 0),
            (
                format!("Repr-Digest: md5=:AAAA:, {bad}"),
                Some("Repr-Digest"),
                0,
            ),
            (format!("Repr-Digest: unixsum=:AAAA:, {good}"), None, 0),
            // Malformed: ignored, with a note.
            ("Repr-Digest: sha-256=:not base64:".into(), None, 1),
            ("Repr-Digest: sha-256=:YWJj:".into(), None, 1),
            (
                format!("Repr-Digest: {good}|Content-Digest: sha-256"),
                None,
                1,
            ),
        ];
        for (fields, want, notes) in cases {
            let mut v = Verifier::from_head(&head(&fields), false);
            assert_eq!(v.take_notes().len(), notes, "{fields}");
            v.update(b"hel");
            v.update(b"lo");
            match (v.finish(), want) {
                (Ok(()), None) => {}
                (Err(Error::Digest { source, .. }), Some(s)) => assert_eq!(source, s, "{fields}"),
                (got, _) => panic!("{fields}: {got:?}"),
            }
        }
    }

    #[test]
    fn a_resumed_range_is_checked_whole() {
        let whole = field(Algorithm::Sha256, b"hello world");
        let tail = field(Algorithm::Sha256, b" world");
        let h = test_head(&format!(
            "HTTP/1.1 206 Partial Content|Content-Range: bytes 5-10/11|Repr-Digest: {whole}|Content-Digest: {tail}"
        ));
        // Not resumed: only Content-Digest can be checked.
        let mut v = Verifier::from_head(&h, false);
        assert!(!v.needs_prefix());
        v.update(b" world");
        v.finish().unwrap();
        let mut v = Verifier::from_head(&h, true);
        assert!(v.needs_prefix());
        v.prefix(b"hello");
        v.update(b" world");
        v.finish().unwrap();
        // Another prefix (the file changed between the two requests): caught.
        let mut v = Verifier::from_head(&h, true);
        v.prefix(b"HELLO");
        v.update(b" world");
        let e = v.finish().unwrap_err();
        assert_eq!(e.exit_code(), 120);
        assert!(
            e.to_string()
                .starts_with("Repr-Digest mismatch (sha-256): expected "),
            "{e}"
        );
    }

    #[test]
    fn checksum_specs() {
        let hex = shared::hex(&Algorithm::Sha256.digest(b""));
        assert_eq!(
            parse_checksum(&format!("sha256:{hex}")),
            Ok((Algorithm::Sha256, Algorithm::Sha256.digest(b"")))
        );
        assert!(parse_checksum(&format!("SHA-256:{}", hex.to_uppercase())).is_ok());
        for bad in [
            "",
            "sha256",
            "md5:00",
            "sha256:00",
            &format!("sha512:{hex}"),
            "sha256:zz",
        ] {
            assert!(parse_checksum(bad).is_err(), "{bad}");
        }
    }
}
