//! RFC 9530 integrity fields, the part both programs share: the algorithms we compute
//! (SHA-256 and SHA-512), a streaming hasher over either, and the parser of the fields'
//! syntax, an RFC 8941 Dictionary (`sha-256=:BASE64:, sha-512=:BASE64:` for
//! `Repr-Digest` and `Content-Digest`; `sha-256=10, sha-512=3` for `Want-Repr-Digest`).
//!
//! serve writes `Repr-Digest` and reads `Want-Repr-Digest`; fetch reads both digest fields.
//! The parser is strict and capped, since the bytes come from the network (decision 9), and
//! fuzzed (`fuzz/fuzz_targets/digest_field.rs`).

use sha2::Digest as _;

/// The most members a field may have: anything longer is not a digest field we can use.
pub const MAX_MEMBERS: usize = 32;

/// A hash algorithm of the HTTP Digest Algorithm Values registry that we compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `sha-256`.
    Sha256,
    /// `sha-512`.
    Sha512,
}

impl Algorithm {
    /// The name in the registry, as a field key: `sha-256`.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha-256",
            Algorithm::Sha512 => "sha-512",
        }
    }

    /// The algorithm a field key names, `None` for any other (those are ignored, as RFC
    /// 9530 §2 says).
    pub fn from_token(key: &str) -> Option<Algorithm> {
        match key {
            "sha-256" => Some(Algorithm::Sha256),
            "sha-512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// The name `--checksum` takes and `sha256sum` is named after: `sha256`.
    pub fn short(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The length of a digest in bytes.
    pub fn bytes(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// A fresh hasher.
    pub fn hasher(self) -> Hasher {
        Hasher(match self {
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => State::Sha512(Box::new(sha2::Sha512::new())),
        })
    }

    /// The digest of `bytes`, in one go.
    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(bytes);
        h.finish()
    }
}

/// A hash being computed, fed as the bytes stream.
#[derive(Clone)]
pub struct Hasher(State);

#[derive(Clone)]
enum State {
    Sha256(sha2::Sha256),
    Sha512(Box<sha2::Sha512>),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            State::Sha256(_) => "Hasher(sha-256)",
            State::Sha512(_) => "Hasher(sha-512)",
        })
    }
}

impl Hasher {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            State::Sha256(h) => h.update(bytes),
            State::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything added.
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            State::Sha256(h) => h.finalize().to_vec(),
            State::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// A member's value (RFC 8941 bare items, the kinds these fields use; the others are
/// recognised so that a field holding them still parses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `:BASE64:`, decoded.
    Bytes(Vec<u8>),
    /// An integer (`Want-Repr-Digest`'s preference, 0 to 10).
    Integer(i64),
    /// A boolean, string, token or decimal: no digest field of ours carries one.
    Other,
}

/// The members of an RFC 8941 Dictionary, in order, with their parameters dropped; `None`
/// when the field is malformed (which RFC 8941 §4.2 says makes the whole field ignored),
/// has an inner list, or has more than [`MAX_MEMBERS`] members. A key given twice keeps its
/// last value, as RFC 8941 says.
pub fn dictionary(field: &[u8]) -> Option<Vec<(String, Item)>> {
    let mut p = Parser { s: field, at: 0 };
    let mut out: Vec<(String, Item)> = Vec::new();
    p.blanks();
    if p.done() {
        return Some(out);
    }
    loop {
        let key = p.key()?;
        let item = if p.eat(b'=') { p.item()? } else { Item::Other };
        p.params()?;
        out.retain(|(k, _)| *k != key);
        if out.len() == MAX_MEMBERS {
            return None;
        }
        out.push((key, item));
        p.blanks();
        if p.done() {
            return Some(out);
        }
        if !p.eat(b',') {
            return None;
        }
        p.blanks();
        if p.done() {
            // A trailing comma.
            return None;
        }
    }
}

/// One `Repr-Digest`/`Content-Digest` member: `sha-256=:BASE64:`.
pub fn member(algorithm: Algorithm, digest: &[u8]) -> String {
    format!("{}=:{}:", algorithm.token(), crate::text::base64(digest))
}

/// One fuzzing input through [`dictionary`], checking its invariants; panics if one fails:
/// at most [`MAX_MEMBERS`] members, each key valid and given once, and every byte sequence
/// written back as a member parses to itself. Shared by `fuzz/fuzz_targets/digest_field.rs`
/// and the corpus replay in `cargo test`.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    let Some(members) = dictionary(data) else {
        return;
    };
    assert!(members.len() <= MAX_MEMBERS);
    for (i, (key, item)) in members.iter().enumerate() {
        assert!(
            key.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
        );
        assert!(members[..i].iter().all(|(k, _)| k != key), "{key} twice");
        if let Item::Bytes(b) = item {
            let again = format!("{key}=:{}:", crate::text::base64(b));
            assert_eq!(
                dictionary(again.as_bytes()),
                Some(vec![(key.clone(), item.clone())])
            );
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at == self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.at += usize::from(hit);
        hit
    }

    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &[u8] {
        let start = self.at;
        while self.peek().is_some_and(&f) {
            self.at += 1;
        }
        &self.s[start..self.at]
    }

    /// `key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
    fn key(&mut self) -> Option<String> {
        if !matches!(self.peek(), Some(b'a'..=b'z' | b'*')) {
            return None;
        }
        let key =
            self.take_while(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'));
        Some(String::from_utf8_lossy(key).into_owned())
    }

    /// `;key[=item]`, as many as there are; only their syntax matters.
    fn params(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.blanks();
            self.key()?;
            if self.eat(b'=') {
                self.item()?;
            }
        }
        Some(())
    }

    fn item(&mut self) -> Option<Item> {
        match self.peek()? {
            b':' => {
                self.at += 1;
                let text = self.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                let text = text.to_vec();
                if !self.eat(b':') {
                    return None;
                }
                // RFC 8941 §4.2.7 lets a parser accept a sequence without its padding.
                let mut padded = text;
                while !padded.len().is_multiple_of(4) {
                    padded.push(b'=');
                }
                if padded.is_empty() {
                    return Some(Item::Bytes(Vec::new()));
                }
                crate::text::base64_decode(&padded).map(Item::Bytes)
            }
            b'-' | b'0'..=b'9' => {
                let neg = self.eat(b'-');
                let digits = self.take_while(|b| b.is_ascii_digit());
                if digits.is_empty() {
                    return None;
                }
                let digits = std::str::from_utf8(digits).ok()?.to_string();
                if self.eat(b'.') {
                    let frac = self.take_while(|b| b.is_ascii_digit()).len();
                    return (digits.len() <= 12 && (1..=3).contains(&frac)).then_some(Item::Other);
                }
                if digits.len() > 15 {
                    return None;
                }
                let n: i64 = digits.parse().ok()?;
                Some(Item::Integer(if neg { -n } else { n }))
            }
            b'"' => {
                self.at += 1;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.at += 1;
                            return Some(Item::Other);
                        }
                        b'\\' => {
                            self.at += 1;
                            if !matches!(self.peek()?, b'"' | b'\\') {
                                return None;
                            }
                            self.at += 1;
                        }
                        0x20..=0x7e => self.at += 1,
                        _ => return None,
                    }
                }
            }
            b'?' => {
                self.at += 1;
                matches!(self.peek()?, b'0' | b'1').then(|| {
                    self.at += 1;
                    Item::Other
                })
            }
            b if b.is_ascii_alphabetic() || b == b'*' => {
                self.take_while(|b| b.is_ascii_graphic() && !b"\"(),;<=>?@[\\]{}".contains(&b));
                Some(Item::Other)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            crate::hex(&Algorithm::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Algorithm::Sha512.digest(b"").len(), 64);
        let mut h = Algorithm::Sha256.hasher();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), Algorithm::Sha256.digest(b"abc"));
        // RFC 9530 Appendix B's example: {"hello": "world"} followed by a newline.
        assert_eq!(
            member(
                Algorithm::Sha256,
                &Algorithm::Sha256.digest(b"{\"hello\": \"world\"}\n")
            ),
            "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
        );
    }

    /// A field and the members it parses to (`None`: malformed).
    type Case = (&'static str, Option<Vec<(&'static str, Item)>>);

    #[test]
    fn dictionaries() {
        let bytes = |s: &str| Item::Bytes(crate::base64_decode(s.as_bytes()).unwrap());
        let cases: &[Case] = &[
            ("", Some(vec![])),
            ("sha-256=:YWJj:", Some(vec![("sha-256", bytes("YWJj"))])),
            (
                "sha-256=:YWJj: , unixsum=:YQ==:;p=1, sha-512=10",
                Some(vec![
                    ("sha-256", bytes("YWJj")),
                    ("unixsum", bytes("YQ==")),
                    ("sha-512", Item::Integer(10)),
                ]),
            ),
            (
                "sha-256=0,sha-256=3",
                Some(vec![("sha-256", Item::Integer(3))]),
            ),
            (
                "a, b=?1, c=\"x,y\", d=tok/x, e=1.5",
                Some(vec![
                    ("a", Item::Other),
                    ("b", Item::Other),
                    ("c", Item::Other),
                    ("d", Item::Other),
                    ("e", Item::Other),
                ]),
            ),
            // Unpadded base64 is accepted (RFC 8941 §4.2.7).
            ("sha-256=:YQ:", Some(vec![("sha-256", bytes("YQ=="))])),
            ("SHA-256=:YWJj:", None),
            ("sha-256=:YWJj", None),
            ("sha-256=:Y!Jj:", None),
            ("sha-256=:YR==:", None),
            ("sha-256=:YWJj:,", None),
            ("sha-256=:YWJj: sha-512=1", None),
            ("sha-256=(1 2)", None),
            ("sha-256=1234567890123456", None),
            ("a=\"\\x\"", None),
        ];
        for (field, want) in cases {
            let got = dictionary(field.as_bytes());
            let want = want.as_ref().map(|w| {
                w.iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, want, "{field:?}");
        }
        let many = (0..=MAX_MEMBERS)
            .map(|i| format!("k{i}=1"))
            .collect::<Vec<_>>();
        assert_eq!(dictionary(many.join(",").as_bytes()), None);
    }
}
