//! `--accept` and `--reject`, as wget reads them: a comma-separated list whose elements are
//! name patterns when they hold `*`, `?` or `[`, and name suffixes otherwise; and
//! `--accept-regex` and `--reject-regex`, regular expressions on the whole URL.

use regex_lite::Regex;

/// `--accept-regex` and `--reject-regex`.
#[derive(Debug, Clone, Default)]
pub struct UrlRegexes {
    accept: Option<Regex>,
    reject: Option<Regex>,
}

impl UrlRegexes {
    /// The two as typed (checked by the command line, so one that does not compile here
    /// is taken as not given).
    pub fn new(accept: Option<&str>, reject: Option<&str>) -> UrlRegexes {
        UrlRegexes {
            accept: accept.and_then(|r| Regex::new(r).ok()),
            reject: reject.and_then(|r| Regex::new(r).ok()),
        }
    }

    /// Whether there is either.
    pub fn any(&self) -> bool {
        self.accept.is_some() || self.reject.is_some()
    }

    /// Whether the URL `url` is followed: matched by --accept-regex (if given) and not by
    /// --reject-regex. A match anywhere in the URL counts, as in wget (`^` and `$` anchor).
    pub fn follows(&self, url: &str) -> bool {
        self.accept.as_ref().is_none_or(|r| r.is_match(url))
            && !self.reject.as_ref().is_some_and(|r| r.is_match(url))
    }
}

/// One list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameList(Vec<String>);

impl NameList {
    /// The list as typed (`pdf,*.tar.gz,img-??.png`).
    pub fn parse(list: &str) -> NameList {
        NameList(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// Whether the list names nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the file `name` matches an element.
    pub fn matches(&self, name: &str) -> bool {
        self.0.iter().any(|p| {
            if p.contains(['*', '?', '[']) {
                glob(p.as_bytes(), name.as_bytes())
            } else {
                name.ends_with(p.as_str())
            }
        })
    }
}

/// fnmatch without flags: `*` any run, `?` one byte, `[abc]`, `[a-z]`, `[!x]`. Greedy with
/// one backtrack point, so the work is at most pattern × name steps.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p == pattern.len() && s == name.len() {
            return true;
        }
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, s));
                p += 1;
                continue;
            }
            Some(b'?') if s < name.len() => Some(1),
            Some(b'[') if s < name.len() => class(&pattern[p..], name[s]),
            Some(&c) if s < name.len() && c == name[s] => Some(1),
            _ => None,
        };
        match step {
            Some(len) => {
                p += len;
                s += 1;
            }
            None => match star.filter(|&(_, ss)| ss < name.len()) {
                Some((sp, ss)) => {
                    star = Some((sp, ss + 1));
                    p = sp + 1;
                    s = ss + 1;
                }
                None => return false,
            },
        }
    }
}

/// A `[...]` class at the start of `pattern` against `b`: the class's length when it
/// matches; a `[` with no `]` is a plain byte.
fn class(pattern: &[u8], b: u8) -> Option<usize> {
    let Some(end) = pattern
        .iter()
        .skip(2)
        .position(|&c| c == b']')
        .map(|e| e + 2)
    else {
        return (b == b'[').then_some(1);
    };
    let body = &pattern[1..end];
    let (negated, body) = match body.split_first() {
        Some((b'!' | b'^', rest)) => (true, rest),
        _ => (false, body),
    };
    let mut hit = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == b'-' {
            hit |= (body[i]..=body[i + 2]).contains(&b);
            i += 3;
        } else {
            hit |= body[i] == b;
            i += 1;
        }
    }
    (hit != negated).then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_regexes_take_the_whole_url() {
        let both = UrlRegexes::new(Some(r"/docs/"), Some(r"\?(sort|order)=|\.pdf$"));
        let cases = [
            ("http://h/docs/a.html", true),
            ("http://h/docs/?sort=size", false),
            ("http://h/docs/x.pdf", false),
            ("http://h/docs/x.pdf.txt", true),
            ("http://h/other/a.html", false),
        ];
        for (url, want) in cases {
            assert_eq!(both.follows(url), want, "{url}");
        }
        let none = UrlRegexes::new(None, None);
        assert!(!none.any() && none.follows("http://h/anything"));
        let host = UrlRegexes::new(Some("^http://h:8080/"), None);
        assert!(host.follows("http://h:8080/x") && !host.follows("http://h/x"));
    }

    #[test]
    fn suffixes_and_patterns() {
        let list = NameList::parse("pdf, *.tar.gz ,img-??.png,[abc]x.txt,[!0-9]y");
        let cases = [
            ("a.pdf", true),
            ("a.pdf.html", false),
            ("x.tar.gz", true),
            ("x.tar.gzip", false),
            ("img-01.png", true),
            ("img-1.png", false),
            ("bx.txt", true),
            ("dx.txt", false),
            ("ay", true),
            ("5y", false),
        ];
        for (name, want) in cases {
            assert_eq!(list.matches(name), want, "{name}");
        }
        assert!(NameList::parse(" , ").is_empty());
    }

    #[test]
    fn globs() {
        let cases = [
            ("*", "", true),
            ("*.html", "a.html", true),
            ("*.html", "a.htm", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("[a-c]*", "b", true),
            ("x[", "x[", true),
            ("?", "", false),
        ];
        for (p, name, want) in cases {
            assert_eq!(glob(p.as_bytes(), name.as_bytes()), want, "{p} {name}");
        }
        let p = format!("{}b", "*a".repeat(50));
        assert!(!glob(p.as_bytes(), "a".repeat(5000).as_bytes()));
    }
}
