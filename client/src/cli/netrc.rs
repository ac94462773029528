//! `-n`/`--netrc`, `--netrc-file`, `--netrc-optional`: credentials for a host from a
//! `.netrc` file, as curl reads it.

use std::path::{Path, PathBuf};

/// The `.netrc` to read: `--netrc-file`, else `$HOME/.netrc`.
pub(crate) fn file(given: Option<&Path>) -> Option<PathBuf> {
    given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".netrc")))
}

/// The login and password for `host` in netrc `text`: the first `machine` entry for it,
/// else the `default` one. Tokens are separated by white space (a password may be quoted,
/// with `\` escapes); `macdef` bodies, up to a blank line, are skipped.
pub(crate) fn lookup(text: &str, host: &str) -> Option<(String, String)> {
    let mut entries: Vec<(Option<String>, Option<String>, Option<String>)> = Vec::new();
    let mut tokens = Tokens::new(text);
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "machine" => entries.push((tokens.next(), None, None)),
            "default" => entries.push((None, None, None)),
            "login" => {
                let login = tokens.next();
                if let Some(e) = entries.last_mut() {
                    e.1 = login;
                }
            }
            "password" => {
                let password = tokens.next();
                if let Some(e) = entries.last_mut() {
                    e.2 = password;
                }
            }
            "macdef" => tokens.skip_macro(),
            _ => {}
        }
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let found = entries
        .iter()
        .find(|(m, _, _)| m.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(host)))
        .or_else(|| entries.iter().find(|(m, _, _)| m.is_none()))?;
    Some((found.1.clone()?, found.2.clone().unwrap_or_default()))
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
    }
}
