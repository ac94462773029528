//! `-n`/`--netrc`, `--netrc-file`, `--netrc-optional`: credentials for a host from a
//! `.netrc` file, as curl reads it.

use std::path::{Path, PathBuf};

/// The `.netrc` to read: `--netrc-file`, else `$HOME/.netrc`.
pub(crate) fn file(given: Option<&Path>) -> Option<PathBuf> {
    given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".netrc")))
}

/// One `machine` (or `default`) entry of a netrc file.
#[derive(Debug, Default)]
struct Entry {
    /// `None` for `default`, which answers for every host.
    machine: Option<String>,
    login: Option<String>,
    password: Option<String>,
}

/// The entries of netrc `text`, in file order. Tokens are separated by white space (a
/// password may be quoted, with `\` escapes); `macdef` bodies, up to a blank line, are skipped.
fn entries(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut tokens = Tokens::new(text);
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "machine" => entries.push(Entry {
                machine: Some(tokens.next().unwrap_or_default()),
                ..Entry::default()
            }),
            "default" => entries.push(Entry::default()),
            "login" => {
                let login = tokens.next();
                if let Some(e) = entries.last_mut() {
                    e.login = login;
                }
            }
            "password" => {
                let password = tokens.next();
                if let Some(e) = entries.last_mut() {
                    e.password = password;
                }
            }
            "macdef" => tokens.skip_macro(),
            _ => {}
        }
    }
    entries
}

/// The login and password for `host` in netrc `text`: the first entry, in file order, that
/// names the host or is the `default` one (curl takes the first, wherever `default` is).
#[cfg(test)]
fn lookup(text: &str, host: &str) -> Option<(String, String)> {
    credentials(text, host, None, false)
}

/// The Basic credentials for `host` from the URL's `login` and netrc `text`, combined as
/// curl (7.88, the suite's reference) combines them:
/// - with `optional` (`--netrc-optional`), a URL that carries a password keeps it, and
///   the file is not read;
/// - a URL's user name takes the password of the host's entry for that login, else of
///   its entry with no login, else of a `default` entry (an entry without a password
///   gives an empty one); with none of these it keeps the URL's own (curl 7.88 would send
///   the host's first entry's password, written for another login);
/// - without a user name in the URL, the host's entries in file order (`default`
///   included) each fill in the login and password they have, until both are known;
///   entries with neither send nothing.
pub(crate) fn credentials(
    text: &str,
    host: &str,
    login: Option<(String, Option<String>)>,
    optional: bool,
) -> Option<(String, String)> {
    if let Some((user, Some(password))) = &login
        && optional
    {
        return Some((user.clone(), password.clone()));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let entries = entries(text);
    let for_host = || {
        entries.iter().filter(|e| {
            e.machine
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(host))
        })
    };
    let Some((user, own)) = login else {
        return first_complete(for_host());
    };
    let entry = for_host()
        .find(|e| e.login.as_deref() == Some(user.as_str()))
        .or_else(|| for_host().find(|e| e.login.is_none()))
        .or_else(|| for_host().find(|e| e.machine.is_none()));
    let password = match entry {
        Some(e) => e.password.clone().unwrap_or_default(),
        None => own.unwrap_or_default(),
    };
    Some((user, password))
}

/// The login and password `entries` give read in order, each filling in (and replacing)
/// what it has, until both are known: curl reads on past an entry that lacks one.
fn first_complete<'a>(entries: impl Iterator<Item = &'a Entry>) -> Option<(String, String)> {
    let known = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    let (mut login, mut password) = (None, None);
    for e in entries {
        if e.login.is_some() {
            login.clone_from(&e.login);
        }
        if e.password.is_some() {
            password.clone_from(&e.password);
        }
        if known(&login) && known(&password) {
            break;
        }
    }
    if login.is_none() && password.is_none() {
        return None;
    }
    Some((login.unwrap_or_default(), password.unwrap_or_default()))
}

/// The tokens of a netrc file.
struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Tokens<'a> {
        Tokens { rest: text }
    }

    /// Skips a `macdef` body: everything up to a blank line.
    fn skip_macro(&mut self) {
        match self.rest.find("\n\n") {
            Some(i) => self.rest = &self.rest[i + 2..],
            None => self.rest = "",
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.rest = self.rest.trim_start();
        if self.rest.is_empty() {
            return None;
        }
        if let Some(quoted) = self.rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.rest = &quoted[i + 1..];
                        return Some(out);
                    }
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            out.push(match e {
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                other => other,
                            });
                        }
                    }
                    _ => out.push(c),
                }
            }
            self.rest = "";
            return Some(out);
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let token = self.rest[..end].to_string();
        self.rest = &self.rest[end..];
        Some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_entries_as_curl_finds_them() {
        let text = "machine 127.0.0.1 login nu password np\n\
                    macdef init\ncd /\nmachine evil login x password y\n\n\
                    machine Host.Test\n  login \"sp ace\"\n  password \"q\\\"uote\"\n\
                    default login du password dp\n";
        let pair = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(lookup(text, "127.0.0.1"), pair("nu", "np"));
        assert_eq!(lookup(text, "host.test"), pair("sp ace", "q\"uote"));
        assert_eq!(lookup(text, "evil"), pair("du", "dp"));
        assert_eq!(lookup("machine a login b", "a"), pair("b", ""));
        assert_eq!(lookup("machine a login b", "c"), None);
        // The first entry that answers, even a `default` written first.
        assert_eq!(
            lookup("default login d password e\nmachine a login b", "a"),
            pair("d", "e")
        );
        assert_eq!(lookup("machine a password only", "a"), pair("", "only"));
        // An entry missing a login or a password: the entries after it complete it.
        assert_eq!(
            lookup("machine a login x\nmachine a login b password p", "a"),
            pair("b", "p")
        );
        assert_eq!(
            lookup("machine a login x\ndefault login d password p", "a"),
            pair("d", "p")
        );
        assert_eq!(
            lookup("machine a password y\nmachine a login b password p", "a"),
            pair("b", "p")
        );
        // Entries with neither send nothing.
        assert_eq!(lookup("default\n", "a"), None);
        assert_eq!(lookup("machine a\n", "a"), None);
    }

    #[test]
    fn a_login_in_the_url_as_curl_combines_them() {
        let text = "machine h login nu password np\n\
                    machine h login uu password fromfile\n\
                    default login du password dp\n";
        let pair = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        let login = |u: &str, p: Option<&str>| Some((u.to_string(), p.map(str::to_string)));
        let creds = |l, optional| credentials(text, "h", l, optional);
        // -n: the file's password for the URL's login, even over the URL's own.
        assert_eq!(
            creds(login("uu", Some("up")), false),
            pair("uu", "fromfile")
        );
        assert_eq!(creds(login("uu", None), false), pair("uu", "fromfile"));
        // A login the host's entries lack takes the default entry's password (case counts).
        assert_eq!(creds(login("NU", Some("x")), false), pair("NU", "dp"));
        // --netrc-optional: the URL's password wins; an empty one too.
        assert_eq!(creds(login("uu", Some("up")), true), pair("uu", "up"));
        assert_eq!(creds(login("uu", Some("")), true), pair("uu", ""));
        assert_eq!(creds(login("uu", None), true), pair("uu", "fromfile"));
        // Nothing in the file for the login: the URL's password, if any.
        let bare = "machine h login nu password np\n";
        assert_eq!(
            credentials(bare, "h", login("zz", Some("zp")), false),
            pair("zz", "zp")
        );
        assert_eq!(
            credentials(bare, "h", login("zz", None), false),
            pair("zz", "")
        );
        assert_eq!(credentials(bare, "other", None, false), None);
        // The entry for the login has no password: an empty one, not the URL's (-n).
        let no_password = "machine h login a\n";
        assert_eq!(
            credentials(no_password, "h", login("a", Some("x")), false),
            pair("a", "")
        );
    }
}
