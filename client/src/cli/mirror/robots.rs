//! robots.txt (RFC 9309), which a mirror respects unless `--execute robots=off`: the
//! rules of the group for `fetch` (else `*`), the longest matching rule deciding, `Allow`
//! winning a tie; `*` matches any run of bytes and a final `$` anchors the end.

use std::io::{self, Read, Write};

use shared::Target;

use super::exchange::drain;
use super::frontier;
use crate::cli::config::Config;
use crate::request::{Method, Request};
use crate::trace::Trace;

/// The most of a robots.txt that is read (RFC 9309 asks for at least 500 KiB).
pub const MAX_ROBOTS: u64 = 512 * 1024;

/// The rules that apply to fetch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Robots {
    /// `(allow, pattern)`, patterns in the normalized spelling of request targets.
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// No rules: everything allowed (no robots.txt, a 4xx, or `robots=off`).
    pub fn allow_all() -> Robots {
        Robots::default()
    }

    /// Nothing allowed (RFC 9309 §2.3.1.4: the server failed to answer, 5xx).
    pub fn disallow_all() -> Robots {
        Robots {
            rules: vec![(false, "/".into())],
        }
    }

    /// The rules in `text` for the product token `agent` (`fetch`), else for `*`.
    /// `normalize` spells a pattern as the crawl spells paths.
    pub fn parse(text: &str, agent: &str, normalize: impl Fn(&str) -> String) -> Robots {
        let mut mine = Vec::new();
        let mut star = Vec::new();
        // The agents of the group being read, and whether its rules have begun (a
        // user-agent line after rules starts a new group).
        let (mut for_me, mut for_star, mut in_rules) = (false, false, false);
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if in_rules {
                        (for_me, for_star, in_rules) = (false, false, false);
                    }
                    for_me |= value.eq_ignore_ascii_case(agent);
                    for_star |= value == "*";
                }
                "allow" | "disallow" => {
                    in_rules = true;
                    // An empty Disallow allows everything: it adds no rule.
                    if value.is_empty() {
                        continue;
                    }
                    let rule = (key == "allow", normalize(value));
                    if for_me {
                        mine.push(rule.clone());
                    }
                    if for_star {
                        star.push(rule);
                    }
                }
                _ => {}
            }
        }
        Robots {
            rules: if mine.is_empty() { star } else { mine },
        }
    }

    /// Whether `path` (a normalized request target) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern.as_bytes(), path.as_bytes()) {
                let better = match best {
                    None => true,
                    Some((len, a)) => pattern.len() > len || (pattern.len() == len && *allow && !a),
                };
                if better {
                    best = Some((pattern.len(), *allow));
                }
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Whether `pattern` matches the start of `path`: `*` is any run of bytes, a final `$`
/// the end of the path. Greedy with one backtrack point (the last `*`), so a hostile
/// pattern costs at most pattern × path steps, never an exponential search.
fn matches(pattern: &[u8], path: &[u8]) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix(b"$") {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let (mut p, mut s) = (0, 0);
    // The last `*` seen and where in the path its run currently ends.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p == pattern.len() && (!anchored || s == path.len()) {
            return true;
        }
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, s));
            p += 1;
        } else if p < pattern.len() && s < path.len() && pattern[p] == path[s] {
            p += 1;
            s += 1;
        } else if let Some((sp, ss)) = star.filter(|&(_, ss)| ss < path.len()) {
            // Let the last `*` take one more byte, and go on after it.
            star = Some((sp, ss + 1));
            p = sp + 1;
            s = ss + 1;
        } else {
            return false;
        }
    }
}

/// The robots.txt of the start URL's host: its rules for fetch; none when there is none
/// (or a 4xx, or a redirect); nothing allowed when the server fails (5xx), as RFC 9309 asks.
pub fn fetch(config: &Config, start: &Target) -> Robots {
    let target = Target {
        path: "/robots.txt".into(),
        ..start.clone()
    };
    let mut resp = match config
        .client
        .send(&Request::new(Method::Get), &target, &mut Trace::new())
    {
        Ok(r) => r,
        Err(_) => return Robots::allow_all(),
    };
    match resp.status() {
        200 => {
            let mut text = Vec::new();
            let _ = (&mut resp).take(MAX_ROBOTS).read_to_end(&mut text);
            let agent = "fetch";
            Robots::parse(&String::from_utf8_lossy(&text), agent, frontier::normalize)
        }
        500.. => {
            if !config.silent {
                let _ = writeln!(
                    io::stderr(),
                    "fetch: {target}: {}: nothing is fetched (--execute robots=off to go on)",
                    resp.status()
                );
            }
            Robots::disallow_all()
        }
        _ => {
            drain(&mut resp);
            Robots::allow_all()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# a comment
User-agent: other
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/open
Disallow: /*.pdf$
Disallow: /cal*/day

User-Agent: FETCH
user-agent: second
Disallow: /only-fetch/ # trailing comment
Allow: /only-fetch/ok
Disallow:
";

    #[test]
    fn rules_for_fetch_else_for_everyone() {
        let mine = Robots::parse(TEXT, "fetch", str::to_string);
        let star = Robots::parse(TEXT, "nobody", str::to_string);
        let cases = [
            ("/", true, true),
            ("/only-fetch/x", false, true),
            ("/only-fetch/ok/1", true, true),
            ("/private/x", true, false),
            ("/private/open", true, true),
            ("/a.pdf", true, false),
            ("/a.pdf?x", true, true),
            ("/calendar/day/1", true, false),
            ("/robots.txt", true, true),
        ];
        for (path, for_fetch, for_star) in cases {
            assert_eq!(mine.allows(path), for_fetch, "fetch: {path}");
            assert_eq!(star.allows(path), for_star, "*: {path}");
        }
    }

    #[test]
    fn edge_cases() {
        assert!(Robots::parse("", "fetch", str::to_string).allows("/x"));
        assert!(Robots::parse("User-agent: *\nDisallow:\n", "fetch", str::to_string).allows("/x"));
        assert!(!Robots::disallow_all().allows("/x"));
        assert!(Robots::allow_all().allows("/x"));
        // A tie goes to Allow.
        let r = Robots::parse(
            "User-agent: *\nDisallow: /a\nAllow: /a\n",
            "fetch",
            str::to_string,
        );
        assert!(r.allows("/a"));
        // Patterns are compared in the crawl's spelling of paths.
        let r = Robots::parse("User-agent: *\nDisallow: /%7euser/\n", "fetch", |p| {
            p.replace("%7e", "~")
        });
        assert!(!r.allows("/~user/x"));
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("/a", "/a/b", true),
            ("/a$", "/a", true),
            ("/a$", "/a/b", false),
            ("/*.php", "/x/y.php?z", true),
            ("/*.php$", "/x/y.php?z", false),
            ("/*/b*/c", "/a/bx/c/d", true),
            ("*", "/", true),
            ("/x*y*z$", "/xayaz", true),
            ("/x*y*z$", "/xayazq", false),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(
                matches(pattern.as_bytes(), path.as_bytes()),
                want,
                "{pattern} {path}"
            );
        }
        // Many stars against a long path: bounded work, not an exponential search.
        let pattern = format!("/{}b", "*a".repeat(50));
        assert!(!matches(pattern.as_bytes(), "a".repeat(5000).as_bytes()));
    }
}
