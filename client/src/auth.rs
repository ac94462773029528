//! HTTP authentication after a 401 (`--digest`, `--anyauth`) or a proxy's 407
//! (`--proxy-digest`, `--proxy-anyauth`): reading the `WWW-Authenticate` or
//! `Proxy-Authenticate` challenges and answering the best one fetch can, Digest (RFC 7616,
//! MD5 and SHA-256, plain or `-sess`) or Basic (RFC 7617). Basic given alone (`-u`) is
//! sent at once and never comes here.

use md5::Md5;
use sha2::{Sha256, Sha512_256};

/// Which schemes the user allows: curl's `--digest` or `--anyauth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `--digest`: Digest only, after the server asks for it.
    Digest,
    /// `--anyauth`: the best the server offers of Digest and Basic.
    Any,
}

/// The user's name and password, and the schemes they may be sent with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) scheme: Scheme,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `user` and `password`, to be sent as `scheme` allows.
    pub fn new(user: &str, password: &str, scheme: Scheme) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
            scheme,
        }
    }

    /// The `Authorization` (or `Proxy-Authorization`) value answering the challenges of a
    /// 401 (each value of its `WWW-Authenticate` headers; a 407's `Proxy-Authenticate`),
    /// for `method` on `uri` (the request target); `None`
    /// when no offered scheme is allowed or understood.
    pub(crate) fn answer<'a>(
        &self,
        challenges: impl Iterator<Item = &'a [u8]>,
        method: &str,
        uri: &str,
    ) -> Option<String> {
        let offered: Vec<Challenge> = challenges
            .flat_map(|v| parse(&String::from_utf8_lossy(v)))
            .collect();
        // curl's preference: Digest before Basic. Of several Digest challenges, the first
        // with an algorithm fetch knows.
        let digest = offered.iter().find_map(|c| {
            (c.scheme.eq_ignore_ascii_case("digest"))
                .then(|| self.digest(c, method, uri))
                .flatten()
        });
        if digest.is_some() {
            return digest;
        }
        let offers_basic = offered
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"));
        (offers_basic && self.scheme == Scheme::Any).then(|| basic(&self.user, &self.password))
    }

    /// RFC 7616 §3.4: the response to one Digest challenge, written in curl's order.
    fn digest(&self, c: &Challenge, method: &str, uri: &str) -> Option<String> {
        // What the server sent goes back inside the header: a control character there could
        // end the line and add headers of the server's choosing.
        if c.params
            .iter()
            .any(|(_, v)| v.chars().any(char::is_control))
        {
            return None;
        }
        let realm = c.param("realm").unwrap_or("");
        let nonce = c.param("nonce")?;
        let algorithm = c.param("algorithm");
        let (hash, sess): (fn(&str) -> String, bool) =
            match algorithm.unwrap_or("MD5").to_ascii_uppercase().as_str() {
                "MD5" => (hex::<Md5>, false),
                "MD5-SESS" => (hex::<Md5>, true),
                "SHA-256" => (hex::<Sha256>, false),
                "SHA-256-SESS" => (hex::<Sha256>, true),
                "SHA-512-256" => (hex::<Sha512_256>, false),
                "SHA-512-256-SESS" => (hex::<Sha512_256>, true),
                _ => return None,
            };
        // `auth` when offered (alone or among others); `auth-int` alone is not done.
        let qop = match c.param("qop") {
            None => None,
            Some(list) if list.split(',').any(|q| q.trim() == "auth") => Some("auth"),
            Some(_) => return None,
        };
        let userhash = c
            .param("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let cnonce = cnonce();
        let mut ha1 = hash(&format!("{}:{realm}:{}", self.user, self.password));
        if sess {
            ha1 = hash(&format!("{ha1}:{nonce}:{cnonce}"));
        }
        let ha2 = hash(&format!("{method}:{uri}"));
        let nc = "00000001";
        let response = match qop {
            Some(q) => hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{q}:{ha2}")),
            None => hash(&format!("{ha1}:{nonce}:{ha2}")),
        };
        let user = if userhash {
            hash(&format!("{}:{realm}", self.user))
        } else {
            quoted(&self.user)
        };
        let mut out = format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\"",
            quoted(realm),
            quoted(nonce),
            quoted(uri)
        );
        if let Some(q) = qop {
            out.push_str(&format!(
                ", cnonce=\"{cnonce}\", nc={nc}, qop={q}, response=\"{response}\""
            ));
        } else {
            out.push_str(&format!(", response=\"{response}\""));
        }
        if let Some(opaque) = c.param("opaque") {
            out.push_str(&format!(", opaque=\"{}\"", quoted(opaque)));
        }
        if let Some(a) = algorithm {
            out.push_str(&format!(", algorithm={a}"));
        }
        if userhash {
            out.push_str(", userhash=true");
        }
        Some(out)
    }
}

/// One challenge: its scheme and its `name=value` parameters (quotes removed).
#[derive(Debug, PartialEq)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The challenges in one `WWW-Authenticate` value (RFC 9110 §11.6.1): a scheme, then
/// comma-separated `name=value` or `name="quoted"` parameters, up to the next scheme.
/// Lenient about spaces; a token68 is skipped.
fn parse(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let b = value.as_bytes();
    let mut i = 0;
    // Bounded: every turn moves `i` forward by at least one byte.
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b'=' | b',' | b' ' | b'\t') {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let word = &value[start..i];
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' && !(i + 1 < b.len() && b[i + 1] == b'=') {
            // A parameter of the current challenge.
            i += 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            let mut v = String::new();
            if i < b.len() && b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    v.push(char::from(b[i]));
                    i += 1;
                }
                i += 1;
            } else {
                let s = i;
                while i < b.len() && b[i] != b',' {
                    i += 1;
                }
                v = value[s..i].trim().to_string();
            }
            if let Some(c) = out.last_mut() {
                c.params.push((word.to_string(), v));
            }
        } else if i < b.len() && b[i] == b'=' {
            // A token68 (`abc==`): skip to the next comma.
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
        } else {
            out.push(Challenge {
                scheme: word.to_string(),
                params: Vec::new(),
            });
        }
    }
    out
}

/// A quoted-string's content with `"` and `\` escaped.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The lowercase hex digest of `s` with hash `D`.
fn hex<D: sha2::Digest>(s: &str) -> String {
    D::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 16 hex digits, different each time: a Digest client nonce (RFC 7616 asks for no more
/// than unpredictability), and `-F`'s multipart boundary. The hasher's random keys give it
/// without a crate.
/// An `Authorization` (or `Proxy-Authorization`) value for Basic: `Basic ` and the
/// base64 of `user:password` (RFC 7617).
pub(crate) fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        shared::base64(format!("{user}:{password}").as_bytes())
    )
}

pub(crate) fn cnonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_with_their_parameters() {
        let c = parse(r#"Digest realm="a, b", nonce="n\"1", qop="auth,auth-int", Basic realm=x"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "Digest");
        assert_eq!(c[0].param("realm"), Some("a, b"));
        assert_eq!(c[0].param("nonce"), Some("n\"1"));
        assert_eq!(c[0].param("qop"), Some("auth,auth-int"));
        assert_eq!(c[1].scheme, "Basic");
        assert_eq!(c[1].param("realm"), Some("x"));
        assert_eq!(parse("Bearer abc==, Basic").len(), 2);
        assert!(parse("").is_empty());
    }

    #[test]
    fn rfc_2617_example_without_qop() {
        // RFC 2617 §3.5's values, answered without qop (the response is then fixed).
        let creds = Credentials::new("Mufasa", "Circle Of Life", Scheme::Digest);
        let v = creds
            .answer(
                [&b"Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""[..]].into_iter(),
                "GET",
                "/dir/index.html",
            )
            .unwrap();
        assert!(
            v.contains("response=\"670fd8c2df070c60b045671b8b24ff02\""),
            "{v}"
        );
        assert!(v.starts_with("Digest username=\"Mufasa\", realm=\"testrealm@host.com\""));
    }

    #[test]
    fn basic_only_with_anyauth() {
        let ch = [&b"Basic realm=\"r\""[..]];
        let digest = Credentials::new("u", "p", Scheme::Digest);
        assert_eq!(digest.answer(ch.into_iter(), "GET", "/"), None);
        let any = Credentials::new("u", "p", Scheme::Any);
        assert_eq!(
            any.answer(ch.into_iter(), "GET", "/").as_deref(),
            Some("Basic dTpw")
        );
        let both = [
            &b"Basic realm=\"r\""[..],
            b"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\"",
        ];
        let v = any.answer(both.into_iter(), "GET", "/").unwrap();
        assert!(
            v.starts_with("Digest ") && v.contains("algorithm=SHA-256"),
            "{v}"
        );
    }
}
