//! HTTP Basic authentication (`--auth`, `--auth-file`): the accounts, and the check of an
//! `Authorization` header against them.
//!
//! Passwords are never kept: each account holds the SHA-256 of its password (given as
//! `user:pass`, or already hashed as `user:sha256:HEX` so no plain password sits in shell
//! history or a unit file). A request's password is hashed the same way and the hashes are
//! compared in constant time, and every account is compared whatever the outcome, so the time
//! taken says nothing about which user or how much of a password matched.

use std::fmt;

use sha2::{Digest, Sha256};

/// The longest `Authorization` value looked at; longer ones are refused unread (a real
/// `Basic` credential is a few dozen bytes).
pub(crate) const MAX_HEADER: usize = 4096;

/// The most accounts an `--auth-file` may hold.
pub(crate) const MAX_ACCOUNTS: usize = 10_000;

/// One account: a user name and the SHA-256 of its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    user: String,
    password_sha256: [u8; 32],
}

impl fmt::Debug for Account {
    // The password's hash stays out of logs and panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account").field("user", &self.user).finish()
    }
}

impl Account {
    /// Parses `user:pass` or `user:sha256:HEX` (64 hex digits, either case). The user may
    /// not be empty nor contain `:` (RFC 7617 forbids it) or control characters; the
    /// password may contain anything, `:` included, but not be empty.
    pub fn parse(spec: &str) -> Result<Account, String> {
        let Some((user, secret)) = spec.split_once(':') else {
            return Err("expected USER:PASSWORD or USER:sha256:HEX".into());
        };
        if user.is_empty() {
            return Err("the user name is empty".into());
        }
        if user.chars().any(char::is_control) {
            return Err("the user name contains a control character".into());
        }
        if secret.is_empty() {
            return Err(format!("the password of '{user}' is empty"));
        }
        let password_sha256 = match secret.strip_prefix("sha256:") {
            Some(hex) => shared::hex_decode(hex)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| format!("the sha256 of '{user}' is not 64 hexadecimal digits"))?,
            None => Sha256::digest(secret.as_bytes()).into(),
        };
        Ok(Account {
            user: user.to_string(),
            password_sha256,
        })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// The accounts allowed in, and the realm named in the challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    accounts: Vec<Account>,
    realm: String,
}

/// What a check of a request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials match this user.
    Allowed(String),
    /// No `Authorization` header: 401, not worth a log line.
    Missing,
    /// A header that is not `Basic`, is malformed, or names a wrong user or password: 401,
    /// and logged. The text says which, without the password.
    Denied(&'static str),
}

impl Auth {
    /// No accounts yet, with `realm` in the challenge (quotes and backslashes are dropped
    /// from it, as are control characters).
    pub fn new(realm: &str) -> Auth {
        Auth {
            accounts: Vec::new(),
            realm: realm
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .collect(),
        }
    }

    /// Adds an account; a second one for the same user replaces the first.
    pub fn add(&mut self, account: Account) {
        self.accounts.retain(|a| a.user != account.user);
        self.accounts.push(account);
    }

    /// Adds the accounts of an `--auth-file`: one `user:pass` or `user:sha256:HEX` a line;
    /// blank lines and lines starting with `#` are skipped. The error names the line.
    pub fn add_file(&mut self, text: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            if self.accounts.len() >= MAX_ACCOUNTS {
                return Err(format!("more than {MAX_ACCOUNTS} accounts"));
            }
            let account = Account::parse(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            self.add(account);
        }
        Ok(())
    }

    /// True when no account was given: authentication is off.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The value of `WWW-Authenticate` on a 401.
    pub fn challenge(&self) -> String {
        format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm)
    }

    /// Checks an `Authorization` header value (`None` when the request has none). Never
    /// panics, whatever the bytes.
    pub fn check(&self, header: Option<&[u8]>) -> Verdict {
        let Some(value) = header else {
            return Verdict::Missing;
        };
        if value.len() > MAX_HEADER {
            return Verdict::Denied("credentials too long");
        }
        let value = trim(value);
        let Some(space) = value.iter().position(|&b| b == b' ') else {
            return Verdict::Denied("not Basic credentials");
        };
        let (scheme, token) = value.split_at(space);
        if !scheme.eq_ignore_ascii_case(b"basic") {
            return Verdict::Denied("not Basic credentials");
        }
        let Some(decoded) = shared::base64_decode(trim(token)) else {
            return Verdict::Denied("malformed Basic credentials");
        };
        let Ok(text) = std::str::from_utf8(&decoded) else {
            return Verdict::Denied("credentials are not UTF-8");
        };
        let Some((user, pass)) = text.split_once(':') else {
            return Verdict::Denied("malformed Basic credentials");
        };
        let sha256: [u8; 32] = Sha256::digest(pass.as_bytes()).into();
        // Every account is compared, and with no early exit, so the time does not depend on
        // where (or whether) the match is.
        let mut found = None;
        for account in &self.accounts {
            let same =
                same_sha256(&account.password_sha256, &sha256) & same_user(&account.user, user);
            if same && found.is_none() {
                found = Some(account.user.clone());
            }
        }
        match found {
            Some(user) => Verdict::Allowed(user),
            None => Verdict::Denied("wrong user or password"),
        }
    }
}

/// Constant-time equality of two SHA-256 hashes: every byte is looked at.
fn same_sha256(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// User names compared through their SHA-256 hashes, so the comparison takes the same time
/// whatever the names' lengths and common prefixes.
fn same_user(a: &str, b: &str) -> bool {
    same_sha256(&Sha256::digest(a).into(), &Sha256::digest(b).into())
}

/// Says on stderr that credentials were refused (at most one line a second, so a password
/// guesser cannot flood the log; the access log has every 401 with its client).
pub(crate) fn report(why: &str, request_line: &str) {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
        *last = Some(Instant::now());
        eprintln!("serve: auth: {why}: {request_line}");
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c != b' ' && c != b'\t');
    let end = b.iter().rposition(|&c| c != b' ' && c != b'\t');
    match (start, end) {
        (Some(s), Some(e)) => &b[s..=e],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        let mut a = Auth::new("serve");
        a.add(Account::parse("alice:s3cret").unwrap());
        a.add(Account::parse("bob:pa:ss").unwrap());
        // sha256("hunter2")
        a.add(
            Account::parse(
                "carol:sha256:F52FBD32B2B3B86FF88EF6C490628285F482AF15DDCB29541F94BCF526A3F6C7",
            )
            .unwrap(),
        );
        a.add(Account::parse("d\u{e9}sir\u{e9}:caf\u{e9}").unwrap());
        a
    }

    #[test]
    fn parses_account_specs() {
        let ok = [
            "a:b",
            "a:b:c",
            "a:sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "u:sha",
        ];
        for spec in ok {
            assert!(Account::parse(spec).is_ok(), "{spec}");
        }
        let bad = [
            "nocolon",
            ":pass",
            "user:",
            "user:sha256:abc",
            "user:sha256:zz00000000000000000000000000000000000000000000000000000000000000",
            "us\ter:pass",
        ];
        for spec in bad {
            assert!(Account::parse(spec).is_err(), "{spec}");
        }
        // The plain and hashed spellings of one password are the same account.
        assert_eq!(
            Account::parse("carol:hunter2").unwrap(),
            Account::parse(
                "carol:sha256:f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"
            )
            .unwrap()
        );
        assert!(!format!("{:?}", Account::parse("a:b").unwrap()).contains("sha256"));
    }

    #[test]
    fn checks_credentials() {
        let a = auth();
        let basic = |s: &str| format!("Basic {}", shared::base64(s.as_bytes()));
        let cases: Vec<(Option<String>, Verdict)> = vec![
            (None, Verdict::Missing),
            (
                Some(basic("alice:s3cret")),
                Verdict::Allowed("alice".into()),
            ),
            (Some(basic("bob:pa:ss")), Verdict::Allowed("bob".into())),
            (
                Some(basic("carol:hunter2")),
                Verdict::Allowed("carol".into()),
            ),
            (
                Some(basic("d\u{e9}sir\u{e9}:caf\u{e9}")),
                Verdict::Allowed("d\u{e9}sir\u{e9}".into()),
            ),
            (
                Some(format!("bAsIc   {}  ", shared::base64(b"alice:s3cret"))),
                Verdict::Allowed("alice".into()),
            ),
            (
                Some(basic("alice:wrong")),
                Verdict::Denied("wrong user or password"),
            ),
            (
                Some(basic("alice:s3cret ")),
                Verdict::Denied("wrong user or password"),
            ),
            (
                Some(basic("mallory:s3cret")),
                Verdict::Denied("wrong user or password"),
            ),
            (
                Some(basic("alice:")),
                Verdict::Denied("wrong user or password"),
            ),
            (
                Some(basic(":s3cret")),
                Verdict::Denied("wrong user or password"),
            ),
            (
                Some(basic("alices3cret")),
                Verdict::Denied("malformed Basic credentials"),
            ),
            (
                Some("Bearer abc".into()),
                Verdict::Denied("not Basic credentials"),
            ),
            (
                Some("Basic".into()),
                Verdict::Denied("not Basic credentials"),
            ),
            (
                Some("Basic !!!!".into()),
                Verdict::Denied("malformed Basic credentials"),
            ),
            (
                Some("Basic YWxpY2U6czNjcmV0".into()), // "alice:s3cret", no padding needed
                Verdict::Allowed("alice".into()),
            ),
            (
                Some("Basic YWxpY2U6czNjcmV0=".into()),
                Verdict::Denied("malformed Basic credentials"),
            ),
            (
                Some(String::new()),
                Verdict::Denied("not Basic credentials"),
            ),
        ];
        for (header, want) in cases {
            assert_eq!(
                a.check(header.as_deref().map(str::as_bytes)),
                want,
                "{header:?}"
            );
        }
    }

    #[test]
    fn hostile_bytes_never_panic_or_pass() {
        let a = auth();
        let long = format!("Basic {}", "A".repeat(MAX_HEADER));
        let non_utf8 = {
            let mut v = b"Basic ".to_vec();
            v.extend_from_slice(shared::base64(b"alice:\xff\xfe").as_bytes());
            v
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (long.into_bytes(), "credentials too long"),
            (non_utf8, "credentials are not UTF-8"),
            (
                b"Basic \xff\xff\xff\xff".to_vec(),
                "malformed Basic credentials",
            ),
            (b"Basic ====".to_vec(), "malformed Basic credentials"),
            (b"Basic YQ==YQ==".to_vec(), "malformed Basic credentials"),
            (b"\x00\x00 \x00".to_vec(), "not Basic credentials"),
        ];
        for (header, want) in cases {
            assert_eq!(a.check(Some(&header)), Verdict::Denied(want), "{header:?}");
        }
        // Every prefix of a good header, every single byte flipped: never allowed.
        let good = format!("Basic {}", shared::base64(b"alice:s3cret")).into_bytes();
        for n in 0..good.len() {
            assert!(!matches!(a.check(Some(&good[..n])), Verdict::Allowed(_)));
            for bit in 0..8 {
                let mut v = good.clone();
                v[n] ^= 1 << bit;
                if v.eq_ignore_ascii_case(&good) {
                    continue;
                }
                if let Verdict::Allowed(_) = a.check(Some(&v)) {
                    // Only the scheme's case or surrounding blanks may change.
                    assert!(n < 5, "{:?}", String::from_utf8_lossy(&v));
                }
            }
        }
    }

    #[test]
    fn auth_file_and_challenge() {
        let mut a = Auth::new("my \"files\"\\\n");
        a.add_file("# people\n\nalice:one\r\nbob:two\nalice:three\n")
            .unwrap();
        assert_eq!(a.accounts.len(), 2);
        let basic = |s: &str| format!("Basic {}", shared::base64(s.as_bytes()));
        assert!(matches!(
            a.check(Some(basic("alice:three").as_bytes())),
            Verdict::Allowed(_)
        ));
        assert_eq!(
            a.check(Some(basic("alice:one").as_bytes())),
            Verdict::Denied("wrong user or password")
        );
        assert_eq!(a.challenge(), "Basic realm=\"my files\", charset=\"UTF-8\"");
        let err = Auth::new("x").add_file("ok:1\nbroken\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(Auth::new("x").is_empty());
    }
}
