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
